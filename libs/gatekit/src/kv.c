/*
 * kv: the Redis adapter over hiredis 0.14's synchronous API.
 *
 * Why synchronous: the verifier asks Redis one short question per passage from its loop
 * thread, and a command timeout (SO_RCVTIMEO through redisSetTimeout) bounds the wait.
 * Why lazy, backed-off reconnection: a Redis restart must not take a gate down, and a
 * dead Redis must not be hammered by one connect per plate read. After an established
 * connection breaks, the next call reconnects at once (a restart is usually quick);
 * after a failed connect, attempts are spaced by a doubling, capped, jittered backoff
 * and calls in between fail without touching the network.
 *
 * Every hiredis reply is copied into our own memory and freed with freeReplyObject()
 * in the function that received it.
 *
 * Why SIGPIPE is blocked around each round trip: hiredis writes with write(2), and a
 * Redis that went away (restart: our socket sits in CLOSE_WAIT) answers the first
 * segment of a large pipelined write with a reset, so the next write(2) raises
 * SIGPIPE, whose default action kills the daemon. Like libpq, we block it on the
 * calling thread for the call and swallow the one we caused; the write then fails
 * with EPIPE and the connection is dropped like any other I/O error.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <pthread.h>

#include <hiredis/hiredis.h>

#include "gatekit/kv.h"
#include "gatekit/log.h"
#include "gatekit/util.h"

/* Commands per pipelined batch: bounds the memory of one round trip. */
#define KV_BATCH	512

struct gk_kv {
	char		 host[GK_KV_HOST_MAX];
	char		 pass[GK_KV_PASS_MAX];
	int		 port;
	int		 db;
	int		 connect_timeout_ms;
	int		 command_timeout_ms;
	int		 backoff_min_ms;
	int		 backoff_max_ms;

	redisContext	*c;		/* NULL while disconnected */
	int64_t		 next_try_ms;	/* monotonic time of the next connect attempt */
	int		 backoff_ms;	/* current backoff; 0 after a success */
	uint64_t	 rng;		/* jitter state */
	char		 last[256];	/* why the last connect or command failed */
	char		 err[320];	/* what gk_kv_errstr() shows */
};

static void	kv_seterr(struct gk_kv *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
kv_seterr(struct gk_kv *kv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(kv->err, sizeof(kv->err), fmt, ap);
	va_end(ap);
}

static struct timeval
ms_to_tv(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* xorshift64: jitter only, no need for good randomness. */
static uint64_t
kv_rand(struct gk_kv *kv)
{
	kv->rng ^= kv->rng << 13;
	kv->rng ^= kv->rng >> 7;
	kv->rng ^= kv->rng << 17;
	return kv->rng;
}

/* The SIGPIPE state of the calling thread around one round trip (see the top). */
struct kv_sigpipe {
	sigset_t	old;
	int		blocked;	/* we changed the mask */
	int		pending;	/* one was pending before: not ours */
};

static void
kv_sigpipe_block(struct kv_sigpipe *sp)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sp->blocked = pthread_sigmask(SIG_BLOCK, &set, &sp->old) == 0;
	sp->pending = sp->blocked && sigpending(&pend) == 0 &&
	    sigismember(&pend, SIGPIPE) == 1;
}

/* Swallows a SIGPIPE our writes raised, restores the mask; keeps errno. */
static void
kv_sigpipe_restore(struct kv_sigpipe *sp)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t	set, pend;
	int		save = errno;

	if (!sp->blocked)
		return;
	if (!sp->pending && sigpending(&pend) == 0 &&
	    sigismember(&pend, SIGPIPE) == 1) {
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		while (sigtimedwait(&set, NULL, &zero) == -1 && errno == EINTR)
			continue;
	}
	pthread_sigmask(SIG_SETMASK, &sp->old, NULL);
	errno = save;
}

/* redisCommand() with SIGPIPE kept away. NULL: the connection failed. */
static redisReply *
kv_command(struct gk_kv *kv, const char *fmt, ...)
{
	struct kv_sigpipe	 sp;
	redisReply		*r;
	va_list			 ap;

	kv_sigpipe_block(&sp);
	va_start(ap, fmt);
	r = redisvCommand(kv->c, fmt, ap);
	va_end(ap);
	kv_sigpipe_restore(&sp);
	return r;
}

/* redisGetReply() (which first writes what was appended) with SIGPIPE kept away. */
static redisReply *
kv_get_reply(struct gk_kv *kv)
{
	struct kv_sigpipe	 sp;
	void			*p = NULL;

	kv_sigpipe_block(&sp);
	if (redisGetReply(kv->c, &p) != REDIS_OK)
		p = NULL;
	kv_sigpipe_restore(&sp);
	return p;
}

struct gk_kv *
gk_kv_new(const struct gk_kv_opts *opts)
{
	struct gk_kv	*kv;
	const char	*host = "127.0.0.1";

	if (opts != NULL && opts->host != NULL && opts->host[0] != '\0')
		host = opts->host;
	if ((kv = calloc(1, sizeof(*kv))) == NULL) {
		gk_log(GK_LOG_ERR, "kv.error", "reason=%s", "out of memory");
		return NULL;
	}
	if (gk_strlcpy(kv->host, host, sizeof(kv->host)) >= sizeof(kv->host)) {
		gk_log(GK_LOG_ERR, "kv.error", "reason=%s", "host too long");
		goto fail;
	}
	if (opts != NULL && opts->password != NULL &&
	    gk_strlcpy(kv->pass, opts->password, sizeof(kv->pass)) >= sizeof(kv->pass)) {
		gk_log(GK_LOG_ERR, "kv.error", "reason=%s", "password too long");
		goto fail;
	}
	kv->port = opts != NULL && opts->port != 0 ? opts->port : 6379;
	kv->db = opts != NULL ? opts->db : 0;
	kv->connect_timeout_ms = opts != NULL && opts->connect_timeout_ms > 0 ?
	    opts->connect_timeout_ms : 1000;
	kv->command_timeout_ms = opts != NULL && opts->command_timeout_ms > 0 ?
	    opts->command_timeout_ms : 1000;
	kv->backoff_min_ms = opts != NULL && opts->backoff_min_ms > 0 ?
	    opts->backoff_min_ms : 100;
	kv->backoff_max_ms = opts != NULL && opts->backoff_max_ms > 0 ?
	    opts->backoff_max_ms : 5000;
	if (kv->port < 1 || kv->port > 65535 || kv->db < 0 ||
	    kv->backoff_max_ms < kv->backoff_min_ms) {
		gk_log(GK_LOG_ERR, "kv.error", "reason=%s port=%d db=%d",
		    "invalid options", kv->port, kv->db);
		goto fail;
	}
	kv->rng = (uint64_t)gk_mono_ms() ^ (uint64_t)(uintptr_t)kv ^ 0x9e3779b97f4a7c15ULL;
	if (kv->rng == 0)
		kv->rng = 1;
	return kv;
fail:
	free(kv);
	return NULL;
}

void
gk_kv_free(struct gk_kv *kv)
{
	if (kv == NULL)
		return;
	if (kv->c != NULL)
		redisFree(kv->c);
	explicit_bzero(kv->pass, sizeof(kv->pass));
	free(kv);
}

int
gk_kv_connected(const struct gk_kv *kv)
{
	return kv->c != NULL;
}

const char *
gk_kv_errstr(const struct gk_kv *kv)
{
	return kv->err;
}

/* Forgets a broken connection; the next call reconnects at once. */
static void
kv_drop(struct gk_kv *kv, const char *why)
{
	gk_strlcpy(kv->last, why, sizeof(kv->last));
	kv_seterr(kv, "redis %s:%d: %s", kv->host, kv->port, why);
	gk_log(GK_LOG_WARN, "kv.disconnected", "host=%s port=%d reason=%s",
	    kv->host, kv->port, why);
	redisFree(kv->c);
	kv->c = NULL;
	kv->next_try_ms = 0;
}

/* A connect attempt failed: wait longer before the next one. */
static void
kv_backoff(struct gk_kv *kv, const char *why)
{
	int64_t wait;

	if (kv->backoff_ms == 0)
		kv->backoff_ms = kv->backoff_min_ms;
	else if (kv->backoff_ms < kv->backoff_max_ms / 2)
		kv->backoff_ms *= 2;
	else
		kv->backoff_ms = kv->backoff_max_ms;
	/* Up to a quarter less, so a fleet of gates does not retry in lockstep. */
	wait = kv->backoff_ms - (int64_t)(kv_rand(kv) % (uint64_t)(kv->backoff_ms / 4 + 1));
	kv->next_try_ms = gk_mono_ms() + wait;
	gk_strlcpy(kv->last, why, sizeof(kv->last));
	kv_seterr(kv, "redis %s:%d: %s", kv->host, kv->port, why);
	gk_log(kv->backoff_ms == kv->backoff_min_ms ? GK_LOG_WARN : GK_LOG_DEBUG,
	    "kv.connect_failed", "host=%s port=%d reason=%s retry_ms=%lld",
	    kv->host, kv->port, why, (long long)wait);
}

/* Sends one setup command on a fresh connection; returns 0 when the reply is OK. */
static int
kv_setup_cmd(struct gk_kv *kv, char *why, size_t whylen, const char *fmt, ...)
{
	struct kv_sigpipe	 sp;
	redisReply		*r;
	va_list			 ap;
	int			 rc = -1;

	kv_sigpipe_block(&sp);
	va_start(ap, fmt);
	r = redisvCommand(kv->c, fmt, ap);
	va_end(ap);
	kv_sigpipe_restore(&sp);
	if (r == NULL)
		snprintf(why, whylen, "%s", kv->c->errstr);
	else if (r->type == REDIS_REPLY_ERROR)
		snprintf(why, whylen, "%s", r->str);
	else
		rc = 0;
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

/* Makes sure a connection exists. Returns 0, or -1 (err set) while Redis is away. */
static int
kv_ensure(struct gk_kv *kv)
{
	char	why[256];
	int64_t	now;

	if (kv->c != NULL)
		return 0;
	now = gk_mono_ms();
	if (now < kv->next_try_ms) {
		kv_seterr(kv, "redis %s:%d down (%s), next attempt in %lld ms",
		    kv->host, kv->port, kv->last, (long long)(kv->next_try_ms - now));
		return -1;
	}
	kv->c = redisConnectWithTimeout(kv->host, kv->port,
	    ms_to_tv(kv->connect_timeout_ms));
	if (kv->c == NULL) {
		kv_backoff(kv, "out of memory");
		return -1;
	}
	if (kv->c->err != 0) {
		snprintf(why, sizeof(why), "connect: %s", kv->c->errstr);
		goto fail;
	}
	if (redisSetTimeout(kv->c, ms_to_tv(kv->command_timeout_ms)) != REDIS_OK) {
		snprintf(why, sizeof(why), "set timeout: %s", kv->c->errstr);
		goto fail;
	}
	if (kv->pass[0] != '\0' &&
	    kv_setup_cmd(kv, why, sizeof(why), "AUTH %s", kv->pass) == -1)
		goto fail;
	if (kv->db != 0 &&
	    kv_setup_cmd(kv, why, sizeof(why), "SELECT %d", kv->db) == -1)
		goto fail;
	kv->backoff_ms = 0;
	kv->next_try_ms = 0;
	kv->last[0] = '\0';
	gk_log(GK_LOG_INFO, "kv.connected", "host=%s port=%d db=%d",
	    kv->host, kv->port, kv->db);
	return 0;
fail:
	redisFree(kv->c);
	kv->c = NULL;
	kv_backoff(kv, why);
	return -1;
}

/*
 * Checks one reply of a command just sent. NULL means the connection failed (I/O
 * error, timeout, server gone): it is dropped. Returns 0 for a usable reply, -1 else;
 * an error reply sets err but keeps the connection.
 */
static int
kv_check(struct gk_kv *kv, const redisReply *r, const char *cmd)
{
	char why[256];

	if (r == NULL) {
		if (kv->c->err == REDIS_ERR_IO && (errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			snprintf(why, sizeof(why), "%s: timed out after %d ms", cmd,
			    kv->command_timeout_ms);
		else
			snprintf(why, sizeof(why), "%s: %s", cmd,
			    kv->c->errstr[0] != '\0' ? kv->c->errstr : "I/O error");
		kv_drop(kv, why);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		kv_seterr(kv, "redis %s: %s", cmd, r->str);
		return -1;
	}
	return 0;
}

static int
kv_key_ok(struct gk_kv *kv, const char *key)
{
	if (key == NULL || key[0] == '\0') {
		kv_seterr(kv, "empty key");
		return 0;
	}
	return 1;
}

/* Copies a string reply into a fresh NUL-terminated buffer. */
static char *
kv_copy(const redisReply *r)
{
	char *p;

	if ((p = malloc((size_t)r->len + 1)) == NULL)
		return NULL;
	memcpy(p, r->str, (size_t)r->len);
	p[r->len] = '\0';
	return p;
}

int
gk_kv_get(struct gk_kv *kv, const char *key, char **val, size_t *len)
{
	redisReply	*r;
	int		 rc = -1;

	*val = NULL;
	*len = 0;
	if (!kv_key_ok(kv, key) || kv_ensure(kv) == -1)
		return -1;
	r = kv_command(kv, "GET %b", key, strlen(key));
	if (kv_check(kv, r, "GET") == -1)
		goto out;
	if (r->type == REDIS_REPLY_NIL)
		rc = 0;
	else if (r->type != REDIS_REPLY_STRING)
		kv_seterr(kv, "redis GET: unexpected reply type %d", r->type);
	else if ((*val = kv_copy(r)) == NULL)
		kv_seterr(kv, "out of memory");
	else {
		*len = r->len;
		rc = 1;
	}
out:
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

int
gk_kv_set(struct gk_kv *kv, const char *key, const void *val, size_t len,
    int64_t ttl_ms)
{
	redisReply	*r;
	int		 rc = -1;

	if (val == NULL)
		val = "";
	if (!kv_key_ok(kv, key) || kv_ensure(kv) == -1)
		return -1;
	if (ttl_ms > 0)
		r = kv_command(kv, "SET %b %b PX %lld", key, strlen(key),
		    val, len, (long long)ttl_ms);
	else
		r = kv_command(kv, "SET %b %b", key, strlen(key), val, len);
	if (kv_check(kv, r, "SET") == 0)
		rc = 0;
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

int
gk_kv_del(struct gk_kv *kv, const char *key)
{
	redisReply	*r;
	int		 rc = -1;

	if (!kv_key_ok(kv, key) || kv_ensure(kv) == -1)
		return -1;
	r = kv_command(kv, "DEL %b", key, strlen(key));
	if (kv_check(kv, r, "DEL") == -1)
		goto out;
	if (r->type != REDIS_REPLY_INTEGER)
		kv_seterr(kv, "redis DEL: unexpected reply type %d", r->type);
	else
		rc = r->integer > 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

int
gk_kv_ping(struct gk_kv *kv)
{
	redisReply	*r;
	int		 rc = -1;

	if (kv_ensure(kv) == -1)
		return -1;
	r = kv_command(kv, "PING");
	if (kv_check(kv, r, "PING") == 0)
		rc = 0;
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

void
gk_kv_vals_free(struct gk_kv_val *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(out[i].data);
		out[i].data = NULL;
		out[i].len = 0;
		out[i].found = 0;
	}
}

/*
 * Reads the replies of m pipelined commands. Every reply is read even after an error
 * reply so the connection stays in step; an I/O error drops the connection. Calls
 * take(reply, i, arg) for each usable reply. Returns 0 or -1.
 */
static int
kv_drain(struct gk_kv *kv, size_t m, const char *cmd,
    int (*take)(struct gk_kv *, const redisReply *, size_t, void *), void *arg)
{
	redisReply	*r;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < m; i++) {
		r = kv_get_reply(kv);
		if (kv_check(kv, r, cmd) == -1) {
			rc = -1;
			if (r == NULL)
				return -1;	/* connection gone; nothing more to read */
		} else if (take(kv, r, i, arg) == -1)
			rc = -1;
		freeReplyObject(r);
	}
	return rc;
}

static int
mget_take(struct gk_kv *kv, const redisReply *r, size_t i, void *arg)
{
	struct gk_kv_val *out = arg;

	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type != REDIS_REPLY_STRING) {
		kv_seterr(kv, "redis GET: unexpected reply type %d", r->type);
		return -1;
	}
	if ((out[i].data = kv_copy(r)) == NULL) {
		kv_seterr(kv, "out of memory");
		return -1;
	}
	out[i].len = r->len;
	out[i].found = 1;
	return 0;
}

int
gk_kv_mget(struct gk_kv *kv, const char *const *keys, size_t n,
    struct gk_kv_val *out)
{
	size_t	i, j, m;
	int	found = 0;

	if (n == 0)
		return 0;
	memset(out, 0, n * sizeof(*out));
	for (i = 0; i < n; i++)
		if (!kv_key_ok(kv, keys[i]))
			return -1;
	if (kv_ensure(kv) == -1)
		return -1;
	for (i = 0; i < n; i += m) {
		m = n - i < KV_BATCH ? n - i : KV_BATCH;
		for (j = 0; j < m; j++)
			if (redisAppendCommand(kv->c, "GET %b", keys[i + j],
			    strlen(keys[i + j])) != REDIS_OK) {
				/* Half a batch is queued: the stream is out of step. */
				kv_drop(kv, "GET: out of memory");
				goto fail;
			}
		if (kv_drain(kv, m, "GET", mget_take, out + i) == -1)
			goto fail;
	}
	for (i = 0; i < n; i++)
		found += out[i].found;
	return found;
fail:
	gk_kv_vals_free(out, n);
	return -1;
}

static int
mset_take(struct gk_kv *kv, const redisReply *r, size_t i, void *arg)
{
	(void)kv;
	(void)r;
	(void)i;
	(void)arg;
	return 0;
}

int
gk_kv_mset(struct gk_kv *kv, const struct gk_kv_pair *pairs, size_t n)
{
	const struct gk_kv_pair	*p;
	size_t			 i, j, m;
	int			 rc;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!kv_key_ok(kv, pairs[i].key))
			return -1;
	if (kv_ensure(kv) == -1)
		return -1;
	for (i = 0; i < n; i += m) {
		m = n - i < KV_BATCH ? n - i : KV_BATCH;
		for (j = 0; j < m; j++) {
			p = &pairs[i + j];
			if (p->ttl_ms > 0)
				rc = redisAppendCommand(kv->c, "SET %b %b PX %lld",
				    p->key, strlen(p->key),
				    p->val != NULL ? p->val : "", p->len,
				    (long long)p->ttl_ms);
			else
				rc = redisAppendCommand(kv->c, "SET %b %b",
				    p->key, strlen(p->key),
				    p->val != NULL ? p->val : "", p->len);
			if (rc != REDIS_OK) {
				kv_drop(kv, "SET: out of memory");
				return -1;
			}
		}
		if (kv_drain(kv, m, "SET", mset_take, NULL) == -1)
			return -1;
	}
	return 0;
}
