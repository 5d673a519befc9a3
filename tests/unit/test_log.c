/*
 * Unit tests of gatekit/log.h. The log is captured through a pipe (gk_log_set_fd) that
 * a reader thread drains, and every line is parsed with jansson, so the tests check
 * what a consumer of our logs sees: one valid JSON object per line with the right
 * types, escaping that survives any input, the level filter, truncation, and whole
 * lines when many threads log at once.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "gatekit/log.h"
#include "gatekit/util.h"
#include "t.h"

/* A pipe whose read end a thread drains into buf until EOF. */
struct capture {
	int		 rfd, wfd;
	pthread_t	 th;
	char		*buf;
	size_t		 len, cap;
};

static void *
capture_reader(void *arg)
{
	struct capture	*c = arg;
	ssize_t		 n;

	for (;;) {
		if (c->cap - c->len < 65536) {
			c->cap = c->cap * 2 + 65536;
			c->buf = realloc(c->buf, c->cap);
			if (c->buf == NULL)
				abort();
		}
		n = read(c->rfd, c->buf + c->len, c->cap - c->len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		c->len += (size_t)n;
	}
	c->buf[c->len] = '\0';
	return NULL;
}

static void
capture_start(struct capture *c)
{
	int	 p[2];

	memset(c, 0, sizeof(*c));
	T_REQUIRE(pipe(p) == 0);
	c->rfd = p[0];
	c->wfd = p[1];
	T_REQUIRE(pthread_create(&c->th, NULL, capture_reader, c) == 0);
	gk_log_set_fd(c->wfd);
}

/* Ends the capture; the caller frees c->buf. */
static void
capture_stop(struct capture *c)
{
	gk_log_set_fd(STDERR_FILENO);
	close(c->wfd);
	pthread_join(c->th, NULL);
	close(c->rfd);
}

/* Splits the captured text into lines and parses each; returns the count. */
static size_t
parse_lines(struct capture *c, json_t **out, size_t max, int *bad)
{
	char		*p = c->buf, *nl;
	json_error_t	 err;
	size_t		 n = 0;

	*bad = 0;
	while (p < c->buf + c->len) {
		if ((nl = memchr(p, '\n', (size_t)(c->buf + c->len - p))) == NULL) {
			(*bad)++;	/* a line without its newline */
			break;
		}
		json_t *j = json_loadb(p, (size_t)(nl - p), 0, &err);
		if (j == NULL || !json_is_object(j)) {
			(*bad)++;
			fprintf(stderr, "bad line: %s: %.*s\n", err.text,
			    (int)(nl - p > 300 ? 300 : nl - p), p);
			json_decref(j);
		} else if (n < max)
			out[n++] = j;
		else
			json_decref(j);
		p = nl + 1;
	}
	return n;
}

static void
free_lines(json_t **j, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		json_decref(j[i]);
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
test_fields(void)
{
	struct capture	 c;
	json_t		*j[4];
	int		 bad;
	size_t		 n;
	int64_t		 before, after, ts;

	gk_log_init("testsvc");
	gk_log_set_level(GK_LOG_DEBUG);
	capture_start(&c);
	before = gk_wall_ms();
	gk_log(GK_LOG_INFO, "passage.decided",
	    "lane=%s plate=%s ms=%d neg=%d big=%lld u=%u l=%ld ul=%lu "
	    "ull=%llu z=%zu zd=%zd i=%i f=%f g=%g c=%c x=%x kind=literal",
	    "in-1", "沪A12345", 12, -7, -9000000000000LL, 4000000000u,
	    -123456789L, 123456789UL, 4611686018427387905ULL, (size_t)77,
	    (ssize_t)-77, 5, 2.5, 0.125, 'Q', 255u);
	after = gk_wall_ms();
	capture_stop(&c);

	T_CHECK(strncmp(c.buf, "{\"ts\":\"", 7) == 0);
	T_CHECK(strstr(c.buf, "\"ull\":4611686018427387905,") != NULL);
	n = parse_lines(&c, j, GK_NELEM(j), &bad);
	T_REQUIRE(n == 1 && bad == 0);
	T_STREQ(jstr(j[0], "lvl"), "info");
	T_STREQ(jstr(j[0], "svc"), "testsvc");
	T_STREQ(jstr(j[0], "event"), "passage.decided");
	T_CHECK(gk_ts_parse(jstr(j[0], "ts"), &ts) == 0);
	T_CHECK(ts >= before && ts <= after);
	T_CHECK(strlen(jstr(j[0], "ts")) == GK_TS_LEN - 1);
	T_STREQ(jstr(j[0], "lane"), "in-1");
	T_STREQ(jstr(j[0], "plate"), "沪A12345");
	T_CHECK(json_is_integer(json_object_get(j[0], "ms")));
	T_CHECK(json_integer_value(json_object_get(j[0], "ms")) == 12);
	T_CHECK(json_integer_value(json_object_get(j[0], "neg")) == -7);
	T_CHECK(json_integer_value(json_object_get(j[0], "big")) ==
	    -9000000000000LL);
	T_CHECK(json_integer_value(json_object_get(j[0], "u")) == 4000000000LL);
	T_CHECK(json_integer_value(json_object_get(j[0], "l")) == -123456789);
	T_CHECK(json_integer_value(json_object_get(j[0], "ul")) == 123456789);
	T_CHECK(json_integer_value(json_object_get(j[0], "ull")) ==
	    4611686018427387905LL);
	T_CHECK(json_integer_value(json_object_get(j[0], "z")) == 77);
	T_CHECK(json_integer_value(json_object_get(j[0], "zd")) == -77);
	T_CHECK(json_integer_value(json_object_get(j[0], "i")) == 5);
	T_CHECK(json_is_real(json_object_get(j[0], "f")));
	T_CHECK(json_real_value(json_object_get(j[0], "f")) == 2.5);
	T_CHECK(json_number_value(json_object_get(j[0], "g")) == 0.125);
	T_STREQ(jstr(j[0], "c"), "Q");
	T_STREQ(jstr(j[0], "x"), "ff");
	T_STREQ(jstr(j[0], "kind"), "literal");
	T_CHECK(json_object_size(j[0]) == 4 + 17);
	free_lines(j, n);
	free(c.buf);

	/* Past json_int_t: still a JSON number, which jansson reads as a real. */
	capture_start(&c);
	gk_log(GK_LOG_INFO, "max", "ull=%llu", 18446744073709551615ULL);
	capture_stop(&c);
	T_CHECK(strstr(c.buf, "\"ull\":18446744073709551615}\n") != NULL);
	{
		json_error_t	 err;
		json_t		*o = json_loads(c.buf, JSON_DECODE_INT_AS_REAL |
		    JSON_DISABLE_EOF_CHECK, &err);

		T_CHECK(o != NULL && json_is_real(json_object_get(o, "ull")));
		json_decref(o);
	}
	free(c.buf);
}

/* A NULL the compiler cannot see through, as a NULL %s arrives in real code. */
static const char *volatile nothing;

static void
test_escaping(void)
{
	struct capture	 c;
	json_t		*j[4];
	int		 bad;
	size_t		 n;
	char		 ctl[40];
	int		 i;

	for (i = 1; i < 32; i++)
		ctl[i - 1] = (char)i;
	ctl[31] = 0x7f;
	ctl[32] = '\0';

	capture_start(&c);
	gk_log(GK_LOG_WARN, "esc.\"ev\"\n", "q=%s nl=%s ctl=%s zh=%s bad=%s cut=%s "
	    "overlong=%s surrogate=%s big=%s nul=%s",
	    "say \"hi\" \\ back\\slash", "a\nb\r\tc", ctl,
	    "粤B·12345 学", "a\xff" "b\xfe", "x\xe6\xb2", "\xc0\xaf",
	    "\xed\xa0\x80", "\xf0\x9f\x9a\x9b", nothing);
	capture_stop(&c);

	n = parse_lines(&c, j, GK_NELEM(j), &bad);
	T_REQUIRE(n == 1 && bad == 0);
	T_STREQ(jstr(j[0], "event"), "esc.\"ev\"\n");
	T_STREQ(jstr(j[0], "lvl"), "warn");
	T_STREQ(jstr(j[0], "q"), "say \"hi\" \\ back\\slash");
	T_STREQ(jstr(j[0], "nl"), "a\nb\r\tc");
	T_STREQ(jstr(j[0], "ctl"), ctl);
	T_STREQ(jstr(j[0], "zh"), "粤B·12345 学");
	T_STREQ(jstr(j[0], "bad"), "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	T_STREQ(jstr(j[0], "cut"), "x\xef\xbf\xbd\xef\xbf\xbd");
	T_STREQ(jstr(j[0], "overlong"), "\xef\xbf\xbd\xef\xbf\xbd");
	T_STREQ(jstr(j[0], "surrogate"),
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	T_STREQ(jstr(j[0], "big"), "\xf0\x9f\x9a\x9b");
	T_CHECK(json_is_null(json_object_get(j[0], "nul")));
	/* Control characters never appear raw in the line. */
	for (i = 0; (size_t)i < c.len - 1; i++)
		if ((unsigned char)c.buf[i] < 0x20)
			break;
	T_CHECK((size_t)i == c.len - 1);
	T_CHECK(strstr(c.buf, "\\u0001") != NULL && strstr(c.buf, "\\u001f"));
	free_lines(j, n);
	free(c.buf);
}

static void
test_conversions(void)
{
	struct capture	 c;
	json_t		*j[4];
	int		 bad;
	size_t		 n;
	int		 x = 0;

	capture_start(&c);
	errno = ENOENT;
	gk_log(GK_LOG_INFO, "conv",
	    "pair=%d/%d pct=%d%% w=%5d p2=%.2f s3=%.3s star=%*d after=%s "
	    "nan=%f inf=%g h8=%08x hx=%X hh=%hhd sh=%hu ptr=%p err=%m "
	    "plus=%+d lone=%% bare",
	    3, 4, 5, 42, 3.14159, "abcdef", 6, 7, "ok", NAN, INFINITY, 255u,
	    0xabcu, (signed char)300, (unsigned short)70000, (void *)&x, -1);
	T_CHECK(errno == ENOENT);	/* logging keeps errno */
	capture_stop(&c);

	n = parse_lines(&c, j, GK_NELEM(j), &bad);
	T_REQUIRE(n == 1 && bad == 0);
	T_STREQ(jstr(j[0], "pair"), "3/4");
	T_STREQ(jstr(j[0], "pct"), "5%");
	T_CHECK(json_integer_value(json_object_get(j[0], "w")) == 42);
	T_CHECK(fabs(json_number_value(json_object_get(j[0], "p2")) - 3.14) <
	    1e-9);
	T_CHECK(strstr(c.buf, "\"p2\":3.14,") != NULL);
	T_STREQ(jstr(j[0], "s3"), "abc");
	T_CHECK(json_integer_value(json_object_get(j[0], "star")) == 7);
	T_STREQ(jstr(j[0], "after"), "ok");
	T_CHECK(json_is_null(json_object_get(j[0], "nan")));
	T_CHECK(json_is_null(json_object_get(j[0], "inf")));
	T_STREQ(jstr(j[0], "h8"), "000000ff");
	T_STREQ(jstr(j[0], "hx"), "ABC");
	T_CHECK(json_integer_value(json_object_get(j[0], "hh")) == 44);
	T_CHECK(json_integer_value(json_object_get(j[0], "sh")) == 4464);
	T_CHECK(jstr(j[0], "ptr") != NULL && strncmp(jstr(j[0], "ptr"),
	    "0x", 2) == 0);
	T_STREQ(jstr(j[0], "err"), strerror(ENOENT));
	T_CHECK(json_integer_value(json_object_get(j[0], "plus")) == -1);
	T_STREQ(jstr(j[0], "lone"), "%");
	T_STREQ(jstr(j[0], "msg"), "bare");
	free_lines(j, n);
	free(c.buf);
}

/*
 * A conversion we cannot type leaves the argument list out of step: that field and
 * every later conversion print "?" rather than read the wrong argument.
 */
static void
test_unknown_conversion(void)
{
	struct capture	 c;
	json_t		*j[4];
	const char	*fmt;
	int		 bad;
	size_t		 n;

	fmt = getenv("NO_SUCH_VARIABLE_HERE") != NULL ? "" :
	    "a=%d b=%k c=%s d=x%s e=lit f=%";
	capture_start(&c);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
	gk_log(GK_LOG_INFO, "unknown", fmt, 1, 2, "three", "four");
#pragma GCC diagnostic pop
	capture_stop(&c);

	n = parse_lines(&c, j, GK_NELEM(j), &bad);
	T_REQUIRE(n == 1 && bad == 0);
	T_CHECK(json_integer_value(json_object_get(j[0], "a")) == 1);
	T_STREQ(jstr(j[0], "b"), "?");
	T_STREQ(jstr(j[0], "c"), "?");
	T_STREQ(jstr(j[0], "d"), "x?");
	T_STREQ(jstr(j[0], "e"), "lit");
	T_STREQ(jstr(j[0], "f"), "?");
	free_lines(j, n);
	free(c.buf);
}

static void
test_levels(void)
{
	struct capture		 c;
	json_t			*j[8];
	enum gk_log_level	 lv = GK_LOG_INFO;
	int			 bad;
	size_t			 n;

	T_CHECK(gk_log_level_parse("debug", &lv) == 0 && lv == GK_LOG_DEBUG);
	T_CHECK(gk_log_level_parse("info", &lv) == 0 && lv == GK_LOG_INFO);
	T_CHECK(gk_log_level_parse("warn", &lv) == 0 && lv == GK_LOG_WARN);
	T_CHECK(gk_log_level_parse("error", &lv) == 0 && lv == GK_LOG_ERR);
	lv = GK_LOG_WARN;
	T_CHECK(gk_log_level_parse("verbose", &lv) == -1 && lv == GK_LOG_WARN);
	T_CHECK(gk_log_level_parse("", &lv) == -1);
	T_CHECK(gk_log_level_parse("INFO ", &lv) == -1);
	T_CHECK(gk_log_level_parse(NULL, &lv) == -1);

	gk_log_set_level(GK_LOG_WARN);
	T_CHECK(gk_log_get_level() == GK_LOG_WARN);
	T_CHECK(!gk_log_enabled(GK_LOG_INFO) && gk_log_enabled(GK_LOG_ERR));
	capture_start(&c);
	gk_log(GK_LOG_DEBUG, "lv.debug", "n=%d", 1);
	gk_log(GK_LOG_INFO, "lv.info", "n=%d", 2);
	gk_log(GK_LOG_WARN, "lv.warn", "n=%d", 3);
	gk_log(GK_LOG_ERR, "lv.error", "n=%d", 4);
	gk_log_set_level(GK_LOG_DEBUG);
	gk_log(GK_LOG_DEBUG, "lv.debug", "n=%d", 5);
	gk_log(GK_LOG_INFO, "lv.noargs", NULL);
	capture_stop(&c);

	n = parse_lines(&c, j, GK_NELEM(j), &bad);
	T_REQUIRE(n == 4 && bad == 0);
	T_STREQ(jstr(j[0], "lvl"), "warn");
	T_STREQ(jstr(j[1], "lvl"), "error");
	T_STREQ(jstr(j[2], "lvl"), "debug");
	T_CHECK(json_integer_value(json_object_get(j[0], "n")) == 3);
	T_CHECK(json_integer_value(json_object_get(j[1], "n")) == 4);
	T_CHECK(json_integer_value(json_object_get(j[2], "n")) == 5);
	T_STREQ(jstr(j[3], "event"), "lv.noargs");
	T_CHECK(json_object_size(j[3]) == 4);
	free_lines(j, n);
	free(c.buf);

	/* The environment sets the level at init; a bad value is reported. */
	setenv("ECOGATE_LOG_LEVEL", "error", 1);
	gk_log_set_level(GK_LOG_INFO);
	gk_log_init("lvtest");
	T_CHECK(gk_log_get_level() == GK_LOG_ERR);
	setenv("ECOGATE_LOG_LEVEL", "loud", 1);
	gk_log_set_level(GK_LOG_INFO);
	capture_start(&c);
	gk_log_init("lvtest");
	capture_stop(&c);
	T_CHECK(gk_log_get_level() == GK_LOG_INFO);
	n = parse_lines(&c, j, GK_NELEM(j), &bad);
	T_REQUIRE(n == 1 && bad == 0);
	T_STREQ(jstr(j[0], "event"), "log.level_invalid");
	T_STREQ(jstr(j[0], "value"), "loud");
	T_STREQ(jstr(j[0], "svc"), "lvtest");
	free_lines(j, n);
	free(c.buf);
	unsetenv("ECOGATE_LOG_LEVEL");
	gk_log_set_level(GK_LOG_DEBUG);
}

static void
test_truncation(void)
{
	struct capture	 c;
	json_t		*j[4];
	char		*big, *mid;
	size_t		 n, len;
	int		 bad;

	big = malloc(10001);
	mid = malloc(7001);
	T_REQUIRE(big != NULL && mid != NULL);
	memset(big, 'b', 10000);
	big[10000] = '\0';
	memset(mid, 'm', 7000);
	mid[7000] = '\0';

	capture_start(&c);
	gk_log(GK_LOG_INFO, "trunc.big", "a=%d b=%s c=%d", 1, big, 3);
	gk_log(GK_LOG_INFO, "trunc.mid", "a=%d b=%s c=%d", 1, mid, 3);
	/* Many smaller fields: as many as fit, then the mark. */
	gk_log(GK_LOG_INFO, "trunc.many", "f1=%s f2=%s f3=%s f4=%s",
	    mid + 4000, mid + 4000, mid + 4000, mid + 4000);
	capture_stop(&c);

	n = parse_lines(&c, j, GK_NELEM(j), &bad);
	T_REQUIRE(n == 3 && bad == 0);
	/* Each line is at most 8 KiB including its newline. */
	{
		char	*p = c.buf, *nl;

		while ((nl = strchr(p, '\n')) != NULL) {
			len = (size_t)(nl - p) + 1;
			T_CHECKF(len <= 8192, "line of %zu bytes", len);
			p = nl + 1;
		}
	}
	T_CHECK(json_integer_value(json_object_get(j[0], "a")) == 1);
	T_CHECK(json_object_get(j[0], "b") == NULL);
	T_CHECK(json_object_get(j[0], "c") == NULL);
	T_CHECK(json_is_true(json_object_get(j[0], "truncated")));

	T_CHECK(jstr(j[1], "b") != NULL && strlen(jstr(j[1], "b")) == 7000);
	T_CHECK(json_integer_value(json_object_get(j[1], "c")) == 3);
	T_CHECK(json_object_get(j[1], "truncated") == NULL);

	T_CHECK(jstr(j[2], "f1") != NULL && jstr(j[2], "f2") != NULL);
	T_CHECK(json_object_get(j[2], "f3") == NULL);
	T_CHECK(json_is_true(json_object_get(j[2], "truncated")));
	free_lines(j, n);
	free(c.buf);
	free(big);
	free(mid);
}

#define NTHREADS	8
#define PER_THREAD	2000

/*
 * Payloads up to 7000 bytes: lines past PIPE_BUF, which the pipe alone would not keep
 * whole against other writers.
 */
#define PAYMAX		7000

static void *
log_thread(void *arg)
{
	int	 t = (int)(intptr_t)arg, i;
	char	 pay[PAYMAX + 1];
	size_t	 len;

	for (i = 0; i < PER_THREAD; i++) {
		len = (size_t)(i * 397 + t * 11) % PAYMAX;
		memset(pay, 'a' + t, len);
		pay[len] = '\0';
		gk_log(GK_LOG_INFO, "thread.line", "t=%d i=%d pay=%s zh=%s", t, i,
		    pay, "沪A·学");
	}
	return NULL;
}

static void
test_threads(void)
{
	static json_t	*j[NTHREADS * PER_THREAD + 1];
	struct capture	 c;
	pthread_t	 th[NTHREADS];
	int		 next[NTHREADS] = { 0 };
	int		 t, bad, wrong = 0;
	size_t		 n, i, len;
	const char	*pay;

	capture_start(&c);
	for (t = 0; t < NTHREADS; t++)
		T_REQUIRE(pthread_create(&th[t], NULL, log_thread,
		    (void *)(intptr_t)t) == 0);
	for (t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	capture_stop(&c);

	n = parse_lines(&c, j, GK_NELEM(j), &bad);
	T_CHECKF(bad == 0, "%d bad lines", bad);
	T_CHECKF(n == NTHREADS * PER_THREAD, "%zu lines", n);
	for (i = 0; i < n; i++) {
		t = (int)json_integer_value(json_object_get(j[i], "t"));
		if (t < 0 || t >= NTHREADS) {
			wrong++;
			continue;
		}
		/* Each thread's lines arrive whole and in its order. */
		if (json_integer_value(json_object_get(j[i], "i")) != next[t])
			wrong++;
		len = (size_t)(next[t] * 397 + t * 11) % PAYMAX;
		pay = jstr(j[i], "pay");
		if (pay == NULL || strlen(pay) != len ||
		    strspn(pay, (char[]){ (char)('a' + t), '\0' }) != len)
			wrong++;
		if (jstr(j[i], "zh") == NULL || strcmp(jstr(j[i], "zh"),
		    "沪A·学") != 0)
			wrong++;
		next[t]++;
	}
	T_CHECKF(wrong == 0, "%d wrong lines", wrong);
	T_CHECK(strstr(c.buf, "\"truncated\"") == NULL);
	for (t = 0; t < NTHREADS; t++)
		T_CHECK(next[t] == PER_THREAD);
	free_lines(j, n);
	free(c.buf);
}

int
main(void)
{
	test_fields();
	test_escaping();
	test_conversions();
	test_unknown_conversion();
	test_levels();
	test_truncation();
	test_threads();
	return T_DONE();
}
