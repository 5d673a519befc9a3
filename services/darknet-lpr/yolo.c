/*
 * YOLO output decoding and NMS (yolo.h). darknet's [yolo] layout, batch 1: for anchor
 * a the entries 4 + 1 + classes are planes of w*h values, anchors one after the
 * other: entry e of cell (row i, column j) is output[(a * (5 + classes) + e) * w * h +
 * i * w + j]. x and y are offsets within the cell (logistic applied), w and h are
 * log-scale factors of the anchor, objectness and classes are probabilities.
 */
#include <math.h>
#include <stdlib.h>

#include "yolo.h"

/* Keeps boxes[0..n) with the weakest last when full: insertion into a sorted array. */
static int
keep(struct yolo_box *boxes, int n, int max, const struct yolo_box *b)
{
	int i;

	if (n == max && boxes[n - 1].score >= b->score)
		return n;
	if (n < max)
		n++;
	for (i = n - 1; i > 0 && boxes[i - 1].score < b->score; i--)
		boxes[i] = boxes[i - 1];
	boxes[i] = *b;
	return n;
}

static int
by_score(const void *a, const void *b)
{
	const struct yolo_box *x = a, *y = b;

	return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

int
yolo_boxes(const struct yolo_layer *l, float thresh, struct yolo_box *boxes, int nb,
    int max)
{
	struct yolo_box	 b;
	const float	*o;
	size_t		 plane = (size_t)l->w * (size_t)l->h, loc;
	float		 obj, p;
	int		 a, i, j, k;

	if (max <= 0)
		return 0;
	qsort(boxes, (size_t)nb, sizeof(*boxes), by_score);
	for (a = 0; a < l->n; a++) {
		o = l->output + (size_t)a * (size_t)(5 + l->classes) * plane;
		for (i = 0; i < l->h; i++)
			for (j = 0; j < l->w; j++) {
				loc = (size_t)i * (size_t)l->w + (size_t)j;
				obj = o[4 * plane + loc];
				if (!(obj >= thresh))	/* NaN too */
					continue;
				b.cls = 0;
				b.score = 0;
				for (k = 0; k < l->classes; k++) {
					p = obj * o[(5 + (size_t)k) * plane + loc];
					if (p > b.score) {
						b.score = p;
						b.cls = k;
					}
				}
				if (l->classes == 0)
					b.score = obj;
				if (!(b.score >= thresh))
					continue;
				b.x = ((float)j + o[loc]) / (float)l->w * (float)l->netw;
				b.y = ((float)i + o[plane + loc]) / (float)l->h *
				    (float)l->neth;
				b.w = expf(o[2 * plane + loc]) * l->biases[2 * l->mask[a]];
				b.h = expf(o[3 * plane + loc]) *
				    l->biases[2 * l->mask[a] + 1];
				if (!isfinite(b.w) || !isfinite(b.h) || b.w <= 0 ||
				    b.h <= 0)
					continue;
				nb = keep(boxes, nb, max, &b);
			}
	}
	return nb;
}

float
yolo_iou(const struct yolo_box *a, const struct yolo_box *b)
{
	float l = fmaxf(a->x - a->w / 2, b->x - b->w / 2);
	float r = fminf(a->x + a->w / 2, b->x + b->w / 2);
	float t = fmaxf(a->y - a->h / 2, b->y - b->h / 2);
	float d = fminf(a->y + a->h / 2, b->y + b->h / 2);
	float in, un;

	if (r <= l || d <= t)
		return 0;
	in = (r - l) * (d - t);
	un = a->w * a->h + b->w * b->h - in;
	return un > 0 ? in / un : 0;
}

int
yolo_nms(struct yolo_box *boxes, int n, float iou)
{
	int i, j, kept = 0;

	qsort(boxes, (size_t)n, sizeof(*boxes), by_score);
	for (i = 0; i < n; i++) {
		for (j = 0; j < kept; j++)
			if (yolo_iou(&boxes[j], &boxes[i]) > iou)
				break;
		if (j == kept)
			boxes[kept++] = boxes[i];
	}
	return kept;
}
