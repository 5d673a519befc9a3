/*
 * A decoded camera frame and the two ways the pipeline reads it: JPEG bytes from the
 * bus into 8-bit RGB through libjpeg-turbo (its TurboJPEG API), refusing what is not
 * a sane JPEG before any large allocation; and a rectangle of it resampled into the
 * planar float layout darknet's networks take (darknet's `image`: c planes of h rows
 * of w floats in 0..1). The frame stays 8-bit interleaved (a 1080p frame is 6 MB, not
 * darknet's 24 MB of floats) and only network-sized inputs become floats.
 *
 * No darknet here, so the fuzz target and unit tests link it alone. Thread-safe:
 * each worker has its own decoder handle.
 */
#ifndef LPR_FRAME_H
#define LPR_FRAME_H

#include <stddef.h>

/* An 8-bit RGB frame, rows top to bottom, no padding; rgb owned (frame_free()). */
struct frame {
	int		 w, h;
	unsigned char	*rgb;
};

/* What a frame may be; a zero field means no limit of that kind. */
struct frame_limits {
	size_t		max_bytes;	/* JPEG size */
	int		max_w, max_h;	/* dimensions */
	long long	max_pixels;	/* w * h */
};

/* Why a payload was refused: stable names for logs and counters. */
enum frame_reason {
	FRAME_OK = 0,
	FRAME_EMPTY,		/* "empty": zero bytes */
	FRAME_TOO_LARGE,	/* "too_large": over max_bytes */
	FRAME_NOT_JPEG,		/* "not_jpeg": no JPEG start-of-image marker */
	FRAME_BAD_HEADER,	/* "bad_header": the headers do not parse */
	FRAME_TOO_BIG,		/* "too_big": dimensions over the limits */
	FRAME_CORRUPT,		/* "corrupt": the data does not decode cleanly */
	FRAME_NOMEM,		/* "no_memory" */
	FRAME_REASON_COUNT
};

const char *frame_reason_name(enum frame_reason r);

/* A decoder handle for one thread; NULL when TurboJPEG could not make one. */
void	*frame_decoder_new(void);
void	 frame_decoder_free(void *dec);

/*
 * Decodes the JPEG in buf[0..len) into *f (zeroed on failure). The dimensions from
 * the header are checked against lim before the pixels are allocated; progressive
 * files with absurd scan counts and any decoder warning (truncated or damaged data)
 * are refused, not rendered half grey. Returns FRAME_OK, or the reason with a detail
 * for the log in err.
 */
enum frame_reason frame_decode(void *dec, const void *buf, size_t len,
	    const struct frame_limits *lim, struct frame *f, char *err, size_t errlen);

void	frame_free(struct frame *f);

/*
 * Resamples the rectangle (x, y, w, h) of f (in frame pixels; may reach outside, which
 * reads as the nearest edge pixel) into out: ow x oh pixels, planar floats in 0..1,
 * 3 planes R G B when channels is 3, one luma plane when 1. Shrinking averages a grid
 * of up to 4x4 bilinear taps per output pixel so small text survives a large step
 * down. out holds channels * ow * oh floats.
 */
void	frame_sample(const struct frame *f, float x, float y, float w, float h,
	    int channels, int ow, int oh, float *out);

/*
 * As frame_sample(), but into the sub-rectangle (ox, oy, tw, th) of an ow x oh out
 * buffer, leaving the rest as it is: lpr.c composes the reader's input of a
 * double-row plate from two bands this way.
 */
void	frame_sample_part(const struct frame *f, float x, float y, float w, float h,
	    int channels, int ow, int oh, int ox, int oy, int tw, int th, float *out);

/*
 * As frame_sample() of the whole frame, but letterboxed: the frame keeps its aspect
 * ratio inside ow x oh, centred, the rest filled with 0.5 (darknet's
 * letterbox_image()), averaging up to 2x2 taps per pixel. *sx, *sy, *dx, *dy receive the mapping from network pixels to
 * frame pixels: frame_x = (net_x - dx) * sx.
 */
void	frame_letterbox(const struct frame *f, int channels, int ow, int oh,
	    float *out, float *sx, float *sy, float *dx, float *dy);

/* Mean hue class of a rectangle, for plates whose detector class gives no colour:
 * returns a gk_plate_colour value (blue, yellow, green, white, black or unknown). */
int	frame_colour(const struct frame *f, int x, int y, int w, int h);

#endif
