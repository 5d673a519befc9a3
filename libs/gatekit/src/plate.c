/*
 * Chinese licence plates (GA 36-2018): normalisation, validation and colour code
 * tables. Plate reads come from cameras, RFID tags, weighbridge operators and
 * regulator platforms, each with its own habits (full-width digits, "沪A·12345",
 * lower case, O for 0), and the registry, the ledger and the reports must all agree on
 * one spelling, so everything goes through here. Rules follow DOMAIN.md §5.
 *
 * Pure code: no I/O, no allocation, no global state. Text is UTF-8, decoded here
 * strictly (no overlong forms, no surrogates) because a plate is untrusted input and
 * a lenient decoder would let two byte strings name one vehicle.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gatekit/plate.h"

/* The 31 province abbreviations, in GA 36-2018 order. */
static const char provinces[] =
    "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新";

#define CP_GUA		0x6302u		/* 挂 trailer */
#define CP_XUE		0x5B66u		/* 学 coach */
#define CP_JING		0x8B66u		/* 警 police */
#define CP_GANG		0x6E2Fu		/* 港 Hong Kong */
#define CP_AO		0x6FB3u		/* 澳 Macau */
#define CP_SHI		0x4F7Fu		/* 使 embassy */
#define CP_LING		0x9886u		/* 领 consulate */
#define CP_YUE		0x7CA4u		/* 粤 Guangdong */

/* Letters of new-energy plates: base letters and the extended groups. */
#define NEV_PURE_EXT	"ABCDE"
#define NEV_NOT_PURE_EXT "FGHJK"

static const char *const reason_names[GK_PLATE_R_COUNT] = {
	[GK_PLATE_OK] = "ok",
	[GK_PLATE_R_BAD_ARG] = "bad_arg",
	[GK_PLATE_R_TOO_LONG] = "too_long",
	[GK_PLATE_R_NO_ROOM] = "no_room",
	[GK_PLATE_R_BAD_UTF8] = "bad_utf8",
	[GK_PLATE_R_EMPTY] = "empty",
	[GK_PLATE_R_BAD_LENGTH] = "bad_length",
	[GK_PLATE_R_BAD_PROVINCE] = "bad_province",
	[GK_PLATE_R_BAD_ISSUER] = "bad_issuer",
	[GK_PLATE_R_FORBIDDEN_LETTER] = "forbidden_letter",
	[GK_PLATE_R_BAD_SERIAL_CHAR] = "bad_serial_char",
	[GK_PLATE_R_BAD_NEV_PATTERN] = "bad_nev_pattern",
	[GK_PLATE_R_NEV_EXT_LETTER] = "nev_ext_letter",
	[GK_PLATE_R_COLOUR_MISMATCH] = "colour_mismatch",
};

struct kind_desc {
	const char		*name;
	const char		*code;		/* GA 号牌种类, NULL when none */
	enum gk_plate_colour	 colour;	/* the colour the kind must have */
	const char		*what;		/* for messages */
};

static const struct kind_desc kinds[GK_PLATE_KIND_COUNT] = {
	[GK_PLATE_KIND_UNKNOWN] = { "unknown", NULL, GK_PLATE_COLOUR_UNKNOWN, "unknown" },
	[GK_PLATE_KIND_ORDINARY] = { "ordinary", NULL, GK_PLATE_COLOUR_UNKNOWN,
	    "an ordinary" },
	[GK_PLATE_KIND_LARGE] = { "large", "01", GK_PLATE_COLOUR_YELLOW, "a large" },
	[GK_PLATE_KIND_SMALL] = { "small", "02", GK_PLATE_COLOUR_BLUE, "a small" },
	[GK_PLATE_KIND_EMBASSY] = { "embassy", "03", GK_PLATE_COLOUR_BLACK,
	    "an embassy (使)" },
	[GK_PLATE_KIND_CONSULATE] = { "consulate", "04", GK_PLATE_COLOUR_BLACK,
	    "a consulate (领)" },
	[GK_PLATE_KIND_TRAILER] = { "trailer", "15", GK_PLATE_COLOUR_YELLOW,
	    "a trailer (挂)" },
	[GK_PLATE_KIND_COACH] = { "coach", "16", GK_PLATE_COLOUR_YELLOW,
	    "a coach (学)" },
	[GK_PLATE_KIND_POLICE] = { "police", "23", GK_PLATE_COLOUR_WHITE,
	    "a police (警)" },
	[GK_PLATE_KIND_HK] = { "hk", "26", GK_PLATE_COLOUR_BLACK, "a Hong Kong (港)" },
	[GK_PLATE_KIND_MACAU] = { "macau", "27", GK_PLATE_COLOUR_BLACK,
	    "a Macau (澳)" },
	[GK_PLATE_KIND_NEV_LARGE] = { "nev_large", "51", GK_PLATE_COLOUR_YELLOW_GREEN,
	    "a large new-energy" },
	[GK_PLATE_KIND_NEV_SMALL] = { "nev_small", "52", GK_PLATE_COLOUR_GREEN,
	    "a small new-energy" },
};

static const char *const colour_names[GK_PLATE_COLOUR_COUNT] = {
	[GK_PLATE_COLOUR_UNKNOWN] = "unknown",
	[GK_PLATE_COLOUR_BLUE] = "blue",
	[GK_PLATE_COLOUR_YELLOW] = "yellow",
	[GK_PLATE_COLOUR_BLACK] = "black",
	[GK_PLATE_COLOUR_WHITE] = "white",
	[GK_PLATE_COLOUR_GREEN] = "green",
	[GK_PLATE_COLOUR_YELLOW_GREEN] = "yellow-green",
	[GK_PLATE_COLOUR_OTHER] = "other",
	[GK_PLATE_COLOUR_NONE] = "none",
};

static const char *const colour_names_zh[GK_PLATE_COLOUR_COUNT] = {
	[GK_PLATE_COLOUR_UNKNOWN] = "未知",
	[GK_PLATE_COLOUR_BLUE] = "蓝",
	[GK_PLATE_COLOUR_YELLOW] = "黄",
	[GK_PLATE_COLOUR_BLACK] = "黑",
	[GK_PLATE_COLOUR_WHITE] = "白",
	[GK_PLATE_COLOUR_GREEN] = "绿",
	[GK_PLATE_COLOUR_YELLOW_GREEN] = "黄绿",
	[GK_PLATE_COLOUR_OTHER] = "其他",
	[GK_PLATE_COLOUR_NONE] = "无",
};

/* Names accepted on input besides the canonical ones. */
static const struct {
	const char		*name;
	enum gk_plate_colour	 colour;
} colour_aliases[] = {
	{ "yellow_green", GK_PLATE_COLOUR_YELLOW_GREEN },
	{ "yellowgreen", GK_PLATE_COLOUR_YELLOW_GREEN },
	{ "gradient-green", GK_PLATE_COLOUR_GREEN },
	{ "gradient_green", GK_PLATE_COLOUR_GREEN },
	{ "unplated", GK_PLATE_COLOUR_NONE },
	{ "渐变绿", GK_PLATE_COLOUR_GREEN },
	{ "其它", GK_PLATE_COLOUR_OTHER },
};

struct colour_code {
	enum gk_plate_colour	 colour;
	int			 code;
};

/*
 * Code tables. Encoding takes the first entry for a colour, decoding any entry for a
 * code: the freight table writes green as 94 but still reads the base table's 5.
 */
static const struct colour_code jtt697[] = {
	{ GK_PLATE_COLOUR_NONE, 0 },
	{ GK_PLATE_COLOUR_BLUE, 1 },
	{ GK_PLATE_COLOUR_YELLOW, 2 },
	{ GK_PLATE_COLOUR_BLACK, 3 },
	{ GK_PLATE_COLOUR_WHITE, 4 },
	{ GK_PLATE_COLOUR_GREEN, 5 },
	{ GK_PLATE_COLOUR_OTHER, 9 },
};

static const struct colour_code jtt697_freight[] = {
	{ GK_PLATE_COLOUR_NONE, 0 },
	{ GK_PLATE_COLOUR_BLUE, 1 },
	{ GK_PLATE_COLOUR_YELLOW, 2 },
	{ GK_PLATE_COLOUR_BLACK, 3 },
	{ GK_PLATE_COLOUR_WHITE, 4 },
	{ GK_PLATE_COLOUR_GREEN, 94 },
	{ GK_PLATE_COLOUR_YELLOW_GREEN, 93 },
	{ GK_PLATE_COLOUR_OTHER, 9 },
	{ GK_PLATE_COLOUR_GREEN, 5 },
};

static const struct colour_code parking[] = {
	{ GK_PLATE_COLOUR_BLUE, 1 },
	{ GK_PLATE_COLOUR_YELLOW, 2 },
	{ GK_PLATE_COLOUR_WHITE, 3 },
	{ GK_PLATE_COLOUR_BLACK, 4 },
	{ GK_PLATE_COLOUR_GREEN, 5 },
};

static const struct {
	const char			*name;
	const struct colour_code	*table;
	size_t				 n;
} code_sets[GK_PLATE_CODES_COUNT] = {
	[GK_PLATE_CODES_JTT697] = { "jtt697", jtt697,
	    sizeof(jtt697) / sizeof(jtt697[0]) },
	[GK_PLATE_CODES_JTT697_FREIGHT] = { "jtt697-freight", jtt697_freight,
	    sizeof(jtt697_freight) / sizeof(jtt697_freight[0]) },
	[GK_PLATE_CODES_PARKING] = { "parking", parking,
	    sizeof(parking) / sizeof(parking[0]) },
};

static int	fail(struct gk_plate_err *, enum gk_plate_reason, int,
		    const char *, ...) __attribute__((format(printf, 4, 5)));

/*
 * Fills err (when not NULL) and returns -1, so that every rejection is one line.
 */
static int
fail(struct gk_plate_err *err, enum gk_plate_reason reason, int position,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->reason = reason;
	err->position = position;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static void
ok(struct gk_plate_err *err)
{
	if (err == NULL)
		return;
	err->reason = GK_PLATE_OK;
	err->position = 0;
	err->msg[0] = '\0';
}

/*
 * Decodes one code point of s (len bytes) at *i, advancing *i. Returns 0, or -1 for a
 * malformed sequence: a stray continuation byte, a truncated sequence, an overlong
 * form, a surrogate or a value above U+10FFFF.
 */
static int
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	uint32_t c, min;
	size_t n, k;

	c = s[*i];
	if (c < 0x80) {
		*cp = c;
		(*i)++;
		return 0;
	}
	if ((c & 0xE0) == 0xC0) {
		n = 1;
		min = 0x80;
		c &= 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		n = 2;
		min = 0x800;
		c &= 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		n = 3;
		min = 0x10000;
		c &= 0x07;
	} else
		return -1;
	if (*i + n >= len)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xC0) != 0x80)
			return -1;
		c = (c << 6) | (s[*i + k] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	*cp = c;
	*i += n + 1;
	return 0;
}

/* Encodes cp into buf (at least 5 bytes), NUL-terminated. Returns the byte count. */
static size_t
utf8_put(uint32_t cp, char *buf)
{
	size_t n;

	if (cp < 0x80) {
		buf[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		buf[0] = (char)(0xC0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		buf[0] = (char)(0xE0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		buf[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		buf[0] = (char)(0xF0 | (cp >> 18));
		buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		buf[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf[n] = '\0';
	return n;
}

/*
 * Decodes a whole string of len bytes into cps (room for max). Returns the number of
 * code points, or -1 with *bad (1-based character position) and *byte (the offending
 * byte) set.
 */
static int
utf8_decode(const char *s, size_t len, uint32_t *cps, int max, int *bad,
    unsigned *byte)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	int n = 0;

	while (i < len) {
		if (n == max || utf8_next(u, len, &i, &cps[n]) == -1) {
			*bad = n + 1;
			*byte = u[i];
			return -1;
		}
		n++;
	}
	return n;
}

/*
 * Writes a character for a message: 'A' for printable ASCII, '沪' for other printable
 * text, U+0001 for controls, so that a message never carries raw control bytes.
 */
static const char *
cpdesc(uint32_t cp, char buf[16])
{
	char u[5];

	if (cp > 0x20 && cp < 0x7F)
		snprintf(buf, 16, "'%c'", (char)cp);
	else if (cp >= 0xA0 && cp != 0x2028 && cp != 0x2029) {
		utf8_put(cp, u);
		snprintf(buf, 16, "'%s'", u);
	} else
		snprintf(buf, 16, "U+%04X", (unsigned)cp);
	return buf;
}

static int
is_province(uint32_t cp)
{
	const unsigned char *u = (const unsigned char *)provinces;
	size_t i = 0, len = sizeof(provinces) - 1;
	uint32_t p;

	while (i < len) {
		if (utf8_next(u, len, &i, &p) == -1)
			return 0;
		if (p == cp)
			return 1;
	}
	return 0;
}

static int
is_digit(uint32_t cp)
{
	return cp >= '0' && cp <= '9';
}

static int
is_upper(uint32_t cp)
{
	return cp >= 'A' && cp <= 'Z';
}

/* A character the serial may hold at all: digits and A-Z but I and O. */
static int
is_serial(uint32_t cp)
{
	return is_digit(cp) || (is_upper(cp) && cp != 'I' && cp != 'O');
}

static int
in_set(uint32_t cp, const char *set)
{
	return cp < 0x80 && cp != 0 && strchr(set, (int)cp) != NULL;
}

/*
 * The new-energy group of a letter: D/F always, the extended letters only with
 * GK_PLATE_NEV_EXT. Returns the group, or NONE with *ext set when the letter would be
 * accepted under the flag.
 */
static enum gk_plate_nev
nev_letter(uint32_t cp, unsigned flags, int *ext)
{
	*ext = 0;
	if (cp == 'D')
		return GK_PLATE_NEV_PURE_ELECTRIC;
	if (cp == 'F')
		return GK_PLATE_NEV_NOT_PURE;
	if (in_set(cp, NEV_PURE_EXT) || in_set(cp, NEV_NOT_PURE_EXT)) {
		if ((flags & GK_PLATE_NEV_EXT) == 0) {
			*ext = 1;
			return GK_PLATE_NEV_NONE;
		}
		return in_set(cp, NEV_PURE_EXT) ? GK_PLATE_NEV_PURE_ELECTRIC :
		    GK_PLATE_NEV_NOT_PURE;
	}
	return GK_PLATE_NEV_NONE;
}

/* Checks positions from..to (1-based, inclusive) as serial characters. */
static int
check_serial(const uint32_t *cps, int from, int to, int digits_only,
    const char *what, struct gk_plate_err *err)
{
	char d[16];
	int p;
	uint32_t c;

	for (p = from; p <= to; p++) {
		c = cps[p - 1];
		if (c == 'I' || c == 'O')
			return fail(err, GK_PLATE_R_FORBIDDEN_LETTER, p,
			    "position %d: %s is not allowed in a serial", p,
			    cpdesc(c, d));
		if (!is_serial(c))
			return fail(err, GK_PLATE_R_BAD_SERIAL_CHAR, p,
			    "position %d: %s is not allowed in a serial", p,
			    cpdesc(c, d));
		if (digits_only && !is_digit(c))
			return fail(err, GK_PLATE_R_BAD_SERIAL_CHAR, p,
			    "position %d: %s is not allowed in %s serial: "
			    "digits only", p, cpdesc(c, d), what);
	}
	return 0;
}

/*
 * The new-energy shapes, after check_serial() passed for positions 3-8: a letter last
 * makes it large (5 digits then the letter), a digit last small (letter, any serial
 * character, 4 digits).
 */
static int
check_nev(const uint32_t *cps, unsigned flags, enum gk_plate_kind *kind,
    enum gk_plate_nev *nev, struct gk_plate_err *err)
{
	char d[16];
	int p, ext;

	if (is_upper(cps[7])) {
		for (p = 3; p <= 7; p++)
			if (!is_digit(cps[p - 1]))
				return fail(err, GK_PLATE_R_BAD_NEV_PATTERN, p,
				    "position %d: %s: a large new-energy plate has 5 "
				    "digits before its letter", p,
				    cpdesc(cps[p - 1], d));
		p = 8;
		*kind = GK_PLATE_KIND_NEV_LARGE;
	} else {
		for (p = 5; p <= 8; p++)
			if (!is_digit(cps[p - 1]))
				return fail(err, GK_PLATE_R_BAD_NEV_PATTERN, p,
				    "position %d: %s: a small new-energy plate ends in "
				    "4 digits", p, cpdesc(cps[p - 1], d));
		p = 3;
		*kind = GK_PLATE_KIND_NEV_SMALL;
	}
	*nev = nev_letter(cps[p - 1], flags, &ext);
	if (*nev != GK_PLATE_NEV_NONE)
		return 0;
	if (ext)
		return fail(err, GK_PLATE_R_NEV_EXT_LETTER, p,
		    "position %d: %s is an extended new-energy letter, not enabled",
		    p, cpdesc(cps[p - 1], d));
	return fail(err, GK_PLATE_R_BAD_NEV_PATTERN, p,
	    "position %d: %s: %s new-energy plate has D or F here", p,
	    cpdesc(cps[p - 1], d), *kind == GK_PLATE_KIND_NEV_LARGE ? "a large" :
	    "a small");
}

/* The kind of a 7-character plate from its last character, ORDINARY when plain. */
static enum gk_plate_kind
suffix_kind(uint32_t cp)
{
	switch (cp) {
	case CP_GUA:
		return GK_PLATE_KIND_TRAILER;
	case CP_XUE:
		return GK_PLATE_KIND_COACH;
	case CP_JING:
		return GK_PLATE_KIND_POLICE;
	case CP_GANG:
		return GK_PLATE_KIND_HK;
	case CP_AO:
		return GK_PLATE_KIND_MACAU;
	case CP_LING:
		return GK_PLATE_KIND_CONSULATE;
	default:
		return GK_PLATE_KIND_ORDINARY;
	}
}

/*
 * Checks the colour against the kind; an ordinary plate becomes large or small here.
 */
static int
check_colour(enum gk_plate_kind *kind, enum gk_plate_colour colour,
    struct gk_plate_err *err)
{
	if (colour == GK_PLATE_COLOUR_UNKNOWN)
		return 0;
	if (*kind == GK_PLATE_KIND_ORDINARY) {
		if (colour == GK_PLATE_COLOUR_BLUE)
			*kind = GK_PLATE_KIND_SMALL;
		else if (colour == GK_PLATE_COLOUR_YELLOW)
			*kind = GK_PLATE_KIND_LARGE;
		else
			return fail(err, GK_PLATE_R_COLOUR_MISMATCH, 0,
			    "colour %s does not fit an ordinary plate (expected "
			    "blue or yellow)", colour_names[colour]);
		return 0;
	}
	if (colour != kinds[*kind].colour)
		return fail(err, GK_PLATE_R_COLOUR_MISMATCH, 0,
		    "colour %s does not fit %s plate (expected %s)",
		    colour_names[colour], kinds[*kind].what,
		    colour_names[kinds[*kind].colour]);
	return 0;
}

int
gk_plate_check(const char *plate, enum gk_plate_colour colour, unsigned flags,
    struct gk_plate_info *info, struct gk_plate_err *err)
{
	uint32_t cps[GK_PLATE_MAX];
	enum gk_plate_kind kind = GK_PLATE_KIND_UNKNOWN;
	enum gk_plate_nev nev = GK_PLATE_NEV_NONE;
	size_t len;
	unsigned byte = 0;
	int n, bad = 0;
	char d[16];

	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (plate == NULL)
		return fail(err, GK_PLATE_R_BAD_ARG, 0, "no plate");
	if ((unsigned)colour >= GK_PLATE_COLOUR_COUNT)
		return fail(err, GK_PLATE_R_BAD_ARG, 0, "colour %d is not a colour",
		    (int)colour);
	len = strnlen(plate, GK_PLATE_MAX);
	if (len >= GK_PLATE_MAX)
		return fail(err, GK_PLATE_R_TOO_LONG, 0,
		    "plate is %d bytes or longer", GK_PLATE_MAX);
	n = utf8_decode(plate, len, cps, GK_PLATE_MAX, &bad, &byte);
	if (n == -1)
		return fail(err, GK_PLATE_R_BAD_UTF8, bad,
		    "position %d: invalid UTF-8 byte 0x%02x", bad, byte);
	if (n == 0)
		return fail(err, GK_PLATE_R_EMPTY, 0, "empty plate");
	if (n != 7 && n != 8)
		return fail(err, GK_PLATE_R_BAD_LENGTH, 0,
		    "%d characters: a plate has 7 or 8", n);

	if (cps[0] == CP_SHI) {
		if (n != 7)
			return fail(err, GK_PLATE_R_BAD_LENGTH, 0,
			    "%d characters: an embassy plate (使) has 7", n);
		if (check_serial(cps, 2, 7, 1, "an embassy", err) == -1)
			return -1;
		kind = GK_PLATE_KIND_EMBASSY;
		goto found;
	}
	if (!is_province(cps[0]))
		return fail(err, GK_PLATE_R_BAD_PROVINCE, 1,
		    "position 1: %s is not a province abbreviation",
		    cpdesc(cps[0], d));
	if (cps[1] == 'I')
		return fail(err, GK_PLATE_R_FORBIDDEN_LETTER, 2,
		    "position 2: 'I' is not allowed as the issuing letter");
	if (!is_upper(cps[1]))
		return fail(err, GK_PLATE_R_BAD_ISSUER, 2,
		    "position 2: %s is not an issuing letter (A-Z)", cpdesc(cps[1], d));

	if (n == 8) {
		if (check_serial(cps, 3, 8, 0, NULL, err) == -1 ||
		    check_nev(cps, flags, &kind, &nev, err) == -1)
			return -1;
		goto found;
	}

	kind = suffix_kind(cps[6]);
	if (kind == GK_PLATE_KIND_HK || kind == GK_PLATE_KIND_MACAU) {
		/* Only Guangdong issues them, all under Z. */
		if (cps[0] != CP_YUE)
			return fail(err, GK_PLATE_R_BAD_PROVINCE, 1,
			    "position 1: %s: 港/澳 plates are issued as 粤Z",
			    cpdesc(cps[0], d));
		if (cps[1] != 'Z')
			return fail(err, GK_PLATE_R_BAD_ISSUER, 2,
			    "position 2: %s: 港/澳 plates are issued as 粤Z",
			    cpdesc(cps[1], d));
	}
	if (kind == GK_PLATE_KIND_ORDINARY) {
		if (check_serial(cps, 3, 7, 0, NULL, err) == -1)
			return -1;
	} else if (check_serial(cps, 3, 6, kind == GK_PLATE_KIND_CONSULATE,
	    "a consulate", err) == -1)
		return -1;

found:
	if (check_colour(&kind, colour, err) == -1)
		return -1;
	if (info != NULL) {
		info->kind = kind;
		if (kinds[kind].code != NULL)
			memcpy(info->kind_code, kinds[kind].code, 3);
		if (kind != GK_PLATE_KIND_EMBASSY) {
			utf8_put(cps[0], info->province);
			info->issuer = (char)cps[1];
		}
		info->nev = nev;
		info->is_new_energy = nev != GK_PLATE_NEV_NONE;
		info->colour = kinds[kind].colour;
		info->nchars = n;
	}
	ok(err);
	return 0;
}

int
gk_plate_normalise(const char *in, char *out, size_t outlen, struct gk_plate_err *err)
{
	uint32_t cps[GK_PLATE_MAX], c;
	size_t len, i = 0, w;
	unsigned changed = 0;
	char buf[5];
	int n = 0, k, from;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (in == NULL || out == NULL || outlen == 0)
		return fail(err, GK_PLATE_R_BAD_ARG, 0, "no input or no output buffer");
	len = strnlen(in, GK_PLATE_MAX);
	if (len >= GK_PLATE_MAX)
		return fail(err, GK_PLATE_R_TOO_LONG, 0,
		    "plate is %d bytes or longer", GK_PLATE_MAX);
	for (k = 1; i < len; k++) {
		if (utf8_next((const unsigned char *)in, len, &i, &c) == -1)
			return fail(err, GK_PLATE_R_BAD_UTF8, k,
			    "position %d: invalid UTF-8 byte 0x%02x", k,
			    (unsigned char)in[i]);
		if (c >= 0xFF01 && c <= 0xFF5E) {
			c -= 0xFEE0;
			changed |= GK_PLATE_N_WIDTH;
		} else if (c == 0x3000) {
			c = ' ';
			changed |= GK_PLATE_N_WIDTH;
		}
		if (c >= 'a' && c <= 'z') {
			c -= 'a' - 'A';
			changed |= GK_PLATE_N_CASE;
		}
		if (c == ' ' || c == '\t' || c == 0xB7 || c == 0x2022 || c == '-' ||
		    c == '.') {
			changed |= GK_PLATE_N_STRIP;
			continue;
		}
		cps[n++] = c;	/* n < k <= len < GK_PLATE_MAX */
	}
	if (n == 0)
		return fail(err, GK_PLATE_R_EMPTY, 0, "empty plate");

	/* The serial never holds I or O: a read of one there is a 1 or a 0. */
	from = cps[0] == CP_SHI ? 1 : 2;
	for (k = from; k < n; k++) {
		if (cps[k] == 'O' || cps[k] == 'I') {
			cps[k] = cps[k] == 'O' ? '0' : '1';
			changed |= GK_PLATE_N_OCR;
		}
	}

	for (k = 0, w = 0; k < n; k++) {
		len = utf8_put(cps[k], buf);
		if (w + len >= outlen) {
			out[0] = '\0';
			return fail(err, GK_PLATE_R_NO_ROOM, 0,
			    "output buffer of %zu bytes is too small", outlen);
		}
		memcpy(out + w, buf, len);
		w += len;
	}
	out[w] = '\0';
	ok(err);
	return (int)changed;
}

int
gk_plate_parse(const char *raw, enum gk_plate_colour colour, unsigned flags,
    char *out, size_t outlen, struct gk_plate_info *info, struct gk_plate_err *err)
{
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (gk_plate_normalise(raw, out, outlen, err) == -1)
		return -1;
	return gk_plate_check(out, colour, flags, info, err);
}

const char *
gk_plate_reason_name(enum gk_plate_reason reason)
{
	if ((unsigned)reason >= GK_PLATE_R_COUNT)
		return "?";
	return reason_names[reason];
}

const char *
gk_plate_kind_name(enum gk_plate_kind kind)
{
	if ((unsigned)kind >= GK_PLATE_KIND_COUNT)
		return "?";
	return kinds[kind].name;
}

const char *
gk_plate_kind_code(enum gk_plate_kind kind)
{
	if ((unsigned)kind >= GK_PLATE_KIND_COUNT)
		return NULL;
	return kinds[kind].code;
}

const char *
gk_plate_nev_name(enum gk_plate_nev nev)
{
	switch (nev) {
	case GK_PLATE_NEV_NONE:
		return "none";
	case GK_PLATE_NEV_PURE_ELECTRIC:
		return "pure_electric";
	case GK_PLATE_NEV_NOT_PURE:
		return "not_pure";
	}
	return "?";
}

const char *
gk_plate_colour_name(enum gk_plate_colour colour)
{
	if ((unsigned)colour >= GK_PLATE_COLOUR_COUNT)
		return "?";
	return colour_names[colour];
}

const char *
gk_plate_colour_name_zh(enum gk_plate_colour colour)
{
	if ((unsigned)colour >= GK_PLATE_COLOUR_COUNT)
		return "?";
	return colour_names_zh[colour];
}

int
gk_plate_colour_parse(const char *s, enum gk_plate_colour *colour)
{
	static const char se[] = "色";
	char zh[16];
	size_t len, i;
	int c;

	if (s == NULL)
		return -1;
	len = strlen(s);
	/* "蓝色" is "蓝": drop one trailing 色. */
	if (len > sizeof(se) - 1 && len < sizeof(zh) &&
	    strcmp(s + len - (sizeof(se) - 1), se) == 0) {
		memcpy(zh, s, len - (sizeof(se) - 1));
		zh[len - (sizeof(se) - 1)] = '\0';
		s = zh;
	}
	for (c = 0; c < GK_PLATE_COLOUR_COUNT; c++) {
		if (strcasecmp(s, colour_names[c]) == 0 ||
		    strcmp(s, colour_names_zh[c]) == 0) {
			*colour = (enum gk_plate_colour)c;
			return 0;
		}
	}
	for (i = 0; i < sizeof(colour_aliases) / sizeof(colour_aliases[0]); i++) {
		if (strcasecmp(s, colour_aliases[i].name) == 0) {
			*colour = colour_aliases[i].colour;
			return 0;
		}
	}
	return -1;
}

int
gk_plate_colour_code(enum gk_plate_codes sys, enum gk_plate_colour colour)
{
	size_t i;

	if ((unsigned)sys >= GK_PLATE_CODES_COUNT)
		return -1;
	for (i = 0; i < code_sets[sys].n; i++)
		if (code_sets[sys].table[i].colour == colour)
			return code_sets[sys].table[i].code;
	return -1;
}

int
gk_plate_colour_from_code(enum gk_plate_codes sys, int code,
    enum gk_plate_colour *colour)
{
	size_t i;

	if ((unsigned)sys >= GK_PLATE_CODES_COUNT)
		return -1;
	for (i = 0; i < code_sets[sys].n; i++) {
		if (code_sets[sys].table[i].code == code) {
			*colour = code_sets[sys].table[i].colour;
			return 0;
		}
	}
	return -1;
}

const char *
gk_plate_codes_name(enum gk_plate_codes sys)
{
	if ((unsigned)sys >= GK_PLATE_CODES_COUNT)
		return "?";
	return code_sets[sys].name;
}

int
gk_plate_codes_parse(const char *s, enum gk_plate_codes *sys)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; i < GK_PLATE_CODES_COUNT; i++) {
		if (strcmp(s, code_sets[i].name) == 0) {
			*sys = (enum gk_plate_codes)i;
			return 0;
		}
	}
	return -1;
}
