/*
 * The geometry of the two networks that look again at a plate in the full frame
 * (docs/lpr-models.md, "Box refiner" and "Province reader"): which region of the frame
 * the box refiner looks at for a detector box and how its four outputs move the box's
 * edges, with the sanity rules that keep a confused answer from making a box worse;
 * and where, in a refined box, the province character sits. tools/lpr's
 * frames_to_refine.py and frames_to_province.py build the training data with the same
 * numbers. Pure: no darknet, no frame.
 */
#ifndef LPR_REFINE_H
#define LPR_REFINE_H

#define REFINE_PX	0.3f	/* region: the box plus 0.3 of its width each side */
#define REFINE_PY	0.6f	/* ... and 0.6 of its height above and below */
#define REFINE_SCALE	5.0f	/* outputs are edge offsets in box units x 5 */
#define REFINE_MAX	0.35f	/* an offset beyond this is not trusted */

struct refine_box {
	float	x0, y0, x1, y1;		/* frame pixels */
};

/* The region (x, y, w, h) the refiner reads for box b. */
void	refine_region(const struct refine_box *b, float *x, float *y, float *w,
	    float *h);

/*
 * Moves b's edges by the refiner's outputs (left, top, right, bottom). Returns 0, or
 * -1 with b unchanged when an output is not finite, an offset exceeds REFINE_MAX of
 * the box, or the new box would be less than half as wide or high.
 */
int	refine_apply(struct refine_box *b, const float out[4]);

/*
 * The region (x, y, w, h) of the province character in plate box b: GA 36-2018's
 * first character box of a one-row plate, or the top row's left box of a double-row
 * one, with a margin for what the refiner leaves.
 */
void	refine_province_region(const struct refine_box *b, int double_row, float *x,
	    float *y, float *w, float *h);

#endif
