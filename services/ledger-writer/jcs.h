/*
 * jcs: RFC 8785 JSON Canonicalization Scheme over jansson values.
 *
 * A ledger record is hashed as a Merkle leaf, and anyone who checks the ledger later
 * (ecogatectl ledger verify, an inspector with a proof file, a tool in another
 * language) must get the very same bytes from the same record. RFC 8785 fixes those
 * bytes: no whitespace, object members sorted by their names' UTF-16 code units,
 * strings escaped as ECMAScript's JSON.stringify does, numbers written as
 * ECMAScript's Number-to-String writes an IEEE 754 double. Any JCS implementation
 * (Go, Java, JavaScript, Python) then reproduces our leaves.
 *
 * JCS numbers are doubles, so a jansson integer is accepted only when a double holds
 * it exactly (|i| <= 2^53) and refused otherwise, never rounded silently; reals must
 * be finite. Strings must be valid UTF-8 (jansson's json_string() guarantees it; the
 * _nocheck constructors do not, so it is checked again here).
 */
#ifndef LEDGER_JCS_H
#define LEDGER_JCS_H

#include <stddef.h>

#include <jansson.h>

/* Longest number jcs_number() writes, with its NUL ("-0.0000033333333333333333"). */
#define JCS_NUMBER_MAX	32
/* Deepest nesting canonicalised; [] and {} are depth 1. */
#define JCS_MAX_DEPTH	64
/* Largest integer magnitude a double holds exactly: 2^53. */
#define JCS_INT_MAX	9007199254740992LL

/*
 * Canonical form of j (any JSON value, scalars too). Returns a new NUL-terminated
 * string (caller free()s it) whose length, without the NUL, is stored in *lenp when
 * lenp is not NULL; or NULL with err filled (integer beyond 2^53, non-finite real,
 * invalid UTF-8, nesting deeper than JCS_MAX_DEPTH, out of memory).
 */
char	*jcs_canonical(const json_t *j, size_t *lenp, char *err, size_t errlen);

/*
 * Writes d as ECMAScript Number::toString does (RFC 8785 section 3.2.2.3): the
 * shortest decimal that reads back as d, plain between 1e-7 and 1e21, exponent form
 * ("1e+21", "1.5e-7") outside, "0" for both zeros. Returns the length written to
 * out, or -1 when d is NaN or infinite (JCS has no spelling for them).
 */
int	jcs_number(double d, char out[JCS_NUMBER_MAX]);

/*
 * Parses len bytes at buf as JCS reads JSON: every number as a double (so
 * 100000000000000000000 is 1e+21's neighbour, not an error), any value at the top
 * level, duplicate names and NUL refused, at most max_len bytes. For reading back a
 * canonical record (proof files, ledger verify); messages from the network go
 * through gk_json_parse(). Returns a new reference, or NULL with err filled.
 */
json_t	*jcs_parse(const char *buf, size_t len, size_t max_len, char *err,
	    size_t errlen);

#endif
