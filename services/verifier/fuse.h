/*
 * Plate-read fusion: one passage per physical vehicle. A lane sees several reads of
 * one vehicle (successive frames, an ANPR camera and our LPR, RFID), some of them
 * wrong in a character or two. Per lane, the first read opens a window; reads in it are
 * fused by per-character voting weighted by confidence, among reads of the same length
 * that are legal plates (gatekit/plate.h); the window closes at its deadline, or early
 * once enough reads agree at or above a confidence. After a passage closes, further
 * reads of that plate on the lane are the vehicle still standing there: they are
 * suppressed for hold_ms unless a new trigger begins a new passage.
 *
 * Pure: time is passed in (monotonic milliseconds, from the caller's clock), nothing is
 * allocated, a struct fuse_lane is the whole state of one lane.
 *
 *	struct fuse_lane lane;
 *	struct fuse_passage p;
 *
 *	fuse_lane_init(&lane);
 *	if (fuse_offer(&lane, &params, &read, now, &p) == FUSE_CLOSED)
 *		decide(... &p ...);
 *	... and when fuse_deadline(&lane) has passed:
 *	if (fuse_tick(&lane, &params, now, &p) == FUSE_CLOSED)
 *		decide(... &p ...);
 */
#ifndef VERIFIER_FUSE_H
#define VERIFIER_FUSE_H

#include <stdint.h>

#include <gatekit/plate.h>
#include <gatekit/util.h>

#define FUSE_READS_MAX		32	/* reads kept per passage (schema: 32 ids) */
#define FUSE_CHARS_MAX		10	/* per-character confidences kept */
#define FUSE_TRIGGER_MAX	65	/* trigger id: 64 characters and the NUL */

/* Fusion parameters (part of the policy: see policy.h). */
struct fuse_params {
	int64_t		window_ms;	/* a window closes this long after its first read */
	int		early_reads;	/* close early once this many reads agree ... */
	double		early_conf;	/* ... each with at least this confidence */
	int64_t		hold_ms;	/* suppress the decided plate this long */
};

/* One plate read, copied out of a plate-read.v1 message by the caller. */
struct fuse_read {
	char			event_id[GK_ID_LEN];
	char			plate[GK_PLATE_MAX];	/* as read; normalised here */
	enum gk_plate_colour	colour;
	double			confidence;		/* 0..1 */
	int			nchar_conf;		/* 0: use confidence */
	double			char_conf[FUSE_CHARS_MAX];
	char			trigger_id[FUSE_TRIGGER_MAX];	/* "" if none */
	char			frame_sha256[65];	/* "" if the read named none */
	int64_t			wall_ms;		/* the read's ts */
};

/* A closed passage: what decide() needs from the reads. */
struct fuse_passage {
	char			plate[GK_PLATE_MAX];	/* fused, normalised */
	int			plate_ok;	/* 1: a legal plate in its colour */
	struct gk_plate_info	info;		/* valid when plate_ok */
	enum gk_plate_colour	colour;		/* weighted majority of the reads */
	double			confidence;	/* 0..1, see fuse.c */
	int			reads;		/* reads considered, duplicates not */
	int			nids;
	char			read_ids[FUSE_READS_MAX][GK_ID_LEN];
	/* The frames the reads came from, each once: the passage's evidence. */
	int			nframes;
	char			frames[FUSE_READS_MAX][65];
	char			trigger_id[FUSE_TRIGGER_MAX];
	int64_t			first_wall_ms;	/* ts of the earliest read */
	int64_t			opened_ms;	/* monotonic: window opened */
	int64_t			closed_ms;	/* monotonic: window closed */
	int			early;		/* 1: closed by agreement */
};

/* Internal: a read held in an open window. */
struct fuse_slot {
	struct fuse_read	r;
	char			norm[GK_PLATE_MAX];	/* normalised plate */
	int			ok;		/* legal plate */
	int			nchars;
};

enum fuse_state {
	FUSE_IDLE = 0,
	FUSE_OPEN
};

/* The state of one lane. Initialise with fuse_lane_init(); no resources to free. */
struct fuse_lane {
	enum fuse_state		state;
	int64_t			opened_ms;
	int			reads;
	int			nslots;
	struct fuse_slot	slots[FUSE_READS_MAX];
	char			trigger_id[FUSE_TRIGGER_MAX];
	/*
	 * The last passage's plate, suppressed until hold_until_ms (0: no hold),
	 * whether or not a window for another vehicle is open meanwhile.
	 */
	char			held_plate[GK_PLATE_MAX];
	char			held_trigger[FUSE_TRIGGER_MAX];
	int64_t			hold_until_ms;
};

/* What fuse_offer() and fuse_tick() did. */
enum fuse_rc {
	FUSE_ABSORBED = 0,	/* the read joined (or opened) a window */
	FUSE_CLOSED,		/* a passage closed: *out is filled */
	FUSE_SUPPRESSED,	/* same plate during the hold: dropped */
	FUSE_DUPLICATE,		/* an event_id already in the window: dropped */
	FUSE_NOTHING		/* fuse_tick(): no deadline reached */
};

/* Defaults: 800 ms window, 2 agreeing reads at 0.9 close early, 10 s hold. */
void	fuse_params_default(struct fuse_params *p);

void	fuse_lane_init(struct fuse_lane *l);

/*
 * Offers a read at monotonic time now_ms. A window whose deadline passed is closed
 * first; a read carrying a trigger id other than the open window's closes that window
 * and opens a new one with the read. Returns FUSE_CLOSED with *out filled when a
 * passage closed (by deadline, by a new trigger, or early through this read; in the
 * first two cases the read itself opened the next window), otherwise FUSE_ABSORBED,
 * FUSE_SUPPRESSED or FUSE_DUPLICATE. Reads that are not legal plates still open and
 * join windows (a vehicle is there) but never vote while a legal read exists.
 */
enum fuse_rc fuse_offer(struct fuse_lane *l, const struct fuse_params *p,
	    const struct fuse_read *r, int64_t now_ms, struct fuse_passage *out);

/*
 * Closes the open window when its deadline is at or before now_ms (FUSE_CLOSED, *out
 * filled); ends a hold whose time is up. Otherwise FUSE_NOTHING.
 */
enum fuse_rc fuse_tick(struct fuse_lane *l, const struct fuse_params *p,
	    int64_t now_ms, struct fuse_passage *out);

/* A new trigger (loop detector) on the lane: the hold ends, the next read opens. */
void	fuse_trigger(struct fuse_lane *l);

/* The monotonic time fuse_tick() next has work, or -1 when there is none. */
int64_t	fuse_deadline(const struct fuse_lane *l, const struct fuse_params *p);

#endif
