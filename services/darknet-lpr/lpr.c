/*
 * The darknet side of the pipeline (lpr.h): the only file that includes darknet.h.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <darknet.h>

#include "lpr.h"
#include "refine.h"
#include "yolo.h"

#define YOLO_MAX	4	/* [yolo] layers in the detector */
#define BOXES_MAX	64	/* candidates before NMS */

#ifdef __SANITIZE_ADDRESS__
/*
 * darknet's free_network() leaves some of what make_network() allocated; that is the
 * library's, not ours, so LeakSanitizer is told to ignore it in sanitizer builds.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libdarknet.so\n";
}
#endif

struct lpr {
	const struct lpr_models	*m;
	network			*det;
	network			*rd;
	network			*ref;		/* NULL: no box refiner */
	network			*prov;		/* NULL: no province reader */
	network			*chars;		/* NULL: no character reader */
	int			 nyolo;
	int			 yolo_idx[YOLO_MAX];
	int			 slots;
	void			*dec;		/* TurboJPEG handle */
	float			*det_in;	/* 3 x det w x det h */
	float			*rd_in;		/* c x rd w x rd h */
	float			*rd_sum;	/* the reader's outputs, summed */
	float			*ref_in;	/* 3 x ref w x ref h */
	float			*prov_in;	/* 1 x prov w x prov h */
	float			*chars_in;	/* 1 x chars w x chars h */
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int
lpr_classes_parse(struct lpr_models *m, const char *s, char *err, size_t errlen)
{
	char	 buf[512], *tok, *save = NULL, *plus;
	enum gk_plate_colour c;

	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "class list longer than %zu bytes", sizeof(buf) - 1);
		return -1;
	}
	memcpy(buf, s, strlen(s) + 1);
	m->nclasses = 0;
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (m->nclasses == LPR_CLASSES_MAX) {
			snprintf(err, errlen, "more than %d classes", LPR_CLASSES_MAX);
			return -1;
		}
		m->classes[m->nclasses].double_row = 0;
		if ((plus = strchr(tok, '+')) != NULL) {
			if (strcmp(plus, "+double") != 0) {
				snprintf(err, errlen, "class %d: '%s': only +double may "
				    "follow a colour", m->nclasses, tok);
				return -1;
			}
			*plus = '\0';
			m->classes[m->nclasses].double_row = 1;
		}
		if (strcmp(tok, "crop") == 0)
			c = GK_PLATE_COLOUR_UNKNOWN;
		else if (gk_plate_colour_parse(tok, &c) == -1) {
			snprintf(err, errlen, "class %d: '%s' is not a colour", m->nclasses,
			    tok);
			return -1;
		}
		m->classes[m->nclasses++].colour = c;
	}
	if (m->nclasses == 0) {
		snprintf(err, errlen, "no classes");
		return -1;
	}
	return 0;
}

void
lpr_free(struct lpr *l)
{
	if (l == NULL)
		return;
	if (l->det != NULL)
		free_network(l->det);
	if (l->rd != NULL)
		free_network(l->rd);
	if (l->ref != NULL)
		free_network(l->ref);
	if (l->prov != NULL)
		free_network(l->prov);
	if (l->chars != NULL)
		free_network(l->chars);
	frame_decoder_free(l->dec);
	free(l->det_in);
	free(l->rd_in);
	free(l->rd_sum);
	free(l->ref_in);
	free(l->prov_in);
	free(l->chars_in);
	free(l);
}

/* darknet calls exit() on a file it cannot open: look first. */
static network *
load(const char *cfg, const char *weights, const char *what, char *err,
    size_t errlen)
{
	network *n;

	if (access(cfg, R_OK) == -1) {
		snprintf(err, errlen, "%s cfg %s: %s", what, cfg, strerror(errno));
		return NULL;
	}
	if (weights[0] != '\0' && access(weights, R_OK) == -1)
		weights = "";		/* random init; the daemon says so at start */
	/* darknet's API takes char * but does not write them. */
	n = load_network((char *)(uintptr_t)cfg, weights[0] != '\0' ?
	    (char *)(uintptr_t)weights : NULL, 0);
	if (n == NULL) {
		snprintf(err, errlen, "%s cfg %s: darknet could not load it", what, cfg);
		return NULL;
	}
	set_batch_network(n, 1);
	return n;
}

/*
 * An optional one-character network (the province or the character reader): 1
 * channel in, a softmax over the nsym symbols out. Nothing loaded when cfg is "".
 */
static int
load_glyph(const char *cfg, const char *weights, const char *what, int nsym,
    network **net, float **in, char *err, size_t errlen)
{
	if (cfg[0] == '\0')
		return 0;
	if ((*net = load(cfg, weights, what, err, errlen)) == NULL)
		return -1;
	if ((*net)->c != 1 || (*net)->outputs != nsym) {
		snprintf(err, errlen, "%s: %d input channels and %d outputs, want 1 "
		    "and %d", what, (*net)->c, (*net)->outputs, nsym);
		return -1;
	}
	if ((*in = malloc(sizeof(float) * (size_t)(*net)->w *
	    (size_t)(*net)->h)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

struct lpr *
lpr_new(const struct lpr_models *m, char *err, size_t errlen)
{
	struct lpr	*l;
	layer		*y;
	int		 i;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->m = m;
	if ((l->det = load(m->det_cfg, m->det_weights, "detector", err, errlen)) ==
	    NULL || (l->rd = load(m->rd_cfg, m->rd_weights, "reader", err,
	    errlen)) == NULL)
		goto fail;
	if (l->det->c != 3) {
		snprintf(err, errlen, "detector: %d input channels, want 3", l->det->c);
		goto fail;
	}
	for (i = 0; i < l->det->n; i++) {
		if (l->det->layers[i].type != YOLO)
			continue;
		y = &l->det->layers[i];
		if (l->nyolo == YOLO_MAX) {
			snprintf(err, errlen, "detector: more than %d [yolo] layers",
			    YOLO_MAX);
			goto fail;
		}
		if (y->classes != m->nclasses) {
			snprintf(err, errlen, "detector: layer %d has %d classes, the "
			    "configuration names %d", i, y->classes, m->nclasses);
			goto fail;
		}
		l->yolo_idx[l->nyolo++] = i;
	}
	if (l->nyolo == 0) {
		snprintf(err, errlen, "detector: no [yolo] layer");
		goto fail;
	}
	if (l->rd->c != 1 && l->rd->c != 3) {
		snprintf(err, errlen, "reader: %d input channels", l->rd->c);
		goto fail;
	}
	if (l->rd->outputs % m->alpha.nsym != 0 ||
	    (l->slots = l->rd->outputs / m->alpha.nsym) < 7 || l->slots > PD_POS_MAX) {
		snprintf(err, errlen, "reader: %d outputs are not 7 to %d slots of %d "
		    "symbols", l->rd->outputs, PD_POS_MAX, m->alpha.nsym);
		goto fail;
	}
	if (m->ref_cfg[0] != '\0') {
		if ((l->ref = load(m->ref_cfg, m->ref_weights, "refiner", err,
		    errlen)) == NULL)
			goto fail;
		if (l->ref->c != 3 || l->ref->outputs != 4) {
			snprintf(err, errlen, "refiner: %d input channels and %d "
			    "outputs, want 3 and 4", l->ref->c, l->ref->outputs);
			goto fail;
		}
		if ((l->ref_in = malloc(sizeof(float) * 3 * (size_t)l->ref->w *
		    (size_t)l->ref->h)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (load_glyph(m->prov_cfg, m->prov_weights, "province", m->alpha.nsym,
	    &l->prov, &l->prov_in, err, errlen) == -1 ||
	    load_glyph(m->chars_cfg, m->chars_weights, "characters", m->alpha.nsym,
	    &l->chars, &l->chars_in, err, errlen) == -1)
		goto fail;
	if ((l->dec = frame_decoder_new()) == NULL ||
	    (l->det_in = malloc(sizeof(float) * 3 * (size_t)l->det->w *
	    (size_t)l->det->h)) == NULL ||
	    (l->rd_sum = malloc(sizeof(float) * (size_t)l->rd->outputs)) == NULL ||
	    (l->rd_in = malloc(sizeof(float) * (size_t)l->rd->c * (size_t)l->rd->w *
	    (size_t)l->rd->h)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return l;
fail:
	lpr_free(l);
	return NULL;
}

void
lpr_shape(const struct lpr *l, int *det_w, int *det_h, int *rd_w, int *rd_h,
    int *rd_c, int *slots)
{
	*det_w = l->det->w;
	*det_h = l->det->h;
	*rd_w = l->rd->w;
	*rd_h = l->rd->h;
	*rd_c = l->rd->c;
	*slots = l->slots;
}

static int
clampi(float v, int lo, int hi)
{
	if (!(v > (float)lo))		/* NaN too */
		return lo;
	if (v > (float)hi)
		return hi;
	return (int)lroundf(v);
}

/* The detector on the letterboxed frame: boxes in frame pixels, best first. */
static int
detect(struct lpr *l, const struct frame *f, struct yolo_box *boxes)
{
	const struct lpr_models	*m = l->m;
	struct yolo_layer	 yl;
	layer			*y;
	float			 sx, sy, dx, dy;
	int			 i, n = 0;

	frame_letterbox(f, 3, l->det->w, l->det->h, l->det_in, &sx, &sy, &dx, &dy);
	network_predict(l->det, l->det_in);
	for (i = 0; i < l->nyolo; i++) {
		y = &l->det->layers[l->yolo_idx[i]];
		yl.output = y->output;
		yl.w = y->w;
		yl.h = y->h;
		yl.n = y->n;
		yl.classes = y->classes;
		yl.mask = y->mask;
		yl.biases = y->biases;
		yl.netw = l->det->w;
		yl.neth = l->det->h;
		n = yolo_boxes(&yl, m->det_thresh, boxes, n, BOXES_MAX);
	}
	n = yolo_nms(boxes, n, m->det_nms);
	for (i = 0; i < n; i++) {	/* network pixels -> frame pixels */
		boxes[i].x = (boxes[i].x - dx) * sx;
		boxes[i].y = (boxes[i].y - dy) * sy;
		boxes[i].w *= sx;
		boxes[i].h *= sy;
	}
	return n;
}

/* Reads a small text file whole; returns a NUL-terminated copy or NULL (errno). */
static char *
slurp(const char *path, size_t max, size_t *lenp)
{
	FILE	*fp;
	char	*buf;
	size_t	 n;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	n = fread(buf, 1, max + 1, fp);
	fclose(fp);
	if (n > max) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[n] = '\0';
	*lenp = n;
	return buf;
}

/* "detector=0.0.0" and "reader=0.1.0" out of versions.txt. */
static int
read_versions(struct lpr_models *m, const char *path, char *err, size_t errlen)
{
	char	*text, *line, *save = NULL, *eq;
	size_t	 len, i;

	if ((text = slurp(path, 4096, &len)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (line = strtok_r(text, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if (line[0] == '#' || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq++ = '\0';
		for (i = 0; eq[i] != '\0'; i++)
			if (!((eq[i] >= '0' && eq[i] <= '9') || (eq[i] >= 'a' &&
			    eq[i] <= 'z') || (eq[i] >= 'A' && eq[i] <= 'Z') ||
			    strchr(".+_-", eq[i]) != NULL))
				break;
		if (eq[i] != '\0' || i == 0 || i >= LPR_VERSION_MAX)
			continue;
		if (strcmp(line, "detector") == 0)
			memcpy(m->det_version, eq, i + 1);
		else if (strcmp(line, "reader") == 0)
			memcpy(m->rd_version, eq, i + 1);
	}
	free(text);
	if (m->det_version[0] == '\0' || m->rd_version[0] == '\0') {
		snprintf(err, errlen, "%s: no detector= and reader= versions", path);
		return -1;
	}
	return 0;
}

const struct lpr_files lpr_files_default = {
	"plate-detector.cfg", "plate-detector.weights", "plate-reader.cfg",
	"plate-reader.weights", "plate-refiner.cfg", "plate-refiner.weights",
	"plate-province.cfg", "plate-province.weights",
	"plate-chars.cfg", "plate-chars.weights",
	"symbols.txt", "_", "versions.txt",
	"blue,yellow,yellow+double,green,yellow_green,white,black"
};

int
lpr_path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = name[0] == '/' ? snprintf(buf, len, "%s", name) :
	    snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* An optional network's paths (LPR_PATH_MAX each); none when cfg is NULL or "". */
static int
join_optional(char *cfg_out, char *weights_out, const char *dir, const char *cfg,
    const char *weights)
{
	if (cfg == NULL || cfg[0] == '\0')
		return 0;
	if (lpr_path_join(cfg_out, LPR_PATH_MAX, dir, cfg) == -1)
		return -1;
	if (weights != NULL && weights[0] != '\0' &&
	    lpr_path_join(weights_out, LPR_PATH_MAX, dir, weights) == -1)
		return -1;
	return 0;
}

int
lpr_models_load(struct lpr_models *m, const char *dir,
    const struct lpr_files *fl, char *err, size_t errlen)
{
	char	 path[LPR_PATH_MAX], perr[200];
	char	*text;
	size_t	 len;

	memset(m, 0, sizeof(*m));
	if (lpr_path_join(m->det_cfg, sizeof(m->det_cfg), dir, fl->det_cfg) == -1 ||
	    lpr_path_join(m->rd_cfg, sizeof(m->rd_cfg), dir, fl->rd_cfg) == -1 ||
	    (fl->det_weights[0] != '\0' && lpr_path_join(m->det_weights,
	    sizeof(m->det_weights), dir, fl->det_weights) == -1) ||
	    (fl->rd_weights[0] != '\0' && lpr_path_join(m->rd_weights,
	    sizeof(m->rd_weights), dir, fl->rd_weights) == -1) ||
	    join_optional(m->ref_cfg, m->ref_weights, dir, fl->ref_cfg,
	    fl->ref_weights) == -1 ||
	    join_optional(m->prov_cfg, m->prov_weights, dir, fl->prov_cfg,
	    fl->prov_weights) == -1 ||
	    join_optional(m->chars_cfg, m->chars_weights, dir, fl->chars_cfg,
	    fl->chars_weights) == -1 ||
	    lpr_path_join(path, sizeof(path), dir, fl->symbols) == -1) {
		snprintf(err, errlen, "%s: model paths too long", dir);
		return -1;
	}
	if ((text = slurp(path, 16384, &len)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (pd_alphabet_parse(&m->alpha, text, len, fl->blank, perr,
	    sizeof(perr)) == -1) {
		free(text);
		snprintf(err, errlen, "%s: %s", path, perr);
		return -1;
	}
	free(text);
	if (lpr_path_join(path, sizeof(path), dir, fl->versions) == -1) {
		snprintf(err, errlen, "%s: model paths too long", dir);
		return -1;
	}
	if (read_versions(m, path, err, errlen) == -1 ||
	    lpr_classes_parse(m, fl->classes, err, errlen) == -1)
		return -1;
	m->det_thresh = 0.15f;
	m->det_nms = 0.45f;
	m->max_plates = 4;
	m->pad_x = 0.04f;
	m->pad_y = 0.08f;
	m->reader_views = 1;
	m->refine_passes = 2;
	m->prov_mix = 0.6f;
	m->chars_mix = 0.6f;
	m->chars_sure = 0.98f;
	m->prov_prior_on = 0;
	m->colour_overrule = 10;
	m->limits.max_bytes = 4u << 20;
	m->limits.max_w = m->limits.max_h = 4096;
	m->limits.max_pixels = 12000000;
	return 0;
}

/*
 * The reader's input from the crop (x, y, w, h). A one-row plate is stretched whole;
 * a double-row plate is unfolded into one row (docs/lpr-models.md, the same bands as
 * tools/lpr/pack.py): the top row's band, province and letter in the middle of the
 * plate, fills the left LPR_TOP_COLS of the input, the bottom row's band the rest, so
 * the reader sees characters of about one size in reading order.
 */
#define LPR_TOP_COLS	0.3125f			/* 40 of 128 */
#define LPR_TOP_X0	0.18f
#define LPR_TOP_X1	0.82f
#define LPR_TOP_Y1	0.42f
#define LPR_BOTTOM_Y0	0.34f

static void
reader_input(struct lpr *l, const struct frame *f, float x, float y, float w,
    float h, int double_row)
{
	int	 rw = l->rd->w, rh = l->rd->h, tw;

	if (!double_row) {
		frame_sample(f, x, y, w, h, l->rd->c, rw, rh, l->rd_in);
		return;
	}
	tw = (int)lroundf(LPR_TOP_COLS * (float)rw);
	frame_sample_part(f, x + LPR_TOP_X0 * w, y, (LPR_TOP_X1 - LPR_TOP_X0) * w,
	    LPR_TOP_Y1 * h, l->rd->c, rw, rh, 0, 0, tw, rh, l->rd_in);
	frame_sample_part(f, x, y + LPR_BOTTOM_Y0 * h, w, (1 - LPR_BOTTOM_Y0) * h,
	    l->rd->c, rw, rh, tw, 0, rw - tw, rh, l->rd_in);
}

/*
 * A one-character network on region (x, y, w, h), mixed into slot k of the reader's
 * outputs in l->rd_sum: log-linear, share a of the network's log-probability and the
 * rest of the reader's, renormalised. The reader often puts all its weight on a wrong
 * character; the network, which sees the character at the frame's resolution, gets a
 * say in proportion.
 */
static void
mix_slot(struct lpr *l, network *net, float *in, const struct frame *f, float x,
    float y, float w, float h, int k, float a)
{
	float	*q, *p = l->rd_sum + (size_t)k * (size_t)l->m->alpha.nsym, sum = 0;
	int	 i, n = l->m->alpha.nsym;

	frame_sample(f, x, y, w, h, 1, net->w, net->h, in);
	q = network_predict(net, in);
	for (i = 0; i < n; i++)
		if (!isfinite(q[i]))
			return;
	for (i = 0; i < n; i++) {
		p[i] = powf(p[i] + 1e-9f, 1 - a) * powf(q[i] + 1e-9f, a);
		sum += p[i];
	}
	for (i = 0; i < n; i++)
		p[i] /= sum;
}

/*
 * Whether the reader is sure of slot k (one symbol at chars.sure or more): the
 * character reader is not asked then. Most characters of a clean plate are sure, so
 * this saves most of its passes.
 */

static int
slot_sure(const struct lpr *l, int k)
{
	const float	*p = l->rd_sum + (size_t)k * (size_t)l->m->alpha.nsym;
	int		 i;

	for (i = 0; i < l->m->alpha.nsym; i++)
		if (p[i] >= l->m->chars_sure)
			return 1;
	return 0;
}

/*
 * The province reader on the first character's region of plate box b and the
 * character reader on the others' (refine.h), each mixed into its slot. The layout
 * is the one being read: double-row, or eight characters when the reader sees an
 * eighth character, else seven. Not the detector's colour: it calls most white
 * police plates and many dim yellow ones green, and the eight-character layout
 * puts the last regions most of a character to the left, so the character reader
 * read the sixth character again as the seventh (警 as the digit before it).
 */
static void
mix_glyphs(struct lpr *l, const struct frame *f, const struct refine_box *b,
    int double_row)
{
	const struct lpr_models	*m = l->m;
	enum refine_layout	 lay;
	float			 x, y, w, h, blank8;
	int			 k;

	if (l->prov != NULL && m->prov_mix > 0) {
		refine_province_region(b, double_row, &x, &y, &w, &h);
		mix_slot(l, l->prov, l->prov_in, f, x, y, w, h, 0, m->prov_mix);
	}
	if (l->chars == NULL || m->chars_mix <= 0)
		return;
	blank8 = l->slots >= 8 && m->alpha.blank >= 0 ?
	    l->rd_sum[7 * m->alpha.nsym + m->alpha.blank] : 1;
	lay = double_row ? REFINE_DOUBLE : blank8 < 0.5f ? REFINE_ROW8 : REFINE_ROW7;
	for (k = 1; k < l->slots; k++)
		if (!slot_sure(l, k) &&
		    refine_char_region(b, lay, k, &x, &y, &w, &h) == 0)
			mix_slot(l, l->chars, l->chars_in, f, x, y, w, h, k,
			    m->chars_mix);
}

/*
 * Runs the reader on the crop in one layout (and the province and character readers
 * on plate box box) and decodes it for the detector's colour;
 * 0 and p's read and colour filled, or -1 when the network gave no finite output
 * (darknet's random-init weights give NaN).
 */
static int
read_layout(struct lpr *l, const struct frame *f, const struct refine_box *box,
    enum gk_plate_colour colour, float x, float y, float w, float h,
    int double_row, struct lpr_plate *p)
{
	/*
	 * The reader is sensitive to where the detector's box sits (docs/lpr-models.md:
	 * a box off by a few per cent costs reads), so it may read the crop as given
	 * and as a few nudged boxes, and decode the mean of the softmax outputs.
	 * Fractions of the box: left, top, right, bottom moved outwards.
	 */
	static const float	 nudge[][4] = {
		{ 0, 0, 0, 0 },
		{ 0, 0.08f, 0, 0.08f },		/* taller */
		{ 0.03f, -0.05f, 0.03f, -0.05f },	/* wider, shorter */
		{ -0.03f, 0, 0.03f, 0 },	/* shifted right */
		{ 0.03f, 0, -0.03f, 0 },	/* shifted left */
	};
	const struct lpr_models	*m = l->m;
	enum gk_plate_colour	 crop;
	float			*probs;
	int			 i, k, overruled, n = m->reader_views;

	if (n < 1)
		n = 1;
	if (n > (int)(sizeof(nudge) / sizeof(nudge[0])))
		n = (int)(sizeof(nudge) / sizeof(nudge[0]));
	for (k = 0; k < n; k++) {
		reader_input(l, f, x - nudge[k][0] * w, y - nudge[k][1] * h,
		    w * (1 + nudge[k][0] + nudge[k][2]),
		    h * (1 + nudge[k][1] + nudge[k][3]), double_row);
		probs = network_predict(l->rd, l->rd_in);
		for (i = 0; i < l->rd->outputs; i++) {
			if (!isfinite(probs[i])) {
				snprintf(p->argmax, sizeof(p->argmax), "(not finite)");
				return -1;
			}
			l->rd_sum[i] = (k == 0 ? 0 : l->rd_sum[i]) + probs[i] / n;
		}
	}
	mix_glyphs(l, f, box, double_row);
	if (m->prov_prior_on)
		pd_prior_apply(&m->alpha, l->rd_sum, m->prov_prior);
	pd_argmax(&m->alpha, l->rd_sum, l->slots, p->argmax, sizeof(p->argmax));
	/*
	 * The detector's colour is a guess too (white police plates come out green):
	 * a read that colour rules out but much more probable than the best read it
	 * allows wins, with the colour its layout implies or, where the layout allows
	 * several, the crop's.
	 */
	p->read_ok = pd_decode_guess(&m->alpha, l->rd_sum, l->slots, colour,
	    m->plate_flags, m->colour_overrule, &p->read, &overruled) == 0;
	p->colour = colour;
	if (p->read_ok && overruled) {
		p->colour = p->read.colour;
		crop = (enum gk_plate_colour)frame_colour(f, p->x, p->y, p->w, p->h);
		if (p->colour == GK_PLATE_COLOUR_UNKNOWN && gk_plate_check(
		    p->read.plate, crop, m->plate_flags, NULL, NULL) == 0)
			p->colour = crop;
	}
	p->double_row = double_row;
	return 0;
}

/* The box refiner (refine.h), refine_passes times; r moved onto the plate's edges. */
static void
refine(struct lpr *l, const struct frame *f, struct refine_box *r)
{
	float	 x, y, w, h;
	int	 pass;

	for (pass = 0; pass < l->m->refine_passes; pass++) {
		refine_region(r, &x, &y, &w, &h);
		frame_sample(f, x, y, w, h, 3, l->ref->w, l->ref->h, l->ref_in);
		if (refine_apply(r, network_predict(l->ref, l->ref_in)) == -1)
			break;
	}
}

/* A read below this whole-plate confidence is retried in the other layout. */
#define LPR_RETRY_CONF	0.5

/* Crops, reads and decodes one box into p (after refining it when there is a
 * refiner: the published box is the refined one). */
static void
read_plate(struct lpr *l, const struct frame *f, struct yolo_box *b,
    struct lpr_plate *p)
{
	const struct lpr_models	*m = l->m;
	const struct lpr_class	*c = &m->classes[b->cls];
	struct lpr_plate	 alt;
	struct refine_box	 box;
	enum gk_plate_colour	 colour;
	float			 x0, y0, x1, y1;

	memset(p, 0, sizeof(*p));
	box.x0 = b->x - b->w / 2;
	box.y0 = b->y - b->h / 2;
	box.x1 = b->x + b->w / 2;
	box.y1 = b->y + b->h / 2;
	if (l->ref != NULL) {
		refine(l, f, &box);
		b->x = (box.x0 + box.x1) / 2;
		b->y = (box.y0 + box.y1) / 2;
		b->w = box.x1 - box.x0;
		b->h = box.y1 - box.y0;
	}
	p->det_score = b->score;
	p->det_class = b->cls;
	p->double_row = c->double_row;
	/* The box as published: clamped to the frame. */
	p->x = clampi(b->x - b->w / 2, 0, f->w - 1);
	p->y = clampi(b->y - b->h / 2, 0, f->h - 1);
	p->w = clampi(b->x + b->w / 2, 0, f->w) - p->x;
	p->h = clampi(b->y + b->h / 2, 0, f->h) - p->y;
	colour = c->colour != GK_PLATE_COLOUR_UNKNOWN ? c->colour :
	    (enum gk_plate_colour)frame_colour(f, p->x, p->y, p->w, p->h);
	p->colour = colour;
	/* The reader's crop: widened as in training, clamped to the frame. */
	x0 = fmaxf(0, b->x - b->w / 2 - m->pad_x * b->w);
	x1 = fminf((float)f->w, b->x + b->w / 2 + m->pad_x * b->w);
	y0 = fmaxf(0, b->y - b->h / 2 - m->pad_y * b->h);
	y1 = fminf((float)f->h, b->y + b->h / 2 + m->pad_y * b->h);
	if (x1 - x0 < 1 || y1 - y0 < 1)
		return;
	if (read_layout(l, f, &box, colour, x0, y0, x1 - x0, y1 - y0,
	    c->double_row, p) != 0)
		return;
	/*
	 * The detector's layout is a guess too: a weak read is tried the other way
	 * round and the more confident read kept (one more reader pass, ~7 ms, only
	 * for weak reads).
	 */
	if (!p->read_ok || p->read.confidence < LPR_RETRY_CONF) {
		alt = *p;
		if (read_layout(l, f, &box, colour, x0, y0, x1 - x0,
		    y1 - y0, !c->double_row, &alt) == 0 && alt.read_ok &&
		    (!p->read_ok || alt.read.confidence > p->read.confidence))
			*p = alt;
	}
	if (p->read_ok && p->colour == GK_PLATE_COLOUR_UNKNOWN)
		p->colour = p->read.colour;	/* the layout told it (e.g. 8 chars) */
}

/* Clears r and decodes the JPEG into f; 0, or -1 with r->reason saying why. *t1 is
 * when decoding ended. */
static int
decode(struct lpr *l, const void *jpeg, size_t len, struct lpr_result *r,
    struct frame *f, double *t1)
{
	double	 t0;

	memset(r, 0, sizeof(*r));
	t0 = now_ms();
	r->reason = frame_decode(l->dec, jpeg, len, &l->m->limits, f, r->err,
	    sizeof(r->err));
	*t1 = now_ms();
	r->decode_ms = *t1 - t0;
	if (r->reason != FRAME_OK)
		return -1;
	r->w = f->w;
	r->h = f->h;
	return 0;
}

void
lpr_run(struct lpr *l, const void *jpeg, size_t len, struct lpr_result *r)
{
	struct yolo_box	 boxes[BOXES_MAX];
	struct frame	 f;
	double		 t1, t2;
	int		 i, n;

	if (decode(l, jpeg, len, r, &f, &t1) != 0)
		return;
	n = detect(l, &f, boxes);
	t2 = now_ms();
	r->detect_ms = t2 - t1;
	r->ndet = n;
	for (i = 0; i < n && r->nplates < l->m->max_plates; i++)
		if (boxes[i].w >= 1 && boxes[i].h >= 1)
			read_plate(l, &f, &boxes[i], &r->plates[r->nplates++]);
	r->read_ms = now_ms() - t2;
	frame_free(&f);
}

void
lpr_run_crop(struct lpr *l, const void *jpeg, size_t len, int cls,
    struct lpr_result *r)
{
	struct lpr_models	 m = *l->m;
	const struct lpr_models	*saved = l->m;
	struct yolo_box		 b;
	struct frame		 f;
	double			 t1;

	if (decode(l, jpeg, len, r, &f, &t1) != 0)
		return;
	b.x = (float)f.w / 2;
	b.y = (float)f.h / 2;
	b.w = (float)f.w;
	b.h = (float)f.h;
	b.score = 1;
	b.cls = cls >= 0 && cls < m.nclasses ? cls : 0;
	m.pad_x = m.pad_y = 0;	/* the crop is the box */
	m.refine_passes = 0;
	l->m = &m;
	read_plate(l, &f, &b, &r->plates[0]);
	l->m = saved;
	r->ndet = r->nplates = 1;
	r->read_ms = now_ms() - t1;
	frame_free(&f);
}
