/*
 * Constrained decoding of the reader's per-position softmax (plate_decode.h). Which
 * symbol may stand where is not written down a second time here: each symbol is
 * classified by asking gatekit's own plate check about probe plates ("is 'X' a
 * province?" is "does X+A12345 pass?"), so the decoder and every consumer of plates
 * agree by construction on what a legal plate is.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plate_decode.h"

/* Position classes: what a layout allows at one position (bits of pd_alphabet.cls). */
enum {
	C_PROV = 1u << 0,	/* a province abbreviation */
	C_ISSUER = 1u << 1,	/* issuing letter: A-Z but I */
	C_SERIAL = 1u << 2,	/* digits and A-Z but I and O */
	C_DIGIT = 1u << 3,
	C_NEV = 1u << 4,	/* new-energy letter D or F */
	C_NEVX = 1u << 5,	/* extended new-energy letter (GK_PLATE_NEV_EXT) */
	C_TRAILER = 1u << 6,	/* 挂 学: yellow */
	C_POLICE = 1u << 7,	/* 警: white */
	C_HKMO = 1u << 8,	/* 港 澳 */
	C_LING = 1u << 9,	/* 领 */
	C_SHI = 1u << 10,	/* 使 */
	C_YUE = 1u << 11,	/* 粤, the only issuer of 港/澳 plates */
	C_Z = 1u << 12,		/* Z, ditto */
	C_BLANK = 1u << 13,
};

#define COLOUR(c)	(1u << (c))

/* A plate layout: the classes allowed at each position and the colours it may have. */
struct layout {
	int		n;
	unsigned	pos[8];
	unsigned	colours;
};

static const struct layout layouts[] = {
	{ 7, { C_PROV, C_ISSUER, C_SERIAL, C_SERIAL, C_SERIAL, C_SERIAL, C_SERIAL },
	    COLOUR(GK_PLATE_COLOUR_BLUE) | COLOUR(GK_PLATE_COLOUR_YELLOW) },
	{ 7, { C_PROV, C_ISSUER, C_SERIAL, C_SERIAL, C_SERIAL, C_SERIAL, C_TRAILER },
	    COLOUR(GK_PLATE_COLOUR_YELLOW) },
	{ 7, { C_PROV, C_ISSUER, C_SERIAL, C_SERIAL, C_SERIAL, C_SERIAL, C_POLICE },
	    COLOUR(GK_PLATE_COLOUR_WHITE) },
	{ 7, { C_YUE, C_Z, C_SERIAL, C_SERIAL, C_SERIAL, C_SERIAL, C_HKMO },
	    COLOUR(GK_PLATE_COLOUR_BLACK) },
	{ 7, { C_PROV, C_ISSUER, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_LING },
	    COLOUR(GK_PLATE_COLOUR_BLACK) },
	{ 7, { C_SHI, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT },
	    COLOUR(GK_PLATE_COLOUR_BLACK) },
	{ 8, { C_PROV, C_ISSUER, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_NEV },
	    COLOUR(GK_PLATE_COLOUR_YELLOW_GREEN) },
	{ 8, { C_PROV, C_ISSUER, C_NEV, C_SERIAL, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT },
	    COLOUR(GK_PLATE_COLOUR_GREEN) },
};

static size_t
put_utf8(uint32_t cp, char *buf)
{
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xc0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = (char)(0xe0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	buf[0] = (char)(0xf0 | (cp >> 18));
	buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	buf[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes exactly one UTF-8 character filling s[0..len); 0 when it is not one. */
static uint32_t
one_char(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n, i;

	if (len == 0)
		return 0;
	if (s[0] < 0x80)
		n = 1, cp = s[0];
	else if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n != len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < 0x20 || cp == 0x7f || (n == 2 && cp < 0x80) ||
	    (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return cp;
}

/* Does gatekit accept prefix + the symbol + suffix, and as which kind? */
static int
probe(const char *prefix, uint32_t cp, const char *suffix, unsigned flags,
    enum gk_plate_kind *kind)
{
	char			 buf[GK_PLATE_MAX];
	struct gk_plate_info	 info;
	size_t			 n = strlen(prefix);

	memcpy(buf, prefix, n);
	n += put_utf8(cp, buf + n);
	snprintf(buf + n, sizeof(buf) - n, "%s", suffix);
	if (gk_plate_check(buf, GK_PLATE_COLOUR_UNKNOWN, flags, &info, NULL) == -1)
		return 0;
	if (kind != NULL)
		*kind = info.kind;
	return 1;
}

/* The position classes of one symbol, from gatekit's plate rules. */
static unsigned
classify(uint32_t cp)
{
	enum gk_plate_kind k;
	unsigned c = 0;

	if (probe("", cp, "A12345", 0, NULL))
		c |= C_PROV;
	if (probe("京", cp, "12345", 0, NULL))
		c |= C_ISSUER;
	if (probe("京A", cp, "1234", 0, NULL))
		c |= C_SERIAL;
	if (cp >= '0' && cp <= '9')
		c |= C_DIGIT;
	if (probe("京A12345", cp, "", 0, NULL))
		c |= C_NEV;
	else if (probe("京A12345", cp, "", GK_PLATE_NEV_EXT, NULL))
		c |= C_NEVX;
	if (probe("京A1234", cp, "", 0, &k)) {
		if (k == GK_PLATE_KIND_TRAILER || k == GK_PLATE_KIND_COACH)
			c |= C_TRAILER;
		else if (k == GK_PLATE_KIND_POLICE)
			c |= C_POLICE;
		else if (k == GK_PLATE_KIND_CONSULATE)
			c |= C_LING;
	}
	if (probe("粤Z1234", cp, "", 0, &k) && (k == GK_PLATE_KIND_HK ||
	    k == GK_PLATE_KIND_MACAU))
		c |= C_HKMO;
	if (probe("", cp, "123456", 0, &k) && k == GK_PLATE_KIND_EMBASSY)
		c |= C_SHI;
	if (cp == 0x7ca4)	/* 粤 */
		c |= C_YUE;
	if (cp == 'Z')
		c |= C_Z;
	return c;
}

int
pd_alphabet_parse(struct pd_alphabet *a, const char *text, size_t len,
    const char *blank, char *err, size_t errlen)
{
	size_t	 i = 0, e, l;
	int	 line = 0, tail = 0;
	uint32_t cp;

	memset(a, 0, sizeof(*a));
	a->blank = -1;
	while (i < len) {
		line++;
		for (e = i; e < len && text[e] != '\n'; e++)
			;
		l = e - i;
		if (l > 0 && text[i + l - 1] == '\r')
			l--;
		if (l == 0) {
			tail = 1;	/* only allowed at the end */
			i = e + 1;
			continue;
		}
		if (tail)
			goto bad_empty;
		if (a->nsym == PD_SYM_MAX) {
			snprintf(err, errlen, "line %d: more than %d symbols", line,
			    PD_SYM_MAX);
			return -1;
		}
		if (blank != NULL && strlen(blank) == l &&
		    memcmp(text + i, blank, l) == 0) {
			if (a->blank != -1) {
				snprintf(err, errlen, "line %d: a second blank", line);
				return -1;
			}
			a->blank = a->nsym;
			a->cp[a->nsym++] = 0;
		} else if ((cp = one_char((const unsigned char *)text + i, l)) == 0) {
			snprintf(err, errlen, "line %d: not one UTF-8 character", line);
			return -1;
		} else
			a->cp[a->nsym++] = cp;
		i = e + 1;
	}
	if (a->nsym < 2) {
		snprintf(err, errlen, "fewer than 2 symbols");
		return -1;
	}
	/* Once here rather than per read: a few hundred plate checks. */
	for (i = 0; i < (size_t)a->nsym; i++)
		a->cls[i] = (int)i == a->blank ? C_BLANK : classify(a->cp[i]);
	return 0;
bad_empty:
	snprintf(err, errlen, "line %d: empty line before it", line);
	return -1;
}

static double
lg(float p)
{
	return log(p > 1e-30f ? (double)p : 1e-30);
}

int
pd_decode(const struct pd_alphabet *a, const float *probs, int npos,
    enum gk_plate_colour colour, unsigned flags, struct pd_read *out)
{
	const unsigned	*cls = a->cls;
	int		 pick[PD_POS_MAX], best_pick[PD_POS_MAX];
	const struct layout *best = NULL;
	double		 best_score = -INFINITY, score, s;
	unsigned	 want, nevmask;
	size_t		 li, off;
	int		 p, k, bk;
	struct gk_plate_info info;

	memset(out, 0, sizeof(*out));
	if (npos < 7 || npos > PD_POS_MAX || a->nsym < 2)
		return -1;
	nevmask = C_NEV | ((flags & GK_PLATE_NEV_EXT) ? C_NEVX : 0);
	for (li = 0; li < sizeof(layouts) / sizeof(layouts[0]); li++) {
		const struct layout *L = &layouts[li];

		if (L->n > npos)
			continue;
		if (colour != GK_PLATE_COLOUR_UNKNOWN &&
		    colour != GK_PLATE_COLOUR_OTHER && colour != GK_PLATE_COLOUR_NONE &&
		    (L->colours & COLOUR(colour)) == 0)
			continue;
		score = 0;
		for (p = 0; p < npos && score > -INFINITY; p++) {
			want = p < L->n ? L->pos[p] : C_BLANK;
			if (want == C_NEV)
				want = nevmask;
			bk = -1;
			for (k = 0; k < a->nsym; k++)
				if ((cls[k] & want) && (bk == -1 ||
				    probs[p * a->nsym + k] > probs[p * a->nsym + bk]))
					bk = k;
			if (bk == -1)
				score = -INFINITY;	/* the reader cannot say it */
			else {
				pick[p] = bk;
				score += lg(probs[p * a->nsym + bk]);
			}
		}
		if (score > best_score) {
			best_score = score;
			best = L;
			memcpy(best_pick, pick, sizeof(pick));
		}
	}
	if (best == NULL)
		return -1;
	off = 0;
	for (p = 0; p < best->n; p++) {
		off += put_utf8(a->cp[best_pick[p]], out->plate + off);
		s = probs[p * a->nsym + best_pick[p]];
		out->char_conf[p] = !(s > 0) ? 0 : s > 1 ? 1 : s;	/* NaN: 0 */
	}
	out->plate[off] = '\0';
	out->nchars = best->n;
	out->confidence = exp(best_score);
	if (!(out->confidence >= 0))
		out->confidence = 0;
	if (out->confidence > 1)
		out->confidence = 1;
	out->colour = colour;
	if (colour == GK_PLATE_COLOUR_UNKNOWN && (best->colours &
	    (best->colours - 1)) == 0)
		for (k = 0; k < GK_PLATE_COLOUR_COUNT; k++)
			if (best->colours == COLOUR(k))
				out->colour = (enum gk_plate_colour)k;
	/* The layouts mirror gatekit's rules; a disagreement is a bug, not a read. */
	if (gk_plate_check(out->plate, out->colour == GK_PLATE_COLOUR_OTHER ||
	    out->colour == GK_PLATE_COLOUR_NONE ? GK_PLATE_COLOUR_UNKNOWN :
	    out->colour, flags, &info, NULL) == -1)
		return -1;
	out->kind = info.kind;
	return 0;
}

int
pd_decode_guess(const struct pd_alphabet *a, const float *probs, int npos,
    enum gk_plate_colour colour, unsigned flags, double factor,
    struct pd_read *out, int *overruled)
{
	struct pd_read	 any;
	int		 ok;

	*overruled = 0;
	ok = pd_decode(a, probs, npos, colour, flags, out) == 0;
	if (colour == GK_PLATE_COLOUR_UNKNOWN || !(factor > 0) ||
	    pd_decode(a, probs, npos, GK_PLATE_COLOUR_UNKNOWN, flags, &any) == -1)
		return ok ? 0 : -1;
	/* the read of any colour is the constrained one unless the colour ruled it out */
	if (ok && !(any.confidence > factor * out->confidence))
		return 0;
	*out = any;
	*overruled = 1;
	return 0;
}

void
pd_argmax(const struct pd_alphabet *a, const float *probs, int npos, char *buf,
    size_t len)
{
	size_t	off = 0;
	int	p, k, bk;
	char	u[4];
	size_t	n;

	if (len == 0)
		return;
	for (p = 0; p < npos; p++) {
		bk = 0;
		for (k = 1; k < a->nsym; k++)
			if (probs[p * a->nsym + k] > probs[p * a->nsym + bk])
				bk = k;
		if (bk == a->blank)
			continue;
		n = put_utf8(a->cp[bk], u);
		if (off + n >= len)
			break;
		memcpy(buf + off, u, n);
		off += n;
	}
	buf[off] = '\0';
}

/* A symbol that may open a plate: the province reader's and the prior's business. */
static int
first_position(const struct pd_alphabet *a, int k)
{
	return (a->cls[k] & (C_PROV | C_SHI)) != 0;
}

int
pd_prior_parse(const struct pd_alphabet *a, const char *spec, float *w, char *err,
    size_t errlen)
{
	double	 share[PD_SYM_MAX], sum = 0, v;
	int	 named[PD_SYM_MAX], k, nfirst = 0, nnamed = 0, item = 0;
	const char *p = spec, *colon, *end;
	char	*num_end, num[32];
	uint32_t cp;

	memset(named, 0, sizeof(named));
	for (k = 0; k < a->nsym; k++) {
		w[k] = 1;
		nfirst += first_position(a, k);
	}
	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;		/* "沪:0.5, " */
		item++;
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		colon = memchr(p, ':', (size_t)(end - p));
		if (colon == NULL || (size_t)(end - colon - 1) >= sizeof(num)) {
			snprintf(err, errlen, "item %d: not PROVINCE:SHARE", item);
			return -1;
		}
		cp = one_char((const unsigned char *)p, (size_t)(colon - p));
		for (k = 0; k < a->nsym; k++)
			if (cp != 0 && a->cp[k] == cp && k != a->blank)
				break;
		if (k == a->nsym || !first_position(a, k)) {
			snprintf(err, errlen, "item %d: '%.*s' is not a province the reader "
			    "knows", item, (int)(colon - p), p);
			return -1;
		}
		if (named[k]) {
			snprintf(err, errlen, "item %d: '%.*s' named twice", item,
			    (int)(colon - p), p);
			return -1;
		}
		memcpy(num, colon + 1, (size_t)(end - colon - 1));
		num[end - colon - 1] = '\0';
		v = strtod(num, &num_end);
		while (*num_end == ' ')
			num_end++;
		if (num_end == num || *num_end != '\0' || !(v > 0) || v > 1) {
			snprintf(err, errlen, "item %d: share '%s' is not a number over 0 and "
			    "at most 1", item, num);
			return -1;
		}
		named[k] = 1;
		share[k] = v;
		sum += v;
		nnamed++;
		p = *end == ',' ? end + 1 : end;
	}
	if (sum > PD_PRIOR_MAX + 1e-9) {
		snprintf(err, errlen, "the shares add up to %.3f: at most %.2f, so that "
		    "plates from the other provinces can still be read", sum,
		    PD_PRIOR_MAX);
		return -1;
	}
	if (nnamed == 0 || nfirst == 0)
		return 0;
	for (k = 0; k < a->nsym; k++)
		if (first_position(a, k))
			w[k] = (float)((named[k] ? share[k] : nfirst > nnamed ?
			    (1 - sum) / (nfirst - nnamed) : 0) * nfirst);
	return 0;
}

void
pd_prior_apply(const struct pd_alphabet *a, float *probs, const float *w)
{
	double	 before = 0, after = 0;
	int	 k;

	for (k = 0; k < a->nsym; k++) {
		before += probs[k];
		probs[k] *= w[k];
		after += probs[k];
	}
	if (after <= 0)
		return;
	for (k = 0; k < a->nsym; k++)
		probs[k] = (float)(probs[k] * (before / after));
}
