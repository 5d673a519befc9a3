/*
 * kv: the Redis adapter. The verifier keeps the vehicle registry cached in Redis so a
 * gate still decides when PostgreSQL or Kafka is away; this is the one place that
 * speaks to Redis (through hiredis), so no hiredis type leaks into a daemon.
 *
 * The handle is synchronous and owned by one thread (the daemon's loop thread). The
 * connection is made lazily by the first call and re-made by the next call after any
 * I/O error or timeout. While Redis is down, reconnection attempts are spaced with a
 * capped exponential backoff and calls in between fail at once (-1, reason in
 * gk_kv_errstr()), so a dead Redis costs a gate nothing but a failed lookup.
 *
 *	struct gk_kv_opts o = { .host = "127.0.0.1", .port = 6379 };
 *	struct gk_kv *kv = gk_kv_new(&o);
 *	if (gk_kv_set(kv, "reg:沪A12345", buf, len, 0) == -1)
 *		... gk_kv_errstr(kv) ...
 *	gk_kv_free(kv);
 *
 * Keys are NUL-terminated strings; values are binary-safe byte strings.
 */
#ifndef GATEKIT_KV_H
#define GATEKIT_KV_H

#include <stddef.h>
#include <stdint.h>

struct gk_kv;

#define GK_KV_HOST_MAX	256	/* host name or address, with the NUL */
#define GK_KV_PASS_MAX	256	/* AUTH password, with the NUL */

/*
 * Connection options. Zero fields take the defaults shown; strings are copied by
 * gk_kv_new(), so the struct may be freed afterwards.
 */
struct gk_kv_opts {
	const char	*host;			/* "127.0.0.1" */
	int		 port;			/* 6379 */
	const char	*password;		/* NULL or "": no AUTH */
	int		 db;			/* SELECT index, 0 */
	int		 connect_timeout_ms;	/* 1000 */
	int		 command_timeout_ms;	/* 1000: a reply slower than this is an I/O error */
	int		 backoff_min_ms;	/* 100: first wait after a failed connect */
	int		 backoff_max_ms;	/* 5000: the cap */
};

/* One value returned by gk_kv_mget(). data is heap memory owned by the caller. */
struct gk_kv_val {
	char	*data;		/* the bytes plus a NUL (for text); NULL when absent */
	size_t	 len;		/* bytes, without the NUL */
	int	 found;		/* 1 when the key existed, else 0 */
};

/* One key/value for gk_kv_mset(). Borrowed. */
struct gk_kv_pair {
	const char	*key;
	const void	*val;
	size_t		 len;
	int64_t		 ttl_ms;	/* > 0: expire after ttl_ms; 0: no expiry */
};

/*
 * Returns a new handle (no connection is made yet), or NULL (logged) when the options
 * are invalid (bad port, over-long host or password) or memory ran out.
 */
struct gk_kv	*gk_kv_new(const struct gk_kv_opts *opts);

/* Closes the connection and frees the handle. NULL-safe. */
void	gk_kv_free(struct gk_kv *kv);

/*
 * Reads key. Returns 1 and sets *val (heap, NUL-terminated, caller frees) and *len when
 * found; 0 when absent (*val = NULL, *len = 0); -1 on error (gk_kv_errstr()).
 */
int	gk_kv_get(struct gk_kv *kv, const char *key, char **val, size_t *len);

/* Writes key = val[0..len). ttl_ms > 0 sets an expiry. Returns 0 or -1. */
int	gk_kv_set(struct gk_kv *kv, const char *key, const void *val, size_t len,
	    int64_t ttl_ms);

/* Deletes key. Returns 1 when it existed, 0 when it did not, -1 on error. */
int	gk_kv_del(struct gk_kv *kv, const char *key);

/*
 * Reads n keys in one pipelined round trip (batched). out[0..n) is filled in order;
 * the caller frees it with gk_kv_vals_free(). Returns the number of keys found, or -1
 * on error (then out holds nothing that needs freeing).
 */
int	gk_kv_mget(struct gk_kv *kv, const char *const *keys, size_t n,
	    struct gk_kv_val *out);

/* Frees the data of out[0..n) and clears it. */
void	gk_kv_vals_free(struct gk_kv_val *out, size_t n);

/*
 * Writes n pairs, pipelined, each with its own expiry. Not atomic: on -1 some pairs may
 * have been written. Returns 0 or -1.
 */
int	gk_kv_mset(struct gk_kv *kv, const struct gk_kv_pair *pairs, size_t n);

/* Round trip to the server (PING). Returns 0 when it answered, -1 otherwise. */
int	gk_kv_ping(struct gk_kv *kv);

/* 1 when a connection is currently established, else 0. Makes no connection. */
int	gk_kv_connected(const struct gk_kv *kv);

/* The reason of the last failure ("" when none). Valid until the next call. */
const char	*gk_kv_errstr(const struct gk_kv *kv);

#endif
