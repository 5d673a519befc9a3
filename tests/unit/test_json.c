/*
 * Unit tests of gatekit/json: what strict parsing accepts and refuses (duplicates,
 * bad UTF-8, NUL, surrogates, trailing bytes, size and depth limits, truncation) with
 * line and column in every positional message, the typed getters, compact dumping,
 * and that every golden valid*.json under schemas/examples parses strictly.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatekit/json.h"
#include "t.h"

#define MAX	65536

/* Parses a C string literal (sizeof - 1 keeps embedded NULs). */
#define PARSE(lit, err)	gk_json_parse((lit), sizeof(lit) - 1, MAX, (err), sizeof(err))

static void
expect_ok(const char *what, const char *buf, size_t len)
{
	char err[256];
	json_t *j;

	j = gk_json_parse(buf, len, MAX, err, sizeof(err));
	T_CHECKF(j != NULL, "%s: %s", what, err);
	json_decref(j);
}

/* Expects a rejection whose message starts "line L column C: " and holds frag. */
static void
expect_bad(const char *what, const char *buf, size_t len, int line, int col,
    const char *frag)
{
	char err[256], pos[64];
	json_t *j;

	j = gk_json_parse(buf, len, MAX, err, sizeof(err));
	T_CHECKF(j == NULL, "%s accepted", what);
	json_decref(j);
	snprintf(pos, sizeof(pos), "line %d column %d: ", line, col);
	T_CHECKF(strncmp(err, pos, strlen(pos)) == 0, "%s: '%s' lacks '%s'", what,
	    err, pos);
	T_CHECKF(strstr(err, frag) != NULL, "%s: '%s' lacks '%s'", what, err, frag);
}

#define OK(what, lit)	expect_ok((what), (lit), sizeof(lit) - 1)
#define BAD(what, lit, line, col, frag) \
	expect_bad((what), (lit), sizeof(lit) - 1, (line), (col), (frag))

static void
test_valid(void)
{
	char err[256];
	json_t *j;

	OK("object", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}");
	OK("array", "[1,2.5,-3e2,\"x\"]");
	OK("empty object", "{}");
	OK("blanks around", " \n\t{ \"a\" : 1 }\r\n ");
	OK("utf-8", "{\"plate\":\"\xe6\xb2\xaa" "A12345\"}");	/* 沪A12345 */
	OK("4-byte utf-8", "{\"e\":\"\xf0\x9f\x98\x80\"}");
	OK("surrogate pair escape", "{\"e\":\"\\ud83d\\ude00\"}");
	OK("escapes", "{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}");
	OK("same key in two objects", "[{\"a\":1},{\"a\":2}]");
	OK("big integer", "{\"n\":9223372036854775807}");

	/* Not NUL-terminated: only len bytes are read. */
	j = gk_json_parse("{\"a\":1}garbage", 7, MAX, err, sizeof(err));
	T_CHECKF(j != NULL, "%s", err);
	json_decref(j);
}

static void
test_invalid(void)
{
	char err[256];
	json_t *j;

	BAD("duplicate key", "{\"a\":1,\"a\":2}", 1, 10, "duplicate");
	BAD("nested duplicate", "{\"x\":{\n\"b\":1,\n\"b\":2}}", 3, 3, "duplicate");
	BAD("overlong '/'", "{\"a\":\"\xc0\xaf\"}", 1, 6, "0xc0");
	BAD("overlong NUL", "{\"a\":\"\xc0\x80\"}", 1, 6, "0xc0");
	BAD("encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}", 1, 6, "0xed");
	BAD("stray continuation", "{\"a\":\"\x80\"}", 1, 6, "0x80");
	BAD("truncated sequence", "{\"a\":\"\xe6\xb2\"}", 1, 6, "0xe6");
	BAD("above U+10FFFF", "{\"a\":\"\xf4\x90\x80\x80\"}", 1, 6, "0xf4");
	BAD("lone high surrogate escape", "{\"a\":\"\\ud800\"}", 1, 13,
	    "invalid Unicode");
	BAD("lone low surrogate escape", "{\"a\":\"\\udc00\"}", 1, 13,
	    "invalid Unicode");
	BAD("high surrogate then letter", "{\"a\":\"\\ud800\\u0041\"}", 1, 19,
	    "invalid Unicode");
	BAD("NUL escape", "{\"a\":\"\\u0000\"}", 1, 13, "\\u0000");
	BAD("raw NUL in string", "{\"a\":\"x\0\"}", 1, 7, "control character");
	BAD("raw NUL after document", "{\"a\":1}\0", 1, 8, "end of file");
	BAD("trailing garbage", "{\"a\":1} x", 1, 9, "end of file expected");
	BAD("second document", "{}{}", 1, 3, "end of file expected");
	BAD("truncated array", "{\"a\":[1,2", 1, 9, "']' expected");
	BAD("truncated string", "{\"a\":\"abc", 1, 9, "premature end");
	BAD("truncated after key", "{\"a\"", 1, 4, "':' expected");
	BAD("empty", "", 1, 0, "expected");
	BAD("bare scalar", "42", 1, 2, "'[' or '{' expected");
	BAD("bare string", "\"a\"", 1, 3, "'[' or '{' expected");
	BAD("too big integer", "{\"n\":9223372036854775808}", 1, 24, "too big");
	BAD("trailing comma", "{\"a\":1,}", 1, 8, "string or '}' expected");
	BAD("single quotes", "{'a':1}", 1, 2, "string or '}' expected");
	BAD("comment", "{\"a\":1 /* c */}", 1, 8, "'}' expected");
	BAD("NaN", "{\"a\":NaN}", 1, 8, "invalid token");
	BAD("raw newline in string", "{\"a\":\"x\ny\"}", 1, 7, "unexpected newline");
	BAD("bad token line 3", "{\n \"a\":\n  tru }", 3, 5, "invalid token");

	/* Too large: refused before reading, with both sizes. */
	j = gk_json_parse("{\"a\":1}", 7, 6, err, sizeof(err));
	T_CHECK(j == NULL);
	T_STREQ(err, "document is 7 bytes, more than the 6 allowed");
	j = gk_json_parse("{\"a\":1}", 7, 7, err, sizeof(err));
	T_CHECKF(j != NULL, "%s", err);
	json_decref(j);

	/* A tiny error buffer is still terminated. */
	{
		char small[5];

		memset(small, 'x', sizeof(small));
		T_CHECK(gk_json_parse("[", 1, MAX, small, sizeof(small)) == NULL);
		T_CHECK(small[4] == '\0');
		T_CHECK(gk_json_parse("[", 1, MAX, NULL, 0) == NULL);
	}
}

/* n nested arrays "[[[...]]]"; caller frees. */
static char *
nested(int n, const char *open, const char *close)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *s = malloc((size_t)n * (lo + lc) + 1), *p = s;
	int i;

	T_REQUIRE(s != NULL);
	for (i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	for (i = 0; i < n; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void
test_depth(void)
{
	char err[256], want[128];
	json_t *j;
	char *s;

	s = nested(GK_JSON_MAX_DEPTH, "[", "]");
	j = gk_json_parse(s, strlen(s), MAX, err, sizeof(err));
	T_CHECKF(j != NULL, "depth %d: %s", GK_JSON_MAX_DEPTH, err);
	json_decref(j);
	free(s);

	s = nested(GK_JSON_MAX_DEPTH + 1, "[", "]");
	T_CHECK(gk_json_parse(s, strlen(s), MAX, err, sizeof(err)) == NULL);
	snprintf(want, sizeof(want), "line 1 column %d: nesting deeper than %d",
	    GK_JSON_MAX_DEPTH + 1, GK_JSON_MAX_DEPTH);
	T_STREQ(err, want);
	free(s);

	/* Objects count too; 33 levels with a newline before them. */
	s = nested(GK_JSON_MAX_DEPTH + 1, "{\"k\":", "}");
	T_CHECK(gk_json_parse(s, strlen(s), MAX, err, sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "nesting deeper than") != NULL, "%s", err);
	free(s);

	/* Beyond jansson's own limit (2048): still our message, no deep recursion. */
	s = nested(100000, "[", "]");
	T_CHECK(gk_json_parse(s, strlen(s), 1 << 20, err, sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "line 1 column 33: nesting deeper") != NULL, "%s",
	    err);
	free(s);

	/* Brackets inside strings do not count, escaped quotes do not end them. */
	s = malloc(200);
	T_REQUIRE(s != NULL);
	snprintf(s, 200, "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\","
	    "\"b\":[1]}");
	j = gk_json_parse(s, strlen(s), MAX, err, sizeof(err));
	T_CHECKF(j != NULL, "%s", err);
	json_decref(j);
	free(s);

	/* The column is counted in characters, as jansson does: 沪 is one. */
	{
		static const char doc[] = "{\"\xe6\xb2\xaa\":"
		    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}";

		T_CHECK(PARSE(doc, err) == NULL);
		T_STREQ(err, "line 1 column 37: nesting deeper than 32");
	}
}

static void
test_getters(void)
{
	static const char doc[] = "{\"s\":\"abc\",\"i\":-42,\"r\":2.5,\"t\":true,"
	    "\"f\":false,\"n\":null,\"o\":{},\"big\":9223372036854775807,"
	    "\"one\":1.0,\"u\":\"\xe6\xb2\xaa" "A1\"}";
	char err[256], buf[8];
	const char *s;
	long long i;
	double d;
	json_t *j;
	int b;

	j = PARSE(doc, err);
	T_REQUIRE(j != NULL);

	T_CHECK(gk_json_get_str(j, "s", &s) == GK_JSON_OK);
	T_STREQ(s, "abc");
	s = "untouched";
	T_CHECK(gk_json_get_str(j, "nope", &s) == GK_JSON_ABSENT);
	T_CHECK(gk_json_get_str(j, "i", &s) == GK_JSON_WRONG_TYPE);
	T_CHECK(gk_json_get_str(j, "n", &s) == GK_JSON_WRONG_TYPE);
	T_STREQ(s, "untouched");

	T_CHECK(gk_json_get_int(j, "i", &i) == GK_JSON_OK && i == -42);
	T_CHECK(gk_json_get_int(j, "big", &i) == GK_JSON_OK &&
	    i == 9223372036854775807LL);
	T_CHECK(gk_json_get_int(j, "r", &i) == GK_JSON_WRONG_TYPE);
	T_CHECK(gk_json_get_int(j, "one", &i) == GK_JSON_WRONG_TYPE);
	T_CHECK(gk_json_get_int(j, "s", &i) == GK_JSON_WRONG_TYPE);
	T_CHECK(gk_json_get_int(j, "nope", &i) == GK_JSON_ABSENT);

	T_CHECK(gk_json_get_double(j, "r", &d) == GK_JSON_OK && d == 2.5);
	T_CHECK(gk_json_get_double(j, "i", &d) == GK_JSON_OK && d == -42.0);
	T_CHECK(gk_json_get_double(j, "t", &d) == GK_JSON_WRONG_TYPE);
	T_CHECK(gk_json_get_double(j, "nope", &d) == GK_JSON_ABSENT);

	T_CHECK(gk_json_get_bool(j, "t", &b) == GK_JSON_OK && b == 1);
	T_CHECK(gk_json_get_bool(j, "f", &b) == GK_JSON_OK && b == 0);
	T_CHECK(gk_json_get_bool(j, "i", &b) == GK_JSON_WRONG_TYPE);
	T_CHECK(gk_json_get_bool(j, "n", &b) == GK_JSON_WRONG_TYPE);
	T_CHECK(gk_json_get_bool(j, "nope", &b) == GK_JSON_ABSENT);

	/* strbuf: fits with its NUL, or is refused (never truncated). */
	T_CHECK(gk_json_get_strbuf(j, "s", buf, sizeof(buf)) == GK_JSON_OK);
	T_STREQ(buf, "abc");
	T_CHECK(gk_json_get_strbuf(j, "u", buf, 6) == GK_JSON_OK);	/* 5 bytes */
	T_STREQ(buf, "\xe6\xb2\xaa" "A1");
	T_CHECK(gk_json_get_strbuf(j, "u", buf, 5) == GK_JSON_TOO_LONG);
	T_STREQ(buf, "");
	T_CHECK(gk_json_get_strbuf(j, "s", buf, 3) == GK_JSON_TOO_LONG);
	T_CHECK(gk_json_get_strbuf(j, "s", buf, 4) == GK_JSON_OK);
	T_CHECK(gk_json_get_strbuf(j, "o", buf, 4) == GK_JSON_WRONG_TYPE);
	T_CHECK(gk_json_get_strbuf(j, "nope", buf, 4) == GK_JSON_ABSENT);

	/* Not an object: everything is absent. */
	T_CHECK(gk_json_get_str(NULL, "s", &s) == GK_JSON_ABSENT);
	{
		json_t *arr = json_array();

		T_CHECK(gk_json_get_int(arr, "i", &i) == GK_JSON_ABSENT);
		json_decref(arr);
	}

	/* A string with a NUL, built by code, is refused by strbuf. */
	{
		json_t *o = json_object();

		json_object_set_new(o, "z", json_stringn("a\0b", 3));
		T_CHECK(gk_json_get_strbuf(o, "z", buf, sizeof(buf)) ==
		    GK_JSON_TOO_LONG);
		json_decref(o);
	}

	T_STREQ(gk_json_strerror(GK_JSON_ABSENT), "absent");
	T_STREQ(gk_json_strerror(GK_JSON_WRONG_TYPE), "wrong type");
	T_STREQ(gk_json_strerror(GK_JSON_TOO_LONG), "too long");
	json_decref(j);
}

/* Refusing unknown keys: the first stranger is named. */
static void
test_only_keys(void)
{
	static const char *const names[] = { "plate", "lane", NULL };
	const char	*bad = NULL;
	json_t		*j;

	T_REQUIRE((j = json_loads("{\"plate\":\"x\",\"lane\":\"in-1\"}", 0,
	    NULL)) != NULL);
	T_CHECK(gk_json_only_keys(j, names, &bad) == 0 && bad == NULL);
	json_decref(j);
	T_REQUIRE((j = json_loads("{}", 0, NULL)) != NULL);
	T_CHECK(gk_json_only_keys(j, names, &bad) == 0);
	json_decref(j);
	T_REQUIRE((j = json_loads("{\"plate\":\"x\",\"colour\":\"blue\"}", 0,
	    NULL)) != NULL);
	T_CHECK(gk_json_only_keys(j, names, &bad) == -1 && bad != NULL &&
	    strcmp(bad, "colour") == 0);
	json_decref(j);
}

static void
test_dump(void)
{
	static const char doc[] = "{ \"z\" : 1, \"a\" : [ true, null ], "
	    "\"plate\" : \"\xe6\xb2\xaa" "A12345\", \"m\" : {\"y\":2.5,\"b\":\"/\"} }";
	char err[256], *out;
	json_t *j;

	j = PARSE(doc, err);
	T_REQUIRE(j != NULL);
	out = gk_json_dump_compact(j);
	T_REQUIRE(out != NULL);
	T_STREQ(out, "{\"z\":1,\"a\":[true,null],\"plate\":\"\xe6\xb2\xaa"
	    "A12345\",\"m\":{\"y\":2.5,\"b\":\"/\"}}");
	free(out);
	json_decref(j);

	j = json_string("x\"y");
	out = gk_json_dump_compact(j);
	T_REQUIRE(out != NULL);
	T_STREQ(out, "\"x\\\"y\"");
	free(out);
	json_decref(j);
}

static void
test_file(void)
{
	char err[512], path[] = "/tmp/test_json.XXXXXX";
	json_t *j;
	FILE *fp;
	int fd;

	fd = mkstemp(path);
	T_REQUIRE(fd != -1);
	fp = fdopen(fd, "w");
	T_REQUIRE(fp != NULL);
	fputs("{\n  \"a\": 1,\n  \"a\": 2\n}\n", fp);
	T_REQUIRE(fclose(fp) == 0);

	T_CHECK(gk_json_parse_file(path, MAX, err, sizeof(err)) == NULL);
	T_CHECKF(strncmp(err, path, strlen(path)) == 0 &&
	    strstr(err, ": line 3 column 5: duplicate object key") != NULL, "%s",
	    err);
	T_CHECK(gk_json_parse_file(path, 10, err, sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "document is 23 bytes, more than the 10 allowed") !=
	    NULL, "%s", err);

	fp = fopen(path, "w");
	T_REQUIRE(fp != NULL);
	fputs("[1, {\"b\": \"c\"}]\n", fp);
	T_REQUIRE(fclose(fp) == 0);
	j = gk_json_parse_file(path, MAX, err, sizeof(err));
	T_CHECKF(j != NULL, "%s", err);
	T_CHECK(json_array_size(j) == 2);
	json_decref(j);
	unlink(path);

	T_CHECK(gk_json_parse_file(path, MAX, err, sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "cannot open") != NULL, "%s", err);
}

static int nexamples;

static int
visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *base = path + ftw->base;
	size_t n = strlen(base);
	char err[512];
	json_t *j;

	(void)st;
	if (type != FTW_F || strncmp(base, "valid", 5) != 0 || n < 5 ||
	    strcmp(base + n - 5, ".json") != 0)
		return 0;
	nexamples++;
	j = gk_json_parse_file(path, 1 << 20, err, sizeof(err));
	T_CHECKF(j != NULL, "%s", err);
	T_CHECKF(j == NULL || json_is_object(j), "%s: not an object", path);
	json_decref(j);
	return 0;
}

static void
test_examples(void)
{
	char dir[1024];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/schemas/examples",
	    t_env("ECOGATE_SOURCE_DIR", "."));
	if (stat(dir, &st) == -1) {
		printf("skip: %s absent\n", dir);
		return;
	}
	T_CHECK(nftw(dir, visit, 16, FTW_PHYS) == 0);
	printf("%d golden examples parsed\n", nexamples);
}

int
main(void)
{
	test_valid();
	test_invalid();
	test_depth();
	test_getters();
	test_only_keys();
	test_dump();
	test_file();
	test_examples();
	return T_DONE();
}
