/*
 * The geometry of the networks that look again at a plate in the full frame
 * (docs/lpr-models.md, "Box refiner", "Province reader", "Character reader"): which
 * region of the frame the box refiner looks at for a detector box and how its four
 * outputs move the box's edges, with the sanity rules that keep a confused answer
 * from making a box worse; and where, in a refined box, the province character and
 * the other characters sit (the province reader and the character reader).
 * tools/lpr's frames_to_refine.py and frames_to_province.py build the training data
 * with the same numbers. Pure: no darknet, no frame.
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

/* GA 36-2018's character layouts. */
enum refine_layout {
	REFINE_ROW7,		/* 440x140, seven 45x90 mm boxes (blue, yellow...) */
	REFINE_ROW8,		/* 480x140, eight 43x90 mm boxes (new energy) */
	REFINE_DOUBLE		/* 440x220, two 80x60 above five 65x110 */
};

#define REFINE_CHAR_MX	13.0f	/* mm of margin left and right of a character box */
#define REFINE_CHAR_MY	12.0f	/* ... and above and below */

/* The number of characters of layout lay: 7 or 8. */
int	refine_layout_chars(enum refine_layout lay);

/*
 * The region (x, y, w, h) the character reader reads for character k (0-based) of
 * layout lay in plate box b: GA 36's k-th character box widened by REFINE_CHAR_MX and
 * REFINE_CHAR_MY. Returns 0, or -1 when the layout has no character k.
 */
int	refine_char_region(const struct refine_box *b, enum refine_layout lay, int k,
	    float *x, float *y, float *w, float *h);

#endif
