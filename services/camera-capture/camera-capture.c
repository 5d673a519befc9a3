/*
 * camera-capture: grabs the right frames of one lane's camera and hands them on. The
 * camera is read on a source thread (source.c: FFmpeg for RTSP, HTTP MJPEG and video
 * files, libcurl for JPEG snapshots, a folder replay); this file is the shell on the
 * loop thread that decides, through capture.c, which frames to keep: a burst of N
 * frames at an interval after each lane trigger (trigger.v1 with occupied=true on
 * ecogate/v1/{site}/lane/{lane}/trigger, from the loop detector), or a steady frame
 * rate. Each kept frame is encoded within the size limit (jpeg.c, libjpeg-turbo) and
 *
 *   - published (QoS 1) on ecogate/v1/{site}/lane/{lane}/frame: the JPEG bytes, with
 *     MQTT 5 user properties frame_id (UUIDv7), ts (RFC 3339, when the camera gave
 *     it), camera, sha256 (hex, of the payload), width, height and trigger_id (the
 *     trigger's; absent in continuous mode); content type image/jpeg;
 *   - produced, when evidence is on, to Kafka ecogate.evidence.v1 with key = the hex
 *     SHA-256 and header content-type: image/jpeg, so the ledger-writer stores the
 *     image a plate read names by its frame_sha256 (docs/ledger.md).
 *
 * Health: the source retries a failed camera with backoff on its own; when no frame
 * has come for alarm.no_frame an alarm.v1 (camera.no_frame) goes to
 * ecogate/v1/{site}/alarm, and is cleared when frames return. The bus keeps the
 * retained status/camera-capture/{camera} topic with its last will.
 *
 * MQTT runs with a clean session: a trigger that waited at the broker while we were
 * away names a vehicle that has long gone, and a stale trigger is refused anyway.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/evp.h>

#include "gatekit/bus.h"
#include "gatekit/cfg.h"
#include "gatekit/daemon.h"
#include "gatekit/json.h"
#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/stream.h"
#include "gatekit/util.h"

#include "capture.h"
#include "jpeg.h"
#include "source.h"

#define SVC		"camera-capture"
#define TOPIC_LEN	256
#define TRIGGER_MAX	4096
#define SEEN_MAX	16	/* trigger ids remembered against redelivery */
#define HEALTH_MS	250	/* how often health and the schedule are looked at */
#define ALARM_CODE	"camera.no_frame"

#ifndef ECOGATE_VERSION
#define ECOGATE_VERSION	"unknown"
#endif

struct cam_cfg {
	char		*site;
	char		*lane;
	char		*camera;
	char		*source_url;
	char		*source_type;
	int64_t		 source_timeout_ms;
	int64_t		 source_interval_ms;
	int		 source_loop;
	int		 source_rtsp_tcp;
	long long	 source_max_bytes;
	int64_t		 reconnect_min_ms;
	int64_t		 reconnect_max_ms;
	char		*mode;
	long long	 burst_count;
	int64_t		 burst_interval_ms;
	double		 fps;
	int64_t		 trigger_max_age_ms;
	long long	 jpeg_quality;
	long long	 jpeg_min_quality;
	long long	 jpeg_max_bytes;
	int64_t		 alarm_no_frame_ms;
	int		 evidence;
	char		*kafka_brokers;
	char		*kafka_evidence_topic;
	char		*mqtt_url;
	char		*mqtt_client_id;
	char		*mqtt_username;
	char		*mqtt_password;
	long long	 mqtt_max_buffered;
	int64_t		 stats_interval_ms;
	int64_t		 shutdown_flush_ms;
};

#define O(f)	offsetof(struct cam_cfg, f)
static const struct gk_cfg_key cam_keys[] = {
	{ "site", GK_CFG_STR, O(site), "site1", 1, 32, 0,
	    "plant site id (topic segment)" },
	{ "lane", GK_CFG_STR, O(lane), "in-1", 1, 32, 0,
	    "lane this camera watches (topic segment)" },
	{ "camera", GK_CFG_STR, O(camera), "cam1", 1, 32, 0,
	    "camera id: frame property, status instance, client id" },
	{ "source.url", GK_CFG_STR, O(source_url), NULL, 1, 2000, GK_CFG_REQUIRED,
	    "rtsp://..., http(s)://... (MJPEG stream or .jpg snapshot), a video file "
	    "path, or dir:PATH (JPEG files replayed in name order)" },
	{ "source.type", GK_CFG_STR, O(source_type), "auto", 1, 8, 0,
	    "auto, stream or snapshot: how an http(s) URL is read" },
	{ "source.timeout", GK_CFG_MS, O(source_timeout_ms), "5s", 100, 600000, 0,
	    "bound on each open, read and snapshot GET" },
	{ "source.interval", GK_CFG_MS, O(source_interval_ms), "200ms", 10, 3600000, 0,
	    "snapshot poll period and folder replay period" },
	{ "source.loop", GK_CFG_BOOL, O(source_loop), "yes", 0, 0, 0,
	    "a video file or folder starts over at its end" },
	{ "source.rtsp_tcp", GK_CFG_BOOL, O(source_rtsp_tcp), "yes", 0, 0, 0,
	    "RTSP over TCP rather than UDP" },
	{ "source.max_bytes", GK_CFG_INT, O(source_max_bytes), "16777216", 1024,
	    268435456, 0, "largest JPEG taken from a snapshot camera or folder" },
	{ "reconnect.min", GK_CFG_MS, O(reconnect_min_ms), "500ms", 10, 3600000, 0,
	    "first delay before reopening a failed camera" },
	{ "reconnect.max", GK_CFG_MS, O(reconnect_max_ms), "30s", 10, 3600000, 0,
	    "cap of the doubling reconnect delay" },
	{ "mode", GK_CFG_STR, O(mode), "trigger", 1, 16, 0,
	    "trigger (a burst per lane trigger) or continuous (fps)" },
	{ "burst.count", GK_CFG_INT, O(burst_count), "3", 1, 100, 0,
	    "frames per trigger" },
	{ "burst.interval", GK_CFG_MS, O(burst_interval_ms), "200ms", 1, 60000, 0,
	    "time between the frames of a burst" },
	{ "fps", GK_CFG_DOUBLE, O(fps), "2", 0, 60, 0,
	    "continuous mode: frames per second (0.001..60)" },
	{ "trigger.max_age", GK_CFG_MS, O(trigger_max_age_ms), "10s", 0, 3600000, 0,
	    "triggers whose ts is further from our clock are ignored; 0: no check" },
	{ "jpeg.quality", GK_CFG_INT, O(jpeg_quality), "85", 1, 100, 0,
	    "JPEG quality of encoded frames" },
	{ "jpeg.min_quality", GK_CFG_INT, O(jpeg_min_quality), "50", 1, 100, 0,
	    "lowest quality tried before a frame is halved to fit jpeg.max_bytes" },
	{ "jpeg.max_bytes", GK_CFG_INT, O(jpeg_max_bytes), "800000", 0, 16777216, 0,
	    "largest frame published; 0: no limit (mind Kafka's message.max.bytes)" },
	{ "alarm.no_frame", GK_CFG_MS, O(alarm_no_frame_ms), "10s", 0, 86400000, 0,
	    "alarm when no frame came for this long; 0: never" },
	{ "evidence", GK_CFG_BOOL, O(evidence), "yes", 0, 0, 0,
	    "produce each published frame to Kafka for the ledger" },
	{ "kafka.brokers", GK_CFG_STR, O(kafka_brokers), "127.0.0.1:9092", 1, 0, 0,
	    "Kafka bootstrap servers" },
	{ "kafka.evidence_topic", GK_CFG_STR, O(kafka_evidence_topic),
	    "ecogate.evidence.v1", 1, 249, 0, "where frames go as evidence" },
	{ "mqtt.url", GK_CFG_STR, O(mqtt_url), "tcp://127.0.0.1:1883", 0, 0, 0,
	    "MQTT broker URL" },
	{ "mqtt.client-id", GK_CFG_STR, O(mqtt_client_id), NULL, 0, 64, 0,
	    "MQTT client id; empty: camera-capture-{camera}" },
	{ "mqtt.username", GK_CFG_STR, O(mqtt_username), NULL, 0, 64, 0,
	    "MQTT user; empty: none" },
	{ "mqtt.password", GK_CFG_STR, O(mqtt_password), NULL, 0, 256, GK_CFG_SECRET,
	    "MQTT password; use ECOGATE_MQTT_PASSWORD_FILE" },
	{ "mqtt.max_buffered", GK_CFG_INT, O(mqtt_max_buffered), "20", 1, 10000, 0,
	    "frames held while the broker is away (each up to jpeg.max_bytes)" },
	{ "stats.interval", GK_CFG_MS, O(stats_interval_ms), "60s", 1000, 86400000, 0,
	    "how often the counters are logged" },
	{ "shutdown.flush", GK_CFG_MS, O(shutdown_flush_ms), "3s", 0, 8000, 0,
	    "how long shutdown waits for Kafka deliveries" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
};
#undef O

struct cam_stats {
	uint64_t	triggers;
	uint64_t	triggers_bad;
	uint64_t	triggers_ignored;	/* other lane, stale, duplicate, released */
	uint64_t	bursts_cut;		/* frames a newer trigger left untaken */
	uint64_t	frames;			/* published */
	uint64_t	publish_failed;
	uint64_t	encode_failed;
	uint64_t	reencoded;		/* made smaller to fit jpeg.max_bytes */
	uint64_t	evidence;		/* delivered to Kafka */
	uint64_t	evidence_failed;
	uint64_t	alarms;
};

struct cam {
	struct cam_cfg		 cfg;
	struct gk_loop		*loop;
	struct gk_bus		*bus;
	struct gk_stream	*producer;
	struct source		*src;
	struct sched		 sched;
	struct health		 health;
	struct jpeg_opts	 jo;
	uint64_t		 cap_timer;
	uint64_t		 health_timer;
	uint64_t		 stats_timer;
	int			 closing;
	int			 global_init;
	char			 seen[SEEN_MAX][GK_ID_LEN];
	size_t			 seen_next;
	struct cam_stats	 st;
	char			 t_frame[TOPIC_LEN];
	char			 t_trigger[TOPIC_LEN];
	char			 t_alarm[TOPIC_LEN];
	char			 t_status[TOPIC_LEN];
	char			 client_id[GK_BUS_CLIENT_ID_LEN];
	char			 target[2048];
	char			 kafka_max[48];
	const char		*kafka_conf[2];
};

static void	try_capture(struct cam *c);

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
on_published(void *arg, void *opaque, int ok, const char *why)
{
	struct cam *c = arg;

	if (!ok) {
		c->st.publish_failed++;
		gk_log(GK_LOG_WARN, "bus.publish_failed", "what=%s why=%s",
		    (const char *)opaque, why);
	}
}

static void
on_delivery(void *arg, const struct gk_stream_delivery *d)
{
	struct cam *c = arg;

	if (d->err == 0) {
		c->st.evidence++;
		return;
	}
	c->st.evidence_failed++;
	gk_log(GK_LOG_WARN, "evidence.failed", "topic=%s err=%s", d->topic, d->errstr);
}

static void
publish_alarm(struct cam *c, int active)
{
	char now[GK_TS_LEN], text[200];
	struct gk_bus_msg m;
	json_t *doc;
	char *txt;

	gk_log(active ? GK_LOG_WARN : GK_LOG_INFO, active ? "camera.alarm" :
	    "camera.alarm_cleared", "code=%s camera=%s", ALARM_CODE, c->cfg.camera);
	if (active)
		c->st.alarms++;
	if (gk_ts_format(gk_wall_ms(), now, sizeof(now)) == -1)
		return;
	snprintf(text, sizeof(text), "摄像机 %s 无图像", c->cfg.camera);
	doc = json_object();
	json_object_set_new(doc, "schema", json_string("ecogate.alarm.v1"));
	json_object_set_new(doc, "site", json_string(c->cfg.site));
	json_object_set_new(doc, "lane", json_string(c->cfg.lane));
	json_object_set_new(doc, "source", json_string(SVC));
	json_object_set_new(doc, "code", json_string(ALARM_CODE));
	json_object_set_new(doc, "active", json_boolean(active));
	json_object_set_new(doc, "text", json_string(text));
	json_object_set_new(doc, "ts", json_string(now));
	txt = gk_json_dump_compact(doc);
	json_decref(doc);
	if (txt == NULL) {
		c->st.publish_failed++;
		return;
	}
	memset(&m, 0, sizeof(m));
	m.topic = c->t_alarm;
	m.payload = txt;
	m.len = strlen(txt);
	m.qos = 1;
	m.content_type = "application/json";
	if (gk_bus_publish(c->bus, &m, "alarm") == -1) {
		c->st.publish_failed++;
		gk_log(GK_LOG_WARN, "bus.publish_failed", "what=alarm why=%s",
		    strerror(errno));
	}
	free(txt);
}

/* Encodes, hashes and sends one frame. f stays the caller's. */
static void
capture(struct cam *c, const struct frame *f, const char *trigger_id)
{
	char sha[2 * 32 + 1], fid[GK_ID_LEN], ts[GK_TS_LEN], err[256], ws[16], hs[16];
	struct gk_stream_header hdr = { "content-type", "image/jpeg", 10 };
	unsigned char md[EVP_MAX_MD_SIZE];
	struct gk_bus_prop props[7];
	struct jpeg_out out;
	struct gk_bus_msg m;
	unsigned int mdlen = 0;
	int rc;

	if (f->jpeg)
		rc = jpeg_fit(f->data, f->len, &c->jo, &out, err, sizeof(err));
	else
		rc = jpeg_encode(f->data, f->width, f->height, (size_t)f->width * 3,
		    &c->jo, &out, err, sizeof(err));
	if (rc == -1) {
		c->st.encode_failed++;
		gk_log(GK_LOG_WARN, "frame.encode_failed", "seq=%llu why=%s",
		    (unsigned long long)f->seq, err);
		return;
	}
	if (out.halvings > 0 || (f->jpeg && out.quality != 0) ||
	    (!f->jpeg && out.encodes > 1))
		c->st.reencoded++;
	if (EVP_Digest(out.buf, out.len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32 || gk_id_new(fid) == -1 ||
	    gk_ts_format(f->wall_ms, ts, sizeof(ts)) == -1) {
		c->st.encode_failed++;
		gk_log(GK_LOG_ERR, "frame.encode_failed", "seq=%llu why=%s",
		    (unsigned long long)f->seq, "hash, id or time failed");
		jpeg_out_free(&out);
		return;
	}
	hex(md, 32, sha);
	snprintf(ws, sizeof(ws), "%d", out.width);
	snprintf(hs, sizeof(hs), "%d", out.height);
	props[0] = (struct gk_bus_prop){ "frame_id", fid };
	props[1] = (struct gk_bus_prop){ "ts", ts };
	props[2] = (struct gk_bus_prop){ "camera", c->cfg.camera };
	props[3] = (struct gk_bus_prop){ "sha256", sha };
	props[4] = (struct gk_bus_prop){ "width", ws };
	props[5] = (struct gk_bus_prop){ "height", hs };
	props[6] = (struct gk_bus_prop){ "trigger_id", trigger_id };
	memset(&m, 0, sizeof(m));
	m.topic = c->t_frame;
	m.payload = out.buf;
	m.len = out.len;
	m.qos = 1;
	m.content_type = "image/jpeg";
	m.props = props;
	/* Continuous frames answer no trigger: no trigger_id rather than an empty one. */
	m.nprops = trigger_id[0] != '\0' ? GK_NELEM(props) : GK_NELEM(props) - 1;
	if (gk_bus_publish(c->bus, &m, "frame") == -1) {
		c->st.publish_failed++;
		gk_log(GK_LOG_WARN, "bus.publish_failed", "what=frame why=%s",
		    strerror(errno));
		jpeg_out_free(&out);
		return;
	}
	c->st.frames++;
	gk_log(trigger_id[0] != '\0' ? GK_LOG_INFO : GK_LOG_DEBUG, "frame.published",
	    "frame_id=%s trigger_id=%s sha256=%s bytes=%zu width=%d height=%d "
	    "quality=%d", fid, trigger_id, sha, out.len, out.width, out.height,
	    out.quality);
	/* The evidence copy is for the ledger; the frame went out whatever happens. */
	if (c->producer != NULL && gk_stream_produce(c->producer,
	    c->cfg.kafka_evidence_topic, sha, 64, out.buf, out.len, &hdr, 1, NULL) == -1)
		c->st.evidence_failed++;
	jpeg_out_free(&out);
}

static void
on_cap_timer(struct gk_loop *l, uint64_t id, void *arg)
{
	struct cam *c = arg;

	(void)l;
	if (id == c->cap_timer)
		c->cap_timer = 0;
	try_capture(c);
}

/* Tells the source and the timer when the schedule next wants a frame. */
static void
rearm(struct cam *c, int64_t now)
{
	int64_t w = sched_wait_ms(&c->sched, now);

	if (c->cap_timer != 0) {
		gk_loop_timer_cancel(c->loop, c->cap_timer);
		c->cap_timer = 0;
	}
	source_want(c->src, w < 0 ? INT64_MAX : now + w);
	if (w > 0)
		c->cap_timer = gk_loop_timer_add(c->loop, w, 0, on_cap_timer, c);
}

/* Captures the newest frame when the schedule wants one now and one is there. */
static void
try_capture(struct cam *c)
{
	char tid[GK_ID_LEN];
	int64_t now = gk_mono_ms();
	struct frame *f;

	if (c->closing || c->src == NULL)
		return;
	if (sched_wait_ms(&c->sched, now) == 0 &&
	    (f = source_take(c->src, c->sched.after_seq)) != NULL) {
		gk_strlcpy(tid, c->sched.mode == SCHED_TRIGGER ? c->sched.trigger_id : "",
		    sizeof(tid));
		if (sched_take(&c->sched, f->seq, now))
			capture(c, f, tid);
		frame_free(f);
	}
	rearm(c, now);
}

static void
on_frame(struct gk_loop *l, void *item, void *arg)
{
	struct cam *c = arg;

	(void)l;
	(void)item;
	if (c->closing || c->src == NULL)
		return;
	source_woken(c->src);
	try_capture(c);
}

static int
seen_before(struct cam *c, const char *id)
{
	size_t i;

	for (i = 0; i < SEEN_MAX; i++)
		if (strcmp(c->seen[i], id) == 0)
			return 1;
	gk_strlcpy(c->seen[c->seen_next], id, GK_ID_LEN);
	c->seen_next = (c->seen_next + 1) % SEEN_MAX;
	return 0;
}

static void
on_message(void *arg, const struct gk_bus_msg *msg)
{
	struct cam *c = arg;
	struct trigger t;
	char err[200];
	int64_t now, age;
	int cut;

	if (c->closing || strcmp(msg->topic, c->t_trigger) != 0)
		return;
	if (trigger_parse(msg->payload, msg->len, &t, err, sizeof(err)) == -1) {
		c->st.triggers_bad++;
		gk_log(GK_LOG_WARN, "trigger.rejected", "topic=%s why=%s", msg->topic, err);
		return;
	}
	if (strcmp(t.site, c->cfg.site) != 0 || strcmp(t.lane, c->cfg.lane) != 0) {
		c->st.triggers_bad++;
		gk_log(GK_LOG_WARN, "trigger.rejected", "topic=%s why=%s", msg->topic,
		    "site or lane is not this camera's");
		return;
	}
	if (!t.occupied) {
		c->st.triggers_ignored++;
		gk_log(GK_LOG_DEBUG, "trigger.released", "trigger_id=%s", t.trigger_id);
		return;
	}
	age = gk_wall_ms() - t.ts_ms;
	if (c->cfg.trigger_max_age_ms > 0 && (age > c->cfg.trigger_max_age_ms ||
	    -age > c->cfg.trigger_max_age_ms)) {
		c->st.triggers_ignored++;
		gk_log(GK_LOG_WARN, "trigger.stale", "trigger_id=%s age_ms=%lld",
		    t.trigger_id, (long long)age);
		return;
	}
	if (seen_before(c, t.trigger_id)) {
		c->st.triggers_ignored++;
		gk_log(GK_LOG_INFO, "trigger.duplicate", "trigger_id=%s", t.trigger_id);
		return;
	}
	c->st.triggers++;
	now = gk_mono_ms();
	cut = sched_trigger(&c->sched, t.trigger_id, source_seq(c->src), now);
	if (cut > 0) {
		c->st.bursts_cut += (uint64_t)cut;
		gk_log(GK_LOG_INFO, "burst.cut", "frames=%d", cut);
	}
	gk_log(GK_LOG_INFO, "trigger.accepted", "trigger_id=%s burst=%d", t.trigger_id,
	    c->sched.burst);
	try_capture(c);
}

static void
on_bus_state(void *arg, int connected, const char *why)
{
	(void)arg;
	gk_log(connected ? GK_LOG_INFO : GK_LOG_WARN, connected ? "bus.up" : "bus.down",
	    "why=%s", why);
}

static void
log_stats(struct cam *c)
{
	struct source_stats ss;

	memset(&ss, 0, sizeof(ss));
	if (c->src != NULL)
		source_get_stats(c->src, &ss);
	gk_log(GK_LOG_INFO, "camera.counters", "frames_read=%" PRIu64 " frames_bad=%"
	    PRIu64 " source_failures=%" PRIu64 " source_opens=%" PRIu64 " triggers=%"
	    PRIu64 " triggers_bad=%" PRIu64 " triggers_ignored=%" PRIu64 " bursts_cut=%"
	    PRIu64 " published=%" PRIu64 " publish_failed=%" PRIu64 " encode_failed=%"
	    PRIu64 " reencoded=%" PRIu64 " evidence=%" PRIu64 " evidence_failed=%"
	    PRIu64 " alarms=%" PRIu64, ss.frames, ss.bad, ss.failures, ss.opens,
	    c->st.triggers, c->st.triggers_bad, c->st.triggers_ignored,
	    c->st.bursts_cut, c->st.frames, c->st.publish_failed, c->st.encode_failed,
	    c->st.reencoded, c->st.evidence, c->st.evidence_failed, c->st.alarms);
}

static void
on_stats_timer(struct gk_loop *l, uint64_t id, void *arg)
{
	(void)l;
	(void)id;
	log_stats(arg);
}

static void
on_health_timer(struct gk_loop *l, uint64_t id, void *arg)
{
	struct cam *c = arg;
	int h;

	(void)l;
	(void)id;
	if (c->closing || c->src == NULL)
		return;
	h = health_check(&c->health, source_last_ms(c->src), gk_mono_ms());
	if (h != 0)
		publish_alarm(c, h > 0);
	/* A wake-up the source could not post is made up for here. */
	try_capture(c);
}

static void
on_stream_error(void *arg, int fatal, const char *reason)
{
	struct cam *c = arg;

	if (fatal) {
		gk_log(GK_LOG_ERR, "stream.fatal", "reason=%s", reason);
		gk_loop_stop(c->loop, EX_SOFTWARE);
	}
}

static int
cfg_check(struct cam *c, enum source_kind *kind)
{
	const char *why = NULL;
	int hint = 0;

	if (!gk_topic_id_valid(c->cfg.site) || !gk_topic_id_valid(c->cfg.lane) ||
	    !gk_topic_id_valid(c->cfg.camera))
		why = "site, lane and camera must match ^[a-z0-9][a-z0-9_-]{0,31}$";
	else if (strcmp(c->cfg.mode, "trigger") != 0 &&
	    strcmp(c->cfg.mode, "continuous") != 0)
		why = "mode must be trigger or continuous";
	else if (strcmp(c->cfg.mode, "continuous") == 0 && c->cfg.fps < 0.001)
		why = "fps must be at least 0.001 in continuous mode";
	else if (c->cfg.jpeg_min_quality > c->cfg.jpeg_quality)
		why = "jpeg.min_quality is above jpeg.quality";
	else if (c->cfg.jpeg_max_bytes != 0 && c->cfg.jpeg_max_bytes < 4096)
		why = "jpeg.max_bytes below 4096 cannot hold a usable frame";
	else if (c->cfg.reconnect_max_ms < c->cfg.reconnect_min_ms)
		why = "reconnect.max is below reconnect.min";
	else if (strcmp(c->cfg.source_type, "snapshot") == 0)
		hint = 1;
	else if (strcmp(c->cfg.source_type, "stream") == 0)
		hint = -1;
	else if (strcmp(c->cfg.source_type, "auto") != 0)
		why = "source.type must be auto, stream or snapshot";
	if (why == NULL && (*kind = source_kind(c->cfg.source_url, hint, c->target,
	    sizeof(c->target))) == SOURCE_BAD)
		why = "source.url: not rtsp://, http(s)://, dir:PATH or a file path";
	if (why != NULL) {
		gk_log(GK_LOG_ERR, "cfg.error", "err=%s", why);
		return -1;
	}
	return 0;
}

static int
cam_setup(struct cam *c)
{
	struct gk_stream_opts so;
	struct source_opts src;
	struct gk_bus_opts o;
	enum source_kind kind = SOURCE_BAD;
	int64_t interval, now = gk_mono_ms();
	size_t maxp;
	char err[256];

	if (cfg_check(c, &kind) == -1)
		return EX_CONFIG;
	if (gk_bus_topic(c->t_frame, TOPIC_LEN, "ecogate/v1/%s/lane/%s/frame",
	    c->cfg.site, c->cfg.lane) == -1 ||
	    gk_bus_topic(c->t_trigger, TOPIC_LEN, "ecogate/v1/%s/lane/%s/trigger",
	    c->cfg.site, c->cfg.lane) == -1 ||
	    gk_bus_topic(c->t_alarm, TOPIC_LEN, "ecogate/v1/%s/alarm", c->cfg.site) == -1 ||
	    gk_bus_topic(c->t_status, TOPIC_LEN, "ecogate/v1/%s/status/camera-capture/%s",
	    c->cfg.site, c->cfg.camera) == -1) {
		gk_log(GK_LOG_ERR, "cfg.error", "err=%s", "cannot build the topics");
		return EX_CONFIG;
	}
	c->jo.quality = (int)c->cfg.jpeg_quality;
	c->jo.min_quality = (int)c->cfg.jpeg_min_quality;
	c->jo.max_bytes = (size_t)c->cfg.jpeg_max_bytes;
	c->health.alarm_ms = c->cfg.alarm_no_frame_ms;
	if (strcmp(c->cfg.mode, "continuous") == 0) {
		interval = (int64_t)(1000.0 / c->cfg.fps + 0.5);
		sched_init(&c->sched, SCHED_CONTINUOUS, 1, interval, now);
	} else
		sched_init(&c->sched, SCHED_TRIGGER, (int)c->cfg.burst_count,
		    c->cfg.burst_interval_ms, now);

	if (c->cfg.mqtt_client_id[0] != '\0')
		gk_strlcpy(c->client_id, c->cfg.mqtt_client_id, sizeof(c->client_id));
	else
		snprintf(c->client_id, sizeof(c->client_id), "camera-capture-%s",
		    c->cfg.camera);
	maxp = c->jo.max_bytes != 0 ? c->jo.max_bytes : 16 * 1024 * 1024;
	if (maxp < TRIGGER_MAX)
		maxp = TRIGGER_MAX;
	memset(&o, 0, sizeof(o));
	o.url = c->cfg.mqtt_url;
	o.client_id = c->client_id;
	o.username = c->cfg.mqtt_username[0] != '\0' ? c->cfg.mqtt_username : NULL;
	o.password = c->cfg.mqtt_password[0] != '\0' ? c->cfg.mqtt_password : NULL;
	o.status_topic = c->t_status;
	o.version = ECOGATE_VERSION;
	o.clean_start = 1;
	o.max_payload = maxp;
	o.max_buffered = (int)c->cfg.mqtt_max_buffered;
	o.on_message = on_message;
	o.on_state = on_bus_state;
	o.on_published = on_published;
	o.arg = c;
	if ((c->bus = gk_bus_new(c->loop, &o, err, sizeof(err))) == NULL)
		return EX_CONFIG;
	if (c->sched.mode == SCHED_TRIGGER && gk_bus_subscribe(c->bus, c->t_trigger,
	    1) == -1) {
		gk_log(GK_LOG_ERR, "bus.subscribe_failed", "err=%s", strerror(errno));
		return EX_SOFTWARE;
	}

	if (c->cfg.evidence) {
		/* A frame must fit one Kafka message, whatever the broker's default. */
		snprintf(c->kafka_max, sizeof(c->kafka_max), "message.max.bytes=%zu",
		    maxp + 65536);
		c->kafka_conf[0] = c->kafka_max;
		c->kafka_conf[1] = NULL;
		memset(&so, 0, sizeof(so));
		so.brokers = c->cfg.kafka_brokers;
		so.client_id = c->client_id;
		so.config = c->kafka_conf;
		so.on_delivery = on_delivery;
		so.on_error = on_stream_error;
		so.arg = c;
		if ((c->producer = gk_stream_producer_new(c->loop, &so, err,
		    sizeof(err))) == NULL) {
			gk_log(GK_LOG_ERR, "cfg.error", "key=kafka err=%s", err);
			return EX_CONFIG;
		}
	}

	if (source_global_init() == -1) {
		gk_log(GK_LOG_ERR, "svc.init_failed", "err=%s", "FFmpeg or libcurl init");
		return EX_SOFTWARE;
	}
	c->global_init = 1;
	memset(&src, 0, sizeof(src));
	src.kind = kind;
	src.target = c->target;
	src.timeout_ms = c->cfg.source_timeout_ms;
	src.interval_ms = c->cfg.source_interval_ms;
	src.backoff_min_ms = c->cfg.reconnect_min_ms;
	src.backoff_max_ms = c->cfg.reconnect_max_ms;
	src.loop = c->cfg.source_loop;
	src.rtsp_tcp = c->cfg.source_rtsp_tcp;
	src.max_jpeg = (size_t)c->cfg.source_max_bytes;
	src.gloop = c->loop;
	src.on_frame = on_frame;
	src.arg = c;
	gk_log(GK_LOG_INFO, "source.start", "kind=%s source=%s mode=%s",
	    kind == SOURCE_STREAM ? "stream" : kind == SOURCE_FILE ? "file" :
	    kind == SOURCE_SNAPSHOT ? "snapshot" : "dir", c->target, c->cfg.mode);
	if ((c->src = source_start(&src, err, sizeof(err))) == NULL) {
		gk_log(GK_LOG_ERR, "svc.init_failed", "err=%s", err);
		return EX_SOFTWARE;
	}
	c->health_timer = gk_loop_timer_add(c->loop, HEALTH_MS, HEALTH_MS,
	    on_health_timer, c);
	c->stats_timer = gk_loop_timer_add(c->loop, c->cfg.stats_interval_ms,
	    c->cfg.stats_interval_ms, on_stats_timer, c);
	if (c->health_timer == 0 || c->stats_timer == 0) {
		gk_log(GK_LOG_ERR, "svc.init_failed", "err=%s", "timer");
		return EX_SOFTWARE;
	}
	rearm(c, now);
	if (gk_bus_start(c->bus) == -1)
		return EX_SOFTWARE;
	return 0;
}

static int
cam_init(void *arg, struct gk_loop *loop, const char *conffile)
{
	struct cam *c = arg;

	(void)conffile;
	c->loop = loop;
	return cam_setup(c);
}

/* Stops input first (the camera thread), then drains and closes the outputs. */
static void
cam_shutdown(void *arg)
{
	struct cam *c = arg;

	c->closing = 1;
	if (c->loop != NULL) {
		if (c->cap_timer != 0)
			gk_loop_timer_cancel(c->loop, c->cap_timer);
		if (c->health_timer != 0)
			gk_loop_timer_cancel(c->loop, c->health_timer);
		if (c->stats_timer != 0)
			gk_loop_timer_cancel(c->loop, c->stats_timer);
	}
	log_stats(c);
	source_stop(c->src);
	c->src = NULL;
	if (c->producer != NULL) {
		if (gk_stream_flush(c->producer, (int)c->cfg.shutdown_flush_ms) == -1)
			gk_log(GK_LOG_WARN, "evidence.unflushed", "pending=%d",
			    gk_stream_pending(c->producer));
		gk_stream_free(c->producer);
		c->producer = NULL;
	}
	gk_bus_free(c->bus);
	c->bus = NULL;
	if (c->global_init)
		source_global_cleanup();
}

int
main(int argc, char *argv[])
{
	static struct cam c;
	static const struct gk_daemon d = { SVC, ECOGATE_VERSION, &c.cfg, cam_keys, &c,
	    cam_init, NULL, cam_shutdown };

	return gk_daemon_main(&d, argc, argv);
}
