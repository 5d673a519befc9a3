/*
 * Tests of plate-read fusion (services/verifier/fuse.c): a single read, agreeing reads
 * closing early, conflicting reads voted by weight (whole reads and per-character
 * confidences), O/0 confusion, reads of different lengths, the hold that suppresses a
 * standing vehicle, new triggers, the window deadline, duplicates, illegal reads.
 * Times are passed in; confidences are computed by hand in the comments.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fuse.h"
#include "t.h"

#define NEAR(a, b)	(fabs((a) - (b)) < 1e-9)

static struct fuse_params	P;

static struct fuse_read
rd(int n, const char *plate, enum gk_plate_colour colour, double conf,
    const char *trigger)
{
	struct fuse_read	r;

	memset(&r, 0, sizeof(r));
	snprintf(r.event_id, sizeof(r.event_id),
	    "01937a4e-0000-7000-8000-%012d", n);
	gk_strlcpy(r.plate, plate, sizeof(r.plate));
	r.colour = colour;
	r.confidence = conf;
	gk_strlcpy(r.trigger_id, trigger != NULL ? trigger : "",
	    sizeof(r.trigger_id));
	r.wall_ms = 1795867200000LL + n;
	return r;
}

#define BLUE	GK_PLATE_COLOUR_BLUE
#define YELLOW	GK_PLATE_COLOUR_YELLOW
#define GREEN	GK_PLATE_COLOUR_GREEN

static void
test_single(void)
{
	struct fuse_lane	l;
	struct fuse_passage	p;
	struct fuse_read	r = rd(1, "沪A12345", BLUE, 0.95, NULL);

	fuse_lane_init(&l);
	T_CHECK(fuse_deadline(&l, &P) == -1);
	T_CHECK(fuse_offer(&l, &P, &r, 1000, &p) == FUSE_ABSORBED);
	T_CHECK(fuse_deadline(&l, &P) == 1800);
	T_CHECK(fuse_tick(&l, &P, 1799, &p) == FUSE_NOTHING);
	T_REQUIRE(fuse_tick(&l, &P, 1800, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A12345");
	T_CHECK(p.plate_ok == 1);
	T_CHECK(p.info.kind == GK_PLATE_KIND_SMALL);
	T_CHECK(p.colour == BLUE);
	T_CHECK(NEAR(p.confidence, 0.95));
	T_CHECK(p.reads == 1 && p.nids == 1);
	T_STREQ(p.read_ids[0], "01937a4e-0000-7000-8000-000000000001");
	T_CHECK(p.early == 0);
	T_CHECK(p.opened_ms == 1000 && p.closed_ms == 1800);
	T_CHECK(p.first_wall_ms == 1795867200001LL);
	/* Now holding the plate until 1800 + 10000. */
	T_CHECK(fuse_deadline(&l, &P) == 11800);
}

static void
test_early_close(void)
{
	struct fuse_lane	l;
	struct fuse_passage	p;
	struct fuse_read	a = rd(1, "沪A12345", BLUE, 0.92, NULL);
	struct fuse_read	b = rd(2, "沪A12345", BLUE, 0.97, NULL);
	struct fuse_read	c = rd(3, "沪A12345", BLUE, 0.85, NULL);

	fuse_lane_init(&l);
	/* Below early_conf: does not count towards early close. */
	T_CHECK(fuse_offer(&l, &P, &c, 0, &p) == FUSE_ABSORBED);
	T_CHECK(fuse_offer(&l, &P, &a, 50, &p) == FUSE_ABSORBED);
	T_REQUIRE(fuse_offer(&l, &P, &b, 120, &p) == FUSE_CLOSED);
	T_CHECK(p.early == 1);
	T_CHECK(p.closed_ms == 120);
	T_STREQ(p.plate, "沪A12345");
	T_CHECK(NEAR(p.confidence, 0.97));	/* best agreeing read, share 1 */
	T_CHECK(p.reads == 3 && p.nids == 3);
	T_CHECK(fuse_deadline(&l, &P) == 120 + 10000);

	/* early_reads 1: one confident read (RFID) closes at once. */
	{
		struct fuse_params	q = P;
		struct fuse_read	r = rd(4, "沪B54321", BLUE, 1.0, NULL);

		q.early_reads = 1;
		fuse_lane_init(&l);
		T_CHECK(fuse_offer(&l, &q, &r, 0, &p) == FUSE_CLOSED);
		T_STREQ(p.plate, "沪B54321");
	}
}

static void
test_conflicts(void)
{
	struct fuse_params	q = P;
	struct fuse_lane	l;
	struct fuse_passage	p;
	struct fuse_read	r[3];
	int			i;

	q.early_reads = 10;

	/* Whole reads: 0.9 + 0.6 for ...5, 0.5 for ...6: conf 0.9 x 1.5/2.0. */
	r[0] = rd(1, "沪A12345", BLUE, 0.9, NULL);
	r[1] = rd(2, "沪A12346", BLUE, 0.5, NULL);
	r[2] = rd(3, "沪A12345", BLUE, 0.6, NULL);
	fuse_lane_init(&l);
	for (i = 0; i < 3; i++)
		T_CHECK(fuse_offer(&l, &q, &r[i], i * 10, &p) == FUSE_ABSORBED);
	T_REQUIRE(fuse_tick(&l, &q, 800, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A12345");
	T_CHECKF(NEAR(p.confidence, 0.675), "%f", p.confidence);

	/* The heavier read loses when it is alone against two. */
	r[0] = rd(11, "沪A12346", BLUE, 0.9, NULL);
	r[1] = rd(12, "沪A12345", BLUE, 0.5, NULL);
	r[2] = rd(13, "沪A12345", BLUE, 0.5, NULL);
	fuse_lane_init(&l);
	for (i = 0; i < 3; i++)
		fuse_offer(&l, &q, &r[i], i * 10, &p);
	T_REQUIRE(fuse_tick(&l, &q, 900, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A12345");
	T_CHECKF(NEAR(p.confidence, 0.5 * (1.0 / 1.9)), "%f", p.confidence);

	/* Per position: each read wins where it is backed; no read is the result's twin
	 * except C. pos 4: '2' 0.7+0.5 vs '8' 0.6; pos 6: '9' 0.7 vs '4' 0.6+0.5.
	 * conf = 0.5 (C) x min(1.2/1.8, 1.1/1.8) = 0.5 x 11/18. */
	r[0] = rd(21, "沪A12395", BLUE, 0.7, NULL);
	r[1] = rd(22, "沪A18345", BLUE, 0.6, NULL);
	r[2] = rd(23, "沪A12345", BLUE, 0.5, NULL);
	fuse_lane_init(&l);
	for (i = 0; i < 3; i++)
		fuse_offer(&l, &q, &r[i], i * 10, &p);
	T_REQUIRE(fuse_tick(&l, &q, 800, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A12345");
	T_CHECKF(NEAR(p.confidence, 0.5 * 11.0 / 18.0), "%f", p.confidence);

	/* Per-character confidences: the 0.7 read is unsure of its 4th character. */
	r[0] = rd(31, "沪A1Z345", BLUE, 0.7, NULL);
	r[0].nchar_conf = 7;
	for (i = 0; i < 7; i++)
		r[0].char_conf[i] = 0.9;
	r[0].char_conf[3] = 0.2;
	r[1] = rd(32, "沪A12345", BLUE, 0.6, NULL);
	fuse_lane_init(&l);
	fuse_offer(&l, &q, &r[0], 0, &p);
	fuse_offer(&l, &q, &r[1], 10, &p);
	T_REQUIRE(fuse_tick(&l, &q, 800, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A12345");
	/* pos 4: '2' 0.6 vs 'Z' 0.2 -> share 0.75; twin read conf 0.6 -> 0.45 */
	T_CHECKF(NEAR(p.confidence, 0.45), "%f", p.confidence);
	T_CHECK(p.nids == 2);
}

static void
test_ocr_confusion(void)
{
	struct fuse_lane	l;
	struct fuse_passage	p;
	struct fuse_read	a = rd(1, "沪A1234O", BLUE, 0.95, NULL);
	struct fuse_read	b = rd(2, "沪a·12340", BLUE, 0.93, NULL);

	fuse_lane_init(&l);
	T_CHECK(fuse_offer(&l, &P, &a, 0, &p) == FUSE_ABSORBED);
	T_REQUIRE(fuse_offer(&l, &P, &b, 30, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A12340");
	T_CHECK(p.early == 1);

	/* I in a serial is a 1. */
	a = rd(3, "沪AI2345", BLUE, 0.95, NULL);
	fuse_lane_init(&l);
	fuse_offer(&l, &P, &a, 0, &p);
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A12345");
}

static void
test_lengths(void)
{
	struct fuse_params	q = P;
	struct fuse_lane	l;
	struct fuse_passage	p;
	struct fuse_read	a = rd(1, "沪A12345", BLUE, 0.6, NULL);
	struct fuse_read	b = rd(2, "沪AD12345", GREEN, 0.9, NULL);

	q.early_reads = 5;
	fuse_lane_init(&l);
	fuse_offer(&l, &q, &a, 0, &p);
	fuse_offer(&l, &q, &b, 10, &p);
	T_REQUIRE(fuse_tick(&l, &q, 800, &p) == FUSE_CLOSED);
	/* 8 characters weigh 0.9 against 0.6; the 7-character read cannot vote. */
	T_STREQ(p.plate, "沪AD12345");
	T_CHECK(NEAR(p.confidence, 0.9));
	T_CHECK(p.colour == GREEN);
	T_CHECK(p.plate_ok == 1);
	T_CHECK(p.info.kind == GK_PLATE_KIND_NEV_SMALL);
	T_CHECK(p.reads == 2 && p.nids == 2);
}

static void
test_hold(void)
{
	struct fuse_lane	l;
	struct fuse_passage	p;
	struct fuse_read	r;

	fuse_lane_init(&l);
	r = rd(1, "沪A12345", YELLOW, 0.95, "loop-1-0001");
	fuse_offer(&l, &P, &r, 0, &p);
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	T_STREQ(p.trigger_id, "loop-1-0001");

	/* The truck is still there: the same plate, or one OCR slip of it. */
	r = rd(2, "沪A12345", YELLOW, 0.95, NULL);
	T_CHECK(fuse_offer(&l, &P, &r, 2000, &p) == FUSE_SUPPRESSED);
	r = rd(3, "沪A12346", YELLOW, 0.95, "loop-1-0001");
	T_CHECK(fuse_offer(&l, &P, &r, 3000, &p) == FUSE_SUPPRESSED);
	/* Two slips is another vehicle. */
	r = rd(4, "沪A12366", YELLOW, 0.5, NULL);
	T_CHECK(fuse_offer(&l, &P, &r, 4000, &p) == FUSE_ABSORBED);
	T_REQUIRE(fuse_tick(&l, &P, 4800, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A12366");

	/* A different plate is a different vehicle. */
	r = rd(5, "沪B88888", BLUE, 0.5, NULL);
	T_CHECK(fuse_offer(&l, &P, &r, 5000, &p) == FUSE_ABSORBED);
	T_REQUIRE(fuse_tick(&l, &P, 5800, &p) == FUSE_CLOSED);
	/* The held plate is now 沪B88888; 沪A12345 is no longer held. */
	r = rd(6, "沪A12345", YELLOW, 0.5, NULL);
	T_CHECK(fuse_offer(&l, &P, &r, 6000, &p) == FUSE_ABSORBED);
	T_REQUIRE(fuse_tick(&l, &P, 6800, &p) == FUSE_CLOSED);

	/* The hold ends after hold_ms: 6800 + 10000. */
	r = rd(7, "沪A12345", YELLOW, 0.5, NULL);
	T_CHECK(fuse_offer(&l, &P, &r, 16799, &p) == FUSE_SUPPRESSED);
	T_CHECK(fuse_offer(&l, &P, &r, 16800, &p) == FUSE_ABSORBED);
}

static void
test_triggers(void)
{
	struct fuse_lane	l;
	struct fuse_passage	p;
	struct fuse_read	r;

	/* A new trigger id re-opens for the same plate during the hold. */
	fuse_lane_init(&l);
	r = rd(1, "沪A12345", YELLOW, 0.95, "loop-1-0001");
	fuse_offer(&l, &P, &r, 0, &p);
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	r = rd(2, "沪A12345", YELLOW, 0.95, "loop-1-0002");
	T_CHECK(fuse_offer(&l, &P, &r, 1500, &p) == FUSE_ABSORBED);
	T_REQUIRE(fuse_tick(&l, &P, 2300, &p) == FUSE_CLOSED);
	T_STREQ(p.trigger_id, "loop-1-0002");

	/* fuse_trigger() (the loop detector) ends the hold too. */
	r = rd(3, "沪A12345", YELLOW, 0.95, NULL);
	T_CHECK(fuse_offer(&l, &P, &r, 2500, &p) == FUSE_SUPPRESSED);
	fuse_trigger(&l);
	T_CHECK(fuse_offer(&l, &P, &r, 2600, &p) == FUSE_ABSORBED);

	/* A new trigger while a window is open closes it and opens the next. */
	fuse_lane_init(&l);
	r = rd(10, "沪A11111", BLUE, 0.7, "loop-1-0010");
	T_CHECK(fuse_offer(&l, &P, &r, 0, &p) == FUSE_ABSORBED);
	r = rd(11, "沪A22222", BLUE, 0.7, "loop-1-0011");
	T_REQUIRE(fuse_offer(&l, &P, &r, 300, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A11111");
	T_CHECK(p.nids == 1 && p.closed_ms == 300);
	T_CHECK(l.state == FUSE_OPEN && l.opened_ms == 300);
	T_REQUIRE(fuse_tick(&l, &P, 1100, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A22222");
	T_STREQ(p.read_ids[0], "01937a4e-0000-7000-8000-000000000011");
}

static void
test_timeout_on_offer(void)
{
	struct fuse_lane	l;
	struct fuse_passage	p;
	struct fuse_read	r;

	/* No tick came: the next read finds the deadline passed. */
	fuse_lane_init(&l);
	r = rd(1, "沪A11111", BLUE, 0.7, NULL);
	fuse_offer(&l, &P, &r, 0, &p);
	r = rd(2, "沪A22222", BLUE, 0.7, NULL);
	T_REQUIRE(fuse_offer(&l, &P, &r, 900, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A11111");
	T_CHECK(p.closed_ms == 800);	/* closed at its deadline, not later */
	T_CHECK(l.state == FUSE_OPEN && l.opened_ms == 900);
	/* The same plate after its deadline is held. */
	r = rd(3, "沪A11111", BLUE, 0.7, NULL);
	T_CHECK(fuse_offer(&l, &P, &r, 1000, &p) == FUSE_SUPPRESSED);
}

static void
test_duplicates_and_limits(void)
{
	struct fuse_params	q = P;
	struct fuse_lane	l;
	struct fuse_passage	p;
	struct fuse_read	r;
	int			i;

	fuse_lane_init(&l);
	r = rd(1, "沪A12345", BLUE, 0.95, NULL);
	T_CHECK(fuse_offer(&l, &P, &r, 0, &p) == FUSE_ABSORBED);
	/* QoS 1 redelivers: same event_id, counted once. */
	T_CHECK(fuse_offer(&l, &P, &r, 10, &p) == FUSE_DUPLICATE);
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	T_CHECK(p.reads == 1 && p.nids == 1);

	/* 40 reads: all counted, 32 ids kept. */
	q.early_reads = 32;
	q.window_ms = 5000;
	fuse_lane_init(&l);
	for (i = 0; i < 40; i++) {
		r = rd(100 + i, "沪A12345", BLUE, 0.5, NULL);
		T_CHECK(fuse_offer(&l, &q, &r, i, &p) == FUSE_ABSORBED);
	}
	T_REQUIRE(fuse_tick(&l, &q, 5000, &p) == FUSE_CLOSED);
	T_CHECK(p.reads == 40 && p.nids == FUSE_READS_MAX);
}

static void
test_illegal(void)
{
	struct fuse_lane	l;
	struct fuse_passage	p;
	struct fuse_read	r;

	/* Only an illegal read (issuer I): a passage all the same, not ok. */
	fuse_lane_init(&l);
	r = rd(1, "沪I12345", BLUE, 0.9, NULL);
	T_CHECK(fuse_offer(&l, &P, &r, 0, &p) == FUSE_ABSORBED);
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	T_CHECK(p.plate_ok == 0);
	T_STREQ(p.plate, "沪I12345");
	T_CHECK(NEAR(p.confidence, 0.9));

	/* An illegal read never outvotes a legal one. */
	fuse_lane_init(&l);
	r = rd(2, "XX12345", BLUE, 0.99, NULL);
	fuse_offer(&l, &P, &r, 0, &p);
	r = rd(3, "沪A12345", BLUE, 0.4, NULL);
	fuse_offer(&l, &P, &r, 10, &p);
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "沪A12345");
	T_CHECK(p.plate_ok == 1);
	T_CHECK(NEAR(p.confidence, 0.4));
	T_CHECK(p.reads == 2 && p.nids == 2);

	/* Nothing normalisable at all. */
	fuse_lane_init(&l);
	r = rd(4, " · ", BLUE, 0.9, NULL);
	fuse_offer(&l, &P, &r, 0, &p);
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	T_STREQ(p.plate, "?");
	T_CHECK(p.plate_ok == 0 && p.confidence == 0);

	/* A legal plate in a colour it cannot have (blue plate read as green). */
	fuse_lane_init(&l);
	r = rd(5, "沪A12345", GREEN, 0.95, NULL);
	fuse_offer(&l, &P, &r, 0, &p);
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	T_CHECK(p.plate_ok == 0);
	T_CHECK(p.colour == GREEN);

	/* Colour: weighted majority. */
	fuse_lane_init(&l);
	r = rd(6, "沪A12345", YELLOW, 0.5, NULL);
	fuse_offer(&l, &P, &r, 0, &p);
	r = rd(7, "沪A12345", BLUE, 0.3, NULL);
	fuse_offer(&l, &P, &r, 0, &p);
	r = rd(8, "沪A12345", YELLOW, 0.4, NULL);
	fuse_offer(&l, &P, &r, 0, &p);
	r = rd(9, "沪A12345", GK_PLATE_COLOUR_UNKNOWN, 0.8, NULL);
	fuse_offer(&l, &P, &r, 0, &p);
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	T_CHECK(p.colour == YELLOW);
	T_CHECK(p.plate_ok == 1 && p.info.kind == GK_PLATE_KIND_LARGE);
}

/* The passage names each frame its reads came from once, in order; none: none. */
static void
test_frames(void)
{
	static const char	 f1[] = "1111111111111111111111111111111111111111111111111111111111111111";
	static const char	 f2[] = "2222222222222222222222222222222222222222222222222222222222222222";
	struct fuse_lane	 l;
	struct fuse_passage	 p;
	struct fuse_read	 a = rd(1, "沪A12345", BLUE, 0.60, NULL);
	struct fuse_read	 b = rd(2, "沪A12345", BLUE, 0.60, NULL);
	struct fuse_read	 c = rd(3, "沪A12345", BLUE, 0.60, NULL);
	struct fuse_read	 d = rd(4, "沪A12345", BLUE, 0.60, NULL);

	gk_strlcpy(a.frame_sha256, f1, sizeof(a.frame_sha256));
	gk_strlcpy(b.frame_sha256, f2, sizeof(b.frame_sha256));
	gk_strlcpy(c.frame_sha256, f1, sizeof(c.frame_sha256));	/* same frame */
	fuse_lane_init(&l);
	T_CHECK(fuse_offer(&l, &P, &a, 0, &p) == FUSE_ABSORBED);
	T_CHECK(fuse_offer(&l, &P, &b, 10, &p) == FUSE_ABSORBED);
	T_CHECK(fuse_offer(&l, &P, &c, 20, &p) == FUSE_ABSORBED);
	T_CHECK(fuse_offer(&l, &P, &d, 30, &p) == FUSE_ABSORBED);	/* no frame */
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	T_CHECK(p.nids == 4);
	T_REQUIRE(p.nframes == 2);
	T_STREQ(p.frames[0], f1);
	T_STREQ(p.frames[1], f2);

	fuse_lane_init(&l);
	T_CHECK(fuse_offer(&l, &P, &d, 0, &p) == FUSE_ABSORBED);
	T_REQUIRE(fuse_tick(&l, &P, 800, &p) == FUSE_CLOSED);
	T_CHECK(p.nframes == 0);
}

int
main(void)
{
	fuse_params_default(&P);
	T_CHECK(P.window_ms == 800 && P.early_reads == 2 && P.hold_ms == 10000);
	test_single();
	test_early_close();
	test_conflicts();
	test_ocr_confusion();
	test_lengths();
	test_hold();
	test_triggers();
	test_timeout_on_offer();
	test_duplicates_and_limits();
	test_illegal();
	test_frames();
	return T_DONE();
}
