/*
 * Integration test of the bus adapter against the real mosquitto the "servers"
 * fixture started (ops/servers.sh, port in ECOGATE_MQTT_PORT). It proves what the edge
 * daemons rely on: a QoS 1 round trip carrying every MQTT 5 property we use, the
 * retained online status and the last will left by a process killed with SIGKILL,
 * reconnection after a broker restart, delivery of messages published while a
 * persistent-session subscriber was away, and publishes buffered while the broker was
 * down. Every wait has a deadline and runs the loop; nothing sleeps and hopes.
 *
 * Run by hand: ops/servers.sh start mosquitto, then
 * ECOGATE_MQTT_PORT=... ECOGATE_OPS=ops ./it_bus
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "gatekit/bus.h"
#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "t.h"

#define CONNECT_MS	20000
#define RESTART_MS	40000
#define MAXREC		64

/* Runs the loop until cond holds or ms pass. Check cond afterwards. */
#define AWAIT(l, cond, ms) do {						\
	long long dl_ = t_now_ms() + (ms);				\
	while (!(cond) && t_now_ms() < dl_)				\
		gk_loop_once((l), 50);					\
} while (0)

/* A copy of one received message. */
struct rec {
	char	 topic[256];
	char	 payload[1024];
	size_t	 len;
	int	 qos, retain, dup;
	uint32_t expiry_s;
	int	 has_rt, has_corr, has_ct;
	char	 response_topic[256];
	unsigned char corr[64];
	size_t	 corr_len;
	char	 content_type[64];
	size_t	 nprops;
	char	 key[4][64], value[4][64];
};

/* One test client and what its callbacks saw. */
struct cli {
	struct gk_bus	*bus;
	int		 up, ups, downs;
	int		 subs_ok, subs_fail;
	int		 pub_ok, pub_fail;
	void		*last_opaque;
	void		*opaques[MAXREC];	/* every on_published, in order */
	int		 nopaque;
	char		 last_why[128];
	int		 nmsg;
	struct rec	 msgs[MAXREC];
};

static struct gk_loop *loop;
static char pfx[64];		/* per-run topic prefix */
static char url[64];

static void
copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src != NULL ? src : "");
}

static void
on_message(void *arg, const struct gk_bus_msg *m)
{
	struct cli *c = arg;
	struct rec *r;
	size_t i;

	if (c->nmsg >= MAXREC)
		return;
	r = &c->msgs[c->nmsg++];
	memset(r, 0, sizeof(*r));
	copy_str(r->topic, sizeof(r->topic), m->topic);
	r->len = m->len;
	memcpy(r->payload, m->payload, m->len < sizeof(r->payload) - 1 ? m->len :
	    sizeof(r->payload) - 1);
	r->qos = m->qos;
	r->retain = m->retain;
	r->dup = m->dup;
	r->expiry_s = m->expiry_s;
	if ((r->has_rt = m->response_topic != NULL))
		copy_str(r->response_topic, sizeof(r->response_topic),
		    m->response_topic);
	if ((r->has_corr = m->correlation != NULL) &&
	    m->correlation_len <= sizeof(r->corr)) {
		memcpy(r->corr, m->correlation, m->correlation_len);
		r->corr_len = m->correlation_len;
	}
	if ((r->has_ct = m->content_type != NULL))
		copy_str(r->content_type, sizeof(r->content_type), m->content_type);
	r->nprops = m->nprops;
	for (i = 0; i < m->nprops && i < 4; i++) {
		copy_str(r->key[i], sizeof(r->key[i]), m->props[i].key);
		copy_str(r->value[i], sizeof(r->value[i]), m->props[i].value);
	}
}

static void
on_state(void *arg, int connected, const char *why)
{
	struct cli *c = arg;

	(void)why;
	c->up = connected;
	if (connected)
		c->ups++;
	else
		c->downs++;
}

static void
on_published(void *arg, void *opaque, int ok, const char *why)
{
	struct cli *c = arg;

	if (ok)
		c->pub_ok++;
	else
		c->pub_fail++;
	c->last_opaque = opaque;
	if (c->nopaque < MAXREC)
		c->opaques[c->nopaque++] = opaque;
	copy_str(c->last_why, sizeof(c->last_why), why);
}

static void
on_subscribed(void *arg, const char *filter, int ok)
{
	struct cli *c = arg;

	(void)filter;
	if (ok)
		c->subs_ok++;
	else
		c->subs_fail++;
}

/* Index of the first message on topic whose payload holds needle, or -1. */
static int
find(const struct cli *c, const char *topic, const char *needle)
{
	int i;

	for (i = 0; i < c->nmsg; i++)
		if (strcmp(c->msgs[i].topic, topic) == 0 &&
		    strstr(c->msgs[i].payload, needle) != NULL)
			return i;
	return -1;
}

/* Makes (not starts) a bus for c; o may be NULL for the defaults. */
static struct gk_bus *
mk(struct cli *c, const char *id, struct gk_bus_opts *o)
{
	struct gk_bus_opts def;
	char err[256];

	if (o == NULL) {
		memset(&def, 0, sizeof(def));
		def.clean_start = 1;
		o = &def;
	}
	memset(c, 0, sizeof(*c));
	o->url = url;
	o->client_id = id;
	o->on_message = on_message;
	o->on_state = on_state;
	o->on_published = on_published;
	o->on_subscribed = on_subscribed;
	o->arg = c;
	o->retry_min_ms = 200;
	o->retry_max_ms = 2000;
	c->bus = gk_bus_new(loop, o, err, sizeof(err));
	T_CHECKF(c->bus != NULL, "gk_bus_new: %s", err);
	return c->bus;
}

static int
publish(struct cli *c, const char *topic, const char *text, int qos, int retain,
    void *opaque)
{
	struct gk_bus_msg m;

	memset(&m, 0, sizeof(m));
	m.topic = topic;
	m.payload = text;
	m.len = strlen(text);
	m.qos = qos;
	m.retain = retain;
	return gk_bus_publish(c->bus, &m, opaque);
}

static void
test_roundtrip(void)
{
	static struct cli sub, pub;
	struct gk_bus_opts po;
	struct gk_bus_msg m;
	static const struct gk_bus_prop props[] = {
		{ "frame_id", "f-123" },
		{ "camera", "入口相机" },
		{ "frame_id", "second" },	/* repeated keys keep their order */
	};
	static const unsigned char corr[] = { 0x00, 0x01, 0xfe, 0xff, 'c' };
	unsigned char payload[300];
	char topic[128], filter[128], rtopic[128], big[5000];
	int opaque_tag, before, i;
	struct rec *r;

	fprintf(stderr, "-- roundtrip\n");
	snprintf(filter, sizeof(filter), "%s/rt/+", pfx);
	T_REQUIRE(gk_bus_topic(topic, sizeof(topic), "ecogate-it/bus/%d/rt/%s",
	    (int)getpid(), "lane-1") == 0);
	snprintf(rtopic, sizeof(rtopic), "%s/rt/reply", pfx);

	T_REQUIRE(mk(&sub, "it-bus-rt-sub", NULL) != NULL);
	T_CHECK(gk_bus_subscribe(sub.bus, filter, 1) == 0);
	T_CHECK(gk_bus_subscribe(sub.bus, "bad/#/filter", 1) == -1);
	T_CHECK(gk_bus_start(sub.bus) == 0);
	T_CHECK(gk_bus_start(sub.bus) == -1);
	AWAIT(loop, sub.subs_ok == 1, CONNECT_MS);
	T_REQUIRE(sub.subs_ok == 1);
	T_CHECK(sub.up && gk_bus_connected(sub.bus));

	memset(&po, 0, sizeof(po));
	po.clean_start = 1;
	po.max_payload = 4096;
	T_REQUIRE(mk(&pub, "it-bus-rt-pub", &po) != NULL);

	/* Published before the first connect: buffered by Paho, sent on connect. */
	for (i = 0; i < (int)sizeof(payload); i++)
		payload[i] = (unsigned char)(i * 7);
	memset(&m, 0, sizeof(m));
	m.topic = topic;
	m.payload = payload;
	m.len = sizeof(payload);
	m.qos = 1;
	m.expiry_s = 60;
	m.response_topic = rtopic;
	m.correlation = corr;
	m.correlation_len = sizeof(corr);
	m.content_type = "application/octet-stream";
	m.props = props;
	m.nprops = 3;
	T_CHECK(gk_bus_publish(pub.bus, &m, &opaque_tag) == 0);
	T_CHECK(gk_bus_start(pub.bus) == 0);
	AWAIT(loop, sub.nmsg >= 1 && pub.pub_ok >= 1, CONNECT_MS);
	T_REQUIRE(sub.nmsg == 1);
	T_CHECK(pub.pub_ok == 1 && pub.pub_fail == 0);
	T_CHECK(pub.last_opaque == &opaque_tag);
	T_CHECK(pub.up);

	r = &sub.msgs[0];
	T_STREQ(r->topic, topic);
	T_CHECK(r->len == sizeof(payload) && memcmp(r->payload, payload,
	    sizeof(payload)) == 0);
	T_CHECK(r->qos == 1);
	T_CHECK(r->retain == 0);
	T_CHECKF(r->expiry_s > 50 && r->expiry_s <= 60, "expiry %u", r->expiry_s);
	T_CHECK(r->has_rt);
	T_STREQ(r->response_topic, rtopic);
	T_CHECK(r->has_corr && r->corr_len == sizeof(corr) &&
	    memcmp(r->corr, corr, sizeof(corr)) == 0);
	T_CHECK(r->has_ct);
	T_STREQ(r->content_type, "application/octet-stream");
	T_REQUIRE(r->nprops == 3);
	T_STREQ(r->key[0], "frame_id");
	T_STREQ(r->value[0], "f-123");
	T_STREQ(r->key[1], "camera");
	T_STREQ(r->value[1], "入口相机");
	T_STREQ(r->key[2], "frame_id");
	T_STREQ(r->value[2], "second");

	/* A plain QoS 0 message arrives without properties. */
	T_CHECK(publish(&pub, topic, "plain", 0, 0, NULL) == 0);
	AWAIT(loop, sub.nmsg >= 2 && pub.pub_ok >= 2, CONNECT_MS);
	T_REQUIRE(sub.nmsg == 2);
	r = &sub.msgs[1];
	T_STREQ(r->payload, "plain");
	T_CHECK(r->qos == 0 && !r->has_rt && !r->has_corr && !r->has_ct &&
	    r->nprops == 0 && r->expiry_s == 0);

	/* Rejected publishes fail at once and never call back. */
	before = pub.pub_ok + pub.pub_fail;
	memset(big, 'j', sizeof(big));
	memset(&m, 0, sizeof(m));
	m.topic = topic;
	m.payload = big;
	m.len = sizeof(big);
	m.qos = 1;
	errno = 0;
	T_CHECK(gk_bus_publish(pub.bus, &m, NULL) == -1 && errno == EMSGSIZE);
	m.len = 10;
	m.topic = filter;		/* a wildcard is no topic */
	errno = 0;
	T_CHECK(gk_bus_publish(pub.bus, &m, NULL) == -1 && errno == EINVAL);
	m.topic = topic;
	m.qos = 3;
	errno = 0;
	T_CHECK(gk_bus_publish(pub.bus, &m, NULL) == -1 && errno == EINVAL);
	/* Nothing published: a probe that goes through comes back alone. */
	T_CHECK(publish(&pub, topic, "probe", 1, 0, NULL) == 0);
	AWAIT(loop, sub.nmsg >= 3 && pub.pub_ok + pub.pub_fail >= before + 1,
	    CONNECT_MS);
	T_CHECK(pub.pub_ok + pub.pub_fail == before + 1);
	T_CHECK(sub.nmsg == 3 && strcmp(sub.msgs[2].payload, "probe") == 0);

	/*
	 * QoS 0 and QoS 1 interleaved: Paho gives every QoS 0 publish token 0, so
	 * completions are matched by publish, not token. Each opaque comes back
	 * exactly once.
	 */
	{
		int tags[12], seen, j, k, n0 = pub.nopaque;

		for (j = 0; j < 12; j++)
			T_CHECK(publish(&pub, topic, "mix", j % 3 == 0 ? 1 : 0, 0,
			    &tags[j]) == 0);
		AWAIT(loop, pub.nopaque >= n0 + 12, CONNECT_MS);
		T_CHECKF(pub.nopaque == n0 + 12, "%d completions", pub.nopaque - n0);
		for (j = 0; j < 12; j++) {
			for (seen = 0, k = n0; k < pub.nopaque; k++)
				seen += pub.opaques[k] == &tags[j];
			T_CHECKF(seen == 1, "publish %d completed %d times", j, seen);
		}
	}

	gk_bus_free(pub.bus);
	gk_bus_free(sub.bus);
}

/*
 * Checks payload against schemas/NAME.v1.schema.json with Debian's python3-jsonschema,
 * an implementation independent of ours. Returns 1 when valid.
 */
static int
schema_valid(const char *name, const char *payload)
{
	char path[] = "/tmp/it_bus_msg_XXXXXX", cmd[2048];
	const char *src = t_env("ECOGATE_SOURCE_DIR", ".");
	FILE *fp;
	int fd, rc;

	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL)
		return 0;
	fputs(payload, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/schemas/validate_msg.py "
	    "%s/schemas/%s.v1.schema.json %s >&2", src, src, name, path);
	rc = system(cmd);
	unlink(path);
	return rc == 0;
}

/* The child of test_will: connects with a status topic, says so, waits to die. */
static int
will_child(const char *topic)
{
	struct cli c;
	struct gk_bus_opts o;
	long long dl;

	gk_log_set_fd(2);	/* stdout is the pipe to the parent */
	memset(&o, 0, sizeof(o));
	o.clean_start = 1;
	o.status_topic = topic;
	o.keepalive_s = 5;
	if ((loop = gk_loop_new()) == NULL || mk(&c, "it-bus-will-child", &o) == NULL ||
	    gk_bus_start(c.bus) == -1)
		return 1;
	AWAIT(loop, c.up, CONNECT_MS);
	if (!c.up)
		return 1;
	if (write(1, "up\n", 3) != 3)
		return 1;
	dl = t_now_ms() + 60000;	/* the parent kills us long before */
	while (t_now_ms() < dl)
		gk_loop_once(loop, 1000);
	return 1;
}

static void
test_will(const char *self)
{
	static struct cli watch, late, clean;
	struct gk_bus_opts o;
	char topic[128], filter[128], ctopic[128], buf[16], err[256];
	struct pollfd pfd;
	int fds[2], status, i;
	pid_t pid;

	fprintf(stderr, "-- last will\n");
	snprintf(filter, sizeof(filter), "%s/status/+/+", pfx);
	snprintf(topic, sizeof(topic), "%s/status/it-bus/child", pfx);
	snprintf(ctopic, sizeof(ctopic), "%s/status/it-bus/clean", pfx);

	T_REQUIRE(mk(&watch, "it-bus-will-watch", NULL) != NULL);
	T_CHECK(gk_bus_subscribe(watch.bus, filter, 1) == 0);
	T_CHECK(gk_bus_start(watch.bus) == 0);
	AWAIT(loop, watch.subs_ok == 1, CONNECT_MS);
	T_REQUIRE(watch.subs_ok == 1);

	/* A fresh process, not a fork of this threaded one. */
	T_REQUIRE(pipe(fds) == 0);
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(self, self, "will-child", topic, (char *)NULL);
		_exit(127);
	}
	T_REQUIRE(pid > 0);
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	T_CHECK(poll(&pfd, 1, CONNECT_MS) == 1 && read(fds[0], buf, 3) == 3 &&
	    memcmp(buf, "up\n", 3) == 0);
	close(fds[0]);

	AWAIT(loop, find(&watch, topic, "\"state\":\"online\"") >= 0, CONNECT_MS);
	T_CHECK((i = find(&watch, topic, "\"state\":\"online\"")) >= 0);
	if (i >= 0) {
		T_CHECK(strstr(watch.msgs[i].payload, "\"service\":\"it-bus\"") != NULL);
		T_CHECK(strstr(watch.msgs[i].payload, "\"instance\":\"child\"") != NULL);
		T_CHECK(schema_valid("device-status", watch.msgs[i].payload));
	}

	/* Killed without a DISCONNECT: the broker publishes the will. */
	T_CHECK(kill(pid, SIGKILL) == 0);
	T_CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	AWAIT(loop, find(&watch, topic, "\"state\":\"offline\"") >= 0, CONNECT_MS);
	T_CHECK((i = find(&watch, topic, "\"state\":\"offline\"")) >= 0);
	if (i >= 0) {
		T_CHECK(strstr(watch.msgs[i].payload,
		    "\"reason\":\"connection_lost\"") != NULL);
		T_CHECK(schema_valid("device-status", watch.msgs[i].payload));
	}

	/* The will is retained: a late subscriber finds it. */
	T_REQUIRE(mk(&late, "it-bus-will-late", NULL) != NULL);
	T_CHECK(gk_bus_subscribe(late.bus, topic, 1) == 0);
	T_CHECK(gk_bus_start(late.bus) == 0);
	AWAIT(loop, late.nmsg >= 1, CONNECT_MS);
	T_CHECK(late.nmsg == 1 && late.msgs[0].retain == 1 &&
	    strstr(late.msgs[0].payload, "\"state\":\"offline\"") != NULL);

	/* A clean shutdown says so itself before it disconnects. */
	memset(&o, 0, sizeof(o));
	o.clean_start = 1;
	o.status_topic = ctopic;
	T_REQUIRE(mk(&clean, "it-bus-will-clean", &o) != NULL);
	T_CHECK(gk_bus_start(clean.bus) == 0);
	AWAIT(loop, find(&watch, ctopic, "\"state\":\"online\"") >= 0, CONNECT_MS);
	T_CHECK(find(&watch, ctopic, "\"state\":\"online\"") >= 0);
	gk_bus_free(clean.bus);
	AWAIT(loop, find(&watch, ctopic, "\"reason\":\"shutdown\"") >= 0, CONNECT_MS);
	T_CHECK((i = find(&watch, ctopic, "\"reason\":\"shutdown\"")) >= 0);
	if (i >= 0)
		T_CHECK(schema_valid("device-status", watch.msgs[i].payload));

	/* A status topic that does not name service and instance is refused. */
	o.url = url;
	o.client_id = "it-bus-will-bad";
	o.status_topic = "ecogate/v1/site1/status/verifier";
	T_CHECK(gk_bus_new(loop, &o, err, sizeof(err)) == NULL &&
	    strstr(err, "status/{service}/{instance}") != NULL);
	o.status_topic = "ecogate/v1/site1/status/Verifier/1";
	T_CHECK(gk_bus_new(loop, &o, err, sizeof(err)) == NULL);
	o.status_topic = ctopic;
	o.version = "1.0 beta";		/* a space would need escaping: refused */
	T_CHECK(gk_bus_new(loop, &o, err, sizeof(err)) == NULL &&
	    strstr(err, "version") != NULL);

	/* Leave no retained status behind: an empty retained message clears it. */
	T_CHECK(publish(&late, topic, "", 1, 1, NULL) == 0);
	T_CHECK(publish(&late, ctopic, "", 1, 1, NULL) == 0);
	AWAIT(loop, late.pub_ok >= 2, CONNECT_MS);
	T_CHECK(late.pub_ok == 2);
	gk_bus_free(late.bus);
	gk_bus_free(watch.bus);
}

static struct gk_bus *
mk_persistent(struct cli *c, const char *id, const char *dir)
{
	struct gk_bus_opts o;

	memset(&o, 0, sizeof(o));
	o.clean_start = 0;
	o.session_expiry_s = 600;
	o.persist_dir = dir;
	return mk(c, id, &o);
}

static void
test_reconnect(void)
{
	static struct cli sub, pub, wipe, csub;
	char topic[128], filter[128], dir[256];
	struct gk_bus_opts o;
	int i;

	fprintf(stderr, "-- reconnect\n");
	snprintf(filter, sizeof(filter), "%s/rc/#", pfx);
	snprintf(topic, sizeof(topic), "%s/rc/lane-1/plate", pfx);
	snprintf(dir, sizeof(dir), "%s/it_bus-%ld", t_env("ECOGATE_STATE_DIR", "/tmp"),
	    (long)getpid());

	T_REQUIRE(mk_persistent(&sub, "it-bus-rc-sub", dir) != NULL);
	T_CHECK(gk_bus_subscribe(sub.bus, filter, 1) == 0);
	T_CHECK(gk_bus_start(sub.bus) == 0);
	T_REQUIRE(mk(&pub, "it-bus-rc-pub", NULL) != NULL);
	T_CHECK(gk_bus_start(pub.bus) == 0);
	/* A clean-start subscriber: the broker forgets its subscription at every
	 * reconnect, so the adapter must make it again. */
	T_REQUIRE(mk(&csub, "it-bus-rc-csub", NULL) != NULL);
	T_CHECK(gk_bus_subscribe(csub.bus, filter, 1) == 0);
	T_CHECK(gk_bus_start(csub.bus) == 0);
	AWAIT(loop, sub.subs_ok == 1 && csub.subs_ok == 1 && pub.up, CONNECT_MS);
	T_REQUIRE(sub.subs_ok == 1 && csub.subs_ok == 1 && pub.up);

	/* 1. The broker restarts: both notice, both come back by themselves. */
	T_REQUIRE(t_servers("restart", "mosquitto") == 0);
	AWAIT(loop, sub.downs >= 1 && pub.downs >= 1 && sub.up && pub.up, RESTART_MS);
	T_CHECKF(sub.downs == 1 && pub.downs == 1, "downs %d %d", sub.downs, pub.downs);
	T_REQUIRE(sub.up && pub.up);
	T_CHECK(sub.ups == 2 && pub.ups == 2);
	AWAIT(loop, csub.subs_ok == 2, CONNECT_MS);
	T_CHECK(csub.subs_ok == 2 && csub.downs == 1);
	T_CHECK(publish(&pub, topic, "after-restart", 1, 0, NULL) == 0);
	AWAIT(loop, find(&sub, topic, "after-restart") >= 0 &&
	    find(&csub, topic, "after-restart") >= 0, CONNECT_MS);
	T_CHECK(find(&sub, topic, "after-restart") >= 0);
	T_CHECK(find(&csub, topic, "after-restart") >= 0);
	gk_bus_free(csub.bus);

	/* 2. Persistent session: published while the subscriber is away, the broker
	 * keeps it and hands it over when the same client id comes back. */
	gk_bus_free(sub.bus);
	T_CHECK(publish(&pub, topic, "while-away", 1, 0, NULL) == 0);
	AWAIT(loop, pub.pub_ok >= 2, CONNECT_MS);
	T_REQUIRE(pub.pub_ok == 2);
	T_REQUIRE(mk_persistent(&sub, "it-bus-rc-sub", dir) != NULL);
	T_CHECK(gk_bus_subscribe(sub.bus, filter, 1) == 0);
	T_CHECK(gk_bus_start(sub.bus) == 0);
	AWAIT(loop, find(&sub, topic, "while-away") >= 0, CONNECT_MS);
	T_CHECK((i = find(&sub, topic, "while-away")) >= 0);
	if (i >= 0)
		T_CHECK(sub.msgs[i].qos == 1);
	AWAIT(loop, sub.up, CONNECT_MS);
	T_REQUIRE(sub.up);

	/* 3. Published while the broker is down: buffered, sent after reconnect. */
	T_REQUIRE(t_servers("stop", "mosquitto") == 0);
	AWAIT(loop, !pub.up && !sub.up, RESTART_MS);
	T_REQUIRE(!pub.up && !sub.up);
	T_CHECK(!gk_bus_connected(pub.bus));
	T_CHECK(publish(&pub, topic, "buffered", 1, 0, NULL) == 0);
	T_REQUIRE(t_servers("start", "mosquitto") == 0);
	AWAIT(loop, find(&sub, topic, "buffered") >= 0 && pub.pub_ok >= 3, RESTART_MS);
	T_CHECK(find(&sub, topic, "buffered") >= 0);
	T_CHECK(pub.pub_ok == 3 && pub.pub_fail == 0);
	T_CHECK(pub.up && sub.up);

	gk_bus_free(sub.bus);
	gk_bus_free(pub.bus);

	/* End the persistent session so the broker keeps nothing for it. */
	memset(&o, 0, sizeof(o));
	o.clean_start = 1;
	T_REQUIRE(mk(&wipe, "it-bus-rc-sub", &o) != NULL);
	T_CHECK(gk_bus_start(wipe.bus) == 0);
	AWAIT(loop, wipe.up, CONNECT_MS);
	T_CHECK(wipe.up);
	gk_bus_free(wipe.bus);
}

/* gk_bus_free() reports publishes it could not finish, and frees cleanly even with
 * the broker unreachable. */
static void
test_free_pending(void)
{
	static struct cli c;
	struct gk_bus_opts o;
	char err[128];
	int tag;

	fprintf(stderr, "-- free with pending publishes\n");
	memset(&o, 0, sizeof(o));
	o.clean_start = 1;
	o.max_buffered = 2;
	T_REQUIRE(mk(&c, "it-bus-pending", &o) != NULL);
	/* Never started: publishes wait in the buffer, the third does not fit. */
	T_CHECK(publish(&c, "it/pending", "1", 1, 0, &tag) == 0);
	T_CHECK(publish(&c, "it/pending", "2", 1, 0, &tag) == 0);
	errno = 0;
	T_CHECK(publish(&c, "it/pending", "3", 1, 0, &tag) == -1 && errno == ENOBUFS);
	gk_bus_free(c.bus);
	T_CHECK(c.pub_fail == 2 && c.pub_ok == 0 && c.last_opaque == &tag);
	T_STREQ(c.last_why, "bus closed");
	gk_bus_free(NULL);

	/* Local errors only at init. */
	memset(&o, 0, sizeof(o));
	o.url = "http://127.0.0.1:1";
	o.client_id = "x";
	T_CHECK(gk_bus_new(loop, &o, err, sizeof(err)) == NULL && err[0] != '\0');
	o.url = url;
	o.client_id = "bad id/with slash";
	T_CHECK(gk_bus_new(loop, &o, err, sizeof(err)) == NULL);
	o.client_id = "x";
	o.ca_file = "/etc/ssl/certs/ca-certificates.crt";	/* TLS files, tcp url */
	T_CHECK(gk_bus_new(loop, &o, err, sizeof(err)) == NULL);
}

int
main(int argc, char *argv[])
{
	gk_log_init("it_bus");
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%s",
	    t_env("ECOGATE_MQTT_PORT", "31883"));
	if (argc == 3 && strcmp(argv[1], "will-child") == 0)
		return will_child(argv[2]);
	snprintf(pfx, sizeof(pfx), "ecogate-it/bus/%ld", (long)getpid());
	T_REQUIRE((loop = gk_loop_new()) != NULL);

	test_roundtrip();
	test_will("/proc/self/exe");
	test_reconnect();
	test_free_pending();

	while (gk_loop_once(loop, 0) > 0)
		;
	gk_loop_free(loop);
	return T_DONE();
}
