/*
 * Unit tests of gatekit/util.h: the bounded copy, timestamps in and out, and event
 * ids. Expected timestamps are worked out by hand (or by date -u -d @N), never by the
 * code under test.
 */
#include <stdint.h>
#include <string.h>

#include "gatekit/util.h"
#include "t.h"

static void
test_strlcpy(void)
{
	char	 buf[6];

	memset(buf, 'x', sizeof(buf));
	T_CHECK(gk_strlcpy(buf, "abc", sizeof(buf)) == 3);
	T_STREQ(buf, "abc");

	/* Exactly fits: 5 characters and the NUL. */
	T_CHECK(gk_strlcpy(buf, "abcde", sizeof(buf)) == 5);
	T_STREQ(buf, "abcde");

	/* One too many: cut, terminated, and the return value tells. */
	T_CHECK(gk_strlcpy(buf, "abcdef", sizeof(buf)) == 6);
	T_STREQ(buf, "abcde");
	T_CHECK(gk_strlcpy(buf, "abcdefghijkl", sizeof(buf)) >= sizeof(buf));
	T_STREQ(buf, "abcde");

	T_CHECK(gk_strlcpy(buf, "", sizeof(buf)) == 0);
	T_STREQ(buf, "");

	/* Size 1 leaves only the NUL; size 0 writes nothing. */
	T_CHECK(gk_strlcpy(buf, "abc", 1) == 3);
	T_STREQ(buf, "");
	buf[0] = 'q';
	T_CHECK(gk_strlcpy(buf, "abc", 0) == 3);
	T_CHECK(buf[0] == 'q');
}

static void
test_clocks(void)
{
	int64_t	 a, b, w;

	a = gk_mono_ms();
	b = gk_mono_ms();
	T_CHECK(a > 0 && b >= a);
	w = gk_wall_ms();
	/* After 2020-01-01 and before 2100-01-01. */
	T_CHECK(w > INT64_C(1577836800000) && w < INT64_C(4102444800000));
}

struct ts_case {
	int64_t		 ms;
	const char	*text;
};

static void
test_ts_format(void)
{
	static const struct ts_case cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 1, "1970-01-01T00:00:00.001Z" },
		{ -1, "1969-12-31T23:59:59.999Z" },
		{ INT64_C(951782400000), "2000-02-29T00:00:00.000Z" },
		{ INT64_C(1709251199999), "2024-02-29T23:59:59.999Z" },
		{ INT64_C(1795867200123), "2026-11-28T12:00:00.123Z" },
		{ INT64_C(253402300799999), "9999-12-31T23:59:59.999Z" },
		{ INT64_C(-62167219200000), "0000-01-01T00:00:00.000Z" },
	};
	char	 buf[GK_TS_LEN], small[GK_TS_LEN - 1];
	int64_t	 back;
	size_t	 i;

	for (i = 0; i < GK_NELEM(cases); i++) {
		T_CHECKF(gk_ts_format(cases[i].ms, buf, sizeof(buf)) == 0,
		    "format %lld", (long long)cases[i].ms);
		T_STREQ(buf, cases[i].text);
		T_CHECK(gk_ts_parse(cases[i].text, &back) == 0);
		T_CHECKF(back == cases[i].ms, "%s -> %lld", cases[i].text,
		    (long long)back);
	}
	T_CHECK(gk_ts_format(0, small, sizeof(small)) == -1);
	T_CHECK(gk_ts_format(INT64_C(253402300800000), buf, sizeof(buf)) == -1);
	T_CHECK(gk_ts_format(INT64_C(-62167219200001), buf, sizeof(buf)) == -1);

	/* Round trip of now. */
	back = gk_wall_ms();
	T_CHECK(gk_ts_format(back, buf, sizeof(buf)) == 0);
	T_CHECK(strlen(buf) == GK_TS_LEN - 1);
	{
		int64_t	 again;

		T_CHECK(gk_ts_parse(buf, &again) == 0 && again == back);
	}
}

static void
test_ts_parse(void)
{
	static const struct ts_case good[] = {
		{ INT64_C(1795867200000), "2026-11-28T12:00:00Z" },
		{ INT64_C(1795867200000), "2026-11-28t12:00:00z" },
		{ INT64_C(1795867200500), "2026-11-28T12:00:00.5Z" },
		{ INT64_C(1795867200120), "2026-11-28T12:00:00.12Z" },
		{ INT64_C(1795867200123), "2026-11-28T12:00:00.123456789Z" },
		/* 20:00 in Beijing is 12:00 UTC. */
		{ INT64_C(1795867200000), "2026-11-28T20:00:00+08:00" },
		{ INT64_C(1795867200123), "2026-11-28T20:00:00.123+08:00" },
		{ INT64_C(1795867200000), "2026-11-28T06:30:00-05:30" },
		{ INT64_C(1795867200000), "2026-11-28T12:00:00+00:00" },
		{ INT64_C(1795867200000), "2026-11-28T12:00:00-00:00" },
		/* Across midnight and the year. */
		{ INT64_C(1767225600000), "2026-01-01T08:00:00+08:00" },
		{ INT64_C(1767225600000), "2025-12-31T19:00:00-05:00" },
		/* A leap second lands on the next minute's first second. */
		{ INT64_C(1483228800000), "2016-12-31T23:59:60Z" },
	};
	static const char *const bad[] = {
		"",
		"2026-11-28",
		"2026-11-28T12:00:00",		/* no zone */
		"2026-11-28 12:00:00Z",		/* space for T */
		"2026-11-28T12:00Z",		/* no seconds */
		"2026-11-28T12:00:00.Z",	/* empty fraction */
		"2026-11-28T12:00:00+0800",	/* offset without colon */
		"2026-11-28T12:00:00+08",
		"2026-11-28T12:00:00+24:00",
		"2026-11-28T12:00:00+08:60",
		"2026-13-28T12:00:00Z",
		"2026-00-28T12:00:00Z",
		"2026-11-31T12:00:00Z",
		"2026-11-00T12:00:00Z",
		"2025-02-29T12:00:00Z",		/* not a leap year */
		"1900-02-29T12:00:00Z",		/* nor this */
		"2026-11-28T24:00:00Z",
		"2026-11-28T12:60:00Z",
		"2026-11-28T12:00:61Z",
		"2026-11-28T12:00:00Zjunk",
		"2026-11-28T12:00:00Z ",
		" 2026-11-28T12:00:00Z",
		"26-11-28T12:00:00Z",
		"2026-1-28T12:00:00Z",
		"2026-11-28T12:0a:00Z",
		"+026-11-28T12:00:00Z",
	};
	int64_t	 v;
	size_t	 i;

	for (i = 0; i < GK_NELEM(good); i++) {
		v = -42;
		T_CHECKF(gk_ts_parse(good[i].text, &v) == 0, "%s", good[i].text);
		T_CHECKF(v == good[i].ms, "%s -> %lld, want %lld", good[i].text,
		    (long long)v, (long long)good[i].ms);
	}
	T_CHECK(gk_ts_parse("2024-02-29T00:00:00Z", &v) == 0);
	T_CHECK(gk_ts_parse("2000-02-29T00:00:00Z", &v) == 0 &&
	    v == INT64_C(951782400000));
	for (i = 0; i < GK_NELEM(bad); i++) {
		v = -42;
		T_CHECKF(gk_ts_parse(bad[i], &v) == -1, "accepted \"%s\"", bad[i]);
		T_CHECK(v == -42);
	}
	T_CHECK(gk_ts_parse(NULL, &v) == -1);
}

/* Parses hex digits of an id, dashes skipped, into 16 bytes. */
static void
id_bytes(const char *s, unsigned char b[16])
{
	int	 i, j = 0, hi = -1, c;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '-')
			continue;
		c = s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
		if (hi == -1)
			hi = c;
		else {
			b[j++] = (unsigned char)(hi << 4 | c);
			hi = -1;
		}
	}
}

#define NIDS	100000

static void
test_ids(void)
{
	static char	 ids[NIDS][GK_ID_LEN];
	unsigned char	 b[16];
	int64_t		 before, after, t, prev_t = 0;
	int		 i, bad_valid = 0, bad_order = 0, bad_version = 0;
	int		 bad_variant = 0, bad_time = 0, bad_case = 0, bad_fail = 0;
	int		 j;

	before = gk_wall_ms();
	for (i = 0; i < NIDS; i++)
		if (gk_id_new(ids[i]) != 0)
			bad_fail++;
	after = gk_wall_ms();
	T_CHECK(bad_fail == 0);

	for (i = 0; i < NIDS; i++) {
		if (strlen(ids[i]) != GK_ID_LEN - 1 || !gk_id_valid(ids[i]))
			bad_valid++;
		for (j = 0; ids[i][j] != '\0'; j++)
			if (ids[i][j] >= 'A' && ids[i][j] <= 'F')
				bad_case++;
		/* Text order is byte order for lower-case hex with fixed dashes. */
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			bad_order++;
		id_bytes(ids[i], b);
		if (b[6] >> 4 != 7)
			bad_version++;
		if (b[8] >> 6 != 2)
			bad_variant++;
		if (gk_id_time(ids[i], &t) != 0 || t < before ||
		    t > after + 1000 || t < prev_t)
			bad_time++;
		prev_t = t;
		/* The time is also the first 48 bits, big-endian. */
		if (t != ((int64_t)b[0] << 40 | (int64_t)b[1] << 32 |
		    (int64_t)b[2] << 24 | (int64_t)b[3] << 16 |
		    (int64_t)b[4] << 8 | b[5]))
			bad_time++;
	}
	T_CHECKF(bad_valid == 0, "%d invalid", bad_valid);
	T_CHECKF(bad_case == 0, "%d upper-case", bad_case);
	T_CHECKF(bad_order == 0, "%d out of order", bad_order);
	T_CHECKF(bad_version == 0, "%d not version 7", bad_version);
	T_CHECKF(bad_variant == 0, "%d bad variant", bad_variant);
	T_CHECKF(bad_time == 0, "%d bad time (%lld..%lld)", bad_time,
	    (long long)before, (long long)after);

	/* The random tail differs between neighbours. */
	T_CHECK(strcmp(ids[0] + 24, ids[1] + 24) != 0);
}

static void
test_id_valid(void)
{
	static const char *const good[] = {
		"01890a5d-ac96-774b-bcce-b302099a8057",
		"01890A5D-AC96-774B-BCCE-B302099A8057",
		"00000000-0000-0000-0000-000000000000",
		"f47ac10b-58cc-4372-a567-0e02b2c3d479",		/* v4 */
	};
	static const char *const bad[] = {
		"",
		"01890a5d-ac96-774b-bcce-b302099a805",		/* short */
		"01890a5d-ac96-774b-bcce-b302099a80577",	/* long */
		"01890a5dac96-774b-bcce-b302099a80577",		/* dash moved */
		"01890a5d-ac96-774b-bcce-b302099a805g",
		"01890a5d_ac96-774b-bcce-b302099a8057",
		"{01890a5d-ac96-774b-bcce-b302099a8057}",
		"01890a5dac96774bbcceb302099a8057",
		" 01890a5d-ac96-774b-bcce-b302099a8057",
		"01890a5d-ac96-774b-bcce-b302099a8057 ",
	};
	int64_t	 t = -1;
	size_t	 i;

	for (i = 0; i < GK_NELEM(good); i++)
		T_CHECKF(gk_id_valid(good[i]) == 1, "%s", good[i]);
	for (i = 0; i < GK_NELEM(bad); i++)
		T_CHECKF(gk_id_valid(bad[i]) == 0, "%s", bad[i]);
	T_CHECK(gk_id_valid(NULL) == 0);

	/* RFC 9562 appendix A.6: this id's time is 1645557742000 ms. */
	T_CHECK(gk_id_time("017F22E2-79B0-7CC3-98C4-DC0C0C07398F", &t) == 0);
	T_CHECK(t == INT64_C(1645557742000));
	T_CHECK(gk_id_time("017f22e2-79b0-7cc3-98c4-dc0c0c07398f", NULL) == 0);
	T_CHECK(gk_id_time("f47ac10b-58cc-4372-a567-0e02b2c3d479", &t) == -1);
	T_CHECK(gk_id_time("not-an-id", &t) == -1);
}

/* The schemas' spellings: lower-case UUIDs and topic-level ids. */
static void
test_schema_ids(void)
{
	T_CHECK(gk_id_canonical("0190f1c2-7a3b-7c4d-8e5f-0123456789ab"));
	T_CHECK(!gk_id_canonical("0190F1C2-7A3B-7C4D-8E5F-0123456789AB"));
	T_CHECK(!gk_id_canonical("0190f1c2-7a3b-7c4d-8e5f-0123456789a"));
	T_CHECK(!gk_id_canonical(NULL));
	T_CHECK(gk_topic_id_valid("site1"));
	T_CHECK(gk_topic_id_valid("in-1"));
	T_CHECK(gk_topic_id_valid("0_gate"));
	T_CHECK(gk_topic_id_valid("abcdefghijklmnopqrstuvwxyz012345"));	/* 32 */
	T_CHECK(!gk_topic_id_valid("abcdefghijklmnopqrstuvwxyz0123456"));	/* 33 */
	T_CHECK(!gk_topic_id_valid(""));
	T_CHECK(!gk_topic_id_valid("-in"));
	T_CHECK(!gk_topic_id_valid("In-1"));
	T_CHECK(!gk_topic_id_valid("in/1"));
	T_CHECK(!gk_topic_id_valid("in+"));
	T_CHECK(!gk_topic_id_valid(NULL));
}

/* CRC-32C check values from RFC 3720 (iSCSI) appendix B.4 and the usual "123456789". */
static void
test_crc32c(void)
{
	unsigned char	buf[32], le[8];
	int		i;

	T_CHECK(gk_crc32c("123456789", 9) == 0xe3069283U);
	T_CHECK(gk_crc32c("", 0) == 0);
	memset(buf, 0, sizeof(buf));
	T_CHECK(gk_crc32c(buf, 32) == 0x8a9136aaU);
	memset(buf, 0xff, sizeof(buf));
	T_CHECK(gk_crc32c(buf, 32) == 0x62a8ab43U);
	for (i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	T_CHECK(gk_crc32c(buf, 32) == 0x46dd794eU);

	gk_put_le(le, 0x0102030405060708ULL, 8);
	T_CHECK(le[0] == 0x08 && le[7] == 0x01);
	T_CHECK(gk_get_le(le, 8) == 0x0102030405060708ULL);
	gk_put_le(le, 0xdeadbeefU, 4);
	T_CHECK(le[0] == 0xef && le[3] == 0xde && gk_get_le(le, 4) == 0xdeadbeefU);
	T_CHECK(gk_get_le(le, 2) == 0xbeef);
}

/* Hex, civil days and digest-derived ids, with values worked out by hand. */
static void
test_hex_days_digest(void)
{
	unsigned char	b[4], dg[10];
	char		id[GK_ID_LEN];
	int64_t		y;
	int		m, d, i;

	T_CHECK(gk_hex_decode("00fFa1", b, 3) == 0 && b[0] == 0 && b[1] == 0xff &&
	    b[2] == 0xa1);
	T_CHECK(gk_hex_decode("00ff", b, 3) == -1);		/* too short */
	T_CHECK(gk_hex_decode("00ffa1b", b, 3) == -1);		/* too long */
	T_CHECK(gk_hex_decode("0g", b, 1) == -1);

	T_CHECK(gk_days_from_civil(1970, 1, 1) == 0);
	T_CHECK(gk_days_from_civil(2000, 3, 1) == 11017);
	T_CHECK(gk_days_from_civil(1969, 12, 31) == -1);
	gk_civil_from_days(20785, &y, &m, &d);			/* 2026-11-28 */
	T_CHECK(y == 2026 && m == 11 && d == 28);
	gk_civil_from_days(gk_days_from_civil(2024, 2, 29), &y, &m, &d);
	T_CHECK(y == 2024 && m == 2 && d == 29);

	/* Time 0x0123456789ab, digest bytes 0x10..0x19: version and variant set. */
	for (i = 0; i < 10; i++)
		dg[i] = (unsigned char)(0x10 + i);
	gk_id_from_digest(0x0123456789abLL, dg, id);
	T_STREQ(id, "01234567-89ab-7011-9213-141516171819");
	T_CHECK(gk_id_valid(id));
	gk_id_from_digest(-5, dg, id);				/* clamped to 0 */
	T_CHECK(strncmp(id, "00000000-0000-7", 15) == 0);
}

/* Imported text cells: code points counted, bad UTF-8 and control bytes refused. */
static void
test_utf8_count(void)
{
	T_CHECK(gk_utf8_count("", 0) == 0);
	T_CHECK(gk_utf8_count("abc", 0) == 3);
	T_CHECK(gk_utf8_count("沪A12345", 0) == 7);
	T_CHECK(gk_utf8_count("\xf0\x9f\x9a\x9a", 0) == 1);	/* 4 bytes, U+1F69A */
	T_CHECK(gk_utf8_count("a\tb", 0) == -1);
	T_CHECK(gk_utf8_count("a\tb\r\n", 1) == 5);
	T_CHECK(gk_utf8_count("a\x01", 1) == -1);
	T_CHECK(gk_utf8_count("\x7f", 1) == -1);
	T_CHECK(gk_utf8_count("\xc0\xaf", 0) == -1);		/* overlong '/' */
	T_CHECK(gk_utf8_count("\xed\xa0\x80", 0) == -1);	/* surrogate */
	T_CHECK(gk_utf8_count("\xe6\xb2", 0) == -1);		/* cut short */
	T_CHECK(gk_utf8_count("\xf4\x90\x80\x80", 0) == -1);	/* above U+10FFFF */
	T_CHECK(gk_utf8_count("\xff", 0) == -1);
}

int
main(void)
{
	test_utf8_count();
	test_hex_days_digest();
	test_crc32c();
	test_strlcpy();
	test_clocks();
	test_ts_format();
	test_ts_parse();
	test_ids();
	test_id_valid();
	test_schema_ids();
	return T_DONE();
}
