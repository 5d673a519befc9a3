/*
 * The Kafka adapter (see gatekit/stream.h). librdkafka runs its own threads and parks
 * everything meant for the application (delivery reports, errors, rebalances, consumed
 * records) on a queue. We ask librdkafka to write to an eventfd when that queue turns
 * non-empty (rd_kafka_queue_io_event_enable), watch the eventfd in the daemon's loop,
 * and serve the queue there with a zero timeout: every callback of this file except
 * log_cb therefore runs on the loop thread. log_cb runs on librdkafka's threads and
 * only calls gk_log(), which is thread-safe.
 *
 * librdkafka memory never leaves this file: delivery reports and records are described
 * to the caller through borrowed pointers during the callback and freed right after.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/stream.h"
#include "gatekit/util.h"

#define DEFAULT_MSG_TIMEOUT_MS	300000
#define DEFAULT_CLOSE_MS	10000
#define SERVE_BATCH		512	/* records per wake-up, so other fds get a turn */
#define STACK_HDRS		16
#define REBALANCE_COMMIT_MS	5000
#define DESTROY_MIN_MS		2000

struct gk_stream {
	struct gk_loop		*loop;
	rd_kafka_t		*rk;
	rd_kafka_queue_t	*q;	/* served on wake-up: main or consumer queue */
	int			 efd;
	int			 consumer;
	int			 closed;
	int			 fatal;
	int64_t			 close_deadline;	/* gk_mono_ms(); 0: not closing */
	gk_stream_delivery_cb	*on_delivery;
	gk_stream_message_cb	*on_message;
	int64_t			(*start_offset)(void *, const char *, int);
	gk_stream_error_cb	*on_error;
	void			*arg;
};

/* Properties that carry the delivery guarantees callers rely on. */
static const char *const fixed_keys[] = {
	"enable.idempotence", "acks", "request.required.acks",
	"enable.auto.commit", "enable.auto.offset.store",
};

/* librdkafka's syslog levels mapped onto ours. Runs on librdkafka threads. */
static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	enum gk_log_level lvl;

	if (level <= 3)
		lvl = GK_LOG_ERR;
	else if (level == 4)
		lvl = GK_LOG_WARN;
	else if (level <= 6)
		lvl = GK_LOG_INFO;
	else
		lvl = GK_LOG_DEBUG;
	if (!gk_log_enabled(lvl))
		return;
	gk_log(lvl, "stream.rdkafka", "client=%s fac=%s msg=%s", rd_kafka_name(rk),
	    fac, buf);
}

/*
 * Marks the handle unusable and tells the caller, once: librdkafka may report the
 * same fatal error both to error_cb and as a consumer error.
 */
static void
raise_fatal(struct gk_stream *s, const char *err, const char *reason)
{
	if (s->fatal)
		return;
	s->fatal = 1;
	gk_log(GK_LOG_ERR, "stream.fatal", "client=%s err=%s reason=%s",
	    rd_kafka_name(s->rk), err, reason);
	if (s->on_error != NULL)
		s->on_error(s->arg, 1, reason);
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct gk_stream	*s = opaque;
	char			 buf[512];
	rd_kafka_resp_err_t	 ferr;

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		ferr = rd_kafka_fatal_error(rk, buf, sizeof(buf));
		raise_fatal(s, rd_kafka_err2name(ferr), buf);
		return;
	}
	gk_log(GK_LOG_WARN, "stream.error", "client=%s err=%s reason=%s",
	    rd_kafka_name(rk), rd_kafka_err2name(err), reason);
	if (s->on_error != NULL)
		s->on_error(s->arg, 0, reason);
}

static void
dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct gk_stream		*s = opaque;
	struct gk_stream_delivery	 d;

	(void)rk;
	memset(&d, 0, sizeof(d));
	d.topic = rd_kafka_topic_name(m->rkt);
	d.partition = m->partition;
	d.offset = m->err == 0 ? m->offset : -1;
	d.err = m->err;
	d.errstr = rd_kafka_err2str(m->err);
	switch (rd_kafka_message_status(m)) {
	case RD_KAFKA_MSG_STATUS_PERSISTED:
		d.persisted = GK_STREAM_PERSISTED;
		break;
	case RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED:
		d.persisted = GK_STREAM_POSSIBLY_PERSISTED;
		break;
	default:
		d.persisted = GK_STREAM_NOT_PERSISTED;
		break;
	}
	d.msg_opaque = m->_private;
	if (m->err != 0)
		gk_log(GK_LOG_WARN, "stream.delivery_failed",
		    "topic=%s partition=%d err=%s reason=%s", d.topic, d.partition,
		    rd_kafka_err2name(m->err), d.errstr);
	if (s->on_delivery != NULL)
		s->on_delivery(s->arg, &d);
}

/*
 * Commits the stored offsets of the current assignment, waiting at most timeout_ms
 * for the broker. A temporary queue keeps the wait bounded, where rd_kafka_commit()
 * would wait for the coordinator however long it takes. Returns 0 or -1.
 */
static int
commit_bounded(struct gk_stream *s, int timeout_ms)
{
	rd_kafka_queue_t	*q;
	rd_kafka_event_t	*ev;
	rd_kafka_resp_err_t	 err;
	int64_t			 deadline = gk_mono_ms() + timeout_ms;
	int			 left;

	if ((q = rd_kafka_queue_new(s->rk)) == NULL)
		return -1;
	err = rd_kafka_commit_queue(s->rk, NULL, q, NULL, NULL);
	while (err == 0) {
		left = (int)(deadline - gk_mono_ms());
		if (left <= 0) {
			err = RD_KAFKA_RESP_ERR__TIMED_OUT;
			break;
		}
		if ((ev = rd_kafka_queue_poll(q, left)) == NULL)
			continue;
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
			err = rd_kafka_event_error(ev);
			rd_kafka_event_destroy(ev);
			if (err == 0)
				gk_log(GK_LOG_DEBUG, "stream.committed", "client=%s",
				    rd_kafka_name(s->rk));
			else
				break;
			rd_kafka_queue_destroy(q);
			return 0;
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
		return 0;
	gk_log(GK_LOG_WARN, "stream.commit_failed", "client=%s err=%s",
	    rd_kafka_name(s->rk), rd_kafka_err2name(err));
	return -1;
}

static void
log_partitions(rd_kafka_t *rk, const char *event,
    const rd_kafka_topic_partition_list_t *parts)
{
	char	buf[1024];
	size_t	off = 0;
	int	i, n;

	buf[0] = '\0';
	for (i = 0; i < parts->cnt; i++) {
		n = snprintf(buf + off, sizeof(buf) - off, "%s%s[%d]", i ? "," : "",
		    parts->elems[i].topic, (int)parts->elems[i].partition);
		if (n < 0 || (size_t)n >= sizeof(buf) - off) {
			/* A long list is cut but says so, and the count stays exact. */
			memcpy(buf + sizeof(buf) - 4, "...", 4);
			break;
		}
		off += (size_t)n;
	}
	gk_log(GK_LOG_INFO, event, "client=%s protocol=%s n=%d partitions=%s",
	    rd_kafka_name(rk), rd_kafka_rebalance_protocol(rk), parts->cnt, buf);
}

/* The caller's own starting offsets, when it keeps them (start_offset). */
static void
start_offsets(struct gk_stream *s, rd_kafka_topic_partition_list_t *parts)
{
	int	i;
	int64_t	off;

	if (s->start_offset == NULL)
		return;
	for (i = 0; i < parts->cnt; i++) {
		off = s->start_offset(s->arg, parts->elems[i].topic,
		    (int)parts->elems[i].partition);
		if (off < 0)
			continue;
		parts->elems[i].offset = off;
		gk_log(GK_LOG_INFO, "stream.start_offset", "client=%s topic=%s "
		    "partition=%d offset=%lld", rd_kafka_name(s->rk),
		    parts->elems[i].topic, (int)parts->elems[i].partition,
		    (long long)off);
	}
}

/*
 * Both protocols are handled so that a "partition.assignment.strategy" override keeps
 * working, but the default is cooperative-sticky: a rebalance then only moves the
 * partitions that change owner instead of stopping the whole group.
 */
static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct gk_stream	*s = opaque;
	rd_kafka_error_t	*e = NULL;
	rd_kafka_resp_err_t	 rerr = 0;
	int64_t			 ms = REBALANCE_COMMIT_MS;
	int			 coop;

	coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		log_partitions(rk, "stream.assign", parts);
		start_offsets(s, parts);
		if (coop)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			rerr = rd_kafka_assign(rk, parts);
	} else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
		log_partitions(rk, "stream.revoke", parts);
		/*
		 * Hand over what we finished, unless the partitions are already gone,
		 * within what is left of a close's time.
		 */
		if (s->close_deadline != 0 && s->close_deadline - gk_mono_ms() < ms)
			ms = s->close_deadline - gk_mono_ms();
		if (!rd_kafka_assignment_lost(rk)) {
			if (ms > 0)
				(void)commit_bounded(s, (int)ms);
		} else {
			gk_log(GK_LOG_WARN, "stream.assignment_lost", "client=%s",
			    rd_kafka_name(rk));
		}
		if (coop)
			e = rd_kafka_incremental_unassign(rk, parts);
		else
			rerr = rd_kafka_assign(rk, NULL);
	} else {
		gk_log(GK_LOG_ERR, "stream.rebalance_error", "client=%s err=%s",
		    rd_kafka_name(rk), rd_kafka_err2name(err));
		rerr = rd_kafka_assign(rk, NULL);
	}
	if (e != NULL) {
		gk_log(GK_LOG_ERR, "stream.assign_failed", "client=%s reason=%s",
		    rd_kafka_name(rk), rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	} else if (rerr != 0)
		gk_log(GK_LOG_ERR, "stream.assign_failed", "client=%s reason=%s",
		    rd_kafka_name(rk), rd_kafka_err2str(rerr));
}

/* The outcome of an asynchronous gk_stream_commit(). */
static void
offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	(void)offsets;
	(void)opaque;
	if (err == 0 || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
		gk_log(GK_LOG_DEBUG, "stream.committed", "client=%s",
		    rd_kafka_name(rk));
	else
		gk_log(GK_LOG_WARN, "stream.commit_failed", "client=%s err=%s",
		    rd_kafka_name(rk), rd_kafka_err2name(err));
}

/* Describes one record to the caller, then frees it. */
static void
consume_one(struct gk_stream *s, rd_kafka_message_t *m)
{
	struct gk_stream_message	 msg;
	struct gk_stream_header		 stack[STACK_HDRS], *hdrs = stack;
	rd_kafka_headers_t		*h = NULL;
	rd_kafka_timestamp_type_t	 tstype;
	const void			*val;
	size_t				 i, n = 0, len;
	const char			*name;
	char				 fbuf[512];
	rd_kafka_resp_err_t		 ferr;

	if (s->fatal) {
		/*
		 * A record was skipped (or the consumer is fenced): handing over later
		 * ones would let their stored offsets commit past it. The daemon exits
		 * and resumes from the last commit.
		 */
		goto done;
	}
	if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
		ferr = rd_kafka_fatal_error(s->rk, fbuf, sizeof(fbuf));
		raise_fatal(s, rd_kafka_err2name(ferr), ferr != 0 ? fbuf :
		    rd_kafka_message_errstr(m));
		goto done;
	}
	if (m->err != 0) {
		if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			gk_log(GK_LOG_WARN, "stream.consume_error",
			    "topic=%s partition=%d err=%s reason=%s",
			    m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : NULL,
			    (int)m->partition, rd_kafka_err2name(m->err),
			    rd_kafka_message_errstr(m));
			if (s->on_error != NULL)
				s->on_error(s->arg, 0, rd_kafka_message_errstr(m));
		}
		goto done;
	}
	if (rd_kafka_message_headers(m, &h) == 0)
		n = rd_kafka_header_cnt(h);
	if (n > STACK_HDRS && (hdrs = calloc(n, sizeof(*hdrs))) == NULL) {
		/*
		 * Skipping the record would let a later commit pass over it: stop the
		 * daemon instead, it resumes from the last commit.
		 */
		raise_fatal(s, "ENOMEM", "out of memory for record headers");
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (rd_kafka_header_get_all(h, i, &name, &val, &len) != 0)
			break;
		hdrs[i].name = name;
		hdrs[i].value = val;
		hdrs[i].len = val != NULL ? len : 0;
	}
	memset(&msg, 0, sizeof(msg));
	msg.topic = rd_kafka_topic_name(m->rkt);
	msg.partition = m->partition;
	msg.offset = m->offset;
	msg.key = m->key;
	msg.keylen = m->key != NULL ? m->key_len : 0;
	msg.value = m->payload;
	msg.vallen = m->payload != NULL ? m->len : 0;
	msg.hdrs = n > 0 ? hdrs : NULL;
	msg.nhdrs = i;
	msg.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
	if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
		msg.timestamp_ms = -1;
	s->on_message(s->arg, &msg);
	if (hdrs != stack)
		free(hdrs);
done:
	rd_kafka_message_destroy(m);
}

static void
kick(struct gk_stream *s)
{
	uint64_t	one = 1;
	ssize_t		r;

	/* Cannot fail short of a bug: an eventfd counter does not fill up. */
	r = write(s->efd, &one, sizeof(one));
	(void)r;
}

/*
 * The loop's handler for the eventfd. The descriptor is drained before the queue is
 * served: librdkafka writes only when the queue goes from empty to non-empty, so an
 * item that arrives after our last look writes again and nothing is missed. A full
 * batch ends early and kicks the descriptor itself so the loop comes back.
 */
static void
on_wake(struct gk_loop *l, int fd, short revents, void *arg)
{
	struct gk_stream	*s = arg;
	rd_kafka_message_t	*m;
	uint64_t		 v;
	int			 n;

	(void)l;
	(void)revents;
	while (read(fd, &v, sizeof(v)) > 0)
		continue;
	if (s->closed)
		return;
	if (!s->consumer) {
		for (n = 0; n < SERVE_BATCH; n++)
			if (rd_kafka_poll(s->rk, 0) == 0)
				return;
		kick(s);
		return;
	}
	for (n = 0; n < SERVE_BATCH; n++) {
		if ((m = rd_kafka_consumer_poll(s->rk, 0)) == NULL)
			return;
		consume_one(s, m);
		if (s->closed)
			return;
	}
	kick(s);
}

static int
is_fixed(const char *key)
{
	size_t i;

	for (i = 0; i < GK_NELEM(fixed_keys); i++)
		if (strcmp(key, fixed_keys[i]) == 0)
			return 1;
	return 0;
}

static int
conf_set(rd_kafka_conf_t *conf, const char *key, const char *val, char *err,
    size_t errlen)
{
	char rerr[256];

	if (rd_kafka_conf_set(conf, key, val, rerr, sizeof(rerr)) != RD_KAFKA_CONF_OK) {
		gk_errf(err, errlen, "stream: config %s: %s", key, rerr);
		return -1;
	}
	return 0;
}

/* Applies the caller's "key=value" strings. */
static int
conf_user(rd_kafka_conf_t *conf, const char *const *kv, char *err, size_t errlen)
{
	char		 key[256];
	const char	*eq;

	for (; kv != NULL && *kv != NULL; kv++) {
		if ((eq = strchr(*kv, '=')) == NULL || eq == *kv) {
			gk_errf(err, errlen, "stream: config \"%s\": not key=value", *kv);
			return -1;
		}
		if ((size_t)(eq - *kv) >= sizeof(key)) {
			gk_errf(err, errlen, "stream: config \"%s\": key too long", *kv);
			return -1;
		}
		memcpy(key, *kv, (size_t)(eq - *kv));
		key[eq - *kv] = '\0';
		if (is_fixed(key)) {
			gk_errf(err, errlen,
			    "stream: config %s: fixed by gatekit, cannot be overridden", key);
			return -1;
		}
		if (conf_set(conf, key, eq + 1, err, errlen) == -1)
			return -1;
	}
	return 0;
}

static struct gk_stream *
stream_new(struct gk_loop *loop, const struct gk_stream_opts *o, int consumer,
    char *err, size_t errlen)
{
	struct gk_stream		*s = NULL;
	rd_kafka_conf_t			*conf = NULL;
	rd_kafka_topic_partition_list_t	*topics = NULL;
	rd_kafka_resp_err_t		 rerr;
	char				 num[32], rerrstr[512];
	const char *const		*t;
	uint64_t			 one = 1;
	int				 fdadded = 0;

	if (loop == NULL || o == NULL || o->brokers == NULL || *o->brokers == '\0') {
		gk_errf(err, errlen, "stream: brokers are required");
		return NULL;
	}
	if (consumer && (o->group_id == NULL || *o->group_id == '\0' ||
	    o->topics == NULL || o->topics[0] == NULL || o->on_message == NULL)) {
		gk_errf(err, errlen,
		    "stream: a consumer needs group_id, topics and on_message");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		gk_errf(err, errlen, "stream: out of memory");
		return NULL;
	}
	s->loop = loop;
	s->efd = -1;
	s->consumer = consumer;
	s->on_delivery = o->on_delivery;
	s->on_message = o->on_message;
	s->start_offset = o->start_offset;
	s->on_error = o->on_error;
	s->arg = o->arg;

	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_opaque(conf, s);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	if (conf_set(conf, "bootstrap.servers", o->brokers, err, errlen) == -1 ||
	    conf_set(conf, "client.id", o->client_id != NULL ? o->client_id :
	    "ecogate", err, errlen) == -1)
		goto fail;
	if (!consumer) {
		snprintf(num, sizeof(num), "%d", o->message_timeout_ms > 0 ?
		    o->message_timeout_ms : DEFAULT_MSG_TIMEOUT_MS);
		rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
		if (conf_set(conf, "message.timeout.ms", num, err, errlen) == -1 ||
		    conf_set(conf, "linger.ms", "5", err, errlen) == -1 ||
		    conf_set(conf, "partitioner", "murmur2_random", err,
		    errlen) == -1 ||
		    conf_set(conf, "max.in.flight.requests.per.connection", "5",
		    err, errlen) == -1)
			goto fail;
	} else {
		rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
		rd_kafka_conf_set_offset_commit_cb(conf, offset_commit_cb);
		if (conf_set(conf, "group.id", o->group_id, err, errlen) == -1 ||
		    conf_set(conf, "auto.offset.reset", "earliest", err,
		    errlen) == -1 ||
		    conf_set(conf, "partition.assignment.strategy",
		    "cooperative-sticky", err, errlen) == -1)
			goto fail;
	}
	if (conf_user(conf, o->config, err, errlen) == -1)
		goto fail;
	/* Last, so nothing above can weaken them. */
	if (!consumer) {
		if (conf_set(conf, "enable.idempotence", "true", err, errlen) == -1 ||
		    conf_set(conf, "acks", "all", err, errlen) == -1)
			goto fail;
	} else {
		if (conf_set(conf, "enable.auto.commit", "false", err,
		    errlen) == -1 ||
		    conf_set(conf, "enable.auto.offset.store", "false", err,
		    errlen) == -1)
			goto fail;
	}

	s->rk = rd_kafka_new(consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, conf,
	    rerrstr, sizeof(rerrstr));
	if (s->rk == NULL) {
		gk_errf(err, errlen, "stream: %s", rerrstr);
		goto fail;
	}
	conf = NULL;	/* owned by s->rk now */

	if (consumer) {
		/* Errors and logs then arrive on the consumer queue too: one queue. */
		rd_kafka_poll_set_consumer(s->rk);
		s->q = rd_kafka_queue_get_consumer(s->rk);
	} else
		s->q = rd_kafka_queue_get_main(s->rk);
	if (s->q == NULL) {
		gk_errf(err, errlen, "stream: no queue");
		goto fail;
	}
	if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		gk_errf(err, errlen, "stream: eventfd: %s", strerror(errno));
		goto fail;
	}
	rd_kafka_queue_io_event_enable(s->q, s->efd, &one, sizeof(one));
	if (gk_loop_fd_add(loop, s->efd, POLLIN, on_wake, s) == -1) {
		gk_errf(err, errlen, "stream: cannot watch the eventfd");
		goto fail;
	}
	fdadded = 1;

	if (consumer) {
		for (t = o->topics; *t != NULL; t++)
			continue;
		topics = rd_kafka_topic_partition_list_new((int)(t - o->topics));
		for (t = o->topics; *t != NULL; t++)
			rd_kafka_topic_partition_list_add(topics, *t,
			    RD_KAFKA_PARTITION_UA);
		if ((rerr = rd_kafka_subscribe(s->rk, topics)) != 0) {
			gk_errf(err, errlen, "stream: subscribe: %s",
			    rd_kafka_err2str(rerr));
			goto fail;
		}
		rd_kafka_topic_partition_list_destroy(topics);
		topics = NULL;
	}
	/* Serve whatever was queued before the descriptor was in place. */
	kick(s);
	gk_log(GK_LOG_INFO, "stream.new", "client=%s type=%s brokers=%s group=%s",
	    rd_kafka_name(s->rk), consumer ? "consumer" : "producer", o->brokers,
	    consumer ? o->group_id : NULL);
	return s;

fail:
	if (topics != NULL)
		rd_kafka_topic_partition_list_destroy(topics);
	if (fdadded)
		gk_loop_fd_del(loop, s->efd);
	if (s->q != NULL) {
		rd_kafka_queue_io_event_enable(s->q, -1, NULL, 0);
		rd_kafka_queue_destroy(s->q);
	}
	if (s->rk != NULL)
		rd_kafka_destroy_flags(s->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	if (s->efd != -1)
		close(s->efd);
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	free(s);
	return NULL;
}

struct gk_stream *
gk_stream_producer_new(struct gk_loop *loop, const struct gk_stream_opts *opts,
    char *err, size_t errlen)
{
	return stream_new(loop, opts, 0, err, errlen);
}

struct gk_stream *
gk_stream_consumer_new(struct gk_loop *loop, const struct gk_stream_opts *opts,
    char *err, size_t errlen)
{
	return stream_new(loop, opts, 1, err, errlen);
}

int
gk_stream_produce(struct gk_stream *s, const char *topic, const void *key,
    size_t keylen, const void *val, size_t vallen,
    const struct gk_stream_header *hdrs, size_t nhdrs, void *msg_opaque)
{
	rd_kafka_headers_t	*h = NULL;
	rd_kafka_resp_err_t	 err;
	size_t			 i;

	if (s == NULL || s->consumer || s->closed || topic == NULL) {
		gk_log(GK_LOG_ERR, "stream.produce_failed", "topic=%s reason=%s",
		    topic, "not an open producer");
		errno = EINVAL;
		return -1;
	}
	if (key == NULL)
		keylen = 0;
	if (val == NULL)
		vallen = 0;
	if (nhdrs > 0) {
		h = rd_kafka_headers_new(nhdrs);
		for (i = 0; i < nhdrs; i++) {
			err = rd_kafka_header_add(h, hdrs[i].name, -1, hdrs[i].value,
			    hdrs[i].value != NULL ? (ssize_t)hdrs[i].len : 0);
			if (err != 0)
				goto fail;
		}
	}
	/* The const casts are librdkafka's API: with MSG_F_COPY it only reads. */
	err = rd_kafka_producev(s->rk,
	    RD_KAFKA_V_TOPIC(topic),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_KEY((void *)(uintptr_t)key, keylen),
	    RD_KAFKA_V_VALUE((void *)(uintptr_t)val, vallen),
	    RD_KAFKA_V_HEADERS(h),
	    RD_KAFKA_V_OPAQUE(msg_opaque),
	    RD_KAFKA_V_END);
	if (err != 0)
		goto fail;
	return 0;	/* h is owned by the message now */

fail:
	if (h != NULL)
		rd_kafka_headers_destroy(h);
	gk_log(GK_LOG_WARN, "stream.produce_failed", "topic=%s err=%s reason=%s",
	    topic, rd_kafka_err2name(err), rd_kafka_err2str(err));
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		errno = ENOBUFS;
	else if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
		errno = EMSGSIZE;
	else
		errno = EINVAL;
	return -1;
}

int
gk_stream_flush(struct gk_stream *s, int timeout_ms)
{
	if (s == NULL || s->closed || s->consumer)
		return -1;
	return rd_kafka_flush(s->rk, timeout_ms) == 0 ? 0 : -1;
}

int
gk_stream_pending(struct gk_stream *s)
{
	if (s == NULL || s->closed)
		return 0;
	return rd_kafka_outq_len(s->rk);
}

int
gk_stream_store(struct gk_stream *s, const char *topic, int partition,
    int64_t offset)
{
	rd_kafka_topic_partition_list_t	*l;
	rd_kafka_resp_err_t		 err;

	if (s == NULL || !s->consumer || s->closed || topic == NULL || offset < 0 ||
	    partition < 0) {
		gk_log(GK_LOG_ERR, "stream.store_failed", "topic=%s reason=%s", topic,
		    "bad arguments or not an open consumer");
		return -1;
	}
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset + 1;
	err = rd_kafka_offsets_store(s->rk, l);
	if (err == 0)
		err = l->elems[0].err;
	rd_kafka_topic_partition_list_destroy(l);
	if (err != 0) {
		gk_log(GK_LOG_WARN, "stream.store_failed",
		    "topic=%s partition=%d offset=%lld err=%s", topic, partition,
		    (long long)offset, rd_kafka_err2name(err));
		return -1;
	}
	return 0;
}

int
gk_stream_commit(struct gk_stream *s, int sync)
{
	rd_kafka_resp_err_t err;

	if (s == NULL || !s->consumer || s->closed)
		return -1;
	if (sync)
		return commit_bounded(s, DEFAULT_CLOSE_MS);
	err = rd_kafka_commit(s->rk, NULL, 1);
	if (err != 0 && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
		gk_log(GK_LOG_WARN, "stream.commit_failed", "client=%s err=%s",
		    rd_kafka_name(s->rk), rd_kafka_err2name(err));
		return -1;
	}
	return 0;
}

int
gk_stream_pause(struct gk_stream *s, int pause)
{
	rd_kafka_topic_partition_list_t	*parts = NULL;
	rd_kafka_resp_err_t		 err;
	int				 n;

	if (s == NULL || !s->consumer || s->closed)
		return -1;
	if ((err = rd_kafka_assignment(s->rk, &parts)) != 0) {
		gk_log(GK_LOG_WARN, "stream.pause_failed", "client=%s err=%s",
		    rd_kafka_name(s->rk), rd_kafka_err2name(err));
		return -1;
	}
	n = parts->cnt;
	err = pause ? rd_kafka_pause_partitions(s->rk, parts) :
	    rd_kafka_resume_partitions(s->rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (err != 0) {
		gk_log(GK_LOG_WARN, "stream.pause_failed", "client=%s pause=%d err=%s",
		    rd_kafka_name(s->rk), pause, rd_kafka_err2name(err));
		return -1;
	}
	gk_log(GK_LOG_INFO, pause ? "stream.paused" : "stream.resumed",
	    "client=%s partitions=%d", rd_kafka_name(s->rk), n);
	return 0;
}

int
gk_stream_fatal(const struct gk_stream *s)
{
	return s != NULL && s->fatal;
}

static int
producer_close(struct gk_stream *s, int timeout_ms)
{
	int	left, rc = 0;
	int64_t	deadline = gk_mono_ms() + timeout_ms;

	if (rd_kafka_flush(s->rk, timeout_ms) != 0) {
		rc = -1;
		gk_log(GK_LOG_WARN, "stream.close_purge", "client=%s pending=%d",
		    rd_kafka_name(s->rk), rd_kafka_outq_len(s->rk));
		/* Every accepted message gets its report, if only "purged". */
		rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE |
		    RD_KAFKA_PURGE_F_INFLIGHT);
		left = (int)(deadline - gk_mono_ms());
		(void)rd_kafka_flush(s->rk, left > 1000 ? left : 1000);
	}
	(void)rd_kafka_poll(s->rk, 0);
	return rc;
}

static int
consumer_close(struct gk_stream *s, int timeout_ms)
{
	rd_kafka_queue_t	*q;
	rd_kafka_event_t	*ev;
	rd_kafka_error_t	*e;
	int64_t			 deadline = gk_mono_ms() + timeout_ms;
	int			 left, rc = 0;

	s->close_deadline = deadline;
	if (commit_bounded(s, timeout_ms) == -1)
		rc = -1;
	/* librdkafka wants our reference to the consumer queue gone first. */
	rd_kafka_queue_destroy(s->q);
	s->q = NULL;
	if ((q = rd_kafka_queue_new(s->rk)) == NULL)
		return -1;
	if ((e = rd_kafka_consumer_close_queue(s->rk, q)) != NULL) {
		gk_log(GK_LOG_WARN, "stream.close_failed", "client=%s reason=%s",
		    rd_kafka_name(s->rk), rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		rd_kafka_queue_destroy(q);
		return -1;
	}
	/*
	 * The consumer queue now forwards to q, records already fetched included, so q
	 * is read as events: records are dropped unprocessed (their offsets were not
	 * stored, the group's next owner reads them), the revocation is handled like
	 * rebalance_cb would, and it commits again (cheaply).
	 */
	while (!rd_kafka_consumer_closed(s->rk)) {
		left = (int)(deadline - gk_mono_ms());
		if (left <= 0) {
			gk_log(GK_LOG_WARN, "stream.close_timeout", "client=%s ms=%d",
			    rd_kafka_name(s->rk), timeout_ms);
			rc = -1;
			break;
		}
		if ((ev = rd_kafka_queue_poll(q, left < 100 ? left : 100)) == NULL)
			continue;
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
			rebalance_cb(s->rk, rd_kafka_event_error(ev),
			    rd_kafka_event_topic_partition_list(ev), s);
		else if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR)
			error_cb(s->rk, rd_kafka_event_error(ev),
			    rd_kafka_event_error_string(ev), s);
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	return rc;
}

static void *
destroy_main(void *arg)
{
	/* Our close already left the group (or gave up trying): don't again. */
	rd_kafka_destroy_flags(arg, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	return NULL;
}

/*
 * rd_kafka_destroy() waits for librdkafka's threads, and librdkafka 2.0 can wait a
 * long time (we have seen minutes) for a commit still queued for a coordinator that
 * is gone. Shutdown must fit the supervisor's grace period, so the destroy runs on a
 * helper thread we wait for at most timeout_ms (at least DESTROY_MIN_MS); past that
 * the thread is left to finish alone while the daemon exits. No callback of ours
 * runs any more by then (only log_cb, which touches no handle state). Returns 0, or
 * -1 when the destroy was left behind.
 */
static int
destroy_bounded(rd_kafka_t *rk, int timeout_ms)
{
	struct timespec	ts;
	pthread_t	th;
	int		e;

	if (timeout_ms < DESTROY_MIN_MS)
		timeout_ms = DESTROY_MIN_MS;
	if (pthread_create(&th, NULL, destroy_main, rk) != 0) {
		destroy_main(rk);
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	if ((e = pthread_timedjoin_np(th, NULL, &ts)) == 0)
		return 0;
	gk_log(GK_LOG_WARN, "stream.destroy_timeout", "ms=%d err=%s", timeout_ms,
	    strerror(e));
	pthread_detach(th);
	return -1;
}

int
gk_stream_close(struct gk_stream *s, int timeout_ms)
{
	char	name[128];
	int64_t	deadline;
	int	rc;

	if (s == NULL)
		return -1;
	if (s->closed)
		return 0;
	/* The loop stops serving us; from here on we serve our queues ourselves. */
	gk_loop_fd_del(s->loop, s->efd);
	rd_kafka_queue_io_event_enable(s->q, -1, NULL, 0);
	if (timeout_ms < 0)
		timeout_ms = 0;
	deadline = gk_mono_ms() + timeout_ms;
	gk_strlcpy(name, rd_kafka_name(s->rk), sizeof(name));
	gk_log(GK_LOG_INFO, "stream.closing", "client=%s ms=%d", name, timeout_ms);
	rc = s->consumer ? consumer_close(s, timeout_ms) :
	    producer_close(s, timeout_ms);
	s->closed = 1;
	if (s->q != NULL)
		rd_kafka_queue_destroy(s->q);
	s->q = NULL;
	if (destroy_bounded(s->rk, (int)(deadline - gk_mono_ms())) == -1)
		rc = -1;
	s->rk = NULL;
	gk_log(GK_LOG_INFO, "stream.closed", "client=%s clean=%d", name, rc == 0);
	close(s->efd);
	s->efd = -1;
	return rc;
}

void
gk_stream_free(struct gk_stream *s)
{
	if (s == NULL)
		return;
	if (!s->closed)
		(void)gk_stream_close(s, DEFAULT_CLOSE_MS);
	free(s);
}

int
gk_stream_create_topic(const char *brokers, const char *topic, int partitions,
    int compact, int timeout_ms, char *err, size_t errlen)
{
	rd_kafka_conf_t			*conf;
	rd_kafka_t			*rk = NULL;
	rd_kafka_NewTopic_t		*nt = NULL;
	rd_kafka_AdminOptions_t		*ao = NULL;
	rd_kafka_queue_t		*q = NULL;
	rd_kafka_event_t		*ev = NULL;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t	**tr;
	rd_kafka_resp_err_t		 rerr;
	char				 es[512];
	size_t				 n;
	int				 rc = -1;

	if (brokers == NULL || topic == NULL) {
		gk_errf(err, errlen, "stream: brokers and topic are required");
		return -1;
	}
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, log_cb);
	if (conf_set(conf, "bootstrap.servers", brokers, err, errlen) == -1 ||
	    conf_set(conf, "client.id", "ecogate-admin", err, errlen) == -1) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es))) == NULL) {
		rd_kafka_conf_destroy(conf);
		gk_errf(err, errlen, "stream: %s", es);
		return -1;
	}
	nt = rd_kafka_NewTopic_new(topic, partitions > 0 ? partitions : -1, -1, es,
	    sizeof(es));
	if (nt == NULL) {
		gk_errf(err, errlen, "stream: topic %s: %s", topic, es);
		goto done;
	}
	if (compact && rd_kafka_NewTopic_set_config(nt, "cleanup.policy",
	    "compact") != 0) {
		gk_errf(err, errlen, "stream: topic %s: %s", topic,
		    "cannot set cleanup.policy");
		goto done;
	}
	ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	if (rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, es,
	    sizeof(es)) != 0 ||
	    rd_kafka_AdminOptions_set_operation_timeout(ao, timeout_ms, es,
	    sizeof(es)) != 0) {
		gk_errf(err, errlen, "stream: topic %s: %s", topic, es);
		goto done;
	}
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
	/* The request timeout answers first; the margin only guards against a hang. */
	if ((ev = rd_kafka_queue_poll(q, timeout_ms + 2000)) == NULL) {
		gk_errf(err, errlen, "stream: topic %s: %s", topic, "timed out");
		goto done;
	}
	if ((rerr = rd_kafka_event_error(ev)) != 0) {
		gk_errf(err, errlen, "stream: topic %s: %s", topic,
		    rd_kafka_event_error_string(ev));
		goto done;
	}
	if ((res = rd_kafka_event_CreateTopics_result(ev)) == NULL) {
		gk_errf(err, errlen, "stream: topic %s: %s", topic, "no result");
		goto done;
	}
	tr = rd_kafka_CreateTopics_result_topics(res, &n);
	if (n != 1) {
		gk_errf(err, errlen, "stream: topic %s: %s", topic, "no result");
		goto done;
	}
	rerr = rd_kafka_topic_result_error(tr[0]);
	if (rerr != 0 && rerr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		gk_errf(err, errlen, "stream: topic %s: %s", topic,
		    rd_kafka_topic_result_error_string(tr[0]) != NULL ?
		    rd_kafka_topic_result_error_string(tr[0]) :
		    rd_kafka_err2str(rerr));
		goto done;
	}
	gk_log(GK_LOG_INFO, "stream.topic_created",
	    "topic=%s partitions=%d compact=%d existed=%d", topic, partitions,
	    compact, rerr != 0);
	rc = 0;
done:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	if (ao != NULL)
		rd_kafka_AdminOptions_destroy(ao);
	if (nt != NULL)
		rd_kafka_NewTopic_destroy(nt);
	rd_kafka_destroy(rk);
	return rc;
}
