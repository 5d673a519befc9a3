/*
 * Unit test of the verifier's registry snapshot (services/verifier/snapshot.c): what
 * is put is got back, after a reopen too; removals are remembered through compaction
 * and replayed by snapshot_foreach(); compaction shrinks the file to one line per key
 * and loses nothing; a torn last line (a crash mid-append) and garbage lines are
 * skipped without losing the lines around them, and the next append is not swallowed.
 * Expected contents are written here by hand; the file is read back with stdio.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"
#include "t.h"

static char dir[] = "/tmp/test_snapshot.XXXXXX";
static char path[256];

static int
file_lines(void)
{
	FILE	*fp = fopen(path, "r");
	int	 c, n = 0;

	if (fp == NULL)
		return -1;
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

static void
append_raw(const char *text)
{
	FILE *fp = fopen(path, "a");

	T_REQUIRE(fp != NULL);
	fputs(text, fp);
	fclose(fp);
}

struct seen {
	int	records, removals;
	int	saw_removed_b;
};

static int
count(void *arg, const char *key, const char *doc)
{
	struct seen *s = arg;

	if (doc == NULL) {
		s->removals++;
		if (strcmp(key, "沪B2|yellow") == 0)
			s->saw_removed_b = 1;
	} else
		s->records++;
	return 0;
}

static void
test_put_get_reopen(void)
{
	struct snapshot		*s;
	struct snapshot_stats	 st;
	char			 err[256];
	const char		*d;

	T_REQUIRE((s = snapshot_open(path, err, sizeof(err))) != NULL);
	T_CHECK(snapshot_get(s, "沪A1|yellow") == NULL);
	T_CHECK(snapshot_age_ms(s, 1000) == 0);
	T_CHECK(snapshot_put(s, "沪A1|yellow", "{\"plate\":\"沪A1\",\"version\":1}") == 0);
	T_CHECK(snapshot_put(s, "沪B2|yellow", "{\"plate\":\"沪B2\",\"version\":2}") == 0);
	T_CHECK(snapshot_put(s, "沪A1|yellow", "{\"plate\":\"沪A1\",\"version\":3}") == 0);
	T_CHECK(snapshot_put(s, "沪B2|yellow", NULL) == 0);
	T_CHECK(snapshot_put(s, "沪C3|blue", "not json") == -1);	/* refused */
	d = snapshot_get(s, "沪A1|yellow");
	T_CHECKF(d != NULL && strcmp(d, "{\"plate\":\"沪A1\",\"version\":3}") == 0,
	    "%s", d ? d : "(null)");
	T_CHECK(snapshot_get(s, "沪B2|yellow") == NULL);
	T_CHECK(snapshot_get(s, "沪C3|blue") == NULL);
	snapshot_stats(s, &st);
	T_CHECK(st.keys == 1 && st.tombstones == 1 && st.lines == 4);
	snapshot_close(s);
	T_CHECK(file_lines() == 4);

	T_REQUIRE((s = snapshot_open(path, err, sizeof(err))) != NULL);
	d = snapshot_get(s, "沪A1|yellow");
	T_CHECK(d != NULL && strstr(d, "\"version\":3") != NULL);
	T_CHECK(snapshot_get(s, "沪B2|yellow") == NULL);
	T_CHECK(snapshot_age_ms(s, 0) == 0);	/* a clock before the write */
	snapshot_close(s);
}

static void
test_torn_and_bad_lines(void)
{
	struct snapshot		*s;
	struct snapshot_stats	 st;
	char			 err[256];
	const char		*d;

	/* Garbage in the middle, then a line cut short by a crash. */
	append_raw("this is not json\n");
	append_raw("{\"key\":\"沪D4|yellow\",\"vehicle\":{\"plate\":\"沪D4\"}}\n");
	append_raw("{\"key\":\"沪E5|yellow\",\"vehi");
	T_REQUIRE((s = snapshot_open(path, err, sizeof(err))) != NULL);
	snapshot_stats(s, &st);
	T_CHECKF(st.bad_lines == 2, "bad_lines %zu", st.bad_lines);
	T_CHECK(snapshot_get(s, "沪D4|yellow") != NULL);
	T_CHECK(snapshot_get(s, "沪A1|yellow") != NULL);
	T_CHECK(snapshot_get(s, "沪E5|yellow") == NULL);
	/* The next change is a line of its own, not glued to the torn one. */
	T_CHECK(snapshot_put(s, "沪E5|yellow", "{\"plate\":\"沪E5\"}") == 0);
	snapshot_close(s);
	T_REQUIRE((s = snapshot_open(path, err, sizeof(err))) != NULL);
	d = snapshot_get(s, "沪E5|yellow");
	T_CHECK(d != NULL && strcmp(d, "{\"plate\":\"沪E5\"}") == 0);
	snapshot_close(s);
}

static void
test_compaction(void)
{
	struct snapshot		*s;
	struct snapshot_stats	 st;
	struct seen		 seen;
	char			 err[256], key[64], doc[128];
	const char		*d;
	int			 i, ok = 1;

	T_REQUIRE((s = snapshot_open(path, err, sizeof(err))) != NULL);
	/* 40 vehicles changed 100 times each: compaction must kick in on its own. */
	for (i = 0; i < 4000; i++) {
		snprintf(key, sizeof(key), "沪F%03d|yellow", i % 40);
		snprintf(doc, sizeof(doc), "{\"plate\":\"沪F%03d\",\"version\":%d}",
		    i % 40, i);
		ok &= snapshot_put(s, key, doc) == 0;
	}
	T_CHECK(ok);
	snapshot_stats(s, &st);
	T_CHECKF(st.compactions >= 1, "compactions %llu",
	    (unsigned long long)st.compactions);
	T_CHECK(st.lines < 4000);
	T_CHECK(snapshot_compact(s) == 0);
	snapshot_stats(s, &st);
	/* 沪A1, 沪D4, 沪E5 and the 40 live; 沪B2 removed: one line per key. */
	T_CHECKF(st.keys == 43 && st.tombstones == 1 && st.lines == 44,
	    "keys %zu tombstones %zu lines %zu", st.keys, st.tombstones, st.lines);
	T_CHECK(file_lines() == 44);
	/* An append after compaction lands in the new file. */
	T_CHECK(snapshot_put(s, "沪G7|blue", "{\"plate\":\"沪G7\"}") == 0);
	snapshot_close(s);
	T_CHECK(file_lines() == 45);

	T_REQUIRE((s = snapshot_open(path, err, sizeof(err))) != NULL);
	d = snapshot_get(s, "沪F007|yellow");
	T_CHECKF(d != NULL && strcmp(d, "{\"plate\":\"沪F007\",\"version\":3967}") == 0,
	    "%s", d ? d : "(null)");
	T_CHECK(snapshot_get(s, "沪G7|blue") != NULL);
	T_CHECK(snapshot_get(s, "沪B2|yellow") == NULL);
	memset(&seen, 0, sizeof(seen));
	T_CHECK(snapshot_foreach(s, count, &seen) == 0);
	T_CHECK(seen.records == 44 && seen.removals == 1 && seen.saw_removed_b);
	snapshot_close(s);
}

static void
test_unreadable(void)
{
	char err[256];

	T_CHECK(snapshot_open("/nonexistent-dir/x/registry.jsonl", err,
	    sizeof(err)) == NULL);
	T_CHECK(strstr(err, "/nonexistent-dir/x/registry.jsonl") != NULL);
}

int
main(void)
{
	T_REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/registry.jsonl", dir);
	test_put_get_reopen();
	test_torn_and_bad_lines();
	test_compaction();
	test_unreadable();
	unlink(path);
	rmdir(dir);
	return T_DONE();
}
