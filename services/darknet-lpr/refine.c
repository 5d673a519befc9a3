/*
 * The box refiner's and the province reader's geometry (refine.h).
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
