/*
 * Where camera-capture's frames come from. A source runs on its own thread, because
 * every camera library blocks: FFmpeg (libavformat/libavcodec, then libswscale to RGB)
 * for RTSP, HTTP MJPEG and video files, all through one code path so a local file
 * exercises it in tests; libcurl for cameras that serve one JPEG per HTTP GET; and a
 * folder of JPEG files replayed in name order for demos and tests. The thread keeps
 * the newest frame in a one-frame slot (a newer one replaces it) and wakes the loop
 * through gk_loop_post() with at most one wake-up outstanding, so a fast camera can
 * never flood the loop; the loop takes the frame when its schedule wants one.
 *
 * A source that fails (cannot open, read error, timeout, garbage) logs why, counts
 * it and tries again after a capped exponential backoff with jitter, for ever; a
 * file or folder starts over at its end when asked to loop. Every blocking call is
 * bounded by the I/O timeout and interrupted at once by source_stop().
 */
#ifndef CAMERA_CAPTURE_SOURCE_H
#define CAMERA_CAPTURE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <gatekit/loop.h>

#include "capture.h"

/* One frame, owned by whoever holds the pointer (frame_free()). */
struct frame {
	unsigned char	*data;		/* packed RGB (jpeg 0) or a camera's JPEG (jpeg 1) */
	size_t		 len;
	size_t		 cap;
	int		 jpeg;
	int		 width;		/* jpeg 0: pixels; stride is width * 3 */
	int		 height;
	int64_t		 wall_ms;	/* when the source got it (epoch ms) */
	uint64_t	 seq;		/* increasing per source, from 1 */
};

void	frame_free(struct frame *f);

struct source_opts {
	enum source_kind kind;
	const char	*target;	/* path or URL (see source_kind()) */
	int64_t		 timeout_ms;	/* bound on each open, read and GET */
	int64_t		 interval_ms;	/* snapshot poll and folder replay period */
	int64_t		 backoff_min_ms;
	int64_t		 backoff_max_ms;
	int		 loop;		/* files and folders start over at their end */
	int		 rtsp_tcp;	/* RTSP over TCP (interleaved) rather than UDP */
	size_t		 max_jpeg;	/* largest JPEG taken from a camera or folder */
	struct gk_loop	*gloop;
	/* Posted to gloop when a new frame is in the slot; item is NULL. */
	gk_post_cb	*on_frame;
	void		*arg;
};

struct source_stats {
	uint64_t	frames;		/* frames read from the camera */
	uint64_t	kept;		/* ... of which put in the slot */
	uint64_t	bad;		/* unusable frames (not a JPEG, decode error) */
	uint64_t	failures;	/* opens or reads that failed (each retried) */
	uint64_t	opens;		/* successful opens */
};

struct source;

/*
 * Starts the source's thread (call from the loop thread, after the loop routed its
 * signals). Strings in o are copied. Returns the source (source_stop() ends it), or
 * NULL with the reason in err (no memory, no thread).
 */
struct source	*source_start(const struct source_opts *o, char *err, size_t errlen);

/*
 * Stops the thread (interrupting any blocking call), joins it and frees the source
 * and any frame it holds. NULL-safe. No on_frame is posted after it returns; one
 * posted before may still be queued on the loop.
 */
void	source_stop(struct source *s);

/*
 * Re-arms the wake-up: the loop calls it first thing in on_frame, so a frame put
 * after it is posted again.
 */
void	source_woken(struct source *s);

/*
 * Takes the newest frame when its seq is above after_seq, leaving the slot empty.
 * Returns the frame (owned by the caller), or NULL.
 */
struct frame	*source_take(struct source *s, uint64_t after_seq);

/* The seq of the newest frame put in the slot (0: none yet). */
uint64_t	source_seq(struct source *s);

/*
 * Tells the thread the monotonic time from which the loop wants a frame (INT64_MAX:
 * none wanted). Decoded video frames are converted and kept only from then on, so a
 * 25 fps camera captured at 2 fps, or idle between triggers, costs no conversions.
 */
void	source_want(struct source *s, int64_t from_mono_ms);

/* The monotonic time of the last frame read, or of the start when none was. */
int64_t	source_last_ms(struct source *s);

void	source_get_stats(struct source *s, struct source_stats *st);

/* Process-wide setup of FFmpeg and libcurl, once, before any source starts. */
int	source_global_init(void);
void	source_global_cleanup(void);

#endif
