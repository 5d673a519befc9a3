/*
 * util: the small helpers every daemon needs (see gatekit/util.h). The clocks and
 * timestamps are here so that every record in the system is stamped the same way, and
 * the event id generator is here because an id is minted once, at the edge, and then
 * used as the idempotency key by every consumer: it must be unique across gates and
 * strictly increasing within one process, so that a retry after a clock step can never
 * reuse or reorder an id.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "gatekit/util.h"

size_t
gk_strlcpy(char *dst, const char *src, size_t dsize)
{
	size_t	 n = strlen(src);

	if (dsize > 0) {
		size_t	 c = n < dsize - 1 ? n : dsize - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void
crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78U : c >> 1;
		crc32c_table[i] = c;
	}
}

uint32_t
gk_crc32c(const void *buf, size_t n)
{
	const unsigned char	*p = buf;
	uint32_t		 c = 0xffffffffU;

	pthread_once(&crc32c_once, crc32c_init);
	while (n-- > 0)
		c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffU;
}

void
gk_put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t
gk_get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int64_t
gk_mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
gk_wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date. Done by hand rather than with
 * timegm(3) so that parsing never depends on TZ or on the range of time_t helpers.
 */
int64_t
gk_days_from_civil(int64_t y, int m, int d)
{
	int64_t	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of gk_days_from_civil. */
void
gk_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t	 era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int
gk_ts_format(int64_t wall_ms, char *buf, size_t len)
{
	int64_t	 days, rem, y;
	int	 m, d, n;

	if (buf == NULL || len < GK_TS_LEN)
		return -1;
	/* Floor division so that times before 1970 still format correctly. */
	days = wall_ms / 86400000;
	rem = wall_ms % 86400000;
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	gk_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return -1;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d,
	    (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
	    (int)(rem % 1000));
	return n == GK_TS_LEN - 1 ? 0 : -1;
}

/* Reads exactly n decimal digits at *sp into *v and advances *sp. */
static int
digits(const char **sp, int n, int *v)
{
	const char	*s = *sp;
	int		 i, x = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	*sp = s + n;
	return 0;
}

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
gk_ts_parse(const char *s, int64_t *wall_ms)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int	 y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 0, scale;
	int64_t	 t;

	if (s == NULL || wall_ms == NULL)
		return -1;
	if (digits(&s, 4, &y) == -1 || *s++ != '-' ||
	    digits(&s, 2, &mo) == -1 || *s++ != '-' ||
	    digits(&s, 2, &d) == -1)
		return -1;
	if (*s != 'T' && *s != 't')
		return -1;
	s++;
	if (digits(&s, 2, &h) == -1 || *s++ != ':' ||
	    digits(&s, 2, &mi) == -1 || *s++ != ':' ||
	    digits(&s, 2, &sec) == -1)
		return -1;
	if (*s == '.') {
		/* Any number of fraction digits; milliseconds keep the first three. */
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		for (scale = 100; *s >= '0' && *s <= '9'; s++, scale /= 10)
			ms += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (digits(&s, 2, &oh) == -1 || *s++ != ':' ||
		    digits(&s, 2, &om) == -1)
			return -1;
		if (oh > 23 || om > 59)
			return -1;
	} else
		return -1;
	if (*s != '\0')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && is_leap(y)) ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	/* A leap second (:60) lands on the next minute's second 0, as in POSIX time. */
	t = gk_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	*wall_ms = t * 1000 + ms;
	return 0;
}

/*
 * Monotonic state of the id generator. Within one millisecond (or while the wall clock
 * is behind the last id, after a step back) the ids count up through a 26-bit counter
 * held in rand_a (12 bits) and the top 14 bits of rand_b: RFC 9562 section 6.2,
 * method 1. Each new millisecond seeds the counter at random with its top bit clear,
 * which leaves at least 2^25 ids per millisecond before the counter carries into the
 * timestamp; the remaining 48 bits of rand_b are fresh randomness in every id.
 */
static pthread_mutex_t	 id_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t		 id_last_ms = -1;
static uint32_t		 id_counter;

#define ID_COUNTER_BITS	26
#define ID_COUNTER_MAX	((UINT32_C(1) << ID_COUNTER_BITS) - 1)

static int
fill_random(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
gk_id_new(char out[GK_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 rnd[10], b[16];
	uint32_t	 seed, ctr;
	int64_t		 now, ms;
	int		 i, j;

	if (fill_random(rnd, sizeof(rnd)) == -1)
		return -1;
	seed = ((uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] << 16 |
	    (uint32_t)rnd[2] << 8 | rnd[3]) & (ID_COUNTER_MAX >> 1);
	now = gk_wall_ms();

	pthread_mutex_lock(&id_mu);
	if (now > id_last_ms) {
		id_last_ms = now;
		id_counter = seed;
	} else if (id_counter < ID_COUNTER_MAX)
		id_counter++;
	else {
		/* Counter exhausted: borrow the next millisecond. */
		id_last_ms++;
		id_counter = seed;
	}
	ms = id_last_ms;
	ctr = id_counter;
	pthread_mutex_unlock(&id_mu);

	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)((uint64_t)ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | (ctr >> 22 & 0x0f));
	b[7] = (unsigned char)(ctr >> 14);
	b[8] = (unsigned char)(0x80 | (ctr >> 8 & 0x3f));
	b[9] = (unsigned char)ctr;
	memcpy(b + 10, rnd + 4, 6);

	for (i = 0, j = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[b[i] >> 4];
		out[j++] = hex[b[i] & 0x0f];
	}
	out[j] = '\0';
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
gk_hex_decode(const char *hex, unsigned char *out, size_t n)
{
	size_t	i;
	int	hi, lo;

	for (i = 0; i < n; i++) {
		hi = hexval(hex[2 * i]);
		lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[2 * n] == '\0' ? 0 : -1;
}

void
gk_id_from_digest(int64_t wall_ms, const unsigned char digest[10],
    char out[GK_ID_LEN])
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		b[16];
	int			i, k;

	if (wall_ms < 0)
		wall_ms = 0;
	if (wall_ms > 0xffffffffffffLL)
		wall_ms = 0xffffffffffffLL;
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)((uint64_t)wall_ms >> (40 - 8 * i));
	memcpy(b + 6, digest, 10);
	b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));	/* version 7 */
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));	/* variant 10 */
	for (i = 0, k = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[b[i] >> 4];
		out[k++] = hex[b[i] & 0x0f];
	}
	out[k] = '\0';
}

int
gk_id_valid(const char *s)
{
	int	 i;

	if (s == NULL)
		return 0;
	for (i = 0; i < GK_ID_LEN - 1; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (hexval(s[i]) == -1)
			return 0;
	}
	return s[GK_ID_LEN - 1] == '\0';
}

/*
 * Returns 0 and the id's millisecond time in *wall_ms (when not NULL) when s is a
 * well-formed version 7 UUID, else -1.
 */
int
gk_id_time(const char *s, int64_t *wall_ms)
{
	int64_t	 t = 0;
	int	 i;

	if (!gk_id_valid(s) || s[14] != '7')
		return -1;
	/* The 48-bit time is the first 12 hex digits: 8, a dash, then 4. */
	for (i = 0; i < 13; i++)
		if (i != 8)
			t = t << 4 | hexval(s[i]);
	if (wall_ms != NULL)
		*wall_ms = t;
	return 0;
}

void
gk_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
gk_id_canonical(const char *s)
{
	const char *c;

	if (s == NULL || !gk_id_valid(s))
		return 0;
	for (c = s; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'F')
			return 0;
	return 1;
}

int
gk_topic_id_valid(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    (i > 0 && (s[i] == '-' || s[i] == '_'))))
			return 0;
	return 1;
}

long
gk_utf8_count(const char *s, int ctl_ok)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned		 cp, min;
	long			 n = 0;
	int			 k, i;

	while (*p != '\0') {
		if (*p < 0x80) {
			if ((*p < 0x20 || *p == 0x7f) && !(ctl_ok &&
			    (*p == '\t' || *p == '\n' || *p == '\r')))
				return -1;
			p++;
			n++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			k = 1;
			cp = *p & 0x1f;
			min = 0x80;
		} else if ((*p & 0xf0) == 0xe0) {
			k = 2;
			cp = *p & 0x0f;
			min = 0x800;
		} else if ((*p & 0xf8) == 0xf0) {
			k = 3;
			cp = *p & 0x07;
			min = 0x10000;
		} else
			return -1;
		for (i = 1; i <= k; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		p += k + 1;
		n++;
	}
	return n;
}
