/*
 * ledger-writer: the imperative shell that appends every passage and operator action
 * to the site's verifiable ledger in PostgreSQL (docs/ledger.md, issue 4). The pure
 * parts are record.c (message -> record) and store.c (the append transaction).
 *
 * Consumes ecogate.passage.v1, ecogate.audit.v1 and ecogate.evidence.v1 as one group.
 * Every consumed message becomes an entry in its partition's queue, in offset order,
 * and is one of: a record (passage or audit), an evidence image (key = hex SHA-256,
 * checked against the bytes), a reject (malformed: kept in ledger_reject), or nothing
 * to store (an image already seen). An entry is READY when it can go into the next
 * batch; a passage is WAITING while an image it names has not arrived, for at most
 * evidence.wait, then goes in with that image "missing" and an alarm.v1 on MQTT.
 *
 * A batch (batch.size entries, or the oldest ready one batch.delay old) is one
 * transaction (store.c): images, rejects, records, tiles, and for each partition the
 * offset of its first entry that is not in this batch or before it (a waiting passage
 * holds its partition's offset back; what follows it is stored and found again as
 * duplicates after a crash). The DB is the truth: at start each partition is read
 * from ledger_offset (gk_stream's start_offset hook), and Kafka's own committed
 * offsets, stored and committed only after PostgreSQL committed, merely follow. So a
 * SIGKILL at any instant costs a replay that the event_id index absorbs.
 *
 * After a commit: the records' canonical bodies go to ecogate.ledger.v1 (key site),
 * alarms for missing evidence to MQTT, and a checkpoint is made every
 * checkpoint.every records or checkpoint.interval, whichever first, when the tree
 * grew: stored, produced to ecogate.checkpoint.v1 and published retained on
 * ecogate/v1/{site}/checkpoint.
 *
 * PostgreSQL away: the batch stays queued and is tried again (the store reloads its
 * tree and re-takes its lock after a reconnect). One thread owns all state.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/sha.h>

#include <gatekit/bus.h>
#include <gatekit/cfg.h>
#include <gatekit/daemon.h>
#include <gatekit/db.h>
#include <gatekit/json.h>
#include <gatekit/log.h>
#include <gatekit/loop.h>
#include <gatekit/stream.h>
#include <gatekit/util.h>

#include "b64.h"
#include "checkpoint.h"
#include "record.h"
#include "store.h"

#define SVC		"ledger-writer"
#define MSG_MAX		(1024 * 1024)	/* a passage is a few KB */
#define EVIDENCE_MAX	(16 * 1024 * 1024)
#define MAXPARTS	256
#define TICK_MS		50

struct lw_cfg {
	char		*site;
	char		*instance;
	char		*pg_conninfo;
	char		*kafka_brokers;
	char		*kafka_group;
	char		*topic_passage;
	char		*topic_audit;
	char		*topic_evidence;
	char		*topic_ledger;
	char		*topic_checkpoint;
	char		*mqtt_url;
	char		*mqtt_username;
	char		*mqtt_password;
	char		*hash_alg;
	char		*key_file;
	long long	 batch_size;
	int64_t		 batch_delay_ms;
	int64_t		 evidence_wait_ms;
	long long	 queue_max;
	long long	 queue_max_bytes;
	long long	 checkpoint_every;
	int64_t		 checkpoint_interval_ms;
};

#define O(f)	offsetof(struct lw_cfg, f)
static const struct gk_cfg_key lw_keys[] = {
	{ "site", GK_CFG_STR, O(site), "site1", 1, 32, 0,
	    "plant site id: the ledger's log and the {site} topic segment" },
	{ "instance", GK_CFG_STR, O(instance), "1", 1, 16, 0,
	    "instance id in the status topic and client ids" },
	{ "pg.conninfo", GK_CFG_STR, O(pg_conninfo),
	    "host=127.0.0.1 dbname=ecogate", 1, 0, GK_CFG_SECRET,
	    "libpq connection string of the ledger database" },
	{ "kafka.brokers", GK_CFG_STR, O(kafka_brokers), "127.0.0.1:9092", 1, 0, 0,
	    "Kafka bootstrap servers" },
	{ "kafka.group", GK_CFG_STR, O(kafka_group), "ecogate-ledger-writer", 1, 200,
	    0, "consumer group; also the consumer name in ledger_offset" },
	{ "kafka.passage_topic", GK_CFG_STR, O(topic_passage), "ecogate.passage.v1",
	    1, 249, 0, "passage decisions" },
	{ "kafka.audit_topic", GK_CFG_STR, O(topic_audit), "ecogate.audit.v1", 1, 249,
	    0, "operators' actions" },
	{ "kafka.evidence_topic", GK_CFG_STR, O(topic_evidence),
	    "ecogate.evidence.v1", 1, 249, 0, "evidence images, key = hex SHA-256" },
	{ "kafka.ledger_topic", GK_CFG_STR, O(topic_ledger), "ecogate.ledger.v1", 1,
	    249, 0, "committed records, for analytics" },
	{ "kafka.checkpoint_topic", GK_CFG_STR, O(topic_checkpoint),
	    "ecogate.checkpoint.v1", 1, 249, 0, "signed checkpoints" },
	{ "mqtt.url", GK_CFG_STR, O(mqtt_url), "tcp://127.0.0.1:1883", 1, 0, 0,
	    "MQTT broker: alarms, checkpoints (retained), status" },
	{ "mqtt.username", GK_CFG_STR, O(mqtt_username), NULL, 0, 64, 0,
	    "MQTT user (the broker's ACL names it); empty: none" },
	{ "mqtt.password", GK_CFG_STR, O(mqtt_password), NULL, 0, 256, GK_CFG_SECRET,
	    "MQTT password; use ECOGATE_MQTT_PASSWORD_FILE" },
	{ "ledger.hash", GK_CFG_STR, O(hash_alg), "sha256", 1, 16, 0,
	    "the log's hash when it is created (sha256, sm3); checked after" },
	{ "ledger.key_file", GK_CFG_STR, O(key_file),
	    "/etc/ecogate/ledger-key.pem", 1, 0, 0,
	    "PEM private key (Ed25519 or SM2) signing the checkpoints" },
	{ "batch.size", GK_CFG_INT, O(batch_size), "1000", 1, LEDGER_BATCH_MAX, 0,
	    "most messages per transaction" },
	{ "batch.delay", GK_CFG_MS, O(batch_delay_ms), "200ms", 0, 60000, 0,
	    "longest a ready message waits for its batch to fill" },
	{ "evidence.wait", GK_CFG_MS, O(evidence_wait_ms), "30s", 0, 3600000, 0,
	    "how long a passage waits for its images before they are marked missing" },
	{ "queue.max", GK_CFG_INT, O(queue_max), "20000", 100, 10000000, 0,
	    "messages held uncommitted before Kafka fetching pauses (database away)" },
	{ "queue.max_bytes", GK_CFG_INT, O(queue_max_bytes), "268435456", 1048576,
	    68719476736LL, 0, "... or bytes held (images are large)" },
	{ "checkpoint.every", GK_CFG_INT, O(checkpoint_every), "1000", 1, 100000000,
	    0, "sign a checkpoint after this many new records" },
	{ "checkpoint.interval", GK_CFG_MS, O(checkpoint_interval_ms), "60s", 1000,
	    86400000, 0, "... or after this long, when the tree grew" },
	{ NULL }
};
#undef O

enum ent_kind { E_RECORD, E_EVIDENCE, E_REJECT, E_NOOP };
enum ent_state { S_WAITING, S_READY, S_INBATCH };

struct ent {
	int64_t			 offset;
	enum ent_kind		 kind;
	enum ent_state		 state;
	int64_t			 since;		/* gk_mono_ms() when queued */
	struct record		*rec;		/* E_RECORD */
	struct ledger_evidence	 ev;		/* E_EVIDENCE: content is bytes */
	uint8_t			*bytes;		/* malloc'd */
	char			*media;
	char			*reason;	/* E_REJECT */
	void			*key, *val;
	size_t			 keylen, vallen;
	int			 missing;	/* images marked missing */
	size_t			 mem;		/* bytes it holds, for the queue bound */
};

/* One Kafka partition's queue of entries not yet committed, in offset order. */
struct part {
	char		 topic[250];
	int		 partition;
	struct ent	*q;
	size_t		 head, n, cap;	/* ring */
	int64_t		 hi;		/* last offset queued + 1 */
	int64_t		 stored;	/* next offset known stored in PostgreSQL */
};

/* Hashes of images known to be stored (or in the current queue). */
struct hset {
	uint8_t		(*k)[32];
	uint8_t		*used;
	size_t		 cap, n;
};

struct lw {
	struct lw_cfg		 cfg;
	struct gk_loop		*loop;
	struct gk_db		*db;
	struct ledger_store	*store;
	struct checkpoint_key	*key;
	struct gk_stream	*cons, *prod;
	struct gk_bus		*bus;
	char			 t_alarm[256], t_checkpoint[256], t_status[256];
	struct part		 parts[MAXPARTS];
	size_t			 nparts;
	struct hset		 known;
	size_t			 queued;
	size_t			 queued_bytes;
	int			 paused;	/* Kafka fetching paused: queue full */
	int64_t			 paused_at;	/* mono ms of the last pause call */
	int64_t			 retry_at;	/* no append before (mono ms) */
	/* ecogate.ledger.v1, at least once (0005_ledger_publish.sql): */
	uint64_t		 pub_done;	/* seq + 1 of the last acknowledged */
	uint64_t		 pub_lost;	/* seq + 1 of the first refused, 0 none */
	uint64_t		 pub_saved;	/* next_seq stored in ledger_publish */
	uint64_t		 pub_next;	/* seq + 1 of the last handed to Kafka */
	int			 pub_synced;	/* republish() ran to the end */
	int64_t			 open_at;
	uint64_t		 cp_size;	/* size of the last checkpoint */
	int64_t			 cp_at;		/* mono ms of the last checkpoint */
	/*
	 * Waits for evidence count from here at the earliest: the end of the last
	 * database outage or slow batch, during which the loop read no images.
	 */
	int64_t			 wait_from;
	int			 failing;
	uint64_t		 timer;
	/* counters, logged at shutdown and in ledger.batch */
	uint64_t		 n_records, n_dups, n_rejects, n_missing, n_evidence;
	uint64_t		 n_batches, n_failed;
};

static struct lw	lw;

/* ---- the set of known images ---- */

static size_t
hslot(const struct hset *h, const uint8_t k[32])
{
	uint64_t	v;

	memcpy(&v, k, sizeof(v));	/* a SHA-256 is uniform already */
	return (size_t)v & (h->cap - 1);
}

static int
hset_has(const struct hset *h, const uint8_t k[32])
{
	size_t	i;

	if (h->cap == 0)
		return 0;
	for (i = hslot(h, k); h->used[i]; i = (i + 1) & (h->cap - 1))
		if (memcmp(h->k[i], k, 32) == 0)
			return 1;
	return 0;
}

static void
hset_add(struct hset *h, const uint8_t k[32])
{
	size_t	i;

	if (hset_has(h, k))
		return;
	/* Bounded memory: past a million, forget (the database still knows). */
	if (h->cap == 0 || h->n + 1 > h->cap / 2) {
		size_t	cap = h->cap == 0 ? 4096 : h->cap * 2;

		if (cap > (1u << 21))
			cap = h->cap;	/* full: start over at this size */
		free(h->k);
		free(h->used);
		h->k = calloc(cap, 32);
		h->used = calloc(cap, 1);
		h->cap = h->k != NULL && h->used != NULL ? cap : 0;
		h->n = 0;
		if (h->cap == 0)
			return;
	}
	for (i = hslot(h, k); h->used[i]; i = (i + 1) & (h->cap - 1))
		continue;
	memcpy(h->k[i], k, 32);
	h->used[i] = 1;
	h->n++;
}

/* ---- partitions and entries ---- */

static struct part *
part_get(struct lw *w, const char *topic, int partition)
{
	size_t		 i;
	struct part	*p;

	for (i = 0; i < w->nparts; i++)
		if (w->parts[i].partition == partition &&
		    strcmp(w->parts[i].topic, topic) == 0)
			return &w->parts[i];
	if (w->nparts == MAXPARTS)
		return NULL;
	p = &w->parts[w->nparts++];
	memset(p, 0, sizeof(*p));
	gk_strlcpy(p->topic, topic, sizeof(p->topic));
	p->partition = partition;
	p->hi = p->stored = -1;
	return p;
}

static struct ent *
part_at(struct part *p, size_t i)
{
	return &p->q[(p->head + i) % p->cap];
}

static struct ent *
part_push(struct part *p)
{
	struct ent	*q;
	size_t		 i, cap;

	if (p->n == p->cap) {
		cap = p->cap ? p->cap * 2 : 256;
		if ((q = calloc(cap, sizeof(*q))) == NULL)
			return NULL;
		for (i = 0; i < p->n; i++)
			q[i] = *part_at(p, i);
		free(p->q);
		p->q = q;
		p->cap = cap;
		p->head = 0;
	}
	q = part_at(p, p->n++);
	memset(q, 0, sizeof(*q));
	return q;
}

static void
ent_free(struct ent *e)
{
	if (e->rec != NULL) {
		record_clear(e->rec);
		free(e->rec);
	}
	free(e->bytes);
	free(e->media);
	free(e->reason);
	free(e->key);
	free(e->val);
	memset(e, 0, sizeof(*e));
}

/* ---- consuming ---- */

static void
reject(struct ent *e, const struct gk_stream_message *m, const char *why)
{
	gk_log(GK_LOG_WARN, "ledger.reject", "topic=%s partition=%d offset=%" PRId64
	    " reason=%s", m->topic, m->partition, m->offset, why);
	e->kind = E_REJECT;
	e->state = S_READY;
	e->reason = strdup(why);
	if (m->key != NULL && (e->key = malloc(m->keylen + 1)) != NULL) {
		memcpy(e->key, m->key, m->keylen);
		e->keylen = m->keylen;
	}
	if (m->value != NULL && (e->val = malloc(m->vallen + 1)) != NULL) {
		memcpy(e->val, m->value, m->vallen);
		e->vallen = m->vallen;
	}
	lw.n_rejects++;
}

static void
take_evidence(struct lw *w, struct ent *e, const struct gk_stream_message *m)
{
	char		hex[65];
	uint8_t		want[32];
	const char	*media = "application/octet-stream";
	size_t		i;

	if (m->key == NULL || m->keylen != 64) {
		reject(e, m, "evidence: key is not a hex SHA-256");
		return;
	}
	memcpy(hex, m->key, 64);
	hex[64] = '\0';
	if (record_hex_sha256(hex, want) == -1) {
		reject(e, m, "evidence: key is not 64 lower-case hex digits");
		return;
	}
	if (m->value == NULL || m->vallen > EVIDENCE_MAX) {
		reject(e, m, "evidence: no bytes, or too many");
		return;
	}
	SHA256(m->value, m->vallen, e->ev.sha256);
	if (memcmp(e->ev.sha256, want, 32) != 0) {
		reject(e, m, "evidence: the bytes do not hash to the key");
		return;
	}
	e->state = S_READY;
	if (hset_has(&w->known, want)) {
		e->kind = E_NOOP;	/* stored already, or queued before */
		return;
	}
	for (i = 0; i < m->nhdrs; i++)
		if (strcmp(m->hdrs[i].name, "content-type") == 0 &&
		    m->hdrs[i].value != NULL && m->hdrs[i].len >= 1 &&
		    m->hdrs[i].len <= 64)
			break;
	e->kind = E_EVIDENCE;
	e->media = i < m->nhdrs ? strndup(m->hdrs[i].value, m->hdrs[i].len) :
	    strdup(media);
	if ((e->bytes = malloc(m->vallen + 1)) != NULL)
		memcpy(e->bytes, m->value, m->vallen);
	e->ev.content = e->bytes;
	e->ev.len = m->vallen;
	e->ev.media_type = e->media;
	if (e->media == NULL || e->ev.content == NULL) {
		gk_log(GK_LOG_ERR, "ledger.oom", "what=evidence");
		gk_loop_stop(w->loop, EX_SOFTWARE);
		return;
	}
	hset_add(&w->known, want);
	w->n_evidence++;
}

/* Marks the passage's images known (queued or stored); 1 when all are. */
static int
evidence_ready(struct lw *w, struct record *r, int ask_db)
{
	size_t	i;
	int	all = 1, rc;

	for (i = 0; i < r->nevidence; i++) {
		if (r->evidence[i].stored)
			continue;
		if (hset_has(&w->known, r->evidence[i].sha256))
			r->evidence[i].stored = 1;
		else if (ask_db && w->store != NULL && (rc =
		    ledger_store_has_evidence(w->store, r->evidence[i].sha256)) == 1) {
			r->evidence[i].stored = 1;
			hset_add(&w->known, r->evidence[i].sha256);
		} else
			all = 0;
	}
	return all;
}

static void
take_record(struct lw *w, struct ent *e, const struct gk_stream_message *m)
{
	struct record_source	 src = { m->topic, m->partition, m->offset };
	json_t			*j;
	char			 err[200];

	if (m->value == NULL) {
		reject(e, m, "no value");
		return;
	}
	j = gk_json_parse(m->value, m->vallen, MSG_MAX, err, sizeof(err));
	if (j == NULL) {
		reject(e, m, err);
		return;
	}
	if ((e->rec = calloc(1, sizeof(*e->rec))) == NULL) {
		json_decref(j);
		gk_loop_stop(w->loop, EX_SOFTWARE);
		return;
	}
	if (record_from_message(&src, j, e->rec, err, sizeof(err)) == -1) {
		json_decref(j);
		free(e->rec);
		e->rec = NULL;
		reject(e, m, err);
		return;
	}
	json_decref(j);
	if (strcmp(e->rec->site, w->cfg.site) != 0) {
		snprintf(err, sizeof(err), "site '%s' is not this ledger's ('%s')",
		    e->rec->site, w->cfg.site);
		record_clear(e->rec);
		free(e->rec);
		e->rec = NULL;
		reject(e, m, err);
		return;
	}
	e->kind = E_RECORD;
	e->state = evidence_ready(w, e->rec, 1) ? S_READY : S_WAITING;
}

/*
 * Backpressure: while PostgreSQL is away nothing commits and every message read is
 * held in memory; past queue.max messages or queue.max_bytes, fetching pauses (the
 * messages stay in Kafka, which is where a long outage belongs) and resumes as soon
 * as a batch commits again. Only during an outage: with the database up the queue
 * drains by itself, and pausing then could starve a passage of the image it waits
 * for (images come on their own topic). Evidence waits do not run out during an
 * outage anyway (wait_from). A rebalance hands out partitions unpaused, so a message
 * arriving while still full and failing pauses again (at most once a second).
 */
static void
backpressure(struct lw *w)
{
	int	full;
	int64_t	now = gk_mono_ms();

	full = w->queued >= (size_t)w->cfg.queue_max ||
	    w->queued_bytes >= (size_t)w->cfg.queue_max_bytes;
	if (full && w->failing && (!w->paused || now - w->paused_at >= 1000)) {
		if (gk_stream_pause(w->cons, 1) == 0) {
			if (!w->paused)
				gk_log(GK_LOG_WARN, "ledger.backpressure", "queued=%zu "
				    "bytes=%zu action=pause", w->queued, w->queued_bytes);
			w->paused = 1;
			w->paused_at = now;
		}
	} else if (w->paused && !w->failing && gk_stream_pause(w->cons, 0) == 0) {
		w->paused = 0;
		gk_log(GK_LOG_INFO, "ledger.backpressure", "queued=%zu bytes=%zu "
		    "action=resume", w->queued, w->queued_bytes);
	}
}

static void
on_message(void *arg, const struct gk_stream_message *m)
{
	struct lw	*w = arg;
	struct part	*p;
	struct ent	*e;

	if ((p = part_get(w, m->topic, m->partition)) == NULL) {
		gk_log(GK_LOG_ERR, "ledger.too_many_partitions", "topic=%s",
		    m->topic);
		gk_loop_stop(w->loop, EX_SOFTWARE);
		return;
	}
	if (p->hi >= 0 && m->offset < p->hi)
		return;	/* handed over again after a rebalance: queued already */
	if ((e = part_push(p)) == NULL) {
		gk_log(GK_LOG_ERR, "ledger.oom", "what=queue");
		gk_loop_stop(w->loop, EX_SOFTWARE);
		return;
	}
	e->offset = m->offset;
	e->since = gk_mono_ms();
	e->mem = m->keylen + m->vallen + sizeof(*e);
	p->hi = m->offset + 1;
	w->queued++;
	w->queued_bytes += e->mem;
	if (strcmp(m->topic, w->cfg.topic_evidence) == 0)
		take_evidence(w, e, m);
	else
		take_record(w, e, m);
	backpressure(w);
}

/* Where the DB says to start (ledger_offset), or Kafka's committed offset. */
static int64_t
start_offset(void *arg, const char *topic, int partition)
{
	struct lw	*w = arg;
	int64_t		 next = -1;
	struct part	*p;
	size_t		 i;

	if (w->store == NULL || ledger_store_offset(w->store, w->cfg.kafka_group,
	    topic, partition, &next) != 1)
		next = -1;
	/* What was queued for this partition is read again from there. */
	if ((p = part_get(w, topic, partition)) != NULL) {
		for (i = 0; i < p->n; i++) {
			w->queued_bytes -= part_at(p, i)->mem;
			ent_free(part_at(p, i));
		}
		w->queued -= p->n;
		p->n = p->head = 0;
		p->hi = -1;
	}
	return next;
}

/* ---- batches ---- */

static void
alarm_missing(struct lw *w, const struct record *r)
{
	char		 ts[GK_TS_LEN], text[200], *s;
	json_t		*a;
	struct gk_bus_msg m;

	gk_ts_format(gk_wall_ms(), ts, sizeof(ts));
	snprintf(text, sizeof(text), "台账证据图片未到达: %s %s", r->plate,
	    r->event_id);
	a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "schema",
	    "ecogate.alarm.v1", "site", w->cfg.site, "lane", r->lane, "source",
	    SVC, "code", "ledger.evidence_missing", "active", 1, "text", text,
	    "ts", ts);
	if (a == NULL || (s = json_dumps(a, JSON_COMPACT)) == NULL) {
		json_decref(a);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.topic = w->t_alarm;
	m.payload = s;
	m.len = strlen(s);
	m.qos = 1;
	if (w->bus == NULL || gk_bus_publish(w->bus, &m, NULL) == -1)
		gk_log(GK_LOG_WARN, "ledger.alarm_failed", "event_id=%s", r->event_id);
	free(s);
	json_decref(a);
}

static void
publish_checkpoint(struct lw *w, const struct ledger_checkpoint *c)
{
	char		 root[64], ts[GK_TS_LEN], *s;
	json_t		*j;
	struct gk_bus_msg m;

	if (b64_encode(c->cp.root.b, MERKLE_HASH_LEN, root, sizeof(root)) < 0 ||
	    gk_ts_format(c->cp.time_ms, ts, sizeof(ts)) == -1)
		return;
	j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "schema",
	    "ecogate.checkpoint.v1", "site", w->cfg.site, "tree_size",
	    (json_int_t)c->cp.size, "root_hash", root, "hash",
	    merkle_alg_name(c->cp.alg), "signed_at", ts, "key_id", c->key_id,
	    "note", c->note);
	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		return;
	}
	if (w->prod != NULL && gk_stream_produce(w->prod, w->cfg.topic_checkpoint,
	    w->cfg.site, strlen(w->cfg.site), s, strlen(s), NULL, 0, NULL) == -1)
		gk_log(GK_LOG_WARN, "ledger.checkpoint_produce_failed", "size=%"
		    PRIu64, c->cp.size);
	memset(&m, 0, sizeof(m));
	m.topic = w->t_checkpoint;
	m.payload = s;
	m.len = strlen(s);
	m.qos = 1;
	m.retain = 1;
	if (w->bus != NULL)
		(void)gk_bus_publish(w->bus, &m, NULL);
	free(s);
	json_decref(j);
}

/*
 * ecogate.ledger.v1 is at least once across crashes: a record is produced after its
 * commit, and ledger_publish.next_seq moves only past what Kafka acknowledged. The
 * topic has one partition per site key, so acknowledgements come in order.
 */
static void
on_delivery(void *arg, const struct gk_stream_delivery *d)
{
	struct lw	*w = arg;
	uint64_t	 next = (uint64_t)(uintptr_t)d->msg_opaque;

	if (next == 0)
		return;		/* a checkpoint: published again at every start */
	if (d->err != 0) {
		if (w->pub_lost == 0 || next < w->pub_lost)
			w->pub_lost = next;
		gk_log(GK_LOG_WARN, "ledger.publish_failed", "seq=%" PRIu64
		    " reason=%s", next - 1, d->errstr);
		return;
	}
	if (next > w->pub_done)
		w->pub_done = next;
}

/* Moves ledger_publish.next_seq to what Kafka has acknowledged (refusals hold it). */
static void
save_published(struct lw *w)
{
	uint64_t	 next = w->pub_done;
	char		 n[24];
	const char	*p[2];

	if (w->pub_lost != 0 && w->pub_lost - 1 < next)
		next = w->pub_lost - 1;
	if (next <= w->pub_saved || w->db == NULL)
		return;
	snprintf(n, sizeof(n), "%" PRIu64, next);
	p[0] = w->cfg.site;
	p[1] = n;
	if (gk_db_cmd(w->db, "INSERT INTO ledger_publish (site, next_seq) VALUES "
	    "($1, $2) ON CONFLICT (site) DO UPDATE SET next_seq = greatest("
	    "ledger_publish.next_seq, EXCLUDED.next_seq), updated_at = now()", 2,
	    p) == 0)
		w->pub_saved = next;
}

/*
 * Produces the committed records from seq from up to (not including) seq to, page by
 * page; returns how many, or -1 when the database did not answer (w->pub_next then
 * stops where it got).
 */
static int64_t
produce_committed(struct lw *w, uint64_t from, uint64_t to)
{
	struct gk_db_res	*r;
	const char		*p[3];
	char			 a[24], b[24];
	uint64_t		 seq, next = from;
	int64_t			 n = 0;
	int			 i, rows;

	p[0] = w->cfg.site;
	snprintf(b, sizeof(b), "%" PRIu64, to > INT64_MAX ? (uint64_t)INT64_MAX : to);
	p[2] = b;
	for (;;) {
		snprintf(a, sizeof(a), "%" PRIu64, next);
		p[1] = a;
		if ((r = gk_db_exec(w->db, "SELECT seq, body FROM ledger_record WHERE "
		    "site = $1 AND seq >= $2 AND seq < $3 ORDER BY seq LIMIT 1000", 3,
		    p)) == NULL) {
			gk_log(GK_LOG_WARN, "ledger.republish_failed", "reason=%s",
			    gk_db_errmsg(w->db));
			return -1;
		}
		rows = gk_db_res_nrows(r);
		for (i = 0; i < rows; i++) {
			seq = strtoull(gk_db_res_value(r, i, 0), NULL, 10);
			if (gk_stream_produce(w->prod, w->cfg.topic_ledger, w->cfg.site,
			    strlen(w->cfg.site), gk_db_res_value(r, i, 1),
			    strlen(gk_db_res_value(r, i, 1)), NULL, 0,
			    (void *)(uintptr_t)(seq + 1)) == -1)
				gk_log(GK_LOG_WARN, "ledger.produce_failed", "seq=%"
				    PRIu64, seq);
			next = seq + 1;
			if (next > w->pub_next)
				w->pub_next = next;
			n++;
		}
		gk_db_res_free(r);
		if (rows < 1000)
			return n;
	}
}

/*
 * At start: the records committed but perhaps never acknowledged on ecogate.ledger.v1
 * (from ledger_publish.next_seq on, below seq to) are produced again.
 */
static void
republish(struct lw *w, uint64_t to)
{
	struct gk_db_res	*r;
	const char		*p[1];
	uint64_t		 next = 0;
	int64_t			 n;

	p[0] = w->cfg.site;
	if ((r = gk_db_exec(w->db, "SELECT next_seq FROM ledger_publish WHERE site = $1",
	    1, p)) == NULL) {
		gk_log(GK_LOG_WARN, "ledger.republish_failed", "reason=%s",
		    gk_db_errmsg(w->db));
		return;
	}
	if (gk_db_res_nrows(r) == 1)
		next = strtoull(gk_db_res_value(r, 0, 0), NULL, 10);
	gk_db_res_free(r);
	w->pub_saved = w->pub_done = w->pub_next = next;
	w->pub_lost = 0;
	if ((n = produce_committed(w, next, to)) == -1)
		return;
	w->pub_synced = 1;
	if (n > 0)
		gk_log(GK_LOG_INFO, "ledger.republished", "records=%" PRId64
		    " from_seq=%" PRIu64, n, next);
}

/*
 * Before the records of a batch just committed go to Kafka: a batch whose COMMIT was
 * cut off (the database restarted under it) may have committed all the same, and its
 * retry found its records there as duplicates, so nothing produced them. Every seq
 * between the last one handed to Kafka and this batch's first is such a record.
 */
static void
produce_gap(struct lw *w, uint64_t first)
{
	int64_t	 n;
	uint64_t from = w->pub_next;

	if (!w->pub_synced)
		republish(w, first);	/* the start's did not get through */
	else if (first > from && (n = produce_committed(w, from, first)) > 0)
		gk_log(GK_LOG_INFO, "ledger.republished", "records=%" PRId64
		    " from_seq=%" PRIu64 " reason=commit_in_doubt", n, from);
}

static void
maybe_checkpoint(struct lw *w, int force)
{
	struct ledger_checkpoint	c;
	char				err[256];
	uint64_t			size;

	if (w->store == NULL)
		return;
	size = ledger_store_size(w->store);
	if (size == w->cp_size)
		return;
	if (!force && size - w->cp_size < (uint64_t)w->cfg.checkpoint_every &&
	    gk_mono_ms() - w->cp_at < w->cfg.checkpoint_interval_ms)
		return;
	if (ledger_store_checkpoint(w->store, 0, &c, err, sizeof(err)) == -1) {
		gk_log(GK_LOG_WARN, "ledger.checkpoint_failed", "reason=%s", err);
		return;
	}
	w->cp_size = c.cp.size;
	w->cp_at = gk_mono_ms();
	gk_log(GK_LOG_INFO, "ledger.checkpoint", "site=%s size=%" PRIu64
	    " key_id=%s", w->cfg.site, c.cp.size, c.key_id);
	publish_checkpoint(w, &c);
	ledger_checkpoint_clear(&c);
}

/*
 * The registry row of the plate, for the record's enrichment. Returns 0 (reg filled,
 * found or not), or -1 when the database did not answer: the batch waits then,
 * rather than going in without the row.
 */
static int
registry_lookup(struct lw *w, struct record *r, struct record_registry *reg,
    struct gk_db_res **res)
{
	const char	*p[2] = { r->plate, r->colour };

	memset(reg, 0, sizeof(*reg));
	*res = gk_db_exec(w->db, "SELECT version, plate_kind, vehicle_model, "
	    "engine_no, use_nature, owner_name, nrmm_reg_code, "
	    "nrmm_produced_on::text, nrmm_pin, nrmm_machine_type FROM vehicle "
	    "WHERE plate = $1 AND plate_colour = $2", 2, p);
	if (*res == NULL)
		return -1;
	if (gk_db_res_nrows(*res) != 1)
		return 0;
	reg->found = 1;
	reg->version = strtoll(gk_db_res_value(*res, 0, 0), NULL, 10);
	reg->plate_kind = gk_db_res_value(*res, 0, 1);
	reg->vehicle_model = gk_db_res_value(*res, 0, 2);
	reg->engine_no = gk_db_res_value(*res, 0, 3);
	reg->use_nature = gk_db_res_value(*res, 0, 4);
	reg->owner_name = gk_db_res_value(*res, 0, 5);
	reg->nrmm_reg_code = gk_db_res_value(*res, 0, 6);
	reg->nrmm_produced_on = gk_db_res_value(*res, 0, 7);
	reg->nrmm_pin = gk_db_res_value(*res, 0, 8);
	reg->nrmm_machine_type = gk_db_res_value(*res, 0, 9);
	return 0;
}

/* Waiting passages whose images came, or whose wait is over, become ready. */
static void
promote(struct lw *w, int64_t now)
{
	size_t		 i, k, j;
	struct ent	*e;

	for (i = 0; i < w->nparts; i++)
		for (k = 0; k < w->parts[i].n; k++) {
			e = part_at(&w->parts[i], k);
			if (e->state != S_WAITING)
				continue;
			if (evidence_ready(w, e->rec, 0))
				e->state = S_READY;
			else if (!w->failing && now - (e->since > w->wait_from ?
			    e->since : w->wait_from) >= w->cfg.evidence_wait_ms) {
				/* A last look in the database, then missing. */
				if (!evidence_ready(w, e->rec, 1))
					for (j = 0; j < e->rec->nevidence; j++)
						e->missing +=
						    !e->rec->evidence[j].stored;
				e->state = S_READY;
			}
		}
}

/* Every entry of the batch back to READY (the batch did not commit). */
static void
unbatch(struct lw *w)
{
	size_t		 i, k;
	struct ent	*e;

	for (i = 0; i < w->nparts; i++)
		for (k = 0; k < w->parts[i].n; k++) {
			e = part_at(&w->parts[i], k);
			if (e->state == S_INBATCH)
				e->state = S_READY;
		}
}

/* Drops the committed entries, keeping each queue's order. */
static void
forget_batch(struct lw *w)
{
	size_t		 i, k, keep;
	struct part	*p;
	struct ent	*e, tmp;

	for (i = 0; i < w->nparts; i++) {
		p = &w->parts[i];
		for (k = keep = 0; k < p->n; k++) {
			e = part_at(p, k);
			if (e->state == S_INBATCH) {
				w->queued_bytes -= e->mem;
				ent_free(e);
				w->queued--;
			} else {
				tmp = *e;
				*part_at(p, keep++) = tmp;
			}
		}
		p->n = keep;
	}
	backpressure(w);
}

/*
 * One batch, when one is due (or force). Images are taken first, so a record that
 * found its image queued never commits before it. Returns 1 when a batch committed,
 * 0 when none was due, -1 when it failed (retried after a pause).
 */
static int
flush(struct lw *w, int force)
{
	struct ledger_item	*items = NULL;
	struct ledger_evidence	*evs = NULL;
	struct ledger_reject	*rjs = NULL;
	struct ledger_offset	 offs[MAXPARTS];
	struct ledger_batch	 b = { 0 };
	struct gk_db_res	**regres = NULL;
	struct ent		**recents = NULL;
	struct record_registry	 reg;
	struct ent		*e;
	struct part		*p;
	size_t			 i, k, nready = 0, max = (size_t)w->cfg.batch_size;
	size_t			 ni = 0, ne = 0, nr = 0, no = 0, taken = 0;
	int64_t			 now = gk_mono_ms(), oldest = now, t0, next;
	char			 err[300];
	int			 rc = -1, pass;

	if (w->store == NULL || now < w->retry_at)
		return 0;
	promote(w, now);
	for (i = 0; i < w->nparts; i++)
		for (k = 0; k < w->parts[i].n; k++) {
			e = part_at(&w->parts[i], k);
			if (e->state == S_READY) {
				nready++;
				if (e->since < oldest)
					oldest = e->since;
			}
		}
	if (nready == 0 || (!force && nready < max &&
	    now - oldest < w->cfg.batch_delay_ms))
		return 0;
	if (nready > max)
		nready = max;
	items = calloc(nready, sizeof(*items));
	evs = calloc(nready, sizeof(*evs));
	rjs = calloc(nready, sizeof(*rjs));
	regres = calloc(nready, sizeof(*regres));
	recents = calloc(nready, sizeof(*recents));
	if (items == NULL || evs == NULL || rjs == NULL || regres == NULL ||
	    recents == NULL)
		goto fail;
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < w->nparts; i++) {
			p = &w->parts[i];
			for (k = 0; k < p->n && taken < nready; k++) {
				e = part_at(p, k);
				if (e->state != S_READY ||
				    (pass == 0) != (e->kind == E_EVIDENCE))
					continue;
				e->state = S_INBATCH;
				taken++;
				if (e->kind == E_EVIDENCE)
					evs[ne++] = e->ev;
				else if (e->kind == E_REJECT) {
					rjs[nr].topic = p->topic;
					rjs[nr].partition = p->partition;
					rjs[nr].offset = e->offset;
					rjs[nr].reason = e->reason != NULL ?
					    e->reason : "malformed";
					rjs[nr].key = e->key;
					rjs[nr].keylen = e->keylen;
					rjs[nr].value = e->val;
					rjs[nr].vallen = e->vallen;
					nr++;
				} else if (e->kind == E_RECORD) {
					if (strcmp(e->rec->kind, "passage") == 0) {
						if (registry_lookup(w, e->rec, &reg,
						    &regres[ni]) == -1) {
							snprintf(err, sizeof(err),
							    "registry: %s",
							    gk_db_errmsg(w->db));
							goto failed;
						}
					} else
						memset(&reg, 0, sizeof(reg));
					if (record_finish(e->rec, &reg) == -1) {
						snprintf(err, sizeof(err),
						    "out of memory");
						goto failed;
					}
					record_item(e->rec, &items[ni]);
					recents[ni++] = e;
				}
			}
		}
	/* Each partition's offset: its first entry not in this batch. */
	for (i = 0; i < w->nparts; i++) {
		p = &w->parts[i];
		next = p->hi;
		for (k = 0; k < p->n; k++) {
			e = part_at(p, k);
			if (e->state != S_INBATCH) {
				next = e->offset;
				break;
			}
		}
		if (p->hi >= 0 && next > p->stored) {
			offs[no].consumer = w->cfg.kafka_group;
			offs[no].topic = p->topic;
			offs[no].partition = p->partition;
			offs[no].next_offset = next;
			no++;
		}
	}
	b.items = items;
	b.nitems = ni;
	b.evidence = evs;
	b.nevidence = ne;
	b.rejects = rjs;
	b.nrejects = nr;
	b.offsets = offs;
	b.noffsets = no;
	t0 = gk_mono_ms();
	if (ledger_store_append(w->store, &b, err, sizeof(err)) == -1)
		goto failed;
	if (w->failing || gk_mono_ms() - t0 > 1000)
		w->wait_from = gk_mono_ms();
	w->failing = 0;
	w->n_batches++;
	/* Committed: hand over, then forget what the batch held. */
	for (i = 0; w->prod != NULL && i < ni; i++)
		if (items[i].status == LEDGER_ITEM_APPENDED) {
			produce_gap(w, items[i].seq);
			break;
		}
	for (i = 0; i < ni; i++) {
		if (items[i].status == LEDGER_ITEM_APPENDED) {
			w->n_records++;
			if (items[i].seq + 1 > w->pub_next)
				w->pub_next = items[i].seq + 1;
			if (w->prod != NULL && gk_stream_produce(w->prod,
			    w->cfg.topic_ledger, w->cfg.site, strlen(w->cfg.site),
			    items[i].body, items[i].bodylen, NULL, 0,
			    (void *)(uintptr_t)(items[i].seq + 1)) == -1)
				gk_log(GK_LOG_WARN, "ledger.produce_failed",
				    "seq=%" PRIu64, items[i].seq);
			if (recents[i]->missing > 0) {
				w->n_missing++;
				gk_log(GK_LOG_WARN, "ledger.evidence_missing",
				    "event_id=%s seq=%" PRIu64 " missing=%d",
				    items[i].event_id, items[i].seq,
				    recents[i]->missing);
				alarm_missing(w, recents[i]->rec);
			}
		} else if (items[i].status == LEDGER_ITEM_DUPLICATE)
			w->n_dups++;
		else if (items[i].status == LEDGER_ITEM_INVALID)
			gk_log(GK_LOG_ERR, "ledger.record_invalid", "event_id=%s "
			    "reason=%s", items[i].event_id, items[i].reason);
		ledger_item_clear(&items[i]);
	}
	/* a batch of duplicates only: the in-doubt records may be all there is */
	if (w->prod != NULL)
		produce_gap(w, ledger_store_size(w->store));
	for (i = 0; i < no; i++) {
		p = part_get(w, offs[i].topic, offs[i].partition);
		p->stored = offs[i].next_offset;
		if (w->cons != NULL && offs[i].next_offset > 0)
			(void)gk_stream_store(w->cons, p->topic, p->partition,
			    offs[i].next_offset - 1);
	}
	forget_batch(w);
	if (w->cons != NULL && no > 0)
		(void)gk_stream_commit(w->cons, 0);
	gk_log(GK_LOG_DEBUG, "ledger.batch", "records=%zu evidence=%zu rejects=%zu "
	    "size=%" PRIu64 " ms=%" PRId64, ni, ne, nr,
	    ledger_store_size(w->store), gk_mono_ms() - t0);
	maybe_checkpoint(w, 0);
	save_published(w);
	rc = 1;
	goto out;
failed:
	w->n_failed++;
	w->failing = 1;
	gk_log(GK_LOG_WARN, "ledger.append_failed", "reason=%s records=%zu", err,
	    ni);
	w->retry_at = gk_mono_ms() + 500;
	backpressure(w);
fail:
	unbatch(w);
	for (i = 0; items != NULL && i < ni; i++)
		ledger_item_clear(&items[i]);
out:
	for (i = 0; regres != NULL && i < nready; i++)
		gk_db_res_free(regres[i]);
	free(items);
	free(evs);
	free(rjs);
	free(regres);
	free(recents);
	return rc;
}

/* ---- start and the tick ---- */

static int
start_consumer(struct lw *w)
{
	const char		*topics[4];
	const char		*conf[3];
	struct gk_stream_opts	 o;
	char			 err[256], cid[64], inst[96];

	topics[0] = w->cfg.topic_passage;
	topics[1] = w->cfg.topic_audit;
	topics[2] = w->cfg.topic_evidence;
	topics[3] = NULL;
	snprintf(cid, sizeof(cid), "%s-%s", SVC, w->cfg.instance);
	/*
	 * Static membership: a writer restarted after a crash is the same member and
	 * gets its partitions back at once, instead of waiting out the dead member's
	 * session before a rebalance hands them over.
	 */
	snprintf(inst, sizeof(inst), "group.instance.id=%s-%s", SVC, w->cfg.instance);
	conf[0] = inst;
	conf[1] = "session.timeout.ms=10000";
	conf[2] = NULL;
	memset(&o, 0, sizeof(o));
	o.brokers = w->cfg.kafka_brokers;
	o.client_id = cid;
	o.config = conf;
	o.group_id = w->cfg.kafka_group;
	o.topics = topics;
	o.on_message = on_message;
	o.start_offset = start_offset;
	o.arg = w;
	if ((w->cons = gk_stream_consumer_new(w->loop, &o, err, sizeof(err))) ==
	    NULL) {
		gk_log(GK_LOG_ERR, "ledger.consumer_failed", "reason=%s", err);
		return -1;
	}
	return 0;
}

static void
try_open(struct lw *w)
{
	struct ledger_store_opts	o = { .site = w->cfg.site,
	    .hash_alg = w->cfg.hash_alg, .key = w->key, .wait_lock = 0 };
	struct ledger_checkpoint	c;
	char				err[300];

	if ((w->store = ledger_store_open(w->db, &o, err, sizeof(err))) == NULL) {
		gk_log(GK_LOG_WARN, "ledger.open_failed", "reason=%s", err);
		if (errno == EINVAL)
			gk_loop_stop(w->loop, EX_CONFIG);
		w->open_at = gk_mono_ms() + 1000;
		return;
	}
	if (ledger_store_last_checkpoint(w->store, &c, err, sizeof(err)) == 1) {
		w->cp_size = c.cp.size;
		/* Again: the last run may have died before it reached Kafka or MQTT. */
		publish_checkpoint(w, &c);
		ledger_checkpoint_clear(&c);
	}
	republish(w, UINT64_MAX);
	w->cp_at = gk_mono_ms();
	gk_log(GK_LOG_INFO, "ledger.open", "site=%s size=%" PRIu64
	    " last_checkpoint=%" PRIu64, w->cfg.site, ledger_store_size(w->store),
	    w->cp_size);
	if (start_consumer(w) == -1)
		gk_loop_stop(w->loop, EX_SOFTWARE);
}

static void
on_tick(struct gk_loop *l, uint64_t id, void *arg)
{
	struct lw	*w = arg;

	(void)l;
	(void)id;
	if (w->store == NULL) {
		if (gk_mono_ms() >= w->open_at)
			try_open(w);
		return;
	}
	while (flush(w, 0) == 1)
		continue;
	maybe_checkpoint(w, 0);
	save_published(w);
	if (w->cons != NULL && gk_stream_fatal(w->cons))
		gk_loop_stop(w->loop, EX_SOFTWARE);
}

static int
lw_init(void *arg, struct gk_loop *loop, const char *conffile)
{
	struct lw		*w = arg;
	struct gk_bus_opts	 bo;
	struct gk_stream_opts	 po;
	char			 err[300], cid[64];
	enum merkle_alg		 alg;

	(void)conffile;
	w->loop = loop;
	if (merkle_alg_parse(w->cfg.hash_alg, &alg) == -1) {
		gk_log(GK_LOG_ERR, "ledger.config", "reason=ledger.hash must be "
		    "sha256 or sm3");
		return EX_CONFIG;
	}
	if ((w->key = checkpoint_key_load(w->cfg.key_file, err, sizeof(err))) ==
	    NULL || !checkpoint_key_can_sign(w->key)) {
		gk_log(GK_LOG_ERR, "ledger.key", "file=%s reason=%s", w->cfg.key_file,
		    w->key == NULL ? err : "not a private key");
		return EX_CONFIG;
	}
	if (gk_bus_topic(w->t_alarm, sizeof(w->t_alarm), "ecogate/v1/%s/alarm",
	    w->cfg.site) == -1 || gk_bus_topic(w->t_checkpoint,
	    sizeof(w->t_checkpoint), "ecogate/v1/%s/checkpoint", w->cfg.site) == -1 ||
	    gk_bus_topic(w->t_status, sizeof(w->t_status),
	    "ecogate/v1/%s/status/%s/%s", w->cfg.site, SVC, w->cfg.instance) == -1) {
		gk_log(GK_LOG_ERR, "ledger.config", "reason=site or instance is not "
		    "a topic level");
		return EX_CONFIG;
	}
	if ((w->db = gk_db_new(w->cfg.pg_conninfo, &(struct gk_db_opts){
	    .application_name = SVC })) == NULL)
		return EX_CONFIG;
	snprintf(cid, sizeof(cid), "%s-%s", SVC, w->cfg.instance);
	memset(&po, 0, sizeof(po));
	po.brokers = w->cfg.kafka_brokers;
	po.client_id = cid;
	po.on_delivery = on_delivery;
	po.arg = w;
	if ((w->prod = gk_stream_producer_new(loop, &po, err, sizeof(err))) == NULL) {
		gk_log(GK_LOG_ERR, "ledger.producer_failed", "reason=%s", err);
		return EX_CONFIG;
	}
	memset(&bo, 0, sizeof(bo));
	bo.url = w->cfg.mqtt_url;
	bo.username = w->cfg.mqtt_username[0] != '\0' ? w->cfg.mqtt_username : NULL;
	bo.password = w->cfg.mqtt_password[0] != '\0' ? w->cfg.mqtt_password : NULL;
	bo.client_id = cid;
	bo.status_topic = w->t_status;
	bo.version = ECOGATE_VERSION;
	bo.clean_start = 1;
	if ((w->bus = gk_bus_new(loop, &bo, err, sizeof(err))) == NULL ||
	    gk_bus_start(w->bus) == -1)
		return EX_CONFIG;
	w->timer = gk_loop_timer_add(loop, 0, TICK_MS, on_tick, w);
	return 0;
}

static void
lw_shutdown(void *arg)
{
	struct lw	*w = arg;
	size_t		 i, k;

	/* What is ready goes in now; the rest is read again at the next start. */
	if (w->store != NULL) {
		w->retry_at = 0;
		while (flush(w, 1) == 1)
			continue;
		maybe_checkpoint(w, 1);
	}
	if (w->cons != NULL) {
		(void)gk_stream_close(w->cons, 5000);
		gk_stream_free(w->cons);
	}
	if (w->prod != NULL) {
		(void)gk_stream_close(w->prod, 3000);
		save_published(w);	/* what the close flushed */
		gk_stream_free(w->prod);
	}
	gk_bus_free(w->bus);
	gk_log(GK_LOG_INFO, "ledger.stats", "records=%" PRIu64 " duplicates=%"
	    PRIu64 " rejects=%" PRIu64 " evidence=%" PRIu64 " missing=%" PRIu64
	    " batches=%" PRIu64 " failed=%" PRIu64, w->n_records, w->n_dups,
	    w->n_rejects, w->n_evidence, w->n_missing, w->n_batches, w->n_failed);
	ledger_store_close(w->store);
	gk_db_free(w->db);
	checkpoint_key_free(w->key);
	for (i = 0; i < w->nparts; i++) {
		for (k = 0; k < w->parts[i].n; k++)
			ent_free(part_at(&w->parts[i], k));
		free(w->parts[i].q);
	}
	free(w->known.k);
	free(w->known.used);
}

int
main(int argc, char *argv[])
{
	static const struct gk_daemon d = { SVC, ECOGATE_VERSION, &lw.cfg, lw_keys,
	    &lw, lw_init, NULL, lw_shutdown };

	return gk_daemon_main(&d, argc, argv);
}
