/*
 * Thin, strict helpers over jansson for the JSON that arrives from the network (plate
 * reads, decisions, weights). jansson was chosen because it rejects duplicate keys at
 * parse time, validates UTF-8 (overlong forms, encoded surrogates) and refuses NUL in
 * strings by default; this module adds what it lacks: a size limit checked before any
 * parsing, a nesting limit far below jansson's 2048, and typed getters that tell an
 * absent field from one of the wrong type. This header is the wrapper, so it exposes
 * json_t; adapters and daemons use jansson's own API for building documents.
 *
 * What gk_json_parse() accepts: exactly one JSON object or array (a bare scalar at the
 * top level is rejected: every ecogate message is an object), optional whitespace
 * around it and nothing else; valid UTF-8 only; strings without NUL (raw or \u0000)
 * and without lone surrogate escapes (\ud800); no object with a repeated key; integers
 * that fit a long long; nesting at most GK_JSON_MAX_DEPTH. It does not log: the caller
 * knows the topic and the counter to bump, and logs once.
 */
#ifndef GATEKIT_JSON_H
#define GATEKIT_JSON_H

#include <stddef.h>

#include <jansson.h>

/* Deepest nesting accepted; [] and {} are depth 1. Our messages need 4 or 5. */
#define GK_JSON_MAX_DEPTH	32

/* Results of the getters. */
#define GK_JSON_OK		0
#define GK_JSON_ABSENT		-1	/* no such key (or obj is not an object) */
#define GK_JSON_WRONG_TYPE	-2	/* present with another type; JSON null counts */
#define GK_JSON_TOO_LONG	-3	/* gk_json_get_strbuf(): does not fit buf */

/*
 * Parses len bytes at buf (need not be NUL-terminated) strictly, as described above.
 * Returns a new reference (caller json_decref()s it), or NULL with err filled as
 * "line L column C: reason" (for a document over max_len, which is refused before it
 * is read, as "document is N bytes, more than the M allowed").
 */
json_t	*gk_json_parse(const char *buf, size_t len, size_t max_len, char *err,
	    size_t errlen);

/*
 * Reads the file at path and parses it as gk_json_parse() does; errors are prefixed
 * with "PATH: ". For tests and tools, not for hot paths.
 */
json_t	*gk_json_parse_file(const char *path, size_t max_len, char *err,
	    size_t errlen);

/*
 * Typed getters: each returns GK_JSON_OK and stores the value, or GK_JSON_ABSENT /
 * GK_JSON_WRONG_TYPE leaving *out untouched. JSON null is the wrong type, not absent:
 * our schemas never use null for "not given".
 * gk_json_get_str: *out is borrowed from obj (valid while obj lives).
 * gk_json_get_int: a JSON integer (1.0 is a real: wrong type).
 * gk_json_get_double: a JSON integer or real.
 * gk_json_get_bool: true or false, stored as 1 or 0.
 * gk_json_get_strbuf: copies a string into buf of size len; GK_JSON_TOO_LONG (buf
 *	emptied) when it does not fit with its NUL, or holds a NUL of its own.
 */
int	gk_json_get_str(const json_t *obj, const char *key, const char **out);
int	gk_json_get_int(const json_t *obj, const char *key, long long *out);
int	gk_json_get_double(const json_t *obj, const char *key, double *out);
int	gk_json_get_bool(const json_t *obj, const char *key, int *out);
int	gk_json_get_strbuf(const json_t *obj, const char *key, char *buf,
	    size_t len);

/*
 * 0 when every key of object obj is one of the NULL-terminated names, else -1 with
 * the first stranger in *bad: our schemas set additionalProperties false, and a
 * message with a key we do not know is refused, not half read.
 */
int	gk_json_only_keys(json_t *obj, const char *const names[],
	    const char **bad);

/* "absent", "wrong type", "too long" for a getter's result, to build messages. */
const char *gk_json_strerror(int rc);

/*
 * Serialises j compactly: no spaces, object keys in insertion order, UTF-8 written as
 * is (not \u-escaped), scalars allowed at top level. Returns a new string (caller
 * free()s it), or NULL on allocation failure.
 */
char	*gk_json_dump_compact(const json_t *j);

#endif
