/*
 * The box refiner's, the province reader's and the character reader's geometry
 * (refine.h).
 */
#include <math.h>

#include "refine.h"

void
refine_region(const struct refine_box *b, float *x, float *y, float *w, float *h)
{
	float	bw = b->x1 - b->x0, bh = b->y1 - b->y0;

	*x = b->x0 - REFINE_PX * bw;
	*y = b->y0 - REFINE_PY * bh;
	*w = bw * (1 + 2 * REFINE_PX);
	*h = bh * (1 + 2 * REFINE_PY);
}

void
refine_province_region(const struct refine_box *b, int double_row, float *x,
    float *y, float *w, float *h)
{
	/* x0, y0, x1, y1 as fractions of the box (frames_to_province.py) */
	static const float single[4] = { -0.01f, 0.08f, 0.18f, 0.92f };
	static const float dbl[4] = { 0.22f, 0.02f, 0.46f, 0.39f };
	const float	*f = double_row ? dbl : single;
	float		 bw = b->x1 - b->x0, bh = b->y1 - b->y0;

	*x = b->x0 + f[0] * bw;
	*y = b->y0 + f[1] * bh;
	*w = (f[2] - f[0]) * bw;
	*h = (f[3] - f[1]) * bh;
}

int
refine_layout_chars(enum refine_layout lay)
{
	return lay == REFINE_ROW8 ? 8 : 7;
}

int
refine_char_region(const struct refine_box *b, enum refine_layout lay, int k,
    float *x, float *y, float *w, float *h)
{
	/* Character box k in mm, as tools/lpr/gen_plates.py's layout() draws it. */
	float	pw, ph, cx, cy, cw, ch, sx, sy;

	if (k < 0 || k >= refine_layout_chars(lay))
		return -1;
	switch (lay) {
	case REFINE_ROW8:	/* 9 mm apart, 49 with the dot after the 2nd */
		pw = 480, ph = 140, cw = 43, ch = 90, cy = 25;
		cx = 15.5f + 52 * (float)k + (k >= 2 ? 40 : 0);
		break;
	case REFINE_DOUBLE:
		pw = 440, ph = 220;
		if (k < 2)
			cx = k == 0 ? 110 : 250, cy = 15, cw = 80, ch = 60;
		else
			cx = 27.5f + 80 * (float)(k - 2), cy = 95, cw = 65, ch = 110;
		break;
	default:		/* 12 mm apart, 34 with the dot after the 2nd */
		pw = 440, ph = 140, cw = 45, ch = 90, cy = 25;
		cx = 15.5f + 57 * (float)k + (k >= 2 ? 22 : 0);
		break;
	}
	sx = (b->x1 - b->x0) / pw;
	sy = (b->y1 - b->y0) / ph;
	*x = b->x0 + (cx - REFINE_CHAR_MX) * sx;
	*y = b->y0 + (cy - REFINE_CHAR_MY) * sy;
	*w = (cw + 2 * REFINE_CHAR_MX) * sx;
	*h = (ch + 2 * REFINE_CHAR_MY) * sy;
	return 0;
}

int
refine_apply(struct refine_box *b, const float out[4])
{
	float	bw = b->x1 - b->x0, bh = b->y1 - b->y0, e[4];
	int	k;

	for (k = 0; k < 4; k++) {
		e[k] = out[k] / REFINE_SCALE;
		if (!isfinite(e[k]) || fabsf(e[k]) > REFINE_MAX)
			return -1;
	}
	if (1 + e[2] - e[0] < 0.5f || 1 + e[3] - e[1] < 0.5f)
		return -1;
	b->x0 += e[0] * bw;
	b->y0 += e[1] * bh;
	b->x1 += e[2] * bw;
	b->y1 += e[3] * bh;
	return 0;
}
