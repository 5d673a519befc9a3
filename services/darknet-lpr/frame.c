/*
 * JPEG decoding with libjpeg-turbo and resampling into network inputs (frame.h).
 * The pixel loops are plain C: a detector input of 320x192 and a few reader crops
 * are well under a million taps per frame.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include <gatekit/plate.h>

#include "frame.h"

static const char *const reason_names[FRAME_REASON_COUNT] = {
	[FRAME_OK] = "ok",
	[FRAME_EMPTY] = "empty",
	[FRAME_TOO_LARGE] = "too_large",
	[FRAME_NOT_JPEG] = "not_jpeg",
	[FRAME_BAD_HEADER] = "bad_header",
	[FRAME_TOO_BIG] = "too_big",
	[FRAME_CORRUPT] = "corrupt",
	[FRAME_NOMEM] = "no_memory",
};

const char *
frame_reason_name(enum frame_reason r)
{
	return (unsigned)r < FRAME_REASON_COUNT ? reason_names[r] : "?";
}

void *
frame_decoder_new(void)
{
	return tjInitDecompress();
}

void
frame_decoder_free(void *dec)
{
	if (dec != NULL)
		tjDestroy(dec);
}

void
frame_free(struct frame *f)
{
	if (f == NULL)
		return;
	free(f->rgb);
	memset(f, 0, sizeof(*f));
}

enum frame_reason
frame_decode(void *dec, const void *buf, size_t len, const struct frame_limits *lim,
    struct frame *f, char *err, size_t errlen)
{
	const unsigned char	*p = buf;
	int			 w = 0, h = 0, subsamp, cs;
	size_t			 bytes;

	memset(f, 0, sizeof(*f));
	if (errlen > 0)
		err[0] = '\0';
	if (len == 0)
		return FRAME_EMPTY;
	if (lim->max_bytes != 0 && len > lim->max_bytes) {
		snprintf(err, errlen, "%zu bytes, more than %zu", len, lim->max_bytes);
		return FRAME_TOO_LARGE;
	}
	/* TurboJPEG takes an unsigned long size; a JPEG starts with SOI, FF D8 FF. */
	if (len < 3 || p[0] != 0xff || p[1] != 0xd8 || p[2] != 0xff ||
	    len > (size_t)0xffffffffu) {
		snprintf(err, errlen, "no JPEG start-of-image marker");
		return FRAME_NOT_JPEG;
	}
	if (tjDecompressHeader3(dec, p, (unsigned long)len, &w, &h, &subsamp,
	    &cs) == -1) {
		snprintf(err, errlen, "%s", tjGetErrorStr2(dec));
		return FRAME_BAD_HEADER;
	}
	/* A file cut inside its headers can come back "successful" with garbage. */
	if (w <= 0 || h <= 0) {
		snprintf(err, errlen, "no usable frame size in the headers");
		return FRAME_BAD_HEADER;
	}
	if ((lim->max_w != 0 && w > lim->max_w) ||
	    (lim->max_h != 0 && h > lim->max_h) || (lim->max_pixels != 0 &&
	    (long long)w * h > lim->max_pixels)) {
		snprintf(err, errlen, "%dx%d over the limits (%dx%d, %lld pixels)", w,
		    h, lim->max_w, lim->max_h, lim->max_pixels);
		return FRAME_TOO_BIG;
	}
	bytes = (size_t)w * (size_t)h * 3;
	if ((f->rgb = malloc(bytes)) == NULL)
		return FRAME_NOMEM;
	/*
	 * STOPONWARNING: a truncated or damaged scan is an error, not a frame half
	 * filled with grey that the detector would read garbage from. LIMITSCANS: a
	 * progressive file with thousands of scans costs minutes (a known JPEG DoS).
	 */
	if (tjDecompress2(dec, p, (unsigned long)len, f->rgb, w, w * 3, h, TJPF_RGB,
	    TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) == -1) {
		snprintf(err, errlen, "%s", tjGetErrorStr2(dec));
		frame_free(f);
		return FRAME_CORRUPT;
	}
	f->w = w;
	f->h = h;
	return FRAME_OK;
}

/* Bilinear tap at (x, y) in frame pixels, edges clamped; c[3] in 0..255. */
static void
tap(const struct frame *f, float x, float y, float c[3])
{
	const unsigned char *r0, *r1;
	float	 fx, fy, a, b;
	int	 x0, y0, x1, y1, k;

	if (x < 0)
		x = 0;
	if (y < 0)
		y = 0;
	if (x > (float)(f->w - 1))
		x = (float)(f->w - 1);
	if (y > (float)(f->h - 1))
		y = (float)(f->h - 1);
	x0 = (int)x;
	y0 = (int)y;
	x1 = x0 + 1 < f->w ? x0 + 1 : x0;
	y1 = y0 + 1 < f->h ? y0 + 1 : y0;
	fx = x - (float)x0;
	fy = y - (float)y0;
	r0 = f->rgb + (size_t)y0 * (size_t)f->w * 3;
	r1 = f->rgb + (size_t)y1 * (size_t)f->w * 3;
	for (k = 0; k < 3; k++) {
		a = r0[x0 * 3 + k] + (r0[x1 * 3 + k] - r0[x0 * 3 + k]) * fx;
		b = r1[x0 * 3 + k] + (r1[x1 * 3 + k] - r1[x0 * 3 + k]) * fx;
		c[k] = a + (b - a) * fy;
	}
}

static int
taps_for(float scale, int max)
{
	int k = (int)ceilf(scale);

	return k < 1 ? 1 : k > max ? max : k;
}

/* Resamples into out at (ox, oy) of an ow-wide, oh-high planar buffer, tw x th. */
static void
sample_into(const struct frame *f, float x, float y, float w, float h,
    int channels, int ow, int oh, int ox, int oy, int tw, int th, int max_taps,
    float *out)
{
	float	 sx = w / (float)tw, sy = h / (float)th, c[3], acc[3], cx, cy;
	int	 kx = taps_for(sx, max_taps), ky = taps_for(sy, max_taps), i, j, a, b,
		 k;
	size_t	 plane = (size_t)ow * (size_t)oh, o;

	for (i = 0; i < th; i++) {
		for (j = 0; j < tw; j++) {
			acc[0] = acc[1] = acc[2] = 0;
			for (a = 0; a < ky; a++) {
				cy = y + ((float)i + ((float)a + 0.5f) / (float)ky) * sy -
				    0.5f;
				for (b = 0; b < kx; b++) {
					cx = x + ((float)j + ((float)b + 0.5f) /
					    (float)kx) * sx - 0.5f;
					tap(f, cx, cy, c);
					for (k = 0; k < 3; k++)
						acc[k] += c[k];
				}
			}
			for (k = 0; k < 3; k++)
				acc[k] /= (float)(kx * ky) * 255.0f;
			o = (size_t)(oy + i) * (size_t)ow + (size_t)(ox + j);
			if (channels == 1)
				out[o] = 0.299f * acc[0] + 0.587f * acc[1] +
				    0.114f * acc[2];
			else
				for (k = 0; k < 3; k++)
					out[(size_t)k * plane + o] = acc[k];
		}
	}
}

void
frame_sample(const struct frame *f, float x, float y, float w, float h,
    int channels, int ow, int oh, float *out)
{
	sample_into(f, x, y, w, h, channels, ow, oh, 0, 0, ow, oh, 4, out);
}

void
frame_sample_part(const struct frame *f, float x, float y, float w, float h,
    int channels, int ow, int oh, int ox, int oy, int tw, int th, float *out)
{
	sample_into(f, x, y, w, h, channels, ow, oh, ox, oy, tw, th, 4, out);
}

void
frame_letterbox(const struct frame *f, int channels, int ow, int oh, float *out,
    float *sx, float *sy, float *dx, float *dy)
{
	int	 tw, th, ox, oy;
	size_t	 i, n = (size_t)channels * (size_t)ow * (size_t)oh;

	if ((double)ow / f->w < (double)oh / f->h) {
		tw = ow;
		th = (int)lround((double)f->h * ow / f->w);
	} else {
		th = oh;
		tw = (int)lround((double)f->w * oh / f->h);
	}
	if (tw < 1)
		tw = 1;
	if (th < 1)
		th = 1;
	ox = (ow - tw) / 2;
	oy = (oh - th) / 2;
	for (i = 0; i < n; i++)
		out[i] = 0.5f;
	/*
	 * 2x2 taps for the lane view: a plate at 1/6 scale stays a plate for the
	 * detector, and 16 taps per pixel cost more than the detector's first layers.
	 */
	sample_into(f, 0, 0, (float)f->w, (float)f->h, channels, ow, oh, ox, oy, tw,
	    th, 2, out);
	*sx = (float)f->w / (float)tw;
	*sy = (float)f->h / (float)th;
	*dx = (float)ox;
	*dy = (float)oy;
}

int
frame_colour(const struct frame *f, int x, int y, int w, int h)
{
	double	 r = 0, g = 0, b = 0, mx, mn, hue, sat, n;
	int	 i, j, x0, y0, x1, y1;
	const unsigned char *p;

	/* The middle of the box: the plate's background, not its frame or the car. */
	x0 = x + w / 6;
	x1 = x + w - w / 6;
	y0 = y + h / 6;
	y1 = y + h - h / 6;
	if (x0 < 0)
		x0 = 0;
	if (y0 < 0)
		y0 = 0;
	if (x1 > f->w)
		x1 = f->w;
	if (y1 > f->h)
		y1 = f->h;
	if (x1 <= x0 || y1 <= y0)
		return GK_PLATE_COLOUR_UNKNOWN;
	for (i = y0; i < y1; i++)
		for (j = x0; j < x1; j++) {
			p = f->rgb + ((size_t)i * (size_t)f->w + (size_t)j) * 3;
			r += p[0];
			g += p[1];
			b += p[2];
		}
	n = (double)(x1 - x0) * (y1 - y0) * 255.0;
	r /= n;
	g /= n;
	b /= n;
	mx = fmax(r, fmax(g, b));
	mn = fmin(r, fmin(g, b));
	sat = mx > 0 ? (mx - mn) / mx : 0;
	if (sat < 0.25)
		return mx > 0.6 ? GK_PLATE_COLOUR_WHITE : mx < 0.3 ?
		    GK_PLATE_COLOUR_BLACK : GK_PLATE_COLOUR_UNKNOWN;
	if (mx == r)
		hue = 60 * fmod((g - b) / (mx - mn), 6);
	else if (mx == g)
		hue = 60 * ((b - r) / (mx - mn) + 2);
	else
		hue = 60 * ((r - g) / (mx - mn) + 4);
	if (hue < 0)
		hue += 360;
	if (hue >= 30 && hue < 70)
		return GK_PLATE_COLOUR_YELLOW;
	if (hue >= 70 && hue < 170)
		return GK_PLATE_COLOUR_GREEN;
	if (hue >= 190 && hue < 260)
		return GK_PLATE_COLOUR_BLUE;
	return GK_PLATE_COLOUR_UNKNOWN;
}
