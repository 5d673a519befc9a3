/*
 * Unit tests for RFC 8785 canonical JSON (services/ledger-writer/jcs.c). The
 * expected outputs of the RFC's own examples are copied from the RFC's text (section
 * 3.2.2's serialization example, section 3.2.3's sorting example, appendix B's
 * number table), not produced by this code; the edge cases around them are ours.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <gatekit/util.h>

#include "jcs.h"
#include "t.h"

static double
from_bits(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* Canonical form of the JSON text in, read as JCS reads it. */
static char *
canon_text(const char *in)
{
	char err[256];
	json_t *j;
	char *out;

	if ((j = jcs_parse(in, strlen(in), 1 << 20, err, sizeof(err))) == NULL) {
		fprintf(stderr, "parse: %s\n", err);
		return NULL;
	}
	out = jcs_canonical(j, NULL, err, sizeof(err));
	if (out == NULL)
		fprintf(stderr, "canonical: %s\n", err);
	json_decref(j);
	return out;
}

static void
check_canon(const char *in, const char *want)
{
	char *got = canon_text(in);

	T_CHECKF(got != NULL && strcmp(got, want) == 0, "%s -> %s, want %s", in,
	    got ? got : "(null)", want);
	free(got);
}

/* RFC 8785 appendix B: IEEE 754 bit patterns and their JSON text. */
static void
test_rfc_numbers(void)
{
	static const struct {
		uint64_t	 bits;
		const char	*want;
	} tab[] = {
		{ 0x0000000000000000ULL, "0" },
		{ 0x8000000000000000ULL, "0" },
		{ 0x0000000000000001ULL, "5e-324" },
		{ 0x8000000000000001ULL, "-5e-324" },
		{ 0x7fefffffffffffffULL, "1.7976931348623157e+308" },
		{ 0xffefffffffffffffULL, "-1.7976931348623157e+308" },
		{ 0x4340000000000000ULL, "9007199254740992" },
		{ 0xc340000000000000ULL, "-9007199254740992" },
		{ 0x4430000000000000ULL, "295147905179352830000" },
		{ 0x44b52d02c7e14af5ULL, "9.999999999999997e+22" },
		{ 0x44b52d02c7e14af6ULL, "1e+23" },
		{ 0x44b52d02c7e14af7ULL, "1.0000000000000001e+23" },
		{ 0x444b1ae4d6e2ef4eULL, "999999999999999700000" },
		{ 0x444b1ae4d6e2ef4fULL, "999999999999999900000" },
		{ 0x444b1ae4d6e2ef50ULL, "1e+21" },
		{ 0x3eb0c6f7a0b5ed8cULL, "9.999999999999997e-7" },
		{ 0x3eb0c6f7a0b5ed8dULL, "0.000001" },
		{ 0x41b3de4355555553ULL, "333333333.3333332" },
		{ 0x41b3de4355555554ULL, "333333333.33333325" },
		{ 0x41b3de4355555555ULL, "333333333.3333333" },
		{ 0x41b3de4355555556ULL, "333333333.3333334" },
		{ 0x41b3de4355555557ULL, "333333333.33333343" },
		{ 0xbecbf647612f3696ULL, "-0.0000033333333333333333" },
		{ 0x43143ff3c1cb0959ULL, "1424953923781206.2" },
	};
	char out[JCS_NUMBER_MAX];
	size_t i;

	for (i = 0; i < GK_NELEM(tab); i++) {
		T_CHECK(jcs_number(from_bits(tab[i].bits), out) ==
		    (int)strlen(tab[i].want));
		T_CHECKF(strcmp(out, tab[i].want) == 0, "%016llx: %s, want %s",
		    (unsigned long long)tab[i].bits, out, tab[i].want);
	}
	/* NaN and Infinity have no JSON spelling (the table's "N/A" rows). */
	T_CHECK(jcs_number(from_bits(0x7fffffffffffffffULL), out) == -1);
	T_CHECK(jcs_number(from_bits(0x7ff0000000000000ULL), out) == -1);
	T_CHECK(jcs_number(-INFINITY, out) == -1);
}

/* RFC 8785 3.2.2: the serialization example. */
static void
test_rfc_serialization(void)
{
	check_canon("{\n"
	    "  \"numbers\": [333333333.33333329, 1E30, 4.50,\n"
	    "              2e-3, 0.000000000000000000000000001],\n"
	    "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
	    "  \"literals\": [null, true, false]\n"
	    "}",
	    "{\"literals\":[null,true,false],"
	    "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
	    "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

/* RFC 8785 3.2.3: sorting by UTF-16 code units, with a non-BMP name. */
static void
test_rfc_sorting(void)
{
	check_canon("{\n"
	    "  \"\\u20ac\": \"Euro Sign\",\n"
	    "  \"\\r\": \"Carriage Return\",\n"
	    "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
	    "  \"1\": \"One\",\n"
	    "  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n"
	    "  \"\\u0080\": \"Control\",\n"
	    "  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n"
	    "}",
	    /* The RFC lists the values in this order. */
	    "{\"\\r\":\"Carriage Return\","
	    "\"1\":\"One\","
	    "\"\xc2\x80\":\"Control\","
	    "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
	    "\"\xe2\x82\xac\":\"Euro Sign\","
	    "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
	    "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

static void
test_numbers_edges(void)
{
	char out[JCS_NUMBER_MAX];
	char err[128], *s;
	json_t *j;

	/* The thresholds where ES switches to exponent form. */
	jcs_number(1e21, out);
	T_STREQ(out, "1e+21");
	jcs_number(1e20, out);
	T_STREQ(out, "100000000000000000000");
	jcs_number(1e-7, out);
	T_STREQ(out, "1e-7");
	jcs_number(1.5e-7, out);
	T_STREQ(out, "1.5e-7");
	jcs_number(1e-6, out);
	T_STREQ(out, "0.000001");
	jcs_number(0.1, out);
	T_STREQ(out, "0.1");
	jcs_number(-0.5, out);
	T_STREQ(out, "-0.5");
	jcs_number(31.25, out);
	T_STREQ(out, "31.25");
	jcs_number(100, out);
	T_STREQ(out, "100");
	jcs_number(1.2345678901234567e-300, out);
	T_STREQ(out, "1.2345678901234568e-300");	/* as Python repr() */
	jcs_number(4.35, out);
	T_STREQ(out, "4.35");
	jcs_number(5e-324 * 2, out);
	T_STREQ(out, "1e-323");

	/* Integers: exact up to 2^53 either way, refused beyond. */
	j = json_pack("[I,I,I,i]", (json_int_t)9007199254740992LL,
	    (json_int_t)-9007199254740992LL, (json_int_t)0, -1);
	s = jcs_canonical(j, NULL, err, sizeof(err));
	T_STREQ(s ? s : "", "[9007199254740992,-9007199254740992,0,-1]");
	free(s);
	json_decref(j);
	j = json_pack("{s:I}", "n", (json_int_t)9007199254740993LL);
	T_CHECK(jcs_canonical(j, NULL, err, sizeof(err)) == NULL);
	T_CHECK(strstr(err, "2^53") != NULL);
	json_decref(j);
	j = json_pack("[I]", (json_int_t)-9007199254740993LL);
	T_CHECK(jcs_canonical(j, NULL, err, sizeof(err)) == NULL);
	json_decref(j);

	/* -0 and reals that are integers print as integers. */
	check_canon("[-0, -0.0, 1.0, 2.50e1, 1E+2]", "[0,0,1,25,100]");
	/* Big integer literals are doubles to JCS, not errors. */
	check_canon("[100000000000000000000, 1152921504606846976]",
	    "[100000000000000000000,1152921504606847000]");
}

static void
test_strings(void)
{
	char err[128], *s;
	size_t len;
	json_t *j;

	/* Every control character escaped; the short forms where ES has them. */
	check_canon("[\"\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \\u007f\"]",
	    "[\"\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \x7f\"]");
	/* No escaping of '/', U+2028/2029 or non-ASCII. */
	check_canon("[\"a/b\\u2028\\u2029\\u6caaA\"]",
	    "[\"a/b\xe2\x80\xa8\xe2\x80\xa9\xe6\xb2\xaa" "A\"]");
	/* NUL inside a string built with a length (the parser refuses it). */
	j = json_stringn("a\0b", 3);
	s = jcs_canonical(j, &len, err, sizeof(err));
	T_CHECK(s != NULL && len == 10 && memcmp(s, "\"a\\u0000b\"", 10) == 0);
	free(s);
	json_decref(j);
	/* Invalid UTF-8 that bypassed jansson's checks is refused. */
	j = json_stringn_nocheck("\xc0\xaf", 2);	/* overlong '/' */
	T_CHECK(jcs_canonical(j, NULL, err, sizeof(err)) == NULL);
	json_decref(j);
	j = json_string_nocheck("\xed\xa0\x80");	/* a surrogate */
	T_CHECK(jcs_canonical(j, NULL, err, sizeof(err)) == NULL);
	json_decref(j);
	j = json_object();
	json_object_set_new_nocheck(j, "\xff", json_true());
	T_CHECK(jcs_canonical(j, NULL, err, sizeof(err)) == NULL);
	json_decref(j);
}

static void
test_structure(void)
{
	char err[128], *s;
	json_t *j, *inner;
	int i;

	check_canon("{}", "{}");
	check_canon("[]", "[]");
	check_canon("[{}, [], [[]], {\"a\": {}}]", "[{},[],[[]],{\"a\":{}}]");
	check_canon("\"top\"", "\"top\"");
	check_canon("true", "true");
	check_canon("  -1.5e3 ", "-1500");
	/* Prefixes first; nested objects sorted too; arrays keep their order. */
	check_canon("{\"ab\":1,\"a\":2,\"b\":{\"z\":1,\"y\":2},\"c\":[3,1,2]}",
	    "{\"a\":2,\"ab\":1,\"b\":{\"y\":2,\"z\":1},\"c\":[3,1,2]}");
	/*
	 * U+E000 against U+1F600: UTF-8 bytes (and code points) put U+E000 first,
	 * UTF-16 units (0xE000 against 0xD83D) put the emoji first.
	 */
	check_canon("{\"\\ue000\":1,\"\\ud83d\\ude00\":2,\"\\uffff\":3}",
	    "{\"\xf0\x9f\x98\x80\":2,\"\xee\x80\x80\":1,\"\xef\xbf\xbf\":3}");
	/* A ledger-like record. */
	check_canon("{\"seq\":42,\"plate\":\"\\u6caaF81234\",\"tonnage\":31.5,"
	    "\"decision\":{\"result\":\"deny\",\"reasons\":[\"stage_below_min\"]},"
	    "\"evidence\":[]}",
	    "{\"decision\":{\"reasons\":[\"stage_below_min\"],\"result\":\"deny\"},"
	    "\"evidence\":[],\"plate\":\"\xe6\xb2\xaa" "F81234\",\"seq\":42,"
	    "\"tonnage\":31.5}");

	/* Nesting beyond JCS_MAX_DEPTH is refused, at it accepted. */
	j = json_array();
	inner = j;
	for (i = 1; i < JCS_MAX_DEPTH; i++) {
		json_t *a = json_array();

		json_array_append_new(inner, a);
		inner = a;
	}
	s = jcs_canonical(j, NULL, err, sizeof(err));
	T_CHECK(s != NULL);
	free(s);
	json_array_append_new(inner, json_array());
	T_CHECK(jcs_canonical(j, NULL, err, sizeof(err)) == NULL);
	T_CHECK(strstr(err, "deeper") != NULL);
	json_decref(j);

	T_CHECK(jcs_canonical(NULL, NULL, err, sizeof(err)) == NULL);
}

static void
test_parse(void)
{
	char err[128];
	json_t *j;

	T_CHECK((j = jcs_parse("{\"a\":1,\"a\":2}", 13, 100, err,
	    sizeof(err))) == NULL);
	T_CHECK((j = jcs_parse("[\"\\u0000\"]", 10, 100, err,
	    sizeof(err))) == NULL);
	T_CHECK((j = jcs_parse("[1] x", 5, 100, err, sizeof(err))) == NULL);
	T_CHECK((j = jcs_parse("[1]", 3, 2, err, sizeof(err))) == NULL);
	T_CHECK(strstr(err, "more than") != NULL);
	T_CHECK((j = jcs_parse("[1e400]", 7, 100, err, sizeof(err))) == NULL);
	j = jcs_parse("[7]", 3, 100, err, sizeof(err));
	T_CHECK(j != NULL && json_is_real(json_array_get(j, 0)));
	json_decref(j);
}

int
main(void)
{
	test_rfc_numbers();
	test_rfc_serialization();
	test_rfc_sorting();
	test_numbers_edges();
	test_strings();
	test_structure();
	test_parse();
	return T_DONE();
}
