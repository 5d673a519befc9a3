/*
 * Chinese licence plates (GA 36-2018): normalise what a camera, an RFID tag or an
 * operator typed into one canonical UTF-8 string, check it against the formats the
 * standard allows, and say what kind of plate it is. Every plate that reaches the
 * registry, the ledger or a regulator platform goes through here, so that "沪a·12345",
 * "沪Ａ１２３４５" and "沪A 1234５" are one vehicle, and an impossible read is rejected
 * with a reason an operator can act on ("position 3: 'I' is not allowed in a serial").
 *
 * Plate colours differ between the systems we talk to (JT/T 697.7 codes, a freight
 * platform's extension, parking vendors), so there is one canonical colour enum and a
 * code table per system.
 *
 * The module is pure: no I/O, no allocation, no global state; every function is
 * thread-safe. Plates are UTF-8; characters are counted as code points and positions
 * in messages are 1-based character positions.
 *
 *	char plate[GK_PLATE_MAX];
 *	struct gk_plate_info info;
 *	struct gk_plate_err err;
 *
 *	if (gk_plate_parse(raw, GK_PLATE_COLOUR_BLUE, 0, plate, sizeof(plate),
 *	    &info, &err) == -1)
 *		gk_log(GK_LOG_WARN, "plate.rejected", "reason=%s msg=%s",
 *		    gk_plate_reason_name(err.reason), err.msg);
 */
#ifndef GATEKIT_PLATE_H
#define GATEKIT_PLATE_H

#include <stddef.h>

/*
 * Size of a plate buffer, NUL included. Input of GK_PLATE_MAX bytes or more is
 * rejected (never truncated); a normalised plate always fits in GK_PLATE_MAX bytes.
 * The longest valid plate is 11 bytes ("粤Z1234港"); the slack is for raw reads
 * with full-width characters and separators.
 */
#define GK_PLATE_MAX		32

/* Size of gk_plate_err.msg. */
#define GK_PLATE_MSG_MAX	128

/*
 * Flags for gk_plate_check() and gk_plate_parse().
 *
 * GK_PLATE_NEV_EXT accepts the extended new-energy letters some validators allow
 * once the D and F series run out: A B C D E for pure electric and F G H J K for not
 * purely electric, in the letter position of both small (3rd character) and large
 * (8th character) new-energy plates. Unconfirmed against the standard, so off by
 * default; without it only D and F are accepted.
 */
#define GK_PLATE_NEV_EXT	0x01u

/*
 * The canonical plate colour. UNKNOWN means "not given" and skips the colour check;
 * OTHER is a colour outside this list (JT/T 697.7 code 9); NONE is an unplated vehicle
 * (JT/T 697.7 code 0). GREEN is the gradient green of small new-energy plates;
 * YELLOW_GREEN is the large new-energy plate.
 */
enum gk_plate_colour {
	GK_PLATE_COLOUR_UNKNOWN = 0,
	GK_PLATE_COLOUR_BLUE,
	GK_PLATE_COLOUR_YELLOW,
	GK_PLATE_COLOUR_BLACK,
	GK_PLATE_COLOUR_WHITE,
	GK_PLATE_COLOUR_GREEN,
	GK_PLATE_COLOUR_YELLOW_GREEN,
	GK_PLATE_COLOUR_OTHER,
	GK_PLATE_COLOUR_NONE,
	GK_PLATE_COLOUR_COUNT		/* not a colour: the number of values */
};

/*
 * External colour code sets.
 *
 * JTT697:         JT/T 697.7-2014: 0 unplated, 1 blue, 2 yellow, 3 black, 4 white,
 *                 5 green, 9 other. Yellow-green has no code here.
 * JTT697_FREIGHT: the freight platform's extension of JT/T 697.7: adds 93 yellow-green
 *                 and 94 gradient green; green is written as 94, while 5 is still
 *                 read as green.
 * PARKING:        a common parking-vendor table: 1 blue, 2 yellow, 3 white, 4 black,
 *                 5 green. No codes for yellow-green, other or unplated.
 */
enum gk_plate_codes {
	GK_PLATE_CODES_JTT697 = 0,
	GK_PLATE_CODES_JTT697_FREIGHT,
	GK_PLATE_CODES_PARKING,
	GK_PLATE_CODES_COUNT		/* not a code set: the number of values */
};

/*
 * Plate kinds. The GA 号牌种类 code of each is given by gk_plate_kind_code().
 * ORDINARY is a 7-character plate "P L 5×" whose colour was not given, so it cannot be
 * told apart as LARGE (yellow, 01) or SMALL (blue, 02); it has no code.
 */
enum gk_plate_kind {
	GK_PLATE_KIND_UNKNOWN = 0,	/* not a valid plate */
	GK_PLATE_KIND_ORDINARY,		/* P L 5×, colour not given */
	GK_PLATE_KIND_LARGE,		/* 01 大型汽车: P L 5×, yellow */
	GK_PLATE_KIND_SMALL,		/* 02 小型汽车: P L 5×, blue */
	GK_PLATE_KIND_EMBASSY,		/* 03 使馆汽车: 使 + 6 digits, black */
	GK_PLATE_KIND_CONSULATE,	/* 04 领馆汽车: P L 4 digits 领, black */
	GK_PLATE_KIND_TRAILER,		/* 15 挂车: P L 4× 挂, yellow */
	GK_PLATE_KIND_COACH,		/* 16 教练汽车: P L 4× 学, yellow */
	GK_PLATE_KIND_POLICE,		/* 23 警用汽车: P L 4× 警, white */
	GK_PLATE_KIND_HK,		/* 26 香港入出境车: 粤Z 4× 港, black */
	GK_PLATE_KIND_MACAU,		/* 27 澳门入出境车: 粤Z 4× 澳, black */
	GK_PLATE_KIND_NEV_LARGE,	/* 51 大型新能源: P L 5 digits [DF], yellow-green */
	GK_PLATE_KIND_NEV_SMALL,	/* 52 小型新能源: P L [DF] × 4 digits, green */
	GK_PLATE_KIND_COUNT		/* not a kind: the number of values */
};

/* What powers a new-energy vehicle, from its plate's letter (D or F group). */
enum gk_plate_nev {
	GK_PLATE_NEV_NONE = 0,		/* not a new-energy plate */
	GK_PLATE_NEV_PURE_ELECTRIC,	/* D (extended: A B C E) */
	GK_PLATE_NEV_NOT_PURE,		/* F (extended: G H J K): hybrid, fuel cell... */
};

/*
 * Why a plate was rejected. The names (gk_plate_reason_name) are stable machine codes
 * for logs, decisions and reports. gk_plate_check() tests in this order and reports
 * the first failure: too_long, bad_utf8, empty, bad_length, bad_province, bad_issuer,
 * forbidden_letter/bad_serial_char (left to right), bad_nev_pattern/nev_ext_letter,
 * colour_mismatch.
 */
enum gk_plate_reason {
	GK_PLATE_OK = 0,		/* "ok" */
	GK_PLATE_R_BAD_ARG,		/* "bad_arg": NULL output or colour out of range */
	GK_PLATE_R_TOO_LONG,		/* "too_long": GK_PLATE_MAX bytes or more */
	GK_PLATE_R_NO_ROOM,		/* "no_room": the output buffer is too small */
	GK_PLATE_R_BAD_UTF8,		/* "bad_utf8" */
	GK_PLATE_R_EMPTY,		/* "empty": nothing left after stripping */
	GK_PLATE_R_BAD_LENGTH,		/* "bad_length": not 7 or 8 characters */
	GK_PLATE_R_BAD_PROVINCE,	/* "bad_province": 1st character */
	GK_PLATE_R_BAD_ISSUER,		/* "bad_issuer": 2nd character not A-Z */
	GK_PLATE_R_FORBIDDEN_LETTER,	/* "forbidden_letter": I or O where not allowed */
	GK_PLATE_R_BAD_SERIAL_CHAR,	/* "bad_serial_char": not allowed in the serial */
	GK_PLATE_R_BAD_NEV_PATTERN,	/* "bad_nev_pattern": 8 characters, no NEV shape */
	GK_PLATE_R_NEV_EXT_LETTER,	/* "nev_ext_letter": extended NEV letter, flag off */
	GK_PLATE_R_COLOUR_MISMATCH,	/* "colour_mismatch": colour wrong for the kind */
	GK_PLATE_R_COUNT		/* not a reason: the number of values */
};

/*
 * Filled on rejection: the reason, the 1-based character position it concerns (0 when
 * it is about the plate as a whole) and a message for humans that names the position
 * and the character, e.g. "position 3: 'I' is not allowed in a serial".
 */
struct gk_plate_err {
	enum gk_plate_reason	 reason;
	int			 position;
	char			 msg[GK_PLATE_MSG_MAX];
};

/* What a valid plate is. */
struct gk_plate_info {
	enum gk_plate_kind	 kind;
	char			 kind_code[3];	/* GA 号牌种类 "02", or "" (ORDINARY) */
	char			 province[4];	/* UTF-8 "沪", or "" for 使 plates */
	char			 issuer;	/* 'A'..'Z', or 0 for 使 plates */
	int			 is_new_energy;
	enum gk_plate_nev	 nev;
	enum gk_plate_colour	 colour;	/* the kind's colour; UNKNOWN for ORDINARY */
	int			 nchars;	/* characters: 7 or 8 */
};

/* Bits returned by gk_plate_normalise(): what it changed. */
#define GK_PLATE_N_WIDTH	0x01u	/* full-width characters made half-width */
#define GK_PLATE_N_CASE		0x02u	/* lower-case letters made upper-case */
#define GK_PLATE_N_STRIP	0x04u	/* spaces or separators removed */
#define GK_PLATE_N_OCR		0x08u	/* O -> 0 or I -> 1 in a serial */

/*
 * Normalises a raw plate read into out (outlen bytes, GK_PLATE_MAX always suffices):
 * full-width ASCII (Ａ-Ｚ, ０-９, ...) and the ideographic space become half-width,
 * lower case becomes upper case, spaces, tabs, '·' (U+00B7), '•' (U+2022), '-' and '.'
 * are removed, and in the serial (every character after the issuing letter, or after
 * 使 in an embassy plate), where I and O are never allowed, 'O' becomes '0' and 'I'
 * becomes '1'. Nothing else is guessed: the result may still be an invalid plate, which
 * gk_plate_check() then says.
 * Returns a bitmask of GK_PLATE_N_* saying what changed (0: already canonical), or -1
 * with err filled (when not NULL) for input that is NULL, GK_PLATE_MAX bytes or longer,
 * not valid UTF-8, empty after stripping, or that does not fit in out. out is the
 * caller's and must not overlap in; on failure it holds "" when outlen > 0.
 */
int	gk_plate_normalise(const char *in, char *out, size_t outlen,
	    struct gk_plate_err *err);

/*
 * Checks a normalised plate against GA 36-2018 and, when colour is not
 * GK_PLATE_COLOUR_UNKNOWN, that the colour fits the kind: ordinary plates blue (small)
 * or yellow (large); 挂 and 学 yellow; 警 white; 港, 澳, 使 and 领 black; small
 * new-energy green; large new-energy yellow-green. flags: GK_PLATE_NEV_EXT or 0.
 * Returns 0 and fills info (when not NULL), or -1 and fills err (when not NULL).
 * The plate is not normalised first: "沪a12345" is rejected.
 */
int	gk_plate_check(const char *plate, enum gk_plate_colour colour, unsigned flags,
	    struct gk_plate_info *info, struct gk_plate_err *err);

/*
 * gk_plate_normalise() then gk_plate_check(): the normalised plate goes to out
 * (outlen bytes). Returns 0, or -1 with err filled; out then holds the normalised
 * (invalid) plate, or "" when normalisation itself failed.
 */
int	gk_plate_parse(const char *raw, enum gk_plate_colour colour, unsigned flags,
	    char *out, size_t outlen, struct gk_plate_info *info,
	    struct gk_plate_err *err);

/* The stable machine name of a reason ("bad_province"), "?" when out of range. */
const char *gk_plate_reason_name(enum gk_plate_reason reason);

/* The kind's name ("small", "nev_large", "hk"), "?" when out of range. */
const char *gk_plate_kind_name(enum gk_plate_kind kind);

/*
 * The GA 号牌种类 code of a kind ("01", "52"), or NULL for UNKNOWN, ORDINARY and
 * values out of range. HK 26 and Macau 27 come from GA 24.7, not from DOMAIN.md.
 */
const char *gk_plate_kind_code(enum gk_plate_kind kind);

/* "none", "pure_electric", "not_pure", "?" when out of range. */
const char *gk_plate_nev_name(enum gk_plate_nev nev);

/*
 * Names of a colour: English ("blue", "yellow-green", "unknown") and Chinese
 * ("蓝", "黄绿", "未知"). "?" when out of range. Static strings.
 */
const char *gk_plate_colour_name(enum gk_plate_colour colour);
const char *gk_plate_colour_name_zh(enum gk_plate_colour colour);

/*
 * Parses a colour name: English, case-insensitive ("blue", "Yellow-Green",
 * "yellow_green", "gradient-green"), or Chinese with or without 色 ("蓝", "黄绿色",
 * "渐变绿"). Returns 0 and sets *colour, or -1 when s is not a colour name.
 */
int	gk_plate_colour_parse(const char *s, enum gk_plate_colour *colour);

/*
 * The code of colour in the code set sys, or -1 when the set has no code for it
 * (e.g. yellow-green in plain JT/T 697.7, unknown everywhere) or an argument is out
 * of range. The caller decides what to send then (often the set's "other").
 */
int	gk_plate_colour_code(enum gk_plate_codes sys, enum gk_plate_colour colour);

/*
 * Reads code in the code set sys. Returns 0 and sets *colour, or -1 when the set has
 * no such code.
 */
int	gk_plate_colour_from_code(enum gk_plate_codes sys, int code,
	    enum gk_plate_colour *colour);

/* "jtt697", "jtt697-freight", "parking"; "?" when out of range. */
const char *gk_plate_codes_name(enum gk_plate_codes sys);

/* Parses a code set's name. Returns 0 and sets *sys, or -1. */
int	gk_plate_codes_parse(const char *s, enum gk_plate_codes *sys);

#endif
