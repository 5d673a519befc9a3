/*
 * One frame through the plate models: JPEG bytes in, plate reads out. The models and
 * their preprocessing follow docs/lpr-models.md: the detector (320x192 RGB,
 * letterboxed, two [yolo] layers whose class is the plate's colour and layout) finds
 * plates, the box refiner moves each box's edges onto the plate's at full resolution,
 * each box is widened (4 % of its width left and right, 8 % of its height top and
 * bottom), stretched to the reader's 128x32 grey input, and the reader's 8 slots of
 * softmax are decoded under the plate rules (plate_decode.h), the first slot mixed
 * with the province reader's view of that character at the frame's resolution and
 * the others with the character reader's.
 *
 * darknet is not thread-safe across one network (its forward pass writes the
 * network's own buffers), so each worker owns a struct lpr with its own copy of
 * every network (up to five); everything in struct lpr_models is read-only once loaded and shared.
 */
#ifndef LPR_LPR_H
#define LPR_LPR_H

#include <stddef.h>

#include <gatekit/plate.h>

#include "frame.h"
#include "plate_decode.h"

#define LPR_PLATES_MAX		8	/* reads kept per frame */
#define LPR_CLASSES_MAX		16	/* detector classes */
#define LPR_PATH_MAX		1024
#define LPR_VERSION_MAX		33

/* What the detector's class means. */
struct lpr_class {
	enum gk_plate_colour	colour;	/* UNKNOWN: judge the colour from the crop */
	int			double_row;
};

/* The shared, read-only model description. */
struct lpr_models {
	char		det_cfg[LPR_PATH_MAX];
	char		det_weights[LPR_PATH_MAX];	/* "" or missing: random init */
	char		rd_cfg[LPR_PATH_MAX];
	char		rd_weights[LPR_PATH_MAX];
	char		ref_cfg[LPR_PATH_MAX];		/* "": no box refiner */
	char		ref_weights[LPR_PATH_MAX];
	char		prov_cfg[LPR_PATH_MAX];		/* "": no province reader */
	char		prov_weights[LPR_PATH_MAX];
	char		chars_cfg[LPR_PATH_MAX];	/* "": no character reader */
	char		chars_weights[LPR_PATH_MAX];
	struct pd_alphabet alpha;
	int		nclasses;
	struct lpr_class classes[LPR_CLASSES_MAX];
	char		det_version[LPR_VERSION_MAX];
	char		rd_version[LPR_VERSION_MAX];
	float		det_thresh;	/* objectness x class */
	float		det_nms;	/* IoU */
	int		max_plates;	/* <= LPR_PLATES_MAX */
	float		pad_x, pad_y;	/* crop widening, fractions of the box */
	int		reader_views;	/* the crop and nudged boxes read and
					 * averaged, 1 to 5 */
	int		refine_passes;	/* box refiner passes, 0 (off) to 3 */
	float		prov_mix;	/* province reader's share of the first
					 * slot (log-linear), 0 to 1 */
	float		chars_mix;	/* character reader's share of the
					 * other slots, 0 to 1 */
	int		prov_prior_on;	/* 0: every province alike */
	float		prov_prior[PD_SYM_MAX];	/* the site's province prior
					 * (pd_prior_parse()) */
	float		chars_sure;	/* a slot the reader gives one symbol
					 * this much or more is not asked
					 * again; above 1: every slot is */
	float		colour_overrule; /* a read the detector's colour rules
					 * out wins when this many times as
					 * probable as the best it allows; 0:
					 * never */
	unsigned	plate_flags;	/* GK_PLATE_NEV_EXT or 0 */
	struct frame_limits limits;
};

/* One plate found and read. */
struct lpr_plate {
	struct pd_read		read;
	int			read_ok;	/* 0: no legal plate decodes */
	char			argmax[GK_PLATE_MAX * 2];	/* for logs */
	enum gk_plate_colour	colour;
	int			double_row;
	int			x, y, w, h;	/* box in frame pixels, clamped */
	float			det_score;
	int			det_class;
};

/* What became of one frame. */
struct lpr_result {
	enum frame_reason	reason;		/* FRAME_OK or why it was refused */
	char			err[160];
	int			w, h;		/* frame size */
	int			ndet;		/* boxes after NMS (before the cap) */
	int			nplates;
	struct lpr_plate	plates[LPR_PLATES_MAX];
	double			decode_ms, detect_ms, read_ms;
};

struct lpr;

/*
 * Loads the networks of m for one worker (m is borrowed and must outlive it) and
 * checks them against m: the detector's input 3 channels and its [yolo] layers'
 * classes m->nclasses, the reader's output a whole number of slots of m->alpha.nsym.
 * Files are checked before darknet sees them (darknet exits on a missing file).
 * Returns the worker's state (lpr_free()), or NULL with err filled.
 */
struct lpr	*lpr_new(const struct lpr_models *m, char *err, size_t errlen);
void		 lpr_free(struct lpr *l);

/* Runs the whole pipeline on one JPEG; *r filled. Never fails otherwise: bad input is
 * r->reason. */
void	lpr_run(struct lpr *l, const void *jpeg, size_t len, struct lpr_result *r);

/*
 * As lpr_run(), for a JPEG that is already a plate crop (a labelled real crop, an
 * evaluation set of crops): no detector, the whole image is the box, read as
 * detector class cls (its colour and layout). For measuring the reader alone.
 */
void	lpr_run_crop(struct lpr *l, const void *jpeg, size_t len, int cls,
	    struct lpr_result *r);

/*
 * The detector and reader input sizes and the reader's slots, for logs.
 */
void	lpr_shape(const struct lpr *l, int *det_w, int *det_h, int *rd_w, int *rd_h,
	    int *rd_c, int *slots);

/* The files of a models folder, as names relative to it (or absolute). */
struct lpr_files {
	const char	*det_cfg, *det_weights;	/* weights "": random init */
	const char	*rd_cfg, *rd_weights;
	const char	*ref_cfg, *ref_weights;	/* cfg NULL or "": no refiner */
	const char	*prov_cfg, *prov_weights; /* cfg NULL or "": none */
	const char	*chars_cfg, *chars_weights; /* cfg NULL or "": none */
	const char	*symbols;		/* the reader's classes, one per line */
	const char	*blank;			/* the symbol line that is the blank */
	const char	*versions;		/* detector= and reader= lines */
	const char	*classes;		/* lpr_classes_parse() */
};

/* The shipped names: plate-detector.cfg ... plate-chars.weights, versions.txt,
 * the 7 detector classes. */
extern const struct lpr_files lpr_files_default;

/*
 * Fills m from the models folder dir: clears m, sets the file paths (without
 * checking the weights exist), reads the symbol list and the versions, parses the
 * classes, and sets the daemon's default thresholds, crop widening and frame limits
 * (darknet-lpr.conf documents them) for the caller to override. Returns 0, or -1 with
 * err naming the file and what is wrong.
 */
int	lpr_models_load(struct lpr_models *m, const char *dir,
	    const struct lpr_files *files, char *err, size_t errlen);

/* dir/name, or name when it is absolute. Returns 0, or -1 when it does not fit. */
int	lpr_path_join(char *buf, size_t len, const char *dir, const char *name);

/*
 * Parses a class list, "blue,yellow,yellow+double,green,yellow_green,white,black":
 * one colour name (gk_plate_colour_parse(), or "crop") per class, "+double" marking
 * a double-row layout. Returns 0, or -1 with err filled.
 */
int	lpr_classes_parse(struct lpr_models *m, const char *s, char *err,
	    size_t errlen);

#endif
