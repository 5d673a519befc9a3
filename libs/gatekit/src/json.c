/*
 * Strict JSON parsing and typed access over jansson (see json.h for what is accepted).
 * The size limit is checked before a byte is read and the nesting limit by a cheap
 * scan before jansson builds anything, so a hostile message costs at most one pass
 * over max_len bytes; everything else (UTF-8, duplicates, NUL, trailing bytes) is left
 * to jansson's flags, which already do it right.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatekit/json.h"
#include "gatekit/util.h"

/*
 * Finds the first bracket that nests deeper than GK_JSON_MAX_DEPTH, skipping strings.
 * Returns 0, or -1 with its line and column (1-based, columns in characters as
 * jansson counts them). On invalid JSON the scan may be wrong, but only toward
 * reporting a depth error; jansson rejects the rest.
 */
static int
depth_scan(const char *buf, size_t len, int *line, int *col)
{
	int depth = 0, in_str = 0, esc = 0;
	size_t i;
	unsigned char c;

	*line = 1;
	*col = 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)buf[i];
		if (c == '\n') {
			(*line)++;
			*col = 0;
		} else if ((c & 0xc0) != 0x80) {
			(*col)++;	/* UTF-8 continuation bytes are not columns */
		}
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			break;
		case '[':
		case '{':
			if (++depth > GK_JSON_MAX_DEPTH)
				return -1;
			break;
		case ']':
		case '}':
			depth--;
			break;
		}
	}
	return 0;
}

json_t *
gk_json_parse(const char *buf, size_t len, size_t max_len, char *err,
    size_t errlen)
{
	json_error_t je;
	json_t *j;
	int line, col;

	gk_errf(err, errlen, "%s", "");
	if (len > max_len) {
		gk_errf(err, errlen, "document is %zu bytes, more than the %zu allowed",
		    len, max_len);
		return NULL;
	}
	if (depth_scan(buf, len, &line, &col) == -1) {
		gk_errf(err, errlen, "line %d column %d: nesting deeper than %d",
		    line, col, GK_JSON_MAX_DEPTH);
		return NULL;
	}
	/* No JSON_DECODE_ANY (objects and arrays only), no JSON_ALLOW_NUL, no
	 * JSON_DISABLE_EOF_CHECK (trailing bytes are an error). */
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		gk_errf(err, errlen, "line %d column %d: %s", je.line, je.column,
		    je.text);
		return NULL;
	}
	return j;
}

json_t *
gk_json_parse_file(const char *path, size_t max_len, char *err, size_t errlen)
{
	char msg[256];
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	ssize_t n;
	json_t *j = NULL;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		gk_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		gk_errf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if ((size_t)st.st_size > max_len) {
		gk_errf(err, errlen, "%s: document is %zu bytes, more than the %zu "
		    "allowed", path, (size_t)st.st_size, max_len);
		goto out;
	}
	/* One byte more than allowed, so a file that grew is still caught. */
	cap = max_len < (size_t)st.st_size + 1 ? max_len + 1 : (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL) {
		gk_errf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			gk_errf(err, errlen, "%s: cannot read: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if ((j = gk_json_parse(buf, len, max_len, msg, sizeof(msg))) == NULL)
		gk_errf(err, errlen, "%s: %s", path, msg);
out:
	free(buf);
	close(fd);
	return j;
}

/* The member key of obj, or NULL when absent or obj is not an object. */
static json_t *
member(const json_t *obj, const char *key)
{
	if (obj == NULL || !json_is_object(obj))
		return NULL;
	return json_object_get(obj, key);
}

int
gk_json_get_str(const json_t *obj, const char *key, const char **out)
{
	json_t *v;

	if ((v = member(obj, key)) == NULL)
		return GK_JSON_ABSENT;
	if (!json_is_string(v))
		return GK_JSON_WRONG_TYPE;
	*out = json_string_value(v);
	return GK_JSON_OK;
}

int
gk_json_get_int(const json_t *obj, const char *key, long long *out)
{
	json_t *v;

	if ((v = member(obj, key)) == NULL)
		return GK_JSON_ABSENT;
	if (!json_is_integer(v))
		return GK_JSON_WRONG_TYPE;
	*out = json_integer_value(v);
	return GK_JSON_OK;
}

int
gk_json_get_double(const json_t *obj, const char *key, double *out)
{
	json_t *v;

	if ((v = member(obj, key)) == NULL)
		return GK_JSON_ABSENT;
	if (!json_is_number(v))
		return GK_JSON_WRONG_TYPE;
	*out = json_number_value(v);
	return GK_JSON_OK;
}

int
gk_json_get_bool(const json_t *obj, const char *key, int *out)
{
	json_t *v;

	if ((v = member(obj, key)) == NULL)
		return GK_JSON_ABSENT;
	if (!json_is_boolean(v))
		return GK_JSON_WRONG_TYPE;
	*out = json_is_true(v);
	return GK_JSON_OK;
}

int
gk_json_get_strbuf(const json_t *obj, const char *key, char *buf, size_t len)
{
	json_t *v;
	size_t n;

	if ((v = member(obj, key)) == NULL)
		return GK_JSON_ABSENT;
	if (!json_is_string(v))
		return GK_JSON_WRONG_TYPE;
	n = json_string_length(v);
	/* A NUL inside (only possible in a json_t built with JSON_ALLOW_NUL or
	 * json_stringn) would silently cut the copy: refuse it like an over-long one. */
	if (n >= len || strlen(json_string_value(v)) != n) {
		if (len > 0)
			buf[0] = '\0';
		return GK_JSON_TOO_LONG;
	}
	memcpy(buf, json_string_value(v), n + 1);
	return GK_JSON_OK;
}

const char *
gk_json_strerror(int rc)
{
	switch (rc) {
	case GK_JSON_OK:
		return "ok";
	case GK_JSON_ABSENT:
		return "absent";
	case GK_JSON_WRONG_TYPE:
		return "wrong type";
	case GK_JSON_TOO_LONG:
		return "too long";
	}
	return "unknown error";
}

char *
gk_json_dump_compact(const json_t *j)
{
	/* JSON_PRESERVE_ORDER is jansson's default since 2.8; said anyway. No
	 * JSON_ENSURE_ASCII: UTF-8 plates (沪A12345) stay readable. */
	return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

int
gk_json_only_keys(json_t *obj, const char *const names[], const char **bad)
{
	const char	*k;
	json_t		*v;
	size_t		 i;

	json_object_foreach(obj, k, v) {
		(void)v;
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(k, names[i]) == 0)
				break;
		if (names[i] == NULL) {
			*bad = k;
			return -1;
		}
	}
	return 0;
}
