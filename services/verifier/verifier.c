/*
 * verifier: the gate's decision daemon, the imperative shell around the pure core
 * (fuse.c, policy.c, registry.c, decide.c) and the durable outbox (outbox.c).
 *
 * Plate reads arrive on ecogate/v1/{site}/lane/+/plate (MQTT 5, QoS 1, persistent
 * session). Each is parsed strictly and fed to its lane's fusion window; a closed
 * passage is looked up in the registry (Redis key ecogate:registry:{plate}|{colour},
 * a vehicle.v1 document; when Redis fails, the local snapshot file), decided under the
 * policy in force (the retained ecogate/v1/{site}/config/policy), rendered as a
 * passage-decision.v1 message, appended to the outbox and fsync'd, and only then
 * published on lane/{lane}/decision, followed for an allow by a barrier-command.v1 on
 * lane/{lane}/barrier/cmd (message expiry, correlation data = cmd_id), and produced to
 * Kafka ecogate.passage.v1 (key = site). The outbox record is marked done on Kafka's
 * delivery report; pending records are produced again at start and after failures.
 *
 * Crash safety (DESIGN §5: killed at any instant, no passage lost or doubled):
 * Paho acknowledges a read when its callback returns, so the bus's on_receive hook
 * journals each read (journal.c) on Paho's thread first; windows are fused by the
 * reads' receipt times; once a passage is in the outbox the lane's journal is
 * checkpointed; at start the reads after each lane's checkpoint are replayed through
 * the same fusion before any new message is taken. The passage event_id is derived
 * from the opening read (passage_id.c), and the outbox refuses an id it holds, so a
 * passage formed again by a replay is sent once; a read the broker redelivers is
 * dropped by the journal's memory of read ids. The policy in force is cached in
 * {outbox.dir}/policy.json so replayed reads are decided under it.
 *
 * Any message on lane/{lane}/trigger (the loop detector) ends the lane's hold, so a
 * vehicle that comes back is a new passage.
 *
 * Registry changes arrive on the compacted Kafka topic ecogate.registry.v1 (key
 * "plate|colour", value vehicle.v1, tombstone = removal): each is written to Redis and
 * appended to the snapshot file, then its offset is stored and committed.
 *
 * The snapshot (snapshot.c) is JSON lines, one change per line, the last line for a
 * key wins, kept in memory and compacted now and then:
 *	{"key":"沪A12345|yellow","vehicle":{...vehicle.v1...}}
 *	{"key":"沪A12345|yellow","vehicle":null}
 * Its age in a decision is the time since the file was last written.
 *
 * One thread (the loop's) owns all state; the adapters call back on it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <gatekit/bus.h>
#include <gatekit/cfg.h>
#include <gatekit/daemon.h>
#include <gatekit/json.h>
#include <gatekit/kv.h>
#include <gatekit/log.h>
#include <gatekit/loop.h>
#include <gatekit/stream.h>
#include <gatekit/util.h>

#include "decide.h"
#include "fuse.h"
#include "journal.h"
#include "outbox.h"
#include "passage_id.h"
#include "policy.h"
#include "registry.h"
#include "snapshot.h"

#define VERIFIER_VERSION	"0.1.0"
#define READ_DOC_MAX		(8 * 1024)	/* a plate read is a few hundred bytes */
#define LANES_MAX		POLICY_LANES_MAX
#define TOPIC_MAX		256
#define KEY_MAX			(REGISTRY_PLATE_MAX + 16)

struct verifier_cfg {
	char		*site;
	char		*instance;
	char		*mqtt_url;
	char		*mqtt_username;
	char		*mqtt_password;
	char		*mqtt_persist_dir;
	char		*kafka_brokers;
	char		*kafka_passage_topic;
	char		*kafka_registry_topic;
	int		 registry_consume;
	char		*redis_host;
	long long	 redis_port;
	char		*redis_password;
	int64_t		 redis_timeout_ms;
	char		*outbox_dir;
	char		*journal_path;
	int		 journal_fsync;
	char		*snapshot_path;
	int64_t		 barrier_expiry_ms;
	int64_t		 outbox_retry_ms;
	int64_t		 shutdown_flush_ms;
};

#define O(f)	offsetof(struct verifier_cfg, f)
static const struct gk_cfg_key verifier_keys[] = {
	{ "site", GK_CFG_STR, O(site), "site1", 1, 32, 0,
	    "plant site id, the {site} topic segment" },
	{ "instance", GK_CFG_STR, O(instance), "1", 1, 16, 0,
	    "instance id in the status topic and client ids" },
	{ "mqtt.url", GK_CFG_STR, O(mqtt_url), "tcp://127.0.0.1:1883", 0, 0, 0,
	    "MQTT broker URL" },
	{ "mqtt.username", GK_CFG_STR, O(mqtt_username), NULL, 0, 64, 0,
	    "MQTT user (the broker's ACL names it); empty: none" },
	{ "mqtt.password", GK_CFG_STR, O(mqtt_password), NULL, 0, 256, GK_CFG_SECRET,
	    "MQTT password; use ECOGATE_MQTT_PASSWORD_FILE" },
	{ "mqtt.persist_dir", GK_CFG_STR, O(mqtt_persist_dir), NULL, 0, 0, 0,
	    "where Paho keeps in-flight QoS 1 messages; empty: memory" },
	{ "kafka.brokers", GK_CFG_STR, O(kafka_brokers), "127.0.0.1:9092", 1, 0, 0,
	    "Kafka bootstrap servers" },
	{ "kafka.passage_topic", GK_CFG_STR, O(kafka_passage_topic),
	    "ecogate.passage.v1", 1, 249, 0, "where decided passages go" },
	{ "kafka.registry_topic", GK_CFG_STR, O(kafka_registry_topic),
	    "ecogate.registry.v1", 1, 249, 0, "compacted registry changes" },
	{ "registry.consume", GK_CFG_BOOL, O(registry_consume), "yes", 0, 0, 0,
	    "consume the registry topic into Redis and the snapshot" },
	{ "redis.host", GK_CFG_STR, O(redis_host), "127.0.0.1", 1, 255, 0,
	    "Redis host holding the registry cache" },
	{ "redis.port", GK_CFG_INT, O(redis_port), "6379", 1, 65535, 0,
	    "Redis port" },
	{ "redis.password", GK_CFG_STR, O(redis_password), NULL, 0, 255,
	    GK_CFG_SECRET, "Redis AUTH password; empty: none" },
	{ "redis.timeout", GK_CFG_MS, O(redis_timeout_ms), "200ms", 10, 10000, 0,
	    "connect and command timeout of a registry lookup" },
	{ "outbox.dir", GK_CFG_STR, O(outbox_dir), "/var/lib/ecogate/verifier/outbox",
	    1, 0, 0, "durable outbox directory" },
	{ "journal.path", GK_CFG_STR, O(journal_path), NULL, 0, 0, 0,
	    "journal of acknowledged reads not yet decided; empty: "
	    "{outbox.dir}/reads.journal" },
	{ "journal.fsync", GK_CFG_BOOL, O(journal_fsync), "yes", 0, 0, 0,
	    "fdatasync each read before acknowledging it (power loss)" },
	{ "snapshot.path", GK_CFG_STR, O(snapshot_path),
	    "/var/lib/ecogate/verifier/registry.jsonl", 1, 0, 0,
	    "local registry snapshot (JSON lines), used when Redis fails" },
	{ "barrier.expiry", GK_CFG_MS, O(barrier_expiry_ms), "10s", 1000, 600000, 0,
	    "validity of a barrier open command" },
	{ "outbox.retry", GK_CFG_MS, O(outbox_retry_ms), "5s", 100, 3600000, 0,
	    "how often pending outbox records are produced again" },
	{ "shutdown.flush", GK_CFG_MS, O(shutdown_flush_ms), "5s", 0, 8000, 0,
	    "how long shutdown waits for Kafka deliveries" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
};
#undef O

struct lane {
	char		 id[POLICY_LANE_ID_MAX];
	struct fuse_lane f;
	uint64_t	 timer;		/* 0: none armed */
	struct verifier	*v;
	/* Journal positions (rseq) of the lane's messages, for its checkpoints. */
	uint64_t	 open_rseq;	/* the read that opened the open window */
	uint64_t	 last_rseq;	/* the last message taken */
	int		 ck_blocked;	/* a passage failed to reach the outbox:
					 * replay everything after the last checkpoint */
};

struct counters {
	uint64_t	reads;
	uint64_t	reads_bad;
	uint64_t	passages;
	uint64_t	policy_bad;
	uint64_t	registry_bad;
	uint64_t	outbox_failed;
	uint64_t	delivered;
	uint64_t	duplicates;	/* passages the outbox already held */
	uint64_t	replayed;	/* journal messages replayed at start */
	uint64_t	lane_unknown;	/* passages on lanes the policy does not list */
	uint64_t	barrier_done;	/* our open commands the actuator carried out */
	uint64_t	barrier_failed;	/* ... it refused, found expired or failed */
};

struct verifier {
	struct verifier_cfg	 cfg;
	const char		*conffile;
	struct gk_loop		*loop;
	struct gk_bus		*bus;
	struct gk_stream	*producer;
	struct gk_stream	*consumer;
	struct gk_kv		*kv;
	struct outbox		*outbox;
	struct journal		*journal;
	struct snapshot		*snapshot;
	char			 journal_file[1024];
	char			 policy_cache[1024];
	struct policy		 policy;
	int			 nlanes;
	struct lane		 lanes[LANES_MAX];
	uint64_t		 inflight;	/* outbox records produced, unreported */
	int			 replay_needed;
	int			 redis_dirty;	/* Redis may lack snapshot changes */
	uint64_t		 retry_timer;
	char			 plate_filter[TOPIC_MAX];
	char			 trigger_filter[TOPIC_MAX];
	char			 resp_filter[TOPIC_MAX];
	char			 policy_topic[TOPIC_MAX];
	struct counters		 n;
};

static void	decide_passage(struct verifier *, struct lane *,
		    const struct fuse_passage *);
static void	arm_lane(struct verifier *, struct lane *);

/* ------------------------------------------------------------ registry */

static int
registry_key(char *buf, size_t len, const char *plate, enum gk_plate_colour c)
{
	int n = snprintf(buf, len, "ecogate:registry:%s|%s", plate,
	    registry_colour_name(c));

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * Finds the vehicle of passage p: Redis first, the snapshot when Redis fails.
 * Returns 1 (found, *out filled), 0 (not registered) with *src and *age_ms saying
 * who answered.
 */
static int
registry_lookup(struct verifier *v, const struct fuse_passage *p,
    struct vehicle *out, enum registry_source *src, int64_t *age_ms)
{
	char		 key[KEY_MAX + 32], err[256];
	char		*val = NULL;
	const char	*doc;
	size_t	 len = 0;
	int	 rc;

	*src = REGISTRY_FROM_NONE;
	*age_ms = 0;
	if (registry_key(key, sizeof(key), p->plate, p->colour) == -1)
		return 0;
	rc = gk_kv_get(v->kv, key, &val, &len);
	if (rc >= 0) {
		*src = REGISTRY_FROM_REDIS;
		if (rc == 0)
			return 0;
		rc = registry_parse(val, len, out, err, sizeof(err));
		free(val);
		if (rc == -1) {
			v->n.registry_bad++;
			gk_log(GK_LOG_WARN, "registry.bad_record", "key=%s reason=%s",
			    key, err);
			return 0;
		}
		return 1;
	}
	gk_log(GK_LOG_WARN, "registry.redis_failed", "key=%s error=%s", key,
	    gk_kv_errstr(v->kv));
	*src = REGISTRY_FROM_SNAPSHOT;
	*age_ms = snapshot_age_ms(v->snapshot, gk_wall_ms());
	if ((doc = snapshot_get(v->snapshot, key + strlen("ecogate:registry:"))) ==
	    NULL)
		return 0;
	if (registry_parse(doc, strlen(doc), out, err, sizeof(err)) == -1) {
		v->n.registry_bad++;
		gk_log(GK_LOG_WARN, "registry.bad_record", "key=%s source=snapshot "
		    "reason=%s", key, err);
		return 0;
	}
	return 1;
}

/* Records one change in the snapshot (fsync'd); a failure is logged. */
static void
snapshot_record(struct verifier *v, const char *key, const void *doc, size_t len)
{
	char *d = NULL;

	if (doc != NULL && (d = strndup(doc, len)) == NULL) {
		errno = ENOMEM;
	} else if (snapshot_put(v->snapshot, key, d) == 0) {
		free(d);
		return;
	}
	free(d);
	gk_log(GK_LOG_ERR, "snapshot.write_failed", "path=%s key=%s error=%s",
	    v->cfg.snapshot_path, key, strerror(errno));
}

/* One key of the snapshot into Redis (snapshot_foreach()); 0 or -1. */
static int
resync_one(void *arg, const char *key, const char *doc)
{
	struct verifier	*v = arg;
	char		 rkey[KEY_MAX + 32];

	if (snprintf(rkey, sizeof(rkey), "ecogate:registry:%s", key) >=
	    (int)sizeof(rkey))
		return 0;
	if (doc == NULL)
		return gk_kv_del(v->kv, rkey) == -1 ? -1 : 0;
	return gk_kv_set(v->kv, rkey, doc, strlen(doc), 0) == -1 ? -1 : 0;
}

/*
 * Writes every key of the snapshot, removals included, to Redis: after Redis missed
 * changes (it was down while the registry topic moved on, or restarted empty) it
 * holds what the snapshot holds again. Returns 0, or -1 (Redis still dirty).
 */
static int
redis_resync(struct verifier *v)
{
	struct snapshot_stats st;

	if (snapshot_foreach(v->snapshot, resync_one, v) != 0) {
		gk_log(GK_LOG_WARN, "registry.resync_failed", "error=%s",
		    gk_kv_errstr(v->kv));
		return -1;
	}
	snapshot_stats(v->snapshot, &st);
	gk_log(GK_LOG_INFO, "registry.resynced", "keys=%zu removed=%zu", st.keys,
	    st.tombstones);
	return 0;
}

/* One record of ecogate.registry.v1: into Redis and the snapshot, then its offset. */
static void
on_registry(void *arg, const struct gk_stream_message *m)
{
	struct verifier	*v = arg;
	char		 key[KEY_MAX], rkey[KEY_MAX + 32], err[256];
	json_t		*j = NULL;
	struct vehicle	 veh;
	const char	*bar;
	enum gk_plate_colour c;

	if (m->key == NULL || m->keylen == 0 || m->keylen >= sizeof(key) ||
	    memchr(m->key, '\0', m->keylen) != NULL) {
		gk_log(GK_LOG_WARN, "registry.bad_key", "partition=%d offset=%lld",
		    m->partition, (long long)m->offset);
		v->n.registry_bad++;
		goto done;
	}
	memcpy(key, m->key, m->keylen);
	key[m->keylen] = '\0';
	if ((bar = strrchr(key, '|')) == NULL || registry_colour_parse(bar + 1,
	    &c) == -1) {
		gk_log(GK_LOG_WARN, "registry.bad_key", "key=%s offset=%lld", key,
		    (long long)m->offset);
		v->n.registry_bad++;
		goto done;
	}
	snprintf(rkey, sizeof(rkey), "ecogate:registry:%s", key);
	if (m->value == NULL) {
		if (gk_kv_del(v->kv, rkey) == -1) {
			v->redis_dirty = 1;
			gk_log(GK_LOG_WARN, "registry.redis_failed", "key=%s error=%s",
			    rkey, gk_kv_errstr(v->kv));
		}
		snapshot_record(v, key, NULL, 0);
		gk_log(GK_LOG_INFO, "registry.removed", "key=%s", key);
		goto done;
	}
	if (registry_parse(m->value, m->vallen, &veh, err, sizeof(err)) == -1 ||
	    (j = gk_json_parse(m->value, m->vallen, REGISTRY_DOC_MAX, err,
	    sizeof(err))) == NULL) {
		gk_log(GK_LOG_WARN, "registry.bad_record", "key=%s offset=%lld "
		    "reason=%s", key, (long long)m->offset, err);
		v->n.registry_bad++;
		goto done;
	}
	if (strlen(veh.plate) != (size_t)(bar - key) ||
	    strncmp(veh.plate, key, (size_t)(bar - key)) != 0 || veh.colour != c) {
		/* A record under another plate's key would answer for the wrong car. */
		gk_log(GK_LOG_WARN, "registry.bad_record", "key=%s offset=%lld "
		    "reason=%s", key, (long long)m->offset,
		    "plate or colour differs from the key");
		v->n.registry_bad++;
		json_decref(j);
		goto done;
	}
	if (gk_kv_set(v->kv, rkey, m->value, m->vallen, 0) == -1) {
		v->redis_dirty = 1;
		gk_log(GK_LOG_WARN, "registry.redis_failed", "key=%s error=%s", rkey,
		    gk_kv_errstr(v->kv));
	}
	snapshot_record(v, key, m->value, m->vallen);
	json_decref(j);
	gk_log(GK_LOG_INFO, "registry.applied", "key=%s version=%lld", key,
	    (long long)veh.version);
done:
	if (gk_stream_store(v->consumer, m->topic, m->partition, m->offset) == 0)
		gk_stream_commit(v->consumer, 0);
}

/* ------------------------------------------------------------ plate reads */

/* Number of UTF-8 characters in s, or -1 when s holds a control character. */
static int
utf8_chars(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return -1;
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return n;
}

static int
is_id(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._:-", s[i]) == NULL)
			return 0;
	return 1;
}

/*
 * Parses a plate-read.v1 document strictly into *r, checking that its site and lane
 * are the topic's. Returns 0, or -1 with the reason in err.
 */
static int
parse_read(const struct verifier *v, const char *lane, const void *buf, size_t len,
    struct fuse_read *r, char *err, size_t errlen)
{
	static const char *const known[] = { "schema", "event_id", "site", "lane",
	    "ts", "plate", "colour", "confidence", "char_confidences", "bbox",
	    "source", "frame_sha256", "camera", "trigger_id", "operator",
	    "frame_id", "double_row", "model" };
	json_t		*j, *val, *cc;
	const char	*k, *s, *src;
	char		 perr[160];
	size_t		 i;
	int		 rc;

	memset(r, 0, sizeof(*r));
	if ((j = gk_json_parse(buf, len, READ_DOC_MAX, perr, sizeof(perr))) == NULL) {
		gk_errf(err, errlen, "json: %s", perr);
		return -1;
	}
	if (!json_is_object(j)) {
		gk_errf(err, errlen, "not an object");
		goto fail;
	}
	json_object_foreach(j, k, val) {
		for (i = 0; i < GK_NELEM(known); i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (i == GK_NELEM(known)) {
			gk_errf(err, errlen, "%s: unknown field", k);
			goto fail;
		}
	}
#define REQ_STR(name)	do {						\
	if ((rc = gk_json_get_str(j, name, &s)) != GK_JSON_OK) {	\
		gk_errf(err, errlen, "%s: %s", name, gk_json_strerror(rc)); \
		goto fail;						\
	}								\
} while (0)
	REQ_STR("schema");
	if (strcmp(s, "ecogate.plate-read.v1") != 0) {
		gk_errf(err, errlen, "schema: not ecogate.plate-read.v1");
		goto fail;
	}
	REQ_STR("event_id");
	if (!gk_id_canonical(s)) {
		gk_errf(err, errlen, "event_id: not a lowercase UUID");
		goto fail;
	}
	gk_strlcpy(r->event_id, s, sizeof(r->event_id));
	REQ_STR("site");
	if (strcmp(s, v->cfg.site) != 0) {
		gk_errf(err, errlen, "site: not this site's (%s)", v->cfg.site);
		goto fail;
	}
	REQ_STR("lane");
	if (strcmp(s, lane) != 0) {
		gk_errf(err, errlen, "lane: not the topic's lane");
		goto fail;
	}
	REQ_STR("ts");
	if (gk_ts_parse(s, &r->wall_ms) == -1) {
		gk_errf(err, errlen, "ts: not an RFC 3339 timestamp");
		goto fail;
	}
	REQ_STR("plate");
	rc = utf8_chars(s);
	if (rc < 1 || rc > 16 || strlen(s) >= sizeof(r->plate)) {
		gk_errf(err, errlen, "plate: not 1 to 16 printable characters");
		goto fail;
	}
	gk_strlcpy(r->plate, s, sizeof(r->plate));
	REQ_STR("colour");
	if (registry_colour_parse(s, &r->colour) == -1) {
		gk_errf(err, errlen, "colour: not a known colour");
		goto fail;
	}
	if ((rc = gk_json_get_double(j, "confidence", &r->confidence)) != GK_JSON_OK) {
		gk_errf(err, errlen, "confidence: %s", gk_json_strerror(rc));
		goto fail;
	}
	if (!(r->confidence >= 0.0 && r->confidence <= 1.0)) {
		gk_errf(err, errlen, "confidence: not within 0..1");
		goto fail;
	}
	REQ_STR("source");
	src = s;
	if (strcmp(src, "lpr") != 0 && strcmp(src, "anpr") != 0 &&
	    strcmp(src, "rfid") != 0 && strcmp(src, "manual") != 0) {
		gk_errf(err, errlen, "source: not lpr, anpr, rfid or manual");
		goto fail;
	}
	if ((cc = json_object_get(j, "char_confidences")) != NULL) {
		if (!json_is_array(cc) || json_array_size(cc) > FUSE_CHARS_MAX) {
			gk_errf(err, errlen, "char_confidences: not an array of at "
			    "most %d numbers", FUSE_CHARS_MAX);
			goto fail;
		}
		json_array_foreach(cc, i, val) {
			double d = json_number_value(val);
			if (!json_is_number(val) || !(d >= 0.0 && d <= 1.0)) {
				gk_errf(err, errlen, "char_confidences/%zu: not a "
				    "number within 0..1", i);
				goto fail;
			}
			r->char_conf[i] = d;
		}
		r->nchar_conf = (int)json_array_size(cc);
	}
	if ((rc = gk_json_get_str(j, "trigger_id", &s)) == GK_JSON_OK) {
		if (!is_id(s)) {
			gk_errf(err, errlen, "trigger_id: not an id");
			goto fail;
		}
		gk_strlcpy(r->trigger_id, s, sizeof(r->trigger_id));
	} else if (rc != GK_JSON_ABSENT) {
		gk_errf(err, errlen, "trigger_id: %s", gk_json_strerror(rc));
		goto fail;
	}
	for (i = 0; i < 2; i++) {
		const char *f = i == 0 ? "camera" : "operator";
		if ((rc = gk_json_get_str(j, f, &s)) == GK_JSON_OK ? !is_id(s) :
		    rc != GK_JSON_ABSENT) {
			gk_errf(err, errlen, "%s: not an id", f);
			goto fail;
		}
	}
	if (strcmp(src, "manual") == 0 && json_object_get(j, "operator") == NULL) {
		gk_errf(err, errlen, "operator: required for a manual read");
		goto fail;
	}
	if ((rc = gk_json_get_str(j, "frame_sha256", &s)) == GK_JSON_OK ?
	    strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64 :
	    rc != GK_JSON_ABSENT) {
		gk_errf(err, errlen, "frame_sha256: not 64 lowercase hex digits");
		goto fail;
	}
	if (rc == GK_JSON_OK)
		gk_strlcpy(r->frame_sha256, s, sizeof(r->frame_sha256));
	if ((val = json_object_get(j, "bbox")) != NULL) {
		static const char *const bk[] = { "x", "y", "w", "h" };
		long long n;

		if (!json_is_object(val) || json_object_size(val) != 4) {
			gk_errf(err, errlen, "bbox: not an object of x, y, w, h");
			goto fail;
		}
		for (i = 0; i < 4; i++)
			if (gk_json_get_int(val, bk[i], &n) != GK_JSON_OK || n < 0) {
				gk_errf(err, errlen, "bbox/%s: not an integer >= 0",
				    bk[i]);
				goto fail;
			}
	}
#undef REQ_STR
	json_decref(j);
	return 0;
fail:
	json_decref(j);
	return -1;
}

static struct lane *
lane_get(struct verifier *v, const char *id)
{
	int i;

	for (i = 0; i < v->nlanes; i++)
		if (strcmp(v->lanes[i].id, id) == 0)
			return &v->lanes[i];
	if (v->nlanes == LANES_MAX) {
		/*
		 * Full (a flood of made-up lane ids must not lock real lanes out for
		 * good): reuse a lane with no window, no hold and no timer.
		 */
		for (i = 0; i < v->nlanes; i++)
			if (v->lanes[i].f.state == FUSE_IDLE &&
			    v->lanes[i].f.hold_until_ms == 0 && v->lanes[i].timer == 0)
				break;
		if (i == v->nlanes)
			return NULL;
	} else
		v->nlanes++;
	memset(&v->lanes[i], 0, sizeof(v->lanes[i]));
	gk_strlcpy(v->lanes[i].id, id, sizeof(v->lanes[i].id));
	fuse_lane_init(&v->lanes[i].f);
	v->lanes[i].v = v;
	return &v->lanes[i];
}

static void
on_lane_timer(struct gk_loop *l, uint64_t id, void *arg)
{
	struct lane		*ln = arg;
	struct verifier		*v = ln->v;
	struct fuse_passage	 p;

	(void)l;
	(void)id;
	ln->timer = 0;
	if (fuse_tick(&ln->f, &v->policy.fusion, gk_mono_ms(), &p) == FUSE_CLOSED)
		decide_passage(v, ln, &p);
	arm_lane(v, ln);
}

/* (Re-)arms the lane's timer at its fusion deadline. */
static void
arm_lane(struct verifier *v, struct lane *ln)
{
	int64_t d = fuse_deadline(&ln->f, &v->policy.fusion);

	if (ln->timer != 0) {
		gk_loop_timer_cancel(v->loop, ln->timer);
		ln->timer = 0;
	}
	if (d >= 0) {
		d -= gk_mono_ms();
		ln->timer = gk_loop_timer_add(v->loop, d < 0 ? 0 : d, 0,
		    on_lane_timer, ln);
	}
}

static void
bad_read(struct verifier *v, const char *topic, const char *reason)
{
	v->n.reads_bad++;
	gk_log(GK_LOG_WARN, "read.rejected", "topic=%s reason=%s rejected=%llu",
	    topic, reason, (unsigned long long)v->n.reads_bad);
}

/*
 * One plate read of lane_id, live or replayed from the journal: rseq is its journal
 * position (0: not journaled, which only a read failing to parse can be) and now_ms
 * the monotonic time it was received. Fusing by receipt time rather than by the time
 * the loop gets to it is what lets a replay form the very windows the live run did.
 */
static void
take_read(struct verifier *v, const char *topic, const char *lane_id,
    const void *payload, size_t len, uint64_t rseq, int64_t now_ms)
{
	struct fuse_read	 r;
	struct fuse_passage	 p;
	struct lane		*ln;
	char			 err[256];
	enum fuse_rc		 rc;

	v->n.reads++;
	if (parse_read(v, lane_id, payload, len, &r, err, sizeof(err)) == -1) {
		bad_read(v, topic, err);
		return;
	}
	if ((ln = lane_get(v, lane_id)) == NULL) {
		bad_read(v, topic, "too many lanes");
		return;
	}
	if (rseq > ln->last_rseq)
		ln->last_rseq = rseq;
	rc = fuse_offer(&ln->f, &v->policy.fusion, &r, now_ms, &p);
	/* This read opened the lane's window (perhaps right after closing one). */
	if (ln->f.state == FUSE_OPEN && ln->f.nslots > 0 &&
	    strcmp(ln->f.slots[0].r.event_id, r.event_id) == 0)
		ln->open_rseq = rseq;
	gk_log(GK_LOG_DEBUG, "read.accepted", "lane=%s plate=%s event_id=%s rc=%d "
	    "rseq=%llu", lane_id, r.plate, r.event_id, (int)rc,
	    (unsigned long long)rseq);
	if (rc == FUSE_CLOSED)
		decide_passage(v, ln, &p);
	arm_lane(v, ln);
}

static void
on_plate(struct verifier *v, const struct gk_bus_msg *m, const char *lane_id)
{
	take_read(v, m->topic, lane_id, m->payload, m->len, m->tag,
	    m->recv_ms > 0 ? m->recv_ms : gk_mono_ms());
}

/* A loop detector saw a vehicle arrive on lane_id: the hold of the last one ends. */
static void
take_trigger(struct verifier *v, const char *lane_id, uint64_t rseq)
{
	struct lane	*ln;
	int		 i;

	for (i = 0, ln = v->lanes; i < v->nlanes; i++, ln++)
		if (strcmp(ln->id, lane_id) == 0) {
			if (rseq > ln->last_rseq)
				ln->last_rseq = rseq;
			fuse_trigger(&ln->f);
			arm_lane(v, ln);
			gk_log(GK_LOG_DEBUG, "lane.trigger", "lane=%s", lane_id);
		}
}

/*
 * The policy in force is kept in {outbox.dir}/policy.json (written to a temporary
 * file, fsync'd, renamed), so that a restarted verifier decides its replayed reads,
 * and any read the broker hands over before the retained policy, under the policy
 * the plant set rather than the built-in default.
 */
static void
policy_cache_write(struct verifier *v, const void *doc, size_t len)
{
	char	 tmp[sizeof(v->policy_cache) + 8];
	int	 fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", v->policy_cache);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1) {
		gk_log(GK_LOG_WARN, "policy.cache_failed", "path=%s error=%s", tmp,
		    strerror(errno));
		return;
	}
	ok = write(fd, doc, len) == (ssize_t)len && fdatasync(fd) == 0;
	if (close(fd) != 0 || !ok || rename(tmp, v->policy_cache) == -1) {
		gk_log(GK_LOG_WARN, "policy.cache_failed", "path=%s error=%s",
		    v->policy_cache, strerror(errno));
		unlink(tmp);
	}
}

static void
policy_cache_read(struct verifier *v)
{
	struct policy	 np;
	char		 err[256], *buf;
	FILE		*fp;
	size_t		 n;

	if ((fp = fopen(v->policy_cache, "r")) == NULL)
		return;
	if ((buf = malloc(POLICY_DOC_MAX + 1)) == NULL) {
		fclose(fp);
		return;
	}
	n = fread(buf, 1, POLICY_DOC_MAX + 1, fp);
	fclose(fp);
	if (n > POLICY_DOC_MAX || policy_parse(buf, n, &np, err, sizeof(err)) == -1)
		gk_log(GK_LOG_WARN, "policy.cache_rejected", "path=%s reason=%s",
		    v->policy_cache, n > POLICY_DOC_MAX ? "too long" : err);
	else {
		v->policy = np;
		gk_log(GK_LOG_INFO, "policy.loaded", "version=%s level=%s "
		    "source=cache", v->policy.version,
		    policy_level_name(v->policy.level));
	}
	free(buf);
}

static void
on_policy(struct verifier *v, const struct gk_bus_msg *m)
{
	struct policy	 np;
	char		 err[256];

	if (m->len == 0) {
		gk_log(GK_LOG_WARN, "policy.cleared", "kept=%s", v->policy.version);
		return;
	}
	if (policy_parse(m->payload, m->len, &np, err, sizeof(err)) == -1) {
		v->n.policy_bad++;
		gk_log(GK_LOG_ERR, "policy.rejected", "topic=%s reason=%s kept=%s",
		    m->topic, err, v->policy.version);
		return;
	}
	v->policy = np;
	gk_log(GK_LOG_INFO, "policy.loaded", "version=%s level=%s source=mqtt",
	    v->policy.version, policy_level_name(v->policy.level));
	policy_cache_write(v, m->payload, m->len);
}

/* The {lane} level of ecogate/v1/{site}/lane/{lane}/..., into lane; 0 or -1. */
static int
topic_lane(const struct verifier *v, const char *topic, char *lane, size_t len)
{
	const char	*s, *e;
	size_t		 n;

	s = topic + strlen("ecogate/v1/") + strlen(v->cfg.site) + strlen("/lane/");
	if ((e = strchr(s, '/')) == NULL || (n = (size_t)(e - s)) >= len)
		return -1;
	memcpy(lane, s, n);
	lane[n] = '\0';
	return gk_topic_id_valid(lane) ? 0 : -1;
}

/*
 * The barrier-actuator's answer (barrier-response.v1) to one of our open commands.
 * A vehicle we allowed whose barrier did not open (the command expired on the way,
 * the barrier faulted) is the operator's to handle: said loudly and counted. The
 * actuator raises the device alarm itself.
 */
static void
on_barrier_answer(struct verifier *v, const struct gk_bus_msg *m)
{
	char		 err[160], lane[POLICY_LANE_ID_MAX];
	const char	*result = NULL, *cmd_id = NULL, *code = NULL;
	json_t		*j;

	if (topic_lane(v, m->topic, lane, sizeof(lane)) == -1)
		gk_strlcpy(lane, "?", sizeof(lane));
	if ((j = gk_json_parse(m->payload, m->len, READ_DOC_MAX, err,
	    sizeof(err))) == NULL || !json_is_object(j) ||
	    gk_json_get_str(j, "result", &result) != GK_JSON_OK ||
	    gk_json_get_str(j, "cmd_id", &cmd_id) != GK_JSON_OK) {
		gk_log(GK_LOG_WARN, "barrier.answer_bad", "topic=%s reason=%s",
		    m->topic, j == NULL ? err : "no result or cmd_id");
		json_decref(j);
		return;
	}
	(void)gk_json_get_str(j, "code", &code);
	if (strcmp(result, "done") == 0) {
		v->n.barrier_done++;
		gk_log(GK_LOG_INFO, "barrier.answer", "lane=%s cmd_id=%s result=%s",
		    lane, cmd_id, result);
	} else {
		v->n.barrier_failed++;
		gk_log(GK_LOG_WARN, "barrier.not_opened", "lane=%s cmd_id=%s "
		    "result=%s code=%s failed_total=%llu", lane, cmd_id, result,
		    code != NULL ? code : "", (unsigned long long)v->n.barrier_failed);
	}
	json_decref(j);
}

static void
on_message(void *arg, const struct gk_bus_msg *m)
{
	struct verifier	*v = arg;
	char		 lane[POLICY_LANE_ID_MAX];

	if (strcmp(m->topic, v->policy_topic) == 0) {
		on_policy(v, m);
	} else if (gk_bus_topic_match(v->plate_filter, m->topic)) {
		if (topic_lane(v, m->topic, lane, sizeof(lane)) == -1)
			bad_read(v, m->topic, "lane not a topic id of 1 to 32 characters");
		else
			on_plate(v, m, lane);
	} else if (gk_bus_topic_match(v->trigger_filter, m->topic)) {
		if (topic_lane(v, m->topic, lane, sizeof(lane)) == -1)
			return;
		take_trigger(v, lane, m->tag);
	} else if (gk_bus_topic_match(v->resp_filter, m->topic)) {
		on_barrier_answer(v, m);
	} else
		gk_log(GK_LOG_WARN, "bus.unexpected", "topic=%s", m->topic);
}

/*
 * Paho's thread, before the broker gets its PUBACK: every plate read with a usable
 * event_id and every trigger goes into the journal first, so a read the broker
 * forgets is one we can replay. Only v's read-only topic filters and the journal
 * (which locks) are touched here. A read the journal has already taken is a
 * redelivery: acknowledged and dropped. A read that cannot be written is left with
 * Paho, unacknowledged. Anything else (policy, unparsable reads) passes untouched.
 */
static int
on_receive(void *arg, struct gk_bus_msg *m)
{
	struct verifier	*v = arg;
	char		 lane[POLICY_LANE_ID_MAX], err[160];
	char		 id[GK_ID_LEN] = "";
	const char	*s;
	enum journal_kind kind;
	json_t		*j;
	uint64_t	 rseq = 0;
	int		 rc;

	if (gk_bus_topic_match(v->plate_filter, m->topic))
		kind = JOURNAL_READ;
	else if (gk_bus_topic_match(v->trigger_filter, m->topic))
		kind = JOURNAL_TRIGGER;
	else
		return 0;
	if (topic_lane(v, m->topic, lane, sizeof(lane)) == -1)
		return 0;
	if (kind == JOURNAL_READ) {
		if ((j = gk_json_parse(m->payload, m->len, READ_DOC_MAX, err,
		    sizeof(err))) == NULL)
			return 0;
		if (json_is_object(j) && gk_json_get_str(j, "event_id", &s) ==
		    GK_JSON_OK && gk_id_canonical(s))
			gk_strlcpy(id, s, sizeof(id));
		json_decref(j);
		if (id[0] == '\0')
			return 0;	/* rejected on the loop; nothing to replay */
	}
	rc = journal_append(v->journal, kind, lane, id, m->recv_ms, m->payload,
	    kind == JOURNAL_READ ? m->len : 0, &rseq);
	if (rc == 1) {
		m->tag = rseq;
		return 0;
	}
	if (rc == 0) {
		gk_log(GK_LOG_INFO, "read.duplicate", "lane=%s event_id=%s dup=%d",
		    lane, id, m->dup);
		return 1;
	}
	gk_log(GK_LOG_ERR, "journal.write_failed", "path=%s lane=%s event_id=%s "
	    "error=%s", v->journal_file, lane, id, strerror(errno));
	return -1;
}

static void
on_state(void *arg, int connected, const char *why)
{
	(void)arg;
	gk_log(connected ? GK_LOG_INFO : GK_LOG_WARN, "verifier.mqtt", "connected=%d "
	    "why=%s", connected, why);
}

static void
on_published(void *arg, void *opaque, int ok, const char *why)
{
	(void)arg;
	if (!ok)
		gk_log(GK_LOG_WARN, "publish.failed", "what=%s why=%s",
		    (const char *)opaque, why);
}

/* ------------------------------------------------------------ outbox -> Kafka */

static int
produce_record(void *arg, uint64_t seq, const char *event_id, const char *key,
    const void *payload, size_t len)
{
	struct verifier		*v = arg;
	struct gk_stream_header	 h = { "event_id", event_id, strlen(event_id) };

	if (gk_stream_produce(v->producer, v->cfg.kafka_passage_topic, key,
	    strlen(key), payload, len, &h, 1, (void *)(uintptr_t)seq) == -1) {
		v->replay_needed = 1;
		return 1;	/* stop: the retry timer goes on later */
	}
	v->inflight++;
	return 0;
}

static void
on_delivery(void *arg, const struct gk_stream_delivery *d)
{
	struct verifier	*v = arg;
	uint64_t	 seq = (uint64_t)(uintptr_t)d->msg_opaque;

	if (v->inflight > 0)
		v->inflight--;
	if (d->err != 0) {
		v->replay_needed = 1;
		gk_log(GK_LOG_WARN, "passage.delivery_failed", "seq=%llu error=%s",
		    (unsigned long long)seq, d->errstr);
		return;
	}
	v->n.delivered++;
	if (outbox_mark_done(v->outbox, seq) == -1)
		gk_log(GK_LOG_ERR, "outbox.mark_failed", "seq=%llu error=%s",
		    (unsigned long long)seq, strerror(errno));
	gk_log(GK_LOG_DEBUG, "passage.delivered", "seq=%llu partition=%d "
	    "offset=%lld", (unsigned long long)seq, d->partition,
	    (long long)d->offset);
}

/* Produces every pending outbox record again, unless some are still in flight. */
static void
replay(struct verifier *v)
{
	if (v->inflight > 0)
		return;
	v->replay_needed = 0;
	if (outbox_pending(v->outbox, 0, produce_record, v) == -1) {
		v->replay_needed = 1;
		gk_log(GK_LOG_ERR, "outbox.read_failed", "dir=%s", v->cfg.outbox_dir);
	}
}

static void
on_retry(struct gk_loop *l, uint64_t id, void *arg)
{
	struct verifier *v = arg;

	(void)l;
	(void)id;
	if (v->replay_needed)
		replay(v);
	if (v->redis_dirty && gk_kv_ping(v->kv) == 0 && redis_resync(v) == 0)
		v->redis_dirty = 0;
	outbox_sync(v->outbox);	/* makes the lazy done marks durable */
	journal_maybe_compact(v->journal);
}

static void
on_stream_error(void *arg, int fatal, const char *reason)
{
	struct verifier *v = arg;

	if (fatal) {
		gk_log(GK_LOG_ERR, "verifier.kafka_fatal", "reason=%s", reason);
		gk_loop_stop(v->loop, EX_SOFTWARE);
	}
}

/* ------------------------------------------------------------ deciding */

static void
publish_barrier(struct verifier *v, const char *lane, const char *event_id,
    int64_t now)
{
	char			 topic[TOPIC_MAX], resp[TOPIC_MAX], cmd_id[GK_ID_LEN];
	char			 ts[GK_TS_LEN], *doc;
	json_t			*j, *o;
	struct gk_bus_msg	 m;

	if (gk_id_new(cmd_id) == -1 || gk_ts_format(now, ts, sizeof(ts)) == -1 ||
	    gk_bus_topic(topic, sizeof(topic), "ecogate/v1/%s/lane/%s/barrier/cmd",
	    v->cfg.site, lane) == -1 ||
	    gk_bus_topic(resp, sizeof(resp), "ecogate/v1/%s/lane/%s/barrier/resp/"
	    "verifier-%s", v->cfg.site, lane, v->cfg.instance) == -1) {
		gk_log(GK_LOG_ERR, "barrier.cmd_failed", "lane=%s", lane);
		return;
	}
	j = json_object();
	json_object_set_new(j, "schema", json_string("ecogate.barrier-command.v1"));
	json_object_set_new(j, "cmd_id", json_string(cmd_id));
	json_object_set_new(j, "site", json_string(v->cfg.site));
	json_object_set_new(j, "lane", json_string(lane));
	json_object_set_new(j, "action", json_string("open"));
	o = json_object();
	json_object_set_new(o, "code", json_string("decision.allow"));
	json_object_set_new(j, "reason", o);
	o = json_object();
	json_object_set_new(o, "kind", json_string("service"));
	json_object_set_new(o, "id", json_string("verifier"));
	json_object_set_new(j, "who", o);
	json_object_set_new(j, "event_id", json_string(event_id));
	json_object_set_new(j, "ts", json_string(ts));
	json_object_set_new(j, "expires_ms", json_integer(v->cfg.barrier_expiry_ms));
	doc = gk_json_dump_compact(j);
	json_decref(j);
	if (doc == NULL)
		return;
	memset(&m, 0, sizeof(m));
	m.topic = topic;
	m.payload = doc;
	m.len = strlen(doc);
	m.qos = 1;
	m.expiry_s = (uint32_t)((v->cfg.barrier_expiry_ms + 999) / 1000);
	m.response_topic = resp;
	m.correlation = cmd_id;
	m.correlation_len = strlen(cmd_id);
	m.content_type = "application/json";
	if (gk_bus_publish(v->bus, &m, "barrier") == -1)
		gk_log(GK_LOG_ERR, "barrier.cmd_failed", "lane=%s error=%s", lane,
		    strerror(errno));
	free(doc);
}

/*
 * The passage's reads are durable in the outbox: the journal may forget the lane's
 * messages up to the open window (or all taken so far) and keeps the hold.
 */
static void
checkpoint(struct verifier *v, struct lane *ln)
{
	struct journal_hold	 h;
	uint64_t		 floor;

	if (ln->ck_blocked)
		return;
	floor = ln->f.state == FUSE_OPEN ? ln->open_rseq : ln->last_rseq + 1;
	memset(&h, 0, sizeof(h));
	gk_strlcpy(h.plate, ln->f.held_plate, sizeof(h.plate));
	gk_strlcpy(h.trigger, ln->f.held_trigger, sizeof(h.trigger));
	h.until_mono_ms = ln->f.hold_until_ms;
	if (journal_checkpoint(v->journal, ln->id, floor, &h) == -1)
		gk_log(GK_LOG_ERR, "journal.checkpoint_failed", "lane=%s error=%s",
		    ln->id, strerror(errno));
}

/*
 * A passage closed on lane ln: look the vehicle up, decide, make it durable, act.
 * The outbox sync comes first: a decision that was acted upon is never lost. The
 * event_id is derived from the opening read (passage_id.h), so a passage formed
 * again from replayed reads is the one the outbox already holds: then the decision
 * is published again (consumers dedupe by event_id) but the barrier is not opened a
 * second time, since the vehicle may be long gone and another behind it.
 */
static void
decide_passage(struct verifier *v, struct lane *ln, const struct fuse_passage *p)
{
	struct vehicle		 veh;
	struct decide_input	 in;
	struct decision		 d;
	struct gk_bus_msg	 m;
	char			 event_id[GK_ID_LEN], topic[TOPIC_MAX], err[256];
	char			*doc;
	uint64_t		 seq;
	int64_t			 now = gk_wall_ms(), t0;
	int			 found, rc, dup = 0;

	v->n.passages++;
	event_id[0] = '\0';
	memset(&in, 0, sizeof(in));
	found = 0;
	if (p->plate_ok)
		found = registry_lookup(v, p, &veh, &in.source, &in.registry_age_ms);
	else
		in.source = REGISTRY_FROM_NONE;
	in.passage = p;
	in.vehicle = found == 1 ? &veh : NULL;
	in.policy = &v->policy;
	in.lane = ln->id;
	in.now_wall_ms = now;
	decide(&in, &d);
	if (p->nids < 1 || gk_id_time(p->read_ids[0], &t0) == -1)
		t0 = p->first_wall_ms;
	if ((p->nids > 0 ? passage_id(event_id, v->cfg.site, p->read_ids[0], t0) :
	    gk_id_new(event_id)) == -1 ||
	    (doc = decide_render(&d, p, event_id, v->cfg.site, ln->id,
	    p->first_wall_ms, now, err, sizeof(err))) == NULL) {
		gk_log(GK_LOG_ERR, "passage.render_failed", "lane=%s plate=%s "
		    "reason=%s", ln->id, p->plate, event_id[0] ? err : "no id");
		return;
	}
	if ((rc = outbox_append(v->outbox, event_id, v->cfg.site, doc, strlen(doc),
	    &seq)) == -1 && errno == EEXIST) {
		dup = 1;
		v->n.duplicates++;
		gk_log(GK_LOG_WARN, "passage.duplicate", "lane=%s plate=%s event_id=%s "
		    "seq=%llu", ln->id, p->plate, event_id, (unsigned long long)seq);
	} else if (rc == -1 || outbox_sync(v->outbox) == -1) {
		/*
		 * Not durable: acting on it could lose a passage the barrier let
		 * through. The gate stays shut; the operator sees the error. The
		 * lane's journal stops moving on, so a restart replays its reads.
		 */
		v->n.outbox_failed++;
		ln->ck_blocked = 1;
		gk_log(GK_LOG_ERR, "outbox.append_failed", "lane=%s plate=%s "
		    "event_id=%s error=%s", ln->id, p->plate, event_id,
		    strerror(errno));
		free(doc);
		return;
	}
	checkpoint(v, ln);
	if (gk_bus_topic(topic, sizeof(topic), "ecogate/v1/%s/lane/%s/decision",
	    v->cfg.site, ln->id) == 0) {
		memset(&m, 0, sizeof(m));
		m.topic = topic;
		m.payload = doc;
		m.len = strlen(doc);
		m.qos = 1;
		m.content_type = "application/json";
		if (gk_bus_publish(v->bus, &m, "decision") == -1)
			gk_log(GK_LOG_ERR, "decision.publish_failed", "lane=%s "
			    "error=%s", ln->id, strerror(errno));
	}
	if (d.result == DECIDE_ALLOW && !dup)
		publish_barrier(v, ln->id, event_id, now);
	if (!dup && (v->inflight > 0 || !v->replay_needed))
		produce_record(v, seq, event_id, v->cfg.site, doc, strlen(doc));
	if (v->policy.nlanes > 0 && decide_has_reason(&d, "lane.unknown")) {
		/*
		 * The policy lists its lanes and this is not one: decided as an entry
		 * lane (decide.h), but a camera or the policy is misconfigured.
		 */
		v->n.lane_unknown++;
		gk_log(GK_LOG_WARN, "lane.unknown", "lane=%s plate=%s event_id=%s "
		    "total=%llu hint=%s", ln->id, d.plate, event_id,
		    (unsigned long long)v->n.lane_unknown,
		    "add the lane to the policy's lanes");
	}
	gk_log(GK_LOG_INFO, "passage.decided", "lane=%s plate=%s result=%s reason=%s "
	    "policy=%s registry=%s event_id=%s reads=%d",
	    ln->id, d.plate, decide_result_name(d.result), d.reasons[0],
	    d.policy_version, registry_source_name(d.source), event_id, p->reads);
	free(doc);
}

/* ------------------------------------------------------------ life cycle */

/*
 * SIGHUP: the settings read per use (barrier.expiry and shutdown.flush) change live;
 * identities, servers and paths need a restart, since the subscriptions and open
 * handles are made from them.
 */
static void
verifier_reload(void *arg, const char *conffile)
{
	struct verifier		*v = arg;
	struct verifier_cfg	 nc;
	char			 err[512];

	memset(&nc, 0, sizeof(nc));
	if (gk_cfg_load(&nc, verifier_keys, conffile, err, sizeof(err)) == -1) {
		gk_log(GK_LOG_ERR, "verifier.reload_failed", "reason=%s", err);
		return;
	}
	v->cfg.barrier_expiry_ms = nc.barrier_expiry_ms;
	v->cfg.shutdown_flush_ms = nc.shutdown_flush_ms;
	gk_cfg_free(&nc, verifier_keys);
	gk_log(GK_LOG_INFO, "verifier.reloaded", "conf=%s barrier_expiry_ms=%lld "
	    "shutdown_flush_ms=%lld", conffile != NULL ? conffile : "(none)",
	    (long long)v->cfg.barrier_expiry_ms,
	    (long long)v->cfg.shutdown_flush_ms);
}

/* journal_replay(): a lane's hold as the last checkpoint left it. */
static int
replay_hold(void *arg, const char *lane_id, const struct journal_hold *h)
{
	struct verifier	*v = arg;
	struct lane	*ln;

	if (!gk_topic_id_valid(lane_id) || (ln = lane_get(v, lane_id)) == NULL)
		return 0;
	gk_strlcpy(ln->f.held_plate, h->plate, sizeof(ln->f.held_plate));
	gk_strlcpy(ln->f.held_trigger, h->trigger, sizeof(ln->f.held_trigger));
	ln->f.hold_until_ms = h->until_mono_ms != 0 ? h->until_mono_ms : 1;
	return 0;
}

/* journal_replay(): one message, taken as if it had just arrived back then. */
static int
replay_msg(void *arg, const struct journal_msg *m)
{
	struct verifier	*v = arg;
	char		 topic[TOPIC_MAX];

	if (!gk_topic_id_valid(m->lane))
		return 0;
	v->n.replayed++;
	if (m->kind == JOURNAL_TRIGGER) {
		take_trigger(v, m->lane, m->rseq);
		return 0;
	}
	snprintf(topic, sizeof(topic), "ecogate/v1/%s/lane/%s/plate", v->cfg.site,
	    m->lane);
	take_read(v, topic, m->lane, m->payload, m->len, m->rseq, m->mono_ms);
	return 0;
}

static int
verifier_setup(struct verifier *v)
{
	struct gk_bus_opts	 bo;
	struct gk_stream_opts	 so;
	struct gk_kv_opts	 ko;
	struct journal_opts	 jo;
	char			 err[512], status[TOPIC_MAX];
	int			 n;
	char			 client_id[GK_BUS_CLIENT_ID_LEN];
	const char		*topics[2];

	policy_default(&v->policy);
	if (!gk_topic_id_valid(v->cfg.site) || !gk_topic_id_valid(v->cfg.instance)) {
		gk_log(GK_LOG_ERR, "verifier.init_failed", "what=ids site=%s "
		    "instance=%s reason=%s", v->cfg.site, v->cfg.instance,
		    "not [a-z0-9][a-z0-9_-]{0,31}");
		return -1;
	}

	if ((v->outbox = outbox_open(v->cfg.outbox_dir, NULL, err,
	    sizeof(err))) == NULL) {
		gk_log(GK_LOG_ERR, "verifier.init_failed", "what=outbox dir=%s "
		    "reason=%s", v->cfg.outbox_dir, err);
		return -1;
	}
	n = v->cfg.journal_path[0] != '\0' ?
	    snprintf(v->journal_file, sizeof(v->journal_file), "%s",
	    v->cfg.journal_path) :
	    snprintf(v->journal_file, sizeof(v->journal_file), "%s/reads.journal",
	    v->cfg.outbox_dir);
	if (n < 0 || (size_t)n >= sizeof(v->journal_file) ||
	    (n = snprintf(v->policy_cache, sizeof(v->policy_cache), "%s/policy.json",
	    v->cfg.outbox_dir)) < 0 || (size_t)n >= sizeof(v->policy_cache)) {
		gk_log(GK_LOG_ERR, "verifier.init_failed", "what=paths reason=%s",
		    "too long");
		return -1;
	}
	memset(&jo, 0, sizeof(jo));
	jo.fsync = v->cfg.journal_fsync;
	if ((v->journal = journal_open(v->journal_file, &jo, err,
	    sizeof(err))) == NULL) {
		gk_log(GK_LOG_ERR, "verifier.init_failed", "what=journal path=%s "
		    "reason=%s", v->journal_file, err);
		return -1;
	}
	policy_cache_read(v);
	if ((v->snapshot = snapshot_open(v->cfg.snapshot_path, err,
	    sizeof(err))) == NULL) {
		gk_log(GK_LOG_ERR, "verifier.init_failed", "what=snapshot reason=%s",
		    err);
		return -1;
	}

	memset(&ko, 0, sizeof(ko));
	ko.host = v->cfg.redis_host;
	ko.port = (int)v->cfg.redis_port;
	ko.password = v->cfg.redis_password;
	ko.connect_timeout_ms = (int)v->cfg.redis_timeout_ms;
	ko.command_timeout_ms = (int)v->cfg.redis_timeout_ms;
	if ((v->kv = gk_kv_new(&ko)) == NULL)
		return -1;

	memset(&so, 0, sizeof(so));
	so.brokers = v->cfg.kafka_brokers;
	so.client_id = "verifier";
	so.on_delivery = on_delivery;
	so.on_error = on_stream_error;
	so.arg = v;
	if ((v->producer = gk_stream_producer_new(v->loop, &so, err,
	    sizeof(err))) == NULL) {
		gk_log(GK_LOG_ERR, "verifier.init_failed", "what=kafka reason=%s", err);
		return -1;
	}
	if (v->cfg.registry_consume) {
		char group[128];

		snprintf(group, sizeof(group), "verifier-%s-%s", v->cfg.site,
		    v->cfg.instance);
		topics[0] = v->cfg.kafka_registry_topic;
		topics[1] = NULL;
		memset(&so, 0, sizeof(so));
		so.brokers = v->cfg.kafka_brokers;
		so.client_id = "verifier";
		so.group_id = group;
		so.topics = topics;
		so.on_message = on_registry;
		so.on_error = on_stream_error;
		so.arg = v;
		if ((v->consumer = gk_stream_consumer_new(v->loop, &so, err,
		    sizeof(err))) == NULL) {
			gk_log(GK_LOG_ERR, "verifier.init_failed", "what=kafka_consumer "
			    "reason=%s", err);
			return -1;
		}
	}

	/* gk_bus_topic() refuses wildcards; site is a checked topic id (below). */
	snprintf(v->plate_filter, sizeof(v->plate_filter),
	    "ecogate/v1/%s/lane/+/plate", v->cfg.site);
	snprintf(v->trigger_filter, sizeof(v->trigger_filter),
	    "ecogate/v1/%s/lane/+/trigger", v->cfg.site);
	snprintf(v->resp_filter, sizeof(v->resp_filter),
	    "ecogate/v1/%s/lane/+/barrier/resp/verifier-%s", v->cfg.site,
	    v->cfg.instance);
	if (gk_bus_topic(v->policy_topic, sizeof(v->policy_topic),
	    "ecogate/v1/%s/config/policy", v->cfg.site) == -1 ||
	    gk_bus_topic(status, sizeof(status), "ecogate/v1/%s/status/verifier/%s",
	    v->cfg.site, v->cfg.instance) == -1 ||
	    !gk_bus_filter_valid(v->plate_filter)) {
		gk_log(GK_LOG_ERR, "verifier.init_failed", "what=topics site=%s "
		    "instance=%s", v->cfg.site, v->cfg.instance);
		return -1;
	}
	snprintf(client_id, sizeof(client_id), "verifier-%s-%s", v->cfg.site,
	    v->cfg.instance);
	memset(&bo, 0, sizeof(bo));
	bo.url = v->cfg.mqtt_url;
	bo.username = v->cfg.mqtt_username[0] != '\0' ? v->cfg.mqtt_username : NULL;
	bo.password = v->cfg.mqtt_password[0] != '\0' ? v->cfg.mqtt_password : NULL;
	bo.client_id = client_id;
	bo.status_topic = status;
	bo.version = VERIFIER_VERSION;
	bo.persist_dir = v->cfg.mqtt_persist_dir[0] != '\0' ?
	    v->cfg.mqtt_persist_dir : NULL;
	bo.max_payload = READ_DOC_MAX * 8;
	/*
	 * Paho counts publishes waiting for the broker against this even while
	 * connected; a burst of passages (a backlog replayed, many lanes at once)
	 * must not have decisions and barrier commands refused. About 2 KB each.
	 */
	bo.max_buffered = 20000;
	bo.on_message = on_message;
	bo.on_receive = on_receive;
	bo.on_state = on_state;
	bo.on_published = on_published;
	bo.arg = v;
	if ((v->bus = gk_bus_new(v->loop, &bo, err, sizeof(err))) == NULL)
		return -1;
	if (gk_bus_subscribe(v->bus, v->policy_topic, 1) == -1 ||
	    gk_bus_subscribe(v->bus, v->plate_filter, 1) == -1 ||
	    gk_bus_subscribe(v->bus, v->trigger_filter, 1) == -1 ||
	    gk_bus_subscribe(v->bus, v->resp_filter, 1) == -1)
		return -1;

	v->retry_timer = gk_loop_timer_add(v->loop, v->cfg.outbox_retry_ms,
	    v->cfg.outbox_retry_ms, on_retry, v);
	replay(v);	/* whatever a previous run left pending */
	/*
	 * Then the reads a previous run acknowledged but had not decided, before the
	 * bus starts: no new message may be journaled (Paho's thread) while the replay
	 * walks the journal, nor be taken before the reads that came ahead of it.
	 * Decisions published meanwhile wait in Paho's buffer for the connection.
	 */
	if (journal_replay(v->journal, replay_hold, replay_msg, v) != 0)
		return -1;
	if (v->n.replayed > 0)
		gk_log(GK_LOG_INFO, "journal.replayed", "messages=%llu passages=%llu "
		    "duplicates=%llu", (unsigned long long)v->n.replayed,
		    (unsigned long long)v->n.passages,
		    (unsigned long long)v->n.duplicates);
	if (gk_bus_start(v->bus) == -1)
		return -1;
	v->redis_dirty = 1;	/* Redis may have restarted empty: resync soon */
	gk_log(GK_LOG_INFO, "verifier.start", "site=%s instance=%s version=%s "
	    "plates=%s", v->cfg.site, v->cfg.instance, VERIFIER_VERSION,
	    v->plate_filter);
	return 0;
}

/* Reverse order of init; bounded by shutdown.flush plus the adapters' own bounds. */
/* gk_daemon init: everything set up, or EX_SOFTWARE (the log says what failed). */
static int
verifier_init(void *arg, struct gk_loop *loop, const char *conffile)
{
	struct verifier *v = arg;

	v->loop = loop;
	v->conffile = conffile;
	return verifier_setup(v) == 0 ? 0 : EX_SOFTWARE;
}

static void
verifier_shutdown(void *arg)
{
	struct verifier *v = arg;

	struct outbox_stats st;
	int i;

	gk_bus_free(v->bus);		/* stop input first */
	v->bus = NULL;
	for (i = 0; i < v->nlanes; i++)
		if (v->lanes[i].timer != 0)
			gk_loop_timer_cancel(v->loop, v->lanes[i].timer);
	if (v->consumer != NULL)
		gk_stream_close(v->consumer, 2000);
	gk_stream_free(v->consumer);
	if (v->producer != NULL) {
		gk_stream_flush(v->producer, (int)v->cfg.shutdown_flush_ms);
		gk_stream_close(v->producer, 1000);
	}
	gk_stream_free(v->producer);
	gk_kv_free(v->kv);
	if (v->outbox != NULL) {
		outbox_stats(v->outbox, &st);
		gk_log(GK_LOG_INFO, "verifier.counters", "reads=%llu rejected=%llu "
		    "passages=%llu delivered=%llu pending=%llu policy_rejected=%llu "
		    "duplicates=%llu replayed=%llu lane_unknown=%llu "
		    "barrier_done=%llu barrier_not_opened=%llu",
		    (unsigned long long)v->n.reads,
		    (unsigned long long)v->n.reads_bad,
		    (unsigned long long)v->n.passages,
		    (unsigned long long)v->n.delivered,
		    (unsigned long long)st.pending,
		    (unsigned long long)v->n.policy_bad,
		    (unsigned long long)v->n.duplicates,
		    (unsigned long long)v->n.replayed,
		    (unsigned long long)v->n.lane_unknown,
		    (unsigned long long)v->n.barrier_done,
		    (unsigned long long)v->n.barrier_failed);
	}
	outbox_close(v->outbox);
	journal_close(v->journal);
	snapshot_close(v->snapshot);
	if (v->retry_timer != 0)
		gk_loop_timer_cancel(v->loop, v->retry_timer);
}

int
main(int argc, char *argv[])
{
	static struct verifier	v;	/* all daemon state; large, so not on the stack */
	static const struct gk_daemon d = { "verifier", VERIFIER_VERSION, &v.cfg,
	    verifier_keys, &v, verifier_init, verifier_reload, verifier_shutdown };

	return gk_daemon_main(&d, argc, argv);
}
