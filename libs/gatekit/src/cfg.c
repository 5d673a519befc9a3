/*
 * Table-driven configuration (see cfg.h for the file syntax and precedence). A load
 * happens in a scratch array of values, one per key: defaults, then the file, then the
 * environment, then the required check. Only when all of that succeeded are the values
 * written into the caller's struct, freeing the strings they replace, so a bad reload
 * never leaves a daemon running with half a config. Messages name the file and line
 * (or the environment variable) because a config error is read by an operator at a
 * gate, who must be able to fix it without reading the source.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gatekit/cfg.h"
#include "gatekit/log.h"

#define ENV_PREFIX	"ECOGATE_"
#define ENV_NAME_MAX	128		/* "ECOGATE_" + key + "_FILE" */
#define SECRET_FILE_MAX	(1024 * 1024)	/* a secret, a PEM key: not a database */
#define WHY_MAX		256

enum src {
	SRC_DEFAULT = 0,
	SRC_FILE,
	SRC_ENV,
	SRC_ENV_FILE,
};

/* One key's value while loading; only the member of the key's type is used. */
struct val {
	char		*s;
	long long	 i;
	double		 d;
	int64_t		 ms;
	int		 b;
	enum src	 src;
	int		 line;
};

struct load {
	const struct gk_cfg_key	*keys;
	size_t			 nkeys;
	struct val		*v;
	const char		*path;
	char			*err;
	size_t			 errlen;
};

static void	fail(struct load *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
fail(struct load *ld, const char *fmt, ...)
{
	va_list ap;

	if (ld->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(ld->err, ld->errlen, fmt, ap);
	va_end(ap);
}

static size_t
count_keys(const struct gk_cfg_key *keys)
{
	size_t n = 0;

	while (keys[n].name != NULL)
		n++;
	return n;
}

static int
key_char_ok(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	    c == '-' || c == '_';
}

static int
key_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!key_char_ok((unsigned char)s[i]))
			return 0;
	return 1;
}

/* "mqtt.url" -> "ECOGATE_MQTT_URL". Returns 0, or -1 when it does not fit. */
static int
env_name(const char *key, char *buf, size_t len)
{
	size_t i, n = strlen(ENV_PREFIX);

	if (n + strlen(key) + sizeof("_FILE") > len)
		return -1;
	memcpy(buf, ENV_PREFIX, n);
	for (i = 0; key[i] != '\0'; i++) {
		if (key[i] == '.' || key[i] == '-')
			buf[n++] = '_';
		else
			buf[n++] = (char)toupper((unsigned char)key[i]);
	}
	buf[n] = '\0';
	return 0;
}

/* Writes ms as the largest exact unit: 7200000 -> "2h", 1500 -> "1500ms". */
static void
fmt_ms(int64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%" PRId64 "h", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, len, "%" PRId64 "m", ms / 60000);
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, len, "%" PRId64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRId64 "ms", ms);
}

/* Shortest of %.15g / %.17g that reads back as the same double. */
static void
fmt_double(double d, char *buf, size_t len)
{
	snprintf(buf, len, "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, len, "%.17g", d);
}

static int
parse_ll(const char *s, long long *out)
{
	const char *p = s;
	char *end;
	long long v;

	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -1;
	if (errno == ERANGE)
		return -2;
	*out = v;
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
parse_double(const char *s, double *out)
{
	const char *p = s;
	char *end;
	double v;

	if (*p == '+' || *p == '-')
		p++;
	/* Refuses "nan", "inf" and leading blanks, which strtod() would take. */
	if (!isdigit((unsigned char)*p) && *p != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0')
		return -1;
	if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0))
		return -2;
	*out = v;
	return 0;
}

/* "800ms", "5s", "2m", "1h", "1d", or a bare number of ms. -1: bad, -2: too large. */
static int
parse_ms(const char *s, int64_t *out)
{
	static const struct {
		const char	*unit;
		int64_t		 mult;
	} units[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	const char *p = s;
	int64_t v = 0;
	size_t i;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (INT64_MAX - (*p - '0')) / 10)
			return -2;
		v = v * 10 + (*p - '0');
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		if (v > INT64_MAX / units[i].mult)
			return -2;
		*out = v * units[i].mult;
		return 0;
	}
	return -1;
}

/*
 * Parses raw as key k's type into *v (replacing an earlier string). Returns 0, or -1
 * with the reason in why; a secret's value is never repeated in a reason.
 */
static int
set_value(const struct gk_cfg_key *k, struct val *v, const char *raw,
    char *why, size_t whylen)
{
	const char *shown = (k->flags & GK_CFG_SECRET) ? "(secret)" : raw;
	int bounded = k->min != 0 || k->max != 0;
	char lo[32], hi[32];
	size_t slen;
	char *s;
	int rc;

	switch (k->type) {
	case GK_CFG_STR:
		slen = strlen(raw);
		if (bounded && (long long)slen < k->min) {
			snprintf(why, whylen, "value is %zu bytes, fewer than %lld",
			    slen, k->min);
			return -1;
		}
		if (bounded && k->max > 0 && (long long)slen > k->max) {
			snprintf(why, whylen, "value is %zu bytes, more than %lld",
			    slen, k->max);
			return -1;
		}
		if ((s = strdup(raw)) == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		free(v->s);
		v->s = s;
		return 0;
	case GK_CFG_INT:
		if ((rc = parse_ll(raw, &v->i)) == -1) {
			snprintf(why, whylen, "bad number '%s'", shown);
			return -1;
		}
		if (rc == -2 || (bounded && (v->i < k->min || v->i > k->max))) {
			snprintf(why, whylen, "%s is out of range %lld..%lld",
			    shown, bounded ? k->min : LLONG_MIN,
			    bounded ? k->max : LLONG_MAX);
			return -1;
		}
		return 0;
	case GK_CFG_BOOL:
		if (parse_bool(raw, &v->b) == -1) {
			snprintf(why, whylen, "bad boolean '%s' (use yes or no)",
			    shown);
			return -1;
		}
		return 0;
	case GK_CFG_DOUBLE:
		if ((rc = parse_double(raw, &v->d)) == -1) {
			snprintf(why, whylen, "bad number '%s'", shown);
			return -1;
		}
		if (rc == -2) {
			snprintf(why, whylen, "%s is out of range", shown);
			return -1;
		}
		if (bounded && (v->d < (double)k->min || v->d > (double)k->max)) {
			snprintf(why, whylen, "%s is out of range %lld..%lld",
			    shown, k->min, k->max);
			return -1;
		}
		return 0;
	case GK_CFG_MS:
		if ((rc = parse_ms(raw, &v->ms)) == -1) {
			snprintf(why, whylen, "bad duration '%s' "
			    "(use e.g. 800ms, 5s, 2m, 1h; a bare number is ms)",
			    shown);
			return -1;
		}
		if (rc == -2) {
			snprintf(why, whylen, "duration '%s' is too long", shown);
			return -1;
		}
		if (bounded && (v->ms < k->min || v->ms > k->max)) {
			fmt_ms(k->min, lo, sizeof(lo));
			fmt_ms(k->max, hi, sizeof(hi));
			snprintf(why, whylen, "%s is out of range %s..%s",
			    shown, lo, hi);
			return -1;
		}
		return 0;
	}
	snprintf(why, whylen, "unknown type %d in key table", (int)k->type);
	return -1;
}

/* Checks the table itself: a bad one is the daemon's bug, reported as such. */
static int
check_table(struct load *ld)
{
	char name[ENV_NAME_MAX];
	size_t i, j;

	for (i = 0; i < ld->nkeys; i++) {
		const struct gk_cfg_key *k = &ld->keys[i];

		if (!key_name_ok(k->name, strlen(k->name)) ||
		    env_name(k->name, name, sizeof(name)) == -1) {
			fail(ld, "key table: bad key name '%s'", k->name);
			return -1;
		}
		if (k->type < GK_CFG_STR || k->type > GK_CFG_MS) {
			fail(ld, "key table: key '%s': unknown type %d", k->name,
			    (int)k->type);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(ld->keys[j].name, k->name) == 0) {
				fail(ld, "key table: key '%s' declared twice",
				    k->name);
				return -1;
			}
		}
	}
	return 0;
}

static int
load_defaults(struct load *ld)
{
	static const char *empty[] = {
		[GK_CFG_STR] = "", [GK_CFG_INT] = "0", [GK_CFG_BOOL] = "no",
		[GK_CFG_DOUBLE] = "0", [GK_CFG_MS] = "0",
	};
	char why[WHY_MAX];
	size_t i;

	for (i = 0; i < ld->nkeys; i++) {
		const struct gk_cfg_key *k = &ld->keys[i];
		const char *def = k->def != NULL ? k->def : empty[k->type];
		struct gk_cfg_key unbounded = *k;

		/* A NULL default need not satisfy the bounds: it must be set. */
		if (k->def == NULL)
			unbounded.min = unbounded.max = 0;
		if (set_value(&unbounded, &ld->v[i], def, why, sizeof(why)) == -1) {
			fail(ld, "key table: key '%s': bad default: %s", k->name,
			    why);
			return -1;
		}
		ld->v[i].src = SRC_DEFAULT;
	}
	return 0;
}

static const struct gk_cfg_key *
find_key(struct load *ld, const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < ld->nkeys; i++) {
		if (strcmp(ld->keys[i].name, name) == 0) {
			*idx = i;
			return &ld->keys[i];
		}
	}
	return NULL;
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Unquotes the value starting at q (on the opening quote) in place. Returns the end
 * of the unquoted value, or NULL with the reason in why.
 */
static char *
unquote(char *q, char *why, size_t whylen)
{
	char *r = q + 1, *w = q;

	for (;;) {
		if (*r == '\0') {
			snprintf(why, whylen, "missing closing quote");
			return NULL;
		}
		if (*r == '"')
			break;
		if (*r == '\\') {
			r++;
			switch (*r) {
			case '"':
			case '\\':
				*w++ = *r++;
				continue;
			case 'n':
				*w++ = '\n';
				r++;
				continue;
			case 't':
				*w++ = '\t';
				r++;
				continue;
			default:
				snprintf(why, whylen, "bad escape '\\%c' in quoted "
				    "value (use \\\" or \\\\)", *r != '\0' ? *r : ' ');
				return NULL;
			}
		}
		*w++ = *r++;
	}
	*w = '\0';
	for (r++; is_blank((unsigned char)*r); r++)
		;
	if (*r != '\0' && *r != '#') {
		snprintf(why, whylen, "unexpected text after closing quote");
		return NULL;
	}
	return w;
}

static int
parse_line(struct load *ld, char *line, int lineno)
{
	const struct gk_cfg_key *k;
	char why[WHY_MAX];
	char *p, *eq, *e, *val;
	size_t idx;

	for (p = line; is_blank((unsigned char)*p); p++)
		;
	e = p + strlen(p);
	while (e > p && is_blank((unsigned char)e[-1]))
		*--e = '\0';
	if (*p == '\0' || *p == '#')
		return 0;

	if ((eq = strchr(p, '=')) == NULL) {
		fail(ld, "%s:%d: syntax error: expected 'key = value'", ld->path,
		    lineno);
		return -1;
	}
	for (e = eq; e > p && is_blank((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	if (*p == '\0') {
		fail(ld, "%s:%d: syntax error: no key before '='", ld->path,
		    lineno);
		return -1;
	}
	if (!key_name_ok(p, strlen(p))) {
		fail(ld, "%s:%d: bad key '%s' (keys are lower-case a-z 0-9 . - _)",
		    ld->path, lineno, p);
		return -1;
	}
	if ((k = find_key(ld, p, &idx)) == NULL) {
		fail(ld, "%s:%d: unknown key '%s'", ld->path, lineno, p);
		return -1;
	}
	if (ld->v[idx].src == SRC_FILE) {
		fail(ld, "%s:%d: key '%s' already set at line %d", ld->path,
		    lineno, k->name, ld->v[idx].line);
		return -1;
	}

	for (val = eq + 1; is_blank((unsigned char)*val); val++)
		;
	if (*val == '"') {
		if (unquote(val, why, sizeof(why)) == NULL)
			goto bad;
	} else {
		/* '#' at the value's start or after a blank begins a comment. */
		for (e = val; *e != '\0'; e++) {
			if (*e == '#' && (e == val || is_blank((unsigned char)e[-1])))
				break;
		}
		*e = '\0';
		while (e > val && is_blank((unsigned char)e[-1]))
			*--e = '\0';
	}
	if (set_value(k, &ld->v[idx], val, why, sizeof(why)) == -1)
		goto bad;
	ld->v[idx].src = SRC_FILE;
	ld->v[idx].line = lineno;
	return 0;
bad:
	fail(ld, "%s:%d: key '%s': %s", ld->path, lineno, k->name, why);
	return -1;
}

static int
load_file(struct load *ld)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, rc = -1;

	if ((fp = fopen(ld->path, "re")) == NULL) {
		fail(ld, "%s: cannot open: %s", ld->path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (strlen(line) != (size_t)n) {
			fail(ld, "%s:%d: NUL byte in line", ld->path, lineno);
			goto out;
		}
		if (parse_line(ld, line, lineno) == -1)
			goto out;
	}
	if (ferror(fp)) {
		fail(ld, "%s: read error: %s", ld->path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(fp);
	return rc;
}

/*
 * Reads a secret file into a new string, one trailing "\n" or "\r\n" removed.
 * Returns it (caller frees), or NULL with the reason in why.
 */
static char *
read_secret(const char *path, char *why, size_t whylen)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(SECRET_FILE_MAX + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	for (;;) {
		n = read(fd, buf + len, SECRET_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whylen, "cannot read '%s': %s", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SECRET_FILE_MAX) {
			snprintf(why, whylen, "'%s' is larger than %d bytes", path,
			    SECRET_FILE_MAX);
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		snprintf(why, whylen, "'%s' contains a NUL byte", path);
		free(buf);
		return NULL;
	}
	if (len > 0 && buf[len - 1] == '\n') {
		buf[--len] = '\0';
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
	}
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static int
load_env(struct load *ld)
{
	char name[ENV_NAME_MAX], fname[ENV_NAME_MAX + 8], why[WHY_MAX];
	const char *plain, *file;
	char *secret;
	size_t i;
	int rc;

	for (i = 0; i < ld->nkeys; i++) {
		const struct gk_cfg_key *k = &ld->keys[i];

		/* check_table() made sure both names fit. */
		env_name(k->name, name, sizeof(name));
		snprintf(fname, sizeof(fname), "%s_FILE", name);
		plain = getenv(name);
		file = getenv(fname);
		if (plain != NULL && file != NULL) {
			fail(ld, "environment %s: %s is set too; set only one",
			    fname, name);
			return -1;
		}
		if (plain != NULL) {
			if (set_value(k, &ld->v[i], plain, why, sizeof(why)) == -1) {
				fail(ld, "environment %s: key '%s': %s", name,
				    k->name, why);
				return -1;
			}
			ld->v[i].src = SRC_ENV;
		} else if (file != NULL) {
			if ((secret = read_secret(file, why, sizeof(why))) == NULL) {
				fail(ld, "environment %s: key '%s': %s", fname,
				    k->name, why);
				return -1;
			}
			rc = set_value(k, &ld->v[i], secret, why, sizeof(why));
			explicit_bzero(secret, strlen(secret));
			free(secret);
			if (rc == -1) {
				fail(ld, "environment %s: key '%s': %s", fname,
				    k->name, why);
				return -1;
			}
			ld->v[i].src = SRC_ENV_FILE;
		}
	}
	return 0;
}

static int
check_required(struct load *ld)
{
	char name[ENV_NAME_MAX];
	size_t i;

	for (i = 0; i < ld->nkeys; i++) {
		const struct gk_cfg_key *k = &ld->keys[i];

		if (!(k->flags & GK_CFG_REQUIRED))
			continue;
		if (ld->v[i].src != SRC_DEFAULT &&
		    !(k->type == GK_CFG_STR && ld->v[i].s[0] == '\0'))
			continue;
		env_name(k->name, name, sizeof(name));
		fail(ld, "%s: missing required key '%s' (or set %s%s)",
		    ld->path != NULL ? ld->path : "(no config file)", k->name,
		    name, (k->flags & GK_CFG_SECRET) ? "_FILE" : "");
		return -1;
	}
	return 0;
}

static void *
field(void *cfg, const struct gk_cfg_key *k)
{
	return (char *)cfg + k->offset;
}

static const void *
cfield(const void *cfg, const struct gk_cfg_key *k)
{
	return (const char *)cfg + k->offset;
}

/* Moves the loaded values into the struct; the struct now owns the strings. */
static void
commit(struct load *ld, void *cfg)
{
	size_t i;

	for (i = 0; i < ld->nkeys; i++) {
		const struct gk_cfg_key *k = &ld->keys[i];
		struct val *v = &ld->v[i];
		void *f = field(cfg, k);

		switch (k->type) {
		case GK_CFG_STR:
			free(*(char **)f);
			*(char **)f = v->s;
			v->s = NULL;
			break;
		case GK_CFG_INT:
			*(long long *)f = v->i;
			break;
		case GK_CFG_BOOL:
			*(int *)f = v->b;
			break;
		case GK_CFG_DOUBLE:
			*(double *)f = v->d;
			break;
		case GK_CFG_MS:
			*(int64_t *)f = v->ms;
			break;
		}
	}
}

static void
free_vals(struct load *ld)
{
	size_t i;

	if (ld->v == NULL)
		return;
	for (i = 0; i < ld->nkeys; i++)
		free(ld->v[i].s);
	free(ld->v);
	ld->v = NULL;
}

/* Loads into ld->v; the caller commits or frees. */
static int
load(struct load *ld, const struct gk_cfg_key *keys, const char *path,
    char *err, size_t errlen)
{
	memset(ld, 0, sizeof(*ld));
	ld->keys = keys;
	ld->nkeys = count_keys(keys);
	ld->path = path;
	ld->err = err;
	ld->errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';

	if (check_table(ld) == -1)
		goto fail;
	if ((ld->v = calloc(ld->nkeys + 1, sizeof(*ld->v))) == NULL) {
		fail(ld, "out of memory");
		goto fail;
	}
	if (load_defaults(ld) == -1)
		goto fail;
	if (path != NULL && load_file(ld) == -1)
		goto fail;
	if (load_env(ld) == -1 || check_required(ld) == -1)
		goto fail;
	return 0;
fail:
	free_vals(ld);
	gk_log(GK_LOG_ERR, "cfg.error", "file=%s msg=%s", path,
	    errlen > 0 ? err : "");
	return -1;
}

int
gk_cfg_load(void *cfg, const struct gk_cfg_key *keys, const char *path,
    char *err, size_t errlen)
{
	struct load ld;

	if (load(&ld, keys, path, err, errlen) == -1)
		return -1;
	commit(&ld, cfg);
	free_vals(&ld);
	gk_log(GK_LOG_INFO, "cfg.loaded", "file=%s keys=%zu", path, ld.nkeys);
	return 0;
}

void
gk_cfg_free(void *cfg, const struct gk_cfg_key *keys)
{
	const struct gk_cfg_key *k;

	if (cfg == NULL)
		return;
	for (k = keys; k->name != NULL; k++) {
		if (k->type == GK_CFG_STR) {
			free(*(char **)field(cfg, k));
			*(char **)field(cfg, k) = NULL;
		}
	}
}

static int
needs_quotes(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || s[0] == '"' || is_blank((unsigned char)s[0]) ||
	    is_blank((unsigned char)s[len - 1]))
		return 1;
	return strpbrk(s, "#\\\n\t\r") != NULL;
}

static int
put_quoted(FILE *fp, const char *s)
{
	if (putc('"', fp) == EOF)
		return -1;
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '"':
		case '\\':
			if (putc('\\', fp) == EOF || putc(*s, fp) == EOF)
				return -1;
			break;
		case '\n':
			if (fputs("\\n", fp) == EOF)
				return -1;
			break;
		case '\t':
			if (fputs("\\t", fp) == EOF)
				return -1;
			break;
		default:
			if (putc(*s, fp) == EOF)
				return -1;
		}
	}
	return putc('"', fp) == EOF ? -1 : 0;
}

/*
 * Writes key k's value to fp: secrets as *** (an empty one as "", which tells the
 * operator it is missing without telling anyone what it is), strings quoted when
 * quote is set and the file syntax needs it.
 */
static int
put_value(FILE *fp, const void *cfg, const struct gk_cfg_key *k, int quote)
{
	const void *f = cfield(cfg, k);
	const char *s;
	char buf[64];

	switch (k->type) {
	case GK_CFG_STR:
		s = *(char *const *)f;
		if (s == NULL)
			s = "";
		if ((k->flags & GK_CFG_SECRET) && *s != '\0')
			return fputs("***", fp) == EOF ? -1 : 0;
		if (quote && needs_quotes(s))
			return put_quoted(fp, s);
		return fputs(s, fp) == EOF ? -1 : 0;
	case GK_CFG_INT:
		snprintf(buf, sizeof(buf), "%lld", *(const long long *)f);
		break;
	case GK_CFG_BOOL:
		snprintf(buf, sizeof(buf), "%s", *(const int *)f ? "yes" : "no");
		break;
	case GK_CFG_DOUBLE:
		fmt_double(*(const double *)f, buf, sizeof(buf));
		break;
	case GK_CFG_MS:
		fmt_ms(*(const int64_t *)f, buf, sizeof(buf));
		break;
	default:
		snprintf(buf, sizeof(buf), "?");
		break;
	}
	if ((k->flags & GK_CFG_SECRET))
		snprintf(buf, sizeof(buf), "***");
	return fputs(buf, fp) == EOF ? -1 : 0;
}

static int
dump(const void *cfg, const struct gk_cfg_key *keys, FILE *fp,
    const struct load *ld)
{
	char name[ENV_NAME_MAX];
	size_t i;
	int rc;

	for (i = 0; keys[i].name != NULL; i++) {
		const struct gk_cfg_key *k = &keys[i];

		if (fprintf(fp, "%s = ", k->name) < 0 ||
		    put_value(fp, cfg, k, 1) == -1)
			return -1;
		rc = 0;
		if (ld != NULL) {
			if (env_name(k->name, name, sizeof(name)) == -1)
				name[0] = '\0';
			switch (ld->v[i].src) {
			case SRC_DEFAULT:
				rc = fputs("\t# default", fp) == EOF ? -1 : 0;
				break;
			case SRC_FILE:
				rc = fprintf(fp, "\t# %s:%d", ld->path,
				    ld->v[i].line);
				break;
			case SRC_ENV:
				rc = fprintf(fp, "\t# env %s", name);
				break;
			case SRC_ENV_FILE:
				rc = fprintf(fp, "\t# env %s_FILE", name);
				break;
			}
		}
		if (rc < 0 || putc('\n', fp) == EOF)
			return -1;
	}
	return fflush(fp) == EOF ? -1 : 0;
}

int
gk_cfg_dump(const void *cfg, const struct gk_cfg_key *keys, FILE *fp)
{
	return dump(cfg, keys, fp, NULL);
}

void
gk_cfg_log(const void *cfg, const struct gk_cfg_key *keys)
{
	const struct gk_cfg_key *k;
	char *text;
	size_t len;
	FILE *mem;

	for (k = keys; k->name != NULL; k++) {
		text = NULL;
		if ((mem = open_memstream(&text, &len)) == NULL)
			return;
		if (put_value(mem, cfg, k, 0) == -1) {
			fclose(mem);
			free(text);
			return;
		}
		fclose(mem);
		gk_log(GK_LOG_INFO, "cfg.value", "key=%s value=%s", k->name, text);
		free(text);
	}
}

int
gk_cfg_check(void *cfg, const struct gk_cfg_key *keys, const char *path,
    FILE *fp, char *err, size_t errlen)
{
	struct load ld;
	int rc;

	if (load(&ld, keys, path, err, errlen) == -1)
		return -1;
	commit(&ld, cfg);
	rc = dump(cfg, keys, fp, &ld);
	free_vals(&ld);
	gk_cfg_free(cfg, keys);
	if (rc == -1) {
		snprintf(err, errlen, "cannot write the configuration: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}
