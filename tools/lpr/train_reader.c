/*
 * train_reader: trains the holistic plate reader (models/plate-reader.cfg) with
 * darknet's own train_network() but our own data loop (issue 5). darknet's stock
 * "classifier train" crops square patches and flips images, which destroys a 128x32
 * plate's reading order, so batches are built here from packed crops (tools/lpr/pack.py):
 * a fixed share of each batch comes from the real-crop pack (fine-tuning while the
 * synthetic data teaches every plate kind), the rest from the synthetic pack, with a
 * light brightness/contrast jitter on the fly. Every --eval-every iterations the
 * validation packs are read (exact plate and character accuracy) and the weights with
 * the best score are kept; the score is the mean of the validation packs' exact
 * accuracies, so neither synthetic nor real may be sacrificed for the other.
 *
 * With -k 1 it trains the province reader (models/plate-province.cfg) or the
 * character reader (models/plate-chars.cfg) on packs from
 * tools/lpr/frames_to_province.py (--chars): one slot, the record's first label.
 *
 * The same loop trains the box refiner (models/plate-refiner.cfg) from "LPRB" packs
 * (tools/lpr/frames_to_refine.py): the truth is the four edge offsets and the score
 * the share of samples whose four edges all land within REF_OK_X of the box's width
 * (left, right) and REF_OK_Y of its height (top, bottom).
 *
 * Tooling only, not part of the product build. Deterministic for a given --seed
 * (darknet's weight init and dropout draw from rand(), seeded here too).
 *
 *	nice -n 19 tools/lpr/train_reader -c models/plate-reader.cfg \
 *	    -s build/lpr-data/syn-train.pack -r build/lpr-data/real-train.pack -f 0.3 \
 *	    -v build/lpr-data/syn-val.pack -v build/lpr-data/real-val.pack \
 *	    -n 1300 -t 34 -o build/lpr-data/reader.weights
 *
 * -L RATE is for a second stage from -i weights: constant rate, no burn-in.
 */
#include <darknet.h>

#include <math.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOTS	8	/* labels per pack record */
#define MAXVAL	4
#define BOX_OUT		4	/* refiner: left, top, right, bottom */
#define REF_SCALE	5.0	/* frames_to_refine.py: offsets x 5 */
#define REF_OK_X	0.03
#define REF_OK_Y	0.06

struct pack {
	const char	*path;
	int		 box;		/* LPRB: refiner samples */
	uint32_t	 n, w, h, c;
	uint8_t		*rec;		/* n records of recsize() bytes */
};

/* Bytes before the pixels of a record: slot labels and kind, or four floats. */
static size_t
head(const struct pack *p)
{
	return p->box ? BOX_OUT * sizeof(float) : SLOTS + 1;
}

static size_t
recsize(const struct pack *p)
{
	return head(p) + (size_t)p->c * p->w * p->h;
}

static int
pack_load(struct pack *p, const char *path)
{
	FILE		*f;
	uint8_t		 hdr[20];

	p->path = path;
	if ((f = fopen(path, "rb")) == NULL || fread(hdr, 1, 16, f) != 16 ||
	    (memcmp(hdr, "LPRP", 4) != 0 && memcmp(hdr, "LPRB", 4) != 0)) {
		fprintf(stderr, "train_reader: %s: not a pack\n", path);
		return -1;
	}
	memcpy(&p->n, hdr + 4, 4);
	memcpy(&p->w, hdr + 8, 4);
	memcpy(&p->h, hdr + 12, 4);
	p->c = 1;
	if ((p->box = memcmp(hdr, "LPRB", 4) == 0) &&
	    (fread(hdr + 16, 1, 4, f) != 4 || (memcpy(&p->c, hdr + 16, 4), p->c) < 1)) {
		fprintf(stderr, "train_reader: %s: bad header\n", path);
		return -1;
	}
	if ((p->rec = malloc(recsize(p) * p->n)) == NULL ||
	    fread(p->rec, recsize(p), p->n, f) != p->n) {
		fprintf(stderr, "train_reader: %s: short\n", path);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Slots the network reads: 8 for the plate reader, 1 for the province reader (-k),
 * which learns the first label of each record. */
static int nslots = SLOTS;

/* xorshift64*: our own stream so the batch order does not depend on darknet's rand() */
static uint64_t rs = 88172645463325252ull;

static uint64_t
rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 2685821657736338717ull;
}

static float
rndf(void)
{
	return (rnd() >> 11) * (1.0 / 9007199254740992.0);
}

/* One crop into a darknet input row (and its truth when y is not NULL: one-hot
 * slots, or the refiner's four offsets). */
static void
put(const struct pack *p, uint32_t i, float *x, float *y, int nsym, int jit)
{
	const uint8_t	*r = p->rec + recsize(p) * i;
	size_t		 k, npix = (size_t)p->c * p->w * p->h;
	float		 c = 1, b = 0;

	if (jit) {
		c = 0.7f + 0.6f * rndf();
		b = -0.15f + 0.3f * rndf();
	}
	for (k = 0; k < npix; k++) {
		float v = (r[head(p) + k] / 255.f - 0.5f) * c + 0.5f + b;
		x[k] = v < 0 ? 0 : v > 1 ? 1 : v;
	}
	if (y != NULL && p->box)
		memcpy(y, r, BOX_OUT * sizeof(float));
	else if (y != NULL) {
		memset(y, 0, sizeof(float) * nslots * nsym);
		for (k = 0; k < (size_t)nslots; k++)
			y[k * nsym + r[k]] = 1;
	}
}

struct score {
	double	exact, chars;		/* refiner: within REF_OK, mean edge error */
	double	before;			/* refiner: mean edge error of the box as given */
};

/* The refiner on a whole pack: its edges against the truth, in box units. */
static struct score
evaluate_box(network *net, const struct pack *p)
{
	int		 bs = net->batch, insz = net->w * net->h * net->c;
	float		*x = calloc((size_t)bs * insz, sizeof(float)), t[BOX_OUT];
	uint32_t	 i, j, ok = 0;
	double		 err = 0, before = 0;
	struct score	 s;

	for (i = 0; i < p->n; i += bs) {
		uint32_t m = p->n - i < (uint32_t)bs ? p->n - i : (uint32_t)bs;
		for (j = 0; j < m; j++)
			put(p, i + j, x + (size_t)j * insz, NULL, 0, 0);
		float *out = network_predict(net, x);
		for (j = 0; j < m; j++) {
			int good = 1;
			memcpy(t, p->rec + recsize(p) * (i + j), sizeof(t));
			for (int k = 0; k < BOX_OUT; k++) {
				double e = fabs(out[(size_t)j * net->outputs + k] - t[k]) /
				    REF_SCALE;
				err += e;
				before += fabs(t[k]) / REF_SCALE;
				if (e > (k % 2 == 0 ? REF_OK_X : REF_OK_Y))
					good = 0;
			}
			ok += good;
		}
	}
	free(x);
	s.exact = p->n ? (double)ok / p->n : 0;
	s.chars = p->n ? err / (p->n * BOX_OUT) : 0;
	s.before = p->n ? before / (p->n * BOX_OUT) : 0;
	return s;
}

/* Exact plate and character accuracy of the network on a whole pack. */
static struct score
evaluate(network *net, const struct pack *p, int nsym)
{
	int		 bs = net->batch, insz = net->w * net->h * net->c;
	float		*x = calloc((size_t)bs * insz, sizeof(float));
	uint32_t	 i, j, ok = 0, chok = 0, chn = 0;
	struct score	 s;

	for (i = 0; i < p->n; i += bs) {
		uint32_t m = p->n - i < (uint32_t)bs ? p->n - i : (uint32_t)bs;
		for (j = 0; j < m; j++)
			put(p, i + j, x + (size_t)j * insz, NULL, nsym, 0);
		float *out = network_predict(net, x);
		for (j = 0; j < m; j++) {
			const uint8_t *lab = p->rec + recsize(p) * (i + j);
			int all = 1;
			for (int k = 0; k < nslots; k++) {
				const float *q = out + (size_t)j * net->outputs + k * nsym;
				int best = 0;
				for (int c = 1; c < nsym; c++)
					if (q[c] > q[best])
						best = c;
				if (best == lab[k])
					chok++;
				else
					all = 0;
				chn++;
			}
			ok += all;
		}
	}
	free(x);
	s.exact = p->n ? (double)ok / p->n : 0;
	s.chars = chn ? (double)chok / chn : 0;
	return s;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: train_reader -c cfg -s synpack [-r realpack -f share] "
	    "[-v valpack]... [-i initweights] [-n iters] [-e eval_every] [-t max_minutes] "
	    "[-S seed] [-L constant_rate] [-k slots] -o out.weights\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	const char	*cfg = NULL, *out = NULL, *init = NULL, *spath = NULL, *rpath = NULL;
	const char	*vpath[MAXVAL];
	struct pack	 syn, real, val[MAXVAL];
	int		 ch, nval = 0, iters = 1000, every = 100, nsym, i, it;
	double		 share = 0, maxmin = 1e9, t0, best = -1, lr = 0;
	unsigned	 seed = 1;
	char		 lastpath[4096];
	network		*net;
	data		 d;

	while ((ch = getopt(argc, argv, "c:s:r:f:v:i:n:e:t:S:o:L:k:")) != -1) {
		switch (ch) {
		case 'c': cfg = optarg; break;
		case 's': spath = optarg; break;
		case 'r': rpath = optarg; break;
		case 'f': share = atof(optarg); break;
		case 'v': if (nval < MAXVAL) vpath[nval++] = optarg; break;
		case 'i': init = optarg; break;
		case 'n': iters = atoi(optarg); break;
		case 'e': every = atoi(optarg); break;
		case 't': maxmin = atof(optarg); break;
		case 'S': seed = (unsigned)atoi(optarg); break;
		case 'o': out = optarg; break;
		case 'L': lr = atof(optarg); break;
		case 'k': nslots = atoi(optarg); break;
		default: usage();
		}
	}
	if (cfg == NULL || spath == NULL || out == NULL || nslots < 1 || nslots > SLOTS)
		usage();
	if (pack_load(&syn, spath) == -1 || (rpath && pack_load(&real, rpath) == -1))
		return 1;
	for (i = 0; i < nval; i++)
		if (pack_load(&val[i], vpath[i]) == -1)
			return 1;

	srand(seed);
	rs ^= (uint64_t)seed * 0x9E3779B97F4A7C15ull;
	net = load_network((char *)cfg, (char *)init, init != NULL);
	if (lr > 0) {
		/* a second stage from -i weights: a constant, lower rate, no burn-in */
		net->learning_rate = lr;
		net->policy = CONSTANT;
		net->burn_in = 0;
	}
	nsym = syn.box ? 0 : net->outputs / nslots;
	if (net->w * net->h != (int)(syn.w * syn.h) || net->c != (int)syn.c ||
	    (syn.box ? net->outputs != BOX_OUT : net->outputs != nslots * nsym)) {
		fprintf(stderr, "train_reader: pack %ux%u does not fit the network\n",
		    syn.w, syn.h);
		return 1;
	}
	if (syn.box)
		fprintf(stderr, "train_reader: %u refiner samples %ux%ux%u, batch %d, "
		    "lr %g, seed %u\n", syn.n, syn.w, syn.h, syn.c, net->batch,
		    net->learning_rate, seed);
	else
		fprintf(stderr, "train_reader: %u synthetic, %u real (share %.2f), %d "
		    "symbols, batch %d, lr %g, seed %u\n", syn.n, rpath ? real.n : 0,
		    share, nsym, net->batch, net->learning_rate, seed);

	d.shallow = 0;
	d.X = make_matrix(net->batch, net->w * net->h * net->c);
	d.y = make_matrix(net->batch, net->outputs);
	snprintf(lastpath, sizeof(lastpath), "%s.last", out);
	t0 = now();
	for (it = 1; it <= iters; it++) {
		for (i = 0; i < net->batch; i++) {
			int fromreal = rpath && rndf() < share;
			const struct pack *p = fromreal ? &real : &syn;
			put(p, (uint32_t)(rnd() % p->n), d.X.vals[i], d.y.vals[i], nsym, 1);
		}
		float loss = train_network(net, d);
		double el = now() - t0;
		if (it % 20 == 0)
			fprintf(stderr, "it %d loss %.3f lr %g %.1f s (%.2f s/it)\n", it,
			    loss, get_current_rate(net), el, el / it);
		if (it % every == 0 || it == iters || el > maxmin * 60) {
			double sum = 0;
			for (i = 0; i < nval; i++) {
				struct score s;
				if (val[i].box) {
					s = evaluate_box(net, &val[i]);
					fprintf(stderr, "  eval it %d %s: edges within "
					    "%.2f/%.2f %.4f, mean edge error %.4f (box "
					    "as given %.4f)\n", it, val[i].path, REF_OK_X,
					    REF_OK_Y, s.exact, s.chars, s.before);
				} else {
					s = evaluate(net, &val[i], nsym);
					fprintf(stderr, "  eval it %d %s: exact %.4f chars "
					    "%.4f\n", it, val[i].path, s.exact, s.chars);
				}
				sum += s.exact;
			}
			net->train = 1;
			save_weights(net, lastpath);
			if (nval == 0 || sum / nval > best) {
				best = nval ? sum / nval : 0;
				save_weights(net, (char *)out);
				fprintf(stderr, "  saved %s (score %.4f)\n", out, best);
			}
			if (el > maxmin * 60) {
				fprintf(stderr, "train_reader: time box reached\n");
				break;
			}
		}
	}
	fprintf(stderr, "train_reader: %d iterations in %.0f s, best score %.4f\n",
	    it > iters ? iters : it, now() - t0, best);
	free_data(d);
	free_network(net);
	return 0;
}
