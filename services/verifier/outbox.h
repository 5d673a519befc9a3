/*
 * outbox: the verifier's durable, local log of decided passages waiting for Kafka.
 *
 * A passage must reach Kafka even when the verifier is killed at any instant or Kafka
 * is away for hours (DESIGN §5). So the verifier appends each passage here and waits
 * for outbox_sync() BEFORE it acts on the decision; when Kafka's delivery report says
 * a record is persisted, outbox_mark_done(); on start (and after Kafka failures)
 * outbox_pending() hands back every record not yet done, in seq order, to send again.
 * A crash between "delivered" and "done mark durable" resends a record: consumers
 * dedupe by event_id, so at-least-once here plus idempotent consumers is exactly once
 * in the ledger. A record acknowledged by outbox_sync() is never lost, and a record
 * whose done mark was followed by a returned outbox_sync() is never replayed.
 * outbox_append() refuses an event_id the outbox still holds (EEXIST): the verifier
 * derives a passage's event_id from its reads, so a passage formed again from
 * journaled reads after a crash is appended, and sent, once.
 *
 *	struct outbox *ob = outbox_open("/var/lib/ecogate/outbox", NULL, err, sizeof(err));
 *	outbox_append(ob, event_id, site, json, len, &seq);   ... more appends ...
 *	outbox_sync(ob);              now the decisions may be acted upon
 *	...delivery report ok:        outbox_mark_done(ob, seq);
 *
 * Layout: a directory of segment files "<first seq, 20 digits>.seg" holding records
 * (a passage, or a done mark naming a seq), each with a magic, length and CRC32C. A
 * segment is rolled at opts.segment_bytes and deleted once it and every older segment
 * hold no record that is not done. Only one process may open a directory (flock).
 *
 * Recovery on open checks every record (CRC32C). A bad record at the end of the newest
 * segment with nothing valid after it is a torn write (a crash mid-append, never
 * acknowledged by a sync): the tail is cut off, logged as outbox.torn_tail with file and
 * offset, and counted. A bad record in the newest segment with valid records after it
 * is skipped up to the next valid record, logged at error level (outbox.corrupt) and
 * counted: after a power loss the page cache may have written back later unsynced
 * records but not an earlier one, and refusing would stop the gate for what is most
 * likely that. A bad record in an older segment (each was fsynced before the next was
 * created) is corruption of acknowledged data: open refuses with an error naming the
 * file and offset, since going on would silently lose a passage; with opts.salvage it
 * is skipped like the above, so an operator can bring the gate back and investigate.
 *
 * One thread owns an outbox; nothing here locks.
 */
#ifndef VERIFIER_OUTBOX_H
#define VERIFIER_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#define OUTBOX_ID_LEN		36		/* event_id: UUID text without the NUL */
#define OUTBOX_KEY_MAX		255		/* Kafka key (the site), bytes */
#define OUTBOX_PAYLOAD_MAX	(256 * 1024)	/* one passage record, bytes */

struct outbox;

/* Limits; a zero field takes the default shown. */
struct outbox_opts {
	size_t	 segment_bytes;	/* roll the newest segment past this: 4 MiB */
	size_t	 max_bytes;	/* all segments together, at least 2 segments: 256 MiB */
	size_t	 max_pending;	/* records not done: 1000000 */
	int	 salvage;	/* skip corrupt records instead of refusing to open */
};

struct outbox_stats {
	uint64_t appended;	/* records appended since open */
	uint64_t done;		/* records marked done since open */
	uint64_t pending;	/* records not done now (recovered ones included) */
	uint64_t bytes;		/* bytes in all segments now */
	uint64_t segments;	/* segment files now */
	uint64_t segments_deleted; /* since open */
	uint64_t torn_tails;	/* torn tails cut off by recovery at open */
	uint64_t corrupt;	/* corrupt records skipped (salvage) at open */
	uint64_t full;		/* appends refused because the outbox was full */
	uint64_t syncs;		/* fdatasync calls */
	uint64_t duplicates;	/* appends refused: the event_id was held (EEXIST) */
};

/*
 * Iteration callback of outbox_pending(). event_id and key are NUL-terminated; all
 * pointers are borrowed and valid only during the call. Return 0 to go on, anything
 * else to stop (outbox_pending then returns that value).
 */
typedef int outbox_pending_cb(void *arg, uint64_t seq, const char *event_id,
    const char *key, const void *payload, size_t len);

/*
 * Opens (creating it when missing) the outbox in directory dir and recovers it as
 * described above. opts may be NULL for the defaults. Returns the outbox, owned by the
 * caller (outbox_close), or NULL with the reason in err (file and offset for
 * corruption; "locked" when another process has it open).
 */
struct outbox	*outbox_open(const char *dir, const struct outbox_opts *opts,
		    char *err, size_t errlen);

/* Closes the outbox and frees it (NULL-safe). Done marks not yet synced are synced. */
void		 outbox_close(struct outbox *ob);

/*
 * Appends one record: event_id (exactly OUTBOX_ID_LEN characters), key (at most
 * OUTBOX_KEY_MAX bytes) and payload (len bytes, at most OUTBOX_PAYLOAD_MAX; copied).
 * The record is NOT durable until outbox_sync() returns 0: the caller must not act on
 * the decision before that. Several appends may share one sync (group commit).
 * Returns 0 and the record's seq (increasing, never reused) in *seq; -1 with errno
 * EEXIST and the held record's seq in *seq when a record with this event_id is still
 * on disk (pending, or done in a segment not yet deleted): a passage formed again
 * after a crash is appended once; ENOSPC when the outbox is full (max_bytes or
 * max_pending: the gate must know), EINVAL or EMSGSIZE for bad arguments, EIO (or the
 * system's errno) on I/O failure.
 */
int		 outbox_append(struct outbox *ob, const char *event_id, const char *key,
		    const void *payload, size_t len, uint64_t *seq);

/*
 * Makes every record and done mark written so far durable (fdatasync). Returns 0, or
 * -1 on failure; after a failed sync the outbox refuses further writes (the kernel may
 * have dropped the unsynced pages, so the only safe course is to close and reopen,
 * which re-reads what is really on disk).
 */
int		 outbox_sync(struct outbox *ob);

/*
 * Marks record seq done (Kafka persisted it). The mark is written at once but made
 * durable lazily, by the next outbox_sync() or outbox_close(): a lost mark only causes
 * a harmless resend. Deletes segments that hold nothing pending any more. Returns 0
 * (also when seq was already done), or -1 when seq is unknown (errno ENOENT) or on I/O
 * failure.
 */
int		 outbox_mark_done(struct outbox *ob, uint64_t seq);

/*
 * Calls cb for every record not done whose seq is >= from, in seq order (the record
 * is read back from disk and its CRC checked). Returns 0 when all were visited, the
 * callback's non-zero value when it stopped, or -1 on a read error. The callback must
 * not append to or close the outbox; marking records done is allowed.
 */
int		 outbox_pending(struct outbox *ob, uint64_t from, outbox_pending_cb *cb,
		    void *arg);

/* Copies the counters into *st. */
void		 outbox_stats(const struct outbox *ob, struct outbox_stats *st);

#endif
