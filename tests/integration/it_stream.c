/*
 * Integration test of the Kafka adapter against the real Apache Kafka broker (KRaft)
 * that the CTest fixture started on 127.0.0.1:$ECOGATE_KAFKA_PORT. It proves the
 * guarantees the verifier's outbox and the ledger-writer are built on: every produced
 * record is acknowledged once, with offsets that rise per partition and keys that keep
 * to one partition; records and headers come back byte for byte; and a consumer group
 * that committed after the first 600 records resumes at exactly the next record, with
 * no gap and no duplicate, in a brand-new consumer. Last, the broker is restarted
 * under a producer with messages in flight: each is still delivered exactly once.
 *
 * Topics and groups are named per run, so reruns against the same broker start clean.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/stream.h"
#include "gatekit/util.h"
#include "t.h"

#define N		1000
#define DONE_AT		600	/* the first consumer finishes this many, then stops */
#define MAXPART		3
#define NKEYS		7

/* Runs the loop until cond holds or ms pass. */
#define WAIT_FOR(l, cond, ms) do {					\
	long long dl_ = t_now_ms() + (ms);				\
	while (!(cond) && t_now_ms() < dl_)				\
		gk_loop_once((l), 50);					\
} while (0)

static pthread_t	 main_thread;
static char		 brokers[128];

struct run {
	char		 topic[128];
	char		 group[128];
	int		 npart;
	int64_t		 t0;

	/* producer side */
	int		 slots[N];
	int		 reports;
	int		 failed;
	int		 off_thread;
	int		 reported[N];
	int		 part_of[N];
	int64_t		 off_of[N];
	int64_t		 last[MAXPART];
	int		 order_bad;
	int		 key_part[NKEYS];	/* partition of each key, -1 unknown */
	int		 key_split;
};

struct cons {
	struct run	*r;
	struct gk_stream *s;
	int		 limit;		/* process this many, ignore the rest */
	int		 n;		/* processed */
	int		 ignored;
	int		 seen[N];
	int64_t		 first[MAXPART];
	int64_t		 prev[MAXPART];
	int64_t		 last_stored[MAXPART];
	int		 gaps;
	int		 bad;
	int		 store_failed;
	int		 off_thread;
};

static void
on_delivery(void *arg, const struct gk_stream_delivery *d)
{
	struct run	*r = arg;
	int		*slot = d->msg_opaque;
	ptrdiff_t	 i = slot - r->slots;
	int		 k;

	r->reports++;
	if (!pthread_equal(pthread_self(), main_thread))
		r->off_thread++;
	if (slot == NULL || i < 0 || i >= N) {
		r->order_bad++;
		return;
	}
	r->reported[i]++;
	if (d->err != 0 || d->persisted != GK_STREAM_PERSISTED) {
		fprintf(stderr, "delivery %d: %s\n", (int)i, d->errstr);
		r->failed++;
		return;
	}
	if (d->partition < 0 || d->partition >= r->npart ||
	    strcmp(d->topic, r->topic) != 0 || d->offset <= r->last[d->partition]) {
		r->order_bad++;
		return;
	}
	r->last[d->partition] = d->offset;
	r->part_of[i] = d->partition;
	r->off_of[i] = d->offset;
	k = (int)i % NKEYS;
	if (r->key_part[k] == -1)
		r->key_part[k] = d->partition;
	else if (r->key_part[k] != d->partition)
		r->key_split++;
}

/* Checks one record against what was produced; returns its index or -1. */
static int
check_record(struct run *r, const struct gk_stream_message *m)
{
	char	buf[32];
	int	i;

	if (m->value == NULL || m->vallen < 2 || m->vallen > 8 ||
	    ((const char *)m->value)[0] != 'm')
		return -1;
	snprintf(buf, sizeof(buf), "%.*s", (int)m->vallen - 1,
	    (const char *)m->value + 1);
	i = atoi(buf);
	if (i < 0 || i >= N)
		return -1;
	if (strcmp(m->topic, r->topic) != 0 || m->partition != r->part_of[i] ||
	    m->offset != r->off_of[i])
		return -1;
	snprintf(buf, sizeof(buf), "site-%d", i % NKEYS);
	if (m->key == NULL || m->keylen != strlen(buf) ||
	    memcmp(m->key, buf, m->keylen) != 0)
		return -1;
	snprintf(buf, sizeof(buf), "e%d", i);
	if (m->nhdrs != 3 ||
	    strcmp(m->hdrs[0].name, "event_id") != 0 ||
	    m->hdrs[0].len != strlen(buf) ||
	    memcmp(m->hdrs[0].value, buf, m->hdrs[0].len) != 0 ||
	    strcmp(m->hdrs[1].name, "raw") != 0 || m->hdrs[1].len != 4 ||
	    memcmp(m->hdrs[1].value, "\0\xff\0\x01", 4) != 0 ||
	    strcmp(m->hdrs[2].name, "none") != 0 || m->hdrs[2].value != NULL)
		return -1;
	if (m->timestamp_ms < r->t0 - 60000 || m->timestamp_ms > gk_wall_ms() + 60000)
		return -1;
	return i;
}

static void
on_message(void *arg, const struct gk_stream_message *m)
{
	struct cons	*c = arg;
	int		 i;

	if (!pthread_equal(pthread_self(), main_thread))
		c->off_thread++;
	if (c->n >= c->limit) {
		c->ignored++;	/* as if the daemon had died here */
		return;
	}
	if ((i = check_record(c->r, m)) == -1) {
		c->bad++;
		return;
	}
	c->n++;
	c->seen[i]++;
	if (c->first[m->partition] < 0)
		c->first[m->partition] = m->offset;
	else if (m->offset != c->prev[m->partition] + 1)
		c->gaps++;
	c->prev[m->partition] = m->offset;
	if (gk_stream_store(c->s, m->topic, m->partition, m->offset) == 0)
		c->last_stored[m->partition] = m->offset;
	else
		c->store_failed++;
}

static struct gk_stream *
consumer(struct gk_loop *l, struct run *r, struct cons *c, int limit)
{
	const char *topics[] = { r->topic, NULL };
	struct gk_stream_opts o;
	char err[256];
	int i;

	memset(c, 0, sizeof(*c));
	c->r = r;
	c->limit = limit;
	for (i = 0; i < MAXPART; i++)
		c->first[i] = c->prev[i] = c->last_stored[i] = -1;
	memset(&o, 0, sizeof(o));
	o.brokers = brokers;
	o.client_id = "it-stream";
	o.group_id = r->group;
	o.topics = topics;		/* copied by librdkafka at subscribe */
	o.on_message = on_message;
	o.arg = c;
	c->s = gk_stream_consumer_new(l, &o, err, sizeof(err));
	if (c->s == NULL)
		fprintf(stderr, "consumer: %s\n", err);
	return c->s;
}

static void
produce_all(struct gk_loop *l, struct run *r)
{
	struct gk_stream_opts o;
	struct gk_stream_header h[3];
	struct gk_stream *p;
	char err[256], key[32], val[32], eid[32];
	int i, ok = 0, once = 1, sum = 0;

	memset(&o, 0, sizeof(o));
	o.brokers = brokers;
	o.client_id = "it-stream";
	o.on_delivery = on_delivery;
	o.arg = r;
	p = gk_stream_producer_new(l, &o, err, sizeof(err));
	T_REQUIRE(p != NULL);
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "site-%d", i % NKEYS);
		snprintf(val, sizeof(val), "m%d", i);
		snprintf(eid, sizeof(eid), "e%d", i);
		h[0].name = "event_id";
		h[0].value = eid;
		h[0].len = strlen(eid);
		h[1].name = "raw";
		h[1].value = "\0\xff\0\x01";
		h[1].len = 4;
		h[2].name = "none";
		h[2].value = NULL;
		h[2].len = 0;
		if (gk_stream_produce(p, r->topic, key, strlen(key), val,
		    strlen(val), h, 3, &r->slots[i]) == 0)
			ok++;
	}
	T_CHECK(ok == N);
	WAIT_FOR(l, r->reports >= N, 60000);
	T_CHECKF(r->reports == N, "reports=%d", r->reports);
	WAIT_FOR(l, r->reports > N, 300);
	T_CHECKF(r->reports == N, "reports=%d", r->reports);
	T_CHECK(r->failed == 0);
	T_CHECK(r->order_bad == 0);
	T_CHECK(r->off_thread == 0);
	T_CHECK(r->key_split == 0);
	for (i = 0; i < N; i++)
		if (r->reported[i] != 1)
			once = 0;
	T_CHECK(once);
	/* A fresh topic: each partition's offsets run densely from 0. */
	for (i = 0; i < r->npart; i++)
		sum += (int)(r->last[i] + 1);
	T_CHECKF(sum == N, "sum of partition ends %d", sum);
	T_CHECK(gk_stream_close(p, 10000) == 0);
	gk_stream_free(p);
}

static void
scenario(struct gk_loop *l, int npart, const char *tag)
{
	static struct run r;
	static struct cons a, b;
	char err[256];
	int i, exact = 1;

	memset(&r, 0, sizeof(r));
	r.npart = npart;
	r.t0 = gk_wall_ms();
	for (i = 0; i < MAXPART; i++)
		r.last[i] = -1;
	for (i = 0; i < NKEYS; i++)
		r.key_part[i] = -1;
	snprintf(r.topic, sizeof(r.topic), "it.stream.%s.%d.%lld", tag, (int)getpid(),
	    (long long)r.t0);
	snprintf(r.group, sizeof(r.group), "it-stream-%s-%d-%lld", tag, (int)getpid(),
	    (long long)r.t0);

	T_REQUIRE(gk_stream_create_topic(brokers, r.topic, npart, 0, 30000, err,
	    sizeof(err)) == 0 || (fprintf(stderr, "%s\n", err), 0));
	/* Creating it again is fine: tools run this on every start. */
	T_CHECKF(gk_stream_create_topic(brokers, r.topic, npart, 0, 30000, err,
	    sizeof(err)) == 0, "%s", err);

	produce_all(l, &r);

	/* A: processes and stores the first DONE_AT records, commits, stops. */
	T_REQUIRE(consumer(l, &r, &a, DONE_AT) != NULL);
	WAIT_FOR(l, a.n >= DONE_AT, 60000);
	T_CHECKF(a.n == DONE_AT, "processed=%d", a.n);
	T_CHECK(a.bad == 0);
	T_CHECK(a.gaps == 0);
	T_CHECK(a.store_failed == 0);
	T_CHECK(a.off_thread == 0);
	for (i = 0; i < npart; i++)
		T_CHECK(a.first[i] == -1 || a.first[i] == 0);
	T_CHECK(gk_stream_commit(a.s, 1) == 0);
	T_CHECK(gk_stream_close(a.s, 15000) == 0);
	gk_stream_free(a.s);

	/* B: a new consumer in the same group starts right after A's commit. */
	T_REQUIRE(consumer(l, &r, &b, N) != NULL);
	WAIT_FOR(l, b.n >= N - DONE_AT, 60000);
	T_CHECKF(b.n == N - DONE_AT, "processed=%d", b.n);
	WAIT_FOR(l, b.n > N - DONE_AT, 1000);
	T_CHECKF(b.n == N - DONE_AT, "processed=%d", b.n);
	T_CHECK(b.bad == 0);
	T_CHECK(b.gaps == 0);
	T_CHECK(b.off_thread == 0);
	for (i = 0; i < npart; i++)
		T_CHECKF(b.first[i] == a.last_stored[i] + 1 ||
		    (b.first[i] == -1 && a.last_stored[i] == r.last[i]),
		    "partition %d: B first %lld, A last stored %lld", i,
		    (long long)b.first[i], (long long)a.last_stored[i]);
	if (npart == 1)
		T_CHECKF(b.first[0] == DONE_AT, "B first offset %lld",
		    (long long)b.first[0]);
	/* Together A and B processed every record exactly once. */
	for (i = 0; i < N; i++)
		if (a.seen[i] + b.seen[i] != 1)
			exact = 0;
	T_CHECK(exact);
	T_CHECK(gk_stream_commit(b.s, 1) == 0);
	T_CHECK(gk_stream_close(b.s, 15000) == 0);
	gk_stream_free(b.s);
}

static volatile int restarted;	/* 1: done, -1: failed; set by restarter() */

static void *
restarter(void *arg)
{
	(void)arg;
	usleep(300 * 1000);	/* let the first messages get in flight */
	restarted = t_servers("restart", "kafka") == 0 ? 1 : -1;
	return NULL;
}

/*
 * The broker restarts while the producer has messages in flight and more queued: the
 * idempotent producer delivers every one exactly once (one successful report each,
 * and the log holds each once, at the offset reported), and a consumer of the topic
 * sees each exactly once.
 */
static void
restart_scenario(struct gk_loop *l)
{
	static struct run	 r;
	static struct cons	 c;
	struct gk_stream_opts	 o;
	struct gk_stream_header	 h[3];
	struct gk_stream	*p;
	pthread_t		 th;
	char			 err[256], key[32], val[32], eid[32];
	int			 i = 0, j, once = 1, sum = 0, inflight = 0;

	memset(&r, 0, sizeof(r));
	r.npart = 1;
	r.t0 = gk_wall_ms();
	r.last[0] = -1;
	for (j = 0; j < NKEYS; j++)
		r.key_part[j] = -1;
	snprintf(r.topic, sizeof(r.topic), "it.stream.restart.%d.%lld", (int)getpid(),
	    (long long)r.t0);
	snprintf(r.group, sizeof(r.group), "it-stream-restart-%d-%lld", (int)getpid(),
	    (long long)r.t0);
	T_REQUIRE(gk_stream_create_topic(brokers, r.topic, 1, 0, 30000, err,
	    sizeof(err)) == 0 || (fprintf(stderr, "%s\n", err), 0));

	memset(&o, 0, sizeof(o));
	o.brokers = brokers;
	o.client_id = "it-stream-restart";
	o.on_delivery = on_delivery;
	o.arg = &r;
	p = gk_stream_producer_new(l, &o, err, sizeof(err));
	T_REQUIRE(p != NULL);
	restarted = 0;
	T_REQUIRE(pthread_create(&th, NULL, restarter, NULL) == 0);

	/* 10 messages every 20 ms, so some are in flight when the broker stops. */
	while (i < N) {
		for (j = 0; j < 10 && i < N; j++, i++) {
			snprintf(key, sizeof(key), "site-%d", i % NKEYS);
			snprintf(val, sizeof(val), "m%d", i);
			snprintf(eid, sizeof(eid), "e%d", i);
			h[0].name = "event_id";
			h[0].value = eid;
			h[0].len = strlen(eid);
			h[1].name = "raw";
			h[1].value = "\0\xff\0\x01";
			h[1].len = 4;
			h[2].name = "none";
			h[2].value = NULL;
			h[2].len = 0;
			T_REQUIRE(gk_stream_produce(p, r.topic, key, strlen(key), val,
			    strlen(val), h, 3, &r.slots[i]) == 0);
		}
		gk_loop_once(l, 20);
		if (restarted == 0 && r.reports < i)
			inflight = 1;	/* unreported messages while it restarts */
	}
	while (restarted == 0)
		gk_loop_once(l, 50);
	T_REQUIRE(pthread_join(th, NULL) == 0);
	T_REQUIRE(restarted == 1);
	T_CHECK(inflight);
	WAIT_FOR(l, r.reports >= N, 120000);
	T_CHECKF(r.reports == N, "reports=%d", r.reports);
	WAIT_FOR(l, r.reports > N, 300);
	T_CHECKF(r.reports == N, "reports=%d", r.reports);
	T_CHECKF(r.failed == 0, "failed=%d", r.failed);
	T_CHECK(r.order_bad == 0);
	T_CHECK(r.off_thread == 0);
	for (j = 0; j < N; j++)
		if (r.reported[j] != 1)
			once = 0;
	T_CHECK(once);
	sum = (int)(r.last[0] + 1);
	T_CHECKF(sum == N, "log end %d: a duplicate or a gap", sum);
	T_CHECK(gk_stream_close(p, 10000) == 0);
	gk_stream_free(p);

	T_REQUIRE(consumer(l, &r, &c, N) != NULL);
	WAIT_FOR(l, c.n >= N, 60000);
	WAIT_FOR(l, c.n > N, 500);
	T_CHECKF(c.n == N, "consumed=%d", c.n);
	T_CHECK(c.bad == 0);
	T_CHECK(c.gaps == 0);
	once = 1;
	for (j = 0; j < N; j++)
		if (c.seen[j] != 1)
			once = 0;
	T_CHECK(once);
	T_CHECK(gk_stream_close(c.s, 15000) == 0);
	gk_stream_free(c.s);
}

/*
 * start_offset: a consumer that keeps its own offsets (the ledger-writer's
 * ledger_offset) starts each partition where it says, not where the group stands.
 */
struct seek {
	int64_t		 from;
	int64_t		 first, last;
	int		 n, asked;
};

static int64_t
seek_start(void *arg, const char *topic, int partition)
{
	struct seek	*k = arg;

	(void)topic;
	k->asked++;
	return partition == 0 ? k->from : -1;
}

static void
seek_message(void *arg, const struct gk_stream_message *m)
{
	struct seek	*k = arg;

	if (k->n++ == 0)
		k->first = m->offset;
	k->last = m->offset;
}

static void
seek_scenario(struct gk_loop *l)
{
	struct gk_stream_opts	 o;
	struct gk_stream	*p, *c;
	struct seek		 k = { .from = 30, .first = -1 };
	char			 topic[128], group[160], err[256], val[16];
	const char		*topics[2] = { topic, NULL };
	int			 i;

	snprintf(topic, sizeof(topic), "it.stream.seek.%d.%lld", (int)getpid(),
	    (long long)gk_wall_ms());
	snprintf(group, sizeof(group), "%s.g", topic);
	T_REQUIRE(gk_stream_create_topic(brokers, topic, 1, 0, 30000, err,
	    sizeof(err)) == 0);
	memset(&o, 0, sizeof(o));
	o.brokers = brokers;
	p = gk_stream_producer_new(l, &o, err, sizeof(err));
	T_REQUIRE(p != NULL);
	for (i = 0; i < 50; i++) {
		snprintf(val, sizeof(val), "s%d", i);
		T_CHECK(gk_stream_produce(p, topic, "k", 1, val, strlen(val), NULL, 0,
		    NULL) == 0);
	}
	T_CHECK(gk_stream_flush(p, 30000) == 0);
	gk_stream_free(p);
	memset(&o, 0, sizeof(o));
	o.brokers = brokers;
	o.group_id = group;
	o.topics = topics;
	o.on_message = seek_message;
	o.start_offset = seek_start;
	o.arg = &k;
	c = gk_stream_consumer_new(l, &o, err, sizeof(err));
	T_REQUIRE(c != NULL);
	WAIT_FOR(l, k.last == 49, 30000);
	T_CHECKF(k.asked == 1, "asked %d", k.asked);
	T_CHECKF(k.first == 30 && k.n == 20, "first %lld n %d",
	    (long long)k.first, k.n);
	gk_stream_free(c);
}

int
main(void)
{
	struct gk_loop	*l;
	char		 err[256], topic[128];

	gk_log_init("it_stream");
	main_thread = pthread_self();
	snprintf(brokers, sizeof(brokers), "127.0.0.1:%s",
	    t_env("ECOGATE_KAFKA_PORT", "39092"));
	l = gk_loop_new();
	T_REQUIRE(l != NULL);

	scenario(l, 1, "p1");
	scenario(l, 3, "p3");

	/* A compacted topic (the registry changelog) is created the same way. */
	snprintf(topic, sizeof(topic), "it.stream.compact.%d.%lld", (int)getpid(),
	    (long long)gk_wall_ms());
	T_CHECKF(gk_stream_create_topic(brokers, topic, 1, 1, 30000, err,
	    sizeof(err)) == 0, "%s", err);
	/* The broker refuses a malformed name, and we say so. */
	T_CHECK(gk_stream_create_topic(brokers, "bad topic name!", 1, 0, 30000, err,
	    sizeof(err)) == -1);
	T_CHECKF(strstr(err, "bad topic name!") != NULL, "%s", err);

	seek_scenario(l);
	restart_scenario(l);

	while (gk_loop_once(l, 0) > 0)
		continue;
	gk_loop_free(l);
	return T_DONE();
}
