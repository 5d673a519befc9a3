/*
 * RFC 8785 canonical JSON (see jcs.h). Written for the ledger: one pass over the
 * jansson tree into a growing buffer, objects sorted by a comparator that walks the
 * UTF-8 names as UTF-16 code units, numbers through the shortest "%.*e" that reads
 * back unchanged, reformatted to ECMAScript's rules. Everything that RFC 8785 cannot
 * express (big integers, NaN, broken UTF-8) is refused with a reason, because a
 * record we cannot canonicalise is one we cannot prove.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gatekit/util.h>

#include "jcs.h"

struct buf {
	char	*p;
	size_t	 len, cap;
};

static int
buf_add(struct buf *b, const void *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->cap - b->len <= n) {
		ncap = b->cap ? b->cap : 256;
		while (ncap - b->len <= n)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int
buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

/*
 * Decodes one UTF-8 sequence at s (n bytes left) strictly: no overlong forms, no
 * surrogates, nothing above U+10FFFF. Returns its length and stores the code point,
 * or 0 when the bytes are not valid UTF-8.
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

static int
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t k;

	while (n > 0) {
		if ((k = utf8_decode(p, n, &cp)) == 0)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

/*
 * Walks a valid UTF-8 string as UTF-16 code units: a code point above the BMP yields
 * its high surrogate, then its low one. That is the order RFC 8785 sorts names in,
 * and it differs from byte (code point) order for U+E000..U+FFFF against the
 * supplementary planes.
 */
struct u16iter {
	const unsigned char	*p;
	size_t			 n;
	uint16_t		 low;	/* pending low surrogate, or 0 */
};

static int
u16_next(struct u16iter *it, uint16_t *unit)
{
	uint32_t cp;
	size_t k;

	if (it->low) {
		*unit = it->low;
		it->low = 0;
		return 1;
	}
	if (it->n == 0 || (k = utf8_decode(it->p, it->n, &cp)) == 0)
		return 0;
	it->p += k;
	it->n -= k;
	if (cp >= 0x10000) {
		cp -= 0x10000;
		*unit = (uint16_t)(0xd800 + (cp >> 10));
		it->low = (uint16_t)(0xdc00 + (cp & 0x3ff));
	} else
		*unit = (uint16_t)cp;
	return 1;
}

struct member {
	const char	*key;
	size_t		 len;
	json_t		*value;
};

static int
member_cmp(const void *a, const void *b)
{
	const struct member *ma = a, *mb = b;
	struct u16iter ia = { (const unsigned char *)ma->key, ma->len, 0 };
	struct u16iter ib = { (const unsigned char *)mb->key, mb->len, 0 };
	uint16_t ua, ub;
	int ha, hb;

	for (;;) {
		ha = u16_next(&ia, &ua);
		hb = u16_next(&ib, &ub);
		if (!ha || !hb)
			return ha - hb;	/* the shorter one (a prefix) first */
		if (ua != ub)
			return ua < ub ? -1 : 1;
	}
}

static int
put_string(struct buf *b, const char *s, size_t n, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	char esc[7];
	size_t i, run;
	unsigned char c;

	if (!utf8_valid(s, n)) {
		gk_errf(err, errlen, "string is not valid UTF-8");
		return -1;
	}
	if (buf_addc(b, '"') == -1)
		return -1;
	for (i = 0; i < n; i += run) {
		/* Copy the longest run that needs no escape in one go. */
		for (run = 0; i + run < n; run++) {
			c = (unsigned char)s[i + run];
			if (c < 0x20 || c == '"' || c == '\\')
				break;
		}
		if (run > 0) {
			if (buf_add(b, s + i, run) == -1)
				return -1;
			continue;
		}
		c = (unsigned char)s[i];
		run = 1;
		esc[0] = '\\';
		switch (c) {
		case '"':  esc[1] = '"';  break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b';  break;
		case '\t': esc[1] = 't';  break;
		case '\n': esc[1] = 'n';  break;
		case '\f': esc[1] = 'f';  break;
		case '\r': esc[1] = 'r';  break;
		default:
			/* Other controls as \u00hh, hex in lower case (RFC 8785 3.2.2.2). */
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			if (buf_add(b, esc, 6) == -1)
				return -1;
			continue;
		}
		if (buf_add(b, esc, 2) == -1)
			return -1;
	}
	return buf_addc(b, '"');
}

/* Adds one to a string of decimal digits; returns 1 when it carried out of the top. */
static int
digits_inc(char *d, size_t n)
{
	while (n-- > 0) {
		if (d[n] != '9') {
			d[n]++;
			return 0;
		}
		d[n] = '0';
	}
	return 1;
}

int
jcs_number(double d, char out[JCS_NUMBER_MAX])
{
	char tmp[40], digits[20], *o = out;
	double a, back;
	int p, k, n, e, i, carry;
	char *ep;

	if (!isfinite(d))
		return -1;
	if (d == 0) {			/* -0 too: ES writes "0" */
		strcpy(out, "0");
		return 1;
	}
	a = fabs(d);
	/*
	 * Shortest round trip: the fewest significant digits p whose correctly rounded
	 * decimal reads back as a. At a power of two the gap below a is half the gap
	 * above, so the nearest p-digit decimal may fall just outside below while the
	 * next one up still reads back: try that one too before adding a digit.
	 */
	for (p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, a);
		back = strtod(tmp, NULL);
		/* tmp is "D.DDDDe[+-]XX" or "De[+-]XX": split digits and exponent. */
		k = 0;
		digits[k++] = tmp[0];
		for (ep = tmp + 1; *ep != 'e'; ep++)
			if (*ep != '.')
				digits[k++] = *ep;
		e = (int)strtol(ep + 1, NULL, 10);
		if (back == a)
			break;
		if (back < a) {
			carry = digits_inc(digits, (size_t)k);
			if (carry) {		/* 9.99 -> 10.0: one more in the exponent */
				digits[0] = '1';
				e++;
			}
			snprintf(tmp, sizeof(tmp), "%c.%.*se%d", digits[0],
			    k - 1, digits + 1, e);
			if (strtod(tmp, NULL) == a)
				break;
		}
	}
	/* Defensive: %.16e always reads back, so p <= 17 is reached above. */
	if (p > 17)
		return -1;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	n = e + 1;			/* a = 0.DIGITS x 10^n */

	if (d < 0)
		*o++ = '-';
	if (k <= n && n <= 21) {
		memcpy(o, digits, (size_t)k);
		o += k;
		for (i = 0; i < n - k; i++)
			*o++ = '0';
	} else if (0 < n && n <= 21) {
		memcpy(o, digits, (size_t)n);
		o += n;
		*o++ = '.';
		memcpy(o, digits + n, (size_t)(k - n));
		o += k - n;
	} else if (-6 < n && n <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (i = 0; i < -n; i++)
			*o++ = '0';
		memcpy(o, digits, (size_t)k);
		o += k;
	} else {
		*o++ = digits[0];
		if (k > 1) {
			*o++ = '.';
			memcpy(o, digits + 1, (size_t)(k - 1));
			o += k - 1;
		}
		o += snprintf(o, 8, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
	}
	*o = '\0';
	return (int)(o - out);
}

static int
put_value(struct buf *b, const json_t *j, int depth, char *err, size_t errlen)
{
	struct member *m;
	const char *key;
	json_t *v;
	void *it;
	json_int_t iv;
	char num[JCS_NUMBER_MAX];
	size_t i, n;
	int len, rc;

	switch (json_typeof(j)) {
	case JSON_NULL:
		return buf_add(b, "null", 4);
	case JSON_TRUE:
		return buf_add(b, "true", 4);
	case JSON_FALSE:
		return buf_add(b, "false", 5);
	case JSON_INTEGER:
		iv = json_integer_value(j);
		if (iv > JCS_INT_MAX || iv < -JCS_INT_MAX) {
			gk_errf(err, errlen, "integer %lld is beyond 2^53, which a "
			    "JCS number (a double) cannot hold exactly", (long long)iv);
			return -1;
		}
		len = snprintf(num, sizeof(num), "%lld", (long long)iv);
		return buf_add(b, num, (size_t)len);
	case JSON_REAL:
		if ((len = jcs_number(json_real_value(j), num)) == -1) {
			gk_errf(err, errlen, "number is not finite");
			return -1;
		}
		return buf_add(b, num, (size_t)len);
	case JSON_STRING:
		return put_string(b, json_string_value(j), json_string_length(j),
		    err, errlen);
	case JSON_ARRAY:
		if (depth >= JCS_MAX_DEPTH) {
			gk_errf(err, errlen, "nested deeper than %d", JCS_MAX_DEPTH);
			return -1;
		}
		if (buf_addc(b, '[') == -1)
			return -1;
		for (i = 0; i < json_array_size(j); i++) {
			if (i > 0 && buf_addc(b, ',') == -1)
				return -1;
			if (put_value(b, json_array_get(j, i), depth + 1, err,
			    errlen) == -1)
				return -1;
		}
		return buf_addc(b, ']');
	case JSON_OBJECT:
		if (depth >= JCS_MAX_DEPTH) {
			gk_errf(err, errlen, "nested deeper than %d", JCS_MAX_DEPTH);
			return -1;
		}
		n = json_object_size(j);
		if ((m = calloc(n ? n : 1, sizeof(*m))) == NULL)
			return -1;
		i = 0;
		/* jansson's iterators take a non-const object but do not change it. */
		for (it = json_object_iter((json_t *)(uintptr_t)j);
		    it != NULL && i < n;
		    it = json_object_iter_next((json_t *)(uintptr_t)j, it)) {
			key = json_object_iter_key(it);
			m[i].key = key;
			m[i].len = json_object_iter_key_len(it);
			m[i].value = json_object_iter_value(it);
			if (!utf8_valid(m[i].key, m[i].len)) {
				gk_errf(err, errlen, "member name is not valid UTF-8");
				free(m);
				return -1;
			}
			i++;
		}
		n = i;
		qsort(m, n, sizeof(*m), member_cmp);
		rc = buf_addc(b, '{');
		for (i = 0; rc == 0 && i < n; i++) {
			if (i > 0 && (rc = buf_addc(b, ',')) == -1)
				break;
			if ((rc = put_string(b, m[i].key, m[i].len, err, errlen)) == -1)
				break;
			if ((rc = buf_addc(b, ':')) == -1)
				break;
			v = m[i].value;
			rc = put_value(b, v, depth + 1, err, errlen);
		}
		free(m);
		return rc == -1 ? -1 : buf_addc(b, '}');
	}
	gk_errf(err, errlen, "unknown JSON type");
	return -1;
}

char *
jcs_canonical(const json_t *j, size_t *lenp, char *err, size_t errlen)
{
	struct buf b = { NULL, 0, 0 };

	gk_errf(err, errlen, "%s", "");
	if (j == NULL) {
		gk_errf(err, errlen, "no value");
		return NULL;
	}
	if (put_value(&b, j, 0, err, errlen) == -1 || b.p == NULL) {
		if (err != NULL && errlen > 0 && err[0] == '\0')
			gk_errf(err, errlen, "out of memory");
		free(b.p);
		return NULL;
	}
	if (lenp != NULL)
		*lenp = b.len;
	return b.p;
}

json_t *
jcs_parse(const char *buf, size_t len, size_t max_len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j;

	gk_errf(err, errlen, "%s", "");
	if (len > max_len) {
		gk_errf(err, errlen, "document is %zu bytes, more than the %zu allowed",
		    len, max_len);
		return NULL;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_DECODE_INT_AS_REAL, &je);
	if (j == NULL)
		gk_errf(err, errlen, "line %d column %d: %s", je.line, je.column,
		    je.text);
	return j;
}
