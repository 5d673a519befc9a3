/*
 * Unit tests of gatekit/plate.h. Expected results never come from the code under
 * test: they are hand-written data files (tests/unit/data/plates_*.txt, reasons and
 * positions worked out by hand) and generators here that build plates from the rules
 * of GA 36-2018 (every province, every kind) and mutate them in known ways, each
 * mutation carrying the reason it must produce. The colour code tables are checked
 * against the published codes and for round trips.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatekit/plate.h"
#include "t.h"

/* Typed again here, not taken from plate.c. */
static const char *const provinces[31] = {
	"京", "津", "冀", "晋", "蒙", "辽", "吉", "黑", "沪", "苏", "浙", "皖", "闽",
	"赣", "鲁", "豫", "鄂", "湘", "粤", "桂", "琼", "渝", "川", "贵", "云", "藏",
	"陕", "甘", "青", "宁", "新",
};

/* Issuing letters: A-Z without I (O is allowed). */
static const char issuers[] = "ABCDEFGHJKLMNOPQRSTUVWXYZ";
/* Serial characters: A-Z without I and O, and digits. */
static const char serials[] = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";

static int nvalid, ninvalid;

struct name_colour {
	const char		*name;
	enum gk_plate_colour	 colour;
};

/* The test's own names for colours in the data files. */
static const struct name_colour colour_table[] = {
	{ "-", GK_PLATE_COLOUR_UNKNOWN },
	{ "blue", GK_PLATE_COLOUR_BLUE },
	{ "yellow", GK_PLATE_COLOUR_YELLOW },
	{ "black", GK_PLATE_COLOUR_BLACK },
	{ "white", GK_PLATE_COLOUR_WHITE },
	{ "green", GK_PLATE_COLOUR_GREEN },
	{ "yellow-green", GK_PLATE_COLOUR_YELLOW_GREEN },
	{ "other", GK_PLATE_COLOUR_OTHER },
	{ "none", GK_PLATE_COLOUR_NONE },
};

static const struct {
	const char		*name;
	enum gk_plate_kind	 kind;
} kind_table[] = {
	{ "ordinary", GK_PLATE_KIND_ORDINARY },
	{ "large", GK_PLATE_KIND_LARGE },
	{ "small", GK_PLATE_KIND_SMALL },
	{ "embassy", GK_PLATE_KIND_EMBASSY },
	{ "consulate", GK_PLATE_KIND_CONSULATE },
	{ "trailer", GK_PLATE_KIND_TRAILER },
	{ "coach", GK_PLATE_KIND_COACH },
	{ "police", GK_PLATE_KIND_POLICE },
	{ "hk", GK_PLATE_KIND_HK },
	{ "macau", GK_PLATE_KIND_MACAU },
	{ "nev_large", GK_PLATE_KIND_NEV_LARGE },
	{ "nev_small", GK_PLATE_KIND_NEV_SMALL },
};

static const struct {
	const char		*name;
	enum gk_plate_reason	 reason;
} reason_table[] = {
	{ "ok", GK_PLATE_OK },
	{ "bad_arg", GK_PLATE_R_BAD_ARG },
	{ "too_long", GK_PLATE_R_TOO_LONG },
	{ "no_room", GK_PLATE_R_NO_ROOM },
	{ "bad_utf8", GK_PLATE_R_BAD_UTF8 },
	{ "empty", GK_PLATE_R_EMPTY },
	{ "bad_length", GK_PLATE_R_BAD_LENGTH },
	{ "bad_province", GK_PLATE_R_BAD_PROVINCE },
	{ "bad_issuer", GK_PLATE_R_BAD_ISSUER },
	{ "forbidden_letter", GK_PLATE_R_FORBIDDEN_LETTER },
	{ "bad_serial_char", GK_PLATE_R_BAD_SERIAL_CHAR },
	{ "bad_nev_pattern", GK_PLATE_R_BAD_NEV_PATTERN },
	{ "nev_ext_letter", GK_PLATE_R_NEV_EXT_LETTER },
	{ "colour_mismatch", GK_PLATE_R_COLOUR_MISMATCH },
};

static int
colour_of(const char *name, enum gk_plate_colour *c)
{
	size_t i;

	for (i = 0; i < sizeof(colour_table) / sizeof(colour_table[0]); i++)
		if (strcmp(name, colour_table[i].name) == 0) {
			*c = colour_table[i].colour;
			return 0;
		}
	return -1;
}

static int
kind_of(const char *name, enum gk_plate_kind *k)
{
	size_t i;

	for (i = 0; i < sizeof(kind_table) / sizeof(kind_table[0]); i++)
		if (strcmp(name, kind_table[i].name) == 0) {
			*k = kind_table[i].kind;
			return 0;
		}
	return -1;
}

static int
reason_of(const char *name, enum gk_plate_reason *r)
{
	size_t i;

	for (i = 0; i < sizeof(reason_table) / sizeof(reason_table[0]); i++)
		if (strcmp(name, reason_table[i].name) == 0) {
			*r = reason_table[i].reason;
			return 0;
		}
	return -1;
}

/* Expands \xHH and \\ in place. */
static void
unescape(char *s)
{
	char *w = s, hex[3];

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] == 'x' && s[2] != '\0' && s[3] != '\0') {
			hex[0] = s[2];
			hex[1] = s[3];
			hex[2] = '\0';
			*w++ = (char)strtoul(hex, NULL, 16);
			s += 4;
		} else if (s[0] == '\\' && s[1] == 't') {
			*w++ = '\t';
			s += 2;
		} else if (s[0] == '\\' && s[1] == '\\') {
			*w++ = '\\';
			s += 2;
		} else
			*w++ = *s++;
	}
	*w = '\0';
}

/*
 * Reads the data file name line by line, splitting on '|' into exactly nf fields.
 * Calls fn for each line with the line number. Returns the number of lines.
 */
static int
each_line(const char *name, int nf, void (*fn)(char **, int))
{
	char path[1024], line[512], *f[8], *p;
	FILE *fp;
	int lineno = 0, n = 0, i;

	snprintf(path, sizeof(path), "%s/tests/unit/data/%s",
	    t_env("ECOGATE_SOURCE_DIR", "."), name);
	fp = fopen(path, "r");
	T_REQUIRE(fp != NULL);
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		p = line;
		for (i = 0; i < nf; i++) {
			f[i] = p;
			p = strchr(p, '|');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		T_CHECKF(i == nf - 1 && p == NULL, "%s:%d: want %d fields", name,
		    lineno, nf);
		if (i != nf - 1)
			continue;
		unescape(f[0]);
		if (nf > 1)
			unescape(f[1]);
		fn(f, lineno);
		n++;
	}
	fclose(fp);
	return n;
}

/*
 * Checks one plate that must be valid, with everything the caller knows about it.
 * province is NULL for 使 plates.
 */
static void
expect_valid(const char *plate, enum gk_plate_colour colour, unsigned flags,
    enum gk_plate_kind kind, const char *code, enum gk_plate_nev nev,
    const char *where)
{
	struct gk_plate_info info;
	struct gk_plate_err err;
	char out[GK_PLATE_MAX], prov[4] = "";
	int rc;

	memset(&err, 0x55, sizeof(err));
	rc = gk_plate_check(plate, colour, flags, &info, &err);
	T_CHECKF(rc == 0, "%s: %s: %s", where, plate, err.msg);
	if (rc != 0)
		return;
	nvalid++;
	T_CHECK(err.reason == GK_PLATE_OK && err.position == 0 && err.msg[0] == '\0');
	T_CHECKF(info.kind == kind, "%s: %s: kind %s", where, plate,
	    gk_plate_kind_name(info.kind));
	T_CHECKF(strcmp(info.kind_code, code) == 0, "%s: %s: code %s want %s", where,
	    plate, info.kind_code, code);
	T_CHECKF(info.nev == nev, "%s: %s: nev %d", where, plate, info.nev);
	T_CHECK(info.is_new_energy == (nev != GK_PLATE_NEV_NONE));
	T_CHECK(info.nchars == (kind == GK_PLATE_KIND_NEV_SMALL ||
	    kind == GK_PLATE_KIND_NEV_LARGE ? 8 : 7));
	if (kind == GK_PLATE_KIND_EMBASSY) {
		T_CHECK(info.province[0] == '\0' && info.issuer == 0);
	} else {
		/* Every province abbreviation is 3 bytes of UTF-8. */
		memcpy(prov, plate, 3);
		T_STREQ(info.province, prov);
		T_CHECK(info.issuer == plate[3]);
	}
	if (colour != GK_PLATE_COLOUR_UNKNOWN)
		T_CHECKF(info.colour == colour, "%s: %s", where, plate);

	/* A valid plate is its own normal form. */
	rc = gk_plate_parse(plate, colour, flags, out, sizeof(out), &info, &err);
	T_CHECKF(rc == 0, "%s: parse %s: %s", where, plate, err.msg);
	T_STREQ(out, plate);
	T_CHECK(gk_plate_normalise(plate, out, sizeof(out), NULL) == 0);
}

static void
expect_invalid(const char *plate, enum gk_plate_colour colour, unsigned flags,
    enum gk_plate_reason reason, int position, const char *where)
{
	struct gk_plate_info info;
	struct gk_plate_err err;
	char head[32];
	int rc;

	memset(&info, 0x55, sizeof(info));
	memset(&err, 0, sizeof(err));
	rc = gk_plate_check(plate, colour, flags, &info, &err);
	T_CHECKF(rc == -1, "%s: %s accepted", where, plate);
	if (rc != -1)
		return;
	ninvalid++;
	T_CHECKF(err.reason == reason, "%s: %s: reason %s want %s (%s)", where, plate,
	    gk_plate_reason_name(err.reason), gk_plate_reason_name(reason), err.msg);
	T_CHECKF(err.position == position, "%s: %s: position %d want %d (%s)", where,
	    plate, err.position, position, err.msg);
	T_CHECK(info.kind == GK_PLATE_KIND_UNKNOWN);
	T_CHECK(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
	if (position > 0) {
		snprintf(head, sizeof(head), "position %d: ", position);
		T_CHECKF(strncmp(err.msg, head, strlen(head)) == 0, "%s: %s", where,
		    err.msg);
	}
	/* No error without its struct: err may be NULL. */
	T_CHECK(gk_plate_check(plate, colour, flags, NULL, NULL) == -1);
}

static unsigned
flags_of(const char *s)
{
	return strcmp(s, "ext") == 0 ? GK_PLATE_NEV_EXT : 0;
}

static void
valid_line(char **f, int lineno)
{
	enum gk_plate_colour colour;
	enum gk_plate_kind kind;
	enum gk_plate_nev nev;
	char where[64];

	snprintf(where, sizeof(where), "plates_valid.txt:%d", lineno);
	T_REQUIRE(colour_of(f[1], &colour) == 0);
	T_REQUIRE(kind_of(f[3], &kind) == 0);
	nev = strcmp(f[5], "D") == 0 ? GK_PLATE_NEV_PURE_ELECTRIC :
	    strcmp(f[5], "F") == 0 ? GK_PLATE_NEV_NOT_PURE : GK_PLATE_NEV_NONE;
	expect_valid(f[0], colour, flags_of(f[2]), kind,
	    strcmp(f[4], "-") == 0 ? "" : f[4], nev, where);
}

static void
invalid_line(char **f, int lineno)
{
	enum gk_plate_colour colour;
	enum gk_plate_reason reason;
	char where[64];

	snprintf(where, sizeof(where), "plates_invalid.txt:%d", lineno);
	T_REQUIRE(colour_of(f[1], &colour) == 0);
	T_REQUIRE(reason_of(f[3], &reason) == 0);
	expect_invalid(f[0], colour, flags_of(f[2]), reason, atoi(f[4]), where);
}

static void
normalise_line(char **f, int lineno)
{
	struct gk_plate_err err;
	enum gk_plate_reason reason;
	char out[GK_PLATE_MAX], again[GK_PLATE_MAX];
	unsigned want = 0;
	const char *p;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = gk_plate_normalise(f[0], out, sizeof(out), &err);
	if (f[1][0] == '!') {
		T_REQUIRE(reason_of(f[1] + 1, &reason) == 0);
		T_CHECKF(rc == -1 && err.reason == reason,
		    "plates_normalise.txt:%d: rc %d reason %s want %s", lineno, rc,
		    gk_plate_reason_name(err.reason), f[1] + 1);
		T_CHECK(out[0] == '\0');
		return;
	}
	for (p = f[2]; *p != '\0'; p++) {
		switch (*p) {
		case 'W':
			want |= GK_PLATE_N_WIDTH;
			break;
		case 'C':
			want |= GK_PLATE_N_CASE;
			break;
		case 'S':
			want |= GK_PLATE_N_STRIP;
			break;
		case 'O':
			want |= GK_PLATE_N_OCR;
			break;
		}
	}
	T_CHECKF(rc >= 0, "plates_normalise.txt:%d: %s", lineno, err.msg);
	if (rc < 0)
		return;
	T_CHECKF(strcmp(out, f[1]) == 0, "plates_normalise.txt:%d: \"%s\" want \"%s\"",
	    lineno, out, f[1]);
	T_CHECKF((unsigned)rc == want, "plates_normalise.txt:%d: changes %#x want %#x",
	    lineno, (unsigned)rc, want);
	/* Normalising twice changes nothing more. */
	memcpy(again, out, sizeof(again));
	T_CHECK(gk_plate_normalise(again, out, sizeof(out), NULL) == 0);
	T_STREQ(out, again);
}

static void
test_data_files(void)
{
	T_CHECK(each_line("plates_valid.txt", 6, valid_line) >= 90);
	T_CHECK(each_line("plates_invalid.txt", 5, invalid_line) >= 150);
	T_CHECK(each_line("plates_normalise.txt", 3, normalise_line) >= 60);
}

/* Joins up to four pieces into buf. */
static const char *
cat(char *buf, size_t len, const char *a, const char *b, const char *c,
    const char *d)
{
	snprintf(buf, len, "%s%s%s%s", a, b, c, d);
	return buf;
}

/* The i-th serial of n characters from alphabet, varied so that all characters turn up. */
static void
serial(char *out, int n, const char *alphabet, int i)
{
	size_t m = strlen(alphabet);
	int k;

	for (k = 0; k < n; k++)
		out[k] = alphabet[(size_t)(i * 7 + k * 11 + i * k) % m];
	out[n] = '\0';
}

/* Replaces the character at 1-based position pos (ASCII part of a plate). */
static const char *
mutate(char *buf, size_t len, const char *plate, int pos, char c)
{
	/* Province is 3 bytes, the rest ASCII up to the suffix. */
	snprintf(buf, len, "%s", plate);
	buf[3 + pos - 2] = c;
	return buf;
}

/*
 * Every province with every kind it can issue, each in every colour: the colour's
 * verdict from this test's own table of which colours fit which kind.
 */
static void
test_generated(void)
{
	static const struct {
		enum gk_plate_kind	 kind;	/* with colour UNKNOWN */
		const char		*suffix;
		int			 nserial;
		const char		*alphabet;
	} shapes[] = {
		{ GK_PLATE_KIND_ORDINARY, "", 5, serials },
		{ GK_PLATE_KIND_TRAILER, "挂", 4, serials },
		{ GK_PLATE_KIND_COACH, "学", 4, serials },
		{ GK_PLATE_KIND_POLICE, "警", 4, serials },
		{ GK_PLATE_KIND_CONSULATE, "领", 4, "0123456789" },
	};
	static const char *const codes[GK_PLATE_KIND_COUNT] = {
		[GK_PLATE_KIND_ORDINARY] = "", [GK_PLATE_KIND_LARGE] = "01",
		[GK_PLATE_KIND_SMALL] = "02", [GK_PLATE_KIND_TRAILER] = "15",
		[GK_PLATE_KIND_COACH] = "16", [GK_PLATE_KIND_POLICE] = "23",
		[GK_PLATE_KIND_CONSULATE] = "04", [GK_PLATE_KIND_NEV_SMALL] = "52",
		[GK_PLATE_KIND_NEV_LARGE] = "51",
	};
	char plate[64], bad[80], ser[8], iss[2] = "", where[64];
	enum gk_plate_kind want;
	size_t s;
	int p, i, c, pos, n;

	for (p = 0; p < 31; p++) {
		iss[0] = issuers[p % (sizeof(issuers) - 1)];
		snprintf(where, sizeof(where), "generated %s", provinces[p]);
		for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
			serial(ser, shapes[s].nserial, shapes[s].alphabet,
			    p * 5 + (int)s);
			cat(plate, sizeof(plate), provinces[p], iss, ser,
			    shapes[s].suffix);
			n = shapes[s].nserial + 2 + (shapes[s].suffix[0] != '\0');

			for (c = 0; c < GK_PLATE_COLOUR_COUNT; c++) {
				want = GK_PLATE_KIND_UNKNOWN;
				switch (shapes[s].kind) {
				case GK_PLATE_KIND_ORDINARY:
					want = c == GK_PLATE_COLOUR_UNKNOWN ?
					    GK_PLATE_KIND_ORDINARY :
					    c == GK_PLATE_COLOUR_BLUE ?
					    GK_PLATE_KIND_SMALL :
					    c == GK_PLATE_COLOUR_YELLOW ?
					    GK_PLATE_KIND_LARGE : want;
					break;
				case GK_PLATE_KIND_TRAILER:
				case GK_PLATE_KIND_COACH:
					if (c == GK_PLATE_COLOUR_UNKNOWN ||
					    c == GK_PLATE_COLOUR_YELLOW)
						want = shapes[s].kind;
					break;
				case GK_PLATE_KIND_POLICE:
					if (c == GK_PLATE_COLOUR_UNKNOWN ||
					    c == GK_PLATE_COLOUR_WHITE)
						want = shapes[s].kind;
					break;
				default:
					if (c == GK_PLATE_COLOUR_UNKNOWN ||
					    c == GK_PLATE_COLOUR_BLACK)
						want = shapes[s].kind;
					break;
				}
				if (want != GK_PLATE_KIND_UNKNOWN)
					expect_valid(plate, (enum gk_plate_colour)c, 0,
					    want, codes[want], GK_PLATE_NEV_NONE, where);
				else
					expect_invalid(plate, (enum gk_plate_colour)c,
					    0, GK_PLATE_R_COLOUR_MISMATCH, 0, where);
			}

			/* Mutations, each with the reason the rules give. */
			expect_invalid(mutate(bad, sizeof(bad), plate, 2, 'I'),
			    GK_PLATE_COLOUR_UNKNOWN, 0, GK_PLATE_R_FORBIDDEN_LETTER, 2,
			    where);
			expect_invalid(mutate(bad, sizeof(bad), plate, 2, '7'),
			    GK_PLATE_COLOUR_UNKNOWN, 0, GK_PLATE_R_BAD_ISSUER, 2, where);
			for (pos = 3; pos <= 2 + shapes[s].nserial; pos++) {
				expect_invalid(mutate(bad, sizeof(bad), plate, pos,
				    pos % 2 ? 'O' : 'I'), GK_PLATE_COLOUR_UNKNOWN, 0,
				    GK_PLATE_R_FORBIDDEN_LETTER, pos, where);
				expect_invalid(mutate(bad, sizeof(bad), plate, pos,
				    '#'), GK_PLATE_COLOUR_UNKNOWN, 0,
				    GK_PLATE_R_BAD_SERIAL_CHAR, pos, where);
				if (shapes[s].kind == GK_PLATE_KIND_CONSULATE)
					expect_invalid(mutate(bad, sizeof(bad), plate,
					    pos, 'A'), GK_PLATE_COLOUR_UNKNOWN, 0,
					    GK_PLATE_R_BAD_SERIAL_CHAR, pos, where);
			}
			/* A wrong first character: Taiwan is not among the 31. */
			cat(bad, sizeof(bad), "台", iss, ser, shapes[s].suffix);
			expect_invalid(bad, GK_PLATE_COLOUR_UNKNOWN, 0,
			    GK_PLATE_R_BAD_PROVINCE, 1, where);
			/* One character short. */
			if (n == 7) {
				snprintf(bad, sizeof(bad), "%s%s%.4s", provinces[p],
				    iss, ser);
				expect_invalid(bad, GK_PLATE_COLOUR_UNKNOWN, 0,
				    GK_PLATE_R_BAD_LENGTH, 0, where);
			}
		}

		/* New-energy plates of this province, D and F, small and large. */
		for (i = 0; i < 2; i++) {
			const char *letter = i == 0 ? "D" : "F";
			enum gk_plate_nev nev = i == 0 ? GK_PLATE_NEV_PURE_ELECTRIC :
			    GK_PLATE_NEV_NOT_PURE;
			char mid[2] = { serials[(p * 3 + i) % (sizeof(serials) - 1)],
			    '\0' };

			serial(ser, 4, "0123456789", p + i);
			cat(plate, sizeof(plate), provinces[p], iss, letter, mid);
			strcat(plate, ser);
			expect_valid(plate, GK_PLATE_COLOUR_GREEN, 0,
			    GK_PLATE_KIND_NEV_SMALL, "52", nev, where);
			expect_valid(plate, GK_PLATE_COLOUR_UNKNOWN, GK_PLATE_NEV_EXT,
			    GK_PLATE_KIND_NEV_SMALL, "52", nev, where);
			expect_invalid(plate, GK_PLATE_COLOUR_YELLOW_GREEN, 0,
			    GK_PLATE_R_COLOUR_MISMATCH, 0, where);
			expect_invalid(plate, GK_PLATE_COLOUR_BLUE, 0,
			    GK_PLATE_R_COLOUR_MISMATCH, 0, where);
			/* 9 characters. */
			snprintf(bad, sizeof(bad), "%s1", plate);
			expect_invalid(bad, GK_PLATE_COLOUR_UNKNOWN, 0,
			    GK_PLATE_R_BAD_LENGTH, 0, where);
			/* The 4 digits are digits only. */
			/* (a letter at 8 would make it a large one) */
			expect_invalid(mutate(bad, sizeof(bad), plate, 5 + p % 3, 'A'),
			    GK_PLATE_COLOUR_UNKNOWN, 0, GK_PLATE_R_BAD_NEV_PATTERN,
			    5 + p % 3, where);

			serial(ser, 5, "0123456789", p * 2 + i);
			cat(plate, sizeof(plate), provinces[p], iss, ser, letter);
			expect_valid(plate, GK_PLATE_COLOUR_YELLOW_GREEN, 0,
			    GK_PLATE_KIND_NEV_LARGE, "51", nev, where);
			expect_valid(plate, GK_PLATE_COLOUR_UNKNOWN, 0,
			    GK_PLATE_KIND_NEV_LARGE, "51", nev, where);
			expect_invalid(plate, GK_PLATE_COLOUR_GREEN, 0,
			    GK_PLATE_R_COLOUR_MISMATCH, 0, where);
			expect_invalid(plate, GK_PLATE_COLOUR_YELLOW, 0,
			    GK_PLATE_R_COLOUR_MISMATCH, 0, where);
			expect_invalid(mutate(bad, sizeof(bad), plate, 3 + p % 5, 'B'),
			    GK_PLATE_COLOUR_UNKNOWN, 0, GK_PLATE_R_BAD_NEV_PATTERN,
			    3 + p % 5, where);
		}

		/* Extended letters: off by default, their group with the flag. */
		{
			static const char ext[] = "ABCEGHJK";
			char l[2] = { ext[p % 8], '\0' };
			enum gk_plate_nev nev = strchr("ABCE", l[0]) != NULL ?
			    GK_PLATE_NEV_PURE_ELECTRIC : GK_PLATE_NEV_NOT_PURE;

			cat(plate, sizeof(plate), provinces[p], iss, l, "12345");
			expect_valid(plate, GK_PLATE_COLOUR_GREEN, GK_PLATE_NEV_EXT,
			    GK_PLATE_KIND_NEV_SMALL, "52", nev, where);
			expect_invalid(plate, GK_PLATE_COLOUR_GREEN, 0,
			    GK_PLATE_R_NEV_EXT_LETTER, 3, where);
			cat(plate, sizeof(plate), provinces[p], iss, "54321", l);
			expect_valid(plate, GK_PLATE_COLOUR_YELLOW_GREEN,
			    GK_PLATE_NEV_EXT, GK_PLATE_KIND_NEV_LARGE, "51", nev,
			    where);
			expect_invalid(plate, GK_PLATE_COLOUR_UNKNOWN, 0,
			    GK_PLATE_R_NEV_EXT_LETTER, 8, where);
		}
	}

	/* Every issuing letter but I, and I itself. */
	for (i = 'A'; i <= 'Z'; i++) {
		char l[2] = { (char)i, '\0' };

		cat(plate, sizeof(plate), "鲁", l, "12345", "");
		if (i == 'I')
			expect_invalid(plate, GK_PLATE_COLOUR_BLUE, 0,
			    GK_PLATE_R_FORBIDDEN_LETTER, 2, "issuer");
		else
			expect_valid(plate, GK_PLATE_COLOUR_BLUE, 0,
			    GK_PLATE_KIND_SMALL, "02", GK_PLATE_NEV_NONE, "issuer");
	}
	/* Every serial letter in every serial position: all but I and O. */
	for (i = 'A'; i <= 'Z'; i++) {
		for (pos = 3; pos <= 7; pos++) {
			mutate(bad, sizeof(bad), "苏E00000", pos, (char)i);
			if (i == 'I' || i == 'O')
				expect_invalid(bad, GK_PLATE_COLOUR_YELLOW, 0,
				    GK_PLATE_R_FORBIDDEN_LETTER, pos, "serial");
			else
				expect_valid(bad, GK_PLATE_COLOUR_YELLOW, 0,
				    GK_PLATE_KIND_LARGE, "01", GK_PLATE_NEV_NONE,
				    "serial");
		}
	}
	/* Embassy plates: every digit in every position. */
	for (i = 0; i < 10; i++) {
		snprintf(plate, sizeof(plate), "使%d%d%d%d%d%d", i, (i + 1) % 10,
		    (i + 2) % 10, (i + 3) % 10, (i + 4) % 10, (i + 5) % 10);
		expect_valid(plate, GK_PLATE_COLOUR_BLACK, 0, GK_PLATE_KIND_EMBASSY,
		    "03", GK_PLATE_NEV_NONE, "embassy");
		expect_invalid(plate, GK_PLATE_COLOUR_YELLOW, 0,
		    GK_PLATE_R_COLOUR_MISMATCH, 0, "embassy");
	}
	/* Hong Kong and Macau under every serial, and under the wrong provinces. */
	for (i = 0; i < 20; i++) {
		serial(ser, 4, serials, i);
		cat(plate, sizeof(plate), "粤Z", ser, i % 2 ? "港" : "澳", "");
		expect_valid(plate, GK_PLATE_COLOUR_BLACK, 0,
		    i % 2 ? GK_PLATE_KIND_HK : GK_PLATE_KIND_MACAU, i % 2 ? "26" : "27",
		    GK_PLATE_NEV_NONE, "hkmo");
		cat(plate, sizeof(plate), provinces[i], "Z", ser, i % 2 ? "港" : "澳");
		if (strcmp(provinces[i], "粤") != 0)
			expect_invalid(plate, GK_PLATE_COLOUR_BLACK, 0,
			    GK_PLATE_R_BAD_PROVINCE, 1, "hkmo");
	}
}

/*
 * Normalisation of generated plates: lower case, full width, separators and O/I
 * confusions in the serial must all come back to the plate; O and I in the issuer
 * must stay.
 */
static void
test_normalise_generated(void)
{
	char plate[64], raw[64], out[GK_PLATE_MAX], ser[8];
	struct gk_plate_err err;
	size_t k, w;
	int p, rc;

	for (p = 0; p < 31; p++) {
		serial(ser, 5, "0123456789ABCDEFGH", p);
		cat(plate, sizeof(plate), provinces[p], "K", ser, "");

		/* lower case letters */
		snprintf(raw, sizeof(raw), "%s", plate);
		for (k = 3; raw[k] != '\0'; k++)
			if (raw[k] >= 'A' && raw[k] <= 'Z')
				raw[k] = (char)(raw[k] - 'A' + 'a');
		rc = gk_plate_normalise(raw, out, sizeof(out), &err);
		T_CHECKF(rc >= 0 && strcmp(out, plate) == 0, "%s -> %s", raw, out);

		/* 0 read as O, 1 read as I, then separators */
		snprintf(raw, sizeof(raw), "%s", plate);
		for (k = 4; raw[k] != '\0'; k++)
			raw[k] = raw[k] == '0' ? 'O' : raw[k] == '1' ? 'I' : raw[k];
		rc = gk_plate_normalise(raw, out, sizeof(out), &err);
		T_CHECKF(rc >= 0 && strcmp(out, plate) == 0, "%s -> %s", raw, out);

		/* full width: U+FF10.. for digits, U+FF21.. for letters */
		memcpy(raw, plate, 3);
		for (k = 3, w = 3; plate[k] != '\0'; k++) {
			unsigned cp = 0xFF01 + (unsigned)(plate[k] - '!');

			raw[w++] = (char)(0xE0 | (cp >> 12));
			raw[w++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			raw[w++] = (char)(0x80 | (cp & 0x3F));
			if (k == 3)
				raw[w++] = '-';
		}
		raw[w] = '\0';
		rc = gk_plate_normalise(raw, out, sizeof(out), &err);
		T_CHECKF(rc == (int)(GK_PLATE_N_WIDTH | GK_PLATE_N_STRIP) &&
		    strcmp(out, plate) == 0, "%s -> %s rc %d", raw, out, rc);
	}
}

static void
test_parse(void)
{
	struct gk_plate_info info;
	struct gk_plate_err err;
	char out[GK_PLATE_MAX];

	T_CHECK(gk_plate_parse(" 沪ａ·ｏ１２３４ ", GK_PLATE_COLOUR_BLUE, 0, out,
	    sizeof(out), &info, &err) == 0);
	T_STREQ(out, "沪A01234");
	T_CHECK(info.kind == GK_PLATE_KIND_SMALL);
	T_STREQ(info.kind_code, "02");
	T_STREQ(info.province, "沪");
	T_CHECK(info.issuer == 'A');

	T_CHECK(gk_plate_parse("粤b·12345f", GK_PLATE_COLOUR_YELLOW_GREEN, 0, out,
	    sizeof(out), &info, &err) == 0);
	T_STREQ(out, "粤B12345F");
	T_CHECK(info.kind == GK_PLATE_KIND_NEV_LARGE && info.is_new_energy &&
	    info.nev == GK_PLATE_NEV_NOT_PURE);

	/* The issuing letter I is not fixed: it is rejected. */
	T_CHECK(gk_plate_parse("沪i12345", GK_PLATE_COLOUR_UNKNOWN, 0, out,
	    sizeof(out), &info, &err) == -1);
	T_CHECK(err.reason == GK_PLATE_R_FORBIDDEN_LETTER && err.position == 2);
	T_STREQ(out, "沪I12345");
	T_CHECK(info.kind == GK_PLATE_KIND_UNKNOWN);

	/* Failing normalisation leaves "" behind. */
	T_CHECK(gk_plate_parse("\xff", GK_PLATE_COLOUR_UNKNOWN, 0, out, sizeof(out),
	    &info, &err) == -1);
	T_CHECK(err.reason == GK_PLATE_R_BAD_UTF8 && err.position == 1);
	T_STREQ(out, "");

	/* The message names the position and the character. */
	T_CHECK(gk_plate_check("京AI2345", GK_PLATE_COLOUR_UNKNOWN, 0, NULL,
	    &err) == -1);
	T_STREQ(err.msg, "position 3: 'I' is not allowed in a serial");
	T_CHECK(gk_plate_check("台A12345", GK_PLATE_COLOUR_UNKNOWN, 0, NULL,
	    &err) == -1);
	T_CHECKF(strstr(err.msg, "'台'") != NULL, "%s", err.msg);
	T_CHECK(gk_plate_check("沪A1234\x01", GK_PLATE_COLOUR_UNKNOWN, 0, NULL,
	    &err) == -1);
	T_CHECKF(strstr(err.msg, "U+0001") != NULL, "%s", err.msg);
	T_CHECK(gk_plate_check("沪A12345", GK_PLATE_COLOUR_WHITE, 0, NULL,
	    &err) == -1);
	T_CHECKF(strstr(err.msg, "white") != NULL, "%s", err.msg);
}

static void
test_bounds(void)
{
	struct gk_plate_err err;
	char in[64], out[GK_PLATE_MAX], small[10];
	int rc;

	/* 31 bytes are read, 32 are not; no truncation. */
	memset(in, 'A', 31);
	in[31] = '\0';
	T_CHECK(gk_plate_normalise(in, out, sizeof(out), &err) == 0);
	T_CHECK(strlen(out) == 31);
	T_CHECK(gk_plate_check(in, GK_PLATE_COLOUR_UNKNOWN, 0, NULL, &err) == -1 &&
	    err.reason == GK_PLATE_R_BAD_LENGTH);
	memset(in, 'A', 40);
	in[32] = '\0';
	T_CHECK(gk_plate_normalise(in, out, sizeof(out), &err) == -1 &&
	    err.reason == GK_PLATE_R_TOO_LONG && out[0] == '\0');
	T_CHECK(gk_plate_check(in, GK_PLATE_COLOUR_UNKNOWN, 0, NULL, &err) == -1 &&
	    err.reason == GK_PLATE_R_TOO_LONG);
	/* Long only because of separators: still too long. */
	snprintf(in, sizeof(in), "沪A%*s12345", 24, "");
	T_CHECK(strlen(in) == 33);
	T_CHECK(gk_plate_normalise(in, out, sizeof(out), &err) == -1 &&
	    err.reason == GK_PLATE_R_TOO_LONG);

	/* The output buffer: "沪A12345" is 9 bytes and needs 10 with its NUL. */
	T_CHECK(gk_plate_normalise("沪A12345", small, 9, &err) == -1 &&
	    err.reason == GK_PLATE_R_NO_ROOM && small[0] == '\0');
	rc = gk_plate_normalise("沪A12345", small, 10, &err);
	T_CHECK(rc == 0 && strcmp(small, "沪A12345") == 0);
	T_CHECK(gk_plate_parse("沪A12345", GK_PLATE_COLOUR_UNKNOWN, 0, small, 9, NULL,
	    &err) == -1 && err.reason == GK_PLATE_R_NO_ROOM);

	/* NULLs and nonsense arguments. */
	T_CHECK(gk_plate_normalise(NULL, out, sizeof(out), &err) == -1 &&
	    err.reason == GK_PLATE_R_BAD_ARG);
	T_CHECK(gk_plate_normalise("沪A12345", NULL, 10, &err) == -1 &&
	    err.reason == GK_PLATE_R_BAD_ARG);
	T_CHECK(gk_plate_normalise("沪A12345", out, 0, &err) == -1 &&
	    err.reason == GK_PLATE_R_BAD_ARG);
	T_CHECK(gk_plate_check(NULL, GK_PLATE_COLOUR_UNKNOWN, 0, NULL, &err) == -1 &&
	    err.reason == GK_PLATE_R_BAD_ARG);
	T_CHECK(gk_plate_check("沪A12345", (enum gk_plate_colour)99, 0, NULL,
	    &err) == -1 && err.reason == GK_PLATE_R_BAD_ARG);
	T_CHECK(gk_plate_check("沪A12345", GK_PLATE_COLOUR_COUNT, 0, NULL,
	    &err) == -1 && err.reason == GK_PLATE_R_BAD_ARG);
	T_CHECK(gk_plate_check("沪A12345", GK_PLATE_COLOUR_UNKNOWN, 0, NULL,
	    NULL) == 0);
}

/*
 * Random bytes, and random strings from the plate alphabet: never a crash (the
 * sanitizers watch), and whatever parse accepts, check accepts.
 */
static void
test_random(void)
{
	static const char *const pieces[] = {
		"沪", "粤", "使", "挂", "港", "领", "A", "Z", "D", "F", "I", "O", "0",
		"1", "9", "·", " ", "Ａ", "\xe6", "\xff", "a", "o",
	};
	char in[80], out[GK_PLATE_MAX];
	struct gk_plate_err err;
	struct gk_plate_info info;
	uint32_t x = 12345;
	int i, k, n, accepted = 0;

	for (i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		n = (int)(x >> 16) % 12;
		in[0] = '\0';
		for (k = 0; k < n; k++) {
			x = x * 1103515245u + 12345u;
			if (i % 4 == 0) {
				size_t l = strlen(in);

				in[l] = (char)(x >> 16 | 1);
				in[l + 1] = '\0';
			} else
				strcat(in, pieces[(x >> 16) % (sizeof(pieces) /
				    sizeof(pieces[0]))]);
		}
		if (gk_plate_parse(in, GK_PLATE_COLOUR_UNKNOWN,
		    i % 2 ? GK_PLATE_NEV_EXT : 0, out, sizeof(out), &info, &err) ==
		    0) {
			accepted++;
			T_CHECK(gk_plate_check(out, GK_PLATE_COLOUR_UNKNOWN,
			    i % 2 ? GK_PLATE_NEV_EXT : 0, NULL, NULL) == 0);
		} else
			T_CHECK(err.reason > GK_PLATE_OK &&
			    err.reason < GK_PLATE_R_COUNT && err.msg[0] != '\0');
	}
	printf("random: %d of 20000 accepted\n", accepted);
}

static void
test_colours(void)
{
	static const struct {
		enum gk_plate_codes	 sys;
		int			 code;
		enum gk_plate_colour	 colour;
	} known[] = {
		{ GK_PLATE_CODES_JTT697, 0, GK_PLATE_COLOUR_NONE },
		{ GK_PLATE_CODES_JTT697, 1, GK_PLATE_COLOUR_BLUE },
		{ GK_PLATE_CODES_JTT697, 2, GK_PLATE_COLOUR_YELLOW },
		{ GK_PLATE_CODES_JTT697, 3, GK_PLATE_COLOUR_BLACK },
		{ GK_PLATE_CODES_JTT697, 4, GK_PLATE_COLOUR_WHITE },
		{ GK_PLATE_CODES_JTT697, 5, GK_PLATE_COLOUR_GREEN },
		{ GK_PLATE_CODES_JTT697, 9, GK_PLATE_COLOUR_OTHER },
		{ GK_PLATE_CODES_JTT697_FREIGHT, 0, GK_PLATE_COLOUR_NONE },
		{ GK_PLATE_CODES_JTT697_FREIGHT, 1, GK_PLATE_COLOUR_BLUE },
		{ GK_PLATE_CODES_JTT697_FREIGHT, 2, GK_PLATE_COLOUR_YELLOW },
		{ GK_PLATE_CODES_JTT697_FREIGHT, 3, GK_PLATE_COLOUR_BLACK },
		{ GK_PLATE_CODES_JTT697_FREIGHT, 4, GK_PLATE_COLOUR_WHITE },
		{ GK_PLATE_CODES_JTT697_FREIGHT, 93, GK_PLATE_COLOUR_YELLOW_GREEN },
		{ GK_PLATE_CODES_JTT697_FREIGHT, 94, GK_PLATE_COLOUR_GREEN },
		{ GK_PLATE_CODES_JTT697_FREIGHT, 9, GK_PLATE_COLOUR_OTHER },
		{ GK_PLATE_CODES_PARKING, 1, GK_PLATE_COLOUR_BLUE },
		{ GK_PLATE_CODES_PARKING, 2, GK_PLATE_COLOUR_YELLOW },
		{ GK_PLATE_CODES_PARKING, 3, GK_PLATE_COLOUR_WHITE },
		{ GK_PLATE_CODES_PARKING, 4, GK_PLATE_COLOUR_BLACK },
		{ GK_PLATE_CODES_PARKING, 5, GK_PLATE_COLOUR_GREEN },
	};
	static const char *const zh[GK_PLATE_COLOUR_COUNT] = {
		"未知", "蓝", "黄", "黑", "白", "绿", "黄绿", "其他", "无",
	};
	enum gk_plate_colour c;
	enum gk_plate_codes sys;
	size_t i;
	int s, k, code, ncodes;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		T_CHECKF(gk_plate_colour_code(known[i].sys, known[i].colour) ==
		    known[i].code, "%s %d", gk_plate_codes_name(known[i].sys),
		    known[i].code);
		T_CHECK(gk_plate_colour_from_code(known[i].sys, known[i].code, &c) ==
		    0 && c == known[i].colour);
	}
	/* Read, not written: the freight table still reads the base table's green. */
	T_CHECK(gk_plate_colour_from_code(GK_PLATE_CODES_JTT697_FREIGHT, 5, &c) == 0 &&
	    c == GK_PLATE_COLOUR_GREEN);
	/* No codes. */
	T_CHECK(gk_plate_colour_code(GK_PLATE_CODES_JTT697,
	    GK_PLATE_COLOUR_YELLOW_GREEN) == -1);
	T_CHECK(gk_plate_colour_code(GK_PLATE_CODES_PARKING,
	    GK_PLATE_COLOUR_YELLOW_GREEN) == -1);
	T_CHECK(gk_plate_colour_code(GK_PLATE_CODES_PARKING,
	    GK_PLATE_COLOUR_OTHER) == -1);
	T_CHECK(gk_plate_colour_from_code(GK_PLATE_CODES_JTT697, 93, &c) == -1);
	T_CHECK(gk_plate_colour_from_code(GK_PLATE_CODES_JTT697, 6, &c) == -1);
	T_CHECK(gk_plate_colour_from_code(GK_PLATE_CODES_PARKING, 0, &c) == -1);
	T_CHECK(gk_plate_colour_from_code(GK_PLATE_CODES_PARKING, 9, &c) == -1);
	T_CHECK(gk_plate_colour_code((enum gk_plate_codes)7,
	    GK_PLATE_COLOUR_BLUE) == -1);
	T_CHECK(gk_plate_colour_from_code((enum gk_plate_codes)7, 1, &c) == -1);

	/* Round trips over every colour and every code from -1 to 200. */
	for (s = 0; s < GK_PLATE_CODES_COUNT; s++) {
		T_CHECK(gk_plate_codes_parse(gk_plate_codes_name(
		    (enum gk_plate_codes)s), &sys) == 0 && (int)sys == s);
		T_CHECK(gk_plate_colour_code((enum gk_plate_codes)s,
		    GK_PLATE_COLOUR_UNKNOWN) == -1);
		for (k = 0; k < GK_PLATE_COLOUR_COUNT; k++) {
			code = gk_plate_colour_code((enum gk_plate_codes)s,
			    (enum gk_plate_colour)k);
			if (code != -1)
				T_CHECK(gk_plate_colour_from_code(
				    (enum gk_plate_codes)s, code, &c) == 0 &&
				    (int)c == k);
		}
		ncodes = 0;
		for (code = -1; code <= 200; code++) {
			if (gk_plate_colour_from_code((enum gk_plate_codes)s, code,
			    &c) == 0) {
				ncodes++;
				T_CHECK(gk_plate_colour_code((enum gk_plate_codes)s,
				    c) != -1);
			}
		}
		T_CHECK(ncodes == (s == GK_PLATE_CODES_JTT697 ? 7 :
		    s == GK_PLATE_CODES_JTT697_FREIGHT ? 9 : 5));
	}
	T_STREQ(gk_plate_codes_name(GK_PLATE_CODES_JTT697), "jtt697");
	T_STREQ(gk_plate_codes_name(GK_PLATE_CODES_JTT697_FREIGHT), "jtt697-freight");
	T_STREQ(gk_plate_codes_name(GK_PLATE_CODES_PARKING), "parking");
	T_STREQ(gk_plate_codes_name(GK_PLATE_CODES_COUNT), "?");
	T_CHECK(gk_plate_codes_parse("jt/t", &sys) == -1);
	T_CHECK(gk_plate_codes_parse(NULL, &sys) == -1);

	/* Names, both languages, both ways. */
	for (i = 0; i < sizeof(colour_table) / sizeof(colour_table[0]); i++) {
		const char *want = i == 0 ? "unknown" : colour_table[i].name;

		T_STREQ(gk_plate_colour_name(colour_table[i].colour), want);
		T_CHECK(gk_plate_colour_parse(want, &c) == 0 &&
		    c == colour_table[i].colour);
		T_STREQ(gk_plate_colour_name_zh(colour_table[i].colour),
		    zh[colour_table[i].colour]);
		T_CHECK(gk_plate_colour_parse(zh[colour_table[i].colour], &c) == 0 &&
		    c == colour_table[i].colour);
	}
	T_CHECK(gk_plate_colour_parse("BLUE", &c) == 0 && c == GK_PLATE_COLOUR_BLUE);
	T_CHECK(gk_plate_colour_parse("Yellow-Green", &c) == 0 &&
	    c == GK_PLATE_COLOUR_YELLOW_GREEN);
	T_CHECK(gk_plate_colour_parse("yellow_green", &c) == 0 &&
	    c == GK_PLATE_COLOUR_YELLOW_GREEN);
	T_CHECK(gk_plate_colour_parse("gradient-green", &c) == 0 &&
	    c == GK_PLATE_COLOUR_GREEN);
	T_CHECK(gk_plate_colour_parse("蓝色", &c) == 0 && c == GK_PLATE_COLOUR_BLUE);
	T_CHECK(gk_plate_colour_parse("黄绿色", &c) == 0 &&
	    c == GK_PLATE_COLOUR_YELLOW_GREEN);
	T_CHECK(gk_plate_colour_parse("渐变绿色", &c) == 0 &&
	    c == GK_PLATE_COLOUR_GREEN);
	T_CHECK(gk_plate_colour_parse("黑色", &c) == 0 && c == GK_PLATE_COLOUR_BLACK);
	T_CHECK(gk_plate_colour_parse("白色", &c) == 0 && c == GK_PLATE_COLOUR_WHITE);
	T_CHECK(gk_plate_colour_parse("purple", &c) == -1);
	T_CHECK(gk_plate_colour_parse("", &c) == -1);
	T_CHECK(gk_plate_colour_parse("色", &c) == -1);
	T_CHECK(gk_plate_colour_parse("蓝色色", &c) == -1);
	T_CHECK(gk_plate_colour_parse("blue ", &c) == -1);
	T_CHECK(gk_plate_colour_parse(NULL, &c) == -1);
	T_STREQ(gk_plate_colour_name(GK_PLATE_COLOUR_COUNT), "?");
	T_STREQ(gk_plate_colour_name_zh((enum gk_plate_colour)-1), "?");
}

static void
test_names(void)
{
	static const struct {
		enum gk_plate_kind	 kind;
		const char		*code;
	} codes[] = {
		{ GK_PLATE_KIND_LARGE, "01" }, { GK_PLATE_KIND_SMALL, "02" },
		{ GK_PLATE_KIND_EMBASSY, "03" }, { GK_PLATE_KIND_CONSULATE, "04" },
		{ GK_PLATE_KIND_TRAILER, "15" }, { GK_PLATE_KIND_COACH, "16" },
		{ GK_PLATE_KIND_POLICE, "23" }, { GK_PLATE_KIND_HK, "26" },
		{ GK_PLATE_KIND_MACAU, "27" }, { GK_PLATE_KIND_NEV_LARGE, "51" },
		{ GK_PLATE_KIND_NEV_SMALL, "52" },
	};
	size_t i;
	int r;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		T_CHECK(gk_plate_kind_code(codes[i].kind) != NULL &&
		    strcmp(gk_plate_kind_code(codes[i].kind), codes[i].code) == 0);
	T_CHECK(gk_plate_kind_code(GK_PLATE_KIND_ORDINARY) == NULL);
	T_CHECK(gk_plate_kind_code(GK_PLATE_KIND_UNKNOWN) == NULL);
	T_CHECK(gk_plate_kind_code(GK_PLATE_KIND_COUNT) == NULL);
	for (i = 0; i < sizeof(kind_table) / sizeof(kind_table[0]); i++)
		T_STREQ(gk_plate_kind_name(kind_table[i].kind), kind_table[i].name);
	T_STREQ(gk_plate_kind_name(GK_PLATE_KIND_UNKNOWN), "unknown");
	T_STREQ(gk_plate_kind_name(GK_PLATE_KIND_COUNT), "?");

	/* Every reason has its own stable name. */
	T_CHECK(sizeof(reason_table) / sizeof(reason_table[0]) == GK_PLATE_R_COUNT);
	for (i = 0; i < sizeof(reason_table) / sizeof(reason_table[0]); i++)
		T_STREQ(gk_plate_reason_name(reason_table[i].reason),
		    reason_table[i].name);
	for (r = 0; r < GK_PLATE_R_COUNT; r++)
		T_CHECK(strcmp(gk_plate_reason_name((enum gk_plate_reason)r), "?") !=
		    0);
	T_STREQ(gk_plate_reason_name(GK_PLATE_R_COUNT), "?");

	T_STREQ(gk_plate_nev_name(GK_PLATE_NEV_NONE), "none");
	T_STREQ(gk_plate_nev_name(GK_PLATE_NEV_PURE_ELECTRIC), "pure_electric");
	T_STREQ(gk_plate_nev_name(GK_PLATE_NEV_NOT_PURE), "not_pure");
	T_STREQ(gk_plate_nev_name((enum gk_plate_nev)9), "?");
}

int
main(void)
{
	test_names();
	test_colours();
	test_data_files();
	test_generated();
	test_normalise_generated();
	test_parse();
	test_bounds();
	test_random();
	printf("plates: %d valid, %d invalid\n", nvalid, ninvalid);
	T_CHECK(nvalid >= 200);
	T_CHECK(ninvalid >= 200);
	return T_DONE();
}
