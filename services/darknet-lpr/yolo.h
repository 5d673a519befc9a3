/*
 * Plate boxes from a darknet [yolo] layer's output, decoded here rather than through
 * darknet's get_network_boxes(): that generic path allocates a detection per anchor
 * and cell with a probability per class and cost 60-250 ms per call in
 * ../shared/LPR-NOTES.md, while a detector with a handful of classes needs one pass
 * over the objectness map and a few boxes kept. Then greedy non-maximum suppression.
 *
 * Pure: plain arrays in, boxes out; thread-safe.
 */
#ifndef LPR_YOLO_H
#define LPR_YOLO_H

/* The output of one [yolo] layer after its forward pass (logistic already applied
 * to x, y, objectness and classes), batch 1, in darknet's layout. */
struct yolo_layer {
	const float	*output;
	int		 w, h;		/* grid */
	int		 n;		/* anchors in this layer */
	int		 classes;
	const int	*mask;		/* n anchor indices into biases */
	const float	*biases;	/* anchor w, h pairs in network pixels */
	int		 netw, neth;	/* network input size */
};

/* A box in network-input pixels (centre x, y, width, height). */
struct yolo_box {
	float	x, y, w, h;
	float	score;		/* objectness times the best class probability */
	int	cls;
};

/*
 * Appends to boxes (room for max, nb already there) every anchor of l whose score
 * reaches thresh. Returns the new count (never above max: the weakest are dropped
 * beyond it).
 */
int	yolo_boxes(const struct yolo_layer *l, float thresh, struct yolo_box *boxes,
	    int nb, int max);

/* Sorts boxes by score, best first, and removes those overlapping a better one by
 * more than iou (intersection over union). Returns the count kept. */
int	yolo_nms(struct yolo_box *boxes, int n, float iou);

float	yolo_iou(const struct yolo_box *a, const struct yolo_box *b);

#endif
