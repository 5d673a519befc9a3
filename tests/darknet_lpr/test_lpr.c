/*
 * Unit tests of darknet-lpr's pure parts (services/darknet-lpr/lpr_core): the
 * constrained decoding of the reader's softmax under gatekit's plate rules and its
 * confidences, the per-lane queue's drop-oldest and round-robin fairness, the worker
 * pool's hand-off, YOLO box decoding and NMS, the box refiner's region and its
 * sanity rules, and JPEG decoding with its limits and
 * refusals. The reader's symbols are models/symbols.txt, the contract's own list.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "t.h"

#include "frame.h"
#include "lane_queue.h"
#include "plate_decode.h"
#include "pool.h"
#include "refine.h"
#include "yolo.h"

#define SLOTS	8

static struct pd_alphabet A;

static int
sym(const char *u8)
{
	struct pd_alphabet one;
	char err[64], two[16];
	int k;

	if (strcmp(u8, "_") == 0)
		return A.blank;
	snprintf(two, sizeof(two), "%s\nX\n", u8);	/* an alphabet has 2 or more */
	if (pd_alphabet_parse(&one, two, strlen(two), NULL, err, sizeof(err)) == -1)
		return -1;
	for (k = 0; k < A.nsym; k++)
		if (A.cp[k] == one.cp[0])
			return k;
	return -1;
}

/*
 * Fills probs so that slot s puts p on the symbols of want[s] (UTF-8 strings, "_"
 * blank) and spreads the rest evenly; second (when not NULL) gets q in each slot.
 */
static void
make_probs(float *probs, const char *const *want, const float *p,
    const char *const *second, const float *q)
{
	int s, k, a, b;
	float rest;

	for (s = 0; s < SLOTS; s++) {
		T_REQUIRE((a = sym(want[s])) >= 0);
		b = second != NULL && second[s] != NULL ? sym(second[s]) : -1;
		rest = 1 - p[s] - (b >= 0 ? q[s] : 0);
		for (k = 0; k < A.nsym; k++)
			probs[s * A.nsym + k] = rest / (float)(A.nsym - 1 - (b >= 0));
		probs[s * A.nsym + a] = p[s];
		if (b >= 0)
			probs[s * A.nsym + b] = q[s];
	}
}

static void
load_symbols(void)
{
	char path[1024], err[128], *buf;
	const char *src = getenv("ECOGATE_SOURCE_DIR");
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/models/symbols.txt", src != NULL ? src : ".");
	T_REQUIRE((fp = fopen(path, "rb")) != NULL);
	buf = malloc(8192);
	n = fread(buf, 1, 8192, fp);
	fclose(fp);
	T_REQUIRE(pd_alphabet_parse(&A, buf, n, "_", err, sizeof(err)) == 0);
	free(buf);
	T_CHECK(A.nsym == 74);
	T_CHECK(A.blank == 73);
}

static void
test_alphabet(void)
{
	struct pd_alphabet a;
	char err[128];

	T_CHECK(pd_alphabet_parse(&a, "沪\nA\n_\n", strlen("沪\nA\n_\n"), "_", err, sizeof(err)) == 0);
	T_CHECK(a.nsym == 3 && a.blank == 2 && a.cp[0] == 0x6caa);
	T_CHECK(pd_alphabet_parse(&a, "沪\r\nAB\n", 8, "_", err, sizeof(err)) == -1);
	T_CHECK(strstr(err, "line 2") != NULL);
	T_CHECK(pd_alphabet_parse(&a, "A\n\nB\n", 5, "_", err, sizeof(err)) == -1);
	T_CHECK(pd_alphabet_parse(&a, "_\nA\n_\n", 6, "_", err, sizeof(err)) == -1);
	T_CHECK(pd_alphabet_parse(&a, "\xe6\xb2\n", 3, "_", err, sizeof(err)) == -1);
}

static void
test_decode(void)
{
	float probs[SLOTS * 128];
	struct pd_read r;
	char am[64];
	static const float hi[SLOTS] = { .9f, .9f, .9f, .9f, .9f, .9f, .9f, .9f };

	/* A clean blue plate: the argmax is legal and wins. */
	{
		const char *w[] = { "沪", "A", "1", "2", "3", "4", "5", "_" };

		make_probs(probs, w, hi, NULL, NULL);
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_BLUE, 0, &r) == 0);
		T_STREQ(r.plate, "沪A12345");
		T_CHECK(r.nchars == 7);
		T_CHECK(r.kind == GK_PLATE_KIND_SMALL);
		T_CHECK(fabs(r.confidence - pow(0.9, 8)) < 1e-4);
		T_CHECK(fabs(r.char_conf[0] - 0.9) < 1e-6 && r.char_conf[7] == 0);
	}
	/* An O in the serial is argmax but illegal: the best legal symbol there is 0. */
	{
		const char *w[] = { "沪", "A", "O", "2", "3", "4", "5", "_" };
		const char *s2[] = { NULL, NULL, "0", NULL, NULL, NULL, NULL, NULL };
		static const float q[SLOTS] = { 0, 0, .08f, 0, 0, 0, 0, 0 };

		make_probs(probs, w, hi, s2, q);
		pd_argmax(&A, probs, SLOTS, am, sizeof(am));
		T_STREQ(am, "沪AO2345");
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_UNKNOWN, 0,
		    &r) == 0);
		T_STREQ(r.plate, "沪A02345");
		T_CHECK(fabs(r.char_conf[2] - 0.08) < 1e-6);
		T_CHECK(r.colour == GK_PLATE_COLOUR_UNKNOWN);	/* blue or yellow */
	}
	/* The issuing letter may be O: kept. */
	{
		const char *w[] = { "沪", "O", "1", "2", "3", "4", "5", "_" };

		make_probs(probs, w, hi, NULL, NULL);
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_UNKNOWN, 0,
		    &r) == 0);
		T_STREQ(r.plate, "沪O12345");
	}
	/* A trailer plate, double-row yellow: 挂 last, blank in slot 8. */
	{
		const char *w[] = { "鲁", "B", "1", "2", "3", "4", "挂", "_" };

		make_probs(probs, w, hi, NULL, NULL);
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_YELLOW, 0,
		    &r) == 0);
		T_STREQ(r.plate, "鲁B1234挂");
		T_CHECK(r.kind == GK_PLATE_KIND_TRAILER);
	}
	/* 挂 read on a plate the detector says is blue: no blue layout ends in 挂,
	 * so the best blue read takes the next symbol. */
	{
		const char *w[] = { "鲁", "B", "1", "2", "3", "4", "挂", "_" };
		const char *s2[] = { NULL, NULL, NULL, NULL, NULL, NULL, "7", NULL };
		static const float q[SLOTS] = { 0, 0, 0, 0, 0, 0, .05f, 0 };

		make_probs(probs, w, hi, s2, q);
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_BLUE, 0, &r) == 0);
		T_STREQ(r.plate, "鲁B12347");
	}
	/* Small new-energy: 8 characters, D third, green from the layout. */
	{
		const char *w[] = { "粤", "B", "D", "1", "2", "3", "4", "5" };

		make_probs(probs, w, hi, NULL, NULL);
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_UNKNOWN, 0,
		    &r) == 0);
		T_STREQ(r.plate, "粤BD12345");
		T_CHECK(r.nchars == 8 && r.colour == GK_PLATE_COLOUR_GREEN);
		T_CHECK(r.kind == GK_PLATE_KIND_NEV_SMALL);
	}
	/* Large new-energy, yellow-green: 5 digits then D or F. An 'A' there is
	 * legal only with the extension flag. */
	{
		const char *w[] = { "苏", "E", "1", "2", "3", "4", "5", "A" };
		const char *s2[] = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, "F" };
		static const float q[SLOTS] = { 0, 0, 0, 0, 0, 0, 0, .06f };

		make_probs(probs, w, hi, s2, q);
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_YELLOW_GREEN, 0,
		    &r) == 0);
		T_STREQ(r.plate, "苏E12345F");
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_YELLOW_GREEN,
		    GK_PLATE_NEV_EXT, &r) == 0);
		T_STREQ(r.plate, "苏E12345A");
	}
	/* Embassy: 使 in slot 1, six digits. */
	{
		const char *w[] = { "使", "1", "2", "3", "4", "5", "6", "_" };

		make_probs(probs, w, hi, NULL, NULL);
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_BLACK, 0, &r) == 0);
		T_STREQ(r.plate, "使123456");
		T_CHECK(r.kind == GK_PLATE_KIND_EMBASSY);
	}
	/* 港 needs 粤Z: a 港 read under 沪A becomes the best legal alternative. */
	{
		const char *w[] = { "沪", "A", "1", "2", "3", "4", "港", "_" };

		make_probs(probs, w, hi, NULL, NULL);
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_UNKNOWN, 0,
		    &r) == 0);
		T_CHECK(gk_plate_check(r.plate, GK_PLATE_COLOUR_UNKNOWN, 0, NULL,
		    NULL) == 0);
		T_CHECK(strncmp(r.plate, "沪A1234", strlen("沪A1234")) == 0 ||
		    strncmp(r.plate, "粤Z1234港", strlen("粤Z1234港")) == 0);
	}
	/* Whatever the softmax, the result is a legal plate: random probabilities. */
	{
		unsigned seed = 5;
		int i, k, s, bad = 0;
		float sum;

		for (i = 0; i < 200; i++) {
			for (s = 0; s < SLOTS; s++) {
				sum = 0;
				for (k = 0; k < A.nsym; k++)
					sum += probs[s * A.nsym + k] =
					    (float)rand_r(&seed) / (float)RAND_MAX;
				for (k = 0; k < A.nsym; k++)
					probs[s * A.nsym + k] /= sum;
			}
			if (pd_decode(&A, probs, SLOTS, (enum gk_plate_colour)(i % 7),
			    0, &r) == -1 || gk_plate_check(r.plate,
			    GK_PLATE_COLOUR_UNKNOWN, 0, NULL, NULL) == -1 ||
			    !(r.confidence >= 0 && r.confidence <= 1))
				bad++;
		}
		T_CHECKF(bad == 0, "%d random softmaxes gave no legal plate", bad);
	}
	/* A reader with 7 slots cannot read 8-character plates; 6 slots nothing. */
	{
		const char *w[] = { "沪", "A", "1", "2", "3", "4", "5", "_" };

		make_probs(probs, w, hi, NULL, NULL);
		T_CHECK(pd_decode(&A, probs, 6, GK_PLATE_COLOUR_UNKNOWN, 0, &r) == -1);
	}
	/*
	 * The detector's colour overruled: a police plate (警, white) the detector
	 * calls green. Under green only an 8-character new-energy read is legal, at
	 * far lower probability (the blank of slot 8 must become a character), so
	 * the 警 read wins, white; with factor 0, or a factor above the ratio, the
	 * colour holds. A read the colour allows is never overruled.
	 */
	{
		const char *w[] = { "赣", "Z", "1", "1", "8", "U", "警", "_" };
		int over;

		make_probs(probs, w, hi, NULL, NULL);
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_GREEN, 0, &r) == 0);
		T_CHECK(r.nchars == 8);
		T_REQUIRE(pd_decode_guess(&A, probs, SLOTS, GK_PLATE_COLOUR_GREEN, 0, 10,
		    &r, &over) == 0);
		T_STREQ(r.plate, "赣Z118U警");
		T_CHECK(over == 1 && r.colour == GK_PLATE_COLOUR_WHITE);
		T_REQUIRE(pd_decode_guess(&A, probs, SLOTS, GK_PLATE_COLOUR_GREEN, 0, 0,
		    &r, &over) == 0);
		T_CHECK(over == 0 && r.nchars == 8 && r.colour == GK_PLATE_COLOUR_GREEN);
		T_REQUIRE(pd_decode_guess(&A, probs, SLOTS, GK_PLATE_COLOUR_GREEN, 0, 1e12,
		    &r, &over) == 0);
		T_CHECK(over == 0 && r.nchars == 8);
		T_REQUIRE(pd_decode_guess(&A, probs, SLOTS, GK_PLATE_COLOUR_WHITE, 0, 10,
		    &r, &over) == 0);
		T_CHECK(over == 0 && r.colour == GK_PLATE_COLOUR_WHITE);
		T_STREQ(r.plate, "赣Z118U警");
	}
	/* Overruled to an ordinary plate, which is blue or yellow: colour unknown. */
	{
		const char *w[] = { "沪", "A", "1", "2", "3", "4", "5", "_" };
		int over;

		make_probs(probs, w, hi, NULL, NULL);
		T_REQUIRE(pd_decode_guess(&A, probs, SLOTS, GK_PLATE_COLOUR_GREEN, 0, 10,
		    &r, &over) == 0);
		T_STREQ(r.plate, "沪A12345");
		T_CHECK(over == 1 && r.colour == GK_PLATE_COLOUR_UNKNOWN);
	}
}

/*
 * The site's province prior: shares turned into Bayes weights against the readers'
 * even prior, a close first character tipped by them and a clear one not, and a
 * prior that would shut out the other provinces refused.
 */
static void
test_prior(void)
{
	float probs[SLOTS * 128], w[128];
	struct pd_read r;
	char err[160];
	double before, after;
	int k, hu = sym("沪"), su = sym("苏"), a = sym("A");
	const char *w1[] = { "苏", "A", "1", "2", "3", "4", "5", "_" };
	const char *s1[] = { "沪", NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	static const float hi[SLOTS] = { .45f, .9f, .9f, .9f, .9f, .9f, .9f, .9f };
	static const float q[SLOTS] = { .40f, 0, 0, 0, 0, 0, 0, 0 };

	/* 31 provinces and 使 open a plate: each has 1/32 of an even prior. */
	T_REQUIRE(pd_prior_parse(&A, "沪:0.5, 苏:0.15, ", w, err, sizeof(err)) == 0);
	T_CHECKF(fabsf(w[hu] - 16) < 1e-4 && fabsf(w[su] - 4.8f) < 1e-4,
	    "w 沪 %g 苏 %g", (double)w[hu], (double)w[su]);
	T_CHECKF(fabsf(w[sym("浙")] - 0.35f / 30 * 32) < 1e-4 &&
	    fabsf(w[sym("使")] - 0.35f / 30 * 32) < 1e-4, "w 浙 %g", (double)w[sym("浙")]);
	T_CHECK(w[a] == 1 && w[sym("5")] == 1 && w[A.blank] == 1);

	/* 苏 0.45 against 沪 0.40: read 苏 alike, 沪 at a site that sees mostly 沪. */
	make_probs(probs, w1, hi, s1, q);
	T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_BLUE, 0, &r) == 0);
	T_STREQ(r.plate, "苏A12345");
	for (before = 0, k = 0; k < A.nsym; k++)
		before += probs[k];
	pd_prior_apply(&A, probs, w);
	for (after = 0, k = 0; k < A.nsym; k++)
		after += probs[k];
	T_CHECKF(fabs(before - after) < 1e-5, "slot 0 sums %g, then %g", before, after);
	T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_BLUE, 0, &r) == 0);
	T_STREQ(r.plate, "沪A12345");
	/* only the first character moves */
	T_CHECK(fabsf(probs[A.nsym + a] - .9f) < 1e-6);

	/* A clear 苏 stays 苏 under the same prior. */
	{
		static const float sure[SLOTS] = { .95f, .9f, .9f, .9f, .9f, .9f, .9f,
		    .9f };

		make_probs(probs, w1, sure, NULL, NULL);
		pd_prior_apply(&A, probs, w);
		T_REQUIRE(pd_decode(&A, probs, SLOTS, GK_PLATE_COLOUR_BLUE, 0, &r) == 0);
		T_STREQ(r.plate, "苏A12345");
	}

	/* Empty: every weight 1. */
	T_REQUIRE(pd_prior_parse(&A, "", w, err, sizeof(err)) == 0);
	for (k = 0; k < A.nsym; k++)
		T_CHECK(w[k] == 1);
	T_REQUIRE(pd_prior_parse(&A, NULL, w, err, sizeof(err)) == 0);
	T_CHECK(w[hu] == 1);

	/* Refused, with what and where. */
	T_CHECK(pd_prior_parse(&A, "沪:0.6,苏:0.4", w, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "add up to 1.000") != NULL, "%s", err);
	T_CHECK(pd_prior_parse(&A, "沪:0.5,A:0.1", w, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "item 2: 'A' is not a province") != NULL, "%s", err);
	T_CHECK(pd_prior_parse(&A, "沪0.5", w, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "not PROVINCE:SHARE") != NULL, "%s", err);
	T_CHECK(pd_prior_parse(&A, "沪:0", w, err, sizeof(err)) == -1);
	T_CHECK(pd_prior_parse(&A, "沪:half", w, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "share 'half'") != NULL, "%s", err);
	T_CHECK(pd_prior_parse(&A, "沪:0.2,沪:0.1", w, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "named twice") != NULL, "%s", err);
	T_CHECK(pd_prior_parse(&A, "沪:nan", w, err, sizeof(err)) == -1);
}

static void
test_queue(void)
{
	struct lane_queue *q = lq_new(2, 3);
	struct lq_lane_stats st;
	void *drop;
	char lane[LQ_LANE_MAX];
	intptr_t i, got;
	int a = 0, b = 0;

	T_REQUIRE(q != NULL);
	/* Lane in-1 floods with 1..10: only its 3 newest stay, 7 dropped oldest first. */
	for (i = 1; i <= 10; i++) {
		T_CHECK(lq_push(q, "in-1", (void *)i, &drop) == 0);
		T_CHECK(drop == (i > 3 ? (void *)(i - 3) : NULL));
	}
	T_CHECK(lq_push(q, "in-2", (void *)100, &drop) == 0 && drop == NULL);
	T_CHECK(lq_push(q, "in-2", (void *)101, &drop) == 0);
	/* A third lane does not fit. */
	errno = 0;
	T_CHECK(lq_push(q, "out-1", (void *)7, &drop) == -1 && errno == ENOSPC);
	T_CHECK(lq_push(q, "", (void *)7, &drop) == -1 && errno == EINVAL);
	T_CHECK(lq_len(q) == 5);
	/* Round robin: in-2 is served between in-1's frames despite the flood. */
	got = (intptr_t)lq_pop(q, lane);
	T_CHECK(got == 8 && strcmp(lane, "in-1") == 0);
	got = (intptr_t)lq_pop(q, lane);
	T_CHECK(got == 100 && strcmp(lane, "in-2") == 0);
	got = (intptr_t)lq_pop(q, lane);
	T_CHECK(got == 9);
	got = (intptr_t)lq_pop(q, lane);
	T_CHECK(got == 101);
	got = (intptr_t)lq_pop(q, lane);
	T_CHECK(got == 10);
	T_CHECK(lq_pop(q, lane) == NULL && lq_len(q) == 0);
	T_CHECK(lq_stats(q, 0, &st) == 0 && st.dropped == 7 && st.pushed == 10 &&
	    st.taken == 3);
	T_CHECK(lq_stats(q, 1, &st) == 0 && st.dropped == 0 && st.taken == 2);
	/* Under a steady flood on in-1, in-2 still gets every other turn. */
	for (i = 0; i < 100; i++) {
		lq_push(q, "in-1", (void *)1, &drop);
		lq_push(q, "in-1", (void *)1, &drop);
		if (i % 2 == 0)
			lq_push(q, "in-2", (void *)2, &drop);
		got = (intptr_t)lq_pop(q, NULL);
		a += got == 1;
		b += got == 2;
	}
	T_CHECKF(b >= 45, "in-2 served %d of 100 turns", b);
	lq_free(q);
}

/* ------------------------------------------------------------ pool */

struct pool_arg {
	pthread_mutex_t	mu;
	int		done;
	int		sum;
};

static void
pool_work(void *worker, void *item, void *arg)
{
	struct pool_arg *pa = arg;

	(void)worker;
	usleep(2000);
	pthread_mutex_lock(&pa->mu);
	pa->done++;
	pa->sum += (int)(intptr_t)item;
	pthread_mutex_unlock(&pa->mu);
}

static void
test_pool(void)
{
	struct pool_arg pa = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	void *workers[2] = { NULL, NULL }, *drop, *it;
	struct pool *p = pool_new(2, workers, 4, 2, pool_work, &pa);
	long long t0;
	int i, dropped = 0, left = 0, done;

	T_REQUIRE(p != NULL);
	/* 50 pushes as fast as possible: never blocks, the excess is dropped. */
	t0 = t_now_ms();
	for (i = 0; i < 50; i++) {
		T_CHECK(pool_push(p, i % 2 ? "in-1" : "in-2", (void *)1, &drop) == 0);
		dropped += drop != NULL;
	}
	T_CHECKF(t_now_ms() - t0 < 50, "pushing took %lld ms", t_now_ms() - t0);
	T_CHECK(dropped > 0);
	for (i = 0; i < 200; i++) {
		pthread_mutex_lock(&pa.mu);
		done = pa.done;
		pthread_mutex_unlock(&pa.mu);
		if (done + dropped == 50)
			break;
		usleep(5000);
	}
	pool_stop(p);
	while ((it = pool_drain(p)) != NULL)
		left++;
	T_CHECKF(pa.done + dropped + left == 50, "done %d dropped %d left %d",
	    pa.done, dropped, left);
	errno = 0;
	T_CHECK(pool_push(p, "in-1", (void *)1, &drop) == -1 && errno == ESHUTDOWN);
	pool_free(p);
}

/* ------------------------------------------------------------ yolo */

static void
test_yolo(void)
{
	/* One 2x2 grid, 2 anchors, 2 classes: (5 + 2) * 2 planes of 4 cells. */
	float out[2 * 7 * 4];
	const int mask[2] = { 0, 1 };
	const float biases[4] = { 40, 10, 80, 20 };
	struct yolo_layer l = { out, 2, 2, 2, 2, mask, biases, 320, 192 };
	struct yolo_box b[8];
	int n;

	memset(out, 0, sizeof(out));
	/* Anchor 1, cell row 1 col 0: a confident class-1 box. */
#define E(a, e, cell)	out[((a) * 7 + (e)) * 4 + (cell)]
	E(1, 0, 2) = 0.5f;
	E(1, 1, 2) = 0.25f;
	E(1, 2, 2) = logf(2);
	E(1, 3, 2) = 0;
	E(1, 4, 2) = 0.9f;
	E(1, 5, 2) = 0.1f;
	E(1, 6, 2) = 0.8f;
	/* Anchor 0, same cell, overlapping and weaker: NMS removes it. */
	E(0, 0, 2) = 0.5f;
	E(0, 1, 2) = 0.25f;
	E(0, 2, 2) = logf(4);
	E(0, 3, 2) = logf(2);
	E(0, 4, 2) = 0.6f;
	E(0, 5, 2) = 0.7f;
	/* Below the threshold. */
	E(0, 4, 1) = 0.2f;
	E(0, 5, 1) = 1;
	n = yolo_boxes(&l, 0.3f, b, 0, 8);
	T_CHECK(n == 2);
	n = yolo_nms(b, n, 0.45f);
	T_REQUIRE(n == 1);
	T_CHECK(b[0].cls == 1);
	T_CHECK(fabsf(b[0].score - 0.72f) < 1e-5f);
	T_CHECK(fabsf(b[0].x - 80) < 1e-3f);	/* (0 + 0.5) / 2 * 320 */
	T_CHECK(fabsf(b[0].y - 120) < 1e-3f);	/* (1 + 0.25) / 2 * 192 */
	T_CHECK(fabsf(b[0].w - 160) < 1e-3f && fabsf(b[0].h - 20) < 1e-3f);
	/* Room for one only: the best is kept. */
	n = yolo_boxes(&l, 0.3f, b, 0, 1);
	T_CHECK(n == 1 && b[0].cls == 1);
	/* NaN objectness is never a box. */
	E(1, 4, 3) = NAN;
	T_CHECK(yolo_boxes(&l, 0.3f, b, 0, 8) == 2);
#undef E
}

/* ------------------------------------------------------------ frames */

static unsigned char *
make_jpeg(int w, int h, unsigned long *len)
{
	tjhandle tj = tjInitCompress();
	unsigned char *rgb = malloc((size_t)w * h * 3), *jpg = NULL;
	int i;

	for (i = 0; i < w * h; i++) {
		rgb[i * 3] = (unsigned char)(i % w < w / 2 ? 20 : 230);	/* R */
		rgb[i * 3 + 1] = 40;
		rgb[i * 3 + 2] = (unsigned char)(i % w < w / 2 ? 200 : 30);	/* B */
	}
	*len = 0;
	if (tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpg, len, TJSAMP_444, 90,
	    0) == -1)
		jpg = NULL;
	free(rgb);
	tjDestroy(tj);
	return jpg;
}

static void
test_frame(void)
{
	struct frame_limits lim = { 1 << 20, 1000, 1000, 500000 };
	struct frame f;
	void *dec = frame_decoder_new();
	unsigned long len;
	unsigned char *j = make_jpeg(64, 32, &len), *cut;
	float out[3 * 16 * 16], sx, sy, dx, dy;
	char err[160];

	T_REQUIRE(dec != NULL && j != NULL);
	T_CHECK(frame_decode(dec, j, len, &lim, &f, err, sizeof(err)) == FRAME_OK);
	T_CHECK(f.w == 64 && f.h == 32);
	/* Left half blue, right half yellow-ish red: sampled planes say so. */
	frame_sample(&f, 0, 0, 64, 32, 3, 16, 8, out);
	T_CHECK(out[2 * 128 + 4 * 16 + 2] > 0.7f && out[4 * 16 + 2] < 0.2f);
	T_CHECK(out[4 * 16 + 13] > 0.8f);
	T_CHECK(frame_colour(&f, 0, 0, 32, 32) == GK_PLATE_COLOUR_BLUE);
	frame_letterbox(&f, 3, 16, 16, out, &sx, &sy, &dx, &dy);
	T_CHECK(dx == 0 && dy == 4 && fabsf(sx - 4) < 1e-6f);
	T_CHECK(out[0] == 0.5f && out[5 * 16] != 0.5f);
	frame_free(&f);

	T_CHECK(frame_decode(dec, j, 0, &lim, &f, err, sizeof(err)) == FRAME_EMPTY);
	T_CHECK(frame_decode(dec, "GIF89a", 6, &lim, &f, err, sizeof(err)) ==
	    FRAME_NOT_JPEG);
	/* Truncated: header intact, scan cut short. */
	cut = malloc(len);
	memcpy(cut, j, len);
	T_CHECKF(frame_decode(dec, cut, len - 40, &lim, &f, err, sizeof(err)) ==
	    FRAME_CORRUPT, "len %lu: %s", len - 40, err);
	T_CHECK(f.rgb == NULL);
	T_CHECKF(frame_decode(dec, cut, 20, &lim, &f, err, sizeof(err)) ==
	    FRAME_BAD_HEADER, "%s", err);
	free(cut);
	lim.max_w = 32;
	T_CHECK(frame_decode(dec, j, len, &lim, &f, err, sizeof(err)) ==
	    FRAME_TOO_BIG);
	lim.max_w = 1000;
	lim.max_pixels = 1000;
	T_CHECK(frame_decode(dec, j, len, &lim, &f, err, sizeof(err)) ==
	    FRAME_TOO_BIG);
	lim.max_bytes = 10;
	T_CHECK(frame_decode(dec, j, len, &lim, &f, err, sizeof(err)) ==
	    FRAME_TOO_LARGE);
	T_STREQ(frame_reason_name(FRAME_CORRUPT), "corrupt");
	tjFree(j);
	frame_decoder_free(dec);
}

static void
test_refine(void)
{
	struct refine_box b = { 100, 50, 200, 80 }, c;
	const float zero[4] = { 0, 0, 0, 0 };
	const float move[4] = { 0.5f, -0.5f, -0.5f, 0.5f };	/* 0.1 of the box */
	const float far[4] = { 2.0f, 0, 0, 0 };			/* 0.4: too far */
	const float shrink[4] = { 1.5f, 0, -1.5f, 0 };		/* 0.4 wide */
	const float nan4[4] = { 0, NAN, 0, 0 };
	float x, y, w, h;

	/* the region: 0.3 of the width each side, 0.6 of the height above/below */
	refine_region(&b, &x, &y, &w, &h);
	T_CHECK(fabsf(x - 70) < 1e-3f && fabsf(y - 32) < 1e-3f);
	T_CHECK(fabsf(w - 160) < 1e-3f && fabsf(h - 66) < 1e-3f);

	c = b;
	T_CHECK(refine_apply(&c, zero) == 0);
	T_CHECK(c.x0 == 100 && c.y0 == 50 && c.x1 == 200 && c.y1 == 80);
	T_CHECK(refine_apply(&c, move) == 0);
	T_CHECK(fabsf(c.x0 - 110) < 1e-3f && fabsf(c.y0 - 47) < 1e-3f);
	T_CHECK(fabsf(c.x1 - 190) < 1e-3f && fabsf(c.y1 - 83) < 1e-3f);

	/* answers not to be trusted leave the box as it was */
	c = b;
	T_CHECK(refine_apply(&c, far) == -1);
	T_CHECK(refine_apply(&c, shrink) == -1);
	T_CHECK(refine_apply(&c, nan4) == -1);
	T_CHECK(c.x0 == 100 && c.y0 == 50 && c.x1 == 200 && c.y1 == 80);

	/*
	 * The province character: on a 440x140 mm one-row plate the first box spans
	 * 15.5-60.5 mm across and 25-115 mm down; on a 440x220 double-row plate the top
	 * row's left box spans 110-190 mm and 15-75 mm. The region must hold it whole.
	 */
	b.x0 = 0;
	b.y0 = 0;
	b.x1 = 440;
	b.y1 = 140;
	refine_province_region(&b, 0, &x, &y, &w, &h);
	T_CHECK(x <= 15.5f && x + w >= 60.5f && y <= 25 && y + h >= 115);
	T_CHECK(w < 100);			/* and not the next character */
	b.y1 = 220;
	refine_province_region(&b, 1, &x, &y, &w, &h);
	T_CHECK(x <= 110 && x + w >= 190 && y <= 15 && y + h >= 75);
	T_CHECK(x + w < 250 && y + h < 95);	/* not the letter, not the bottom row */

	/*
	 * The character reader's regions, centred on GA 36's character boxes (mm, box =
	 * plate): one row of seven 45 mm boxes from 15.5 mm, 12 mm apart and 34 mm
	 * after the 2nd; eight 43 mm boxes on 480 mm, 9 and 49 mm apart; double-row
	 * 80x60 boxes at 110 and 250 mm above five 65x110 from 27.5 mm, 80 mm apart.
	 */
	{
		static const float c7[7] = { 38, 95, 174, 231, 288, 345, 402 };
		static const float c8[8] = { 37, 89, 181, 233, 285, 337, 389, 441 };
		static const float cd[7] = { 150, 290, 60, 140, 220, 300, 380 };
		int k;

		b.y1 = 140;
		for (k = 0; k < 7; k++) {
			T_CHECK(refine_char_region(&b, REFINE_ROW7, k, &x, &y, &w,
			    &h) == 0);
			T_CHECK(fabsf(x + w / 2 - c7[k]) < 0.01f);
			T_CHECK(fabsf(y + h / 2 - 70) < 0.01f && w > 45 && w < 45 + 2 * 14);
			T_CHECK(y < 25 && y + h > 115);
		}
		T_CHECK(refine_char_region(&b, REFINE_ROW7, 7, &x, &y, &w, &h) == -1);
		T_CHECK(refine_char_region(&b, REFINE_ROW7, -1, &x, &y, &w, &h) == -1);
		b.x1 = 480;
		for (k = 0; k < 8; k++) {
			T_CHECK(refine_char_region(&b, REFINE_ROW8, k, &x, &y, &w,
			    &h) == 0);
			T_CHECK(fabsf(x + w / 2 - c8[k]) < 0.01f && w > 43);
		}
		T_CHECK(refine_char_region(&b, REFINE_ROW8, 8, &x, &y, &w, &h) == -1);
		b.x1 = 440;
		b.y1 = 220;
		for (k = 0; k < 7; k++) {
			T_CHECK(refine_char_region(&b, REFINE_DOUBLE, k, &x, &y, &w,
			    &h) == 0);
			T_CHECK(fabsf(x + w / 2 - cd[k]) < 0.01f);
			T_CHECK(fabsf(y + h / 2 - (k < 2 ? 45 : 150)) < 0.01f);
		}
		/* scaled with the box: the 3rd character of a 220x70 px plate at 50,10 */
		b.x0 = 50;
		b.y0 = 10;
		b.x1 = 270;
		b.y1 = 80;
		T_CHECK(refine_char_region(&b, REFINE_ROW7, 2, &x, &y, &w, &h) == 0);
		T_CHECK(fabsf(x + w / 2 - (50 + 174 / 2.0f)) < 0.01f);
		T_CHECK(fabsf(y + h / 2 - 45) < 0.01f);
		T_CHECK(refine_layout_chars(REFINE_ROW8) == 8 &&
		    refine_layout_chars(REFINE_DOUBLE) == 7);
	}
}

int
main(void)
{
	load_symbols();
	test_alphabet();
	test_decode();
	test_prior();
	test_queue();
	test_pool();
	test_yolo();
	test_refine();
	test_frame();
	return T_DONE();
}
