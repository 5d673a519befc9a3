/*
 * ecogatectl selftest: drives sample gate traffic through the four servers with the
 * same adapters the daemons use, and says per server whether the path works. A DevOps
 * engineer runs it after an install or an outage ("is everything reachable, do
 * messages really come back?"); the demo runs it on loopback.
 *
 * For each sample plate read (schemas/examples/plate-read.v1/valid-*.json, or the
 * built-in plates): publish it QoS 1 on ecogate/v1/selftest/lane/in-1/plate and await
 * it on a subscription; parse it strictly and check the plate; cache an entry in Redis
 * under ecogate:selftest: and read all of them back in one pipeline; produce it to
 * Kafka (ecogate.selftest.v1) and consume it back through a consumer group,
 * committing offsets; insert the vehicle into the PostgreSQL registry, count it and
 * roll the transaction back. Every wait has a deadline.
 *
 * It runs against a live plant, so it touches nothing the gate reads: the MQTT site
 * is always "selftest" (a verifier of the plant's site, with its persistent session,
 * would otherwise take the samples for vehicles at its gate), the Redis keys and the
 * Kafka topic are its own, and the registry rows never commit.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "gatekit/bus.h"
#include "gatekit/cfg.h"
#include "gatekit/db.h"
#include "gatekit/json.h"
#include "gatekit/kv.h"
#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/plate.h"
#include "gatekit/stream.h"
#include "gatekit/util.h"

#include "selftest.h"

#define MAX_SAMPLES	64
#define MAX_READ	(64 * 1024)

/* The MQTT site the samples travel under: never a plant's (see above). */
#define SELFTEST_SITE	"selftest"

struct selftest_cfg {
	char		*mqtt_url;
	char		*kafka_brokers;
	char		*kafka_topic;
	char		*redis_host;
	long long	 redis_port;
	char		*pg_conninfo;
	char		*samples;
	int64_t		 timeout;
};

static const struct gk_cfg_key selftest_keys[] = {
	{ "mqtt.url", GK_CFG_STR, offsetof(struct selftest_cfg, mqtt_url),
	    "tcp://127.0.0.1:21883", 0, 0, 0, "MQTT broker" },
	{ "kafka.brokers", GK_CFG_STR, offsetof(struct selftest_cfg, kafka_brokers),
	    "127.0.0.1:29092", 0, 0, 0, "Kafka bootstrap servers" },
	{ "kafka.topic", GK_CFG_STR, offsetof(struct selftest_cfg, kafka_topic),
	    "ecogate.selftest.v1", 0, 0, 0, "topic the self test writes" },
	{ "redis.host", GK_CFG_STR, offsetof(struct selftest_cfg, redis_host),
	    "127.0.0.1", 0, 0, 0, "Redis host" },
	{ "redis.port", GK_CFG_INT, offsetof(struct selftest_cfg, redis_port),
	    "26379", 1, 65535, 0, "Redis port" },
	{ "pg.conninfo", GK_CFG_STR, offsetof(struct selftest_cfg, pg_conninfo),
	    "host=127.0.0.1 port=25432 dbname=ecogate user=postgres", 0, 0,
	    GK_CFG_SECRET, "PostgreSQL connection string" },
	{ "samples", GK_CFG_STR, offsetof(struct selftest_cfg, samples), "", 0, 0, 0,
	    "directory of plate-read examples; empty: built-in plates" },
	{ "timeout", GK_CFG_MS, offsetof(struct selftest_cfg, timeout), "30s", 1000,
	    600000, 0, "deadline for each step" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL },
};

struct sample {
	char	*json;		/* the plate read as published */
	char	 plate[GK_PLATE_MAX];
	char	 colour[16];
	char	 event_id[GK_ID_LEN];
	int	 seen_mqtt;
	int	 seen_kafka;
};

struct selftest {
	struct selftest_cfg	 cfg;
	struct gk_loop		*loop;
	struct sample		 s[MAX_SAMPLES];
	size_t			 n;
	int			 mqtt_up;
	int			 mqtt_subscribed;
	size_t			 mqtt_got;
	size_t			 mqtt_acked;
	size_t			 kafka_delivered;
	size_t			 kafka_failed;
	size_t			 kafka_got;
	struct gk_stream	*consumer;
	int			 bad;
};

/* Built-in sample traffic when no examples directory is given. */
static const char *const builtin[][2] = {
	{ "沪A12345", "blue" }, { "沪BD12345", "green" }, { "苏E6789F", "yellow" },
	{ "浙A12345D", "yellow_green" }, { "沪A1234挂", "yellow" },
	{ "皖A05279", "yellow" },
};

static struct sample *
find_sample(struct selftest *t, const char *event_id)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->s[i].event_id, event_id) == 0)
			return &t->s[i];
	return NULL;
}

/* Parses one plate read strictly and takes its identity; -1 with a reason printed. */
static int
take_sample(struct selftest *t, const char *where, const char *buf, size_t len)
{
	struct sample		*s = &t->s[t->n];
	struct gk_plate_err	 perr;
	enum gk_plate_colour	 colour;
	char			 err[256];
	json_t			*j;

	if ((j = gk_json_parse(buf, len, MAX_READ, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", where, err);
		return -1;
	}
	if (gk_json_get_strbuf(j, "plate", s->plate, sizeof(s->plate)) != 0 ||
	    gk_json_get_strbuf(j, "colour", s->colour, sizeof(s->colour)) != 0 ||
	    gk_json_get_strbuf(j, "event_id", s->event_id, sizeof(s->event_id)) != 0) {
		fprintf(stderr, "%s: plate, colour or event_id missing\n", where);
		json_decref(j);
		return -1;
	}
	if (gk_plate_colour_parse(s->colour, &colour) == -1)
		colour = GK_PLATE_COLOUR_UNKNOWN;
	if (gk_plate_check(s->plate, colour, 0, NULL, &perr) == -1) {
		fprintf(stderr, "%s: plate %s: %s\n", where, s->plate, perr.msg);
		json_decref(j);
		return -1;
	}
	s->json = gk_json_dump_compact(j);
	json_decref(j);
	if (s->json == NULL)
		return -1;
	t->n++;
	return 0;
}

static int
load_samples(struct selftest *t)
{
	char	 buf[1024], ts[GK_TS_LEN], id[GK_ID_LEN], path[4096];
	size_t	 i, len;
	struct dirent *de;
	DIR	*d;
	FILE	*fp;

	if (t->cfg.samples[0] == '\0') {
		for (i = 0; i < GK_NELEM(builtin); i++) {
			if (gk_id_new(id) == -1 ||
			    gk_ts_format(gk_wall_ms(), ts, sizeof(ts)) == -1)
				return -1;
			snprintf(buf, sizeof(buf), "{\"schema\":\"ecogate.plate-read.v1\","
			    "\"event_id\":\"%s\",\"site\":\"%s\",\"lane\":\"in-1\","
			    "\"ts\":\"%s\",\"plate\":\"%s\",\"colour\":\"%s\","
			    "\"confidence\":0.97,\"source\":\"lpr\"}", id, SELFTEST_SITE, ts,
			    builtin[i][0], builtin[i][1]);
			if (take_sample(t, "built-in sample", buf, strlen(buf)) == -1)
				return -1;
		}
		return 0;
	}
	if ((d = opendir(t->cfg.samples)) == NULL) {
		fprintf(stderr, "samples %s: cannot open directory\n", t->cfg.samples);
		return -1;
	}
	while ((de = readdir(d)) != NULL && t->n < MAX_SAMPLES) {
		if (strncmp(de->d_name, "valid", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", t->cfg.samples, de->d_name);
		if ((fp = fopen(path, "rb")) == NULL)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		if (take_sample(t, path, buf, len) == -1) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	if (t->n == 0) {
		fprintf(stderr, "samples %s: no valid-*.json\n", t->cfg.samples);
		return -1;
	}
	return 0;
}

/* Runs the loop until cond(t) holds or the step's deadline passes; 0 or -1. */
static int
await(struct selftest *t, int (*cond)(const struct selftest *))
{
	int64_t deadline = gk_mono_ms() + t->cfg.timeout;

	while (!cond(t) && gk_mono_ms() < deadline)
		gk_loop_once(t->loop, 100);
	return cond(t) ? 0 : -1;
}

static int
mqtt_up(const struct selftest *t)
{
	return t->mqtt_up;
}

static int
mqtt_subscribed(const struct selftest *t)
{
	return t->mqtt_subscribed != 0;
}

static int
mqtt_all_back(const struct selftest *t)
{
	return t->mqtt_got == t->n && t->mqtt_acked == t->n;
}

static int
kafka_all_delivered(const struct selftest *t)
{
	return t->kafka_delivered + t->kafka_failed == t->n;
}

static int
kafka_all_back(const struct selftest *t)
{
	return t->kafka_got == t->n;
}

static void
report(struct selftest *t, const char *server, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
report(struct selftest *t, const char *server, int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%-10s %s  ", server, ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		t->bad++;
}

/* MQTT. */

static void
on_bus_state(void *arg, int connected, const char *why)
{
	struct selftest *t = arg;

	(void)why;
	t->mqtt_up = connected;
}

static void
on_bus_subscribed(void *arg, const char *filter, int ok)
{
	struct selftest *t = arg;

	(void)filter;
	t->mqtt_subscribed = ok ? 1 : -1;
}

static void
on_bus_published(void *arg, void *opaque, int ok, const char *why)
{
	struct selftest *t = arg;

	(void)opaque;
	if (ok)
		t->mqtt_acked++;
	else
		fprintf(stderr, "mqtt: publish failed: %s\n", why);
}

static void
on_bus_message(void *arg, const struct gk_bus_msg *m)
{
	struct selftest	*t = arg;
	struct sample	*s;
	char		 err[256], id[GK_ID_LEN];
	json_t		*j;

	if ((j = gk_json_parse(m->payload, m->len, MAX_READ, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mqtt: %s: %s\n", m->topic, err);
		return;
	}
	if (gk_json_get_strbuf(j, "event_id", id, sizeof(id)) == 0 &&
	    (s = find_sample(t, id)) != NULL && !s->seen_mqtt) {
		s->seen_mqtt = 1;
		t->mqtt_got++;
	}
	json_decref(j);
}

static void
test_mqtt(struct selftest *t)
{
	struct gk_bus_opts	 o;
	struct gk_bus_msg	 m;
	struct gk_bus		*bus;
	char			 err[256], topic[256], filter[256], cid[64];
	int64_t			 t0;
	size_t			 i;
	int			 ok;

	memset(&o, 0, sizeof(o));
	snprintf(cid, sizeof(cid), "ecogatectl-selftest-%ld", (long)getpid());
	o.url = t->cfg.mqtt_url;
	o.client_id = cid;
	o.clean_start = 1;
	o.on_state = on_bus_state;
	o.on_subscribed = on_bus_subscribed;
	o.on_published = on_bus_published;
	o.on_message = on_bus_message;
	o.arg = t;
	t0 = gk_mono_ms();
	if ((bus = gk_bus_new(t->loop, &o, err, sizeof(err))) == NULL) {
		report(t, "mqtt", 0, "%s", err);
		return;
	}
	gk_bus_start(bus);
	if (await(t, mqtt_up) == -1) {
		report(t, "mqtt", 0, "%s: not connected", t->cfg.mqtt_url);
		goto out;
	}
	/* The topic builder refuses wildcards, so build the filter from a topic. */
	snprintf(filter, sizeof(filter), "ecogate/v1/%s/lane/+/plate", SELFTEST_SITE);
	if (!gk_bus_filter_valid(filter) || gk_bus_subscribe(bus, filter, 1) == -1) {
		report(t, "mqtt", 0, "bad subscription filter %s", filter);
		goto out;
	}
	if (await(t, mqtt_subscribed) == -1 || t->mqtt_subscribed != 1) {
		report(t, "mqtt", 0, "subscribe %s refused or timed out", filter);
		goto out;
	}
	if (gk_bus_topic(topic, sizeof(topic), "ecogate/v1/%s/lane/in-1/plate",
	    SELFTEST_SITE) == -1) {
		report(t, "mqtt", 0, "site \"%s\" cannot be used in a topic", SELFTEST_SITE);
		goto out;
	}
	for (i = 0; i < t->n; i++) {
		memset(&m, 0, sizeof(m));
		m.topic = topic;
		m.payload = t->s[i].json;
		m.len = strlen(t->s[i].json);
		m.qos = 1;
		m.content_type = "application/json";
		if (gk_bus_publish(bus, &m, NULL) == -1)
			fprintf(stderr, "mqtt: publish %s refused\n", t->s[i].plate);
	}
	ok = await(t, mqtt_all_back) == 0;
	report(t, "mqtt", ok,
	    "%s: %zu/%zu plate reads acknowledged and received back on %s in %lld ms",
	    t->cfg.mqtt_url, t->mqtt_got, t->n, filter,
	    (long long)(gk_mono_ms() - t0));
out:
	gk_bus_free(bus);
	while (gk_loop_once(t->loop, 0) > 0)
		;
}

/* Redis: the registry cache, written and read back in one pipeline each. */
static void
test_redis(struct selftest *t)
{
	struct gk_kv_opts	 o;
	struct gk_kv_pair	 pairs[MAX_SAMPLES];
	struct gk_kv_val	 vals[MAX_SAMPLES];
	char			 keys[MAX_SAMPLES][96];
	const char		*kp[MAX_SAMPLES];
	struct gk_kv		*kv;
	int64_t			 t0 = gk_mono_ms();
	size_t			 i, same = 0;

	memset(&o, 0, sizeof(o));
	o.host = t->cfg.redis_host;
	o.port = (int)t->cfg.redis_port;
	if ((kv = gk_kv_new(&o)) == NULL) {
		report(t, "redis", 0, "cannot create client");
		return;
	}
	memset(pairs, 0, sizeof(pairs));
	for (i = 0; i < t->n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "ecogate:selftest:%s:%s",
		    t->s[i].plate, t->s[i].colour);
		kp[i] = keys[i];
		pairs[i].key = keys[i];
		pairs[i].val = t->s[i].json;
		pairs[i].len = strlen(t->s[i].json);
		pairs[i].ttl_ms = 600000;
	}
	if (gk_kv_mset(kv, pairs, t->n) == -1 ||
	    gk_kv_mget(kv, kp, t->n, vals) == -1) {
		report(t, "redis", 0, "%s:%lld: %s", t->cfg.redis_host,
		    t->cfg.redis_port, gk_kv_errstr(kv));
		gk_kv_free(kv);
		return;
	}
	for (i = 0; i < t->n; i++)
		if (vals[i].data != NULL && vals[i].len == pairs[i].len &&
		    memcmp(vals[i].data, pairs[i].val, pairs[i].len) == 0)
			same++;
	gk_kv_vals_free(vals, t->n);
	report(t, "redis", same == t->n,
	    "%s:%lld: %zu/%zu registry entries written and read back in %lld ms",
	    t->cfg.redis_host, t->cfg.redis_port, same, t->n,
	    (long long)(gk_mono_ms() - t0));
	gk_kv_free(kv);
}

/* Kafka. */

static void
on_delivery(void *arg, const struct gk_stream_delivery *d)
{
	struct selftest *t = arg;

	if (d->err == 0)
		t->kafka_delivered++;
	else {
		t->kafka_failed++;
		fprintf(stderr, "kafka: delivery to %s failed: %s\n", d->topic, d->errstr);
	}
}

static void
on_kafka_message(void *arg, const struct gk_stream_message *m)
{
	struct selftest	*t = arg;
	struct sample	*s;
	size_t		 i;

	/* The event id travels as a header; the value must arrive byte for byte. */
	for (i = 0; i < m->nhdrs; i++) {
		char id[GK_ID_LEN];

		if (strcmp(m->hdrs[i].name, "event_id") != 0 ||
		    m->hdrs[i].len >= sizeof(id))
			continue;
		memcpy(id, m->hdrs[i].value, m->hdrs[i].len);
		id[m->hdrs[i].len] = '\0';
		if ((s = find_sample(t, id)) != NULL && !s->seen_kafka &&
		    m->vallen == strlen(s->json) &&
		    memcmp(m->value, s->json, m->vallen) == 0) {
			s->seen_kafka = 1;
			t->kafka_got++;
		}
	}
	gk_stream_store(t->consumer, m->topic, m->partition, m->offset);
}

static void
test_kafka(struct selftest *t)
{
	struct gk_stream_opts	 po, co;
	struct gk_stream_header	 h;
	struct gk_stream	*p = NULL;
	const char		*topics[2] = { t->cfg.kafka_topic, NULL };
	char			 err[256], group[GK_ID_LEN + 32], id[GK_ID_LEN];
	int64_t			 t0 = gk_mono_ms();
	size_t			 i;

	if (gk_stream_create_topic(t->cfg.kafka_brokers, t->cfg.kafka_topic, 1, 0,
	    (int)t->cfg.timeout, err, sizeof(err)) == -1) {
		report(t, "kafka", 0, "%s: create topic %s: %s", t->cfg.kafka_brokers,
		    t->cfg.kafka_topic, err);
		return;
	}
	memset(&po, 0, sizeof(po));
	po.brokers = t->cfg.kafka_brokers;
	po.client_id = "ecogatectl-selftest";
	po.on_delivery = on_delivery;
	po.arg = t;
	if ((p = gk_stream_producer_new(t->loop, &po, err, sizeof(err))) == NULL) {
		report(t, "kafka", 0, "producer: %s", err);
		return;
	}
	/* A fresh group reading from the start finds our records among any older ones. */
	if (gk_id_new(id) == -1)
		goto out;
	snprintf(group, sizeof(group), "ecogatectl-selftest-%s", id);
	memset(&co, 0, sizeof(co));
	co.brokers = t->cfg.kafka_brokers;
	co.client_id = "ecogatectl-selftest";
	co.group_id = group;
	co.topics = topics;
	co.on_message = on_kafka_message;
	co.arg = t;
	if ((t->consumer = gk_stream_consumer_new(t->loop, &co, err, sizeof(err))) == NULL) {
		report(t, "kafka", 0, "consumer: %s", err);
		goto out;
	}
	for (i = 0; i < t->n; i++) {
		h.name = "event_id";
		h.value = t->s[i].event_id;
		h.len = strlen(t->s[i].event_id);
		if (gk_stream_produce(p, t->cfg.kafka_topic, SELFTEST_SITE,
		    strlen(SELFTEST_SITE), t->s[i].json, strlen(t->s[i].json), &h, 1,
		    NULL) == -1)
			t->kafka_failed++;
	}
	if (await(t, kafka_all_delivered) == -1 || t->kafka_failed > 0) {
		report(t, "kafka", 0, "%s: %zu/%zu delivered, %zu failed",
		    t->cfg.kafka_brokers, t->kafka_delivered, t->n, t->kafka_failed);
		goto out;
	}
	await(t, kafka_all_back);
	if (gk_stream_commit(t->consumer, 1) == -1)
		fprintf(stderr, "kafka: offset commit failed\n");
	report(t, "kafka", t->kafka_got == t->n,
	    "%s: %zu/%zu records delivered (acks=all) and consumed back from %s "
	    "in %lld ms", t->cfg.kafka_brokers, t->kafka_got, t->n,
	    t->cfg.kafka_topic, (long long)(gk_mono_ms() - t0));
out:
	if (t->consumer != NULL) {
		gk_stream_close(t->consumer, 5000);
		gk_stream_free(t->consumer);
		t->consumer = NULL;
	}
	gk_stream_flush(p, 5000);
	gk_stream_free(p);
	while (gk_loop_once(t->loop, 0) > 0)
		;
}

/*
 * PostgreSQL: the sample vehicles inserted into the registry and counted inside a
 * transaction that is rolled back, so the plant's registry never holds them.
 */
static void
test_pg(struct selftest *t)
{
	struct gk_db		*db;
	struct gk_db_res	*r;
	const char		*params[2];
	int64_t			 t0 = gk_mono_ms();
	size_t			 i, found = 0;

	if ((db = gk_db_new(t->cfg.pg_conninfo, NULL)) == NULL ||
	    gk_db_connect(db) == -1) {
		report(t, "postgres", 0, "%s", db != NULL ? gk_db_errmsg(db) :
		    "cannot create client");
		gk_db_free(db);
		return;
	}
	if (gk_db_begin(db) == -1) {
		report(t, "postgres", 0, "begin: %s", gk_db_errmsg(db));
		gk_db_free(db);
		return;
	}
	for (i = 0; i < t->n; i++) {
		params[0] = t->s[i].plate;
		params[1] = t->s[i].colour;
		if (gk_db_cmd(db, "INSERT INTO vehicle (plate, plate_colour, category, "
		    "fleet_name) VALUES ($1, $2, 'external', 'ecogatectl selftest') "
		    "ON CONFLICT (plate, plate_colour) DO NOTHING", 2, params) == -1) {
			report(t, "postgres", 0, "insert %s: %s %s", t->s[i].plate,
			    gk_db_errcode(db), gk_db_errmsg(db));
			gk_db_rollback(db);
			gk_db_free(db);
			return;
		}
		r = gk_db_exec(db, "SELECT 1 FROM vehicle WHERE plate = $1 AND "
		    "plate_colour = $2", 2, params);
		if (r != NULL && gk_db_res_nrows(r) == 1)
			found++;
		gk_db_res_free(r);
	}
	gk_db_rollback(db);
	report(t, "postgres", found == t->n,
	    "%zu/%zu vehicles present in the registry after insert (rolled back) in "
	    "%lld ms", found,
	    t->n, (long long)(gk_mono_ms() - t0));
	gk_db_free(db);
}

int
selftest_run(int argc, char *argv[])
{
	struct selftest	 t;
	const char	*conf = NULL;
	char		 err[512];
	size_t		 i;
	int		 ch, nflag = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "f:n")) != -1) {
		switch (ch) {
		case 'f':
			conf = optarg;
			break;
		case 'n':
			nflag = 1;
			break;
		default:
			fprintf(stderr, "usage: ecogatectl selftest [-n] [-f FILE]\n");
			return EX_USAGE;
		}
	}
	memset(&t, 0, sizeof(t));
	if (nflag) {
		if (gk_cfg_check(&t.cfg, selftest_keys, conf, stdout, err,
		    sizeof(err)) == 0)
			return EX_OK;
		fprintf(stderr, "ecogatectl selftest: %s\n", err);
		return EX_CONFIG;
	}
	if (gk_cfg_load(&t.cfg, selftest_keys, conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "ecogatectl selftest: %s\n", err);
		return EX_CONFIG;
	}
	if (load_samples(&t) == -1 || (t.loop = gk_loop_new()) == NULL) {
		t.bad++;
		goto out;
	}
	printf("selftest: %zu sample plate reads, site %s\n", t.n, SELFTEST_SITE);
	test_mqtt(&t);
	test_redis(&t);
	test_kafka(&t);
	test_pg(&t);
	printf("selftest: %s\n", t.bad ? "FAILED" : "all servers answered");
out:
	for (i = 0; i < t.n; i++)
		free(t.s[i].json);
	gk_loop_free(t.loop);
	gk_cfg_free(&t.cfg, selftest_keys);
	return t.bad ? EX_UNAVAILABLE : EX_OK;
}
