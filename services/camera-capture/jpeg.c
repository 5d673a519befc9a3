/*
 * Size-limited JPEG encoding and the checking of cameras' JPEGs, over TurboJPEG (see
 * jpeg.h). A TurboJPEG handle is made per call: it costs microseconds against the
 * milliseconds of an encode, and keeps this file free of state shared across threads.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include <gatekit/util.h>

#include "jpeg.h"

#define QUALITY_STEP	10

void
jpeg_out_free(struct jpeg_out *out)
{
	if (out == NULL)
		return;
	free(out->buf);
	memset(out, 0, sizeof(*out));
}

/* Halves an RGB image with a 2x2 box filter into a new packed buffer (malloc'd). */
static unsigned char *
halve(const unsigned char *src, int w, int h, size_t stride, int *nw, int *nh)
{
	unsigned char *dst, *d;
	const unsigned char *r0, *r1;
	int x, y, c;

	*nw = w / 2;
	*nh = h / 2;
	if ((dst = malloc((size_t)*nw * (size_t)*nh * 3)) == NULL)
		return NULL;
	d = dst;
	for (y = 0; y < *nh; y++) {
		r0 = src + (size_t)(2 * y) * stride;
		r1 = r0 + stride;
		for (x = 0; x < *nw; x++)
			for (c = 0; c < 3; c++)
				*d++ = (unsigned char)((r0[6 * x + c] + r0[6 * x + 3 + c] +
				    r1[6 * x + c] + r1[6 * x + 3 + c] + 2) / 4);
	}
	return dst;
}

int
jpeg_encode(const unsigned char *rgb, int w, int h, size_t stride,
    const struct jpeg_opts *o, struct jpeg_out *out, char *err, size_t errlen)
{
	unsigned char *jbuf = NULL, *scaled = NULL, *next;
	const unsigned char *img = rgb;
	unsigned long jlen = 0;
	int q, floor_q, halvings = 0, encodes = 0, rc = -1, nw, nh;
	tjhandle tj;

	memset(out, 0, sizeof(*out));
	if (rgb == NULL || w < 1 || h < 1 || w > JPEG_MAX_DIM || h > JPEG_MAX_DIM ||
	    stride < (size_t)w * 3 || stride > INT_MAX || o->quality < 1 ||
	    o->quality > 100) {
		gk_errf(err, errlen, "bad image or options (%dx%d, quality %d)", w, h,
		    o->quality);
		return -1;
	}
	floor_q = o->min_quality >= 1 && o->min_quality <= o->quality ?
	    o->min_quality : o->quality;
	if ((tj = tjInitCompress()) == NULL) {
		gk_errf(err, errlen, "tjInitCompress: %s", tjGetErrorStr2(NULL));
		return -1;
	}
	for (;;) {
		/*
		 * Quality first (a little blockier keeps the plate legible), size last
		 * (halving costs the plate reader pixels it needs).
		 */
		for (q = o->quality;; q = q - QUALITY_STEP > floor_q ? q - QUALITY_STEP :
		    floor_q) {
			encodes++;
			if (tjCompress2(tj, img, w, (int)stride, h, TJPF_RGB, &jbuf, &jlen,
			    TJSAMP_420, q, 0) == -1) {
				gk_errf(err, errlen, "tjCompress2: %s",
				    tjGetErrorStr2(tj));
				goto out;
			}
			if (o->max_bytes == 0 || jlen <= o->max_bytes)
				goto fits;
			if (q == floor_q)
				break;
		}
		if (w / 2 < JPEG_MIN_DIM || h / 2 < JPEG_MIN_DIM) {
			gk_errf(err, errlen, "cannot fit %zu bytes: %lu at %dx%d quality "
			    "%d", o->max_bytes, jlen, w, h, floor_q);
			goto out;
		}
		if ((next = halve(img, w, h, stride, &nw, &nh)) == NULL) {
			gk_errf(err, errlen, "out of memory");
			goto out;
		}
		free(scaled);
		img = scaled = next;
		w = nw;
		h = nh;
		stride = (size_t)w * 3;
		halvings++;
	}
fits:
	if ((out->buf = malloc(jlen)) == NULL) {
		gk_errf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(out->buf, jbuf, jlen);
	out->len = jlen;
	out->width = w;
	out->height = h;
	out->quality = q;
	out->halvings = halvings;
	out->encodes = encodes;
	rc = 0;
out:
	tjFree(jbuf);
	free(scaled);
	tjDestroy(tj);
	return rc;
}

int
jpeg_probe(const void *buf, size_t len, int *w, int *h, char *err, size_t errlen)
{
	const unsigned char *p = buf;
	int subsamp, cs, rc = -1;
	size_t end = len;
	tjhandle tj;

	if (len < 4 || len > ULONG_MAX || p[0] != 0xff || p[1] != 0xd8) {
		gk_errf(err, errlen, "not a JPEG (no SOI marker)");
		return -1;
	}
	while (end > 2 && (p[end - 1] == 0 || p[end - 1] == '\n' || p[end - 1] == '\r' ||
	    p[end - 1] == ' '))
		end--;
	if (p[end - 2] != 0xff || p[end - 1] != 0xd9) {
		gk_errf(err, errlen, "truncated JPEG (no EOI marker at the end)");
		return -1;
	}
	if ((tj = tjInitDecompress()) == NULL) {
		gk_errf(err, errlen, "tjInitDecompress: %s", tjGetErrorStr2(NULL));
		return -1;
	}
	/* A stream of tables only "succeeds" without touching the sizes. */
	*w = *h = 0;
	if (tjDecompressHeader3(tj, p, (unsigned long)len, w, h, &subsamp, &cs) == -1) {
		gk_errf(err, errlen, "bad JPEG header: %s", tjGetErrorStr2(tj));
		goto out;
	}
	if (*w < 1 || *h < 1 || *w > JPEG_MAX_DIM || *h > JPEG_MAX_DIM) {
		gk_errf(err, errlen, "JPEG of %dx%d pixels refused (or no image)", *w,
		    *h);
		goto out;
	}
	rc = 0;
out:
	tjDestroy(tj);
	return rc;
}

int
jpeg_fit(const void *buf, size_t len, const struct jpeg_opts *o, struct jpeg_out *out,
    char *err, size_t errlen)
{
	unsigned char *rgb;
	tjhandle tj;
	int w, h, rc;

	memset(out, 0, sizeof(*out));
	if (jpeg_probe(buf, len, &w, &h, err, errlen) == -1)
		return -1;
	if (o->max_bytes == 0 || len <= o->max_bytes) {
		if ((out->buf = malloc(len)) == NULL) {
			gk_errf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(out->buf, buf, len);
		out->len = len;
		out->width = w;
		out->height = h;
		return 0;
	}
	if ((rgb = malloc((size_t)w * (size_t)h * 3)) == NULL) {
		gk_errf(err, errlen, "out of memory for %dx%d", w, h);
		return -1;
	}
	if ((tj = tjInitDecompress()) == NULL) {
		gk_errf(err, errlen, "tjInitDecompress: %s", tjGetErrorStr2(NULL));
		free(rgb);
		return -1;
	}
	rc = tjDecompress2(tj, buf, (unsigned long)len, rgb, w, 0, h, TJPF_RGB, 0);
	if (rc == -1 && tjGetErrorCode(tj) == TJERR_FATAL) {
		gk_errf(err, errlen, "tjDecompress2: %s", tjGetErrorStr2(tj));
		tjDestroy(tj);
		free(rgb);
		return -1;
	}
	/* A warning (a slightly damaged stream) still gives a usable image. */
	tjDestroy(tj);
	rc = jpeg_encode(rgb, w, h, (size_t)w * 3, o, out, err, errlen);
	free(rgb);
	return rc;
}
