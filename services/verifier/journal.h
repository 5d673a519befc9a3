/*
 * journal: the verifier's local log of plate reads and lane triggers it has
 * acknowledged to the broker but not yet turned into a durable passage.
 *
 * Paho acknowledges a QoS 1 read (PUBACK) as soon as our message callback returns,
 * long before the read's fusion window closes and the passage reaches the outbox.
 * A verifier killed in between would lose every read of the open windows, and the
 * broker would never send them again. So the bus's on_receive hook appends each read
 * here, on Paho's thread, with one write(2) before it returns: a write survives the
 * process being killed at any instant (SIGKILL, OOM, a crash), since the page cache
 * belongs to the kernel. With opts.fsync each read is also fdatasync'd before the
 * acknowledgement, which closes the power-loss window too (a few ms per read).
 *
 * Once a lane's passage is durable in the outbox the verifier writes a checkpoint:
 * the lane's floor (messages of that lane below it need no replay) and its hold (the
 * plate just decided, suppressed for a while, in wall-clock time so that it means
 * the same after a restart). At start journal_replay() hands back, per lane, the
 * last hold and then every message at or above the floor, in the order received,
 * with the times they were received; fed through the same fusion they form the same
 * windows again, so the same passages, under the same (derived) event_ids.
 *
 * Duplicates: the journal remembers the event_ids of the last opts.seen_max reads it
 * took (across restarts too); journal_append() refuses a read it has seen, so a read
 * the broker redelivers after a crash is not fused a second time.
 *
 * The file is rewritten (journal_compact) when it grows past opts.compact_bytes:
 * checkpoints, the remembered ids and the messages still pending go to a new file,
 * fsync'd and renamed over the old one.
 *
 * Record: u32 magic "JRN1", u32 body length, u32 CRC32C of the body, then the body;
 * a torn record at the end (a write cut short by power loss) is cut off at open.
 *
 * Thread safety: every function takes the journal's mutex; journal_append() runs on
 * Paho's thread, the rest on the loop thread.
 */
#ifndef VERIFIER_JOURNAL_H
#define VERIFIER_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_LANE_MAX	33	/* a topic id: 32 characters and the NUL */
#define JOURNAL_ID_LEN		37	/* a UUID and the NUL */
#define JOURNAL_PLATE_MAX	64
#define JOURNAL_TRIGGER_MAX	65
#define JOURNAL_PAYLOAD_MAX	(64 * 1024)

struct journal;

enum journal_kind {
	JOURNAL_READ = 1,	/* a plate-read.v1 message */
	JOURNAL_TRIGGER = 2	/* a loop detector trigger on the lane */
};

struct journal_opts {
	int	 fsync;		/* fdatasync each message before it is acknowledged */
	size_t	 compact_bytes;	/* rewrite the file past this size; 0: 4 MiB */
	size_t	 seen_max;	/* read event_ids remembered; 0: 8192 */
};

/* A message handed back by journal_replay(); everything borrowed for the call. */
struct journal_msg {
	uint64_t	 rseq;		/* > 0, increasing in the order received */
	enum journal_kind kind;
	const char	*lane;
	const char	*event_id;	/* "" for a trigger */
	int64_t		 mono_ms;	/* receipt time, mapped onto this boot's clock */
	const void	*payload;
	size_t		 len;
};

/* A lane's hold: the plate last decided there and until when it is suppressed. */
struct journal_hold {
	char		 plate[JOURNAL_PLATE_MAX];
	char		 trigger[JOURNAL_TRIGGER_MAX];
	int64_t		 until_mono_ms;	/* 0: no hold */
};

/* Replay callbacks: return 0 to go on, anything else to stop. */
typedef int journal_hold_cb(void *arg, const char *lane, const struct journal_hold *h);
typedef int journal_msg_cb(void *arg, const struct journal_msg *m);

/*
 * Opens (creating it when missing) the journal file at path and reads it back,
 * cutting a torn tail. opts may be NULL for the defaults. Returns the journal,
 * owned by the caller (journal_close), or NULL with the reason in err.
 */
struct journal	*journal_open(const char *path, const struct journal_opts *opts,
		    char *err, size_t errlen);

/* Closes and frees (NULL-safe). */
void		 journal_close(struct journal *j);

/*
 * Appends a message of lane received at mono_ms (gk_mono_ms) with its payload
 * (len bytes, at most JOURNAL_PAYLOAD_MAX). event_id is the read's canonical UUID,
 * "" for a trigger. Returns 1 with its rseq in *rseq when written (and synced when
 * opts.fsync), 0 when a read with that event_id was already taken (nothing
 * written), -1 with errno on failure (EINVAL, EMSGSIZE, or the write's errno).
 */
int		 journal_append(struct journal *j, enum journal_kind kind,
		    const char *lane, const char *event_id, int64_t mono_ms,
		    const void *payload, size_t len, uint64_t *rseq);

/*
 * Records that the messages of lane below floor need no replay any more and that
 * the lane's hold is *h (NULL: none). Written at once, never synced on its own: a
 * lost checkpoint makes the replay form a passage again that the outbox already
 * holds under the same event_id, which the outbox refuses. Returns 0 or -1.
 */
int		 journal_checkpoint(struct journal *j, const char *lane, uint64_t floor,
		    const struct journal_hold *h);

/*
 * Calls hold_cb once per lane that has a hold in force, then msg_cb for every
 * message at or above its lane's floor, in rseq order. Call before the bus starts.
 * Returns 0, or the first non-zero callback value.
 */
int		 journal_replay(struct journal *j, journal_hold_cb *hold_cb,
		    journal_msg_cb *msg_cb, void *arg);

/* Rewrites the file when it is past opts.compact_bytes. Returns 0 or -1 (logged). */
int		 journal_maybe_compact(struct journal *j);

/* Numbers for logs and tests. */
struct journal_stats {
	uint64_t	 appended;	/* messages written since open */
	uint64_t	 duplicates;	/* reads refused as already taken */
	uint64_t	 pending;	/* messages at or above their lane's floor */
	uint64_t	 bytes;		/* file size */
	uint64_t	 compactions;
	uint64_t	 torn;		/* torn tails cut at open */
};
void		 journal_stats(struct journal *j, struct journal_stats *st);

/*
 * The hold time in wall-clock form and back, so a hold written by one process means
 * the same to the next (CLOCK_MONOTONIC restarts at a reboot). Pure; exposed for tests.
 */
int64_t		 journal_mono_from_wall(int64_t wall, int64_t now_wall, int64_t now_mono);

#endif
