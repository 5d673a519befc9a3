/*
 * Unit tests of camera-capture's pure rules (services/camera-capture/capture.c): the
 * burst and continuous schedules against a made-up clock and frame numbers, the
 * reconnect backoff, the no-frame alarm's raise and clear, the source URL kinds and
 * the strict reading of trigger.v1 (the golden examples under schemas/examples too).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "t.h"

static void
test_burst(void)
{
	struct sched s;
	uint64_t seq = 10;
	int64_t t = 1000;
	int taken = 0, i;

	sched_init(&s, SCHED_TRIGGER, 3, 200, t);
	T_CHECK(sched_wait_ms(&s, t) == -1);		/* idle: nothing wanted */
	T_CHECK(!sched_take(&s, 11, t));
	T_CHECK(sched_trigger(&s, "tid-1", seq, t) == 0);
	T_STREQ(s.trigger_id, "tid-1");
	T_CHECK(sched_wait_ms(&s, t) == 0);
	/* The frame on show at the trigger does not count, the next one does. */
	T_CHECK(!sched_take(&s, 10, t + 5));
	T_CHECK(sched_take(&s, 11, t + 40));
	T_CHECK(sched_wait_ms(&s, t + 40) == 160);	/* cadence from the trigger */
	T_CHECK(!sched_take(&s, 12, t + 80));		/* not due yet */
	T_CHECK(sched_take(&s, 16, t + 210));
	T_CHECK(!sched_take(&s, 16, t + 400));		/* same frame twice: no */
	T_CHECK(sched_take(&s, 17, t + 420));
	T_CHECK(sched_wait_ms(&s, t + 420) == -1);	/* burst done */
	T_CHECK(!sched_take(&s, 30, t + 1000));

	/* A camera 40 ms per frame: exactly three frames per trigger. */
	sched_trigger(&s, "tid-2", 30, t = 5000);
	for (i = 0, seq = 31; i < 50; i++, seq++)
		taken += sched_take(&s, seq, t + 40 * i);
	T_CHECK(taken == 3);

	/* A new trigger cuts the running burst short and starts its own. */
	sched_trigger(&s, "tid-3", seq, t = 9000);
	T_CHECK(sched_take(&s, ++seq, t + 10));
	T_CHECK(sched_trigger(&s, "tid-4", seq, t + 20) == 2);
	T_STREQ(s.trigger_id, "tid-4");
	T_CHECK(s.left == 3);

	/* A late camera: after a long gap the cadence starts afresh, no catch-up. */
	sched_trigger(&s, "tid-5", seq, t = 20000);
	T_CHECK(sched_take(&s, ++seq, t + 1000));
	T_CHECK(sched_wait_ms(&s, t + 1000) == 200);
}

static void
test_continuous(void)
{
	struct sched s;
	int64_t t = 0;
	uint64_t seq = 0;
	int taken = 0, i;

	sched_init(&s, SCHED_CONTINUOUS, 1, 500, t);
	T_CHECK(sched_wait_ms(&s, t) == 0);
	/* 25 fps for 10 s at 2 fps: 20 frames, evenly. */
	for (i = 0; i < 250; i++)
		taken += sched_take(&s, ++seq, t + 40 * i);
	T_CHECKF(taken == 20, "taken %d", taken);
	T_CHECK(s.trigger_id[0] == '\0');
	/* A trigger in continuous mode changes nothing but the id. */
	T_CHECK(sched_trigger(&s, "x", seq, 10000) == 0);
}

static void
test_backoff(void)
{
	uint32_t r;
	int64_t d;
	unsigned a;

	T_CHECK(backoff_ms(0, 500, 30000, 0) == 250);
	T_CHECK(backoff_ms(0, 500, 30000, 250) == 500);
	T_CHECK(backoff_ms(1, 500, 30000, 0) == 500);
	T_CHECK(backoff_ms(3, 500, 30000, 0) == 2000);
	T_CHECK(backoff_ms(20, 500, 30000, 0) == 15000);
	T_CHECK(backoff_ms(1000, 500, 30000, 15000) == 30000);
	T_CHECK(backoff_ms(2, 500, 100, 0) == 250);	/* cap below min: min */
	for (a = 0; a < 40; a++)
		for (r = 0; r < 100000; r += 7919) {
			d = backoff_ms(a, 500, 30000, r);
			T_CHECK(d >= 250 && d <= 30000);
		}
}

static void
test_health(void)
{
	struct health h = { 10000, 0 };
	struct health off = { 0, 0 };

	T_CHECK(health_check(&h, 0, 9999) == 0);
	T_CHECK(health_check(&h, 0, 10000) == 1);
	T_CHECK(h.active);
	T_CHECK(health_check(&h, 0, 20000) == 0);	/* raised once */
	T_CHECK(health_check(&h, 19000, 20000) == -1);
	T_CHECK(!h.active);
	T_CHECK(health_check(&h, 19000, 20000) == 0);
	T_CHECK(health_check(&off, 0, 1000000) == 0);
}

static void
test_kinds(void)
{
	char out[64];

	T_CHECK(source_kind("rtsp://10.0.0.5:554/s1", 0, out, sizeof(out)) ==
	    SOURCE_STREAM);
	T_STREQ(out, "rtsp://10.0.0.5:554/s1");
	T_CHECK(source_kind("http://cam/video.mjpg", 0, out, sizeof(out)) ==
	    SOURCE_STREAM);
	T_CHECK(source_kind("http://cam/snap.JPG?x=1", 0, out, sizeof(out)) ==
	    SOURCE_SNAPSHOT);
	T_CHECK(source_kind("https://cam/cgi-bin/snapshot.cgi", 1, out, sizeof(out)) ==
	    SOURCE_SNAPSHOT);
	T_CHECK(source_kind("http://cam/a.jpeg", -1, out, sizeof(out)) ==
	    SOURCE_STREAM);
	T_CHECK(source_kind("dir:/srv/replay", 0, out, sizeof(out)) == SOURCE_DIR);
	T_STREQ(out, "/srv/replay");
	T_CHECK(source_kind("/tmp/v.mp4", 0, out, sizeof(out)) == SOURCE_FILE);
	T_CHECK(source_kind("file:rel.avi", 0, out, sizeof(out)) == SOURCE_FILE);
	T_STREQ(out, "rel.avi");
	T_CHECK(source_kind("ftp://x/y", 0, out, sizeof(out)) == SOURCE_BAD);
	T_CHECK(source_kind("file:///etc/passwd", 0, out, sizeof(out)) == SOURCE_BAD);
	T_CHECK(source_kind("", 0, out, sizeof(out)) == SOURCE_BAD);
	T_CHECK(source_kind("dir:", 0, out, sizeof(out)) == SOURCE_BAD);
	T_CHECK(source_kind("/a\nb", 0, out, sizeof(out)) == SOURCE_BAD);
	T_CHECK(source_kind("rtsp://a-very-long-host-name-that-does-not-fit.example/"
	    "stream/in/sixty/four/bytes", 0, out, sizeof(out)) == SOURCE_BAD);
}

static int
parse(const char *doc, struct trigger *t)
{
	char err[200];

	return trigger_parse(doc, strlen(doc), t, err, sizeof(err));
}

static void
test_trigger(void)
{
	const char *ok = "{\"schema\":\"ecogate.trigger.v1\",\"trigger_id\":"
	    "\"01937a4e-0000-7000-8000-000000000001\",\"site\":\"s1\",\"lane\":\"in-1\","
	    "\"source\":\"loop\",\"occupied\":true,\"ts\":\"2026-11-28T12:00:00.123Z\"}";
	static const char *const bad[] = {
		"",
		"[]",
		"{not json",
		/* extra member */
		"{\"schema\":\"ecogate.trigger.v1\",\"trigger_id\":\"01937a4e-0000-7000-"
		"8000-000000000001\",\"site\":\"s1\",\"lane\":\"in-1\",\"source\":\"loop\","
		"\"occupied\":true,\"ts\":\"2026-11-28T12:00:00Z\",\"x\":1}",
		/* upper-case id */
		"{\"schema\":\"ecogate.trigger.v1\",\"trigger_id\":\"01937A4E-0000-7000-"
		"8000-000000000001\",\"site\":\"s1\",\"lane\":\"in-1\",\"source\":\"loop\","
		"\"occupied\":true,\"ts\":\"2026-11-28T12:00:00Z\"}",
		/* occupied a string */
		"{\"schema\":\"ecogate.trigger.v1\",\"trigger_id\":\"01937a4e-0000-7000-"
		"8000-000000000001\",\"site\":\"s1\",\"lane\":\"in-1\",\"source\":\"loop\","
		"\"occupied\":\"true\",\"ts\":\"2026-11-28T12:00:00Z\"}",
		/* lane with a slash */
		"{\"schema\":\"ecogate.trigger.v1\",\"trigger_id\":\"01937a4e-0000-7000-"
		"8000-000000000001\",\"site\":\"s1\",\"lane\":\"in/1\",\"source\":\"loop\","
		"\"occupied\":true,\"ts\":\"2026-11-28T12:00:00Z\"}",
		/* unknown source */
		"{\"schema\":\"ecogate.trigger.v1\",\"trigger_id\":\"01937a4e-0000-7000-"
		"8000-000000000001\",\"site\":\"s1\",\"lane\":\"in-1\",\"source\":\"laser\","
		"\"occupied\":true,\"ts\":\"2026-11-28T12:00:00Z\"}",
		/* bad ts */
		"{\"schema\":\"ecogate.trigger.v1\",\"trigger_id\":\"01937a4e-0000-7000-"
		"8000-000000000001\",\"site\":\"s1\",\"lane\":\"in-1\",\"source\":\"loop\","
		"\"occupied\":true,\"ts\":\"yesterday\"}",
		/* wrong schema */
		"{\"schema\":\"ecogate.trigger.v2\",\"trigger_id\":\"01937a4e-0000-7000-"
		"8000-000000000001\",\"site\":\"s1\",\"lane\":\"in-1\",\"source\":\"loop\","
		"\"occupied\":true,\"ts\":\"2026-11-28T12:00:00Z\"}",
		NULL
	};
	struct trigger t;
	size_t i;

	T_CHECK(parse(ok, &t) == 0);
	T_STREQ(t.trigger_id, "01937a4e-0000-7000-8000-000000000001");
	T_STREQ(t.site, "s1");
	T_STREQ(t.lane, "in-1");
	T_CHECK(t.occupied == 1);
	T_CHECK(t.ts_ms > 0);
	for (i = 0; bad[i] != NULL; i++)
		T_CHECKF(parse(bad[i], &t) == -1, "bad[%zu] accepted", i);
}

/* The golden examples: valid-* parse, invalid-* do not. */
static void
test_examples(void)
{
	char dir[1024], path[1400], buf[8192], err[200];
	const char *src = getenv("ECOGATE_SOURCE_DIR");
	struct dirent *d;
	struct trigger t;
	size_t n;
	FILE *fp;
	DIR *dp;
	int seen = 0;

	snprintf(dir, sizeof(dir), "%s/schemas/examples/trigger.v1",
	    src != NULL ? src : "../../..");
	if ((dp = opendir(dir)) == NULL) {
		fprintf(stderr, "no examples at %s: skipped\n", dir);
		return;
	}
	while ((d = readdir(dp)) != NULL) {
		if (strncmp(d->d_name, "valid", 5) != 0 &&
		    strncmp(d->d_name, "invalid", 7) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		if (d->d_name[0] == 'v')
			T_CHECKF(trigger_parse(buf, n, &t, err, sizeof(err)) == 0,
			    "%s: %s", d->d_name, err);
		else
			T_CHECKF(trigger_parse(buf, n, &t, err, sizeof(err)) == -1,
			    "%s accepted", d->d_name);
		seen++;
	}
	closedir(dp);
	T_CHECK(seen > 0);
}

int
main(void)
{
	test_burst();
	test_continuous();
	test_backoff();
	test_health();
	test_kinds();
	test_trigger();
	test_examples();
	return T_DONE();
}
