/*
 * Unit tests of the bus adapter's pure helpers, no broker needed: the topic builder
 * that keeps lane and site names from injecting levels or wildcards, MQTT wildcard
 * matching against a table worked out by hand from MQTT 5.0 section 4.7, and the
 * reconnect backoff's bounds.
 */
#include <errno.h>
#include <string.h>

#include "gatekit/bus.h"
#include "t.h"

static void
test_topic_builder(void)
{
	char buf[64], small[16];
	char big[200];

	T_CHECK(gk_bus_topic(buf, sizeof(buf), "ecogate/v1/%s/lane/%s/plate",
	    "site1", "in-1") == 0);
	T_STREQ(buf, "ecogate/v1/site1/lane/in-1/plate");
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "scale/%d/weight/%u/%%", -3, 7u) == 0);
	T_STREQ(buf, "scale/-3/weight/7/%");
	/* UTF-8 in a level is fine. */
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "lane/%s", "入口1") == 0);
	T_STREQ(buf, "lane/入口1");

	/* Injection: a substituted part must stay one level with no wildcard. */
	errno = 0;
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "lane/%s/plate", "a/b") == -1);
	T_CHECK(errno == EINVAL);
	T_CHECK(buf[0] == '\0');
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "lane/%s/plate", "+") == -1);
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "lane/%s/plate", "#") == -1);
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "lane/%s/plate", "in+1") == -1);
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "lane/%s/plate", "x#") == -1);
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "lane/%s/plate", "") == -1);
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "lane/%s/plate", "a\nb") == -1);
	/* The format itself may not carry wildcards either, nor other conversions. */
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "lane/+/%s", "x") == -1);
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "lane/#") == -1);
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "%s", "") == -1);

	/* Too long: rejected, never cut. */
	errno = 0;
	T_CHECK(gk_bus_topic(small, sizeof(small), "ecogate/%s", "abcdefgh") == -1);
	T_CHECK(errno == ENAMETOOLONG);
	T_CHECK(small[0] == '\0');
	T_CHECK(gk_bus_topic(small, sizeof(small), "ecogate/%s", "abcdefg") == 0);
	T_STREQ(small, "ecogate/abcdefg");	/* exactly 15 + NUL */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	T_CHECK(gk_bus_topic(buf, sizeof(buf), "a/%s", big) == -1);
}

static void
test_valid(void)
{
	T_CHECK(gk_bus_topic_valid("a/b"));
	T_CHECK(gk_bus_topic_valid("/"));
	T_CHECK(!gk_bus_topic_valid(""));
	T_CHECK(!gk_bus_topic_valid(NULL));
	T_CHECK(!gk_bus_topic_valid("a/+"));
	T_CHECK(!gk_bus_topic_valid("a/#"));

	T_CHECK(gk_bus_filter_valid("#"));
	T_CHECK(gk_bus_filter_valid("+"));
	T_CHECK(gk_bus_filter_valid("a/+/b/#"));
	T_CHECK(gk_bus_filter_valid("+/+"));
	T_CHECK(gk_bus_filter_valid("/+"));
	T_CHECK(!gk_bus_filter_valid(""));
	T_CHECK(!gk_bus_filter_valid("a/#/b"));
	T_CHECK(!gk_bus_filter_valid("a#"));
	T_CHECK(!gk_bus_filter_valid("a/b#"));
	T_CHECK(!gk_bus_filter_valid("a+/b"));
	T_CHECK(!gk_bus_filter_valid("a/++"));
	T_CHECK(!gk_bus_filter_valid("##"));
}

static void
test_match(void)
{
	static const struct {
		const char *filter, *topic;
		int want;
	} tab[] = {
		{ "a/b/c", "a/b/c", 1 },
		{ "a/b/c", "a/b", 0 },
		{ "a/b", "a/b/c", 0 },
		{ "a/b/c", "a/b/d", 0 },
		{ "a/b/c", "A/b/c", 0 },
		{ "#", "a", 1 },
		{ "#", "a/b/c", 1 },
		{ "#", "/", 1 },
		{ "a/#", "a", 1 },		/* the parent level too */
		{ "a/#", "a/b", 1 },
		{ "a/#", "a/b/c", 1 },
		{ "a/#", "ab", 0 },
		{ "a/#", "b/a", 0 },
		{ "+", "a", 1 },
		{ "+", "a/b", 0 },
		{ "+", "/a", 0 },
		{ "+/+", "/a", 1 },		/* "" and "a" */
		{ "/+", "/a", 1 },
		{ "a/+", "a/", 1 },		/* an empty level still is a level */
		{ "a/+", "a", 0 },
		{ "a/+/c", "a/b/c", 1 },
		{ "a/+/c", "a//c", 1 },
		{ "a/+/c", "a/b/d", 0 },
		{ "a/+/#", "a/b", 1 },
		{ "a/+/#", "a/b/c/d", 1 },
		{ "a/+/#", "a", 0 },
		{ "lane/+/plate", "lane/in-1/plate", 1 },
		{ "lane/+/plate", "lane/in-1/frame", 0 },
		{ "lane/+/plate", "lane/a/b/plate", 0 },
		/* $ topics are not matched by a leading wildcard. */
		{ "#", "$SYS/broker/uptime", 0 },
		{ "+/broker/uptime", "$SYS/broker/uptime", 0 },
		{ "$SYS/#", "$SYS/broker/uptime", 1 },
		{ "$SYS/+/uptime", "$SYS/broker/uptime", 1 },
		/* Invalid filter or topic never matches. */
		{ "a/#/c", "a/b/c", 0 },
		{ "a+", "a+", 0 },
		{ "a/b", "a/+", 0 },
		{ "", "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		T_CHECKF(gk_bus_topic_match(tab[i].filter, tab[i].topic) == tab[i].want,
		    "match(\"%s\", \"%s\") should be %d", tab[i].filter, tab[i].topic,
		    tab[i].want);
}

static void
test_backoff(void)
{
	static const uint32_t rnds[] = { 0, 1, 7, 12345, 0x7fffffffu, 0xffffffffu };
	unsigned a;
	size_t i;
	int64_t d, want, lo_seen = -1, hi_seen = -1;

	for (a = 0; a < 40; a++) {
		/* The un-jittered delay: 500 doubled a times, capped at 30 s. */
		want = a < 7 ? 500LL << a : 30000;
		if (want > 30000)
			want = 30000;
		for (i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
			d = gk_bus_backoff_ms(a, 500, 30000, rnds[i]);
			T_CHECKF(d >= want / 2 && d <= want,
			    "attempt %u rnd %u: %lld not in [%lld, %lld]", a,
			    rnds[i], (long long)d, (long long)want / 2,
			    (long long)want);
		}
	}
	/* The jitter spans the whole range. */
	for (i = 0; i < 2000; i++) {
		d = gk_bus_backoff_ms(3, 500, 30000, (uint32_t)(i * 2654435761u));
		if (lo_seen == -1 || d < lo_seen)
			lo_seen = d;
		if (d > hi_seen)
			hi_seen = d;
	}
	T_CHECKF(lo_seen < 2200 && hi_seen > 3800, "spread %lld..%lld",
	    (long long)lo_seen, (long long)hi_seen);
	/* Nonsense bounds are made sane, not trusted. */
	T_CHECK(gk_bus_backoff_ms(0, 0, 0, 5) >= 0);
	T_CHECK(gk_bus_backoff_ms(100, 1000, 10, 5) <= 1000);
	/* Doubling near the top of int64_t caps instead of overflowing (UBSan). */
	d = gk_bus_backoff_ms(1, INT64_MAX / 2 + 1, INT64_MAX, 0);
	T_CHECKF(d >= INT64_MAX / 2 && d <= INT64_MAX, "huge: %lld", (long long)d);
	d = gk_bus_backoff_ms(5, INT64_MAX / 3, INT64_MAX, 0xffffffffu);
	T_CHECKF(d >= INT64_MAX / 2 && d <= INT64_MAX, "huge: %lld", (long long)d);
}

int
main(void)
{
	test_topic_builder();
	test_valid();
	test_match();
	test_backoff();
	return T_DONE();
}
