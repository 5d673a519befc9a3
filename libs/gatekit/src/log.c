/*
 * log: structured logging for every daemon and library (see gatekit/log.h). Operators
 * and tests read our logs by machine, so every event is one JSON object on one line,
 * written with a single write(2) so that lines from Paho's, librdkafka's and our own
 * threads never interleave. The line is built in a buffer on the caller's stack: there
 * is no shared mutable buffer; the threshold and the descriptor are atomics. The write
 * itself is serialised by a mutex, because a pipe (a container's stdout) only keeps
 * writes up to PIPE_BUF (4 KiB) whole and our lines may reach 8 KiB.
 *
 * The format argument is a printf format so that the compiler checks the arguments,
 * but it is not handed to printf: it is read here as space-separated key=value fields
 * and each value becomes a JSON value of its own. Strings are escaped and made valid
 * UTF-8 (invalid bytes become U+FFFD), because a plate read or a broker's error text
 * may carry anything, and one bad byte must not cost a consumer the whole line.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <wchar.h>

#include "gatekit/log.h"
#include "gatekit/util.h"

#define LINE_MAX_BYTES	8192		/* the whole line, newline included */
#define SVC_MAX		64

static const char	 trunc_tail[] = ",\"truncated\":true}\n";

static _Atomic int	 log_level = GK_LOG_INFO;
static _Atomic int	 log_fd = STDOUT_FILENO;
static pthread_mutex_t	 write_mu = PTHREAD_MUTEX_INITIALIZER;
/* Written by gk_log_init() in main before any thread starts, then only read. */
static char		 log_svc[SVC_MAX];

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* One line under construction. Appends past lim set over and are dropped. */
struct line {
	size_t	 len;
	size_t	 lim;		/* room is kept after lim for the closing tail */
	int	 over;
	char	 buf[LINE_MAX_BYTES];
};

/* One parsed conversion specification. */
enum lenmod { LM_NONE, LM_HH, LM_H, LM_L, LM_LL, LM_Z, LM_J, LM_T, LM_BIGL };

struct spec {
	char		 flags[8];
	int		 width_star, prec_star;
	int		 width;		/* -1 when absent */
	int		 prec;		/* -1 when absent */
	enum lenmod	 lm;
	char		 conv;
	int		 ok;		/* a conversion we know the argument type of */
};

/* A fetched argument. */
struct arg {
	intmax_t	 i;
	uintmax_t	 u;
	double		 d;
	long double	 ld;
	const char	*s;
	const void	*p;
};

/* What one gk_log() call carries through its fields. */
struct ctx {
	va_list		*ap;
	int		 lost;		/* argument list out of step: render "?" */
	int		 saved_errno;	/* for %m */
};

void
gk_log_init(const char *svc)
{
	const char		*env;
	enum gk_log_level	 lvl;

	gk_strlcpy(log_svc, svc != NULL ? svc : "", sizeof(log_svc));
	env = getenv("ECOGATE_LOG_LEVEL");
	if (env != NULL && *env != '\0') {
		if (gk_log_level_parse(env, &lvl) == 0)
			gk_log_set_level(lvl);
		else
			gk_log(GK_LOG_WARN, "log.level_invalid", "value=%s", env);
	}
}

void
gk_log_set_level(enum gk_log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum gk_log_level
gk_log_get_level(void)
{
	return (enum gk_log_level)atomic_load_explicit(&log_level,
	    memory_order_relaxed);
}

int
gk_log_level_parse(const char *s, enum gk_log_level *level)
{
	size_t	 i;

	if (s == NULL)
		return -1;
	for (i = 0; i < GK_NELEM(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			if (level != NULL)
				*level = (enum gk_log_level)i;
			return 0;
		}
	}
	return -1;
}

void
gk_log_set_fd(int fd)
{
	atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

static void
put(struct line *l, const char *p, size_t n)
{
	if (l->over || n > l->lim - l->len) {
		l->over = 1;
		return;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
}

static void
put_str(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/*
 * Returns the length of the well-formed UTF-8 sequence at s (at most n bytes), or 0
 * when it is not one (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF).
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned int	 c = s[0], lo = 0x80, hi = 0xbf;
	size_t		 len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Appends n bytes of s as the inside of a JSON string. */
static void
put_escaped(struct line *l, const char *str, size_t n)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i = 0, j, k;
	char			 esc[8];

	while (i < n && !l->over) {
		for (j = i; j < n && s[j] >= 0x20 && s[j] < 0x80 &&
		    s[j] != '"' && s[j] != '\\'; j++)
			;
		if (j > i) {
			put(l, (const char *)s + i, j - i);
			i = j;
			continue;
		}
		switch (s[i]) {
		case '"':
			put(l, "\\\"", 2);
			break;
		case '\\':
			put(l, "\\\\", 2);
			break;
		case '\n':
			put(l, "\\n", 2);
			break;
		case '\r':
			put(l, "\\r", 2);
			break;
		case '\t':
			put(l, "\\t", 2);
			break;
		default:
			if (s[i] < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
				put(l, esc, 6);
			} else if ((k = utf8_seq(s + i, n - i)) > 0) {
				put(l, (const char *)s + i, k);
				i += k;
				continue;
			} else
				put(l, "\xef\xbf\xbd", 3);	/* U+FFFD */
			break;
		}
		i++;
	}
}

static void
put_jstring(struct line *l, const char *s, size_t n)
{
	put(l, "\"", 1);
	put_escaped(l, s, n);
	put(l, "\"", 1);
}

/*
 * Parses the conversion specification after a '%' at p into sp. Always returns the
 * end of the specification, even for one we do not know, so that scanning goes on;
 * sp->ok tells whether the argument type is known.
 */
static const char *
parse_spec(const char *p, struct spec *sp)
{
	size_t	 nf = 0;

	memset(sp, 0, sizeof(*sp));
	sp->width = sp->prec = -1;
	while (*p != '\0' && strchr("-+ #0'", *p) != NULL) {
		if (nf < sizeof(sp->flags) - 1 && *p != '\'')
			sp->flags[nf++] = *p;
		p++;
	}
	if (*p == '*') {
		sp->width_star = 1;
		p++;
	} else if (*p >= '0' && *p <= '9') {
		for (sp->width = 0; *p >= '0' && *p <= '9'; p++)
			if (sp->width < 100000)
				sp->width = sp->width * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		if (*p == '*') {
			sp->prec_star = 1;
			p++;
		} else
			for (sp->prec = 0; *p >= '0' && *p <= '9'; p++)
				if (sp->prec < 100000)
					sp->prec = sp->prec * 10 + (*p - '0');
	}
	switch (*p) {
	case 'h':
		p++;
		sp->lm = LM_H;
		if (*p == 'h') {
			p++;
			sp->lm = LM_HH;
		}
		break;
	case 'l':
		p++;
		sp->lm = LM_L;
		if (*p == 'l') {
			p++;
			sp->lm = LM_LL;
		}
		break;
	case 'q':
		p++;
		sp->lm = LM_LL;
		break;
	case 'z':
		p++;
		sp->lm = LM_Z;
		break;
	case 'j':
		p++;
		sp->lm = LM_J;
		break;
	case 't':
		p++;
		sp->lm = LM_T;
		break;
	case 'L':
		p++;
		sp->lm = LM_BIGL;
		break;
	}
	sp->conv = *p;
	if (*p == '\0')
		return p;
	switch (sp->conv) {
	case 'd': case 'i': case 'u': case 'x': case 'X': case 'o':
		sp->ok = sp->lm != LM_BIGL;
		break;
	case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
	case 'a': case 'A':
		sp->ok = sp->lm == LM_NONE || sp->lm == LM_L ||
		    sp->lm == LM_BIGL;
		break;
	case 'c': case 's':
		sp->ok = sp->lm == LM_NONE || sp->lm == LM_L;
		break;
	case 'p': case 'n': case 'm': case '%':
		sp->ok = 1;
		break;
	}
	return p + 1;
}

/* Takes the arguments of sp off the list. Returns 0, or -1 when types are unknown. */
static int
fetch(struct ctx *c, struct spec *sp, struct arg *a)
{
	va_list	*ap = c->ap;

	memset(a, 0, sizeof(*a));
	if (!sp->ok)
		return -1;
	if (sp->width_star) {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			/* A negative * width is the '-' flag and the magnitude. */
			sp->width = sp->width == INT_MIN ? 0 : -sp->width;
			if (strlen(sp->flags) < sizeof(sp->flags) - 1)
				strcat(sp->flags, "-");
		}
	}
	if (sp->prec_star) {
		sp->prec = va_arg(*ap, int);
		if (sp->prec < 0)
			sp->prec = -1;	/* a negative precision is taken as none */
	}
	if (sp->width > 4096)
		sp->width = 4096;
	if (sp->prec > 4096 && sp->conv != 's')
		sp->prec = 4096;
	switch (sp->conv) {
	case 'd':
	case 'i':
		switch (sp->lm) {
		case LM_HH:
			a->i = (signed char)va_arg(*ap, int);
			break;
		case LM_H:
			a->i = (short)va_arg(*ap, int);
			break;
		case LM_L:
			a->i = va_arg(*ap, long);
			break;
		case LM_LL:
			a->i = va_arg(*ap, long long);
			break;
		case LM_Z:
			a->i = va_arg(*ap, ssize_t);
			break;
		case LM_J:
			a->i = va_arg(*ap, intmax_t);
			break;
		case LM_T:
			a->i = va_arg(*ap, ptrdiff_t);
			break;
		default:
			a->i = va_arg(*ap, int);
			break;
		}
		break;
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		switch (sp->lm) {
		case LM_HH:
			a->u = (unsigned char)va_arg(*ap, unsigned int);
			break;
		case LM_H:
			a->u = (unsigned short)va_arg(*ap, unsigned int);
			break;
		case LM_L:
			a->u = va_arg(*ap, unsigned long);
			break;
		case LM_LL:
			a->u = va_arg(*ap, unsigned long long);
			break;
		case LM_Z:
			a->u = va_arg(*ap, size_t);
			break;
		case LM_J:
			a->u = va_arg(*ap, uintmax_t);
			break;
		case LM_T:
			a->u = (uintmax_t)va_arg(*ap, ptrdiff_t);
			break;
		default:
			a->u = va_arg(*ap, unsigned int);
			break;
		}
		break;
	case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
	case 'a': case 'A':
		if (sp->lm == LM_BIGL) {
			a->ld = va_arg(*ap, long double);
			a->d = (double)a->ld;
		} else {
			a->d = va_arg(*ap, double);
			a->ld = a->d;
		}
		break;
	case 'c':
		if (sp->lm == LM_L)
			a->u = (uintmax_t)va_arg(*ap, wint_t);
		else
			a->u = (unsigned char)va_arg(*ap, int);
		break;
	case 's':
		if (sp->lm == LM_L)
			a->p = va_arg(*ap, const wchar_t *);
		else
			a->s = va_arg(*ap, const char *);
		break;
	case 'p':
	case 'n':
		/* %n is taken off the list and never written through. */
		a->p = va_arg(*ap, const void *);
		break;
	case 'm':
		a->s = strerror(c->saved_errno);
		break;
	}
	return 0;
}

/* Builds a printf specification from sp with length modifier lm in front of conv. */
static void
build_spec(char *out, size_t len, const struct spec *sp, const char *lm, int flags)
{
	char	 w[16] = "", p[16] = "";

	if (sp->width >= 0)
		snprintf(w, sizeof(w), "%d", sp->width);
	if (sp->prec >= 0)
		snprintf(p, sizeof(p), ".%d", sp->prec);
	snprintf(out, len, "%%%s%s%s%s%c", flags ? sp->flags : "", w, p, lm,
	    sp->conv);
}

/*
 * The format is rebuilt from parts we parsed and checked, and the argument has the
 * type that format expects, so a non-literal format is safe here and only here.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int
fmt_num(char *out, size_t len, const struct spec *sp, const struct arg *a,
    int flags)
{
	char	 f[48];

	switch (sp->conv) {
	case 'd':
	case 'i':
		build_spec(f, sizeof(f), sp, "j", flags);
		return snprintf(out, len, f, a->i);
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		build_spec(f, sizeof(f), sp, "j", flags);
		return snprintf(out, len, f, a->u);
	case 'c':
		build_spec(f, sizeof(f), sp, "", flags);
		return snprintf(out, len, f, (int)a->u);
	case 'p':
		build_spec(f, sizeof(f), sp, "", flags);
		return snprintf(out, len, f, a->p);
	default:
		if (sp->lm == LM_BIGL) {
			build_spec(f, sizeof(f), sp, "L", flags);
			return snprintf(out, len, f, a->ld);
		}
		build_spec(f, sizeof(f), sp, "", flags);
		return snprintf(out, len, f, a->d);
	}
}
#pragma GCC diagnostic pop

/*
 * Appends the text printf would make of one fetched argument, escaped, inside a JSON
 * string that the caller has opened.
 */
static void
put_text(struct line *l, const struct spec *sp, const struct arg *a)
{
	char		 tmp[4200];
	const char	*s;
	int		 n;

	switch (sp->conv) {
	case 's':
		if (sp->lm == LM_L) {
			put(l, "?", 1);
			return;
		}
		s = a->s != NULL ? a->s : "(null)";
		put_escaped(l, s, sp->prec >= 0 ?
		    strnlen(s, (size_t)sp->prec) : strlen(s));
		return;
	case 'm':
		put_escaped(l, a->s, strlen(a->s));
		return;
	case 'n':
		put(l, "?", 1);
		return;
	case 'c':
		if (sp->lm == LM_L) {
			put(l, "?", 1);
			return;
		}
		break;
	}
	n = fmt_num(tmp, sizeof(tmp), sp, a, 1);
	if (n < 0)
		put(l, "?", 1);
	else
		put_escaped(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n :
		    sizeof(tmp) - 1);
}

/*
 * Appends the JSON value of a field whose value is exactly one conversion: a number
 * for integer and floating conversions, a string (or null) for %s, and a string of
 * printf's text for the rest (JSON has no hex, octal or character type).
 */
static void
put_typed(struct line *l, struct ctx *c, struct spec *sp)
{
	struct arg	 a;
	struct spec	 plain;
	char		 tmp[128];
	int		 n;

	if (c->lost || fetch(c, sp, &a) == -1) {
		c->lost = 1;
		put_str(l, "\"?\"");
		return;
	}
	switch (sp->conv) {
	case 'd':
	case 'i':
		n = snprintf(tmp, sizeof(tmp), "%jd", a.i);
		put(l, tmp, (size_t)n);
		return;
	case 'u':
		n = snprintf(tmp, sizeof(tmp), "%ju", a.u);
		put(l, tmp, (size_t)n);
		return;
	case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
		if (!isfinite(a.d)) {
			put_str(l, "null");	/* JSON has no NaN or infinity */
			return;
		}
		/* Keep the precision, drop flags and width ("+1.0" is no JSON). */
		plain = *sp;
		plain.width = -1;
		if (plain.prec > 60)
			plain.prec = 60;
		n = fmt_num(tmp, sizeof(tmp), &plain, &a, 0);
		if (n > 0 && (size_t)n < sizeof(tmp))
			put(l, tmp, (size_t)n);
		else
			put_str(l, "null");
		return;
	case 's':
		if (sp->lm != LM_L && a.s == NULL) {
			put_str(l, "null");
			return;
		}
		break;
	}
	put(l, "\"", 1);
	put_text(l, sp, &a);
	put(l, "\"", 1);
}

/*
 * Appends a value made of literal text and conversions, [v, end), as one JSON string.
 */
static void
put_mixed(struct line *l, struct ctx *c, const char *v, const char *end)
{
	struct spec	 sp;
	struct arg	 a;
	const char	*q;

	put(l, "\"", 1);
	while (v < end) {
		for (q = v; q < end && *q != '%'; q++)
			;
		put_escaped(l, v, (size_t)(q - v));
		if (q >= end)
			break;
		v = parse_spec(q + 1, &sp);
		if (sp.conv == '%') {
			put(l, "%", 1);
			continue;
		}
		if (c->lost || fetch(c, &sp, &a) == -1) {
			c->lost = 1;
			put(l, "?", 1);
			continue;
		}
		put_text(l, &sp, &a);
	}
	put(l, "\"", 1);
}

/*
 * Returns the end of the field starting at f (at the next space outside a conversion
 * specification, since "% d" is one) and counts its conversions in *nconv, a "%%"
 * aside, and whether anything else is in it in *other.
 */
static const char *
scan_value(const char *f, int *nconv, int *other)
{
	struct spec	 sp;

	*nconv = *other = 0;
	while (*f != '\0' && *f != ' ') {
		if (*f != '%') {
			(*other)++;
			f++;
			continue;
		}
		f = parse_spec(f + 1, &sp);
		if (sp.conv == '%')
			(*other)++;
		else
			(*nconv)++;
	}
	return f;
}

/* Appends one field, key=value, and returns the end of its text in the format. */
static const char *
put_field(struct line *l, struct ctx *c, const char *f)
{
	const char	*key = f, *keyend, *v, *end;
	struct spec	 sp;
	int		 nconv, other;

	for (keyend = f; *keyend != '\0' && *keyend != ' ' && *keyend != '=' &&
	    *keyend != '%'; keyend++)
		;
	if (*keyend == '=') {
		v = keyend + 1;
	} else {
		/* A bare word is a value without a key: call it "msg". */
		key = "msg";
		keyend = key + 3;
		v = f;
	}
	end = scan_value(v, &nconv, &other);

	put(l, ",", 1);
	put_jstring(l, key, (size_t)(keyend - key));
	put(l, ":", 1);
	if (nconv == 1 && other == 0) {
		parse_spec(v + 1, &sp);
		put_typed(l, c, &sp);
	} else
		put_mixed(l, c, v, end);
	return end;
}

/* Writes all of the line, though a pipe or a slow terminal take it in parts. */
static void
write_line(int fd, const char *p, size_t n)
{
	struct pollfd	 pfd;
	ssize_t		 w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* Non-blocking: wait a little, not forever. */
				pfd.fd = fd;
				pfd.events = POLLOUT;
				if (poll(&pfd, 1, 1000) > 0)
					continue;
			}
			return;		/* nowhere left to report it */
		}
		p += w;
		n -= (size_t)w;
	}
}

void
gk_log(enum gk_log_level level, const char *event, const char *fmt, ...)
{
	struct line	 l;
	struct ctx	 c;
	va_list		 ap;
	char		 ts[GK_TS_LEN];
	size_t		 mark;
	int		 truncated = 0, lvl;

	if ((int)level < atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	c.saved_errno = errno;
	c.lost = 0;
	lvl = (int)level;
	if (lvl < 0 || lvl >= (int)GK_NELEM(level_names))
		lvl = GK_LOG_ERR;
	if (gk_ts_format(gk_wall_ms(), ts, sizeof(ts)) == -1)
		gk_strlcpy(ts, "1970-01-01T00:00:00.000Z", sizeof(ts));

	l.len = 0;
	l.over = 0;
	l.lim = sizeof(l.buf) - (sizeof(trunc_tail) - 1);
	put_str(&l, "{\"ts\":\"");
	put_str(&l, ts);
	put_str(&l, "\",\"lvl\":\"");
	put_str(&l, level_names[lvl]);
	put_str(&l, "\",\"svc\":");
	put_jstring(&l, log_svc, strlen(log_svc));
	put_str(&l, ",\"event\":");
	mark = l.len;
	if (event == NULL)
		event = "";
	put_jstring(&l, event, strlen(event));
	if (l.over) {
		l.len = mark;
		l.over = 0;
		put_str(&l, "\"?\"");
		truncated = 1;
	}

	va_start(ap, fmt);
	c.ap = &ap;
	while (!truncated && fmt != NULL && *fmt != '\0') {
		if (*fmt == ' ') {
			fmt++;
			continue;
		}
		mark = l.len;
		fmt = put_field(&l, &c, fmt);
		if (l.over) {
			/* Cut at the field boundary so the line stays valid JSON. */
			l.len = mark;
			l.over = 0;
			truncated = 1;
		}
	}
	va_end(ap);

	if (truncated) {
		memcpy(l.buf + l.len, trunc_tail, sizeof(trunc_tail) - 1);
		l.len += sizeof(trunc_tail) - 1;
	} else {
		memcpy(l.buf + l.len, "}\n", 2);
		l.len += 2;
	}
	pthread_mutex_lock(&write_mu);
	write_line(atomic_load_explicit(&log_fd, memory_order_relaxed), l.buf,
	    l.len);
	pthread_mutex_unlock(&write_mu);
	errno = c.saved_errno;
}
