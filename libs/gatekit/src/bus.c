/*
 * The bus adapter: MQTT 5 over Eclipse Paho MQTT C's async API, shaped to our loop.
 *
 * Paho runs its own threads and calls us on them. Those callbacks do three things
 * only: copy what they were given into a struct ev of our own, free Paho's memory, and
 * gk_loop_post() the ev to the loop thread. Everything else (state, subscriptions,
 * the table of unfinished publishes, the caller's callbacks) lives on the loop thread
 * and needs no lock.
 *
 * Reconnecting is ours, not Paho's automaticReconnect: a one-shot loop timer with
 * capped exponential backoff and equal jitter (so a hundred gates do not hammer a
 * restarted broker in step), one log line per attempt, and, because we issue each
 * MQTTAsync_connect() ourselves, the CONNACK's session-present flag in its onSuccess5,
 * which tells us whether the broker still holds our subscriptions. Paho's automatic
 * reconnect reports only "connected" without that flag and has no jitter.
 *
 * Publishing while disconnected: Paho's sendWhileDisconnected buffers up to
 * max_buffered publishes (kept in the persistence directory when one is set) and sends
 * them after the next connect; when the buffer is full gk_bus_publish() fails with
 * ENOBUFS rather than silently dropping the oldest.
 *
 * Matching completions: each accepted publish hands Paho its own struct pend as the
 * callback context, and the completion names that struct, not a token. Paho's tokens
 * cannot be trusted for this: every QoS 0 publish has token 0, and some failure paths
 * (a socket error while the publish is written) report token 0 for a QoS 1 publish.
 * Paho calls each publish's onSuccess5 or onFailure5 once, so the pend lives until the
 * loop thread has run that completion, or until gk_bus_free() after MQTTAsync_destroy().
 *
 * Freeing: gk_loop_post() items may still be queued when the bus is freed. Each holds
 * the bus pointer, so the struct stays allocated (marked dead) until the last queued
 * item has been run and dropped; a counter of posted-but-not-run items tells when.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "gatekit/bus.h"
#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/util.h"

#define DEF_SESSION_EXPIRY	(7 * 24 * 3600)
#define DEF_KEEPALIVE		30
#define DEF_CONNECT_TIMEOUT	10
#define DEF_RETRY_MIN		500
#define DEF_RETRY_MAX		30000
#define DEF_MAX_BUFFERED	1000
#define SHUTDOWN_PUB_MS		2000	/* wait for the offline status PUBACK */
#define SHUTDOWN_DISC_MS	1000	/* Paho's own in-flight grace at disconnect */
#define TOPIC_MAX		65535	/* MQTT's string length limit */
#define WHY_LEN			128
#define STABLE_MIN_MS		10000	/* an up connection this long resets backoff */

enum state { ST_DOWN, ST_CONNECTING, ST_UP };

enum ev_kind {
	EV_CONNECTED,
	EV_CONNECT_FAILED,
	EV_LOST,
	EV_PUBLISHED,
	EV_SUBSCRIBED,
	EV_MESSAGE,
};

struct pend;

/* What a Paho thread hands to the loop thread. A message's bytes follow the struct. */
struct ev {
	enum ev_kind	 kind;
	int		 token;		/* EV_SUBSCRIBED */
	struct pend	*pend;		/* EV_PUBLISHED: the caller's publish, NULL: status */
	int		 ok;
	int		 session_present;
	char		 why[WHY_LEN];
	struct gk_bus_msg msg;
};

struct sub {
	struct sub	*next;
	char		*filter;
	int		 qos;
	int		 made;		/* the broker holds it in our session */
	int		 token;		/* of the SUBSCRIBE in flight, 0: none */
};

/*
 * A publish accepted and not yet finished, and Paho's context for its completion.
 * Owned by the loop thread; a Paho thread only reads b.
 */
struct pend {
	struct pend	*next;
	struct gk_bus	*b;
	void		*opaque;
};

struct gk_bus {
	struct gk_loop	*loop;
	MQTTAsync	 cli;

	char		*url;
	char		 client_id[GK_BUS_CLIENT_ID_LEN];
	char		*username;
	char		*password;
	char		*ca_file;
	char		*cert_file;
	char		*key_file;
	char		*persist_dir;
	char		*status_topic;
	char		*status_online;	/* the caller's online payload, or NULL */
	char		 status_service[33];	/* from status/{service}/{instance} */
	char		 status_instance[33];
	char		 version[65];
	int64_t		 created_mono;	/* gk_mono_ms() at gk_bus_new(): uptime */
	char		 status_will[512];	/* rebuilt before every connect */
	int		 tls;
	int		 clean_start;
	uint32_t	 session_expiry_s;
	int		 keepalive_s;
	int		 connect_timeout_s;
	int		 retry_min_ms;
	int		 retry_max_ms;
	size_t		 max_payload;

	void		(*on_message)(void *, const struct gk_bus_msg *);
	int		(*on_receive)(void *, struct gk_bus_msg *);
	void		(*on_state)(void *, int, const char *);
	void		(*on_published)(void *, void *, int, const char *);
	void		(*on_subscribed)(void *, const char *, int);
	void		*arg;

	/* Loop thread only. */
	enum state	 state;
	int		 started;
	int		 closing;
	int		 dead;
	unsigned	 attempt;
	int64_t		 up_since;	/* gk_mono_ms() of the last connect */
	uint64_t	 retry_timer;
	uint32_t	 rnd;
	struct sub	*subs;
	struct pend	*pend_head;
	struct pend	*pend_tail;

	/* Shared with Paho's threads. */
	atomic_int	 posted;	/* evs posted and not yet run */
	atomic_int	 quiet;		/* closing: callbacks post nothing */
	pthread_mutex_t	 mu;		/* the shutdown hand-shakes below */
	pthread_cond_t	 cv;
	int		 pub_done, pub_ok;
	int		 disc_done;
};

static pthread_once_t trace_once = PTHREAD_ONCE_INIT;
static atomic_int trace_banner;

/*
 * Paho's own diagnostics (ERROR and worse) go through our logger. Any thread. Paho
 * opens every trace session with a banner of version lines between two "====" rules,
 * at whatever level is set; that is not an error, so it is logged at debug.
 */
static void
trace_cb(enum MQTTASYNC_TRACE_LEVELS level, char *message)
{
	int banner = atomic_load(&trace_banner);

	if (strncmp(message, "=====", 5) == 0) {
		atomic_store(&trace_banner, !banner);
		return;
	}
	if (banner) {
		gk_log(GK_LOG_DEBUG, "bus.paho_info", "msg=%s", message);
		return;
	}
	gk_log(level >= MQTTASYNC_TRACE_SEVERE ? GK_LOG_ERR : GK_LOG_WARN,
	    "bus.paho", "msg=%s", message);
}

static void
trace_init(void)
{
	MQTTAsync_setTraceCallback(trace_cb);
	MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
}

/* -------------------------------------------------------------------------------- */
/* Pure helpers: topics and backoff.                                                 */

int
gk_bus_topic_valid(const char *topic)
{
	size_t n;

	if (topic == NULL || (n = strlen(topic)) == 0 || n > TOPIC_MAX)
		return 0;
	return strpbrk(topic, "+#") == NULL;
}

int
gk_bus_filter_valid(const char *filter)
{
	const char *p;
	size_t n, lvl;

	if (filter == NULL || (n = strlen(filter)) == 0 || n > TOPIC_MAX)
		return 0;
	for (p = filter;; p += lvl + 1) {
		lvl = strcspn(p, "/");
		if (memchr(p, '+', lvl) != NULL && lvl != 1)
			return 0;
		if (memchr(p, '#', lvl) != NULL && (lvl != 1 || p[1] != '\0'))
			return 0;
		if (p[lvl] == '\0')
			return 1;
	}
}

int
gk_bus_topic_match(const char *filter, const char *topic)
{
	const char *f = filter, *t = topic;
	size_t fl, tl;

	if (!gk_bus_filter_valid(filter) || !gk_bus_topic_valid(topic))
		return 0;
	/* $SYS and friends are not matched by a leading wildcard (MQTT 4.7.2). */
	if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
		return 0;
	for (;;) {
		if (f[0] == '#')
			return 1;
		fl = strcspn(f, "/");
		tl = strcspn(t, "/");
		if (!(fl == 1 && f[0] == '+') &&
		    (fl != tl || memcmp(f, t, fl) != 0))
			return 0;
		f += fl;
		t += tl;
		if (*f == '\0')
			return *t == '\0';
		if (*t == '\0')		/* "a/#" matches "a" too */
			return strcmp(f, "/#") == 0;
		f++;
		t++;
	}
}

/* Appends n bytes of s to buf at *off; 0, or -1 when it does not fit. */
static int
append(char *buf, size_t len, size_t *off, const char *s, size_t n)
{
	if (n >= len - *off)
		return -1;
	memcpy(buf + *off, s, n);
	*off += n;
	buf[*off] = '\0';
	return 0;
}

int
gk_bus_topic(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	const char *p, *s;
	char num[32];
	size_t off = 0, i;
	int rc = -1, e = EINVAL, n;

	if (buf == NULL || len == 0 || fmt == NULL) {
		errno = EINVAL;
		return -1;
	}
	buf[0] = '\0';
	va_start(ap, fmt);
	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			if (append(buf, len, &off, p, 1) == -1)
				goto toolong;
			continue;
		}
		switch (*++p) {
		case 's':
			s = va_arg(ap, const char *);
			/* One whole, non-empty level: nothing that could add a level
			 * or a wildcard, no control characters. */
			if (s == NULL || *s == '\0')
				goto out;
			for (i = 0; s[i] != '\0'; i++)
				if (s[i] == '/' || s[i] == '+' || s[i] == '#' ||
				    (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
					goto out;
			if (append(buf, len, &off, s, i) == -1)
				goto toolong;
			break;
		case 'd':
			n = snprintf(num, sizeof(num), "%d", va_arg(ap, int));
			if (append(buf, len, &off, num, (size_t)n) == -1)
				goto toolong;
			break;
		case 'u':
			n = snprintf(num, sizeof(num), "%u", va_arg(ap, unsigned));
			if (append(buf, len, &off, num, (size_t)n) == -1)
				goto toolong;
			break;
		case '%':
			if (append(buf, len, &off, "%", 1) == -1)
				goto toolong;
			break;
		default:
			goto out;
		}
	}
	if (gk_bus_topic_valid(buf))
		rc = 0;
	goto out;
toolong:
	e = ENAMETOOLONG;
out:
	va_end(ap);
	if (rc == -1) {
		buf[0] = '\0';
		errno = e;
	}
	return rc;
}

int64_t
gk_bus_backoff_ms(unsigned attempt, int64_t min_ms, int64_t max_ms, uint32_t rnd)
{
	int64_t d, half;
	unsigned i;

	if (min_ms < 1)
		min_ms = 1;
	if (max_ms < min_ms)
		max_ms = min_ms;
	d = min_ms;
	for (i = 0; i < attempt && d < max_ms; i++)
		d = d > max_ms / 2 ? max_ms : d * 2;	/* no signed overflow */
	if (d > max_ms)
		d = max_ms;
	half = d / 2;
	return half + (int64_t)(rnd % (uint64_t)(d - half + 1));
}

/* xorshift32: jitter needs spread, not secrecy. */
static uint32_t
next_rnd(struct gk_bus *b)
{
	uint32_t x = b->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return b->rnd = x;
}

/* -------------------------------------------------------------------------------- */
/* Paho's threads: copy, post, return.                                               */

static void	on_ev(struct gk_loop *, void *, void *);

static void
post(struct gk_bus *b, struct ev *e)
{
	atomic_fetch_add(&b->posted, 1);
	if (gk_loop_post(b->loop, on_ev, e, b) == -1) {
		atomic_fetch_sub(&b->posted, 1);
		gk_log(GK_LOG_ERR, "bus.post_failed", "client=%s kind=%d",
		    b->client_id, (int)e->kind);
		free(e);
	}
}

static struct ev *
ev_new(struct gk_bus *b, enum ev_kind kind, int token, int ok, const char *why)
{
	struct ev *e;

	if (atomic_load(&b->quiet))
		return NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		gk_log(GK_LOG_ERR, "bus.nomem", "client=%s kind=%d", b->client_id,
		    (int)kind);
		return NULL;
	}
	e->kind = kind;
	e->token = token;
	e->ok = ok;
	if (why != NULL)
		gk_strlcpy(e->why, why, sizeof(e->why));	/* a reason; cut is fine */
	return e;
}

/* MQTTReasonCode_toString() returns NULL for a code it does not know. */
static const char *
reason_str(int rc)
{
	const char *s = MQTTReasonCode_toString((enum MQTTReasonCodes)rc);

	return s != NULL ? s : "unknown reason";
}

/*
 * Words for a failure from what Paho gave. code < 0 is Paho's own error (its text may
 * add detail); code > 0 is the reason code of a refused CONNACK; otherwise reasonCode
 * is the broker's MQTT 5 reason. reasonCode is read last: some Paho failure paths
 * leave it unset, but those always set a negative code.
 */
static void
fail_why(char *buf, size_t len, const MQTTAsync_failureData5 *r)
{
	if (r == NULL)
		gk_strlcpy(buf, "unknown", len);
	else if (r->code < 0 && r->message != NULL)
		snprintf(buf, len, "%s: %s (code %d)", MQTTAsync_strerror(r->code),
		    r->message, r->code);
	else if (r->code < 0)
		snprintf(buf, len, "%s (code %d)", MQTTAsync_strerror(r->code),
		    r->code);
	else if (r->code > 0)
		snprintf(buf, len, "broker refused: %s (reason %d)",
		    reason_str(r->code), r->code);
	else if (r->reasonCode != MQTTREASONCODE_SUCCESS)
		snprintf(buf, len, "%s (reason %d)", reason_str(r->reasonCode),
		    (int)r->reasonCode);
	else if (r->message != NULL)
		gk_strlcpy(buf, r->message, len);
	else
		gk_strlcpy(buf, "unknown", len);
}

static void
cb_connect_ok(void *ctx, MQTTAsync_successData5 *r)
{
	struct gk_bus *b = ctx;
	struct ev *e;

	if ((e = ev_new(b, EV_CONNECTED, 0, 1, NULL)) == NULL)
		return;
	e->session_present = r != NULL && r->alt.connect.sessionPresent;
	post(b, e);
}

static void
cb_connect_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	struct gk_bus *b = ctx;
	struct ev *e;

	if ((e = ev_new(b, EV_CONNECT_FAILED, 0, 0, NULL)) == NULL)
		return;
	fail_why(e->why, sizeof(e->why), r);
	post(b, e);
}

static void
cb_lost(void *ctx, char *cause)
{
	struct gk_bus *b = ctx;
	struct ev *e;

	if ((e = ev_new(b, EV_LOST, 0, 0,
	    cause != NULL ? cause : "connection lost")) != NULL)
		post(b, e);
	/* cause, when given, is ours to free (MQTTAsync.h). */
	if (cause != NULL)
		MQTTAsync_free(cause);
}

/* The broker sent DISCONNECT (MQTT 5), e.g. "server shutting down". */
static void
cb_disconnected(void *ctx, MQTTProperties *props, enum MQTTReasonCodes rc)
{
	struct gk_bus *b = ctx;
	struct ev *e;
	char why[WHY_LEN];

	(void)props;
	snprintf(why, sizeof(why), "broker disconnect: %s (reason %d)",
	    reason_str(rc), (int)rc);
	if ((e = ev_new(b, EV_LOST, 0, 0, why)) != NULL)
		post(b, e);
}

/* A publish finished; p is the caller's (a struct pend), or NULL for our status. */
static void
pub_done(struct gk_bus *b, struct pend *p, MQTTAsync_successData5 *ok,
    MQTTAsync_failureData5 *fail)
{
	struct ev *e;

	if ((e = ev_new(b, EV_PUBLISHED, 0, 0, NULL)) == NULL)
		return;
	e->pend = p;
	if (ok != NULL && ok->reasonCode < MQTTREASONCODE_UNSPECIFIED_ERROR)
		e->ok = 1;
	else if (ok != NULL)
		snprintf(e->why, sizeof(e->why), "%s (reason %d)",
		    reason_str(ok->reasonCode), (int)ok->reasonCode);
	else
		fail_why(e->why, sizeof(e->why), fail);
	post(b, e);
}

static void
cb_pub_ok(void *ctx, MQTTAsync_successData5 *r)
{
	struct pend *p = ctx;

	pub_done(p->b, p, r, NULL);
}

static void
cb_pub_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	struct pend *p = ctx;

	pub_done(p->b, p, NULL, r);
}

static void
cb_status_ok(void *ctx, MQTTAsync_successData5 *r)
{
	pub_done(ctx, NULL, r, NULL);
}

static void
cb_status_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	pub_done(ctx, NULL, NULL, r);
}

static void
cb_sub_ok(void *ctx, MQTTAsync_successData5 *r)
{
	struct gk_bus *b = ctx;
	struct ev *e;

	if ((e = ev_new(b, EV_SUBSCRIBED, r->token,
	    r->reasonCode < MQTTREASONCODE_UNSPECIFIED_ERROR, NULL)) == NULL)
		return;
	snprintf(e->why, sizeof(e->why), "%s (reason %d)",
	    reason_str(r->reasonCode), (int)r->reasonCode);
	post(b, e);
}

static void
cb_sub_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	struct gk_bus *b = ctx;
	struct ev *e;

	if ((e = ev_new(b, EV_SUBSCRIBED, r != NULL ? r->token : 0, 0, NULL)) == NULL)
		return;
	fail_why(e->why, sizeof(e->why), r);
	post(b, e);
}

/* Copies n bytes to *cur and returns where they went; a NUL follows when nul. */
static void *
put(char **cur, const void *src, size_t n, int nul)
{
	char *d = *cur;

	if (n > 0)
		memcpy(d, src, n);
	if (nul)
		d[n++] = '\0';
	*cur = d + n;
	return d;
}

static int
cb_message(void *ctx, char *topic, int topiclen, MQTTAsync_message *pm)
{
	struct gk_bus *b = ctx;
	struct ev *e;
	struct gk_bus_prop *props;
	MQTTProperty *q;
	size_t tlen, bytes, nprops = 0, np = 0;
	char *cur;
	int i;

	/*
	 * While closing, leave the message with Paho: with a persistence directory it
	 * is kept there and handed over again on the next start instead of being lost.
	 */
	if (atomic_load(&b->quiet))
		return 0;
	tlen = topiclen > 0 ? (size_t)topiclen : strlen(topic);
	if ((size_t)pm->payloadlen > b->max_payload) {
		gk_log(GK_LOG_WARN, "bus.message_oversize",
		    "client=%s topic=%s len=%d max=%zu", b->client_id, topic,
		    pm->payloadlen, b->max_payload);
		goto done;
	}
	bytes = tlen + 1 + (size_t)pm->payloadlen + 1;
	for (i = 0; i < pm->properties.count; i++) {
		q = &pm->properties.array[i];
		switch (q->identifier) {
		case MQTTPROPERTY_CODE_USER_PROPERTY:
			nprops++;
			bytes += (size_t)q->value.value.len + 1;
			/* FALLTHROUGH */
		case MQTTPROPERTY_CODE_RESPONSE_TOPIC:
		case MQTTPROPERTY_CODE_CORRELATION_DATA:
		case MQTTPROPERTY_CODE_CONTENT_TYPE:
			bytes += (size_t)q->value.data.len + 1;
			break;
		default:
			break;
		}
	}
	if ((e = calloc(1, sizeof(*e) + nprops * sizeof(*props) + bytes)) == NULL) {
		gk_log(GK_LOG_ERR, "bus.nomem", "client=%s topic=%s", b->client_id,
		    topic);
		return 0;	/* Paho keeps it and offers it again */
	}
	e->kind = EV_MESSAGE;
	props = (struct gk_bus_prop *)(e + 1);
	cur = (char *)(props + nprops);
	e->msg.topic = put(&cur, topic, tlen, 1);
	e->msg.payload = put(&cur, pm->payload, (size_t)pm->payloadlen, 1);
	e->msg.len = (size_t)pm->payloadlen;
	e->msg.qos = pm->qos;
	e->msg.retain = pm->retained;
	e->msg.dup = pm->dup;
	for (i = 0; i < pm->properties.count; i++) {
		q = &pm->properties.array[i];
		switch (q->identifier) {
		case MQTTPROPERTY_CODE_USER_PROPERTY:
			props[np].key = put(&cur, q->value.data.data,
			    (size_t)q->value.data.len, 1);
			props[np].value = put(&cur, q->value.value.data,
			    (size_t)q->value.value.len, 1);
			np++;
			break;
		case MQTTPROPERTY_CODE_RESPONSE_TOPIC:
			e->msg.response_topic = put(&cur, q->value.data.data,
			    (size_t)q->value.data.len, 1);
			break;
		case MQTTPROPERTY_CODE_CORRELATION_DATA:
			e->msg.correlation = put(&cur, q->value.data.data,
			    (size_t)q->value.data.len, 1);
			e->msg.correlation_len = (size_t)q->value.data.len;
			break;
		case MQTTPROPERTY_CODE_CONTENT_TYPE:
			e->msg.content_type = put(&cur, q->value.data.data,
			    (size_t)q->value.data.len, 1);
			break;
		case MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL:
			e->msg.expiry_s = q->value.integer4;
			break;
		default:
			break;
		}
	}
	e->msg.props = nprops > 0 ? props : NULL;
	e->msg.nprops = nprops;
	e->msg.recv_ms = gk_mono_ms();
	if (b->on_receive != NULL) {
		int rc = b->on_receive(b->arg, &e->msg);

		if (rc != 0) {
			free(e);
			if (rc == -1)
				return 0;	/* Paho keeps it and offers it again */
			goto done;
		}
	}
	post(b, e);
done:
	MQTTAsync_freeMessage(&pm);
	MQTTAsync_free(topic);
	return 1;
}

/* The shutdown hand-shakes: gk_bus_free() waits on these on the loop thread. */
static void
sync_set(struct gk_bus *b, int *flag, int *okp, int ok)
{
	pthread_mutex_lock(&b->mu);
	*flag = 1;
	if (okp != NULL)
		*okp = ok;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static void
cb_shut_pub_ok(void *ctx, MQTTAsync_successData5 *r)
{
	struct gk_bus *b = ctx;

	sync_set(b, &b->pub_done, &b->pub_ok,
	    r->reasonCode < MQTTREASONCODE_UNSPECIFIED_ERROR);
}

static void
cb_shut_pub_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	struct gk_bus *b = ctx;

	(void)r;
	sync_set(b, &b->pub_done, &b->pub_ok, 0);
}

static void
cb_shut_disc_ok(void *ctx, MQTTAsync_successData5 *r)
{
	struct gk_bus *b = ctx;

	(void)r;
	sync_set(b, &b->disc_done, NULL, 1);
}

static void
cb_shut_disc_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	struct gk_bus *b = ctx;

	(void)r;
	sync_set(b, &b->disc_done, NULL, 0);
}

/* Waits up to ms for *flag. Returns 0 when it was set, -1 on timeout. */
static int
sync_wait(struct gk_bus *b, int *flag, int ms)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->mu);
	while (!*flag && rc == 0)
		rc = pthread_cond_timedwait(&b->cv, &b->mu, &ts);
	rc = *flag ? 0 : -1;
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/* -------------------------------------------------------------------------------- */
/* The loop thread.                                                                  */

static void	bus_connect(struct gk_bus *);

static void
on_retry(struct gk_loop *l, uint64_t id, void *arg)
{
	struct gk_bus *b = arg;

	(void)l;
	(void)id;
	b->retry_timer = 0;
	bus_connect(b);
}

static void
schedule_retry(struct gk_bus *b)
{
	int64_t ms;

	if (b->closing || b->retry_timer != 0)
		return;
	ms = gk_bus_backoff_ms(b->attempt, b->retry_min_ms, b->retry_max_ms,
	    next_rnd(b));
	if (b->attempt < 32)
		b->attempt++;
	b->state = ST_DOWN;
	if ((b->retry_timer = gk_loop_timer_add(b->loop, ms, 0, on_retry, b)) == 0)
		gk_log(GK_LOG_ERR, "bus.retry_failed", "client=%s", b->client_id);
	else
		gk_log(GK_LOG_DEBUG, "bus.retry", "client=%s in_ms=%lld attempt=%u",
		    b->client_id, (long long)ms, b->attempt);
}

/* Adds a string property (value only, or key and value for a user property). */
static int
prop_add(MQTTProperties *props, enum MQTTPropertyCodes code, const void *data,
    size_t len, const char *value)
{
	MQTTProperty p;

	if (len > TOPIC_MAX || (value != NULL && strlen(value) > TOPIC_MAX))
		return -1;
	memset(&p, 0, sizeof(p));
	p.identifier = code;
	/* Paho copies the bytes (MQTTProperties_add) but types them non-const. */
	p.value.data.data = (char *)(uintptr_t)data;
	p.value.data.len = (int)len;
	if (value != NULL) {
		p.value.value.data = (char *)(uintptr_t)value;
		p.value.value.len = (int)strlen(value);
	}
	return MQTTProperties_add(props, &p) == 0 ? 0 : -1;
}

static int
prop_add_int(MQTTProperties *props, enum MQTTPropertyCodes code, unsigned v)
{
	MQTTProperty p;

	memset(&p, 0, sizeof(p));
	p.identifier = code;
	p.value.integer4 = v;
	return MQTTProperties_add(props, &p) == 0 ? 0 : -1;
}

static int	status_json(const struct gk_bus *, const char *, const char *, char *,
		    size_t);

static void
bus_connect(struct gk_bus *b)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	MQTTProperties cprops = MQTTProperties_initializer;
	int rc;

	if (b->closing)
		return;
	co.keepAliveInterval = b->keepalive_s;
	co.cleanstart = b->clean_start;
	co.connectTimeout = b->connect_timeout_s;
	co.automaticReconnect = 0;	/* ours: see the top of the file */
	co.retryInterval = 0;
	co.username = b->username;
	co.password = b->password;
	if (!b->clean_start && prop_add_int(&cprops,
	    MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL, b->session_expiry_s) == 0)
		co.connectProperties = &cprops;
	/* The will carries the time of this connect: when the daemon was last seen. */
	if (b->status_topic != NULL && status_json(b, "offline", "connection_lost",
	    b->status_will, sizeof(b->status_will)) == 0) {
		will.topicName = b->status_topic;
		will.message = b->status_will;
		will.retained = 1;
		will.qos = 1;
		co.will = &will;
	}
	if (b->tls) {
		ssl.trustStore = b->ca_file;
		ssl.keyStore = b->cert_file;
		ssl.privateKey = b->key_file;
		ssl.enableServerCertAuth = 1;
		ssl.verify = 1;		/* the certificate must name the host */
		co.ssl = &ssl;
	}
	co.onSuccess5 = cb_connect_ok;
	co.onFailure5 = cb_connect_fail;
	co.context = b;
	/* Paho copies the options, will, TLS settings and properties. */
	rc = MQTTAsync_connect(b->cli, &co);
	MQTTProperties_free(&cprops);
	if (rc != MQTTASYNC_SUCCESS) {
		gk_log(GK_LOG_WARN, "bus.connect_failed",
		    "client=%s url=%s attempt=%u reason=%s", b->client_id, b->url,
		    b->attempt, MQTTAsync_strerror(rc));
		schedule_retry(b);
		return;
	}
	b->state = ST_CONNECTING;
}

static void
send_subscribe(struct gk_bus *b, struct sub *s)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int rc;

	ro.onSuccess5 = cb_sub_ok;
	ro.onFailure5 = cb_sub_fail;
	ro.context = b;
	if ((rc = MQTTAsync_subscribe(b->cli, s->filter, s->qos, &ro)) !=
	    MQTTASYNC_SUCCESS) {
		gk_log(GK_LOG_WARN, "bus.subscribe_failed",
		    "client=%s filter=%s reason=%s", b->client_id, s->filter,
		    MQTTAsync_strerror(rc));
		return;
	}
	s->token = ro.token;
}

/*
 * Builds a device-status.v1 message for state "online" (with version and uptime) or
 * "offline" (with reason) into buf. Every substituted string was checked at
 * gk_bus_new() to need no JSON escaping. Returns 0, or -1 when it does not fit.
 */
static int
status_json(const struct gk_bus *b, const char *state, const char *reason,
    char *buf, size_t len)
{
	char ts[GK_TS_LEN];
	int n;

	if (gk_ts_format(gk_wall_ms(), ts, sizeof(ts)) == -1)
		return -1;
	if (strcmp(state, "online") == 0)
		n = snprintf(buf, len, "{\"schema\":\"ecogate.device-status.v1\","
		    "\"service\":\"%s\",\"instance\":\"%s\",\"state\":\"online\","
		    "\"ts\":\"%s\",\"version\":\"%s\",\"uptime_s\":%lld}",
		    b->status_service, b->status_instance, ts, b->version,
		    (long long)((gk_mono_ms() - b->created_mono) / 1000));
	else
		n = snprintf(buf, len, "{\"schema\":\"ecogate.device-status.v1\","
		    "\"service\":\"%s\",\"instance\":\"%s\",\"state\":\"%s\","
		    "\"ts\":\"%s\",\"reason\":\"%s\"}", b->status_service,
		    b->status_instance, state, ts, reason);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Sends a retained QoS 1 status. ok/fail callbacks as given; returns the Paho code. */
static int
send_status(struct gk_bus *b, const char *payload, MQTTAsync_onSuccess5 *ok,
    MQTTAsync_onFailure5 *fail)
{
	MQTTAsync_message pm = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	pm.payload = (void *)(uintptr_t)payload;
	pm.payloadlen = (int)strlen(payload);
	pm.qos = 1;
	pm.retained = 1;
	ro.onSuccess5 = ok;
	ro.onFailure5 = fail;
	ro.context = b;
	return MQTTAsync_sendMessage(b->cli, b->status_topic, &pm, &ro);
}

/*
 * Paho never sets TCP_NODELAY and keeps its socket to itself, so we find this
 * process's TCP connections to the broker's port and set it on them. Without it a
 * publish made right after we acknowledged a message (a decision after its plate
 * read) waits behind Nagle's algorithm for the broker's delayed ACK, about 40 ms a
 * hop on Linux, which is most of a gate's plate-to-barrier time. Setting it on
 * another client's socket to the same port does no harm. Returns how many were set.
 */
static int
nodelay_to_port(int port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, type, one = 1, n = 0, p;

	if (port <= 0)
		return 0;
	for (fd = 3; fd < 4096; fd++) {
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
		    type != SOCK_STREAM)
			continue;
		len = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
			continue;
		if (ss.ss_family == AF_INET)
			p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		else
			continue;
		if (p == port && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one)) == 0)
			n++;
	}
	return n;
}

/* The port of a tcp:// or ssl:// url (1883 or 8883 when it names none). */
static int
url_port(const char *url)
{
	const char	*host = strstr(url, "://"), *c;
	char		*end;
	long		 v;

	host = host != NULL ? host + 3 : url;
	if ((c = strrchr(host, ':')) == NULL || strchr(c, ']') != NULL)
		return strncmp(url, "ssl", 3) == 0 || strncmp(url, "mqtts", 5) == 0 ?
		    8883 : 1883;
	v = strtol(c + 1, &end, 10);
	return (*end == '\0' || *end == '/') && v > 0 && v < 65536 ? (int)v : 0;
}

static void
ev_connected(struct gk_bus *b, const struct ev *e)
{
	struct sub *s;
	char online[512];
	int rc;

	if (b->closing)
		return;
	b->state = ST_UP;
	/*
	 * attempt is not reset here but when a connection that stayed up long enough
	 * is lost (ev_lost): a broker that accepts and at once drops us (a duplicate
	 * client id taking the session over, an ACL kick) must not be hammered at
	 * retry_min_ms for ever.
	 */
	b->up_since = gk_mono_ms();
	gk_log(GK_LOG_INFO, "bus.connected", "client=%s url=%s session_present=%d "
	    "nodelay_sockets=%d", b->client_id, b->url, e->session_present,
	    nodelay_to_port(url_port(b->url)));
	/* Make every subscription the broker does not hold for us. */
	for (s = b->subs; s != NULL; s = s->next) {
		if (!e->session_present)
			s->made = 0;
		if (!s->made)
			send_subscribe(b, s);
	}
	if (b->status_topic != NULL && b->status_online == NULL &&
	    status_json(b, "online", NULL, online, sizeof(online)) == -1)
		gk_log(GK_LOG_WARN, "bus.status_failed", "client=%s reason=%s",
		    b->client_id, "status does not fit");
	else if (b->status_topic != NULL && (rc = send_status(b,
	    b->status_online != NULL ? b->status_online : online, cb_status_ok,
	    cb_status_fail)) != MQTTASYNC_SUCCESS)
		gk_log(GK_LOG_WARN, "bus.status_failed", "client=%s reason=%s",
		    b->client_id, MQTTAsync_strerror(rc));
	if (b->on_state != NULL)
		b->on_state(b->arg, 1, "connected");
}

static void
ev_connect_failed(struct gk_bus *b, const struct ev *e)
{
	if (b->closing)
		return;
	gk_log(GK_LOG_WARN, "bus.connect_failed",
	    "client=%s url=%s attempt=%u reason=%s", b->client_id, b->url,
	    b->attempt, e->why);
	b->state = ST_DOWN;
	schedule_retry(b);
}

static void
ev_lost(struct gk_bus *b, const struct ev *e)
{
	/* A broker DISCONNECT and the lost connection after it report once. */
	if (b->closing || b->state != ST_UP)
		return;
	gk_log(GK_LOG_WARN, "bus.disconnected", "client=%s url=%s reason=%s",
	    b->client_id, b->url, e->why);
	b->state = ST_DOWN;
	if (gk_mono_ms() - b->up_since >= (b->retry_max_ms > STABLE_MIN_MS ?
	    b->retry_max_ms : STABLE_MIN_MS))
		b->attempt = 0;
	schedule_retry(b);
	if (b->on_state != NULL)
		b->on_state(b->arg, 0, e->why);
}

static void
ev_published(struct gk_bus *b, const struct ev *e)
{
	struct pend *p, *prev = NULL;
	void *opaque;

	if (e->pend == NULL) {
		/* Not the caller's: our own status publish. */
		if (!e->ok)
			gk_log(GK_LOG_WARN, "bus.status_failed", "client=%s reason=%s",
			    b->client_id, e->why);
		return;
	}
	/* Completions arrive in the order the publishes finished, which is
	 * nearly always the order they were made: the match is at the head. */
	for (p = b->pend_head; p != NULL; prev = p, p = p->next)
		if (p == e->pend)
			break;
	if (p == NULL) {
		/* Paho completed one publish twice: a broken invariant, but the
		 * caller has been told once already, so say so and go on. */
		gk_log(GK_LOG_ERR, "bus.publish_unknown", "client=%s", b->client_id);
		return;
	}
	if (prev == NULL)
		b->pend_head = p->next;
	else
		prev->next = p->next;
	if (b->pend_tail == p)
		b->pend_tail = prev;
	opaque = p->opaque;
	free(p);
	if (!e->ok)
		gk_log(GK_LOG_WARN, "bus.publish_failed", "client=%s reason=%s",
		    b->client_id, e->why);
	if (b->on_published != NULL)
		b->on_published(b->arg, opaque, e->ok, e->ok ? "ok" : e->why);
}

static void
ev_subscribed(struct gk_bus *b, const struct ev *e)
{
	struct sub *s;

	for (s = b->subs; s != NULL; s = s->next)
		if (s->token != 0 && s->token == e->token)
			break;
	if (s == NULL)
		return;
	s->token = 0;
	s->made = e->ok;
	if (e->ok)
		gk_log(GK_LOG_INFO, "bus.subscribed", "client=%s filter=%s qos=%d",
		    b->client_id, s->filter, s->qos);
	else
		gk_log(GK_LOG_WARN, "bus.subscribe_failed",
		    "client=%s filter=%s reason=%s", b->client_id, s->filter, e->why);
	if (b->on_subscribed != NULL)
		b->on_subscribed(b->arg, s->filter, e->ok);
}

/*
 * Runs each ev on the loop thread. The caller's callback is the last thing each
 * branch does, because it may free the bus.
 */
static void
on_ev(struct gk_loop *l, void *item, void *arg)
{
	struct gk_bus *b = arg;
	struct ev *e = item;

	(void)l;
	if (b->dead) {
		if (e->kind == EV_MESSAGE)
			gk_log(GK_LOG_WARN, "bus.message_dropped", "topic=%s",
			    e->msg.topic);
		if (atomic_fetch_sub(&b->posted, 1) == 1)
			free(b);
		free(e);
		return;
	}
	atomic_fetch_sub(&b->posted, 1);
	switch (e->kind) {
	case EV_CONNECTED:
		ev_connected(b, e);
		break;
	case EV_CONNECT_FAILED:
		ev_connect_failed(b, e);
		break;
	case EV_LOST:
		ev_lost(b, e);
		break;
	case EV_PUBLISHED:
		ev_published(b, e);
		break;
	case EV_SUBSCRIBED:
		ev_subscribed(b, e);
		break;
	case EV_MESSAGE:
		if (b->on_message != NULL && !b->closing)
			b->on_message(b->arg, &e->msg);
		break;
	}
	free(e);
}

/* -------------------------------------------------------------------------------- */
/* Public API.                                                                        */

static int
client_id_valid(const char *id)
{
	size_t n;

	if (id == NULL || (n = strlen(id)) == 0 || n >= GK_BUS_CLIENT_ID_LEN)
		return 0;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._:-") == n;
}

/* strdup that keeps NULL as NULL; -1 only when s was given and no memory. */
/* A version string that needs no JSON escaping (device-status.v1 "version"). */
static int
version_valid(const char *v)
{
	size_t n = strlen(v);

	return n >= 1 && n <= 64 && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789.+_~-") == n;
}

/* An id as device-status.v1 wants it for a topic segment: ^[a-z0-9][a-z0-9_-]{0,31}$. */
static int
topic_id_valid(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > 32 || !(islower((unsigned char)s[0]) ||
	    isdigit((unsigned char)s[0])))
		return 0;
	for (i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
		    s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/*
 * Takes service and instance from a status topic ending in status/{service}/{instance}
 * so the status payload always names what its topic names. Returns 0 or -1.
 */
static int
status_ids(const char *topic, char *svc, size_t svclen, char *inst, size_t instlen)
{
	const char *end = topic + strlen(topic), *i, *sv, *st;

	for (i = end; i > topic && i[-1] != '/'; i--)
		;
	if (i == topic)
		return -1;
	for (sv = i - 1; sv > topic && sv[-1] != '/'; sv--)
		;
	if (sv == topic)
		return -1;
	for (st = sv - 1; st > topic && st[-1] != '/'; st--)
		;
	if ((size_t)(sv - 1 - st) != strlen("status") ||
	    strncmp(st, "status", 6) != 0 ||
	    !topic_id_valid(sv, (size_t)(i - 1 - sv)) ||
	    !topic_id_valid(i, (size_t)(end - i)) ||
	    (size_t)(i - 1 - sv) >= svclen || (size_t)(end - i) >= instlen)
		return -1;
	memcpy(svc, sv, (size_t)(i - 1 - sv));
	svc[i - 1 - sv] = '\0';
	memcpy(inst, i, (size_t)(end - i));
	inst[end - i] = '\0';
	return 0;
}

static int
dup_opt(char **dst, const char *s)
{
	*dst = NULL;
	if (s == NULL)
		return 0;
	return (*dst = strdup(s)) == NULL ? -1 : 0;
}

/* mkdir -p for the persistence directory. */
static int
mkdirs(const char *path)
{
	char buf[PATH_MAX], *p;

	if (gk_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		return -1;
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static void
free_fields(struct gk_bus *b)
{
	struct sub *s;
	struct pend *p;

	while ((s = b->subs) != NULL) {
		b->subs = s->next;
		free(s->filter);
		free(s);
	}
	while ((p = b->pend_head) != NULL) {
		b->pend_head = p->next;
		free(p);
	}
	b->pend_tail = NULL;
	free(b->url);
	free(b->username);
	if (b->password != NULL)
		explicit_bzero(b->password, strlen(b->password));
	free(b->password);
	free(b->ca_file);
	free(b->cert_file);
	free(b->key_file);
	free(b->persist_dir);
	free(b->status_topic);
	free(b->status_online);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
}

struct gk_bus *
gk_bus_new(struct gk_loop *l, const struct gk_bus_opts *o, char *err,
    size_t errlen)
{
	MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer5;
	pthread_condattr_t ca;
	struct gk_bus *b = NULL;
	char why[512];
	int rc, tls;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* why is logged even when the caller gave no err buffer. */
#define FAIL(...) do {							\
	snprintf(why, sizeof(why), __VA_ARGS__);			\
	goto fail;							\
} while (0)
	if (l == NULL || o == NULL || o->url == NULL)
		FAIL("bus: no loop, options or url");
	tls = strncmp(o->url, "ssl://", 6) == 0 || strncmp(o->url, "mqtts://", 8) == 0;
	if (!tls && strncmp(o->url, "tcp://", 6) != 0 &&
	    strncmp(o->url, "mqtt://", 7) != 0)
		FAIL("bus: url %s: want tcp:// or ssl://", o->url);
	if (!tls && (o->ca_file != NULL || o->cert_file != NULL || o->key_file != NULL))
		FAIL("bus: TLS files given but url %s is not ssl://", o->url);
	if ((o->cert_file == NULL) != (o->key_file == NULL))
		FAIL("bus: a TLS client certificate needs both cert and key");
	if (!client_id_valid(o->client_id))
		FAIL("bus: client id must be 1..%d of [A-Za-z0-9._:-]",
		    GK_BUS_CLIENT_ID_LEN - 1);
	if (o->status_topic != NULL && !gk_bus_topic_valid(o->status_topic))
		FAIL("bus: status topic %s is not a valid topic", o->status_topic);
	if (!version_valid(o->version != NULL ? o->version : "unknown"))
		FAIL("bus: version must be 1..64 of [A-Za-z0-9.+_~-]");
	if (o->keepalive_s < 0 || o->connect_timeout_s < 0 || o->retry_min_ms < 0 ||
	    o->retry_max_ms < 0 || o->max_buffered < 0)
		FAIL("bus: negative interval or buffer size");
	if (o->max_payload > (size_t)INT_MAX)
		FAIL("bus: max payload over %d", INT_MAX);

	if ((b = calloc(1, sizeof(*b))) == NULL)
		FAIL("bus: out of memory");
	/* sync_wait() counts its deadline on CLOCK_MONOTONIC: the cv must too. */
	if (pthread_condattr_init(&ca) != 0) {
		free(b);
		b = NULL;
		FAIL("bus: pthread_condattr_init failed");
	}
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0 && (rc = pthread_cond_init(&b->cv, &ca)) == 0 &&
	    (rc = pthread_mutex_init(&b->mu, NULL)) != 0)
		pthread_cond_destroy(&b->cv);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		free(b);
		b = NULL;
		FAIL("bus: mutex or condition variable: %s", strerror(rc));
	}
	b->loop = l;
	b->tls = tls;
	gk_strlcpy(b->client_id, o->client_id, sizeof(b->client_id));
	if (dup_opt(&b->url, o->url) == -1 ||
	    dup_opt(&b->username, o->username) == -1 ||
	    dup_opt(&b->password, o->password) == -1 ||
	    dup_opt(&b->ca_file, o->ca_file) == -1 ||
	    dup_opt(&b->cert_file, o->cert_file) == -1 ||
	    dup_opt(&b->key_file, o->key_file) == -1 ||
	    dup_opt(&b->persist_dir, o->persist_dir) == -1 ||
	    dup_opt(&b->status_topic, o->status_topic) == -1)
		FAIL("bus: out of memory");
	b->created_mono = gk_mono_ms();
	gk_strlcpy(b->version, o->version != NULL ? o->version : "unknown",
	    sizeof(b->version));
	if (b->status_topic != NULL) {
		if (status_ids(o->status_topic, b->status_service,
		    sizeof(b->status_service), b->status_instance,
		    sizeof(b->status_instance)) == -1)
			FAIL("bus: status topic %s: want .../status/{service}/{instance}, "
			    "each 1..32 of [a-z0-9_-]", o->status_topic);
		if (dup_opt(&b->status_online, o->status_online) == -1)
			FAIL("bus: out of memory");
	}
	b->clean_start = o->clean_start != 0;
	b->session_expiry_s = o->session_expiry_s != 0 ? o->session_expiry_s :
	    DEF_SESSION_EXPIRY;
	b->keepalive_s = o->keepalive_s != 0 ? o->keepalive_s : DEF_KEEPALIVE;
	b->connect_timeout_s = o->connect_timeout_s != 0 ? o->connect_timeout_s :
	    DEF_CONNECT_TIMEOUT;
	b->retry_min_ms = o->retry_min_ms != 0 ? o->retry_min_ms : DEF_RETRY_MIN;
	b->retry_max_ms = o->retry_max_ms != 0 ? o->retry_max_ms : DEF_RETRY_MAX;
	if (b->retry_max_ms < b->retry_min_ms)
		b->retry_max_ms = b->retry_min_ms;
	b->max_payload = o->max_payload != 0 ? o->max_payload : GK_BUS_MAX_PAYLOAD;
	b->on_message = o->on_message;
	b->on_receive = o->on_receive;
	b->on_state = o->on_state;
	b->on_published = o->on_published;
	b->on_subscribed = o->on_subscribed;
	b->arg = o->arg;
	b->rnd = (uint32_t)gk_wall_ms() ^ ((uint32_t)getpid() << 16) ^
	    (uint32_t)(uintptr_t)b;
	if (b->rnd == 0)
		b->rnd = 0x9e3779b9u;
	b->state = ST_DOWN;

	if (b->persist_dir != NULL && mkdirs(b->persist_dir) == -1)
		FAIL("bus: persistence directory %s: %s", b->persist_dir,
		    strerror(errno));

	pthread_once(&trace_once, trace_init);
	cro.sendWhileDisconnected = 1;
	cro.allowDisconnectedSendAtAnyTime = 1;	/* publish before the first connect */
	cro.maxBufferedMessages = o->max_buffered != 0 ? o->max_buffered :
	    DEF_MAX_BUFFERED;
	cro.deleteOldestMessages = 0;	/* full buffer: refuse the new one, say so */
	cro.restoreMessages = 1;	/* what a previous run left unsent */
	rc = MQTTAsync_createWithOptions(&b->cli, b->url, b->client_id,
	    b->persist_dir != NULL ? MQTTCLIENT_PERSISTENCE_DEFAULT :
	    MQTTCLIENT_PERSISTENCE_NONE, b->persist_dir, &cro);
	if (rc != MQTTASYNC_SUCCESS) {
		b->cli = NULL;
		FAIL("bus: MQTTAsync_create %s: %s", b->url, MQTTAsync_strerror(rc));
	}
	if ((rc = MQTTAsync_setCallbacks(b->cli, b, cb_lost, cb_message, NULL)) !=
	    MQTTASYNC_SUCCESS ||
	    (rc = MQTTAsync_setDisconnected(b->cli, b, cb_disconnected)) !=
	    MQTTASYNC_SUCCESS)
		FAIL("bus: MQTTAsync_setCallbacks: %s", MQTTAsync_strerror(rc));
	return b;
fail:
#undef FAIL
	if (b != NULL) {
		if (b->cli != NULL)
			MQTTAsync_destroy(&b->cli);
		free_fields(b);
		free(b);
	}
	if (err != NULL && errlen > 0)
		gk_strlcpy(err, why, errlen);
	gk_log(GK_LOG_ERR, "bus.init_failed", "reason=%s", why);
	return NULL;
}

int
gk_bus_start(struct gk_bus *b)
{
	if (b == NULL || b->started || b->closing)
		return -1;
	b->started = 1;
	gk_log(GK_LOG_INFO, "bus.start", "client=%s url=%s clean_start=%d",
	    b->client_id, b->url, b->clean_start);
	bus_connect(b);
	return 0;
}

int
gk_bus_connected(const struct gk_bus *b)
{
	return b != NULL && b->state == ST_UP;
}

int
gk_bus_subscribe(struct gk_bus *b, const char *filter, int qos)
{
	struct sub *s, **tail;

	if (b != NULL && b->closing) {
		errno = ESHUTDOWN;
		return -1;
	}
	if (b == NULL || !gk_bus_filter_valid(filter) || qos < 0 || qos > 2) {
		errno = EINVAL;
		return -1;
	}
	for (tail = &b->subs; (s = *tail) != NULL; tail = &s->next)
		if (strcmp(s->filter, filter) == 0)
			break;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL ||
		    (s->filter = strdup(filter)) == NULL) {
			free(s);
			errno = ENOMEM;
			return -1;
		}
		*tail = s;
	}
	s->qos = qos;
	s->made = 0;
	if (b->state == ST_UP)
		send_subscribe(b, s);
	return 0;
}

int
gk_bus_publish(struct gk_bus *b, const struct gk_bus_msg *m, void *opaque)
{
	MQTTAsync_message pm = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTProperties props = MQTTProperties_initializer;
	struct pend *p = NULL;
	size_t i;
	int rc, e = EINVAL;

	if (b == NULL || m == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (b->closing) {
		e = ESHUTDOWN;
		goto reject;
	}
	if (!gk_bus_topic_valid(m->topic) || m->qos < 0 || m->qos > 2 ||
	    (m->len > 0 && m->payload == NULL) ||
	    (m->correlation_len > 0 && m->correlation == NULL) ||
	    (m->nprops > 0 && m->props == NULL))
		goto reject;
	if (m->len > b->max_payload) {
		e = EMSGSIZE;
		goto reject;
	}
	if (m->expiry_s != 0 && prop_add_int(&props,
	    MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL, m->expiry_s) == -1)
		goto reject;
	if (m->response_topic != NULL && (!gk_bus_topic_valid(m->response_topic) ||
	    prop_add(&props, MQTTPROPERTY_CODE_RESPONSE_TOPIC, m->response_topic,
	    strlen(m->response_topic), NULL) == -1))
		goto reject;
	if (m->correlation != NULL && prop_add(&props,
	    MQTTPROPERTY_CODE_CORRELATION_DATA, m->correlation, m->correlation_len,
	    NULL) == -1)
		goto reject;
	if (m->content_type != NULL && prop_add(&props,
	    MQTTPROPERTY_CODE_CONTENT_TYPE, m->content_type, strlen(m->content_type),
	    NULL) == -1)
		goto reject;
	for (i = 0; i < m->nprops; i++)
		if (m->props[i].key == NULL || m->props[i].value == NULL ||
		    prop_add(&props, MQTTPROPERTY_CODE_USER_PROPERTY,
		    m->props[i].key, strlen(m->props[i].key), m->props[i].value) == -1)
			goto reject;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		e = ENOMEM;
		goto reject;
	}
	pm.payload = (void *)(uintptr_t)m->payload;
	pm.payloadlen = (int)m->len;
	pm.qos = m->qos;
	pm.retained = m->retain != 0;
	pm.properties = props;
	p->b = b;
	p->opaque = opaque;
	ro.onSuccess5 = cb_pub_ok;
	ro.onFailure5 = cb_pub_fail;
	ro.context = p;
	/* Paho copies topic, payload and properties before it returns. */
	rc = MQTTAsync_sendMessage(b->cli, m->topic, &pm, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		e = rc == MQTTASYNC_MAX_BUFFERED_MESSAGES ? ENOBUFS : EIO;
		gk_log(GK_LOG_WARN, "bus.publish_rejected",
		    "client=%s topic=%s reason=%s", b->client_id, m->topic,
		    MQTTAsync_strerror(rc));
		goto reject;
	}
	MQTTProperties_free(&props);
	/* The completion cannot overtake us: it is run by this thread's loop. */
	if (b->pend_tail != NULL)
		b->pend_tail->next = p;
	else
		b->pend_head = p;
	b->pend_tail = p;
	return 0;
reject:
	MQTTProperties_free(&props);
	free(p);
	if (e == EINVAL || e == EMSGSIZE)
		gk_log(GK_LOG_WARN, "bus.publish_rejected",
		    "client=%s topic=%s len=%zu reason=%s", b->client_id,
		    m->topic, m->len, e == EMSGSIZE ? "payload too large" :
		    "invalid message");
	errno = e;
	return -1;
}

void
gk_bus_free(struct gk_bus *b)
{
	MQTTAsync_disconnectOptions dopts = MQTTAsync_disconnectOptions_initializer5;
	struct pend *p;
	char buf[256];
	int rc, connected;

	if (b == NULL || b->closing)
		return;
	b->closing = 1;
	atomic_store(&b->quiet, 1);	/* Paho callbacks post nothing from now */
	if (b->retry_timer != 0) {
		gk_loop_timer_cancel(b->loop, b->retry_timer);
		b->retry_timer = 0;
	}
	connected = b->cli != NULL && MQTTAsync_isConnected(b->cli);
	if (connected && b->status_topic != NULL &&
	    status_json(b, "offline", "shutdown", buf, sizeof(buf)) == 0) {
		if ((rc = send_status(b, buf, cb_shut_pub_ok, cb_shut_pub_fail)) !=
		    MQTTASYNC_SUCCESS || sync_wait(b, &b->pub_done,
		    SHUTDOWN_PUB_MS) == -1 || !b->pub_ok)
			gk_log(GK_LOG_WARN, "bus.status_failed",
			    "client=%s reason=%s", b->client_id,
			    rc != MQTTASYNC_SUCCESS ? MQTTAsync_strerror(rc) :
			    "offline status not acknowledged");
	}
	if (connected) {
		dopts.timeout = SHUTDOWN_DISC_MS;
		dopts.onSuccess5 = cb_shut_disc_ok;
		dopts.onFailure5 = cb_shut_disc_fail;
		dopts.context = b;
		if (MQTTAsync_disconnect(b->cli, &dopts) == MQTTASYNC_SUCCESS)
			(void)sync_wait(b, &b->disc_done, SHUTDOWN_DISC_MS + 2000);
	}
	/* After destroy returns no Paho callback for this client runs or will run:
	 * Paho calls them holding the lock destroy takes. */
	if (b->cli != NULL)
		MQTTAsync_destroy(&b->cli);
	gk_log(GK_LOG_INFO, "bus.closed", "client=%s was_connected=%d", b->client_id,
	    connected);
	b->state = ST_DOWN;
	while ((p = b->pend_head) != NULL) {
		b->pend_head = p->next;
		if (b->on_published != NULL)
			b->on_published(b->arg, p->opaque, 0, "bus closed");
		free(p);
	}
	b->pend_tail = NULL;
	free_fields(b);
	b->dead = 1;
	if (atomic_load(&b->posted) == 0)
		free(b);
}
