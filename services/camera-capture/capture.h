/*
 * The rules of camera-capture with no I/O in them, so they can be table-tested: when
 * a frame is wanted (a burst of N frames at an interval after a lane trigger, or a
 * steady frame rate), how long a failed camera waits before the next try (capped
 * exponential backoff with jitter), when the no-frame alarm is raised and cleared,
 * what kind of source a configured URL names, and whether a trigger.v1 message is
 * one we act on. camera-capture.c feeds these with the clocks and the messages.
 */
#ifndef CAMERA_CAPTURE_CAPTURE_H
#define CAMERA_CAPTURE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include <gatekit/util.h>

/* What the loop wants from the frames arriving from the camera. */
enum sched_mode {
	SCHED_TRIGGER = 1,	/* a burst per lane trigger, nothing in between */
	SCHED_CONTINUOUS,	/* every interval_ms, for ever */
};

struct sched {
	enum sched_mode	 mode;
	int64_t		 interval_ms;	/* burst interval, or 1000/fps */
	int		 burst;		/* frames per trigger */
	/* State. */
	int		 left;		/* frames still wanted by the current burst */
	int64_t		 due_ms;	/* monotonic time the next frame is wanted */
	uint64_t	 after_seq;	/* only frames with a larger seq qualify */
	char		 trigger_id[GK_ID_LEN];	/* "" in continuous mode */
};

/* Sets s up; continuous mode wants a frame at once. */
void	sched_init(struct sched *s, enum sched_mode mode, int burst, int64_t interval_ms,
	    int64_t now);

/*
 * A trigger (occupied=true) arrived: a new burst of s->burst frames starts, the first
 * being the first frame newer than seq_now (the frame shown when the trigger came may
 * predate the vehicle). A burst still running gives way to it. Returns the number of
 * frames the old burst left untaken (0 when none ran).
 */
int	sched_trigger(struct sched *s, const char *trigger_id, uint64_t seq_now,
	    int64_t now);

/*
 * Whether the frame numbered seq, the newest from the camera, is to be captured now.
 * Returns 1 and advances the schedule (the caller must capture it), or 0.
 */
int	sched_take(struct sched *s, uint64_t seq, int64_t now);

/*
 * Milliseconds from now until a frame is next wanted (0: wanted already, waiting for
 * a new one), or -1 when nothing is wanted (trigger mode between bursts).
 */
int64_t	sched_wait_ms(const struct sched *s, int64_t now);

/*
 * The delay before reconnect attempt number attempt (0 for the first): min_ms doubled
 * per attempt, capped at max_ms, then "equal jitter" from rnd, a value in [d/2, d],
 * so cameras that failed together do not come back in lockstep.
 */
int64_t	backoff_ms(unsigned attempt, int64_t min_ms, int64_t max_ms, uint32_t rnd);

/* The no-frame alarm: raised after alarm_ms without a frame, cleared by the next. */
struct health {
	int64_t		 alarm_ms;	/* 0: never alarm */
	int		 active;
};

/*
 * Judges the camera at time now, the last frame having come at last_ms (the start
 * time when none has come yet). Returns 1 when the alarm must be raised, -1 when it
 * must be cleared, 0 when nothing changes.
 */
int	health_check(struct health *h, int64_t last_ms, int64_t now);

enum source_kind {
	SOURCE_BAD = 0,
	SOURCE_STREAM,		/* rtsp://, rtsps://, http(s) video (MJPEG): FFmpeg */
	SOURCE_FILE,		/* a video file path (or file:PATH): FFmpeg, paced, looped */
	SOURCE_SNAPSHOT,	/* http(s)://...jpg|jpeg|cgi...: JPEG per GET, libcurl */
	SOURCE_DIR,		/* dir:PATH: the JPEG files of a folder, in name order */
};

/*
 * Tells what kind of source url names and returns it, with the path or URL the
 * source opens in out (size len). An http(s) URL is a snapshot camera when
 * snapshot_hint is 1, a video stream when it is -1, and when it is 0 (auto) a
 * snapshot camera if its path (before any '?') ends in .jpg or .jpeg, else a stream. Returns SOURCE_BAD for an empty, over-long or
 * unsupported URL (another scheme, control characters).
 */
enum source_kind source_kind(const char *url, int snapshot_hint, char *out, size_t len);

/* A lane trigger as camera-capture reads it (schemas/trigger.v1.schema.json). */
struct trigger {
	char	trigger_id[GK_ID_LEN];
	char	site[33];
	char	lane[33];
	int	occupied;
	int64_t	ts_ms;
};

/*
 * Parses a trigger.v1 document strictly: every required member, no other member, the
 * types and patterns the schema gives. Returns 0, or -1 with the reason in err.
 */
int	trigger_parse(const void *buf, size_t len, struct trigger *t, char *err,
	    size_t errlen);

#endif
