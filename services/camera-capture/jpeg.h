/*
 * JPEG for camera-capture through libjpeg-turbo's TurboJPEG API: a frame is encoded at
 * the configured quality and, when the result is larger than the configured limit
 * (the frame topic's and Kafka's message size), encoded again at lower qualities down
 * to a floor and then at half the size, until it fits. A camera that already delivers
 * JPEG (a snapshot camera, a replayed folder) is kept byte for byte when it fits, so
 * the evidence is the camera's own image; it is checked to be a whole JPEG first.
 * No I/O, no logging: callers say what failed, with the text left in err.
 */
#ifndef CAMERA_CAPTURE_JPEG_H
#define CAMERA_CAPTURE_JPEG_H

#include <stddef.h>

#define JPEG_MAX_DIM	16384	/* larger sides are refused, never decoded */
#define JPEG_MIN_DIM	32	/* we halve no further than this */

struct jpeg_opts {
	int	quality;	/* 1..100 */
	int	min_quality;	/* 1..quality: the floor before halving the size */
	size_t	max_bytes;	/* 0: no limit */
};

/* An encoded image; buf is malloc'd and owned by the caller (jpeg_out_free()). */
struct jpeg_out {
	unsigned char	*buf;
	size_t		 len;
	int		 width;
	int		 height;
	int		 quality;	/* 0 when the input JPEG was kept as it was */
	int		 halvings;	/* how often the size was halved to fit */
	int		 encodes;	/* how many encodes it took */
};

/*
 * Encodes a packed RGB image (3 bytes per pixel, rows of stride bytes) of w x h
 * pixels, 4:2:0, within o->max_bytes as described above. Returns 0 with out filled,
 * or -1 with the reason in err (bad arguments, TurboJPEG failed, cannot fit).
 */
int	jpeg_encode(const unsigned char *rgb, int w, int h, size_t stride,
	    const struct jpeg_opts *o, struct jpeg_out *out, char *err, size_t errlen);

/*
 * Checks that buf holds one whole baseline or progressive JPEG (SOI, a header
 * TurboJPEG reads, sides within 1..JPEG_MAX_DIM, EOI at the end, trailing zero or
 * whitespace padding allowed) and returns its size in *w, *h. Returns 0, or -1 with
 * the reason in err.
 */
int	jpeg_probe(const void *buf, size_t len, int *w, int *h, char *err, size_t errlen);

/*
 * A camera's JPEG made fit: checked with jpeg_probe(), copied as it is when within
 * o->max_bytes, else decoded and encoded again with jpeg_encode(). Returns 0 with out
 * filled, or -1 with the reason in err.
 */
int	jpeg_fit(const void *buf, size_t len, const struct jpeg_opts *o,
	    struct jpeg_out *out, char *err, size_t errlen);

/* Frees out's buffer and zeroes it. NULL-safe. */
void	jpeg_out_free(struct jpeg_out *out);

#endif
