/*
 * train_detector: trains (or, with -E, evaluates) the plate detector
 * (models/plate-detector.cfg) on lane views from gen_scenes.py (issue 5). Our own loop
 * over train_network(): darknet's "detector train" would do too, but it also resizes to
 * random squares and flips, and a shared loop keeps seeds, time box and checkpoint
 * choice the same as for the reader. Images are loaded with darknet's loader (320x192
 * already, no resize); truth rows are darknet's (x, y, w, h, class) per box.
 *
 * Evaluation decodes the two [yolo] layers directly, as docs/lpr-models.md tells the
 * daemon to: recall at IoU 0.5 (a ground-truth plate counts when some box with
 * objectness x class score >= 0.3 overlaps it), the share of those with the right
 * class, and false boxes per image (after a simple greedy NMS).
 *
 *	nice -n 19 tools/lpr/train_detector -c models/plate-detector.cfg \
 *	    -l build/lpr-data/det-train/list.txt -v build/lpr-data/det-heldout/list.txt \
 *	    -n 800 -t 40 -o models/plate-detector.weights
 *	tools/lpr/train_detector -E -c models/plate-detector.cfg -i models/plate-detector.weights \
 *	    -v build/lpr-data/det-heldout/list.txt
 */
#include <darknet.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXBOX	8

struct item {
	char	*path;
	int	 n;
	float	 b[MAXBOX][5];	/* cls, cx, cy, w, h */
};

static struct item *
load_list(const char *path, int *count)
{
	FILE		*f = fopen(path, "r");
	char		 line[4096];
	struct item	*v = NULL;
	int		 n = 0, cap = 0;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!*line)
			continue;
		if (n == cap && (v = realloc(v, sizeof(*v) * (cap = cap ? 2 * cap : 1024))) == NULL)
			exit(1);
		struct item *it = &v[n++];
		it->path = strdup(line);
		it->n = 0;
		char txt[4096];
		snprintf(txt, sizeof(txt), "%.*s.txt", (int)(strlen(line) - 4), line);
		FILE *t = fopen(txt, "r");
		if (t == NULL)
			continue;
		while (it->n < MAXBOX && fscanf(t, "%f %f %f %f %f", &it->b[it->n][0],
		    &it->b[it->n][1], &it->b[it->n][2], &it->b[it->n][3],
		    &it->b[it->n][4]) == 5)
			it->n++;
		fclose(t);
	}
	fclose(f);
	*count = n;
	return v;
}

static uint64_t rs = 88172645463325252ull;

static uint64_t
rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 2685821657736338717ull;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct det {
	float	x, y, w, h, score;
	int	cls;
};

static float
iou(float ax, float ay, float aw, float ah, float bx, float by, float bw, float bh)
{
	float l = fmaxf(ax - aw / 2, bx - bw / 2), r = fminf(ax + aw / 2, bx + bw / 2);
	float t = fmaxf(ay - ah / 2, by - bh / 2), b = fminf(ay + ah / 2, by + bh / 2);
	float in = (r > l && b > t) ? (r - l) * (b - t) : 0;
	return in / (aw * ah + bw * bh - in + 1e-9f);
}

/* The decoding docs/lpr-models.md prescribes, for image j of the batch. */
static int
decode(network *net, int j, float thresh, struct det *out, int max)
{
	int n = 0;

	for (int li = 0; li < net->n; li++) {
		layer *l = &net->layers[li];
		if (l->type != YOLO)
			continue;
		int wh = l->w * l->h, ne = 5 + l->classes;
		const float *o = l->output + (size_t)j * l->outputs;
		for (int a = 0; a < l->n; a++)
			for (int cell = 0; cell < wh; cell++) {
				float obj = o[(a * ne + 4) * wh + cell];
				if (obj < thresh)
					continue;
				int bc = 0;
				for (int c = 1; c < l->classes; c++)
					if (o[(a * ne + 5 + c) * wh + cell] >
					    o[(a * ne + 5 + bc) * wh + cell])
						bc = c;
				float sc = obj * o[(a * ne + 5 + bc) * wh + cell];
				if (sc < thresh || n == max)
					continue;
				int row = cell / l->w, col = cell % l->w, m = l->mask[a];
				out[n].x = (col + o[(a * ne + 0) * wh + cell]) / l->w;
				out[n].y = (row + o[(a * ne + 1) * wh + cell]) / l->h;
				out[n].w = expf(o[(a * ne + 2) * wh + cell]) * l->biases[2 * m] / net->w;
				out[n].h = expf(o[(a * ne + 3) * wh + cell]) * l->biases[2 * m + 1] / net->h;
				out[n].score = sc;
				out[n].cls = bc;
				n++;
			}
	}
	/* greedy NMS at IoU 0.45 across classes */
	for (int a = 0; a < n; a++)
		for (int b = 0; b < n; b++)
			if (a != b && out[a].score > 0 && out[b].score > 0 &&
			    out[b].score <= out[a].score &&
			    iou(out[a].x, out[a].y, out[a].w, out[a].h, out[b].x, out[b].y,
			    out[b].w, out[b].h) > 0.45f)
				out[b].score = 0;
	return n;
}

static double
evaluate(network *net, struct item *v, int n, int verbose)
{
	int bs = net->batch, insz = net->w * net->h * net->c;
	float *x = calloc((size_t)bs * insz, sizeof(float));
	long gt = 0, hit = 0, clsok = 0, fp = 0;
	double tnet = 0;

	for (int i = 0; i < n; i += bs) {
		int m = n - i < bs ? n - i : bs;
		for (int j = 0; j < m; j++) {
			image im = load_image_color(v[i + j].path, net->w, net->h);
			memcpy(x + (size_t)j * insz, im.data, sizeof(float) * insz);
			free_image(im);
		}
		double t0 = now();
		network_predict(net, x);
		tnet += now() - t0;
		for (int j = 0; j < m; j++) {
			struct det d[256];
			int nd = decode(net, j, 0.3f, d, 256);
			for (int k = 0; k < v[i + j].n; k++) {
				float *b = v[i + j].b[k];
				int found = 0, right = 0;
				gt++;
				for (int q = 0; q < nd; q++)
					if (d[q].score > 0 && iou(b[1], b[2], b[3], b[4], d[q].x,
					    d[q].y, d[q].w, d[q].h) >= 0.5f) {
						found = 1;
						right |= d[q].cls == (int)b[0];
					}
				hit += found;
				clsok += right;
			}
			for (int q = 0; q < nd; q++) {
				int matched = 0;
				for (int k = 0; k < v[i + j].n; k++) {
					float *b = v[i + j].b[k];
					matched |= iou(b[1], b[2], b[3], b[4], d[q].x, d[q].y,
					    d[q].w, d[q].h) >= 0.5f;
				}
				fp += d[q].score > 0 && !matched;
			}
		}
	}
	free(x);
	if (verbose)
		fprintf(stderr, "  eval %d images: recall@0.5 %.4f, class right %.4f of found, "
		    "false boxes/image %.3f, net %.1f ms/image (batch %d)\n", n,
		    gt ? (double)hit / gt : 0, hit ? (double)clsok / hit : 0,
		    n ? (double)fp / n : 0, 1e3 * tnet / (n ? n : 1), bs);
	return gt ? (double)hit / gt : 0;
}

int
main(int argc, char *argv[])
{
	const char	*cfg = NULL, *list = NULL, *vlist = NULL, *init = NULL, *out = NULL;
	int		 ch, iters = 800, every = 100, evalonly = 0, n = 0, nv = 0, it;
	double		 maxmin = 1e9, best = -1, t0;
	unsigned	 seed = 1;
	struct item	*v = NULL, *val = NULL;
	network		*net;
	data		 d;
	char		 lastpath[4096];

	while ((ch = getopt(argc, argv, "c:l:v:i:n:e:t:S:o:E")) != -1) {
		switch (ch) {
		case 'c': cfg = optarg; break;
		case 'l': list = optarg; break;
		case 'v': vlist = optarg; break;
		case 'i': init = optarg; break;
		case 'n': iters = atoi(optarg); break;
		case 'e': every = atoi(optarg); break;
		case 't': maxmin = atof(optarg); break;
		case 'S': seed = (unsigned)atoi(optarg); break;
		case 'o': out = optarg; break;
		case 'E': evalonly = 1; break;
		default:
			fprintf(stderr, "usage: train_detector -c cfg -l list [-v vallist] "
			    "[-i weights] [-n iters] [-t minutes] [-S seed] -o out | "
			    "-E -c cfg -i weights -v list\n");
			return 64;
		}
	}
	if (cfg == NULL || (!evalonly && (list == NULL || out == NULL)) ||
	    (evalonly && vlist == NULL))
		return 64;
	srand(seed);
	rs ^= (uint64_t)seed * 0x9E3779B97F4A7C15ull;
	net = load_network((char *)cfg, (char *)init, init != NULL && !evalonly);
	if (vlist)
		val = load_list(vlist, &nv);
	if (evalonly) {
		evaluate(net, val, nv, 1);
		return 0;
	}
	v = load_list(list, &n);
	fprintf(stderr, "train_detector: %d images, %d validation, batch %d\n", n, nv,
	    net->batch);
	d.shallow = 0;
	d.X = make_matrix(net->batch, net->w * net->h * net->c);
	d.y = make_matrix(net->batch, net->truths);
	snprintf(lastpath, sizeof(lastpath), "%s.last", out);
	t0 = now();
	for (it = 1; it <= iters; it++) {
		for (int i = 0; i < net->batch; i++) {
			struct item *p = &v[rnd() % n];
			image im = load_image_color(p->path, net->w, net->h);
			memcpy(d.X.vals[i], im.data, sizeof(float) * d.X.cols);
			free_image(im);
			memset(d.y.vals[i], 0, sizeof(float) * d.y.cols);
			for (int k = 0; k < p->n && (k + 1) * 5 <= d.y.cols; k++) {
				d.y.vals[i][k * 5 + 0] = p->b[k][1];
				d.y.vals[i][k * 5 + 1] = p->b[k][2];
				d.y.vals[i][k * 5 + 2] = p->b[k][3];
				d.y.vals[i][k * 5 + 3] = p->b[k][4];
				d.y.vals[i][k * 5 + 4] = p->b[k][0];
			}
		}
		float loss = train_network(net, d);
		double el = now() - t0;
		if (it % 10 == 0)
			fprintf(stderr, "it %d loss %.3f lr %g %.0f s (%.2f s/it)\n", it, loss,
			    get_current_rate(net), el, el / it);
		if (it % every == 0 || it == iters || el > maxmin * 60) {
			double r = val ? evaluate(net, val, nv, 1) : 0;
			net->train = 1;
			save_weights(net, lastpath);
			if (r > best) {
				best = r;
				save_weights(net, (char *)out);
				fprintf(stderr, "  saved %s (recall %.4f)\n", out, r);
			}
			if (el > maxmin * 60)
				break;
		}
	}
	fprintf(stderr, "train_detector: %d iterations in %.0f s, best recall %.4f\n",
	    it > iters ? iters : it, now() - t0, best);
	return 0;
}
