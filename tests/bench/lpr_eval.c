/*
 * lpr_eval: how well darknet-lpr reads a labelled set of frames, through the very
 * code the daemon runs (lpr.c: libjpeg-turbo decode, detector, reader, rule-
 * constrained decoding), one frame at a time on one core. It prints whole-plate
 * accuracy overall, per plate kind and per condition, character accuracy, detection
 * recall, how often a wrong plate would have been published, whether the colour of
 * the plate (half of the vehicle's key) came out right, and per-frame latency
 * (median and p99 of the whole and of each stage).
 *
 *	lpr_eval [-m models] [-K classes] [-x pad_x] [-y pad_y] [-V views] [-R passes]
 *	    [-P province_mix] [-G chars_mix] [-S chars_sure] [-O overrule]
 *	    [-T det_threshold] [-p province_prior]
 *	    [-n max] [-c min_conf] [-C] [-j out.json]
 *	    [-a min_accuracy] [-A min_legible_accuracy] [-r min_recall]
 *	    [-w max_wrong] [-v] INPUT
 *
 * INPUT is a folder with a labels.csv (tools/lpr/gen_frames.py writes one: file,
 * plate, kind, class, x, y, w, h, conditions, ..., legible; only file and plate
 * are required), a folder of photos named <anything>_<PLATE>.jpg, or a CSV file of
 * that form whose file names are relative to the CSV's folder. -C says the images
 * are plate crops, not frames: the detector is skipped and the whole image is read
 * (lpr_run_crop()), as the class its kind says (double-row for yellow2 and
 * trailer) or blue. -K gives
 * the detector's class list as darknet-lpr's detector.classes does ("crop" judges
 * a class's colour from the pixels), to compare the two ways of colouring a plate;
 * -x and -y the crop widening (darknet-lpr's reader.pad_x and reader.pad_y), -V the
 * reader's views, -R the box refiner's passes, -P the province reader's share and
 * -G the character reader's (reader.views, refiner.passes, province.mix,
 * chars.mix; -R 0, -P 0 and -G 0 run without those networks, for a models folder
 * that lacks them), -S chars.sure (above 1: every slot is read again), -O
 * read.colour_overrule (0: the detector's colour always constrains the read),
 * -T detector.threshold and -p province.prior (e.g. "沪:0.5,苏:0.15", to measure a
 * site's prior on its own labelled photos).
 *
 * A frame counts as read right when the daemon would have published its labelled
 * plate: a legal read at or above the publishing confidence (-c, the daemon's
 * read.min_confidence, 0.3); a frame where it would have published another plate
 * counts as wrong (at a gate, worse than no read). Where the labels say whether a
 * frame is inside the generator's reading envelope (legible: 1 or 0; a frame past
 * it cannot be read by anyone, see gen_frames.LEGIBLE), the figures are also given
 * for the legible frames and for those beyond; on the latter only the wrong plates
 * tell anything. -a, -A, -r and -w turn the figures into a check: the exit status
 * is 1 when whole-plate accuracy, accuracy on the legible frames or detection
 * recall is below -a, -A or -r, or the share of wrong frames above -w (the
 * accuracy regression test uses this). A sweep over publishing confidences shows
 * how many frames would put out the right plate and how many a wrong one at each,
 * for choosing read.min_confidence. Characters are compared position by position
 * on the read whose box overlaps the labelled box most (else the most confident).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lpr.h"
#include "pct.h"

#define MAXGROUPS	64
#define NAME_MAX_	48

struct item {
	char	 path[LPR_PATH_MAX];
	char	 plate[GK_PLATE_MAX];
	char	 kind[NAME_MAX_];
	char	 cond[160];
	int	 cls;			/* detector class, -1 unknown */
	int	 legible;		/* 1, 0 (beyond the envelope), -1 unknown */
	int	 has_box;
	float	 x, y, w, h;
};

struct group {
	char	 name[NAME_MAX_];
	int	 n, exact, chars_ok, chars, det_n, det_hit, wrong;
	int	 col_n, col_ok;		/* colour of the best box, where known */
};

/* Publishing confidences the sweep reports, for choosing read.min_confidence. */
static const double sweep[] = { 0.01, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9 };
#define NSWEEP	(int)(sizeof(sweep) / sizeof(sweep[0]))

struct tally {
	int		 sweep_right[NSWEEP], sweep_wrong[NSWEEP];
	struct group	 all;
	struct group	 env[2];	/* beyond the envelope, legible */
	struct group	 kinds[MAXGROUPS];
	int		 nkinds;
	struct group	 conds[MAXGROUPS];
	int		 nconds;
};

static int verbose;

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE		*fp;
	unsigned char	*buf;
	long		 n;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == -1 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) == -1 || (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)n, fp);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

/* UTF-8 characters of s into chars[] (each a NUL-terminated copy); returns count. */
static int
utf8_split(const char *s, char chars[][5], int max)
{
	int	 n = 0, k;

	while (*s != '\0' && n < max) {
		unsigned char c = (unsigned char)*s;

		k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 :
		    (c >> 3) == 30 ? 4 : 1;
		if ((int)strnlen(s, (size_t)k) < k)
			k = (int)strlen(s);
		memcpy(chars[n], s, (size_t)k);
		chars[n][k] = '\0';
		s += k;
		n++;
	}
	return n;
}

/* The detector class a generator kind stands for (docs/lpr-models.md). */
static int
kind_class(const char *kind)
{
	static const struct { const char *kind; int cls; } t[] = {
		{ "blue", 0 }, { "yellow", 1 }, { "coach", 1 }, { "yellow2", 2 },
		{ "trailer", 2 }, { "nev_small", 3 }, { "nev_large", 4 },
		{ "police", 5 }, { "hk", 6 }, { "embassy", 6 }, { "consulate", 6 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(kind, t[i].kind) == 0)
			return t[i].cls;
	return -1;
}

/* The plate colour a generator kind has, or UNKNOWN. */
static enum gk_plate_colour
kind_colour(const char *kind)
{
	static const struct { const char *kind; enum gk_plate_colour c; } t[] = {
		{ "blue", GK_PLATE_COLOUR_BLUE }, { "yellow", GK_PLATE_COLOUR_YELLOW },
		{ "coach", GK_PLATE_COLOUR_YELLOW }, { "yellow2", GK_PLATE_COLOUR_YELLOW },
		{ "trailer", GK_PLATE_COLOUR_YELLOW },
		{ "nev_small", GK_PLATE_COLOUR_GREEN },
		{ "nev_large", GK_PLATE_COLOUR_YELLOW_GREEN },
		{ "police", GK_PLATE_COLOUR_WHITE }, { "hk", GK_PLATE_COLOUR_BLACK },
		{ "embassy", GK_PLATE_COLOUR_BLACK },
		{ "consulate", GK_PLATE_COLOUR_BLACK },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(kind, t[i].kind) == 0)
			return t[i].c;
	return GK_PLATE_COLOUR_UNKNOWN;
}

static void
add_item(struct item **items, int *n, int *cap, const struct item *it)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		if ((*items = realloc(*items, sizeof(**items) * (size_t)*cap)) == NULL) {
			fprintf(stderr, "lpr_eval: out of memory\n");
			exit(2);
		}
	}
	(*items)[(*n)++] = *it;
}

/* Splits a CSV line in place (no quoting: plates, kinds and names have no commas);
 * the number of fields, or -1 when there are more than max. */
static int
fields(char *line, char **f, int max)
{
	int	 n = 0;
	char	*p = line;

	line[strcspn(line, "\r\n")] = '\0';
	for (;;) {
		if (n == max)
			return -1;
		f[n++] = p;
		if ((p = strchr(p, ',')) == NULL)
			break;
		*p++ = '\0';
	}
	return n;
}

/* Columns a labels file may have: gen_frames writes 17. */
#define CSV_FIELDS	64

static int
read_csv(const char *csv, const char *dir, struct item **items, int *n, int *cap)
{
	FILE		*fp;
	char		 line[4096], *f[CSV_FIELDS], *hdr[CSV_FIELDS], hbuf[4096];
	int		 nf, nh, i, lineno = 1, bad = 0;
	int		 cf = -1, cp = -1, ck = -1, cc = -1, cx = -1, cy = -1, cw = -1;
	int		 ch = -1, cond = -1, cl = -1;
	struct item	 it;

	if ((fp = fopen(csv, "r")) == NULL) {
		fprintf(stderr, "lpr_eval: %s: %s\n", csv, strerror(errno));
		return -1;
	}
	if (fgets(hbuf, sizeof(hbuf), fp) == NULL) {
		fprintf(stderr, "lpr_eval: %s: empty\n", csv);
		fclose(fp);
		return -1;
	}
	nh = fields(hbuf + (strncmp(hbuf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0), hdr,
	    CSV_FIELDS);
	if (nh < 0) {
		/* not read past: a column beyond would be silently lost */
		fprintf(stderr, "lpr_eval: %s:1: more than %d columns\n", csv,
		    CSV_FIELDS);
		fclose(fp);
		return -1;
	}
	for (i = 0; i < nh; i++) {
		if (strcmp(hdr[i], "file") == 0) cf = i;
		else if (strcmp(hdr[i], "plate") == 0) cp = i;
		else if (strcmp(hdr[i], "kind") == 0) ck = i;
		else if (strcmp(hdr[i], "class") == 0) cc = i;
		else if (strcmp(hdr[i], "x") == 0) cx = i;
		else if (strcmp(hdr[i], "y") == 0) cy = i;
		else if (strcmp(hdr[i], "w") == 0) cw = i;
		else if (strcmp(hdr[i], "h") == 0) ch = i;
		else if (strcmp(hdr[i], "conditions") == 0) cond = i;
		else if (strcmp(hdr[i], "legible") == 0) cl = i;
	}
	if (cf < 0 || cp < 0) {
		fprintf(stderr, "lpr_eval: %s:1: needs file and plate columns\n", csv);
		fclose(fp);
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		nf = fields(line, f, CSV_FIELDS);
		if (nf == 1 && f[0][0] == '\0')
			continue;
		if (nf < nh || f[cp][0] == '\0' ||
		    strlen(f[cp]) >= sizeof(it.plate)) {
			fprintf(stderr, "lpr_eval: %s:%d: skipped: %d fields, plate '%s'\n",
			    csv, lineno, nf, nf > cp ? f[cp] : "");
			bad++;
			continue;
		}
		memset(&it, 0, sizeof(it));
		if (lpr_path_join(it.path, sizeof(it.path), dir, f[cf]) == -1) {
			bad++;
			continue;
		}
		snprintf(it.plate, sizeof(it.plate), "%s", f[cp]);
		snprintf(it.kind, sizeof(it.kind), "%s", ck >= 0 ? f[ck] : "");
		snprintf(it.cond, sizeof(it.cond), "%s", cond >= 0 ? f[cond] : "");
		it.cls = cc >= 0 ? atoi(f[cc]) : kind_class(it.kind);
		it.legible = cl < 0 ? -1 : strcmp(f[cl], "1") == 0 ? 1 :
		    strcmp(f[cl], "0") == 0 ? 0 : -1;
		if (cx >= 0 && cy >= 0 && cw >= 0 && ch >= 0) {
			it.has_box = 1;
			it.x = strtof(f[cx], NULL);
			it.y = strtof(f[cy], NULL);
			it.w = strtof(f[cw], NULL);
			it.h = strtof(f[ch], NULL);
		}
		add_item(items, n, cap, &it);
	}
	fclose(fp);
	if (bad)
		fprintf(stderr, "lpr_eval: %s: %d rows skipped\n", csv, bad);
	return 0;
}

static int
by_path(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->path, ((const struct item *)b)->path);
}

/* A folder of <anything>_<PLATE>.jpg (or <PLATE>.jpg). */
static int
read_names(const char *dir, struct item **items, int *n, int *cap)
{
	DIR		*d;
	struct dirent	*e;
	struct item	 it;
	const char	*base, *dot;
	size_t		 len;
	int		 first = *n;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "lpr_eval: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if ((dot = strrchr(e->d_name, '.')) == NULL ||
		    (strcasecmp(dot, ".jpg") != 0 && strcasecmp(dot, ".jpeg") != 0))
			continue;
		base = strrchr(e->d_name, '_');
		base = base != NULL ? base + 1 : e->d_name;
		len = (size_t)(dot - base);
		memset(&it, 0, sizeof(it));
		if (len == 0 || len >= sizeof(it.plate) ||
		    lpr_path_join(it.path, sizeof(it.path), dir, e->d_name) == -1)
			continue;
		memcpy(it.plate, base, len);
		it.cls = -1;
		it.legible = -1;
		add_item(items, n, cap, &it);
	}
	closedir(d);
	qsort(*items + first, (size_t)(*n - first), sizeof(**items), by_path);
	return 0;
}

static struct group *
group(struct group *g, int *ng, const char *name)
{
	int	 i;

	for (i = 0; i < *ng; i++)
		if (strcmp(g[i].name, name) == 0)
			return &g[i];
	if (*ng == MAXGROUPS)
		return NULL;
	memset(&g[*ng], 0, sizeof(g[*ng]));
	snprintf(g[*ng].name, sizeof(g[*ng].name), "%s", name);
	return &g[(*ng)++];
}

static float
iou(const struct lpr_plate *p, const struct item *it)
{
	float	 x0 = fmaxf((float)p->x, it->x), y0 = fmaxf((float)p->y, it->y);
	float	 x1 = fminf((float)(p->x + p->w), it->x + it->w);
	float	 y1 = fminf((float)(p->y + p->h), it->y + it->h);
	float	 in = fmaxf(0, x1 - x0) * fmaxf(0, y1 - y0);
	float	 un = (float)p->w * (float)p->h + it->w * it->h - in;

	return un > 0 ? in / un : 0;
}

/* Adds one frame's outcome to g. */
static void
count(struct group *g, int exact, int wrong, int chars_ok, int chars, int has_box,
    int det_hit, int colour)
{
	if (g == NULL)
		return;
	g->col_n += colour >= 0;
	g->col_ok += colour == 1;
	g->n++;
	g->exact += exact;
	g->wrong += wrong;
	g->chars_ok += chars_ok;
	g->chars += chars;
	g->det_n += has_box;
	g->det_hit += has_box && det_hit;
}

static void
score(const struct item *it, const struct lpr_result *r, double min_conf,
    struct tally *t)
{
	char		 want[GK_PLATE_MAX][5], got[GK_PLATE_MAX][5];
	char		 cond[sizeof(it->cond)], *c, *save = NULL;
	const struct lpr_plate *best = NULL;
	float		 bi = -1, v;
	int		 i, k, nw, ng, exact = 0, wrong = 0, ok = 0, det_hit = 0;
	int		 right_at[NSWEEP] = { 0 }, wrong_at[NSWEEP] = { 0 }, colour;
	enum gk_plate_colour want_col;

	for (i = 0; i < r->nplates; i++) {
		for (k = 0; k < NSWEEP; k++)
			if (r->plates[i].read_ok &&
			    r->plates[i].read.confidence >= sweep[k]) {
				if (strcmp(r->plates[i].read.plate, it->plate) == 0)
					right_at[k] = 1;
				else
					wrong_at[k] = 1;
			}
	}
	for (k = 0; k < NSWEEP; k++) {
		t->sweep_right[k] += right_at[k];
		t->sweep_wrong[k] += wrong_at[k];
	}
	for (i = 0; i < r->nplates; i++) {
		const struct lpr_plate *p = &r->plates[i];
		int published = p->read_ok && p->read.confidence >= min_conf;

		if (published && strcmp(p->read.plate, it->plate) == 0)
			exact = 1;
		else if (published)
			wrong = 1;
		v = it->has_box ? iou(p, it) : p->read_ok ? 1 + p->read.confidence :
		    p->det_score;
		if (it->has_box && v >= 0.5f)
			det_hit = 1;
		if (v > bi) {
			bi = v;
			best = p;
		}
	}
	want_col = kind_colour(it->kind);
	colour = want_col == GK_PLATE_COLOUR_UNKNOWN || best == NULL ||
	    (it->has_box && !det_hit) ? -1 : best->colour == want_col;
	nw = utf8_split(it->plate, want, GK_PLATE_MAX);
	if (best != NULL && best->read_ok) {
		ng = utf8_split(best->read.plate, got, GK_PLATE_MAX);
		for (i = 0; i < nw && i < ng; i++)
			ok += strcmp(want[i], got[i]) == 0;
	}
	if (verbose && best != NULL && it->has_box)
		fprintf(stderr, "box %s: iou %.2f left %+.3f right %+.3f top %+.3f "
		    "bottom %+.3f (of the plate's w, h)\n", it->path, (double)iou(best, it),
		    ((double)best->x - it->x) / it->w,
		    ((double)(best->x + best->w) - (it->x + it->w)) / it->w,
		    ((double)best->y - it->y) / it->h,
		    ((double)(best->y + best->h) - (it->y + it->h)) / it->h);
	if (verbose && !exact)
		fprintf(stderr, "miss %s: want %s, read %s (%s) %s%s\n", it->path,
		    it->plate, best != NULL && best->read_ok ? best->read.plate : "-",
		    best != NULL ? best->argmax : "no box",
		    best != NULL ? gk_plate_colour_name(best->colour) : "-",
		    it->has_box && !det_hit ? " not detected" : "");
	count(&t->all, exact, wrong, ok, nw, it->has_box, det_hit, colour);
	if (it->legible >= 0)
		count(&t->env[it->legible], exact, wrong, ok, nw, it->has_box, det_hit,
		    colour);
	count(group(t->kinds, &t->nkinds, it->kind[0] ? it->kind : "-"), exact,
	    wrong, ok, nw, it->has_box, det_hit, colour);
	snprintf(cond, sizeof(cond), "%s", it->cond[0] ? it->cond : "-");
	for (c = strtok_r(cond, "+", &save); c != NULL; c = strtok_r(NULL, "+", &save))
		count(group(t->conds, &t->nconds, c), exact, wrong, ok, nw,
		    it->has_box, det_hit, colour);
}

static double
ratio(int a, int b)
{
	return b ? 100.0 * a / b : 0;
}

static void
print_group(FILE *fp, const char *label, const struct group *g)
{
	char	 rec[16], col[16];

	if (g->det_n)
		snprintf(rec, sizeof(rec), "%.2f %%", ratio(g->det_hit, g->det_n));
	else
		snprintf(rec, sizeof(rec), "-");
	if (g->col_n)
		snprintf(col, sizeof(col), "%.2f %%", ratio(g->col_ok, g->col_n));
	else
		snprintf(col, sizeof(col), "-");
	fprintf(fp, "%-24s %6d %8.2f %% %8.2f %% %9s %7.2f %% %9s\n", label, g->n,
	    ratio(g->exact, g->n), ratio(g->chars_ok, g->chars), rec,
	    ratio(g->wrong, g->n), col);
}

static void
json_group(FILE *fp, const struct group *g)
{
	fprintf(fp, "{\"n\":%d,\"exact\":%d,\"accuracy\":%.5f,\"chars\":%.5f,"
	    "\"wrong_published\":%d,\"detection_n\":%d,\"recall\":%.5f,"
	    "\"colour\":%.5f}", g->n,
	    g->exact, g->n ? (double)g->exact / g->n : 0,
	    g->chars ? (double)g->chars_ok / g->chars : 0, g->wrong, g->det_n,
	    g->det_n ? (double)g->det_hit / g->det_n : 0,
	    g->col_n ? (double)g->col_ok / g->col_n : 0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: lpr_eval [-m models] [-K classes] [-x pad_x] "
	    "[-y pad_y] [-V views] [-R passes] [-P mix] [-G mix] [-S sure] "
	    "[-p prior] [-O overrule] "
	    "[-T det_threshold] [-n max] "
	    "[-c min_conf] [-C] [-j out.json] [-a min_accuracy] "
	    "[-A min_legible_accuracy] [-r min_recall] "
	    "[-w max_wrong] [-v] INPUT\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static struct lpr_models m;
	static struct lpr_result r;
	static struct tally t;
	const char	*dir = "models", *json = NULL, *in, *classes = NULL;
	const char	*prior = NULL;
	struct lpr_files files = lpr_files_default;
	char		 err[256], labels[LPR_PATH_MAX], base[LPR_PATH_MAX], *slash;
	struct item	*items = NULL;
	struct lpr	*l;
	unsigned char	*buf;
	double		*tot, *dec, *det, *rd, min_conf = 0.3, min_acc = -1, min_rec = -1;
	double		 min_leg = -1;
	double		 max_wrong = -1, pad_x = -1, pad_y = -1, mix = -1;
	double		 gmix = -1, overrule = -1, det_thresh = -1, sure = -1;
	int		 views = 0, passes = -1;
	size_t		 len;
	int		 ch, i, n = 0, cap = 0, max = 0, crops = 0, unreadable = 0, rc = 0;
	FILE		*fp;

	while ((ch = getopt(argc, argv, "m:K:n:c:Cj:a:A:r:w:x:y:V:R:P:G:S:O:T:p:v")) != -1)
		switch (ch) {
		case 'm': dir = optarg; break;
		case 'K': classes = optarg; break;
		case 'x': pad_x = atof(optarg); break;
		case 'y': pad_y = atof(optarg); break;
		case 'V': views = atoi(optarg); break;
		case 'R': passes = atoi(optarg); break;
		case 'P': mix = atof(optarg); break;
		case 'G': gmix = atof(optarg); break;
		case 'S': sure = atof(optarg); break;
		case 'p': prior = optarg; break;
		case 'O': overrule = atof(optarg); break;
		case 'T': det_thresh = atof(optarg); break;
		case 'n': max = atoi(optarg); break;
		case 'c': min_conf = atof(optarg); break;
		case 'C': crops = 1; break;
		case 'j': json = optarg; break;
		case 'a': min_acc = atof(optarg); break;
		case 'A': min_leg = atof(optarg); break;
		case 'r': min_rec = atof(optarg); break;
		case 'w': max_wrong = atof(optarg); break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	if (argc - optind != 1)
		usage();
	in = argv[optind];
	len = strlen(in);
	if (len > 4 && strcasecmp(in + len - 4, ".csv") == 0) {
		snprintf(base, sizeof(base), "%s", in);
		if ((slash = strrchr(base, '/')) != NULL)
			*slash = '\0';
		else
			snprintf(base, sizeof(base), ".");
		if (read_csv(in, base, &items, &n, &cap) == -1)
			return 2;
	} else if (lpr_path_join(labels, sizeof(labels), in, "labels.csv") == 0 &&
	    access(labels, R_OK) == 0) {
		if (read_csv(labels, in, &items, &n, &cap) == -1)
			return 2;
	} else if (read_names(in, &items, &n, &cap) == -1)
		return 2;
	if (max > 0 && n > max)
		n = max;
	if (n == 0) {
		fprintf(stderr, "lpr_eval: %s: no labelled images\n", in);
		return 2;
	}
	if (classes != NULL)
		files.classes = classes;
	if (passes == 0)
		files.ref_cfg = NULL;
	if (mix == 0)
		files.prov_cfg = NULL;
	if (gmix == 0)
		files.chars_cfg = NULL;
	if (lpr_models_load(&m, dir, &files, err, sizeof(err)) == -1) {
		fprintf(stderr, "lpr_eval: %s\n", err);
		return 2;
	}
	m.limits.max_bytes = 16u << 20;
	m.limits.max_w = m.limits.max_h = 8192;
	m.limits.max_pixels = 40000000;
	if (pad_x >= 0)
		m.pad_x = (float)pad_x;
	if (pad_y >= 0)
		m.pad_y = (float)pad_y;
	if (views > 0)
		m.reader_views = views;
	if (passes > 0)
		m.refine_passes = passes;
	if (mix > 0)
		m.prov_mix = (float)mix;
	if (gmix > 0)
		m.chars_mix = (float)gmix;
	if (sure >= 0)
		m.chars_sure = (float)sure;
	if (overrule >= 0)
		m.colour_overrule = (float)overrule;
	if (det_thresh > 0)
		m.det_thresh = (float)det_thresh;
	if (pd_prior_parse(&m.alpha, prior, m.prov_prior, err, sizeof(err)) == -1) {
		fprintf(stderr, "lpr_eval: -p: %s\n", err);
		free(items);
		return 2;
	}
	m.prov_prior_on = prior != NULL && prior[0] != '\0';
	if (access(m.det_weights, R_OK) != 0 || access(m.rd_weights, R_OK) != 0)
		fprintf(stderr, "lpr_eval: warning: %s lacks weights: random networks\n",
		    dir);
	if ((l = lpr_new(&m, err, sizeof(err))) == NULL) {
		fprintf(stderr, "lpr_eval: %s\n", err);
		return 2;
	}
	tot = calloc((size_t)n, sizeof(double));
	dec = calloc((size_t)n, sizeof(double));
	det = calloc((size_t)n, sizeof(double));
	rd = calloc((size_t)n, sizeof(double));
	if (tot == NULL || dec == NULL || det == NULL || rd == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		if ((buf = slurp(items[i].path, &len)) == NULL) {
			fprintf(stderr, "lpr_eval: %s: %s\n", items[i].path,
			    strerror(errno));
			unreadable++;
			memset(&r, 0, sizeof(r));
		} else {
			if (crops)
				lpr_run_crop(l, buf, len, items[i].cls >= 0 ?
				    items[i].cls : 0, &r);
			else
				lpr_run(l, buf, len, &r);
			free(buf);
			if (r.reason != FRAME_OK) {
				fprintf(stderr, "lpr_eval: %s: %s %s\n", items[i].path,
				    frame_reason_name(r.reason), r.err);
				unreadable++;
			}
		}
		dec[i] = r.decode_ms;
		det[i] = r.detect_ms;
		rd[i] = r.read_ms;
		tot[i] = r.decode_ms + r.detect_ms + r.read_ms;
		score(&items[i], &r, min_conf, &t);
		if ((i + 1) % 500 == 0)
			fprintf(stderr, "lpr_eval: %d/%d frames, %.2f %% so far\n", i + 1,
			    n, ratio(t.all.exact, t.all.n));
	}

	printf("lpr_eval: %s, %d %s, models %s (detector %s, reader %s), "
	    "publishing confidence %.2f\n", in, n, crops ? "crops" : "frames", dir,
	    m.det_version, m.rd_version, min_conf);
	printf("%-24s %6s %10s %10s %9s %9s %9s\n", "", "frames", "plate", "chars",
	    "detected", "wrong", "colour");
	print_group(stdout, "all", &t.all);
	if (t.env[1].n)
		print_group(stdout, "legible", &t.env[1]);
	if (t.env[0].n)
		print_group(stdout, "beyond the envelope", &t.env[0]);
	for (i = 0; i < t.nkinds; i++) {
		snprintf(labels, sizeof(labels), "kind %s", t.kinds[i].name);
		print_group(stdout, labels, &t.kinds[i]);
	}
	for (i = 0; i < t.nconds; i++) {
		snprintf(labels, sizeof(labels), "condition %s", t.conds[i].name);
		print_group(stdout, labels, &t.conds[i]);
	}
	printf("publishing confidence:");
	for (i = 0; i < NSWEEP; i++)
		printf(" %6.2f", sweep[i]);
	printf("\n  right plate out   %%:");
	for (i = 0; i < NSWEEP; i++)
		printf(" %6.2f", ratio(t.sweep_right[i], t.all.n));
	printf("\n  wrong plate out   %%:");
	for (i = 0; i < NSWEEP; i++)
		printf(" %6.2f", ratio(t.sweep_wrong[i], t.all.n));
	printf("\n");
	if (unreadable)
		printf("unreadable images: %d (counted as misses)\n", unreadable);
	printf("per %s, 1 core: total median %.2f ms p99 %.2f ms (decode %.2f, "
	    "detector %.2f, refiner and reader %.2f median)\n", crops ? "crop" : "frame",
	    bench_pct(tot, n, .5), bench_pct(tot, n, .99), bench_pct(dec, n, .5), bench_pct(det, n, .5),
	    bench_pct(rd, n, .5));
	if (json != NULL) {
		if ((fp = fopen(json, "w")) == NULL) {
			fprintf(stderr, "lpr_eval: %s: %s\n", json, strerror(errno));
			return 2;
		}
		fprintf(fp, "{\"input\":\"%s\",\"frames\":%d,\"crops\":%s,"
		    "\"detector\":\"%s\",\"reader\":\"%s\",\"all\":", in, n,
		    crops ? "true" : "false", m.det_version, m.rd_version);
		json_group(fp, &t.all);
		fprintf(fp, ",\"legible\":");
		json_group(fp, &t.env[1]);
		fprintf(fp, ",\"beyond_envelope\":");
		json_group(fp, &t.env[0]);
		fprintf(fp, ",\"kinds\":{");
		for (i = 0; i < t.nkinds; i++) {
			fprintf(fp, "%s\"%s\":", i ? "," : "", t.kinds[i].name);
			json_group(fp, &t.kinds[i]);
		}
		fprintf(fp, "},\"conditions\":{");
		for (i = 0; i < t.nconds; i++) {
			fprintf(fp, "%s\"%s\":", i ? "," : "", t.conds[i].name);
			json_group(fp, &t.conds[i]);
		}
		fprintf(fp, "},\"latency_ms\":{\"median\":%.3f,\"p99\":%.3f}}\n",
		    bench_pct(tot, n, .5), bench_pct(tot, n, .99));
		fclose(fp);
	}
	if (min_acc >= 0 && (double)t.all.exact < min_acc * t.all.n) {
		printf("FAIL whole-plate accuracy %.2f %% is below %.2f %%\n",
		    ratio(t.all.exact, t.all.n), 100 * min_acc);
		rc = 1;
	}
	if (min_leg >= 0 && t.env[1].n == 0) {
		printf("FAIL -A: no frame is labelled legible\n");
		rc = 1;
	} else if (min_leg >= 0 && (double)t.env[1].exact < min_leg * t.env[1].n) {
		printf("FAIL whole-plate accuracy on legible frames %.2f %% is below "
		    "%.2f %%\n", ratio(t.env[1].exact, t.env[1].n), 100 * min_leg);
		rc = 1;
	}
	if (min_rec >= 0 && t.all.det_n > 0 &&
	    (double)t.all.det_hit < min_rec * t.all.det_n) {
		printf("FAIL detection recall %.2f %% is below %.2f %%\n",
		    ratio(t.all.det_hit, t.all.det_n), 100 * min_rec);
		rc = 1;
	}
	if (max_wrong >= 0 && (double)t.all.wrong > max_wrong * t.all.n) {
		printf("FAIL wrong plates published in %.2f %% of frames, above %.2f %%\n",
		    ratio(t.all.wrong, t.all.n), 100 * max_wrong);
		rc = 1;
	}
	lpr_free(l);
	free(items);
	free(tot);
	free(dec);
	free(det);
	free(rd);
	return rc;
}
