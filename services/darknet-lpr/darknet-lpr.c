/*
 * darknet-lpr: reads licence plates in the lane cameras' frames with the project's
 * darknet models and publishes what it read.
 *
 *   in   ecogate/v1/{site}/lane/+/frame   JPEG payload, QoS 1; MQTT 5 user properties
 *        frame_id, ts (RFC 3339 or epoch milliseconds), camera, trigger_id
 *   out  ecogate/v1/{site}/lane/{lane}/plate   plate-read.v1, QoS 1, one per plate
 *   out  ecogate/v1/{site}/status/darknet-lpr/{instance}   device-status.v1, retained
 *
 * The loop thread owns the daemon's state. A frame arriving from the bus is checked
 * for what costs nothing (size, lane, properties), copied and queued on its lane
 * (pool.h: per-lane queues served round-robin, a full lane drops its oldest frame);
 * worker threads, each with its own detector and reader network (darknet is not
 * thread-safe across one network), hash the JPEG (SHA-256, OpenSSL EVP), decode it
 * (libjpeg-turbo), detect and read plates (lpr.h), and post the finished job back to
 * the loop thread (gk_loop_post), which logs it and publishes the reads.
 *
 * Every frame ends in exactly one of three log events, each naming lane and frame_id:
 * frame.processed (with plates found, reads published and the stage timings),
 * frame.rejected (reason: empty, too_large, not_jpeg, bad_header, too_big, corrupt,
 * no_memory, bad_lane, too_many_lanes) or frame.dropped (overload: a newer frame of
 * its lane took its place). Counters go out in lpr.stats now and then and in
 * lpr.counters at the end.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <gatekit/bus.h>
#include <gatekit/cfg.h>
#include <gatekit/daemon.h>
#include <gatekit/json.h>
#include <gatekit/log.h>
#include <gatekit/loop.h>
#include <gatekit/plate.h>
#include <gatekit/util.h>

#include "lpr.h"
#include "pool.h"

#define LPR_VERSION	"0.1.0"
#define TOPIC_MAX	256
#define ID_MAX		65	/* a schema "id" (1..64) and its NUL */
#define WORKERS_MAX	16
#define LANES_STATS	64

#ifndef LPR_DATADIR
#define LPR_DATADIR	"/usr/share/ecogate/models"
#endif

struct lpr_cfg {
	char		*site;
	char		*instance;
	char		*mqtt_url;
	char		*mqtt_username;
	char		*mqtt_password;
	char		*model_dir;
	char		*det_cfg;
	char		*det_weights;
	char		*rd_cfg;
	char		*rd_weights;
	char		*ref_cfg;
	char		*ref_weights;
	long long	 ref_passes;
	char		*prov_cfg;
	char		*prov_weights;
	double		 prov_mix;
	char		*prov_prior;
	char		*chars_cfg;
	char		*chars_weights;
	double		 chars_mix;
	double		 chars_sure;
	char		*symbols;
	char		*blank;
	char		*versions;
	int		 require_weights;
	char		*classes;
	double		 det_thresh;
	double		 det_nms;
	long long	 max_plates;
	double		 pad_x;
	double		 pad_y;
	long long	 views;
	double		 min_confidence;
	double		 colour_overrule;
	int		 nev_ext;
	long long	 workers;
	long long	 queue_per_lane;
	long long	 lanes_max;
	long long	 max_bytes;
	long long	 max_width;
	long long	 max_height;
	long long	 max_pixels;
	int64_t		 stats_ms;
};

#define O(f)	offsetof(struct lpr_cfg, f)
static const struct gk_cfg_key lpr_keys[] = {
	{ "site", GK_CFG_STR, O(site), "site1", 1, 32, 0,
	    "plant site id, the {site} topic segment" },
	{ "instance", GK_CFG_STR, O(instance), "1", 1, 16, 0,
	    "instance id in the status topic and the client id" },
	{ "mqtt.url", GK_CFG_STR, O(mqtt_url), "tcp://127.0.0.1:1883", 0, 0, 0,
	    "MQTT broker URL" },
	{ "mqtt.username", GK_CFG_STR, O(mqtt_username), NULL, 0, 64, 0,
	    "MQTT user (the broker's ACL names it); empty: none" },
	{ "mqtt.password", GK_CFG_STR, O(mqtt_password), NULL, 0, 256, GK_CFG_SECRET,
	    "MQTT password; use ECOGATE_MQTT_PASSWORD_FILE" },
	{ "model.dir", GK_CFG_STR, O(model_dir), "models", 1, 900, 0,
	    "model folder; relative: to the config file's folder, then "
	    LPR_DATADIR },
	{ "detector.cfg", GK_CFG_STR, O(det_cfg), "plate-detector.cfg", 1, 900, 0,
	    "detector network (relative: in model.dir)" },
	{ "detector.weights", GK_CFG_STR, O(det_weights), "plate-detector.weights",
	    0, 900, 0, "detector weights; missing: random (see model.require_weights)" },
	{ "reader.cfg", GK_CFG_STR, O(rd_cfg), "plate-reader.cfg", 1, 900, 0,
	    "reader network" },
	{ "reader.weights", GK_CFG_STR, O(rd_weights), "plate-reader.weights", 0, 900,
	    0, "reader weights" },
	{ "refiner.cfg", GK_CFG_STR, O(ref_cfg), "plate-refiner.cfg", 0, 900, 0,
	    "box refiner network; empty: boxes go to the reader as detected" },
	{ "refiner.weights", GK_CFG_STR, O(ref_weights), "plate-refiner.weights", 0,
	    900, 0, "box refiner weights" },
	{ "refiner.passes", GK_CFG_INT, O(ref_passes), "2", 0, 3, 0,
	    "refiner passes per box (0: off; each 6-9 ms)" },
	{ "province.cfg", GK_CFG_STR, O(prov_cfg), "plate-province.cfg", 0, 900, 0,
	    "province reader network; empty: the reader alone reads the province" },
	{ "province.weights", GK_CFG_STR, O(prov_weights), "plate-province.weights",
	    0, 900, 0, "province reader weights" },
	{ "province.mix", GK_CFG_DOUBLE, O(prov_mix), "0.6", 0, 1, 0,
	    "province reader's share of the first character (0: off, 1: it alone)" },
	{ "province.prior", GK_CFG_STR, O(prov_prior), NULL, 0, 400, 0,
	    "the site's traffic by province, e.g. 沪:0.5,苏:0.15 (the rest evenly "
	    "over the others; sum at most 0.95); empty: every province alike" },
	{ "chars.cfg", GK_CFG_STR, O(chars_cfg), "plate-chars.cfg", 0, 900, 0,
	    "character reader network; empty: the reader alone reads the others" },
	{ "chars.weights", GK_CFG_STR, O(chars_weights), "plate-chars.weights", 0,
	    900, 0, "character reader weights" },
	{ "chars.mix", GK_CFG_DOUBLE, O(chars_mix), "0.6", 0, 1, 0,
	    "character reader's share of the other characters (0: off, 1: it alone)" },
	{ "chars.sure", GK_CFG_DOUBLE, O(chars_sure), "0.98", 0, 2, 0,
	    "a character the reader gives this probability is not read again "
	    "(above 1: every one is)" },
	{ "reader.symbols", GK_CFG_STR, O(symbols), "symbols.txt", 1, 900, 0,
	    "the reader's classes, one UTF-8 symbol per line" },
	{ "reader.blank", GK_CFG_STR, O(blank), "_", 1, 8, 0,
	    "the line of reader.symbols that is the blank" },
	{ "model.versions", GK_CFG_STR, O(versions), "versions.txt", 1, 900, 0,
	    "detector=X.Y.Z and reader=X.Y.Z lines, published with each read" },
	{ "model.require_weights", GK_CFG_BOOL, O(require_weights), "no", 0, 0, 0,
	    "refuse to start without both weights files (no: random weights, "
	    "a warning)" },
	{ "detector.classes", GK_CFG_STR, O(classes),
	    "blue,yellow,yellow+double,green,yellow_green,white,black", 1, 500, 0,
	    "colour (or 'crop') of each detector class, +double for two rows" },
	{ "detector.threshold", GK_CFG_DOUBLE, O(det_thresh), "0.15", 0, 1, 0,
	    "objectness x class probability a box needs" },
	{ "detector.nms", GK_CFG_DOUBLE, O(det_nms), "0.45", 0, 1, 0,
	    "IoU above which the weaker of two boxes goes" },
	{ "detector.max_plates", GK_CFG_INT, O(max_plates), "4", 1, LPR_PLATES_MAX, 0,
	    "plates read per frame, best boxes first" },
	{ "reader.pad_x", GK_CFG_DOUBLE, O(pad_x), "0.04", 0, 1, 0,
	    "crop widening left and right, fraction of the box width" },
	{ "reader.pad_y", GK_CFG_DOUBLE, O(pad_y), "0.08", 0, 1, 0,
	    "crop widening top and bottom, fraction of the box height" },
	{ "reader.views", GK_CFG_INT, O(views), "1", 1, 5, 0,
	    "the crop and nudged boxes read and averaged (1 to 5; each ~7 ms)" },
	{ "read.min_confidence", GK_CFG_DOUBLE, O(min_confidence), "0.3", 0, 1, 0,
	    "whole-plate confidence a read needs to be published" },
	{ "read.colour_overrule", GK_CFG_DOUBLE, O(colour_overrule), "10", 0, 1000, 0,
	    "a read the detector's colour rules out wins when this many times as "
	    "probable as the best it allows (0: never)" },
	{ "plate.nev_ext", GK_CFG_BOOL, O(nev_ext), "no", 0, 0, 0,
	    "accept the extended new-energy letters (gatekit GK_PLATE_NEV_EXT)" },
	{ "workers", GK_CFG_INT, O(workers), "2", 1, WORKERS_MAX, 0,
	    "worker threads, each with its own networks (one per core)" },
	{ "queue.per_lane", GK_CFG_INT, O(queue_per_lane), "4", 1, 1000, 0,
	    "frames waiting per lane; beyond it the oldest is dropped" },
	{ "queue.lanes_max", GK_CFG_INT, O(lanes_max), "16", 1, 256, 0,
	    "lanes served; frames of further lanes are refused" },
	{ "frame.max_bytes", GK_CFG_INT, O(max_bytes), "4194304", 1,
	    GK_BUS_MAX_PAYLOAD, 0, "largest JPEG accepted" },
	{ "frame.max_width", GK_CFG_INT, O(max_width), "4096", 1, 65535, 0,
	    "widest frame accepted (checked before decoding)" },
	{ "frame.max_height", GK_CFG_INT, O(max_height), "4096", 1, 65535, 0,
	    "tallest frame accepted" },
	{ "frame.max_pixels", GK_CFG_INT, O(max_pixels), "12000000", 1,
	    100000000, 0, "largest frame accepted, width x height" },
	{ "stats.interval", GK_CFG_MS, O(stats_ms), "60s", 1000, 86400000, 0,
	    "how often lpr.stats is logged" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
};
#undef O

/* Why the loop refused a frame before queueing it (beyond frame_reason's). */
enum {
	R_BAD_LANE = FRAME_REASON_COUNT,
	R_TOO_MANY_LANES,
	R_COUNT
};

struct counters {
	uint64_t	frames;		/* taken from the bus */
	uint64_t	processed;
	uint64_t	rejected[R_COUNT];
	uint64_t	dropped;
	uint64_t	plates;		/* boxes read */
	uint64_t	published;
	uint64_t	unread;		/* boxes with no legal plate */
	uint64_t	low_conf;	/* legal plates below read.min_confidence */
	uint64_t	publish_failed;
	uint64_t	props_bad;	/* user properties ignored as malformed */
};

struct darknet_lpr;

/* One frame on its way: made by the loop, worked on by one worker, back to the loop. */
struct job {
	struct darknet_lpr	*d;
	char		 lane[LQ_LANE_MAX];
	char		 frame_id[ID_MAX];
	char		 camera[ID_MAX];
	char		 trigger_id[ID_MAX];
	char		 ts[GK_TS_LEN];
	int64_t		 queued_ms;
	double		 wait_ms;	/* in the queue */
	char		 sha256[65];
	struct lpr_result res;
	size_t		 len;
	unsigned char	 jpeg[];	/* the payload */
};

struct darknet_lpr {
	struct lpr_cfg		 cfg;
	const char		*conffile;
	struct gk_loop		*loop;
	struct gk_bus		*bus;
	struct pool		*pool;
	struct lpr_models	 models;
	int			 nworkers;
	struct lpr		*workers[WORKERS_MAX];
	char			 frame_filter[TOPIC_MAX];
	size_t			 lane_at;	/* where {lane} starts in a frame topic */
	uint64_t		 stats_timer;
	struct counters		 n;
};

static const char *
reason_name(int r)
{
	if (r == R_BAD_LANE)
		return "bad_lane";
	if (r == R_TOO_MANY_LANES)
		return "too_many_lanes";
	return frame_reason_name((enum frame_reason)r);
}

/* The schema's colour enum: gatekit's English names with '_' for '-'. */
static const char *
colour_name(enum gk_plate_colour c)
{
	switch (c) {
	case GK_PLATE_COLOUR_BLUE:
		return "blue";
	case GK_PLATE_COLOUR_YELLOW:
		return "yellow";
	case GK_PLATE_COLOUR_GREEN:
		return "green";
	case GK_PLATE_COLOUR_YELLOW_GREEN:
		return "yellow_green";
	case GK_PLATE_COLOUR_WHITE:
		return "white";
	case GK_PLATE_COLOUR_BLACK:
		return "black";
	case GK_PLATE_COLOUR_OTHER:
		return "other";
	default:
		return "unknown";
	}
}

/* ------------------------------------------------------------ configuration */

/*
 * The model folder: model.dir as given when absolute; relative, first against the
 * config file's folder (the shipped config sits two levels below models/), then
 * against the install folder. The first holding the detector cfg wins.
 */
static int
model_dir(const struct darknet_lpr *d, char *buf, size_t len)
{
	char		 base[LPR_PATH_MAX], probe[LPR_PATH_MAX];
	const char	*slash;

	if (d->cfg.model_dir[0] == '/')
		return lpr_path_join(buf, len, "", d->cfg.model_dir);
	if (d->conffile != NULL && (slash = strrchr(d->conffile, '/')) != NULL)
		snprintf(base, sizeof(base), "%.*s", (int)(slash - d->conffile),
		    d->conffile);
	else
		snprintf(base, sizeof(base), ".");
	if (lpr_path_join(buf, len, base, d->cfg.model_dir) == 0 &&
	    lpr_path_join(probe, sizeof(probe), buf, d->cfg.det_cfg) == 0 &&
	    access(probe, R_OK) == 0)
		return 0;
	if (lpr_path_join(probe, sizeof(probe), LPR_DATADIR, d->cfg.det_cfg) == 0 &&
	    access(probe, R_OK) == 0)
		return lpr_path_join(buf, len, "", LPR_DATADIR);
	return lpr_path_join(buf, len, base, d->cfg.model_dir);	/* errors name this one */
}

/* An optional network is fine when it is off (no cfg) or its weights are there. */
static int
optional_found(const char *cfg, const char *weights)
{
	return cfg[0] == '\0' || (weights[0] != '\0' && access(weights, R_OK) == 0);
}

/* Fills d->models from the configuration; logs and returns -1 on any problem. */
static int
models_setup(struct darknet_lpr *d)
{
	struct lpr_models	*m = &d->models;
	const struct lpr_cfg	*c = &d->cfg;
	struct lpr_files	 files;
	char			 dir[LPR_PATH_MAX], err[256];

	if (model_dir(d, dir, sizeof(dir)) == -1) {
		gk_log(GK_LOG_ERR, "lpr.init_failed", "what=model_dir reason=%s",
		    "too long");
		return -1;
	}
	files.det_cfg = c->det_cfg;
	files.det_weights = c->det_weights;
	files.rd_cfg = c->rd_cfg;
	files.rd_weights = c->rd_weights;
	files.ref_cfg = c->ref_passes > 0 ? c->ref_cfg : NULL;
	files.ref_weights = c->ref_weights;
	files.prov_cfg = c->prov_mix > 0 ? c->prov_cfg : NULL;
	files.prov_weights = c->prov_weights;
	files.chars_cfg = c->chars_mix > 0 ? c->chars_cfg : NULL;
	files.chars_weights = c->chars_weights;
	files.symbols = c->symbols;
	files.blank = c->blank;
	files.versions = c->versions;
	files.classes = c->classes;
	if (lpr_models_load(m, dir, &files, err, sizeof(err)) == -1) {
		gk_log(GK_LOG_ERR, "lpr.init_failed", "what=models reason=%s", err);
		return -1;
	}
	if ((m->det_weights[0] == '\0' || access(m->det_weights, R_OK) == -1 ||
	    m->rd_weights[0] == '\0' || access(m->rd_weights, R_OK) == -1 ||
	    !optional_found(m->ref_cfg, m->ref_weights) ||
	    !optional_found(m->prov_cfg, m->prov_weights) ||
	    !optional_found(m->chars_cfg, m->chars_weights))) {
		gk_log(c->require_weights ? GK_LOG_ERR : GK_LOG_WARN,
		    "model.random_weights", "detector=%s reader=%s refiner=%s "
		    "province=%s chars=%s detector_found=%d reader_found=%d "
		    "refiner_found=%d province_found=%d chars_found=%d",
		    m->det_weights, m->rd_weights, m->ref_cfg[0] != '\0' ?
		    m->ref_weights : "(off)", m->prov_cfg[0] != '\0' ?
		    m->prov_weights : "(off)", m->chars_cfg[0] != '\0' ?
		    m->chars_weights : "(off)",
		    m->det_weights[0] != '\0' && access(m->det_weights, R_OK) == 0,
		    m->rd_weights[0] != '\0' && access(m->rd_weights, R_OK) == 0,
		    optional_found(m->ref_cfg, m->ref_weights),
		    optional_found(m->prov_cfg, m->prov_weights),
		    optional_found(m->chars_cfg, m->chars_weights));
		if (c->require_weights)
			return -1;
	}
	m->det_thresh = (float)c->det_thresh;
	m->det_nms = (float)c->det_nms;
	m->max_plates = (int)c->max_plates;
	m->pad_x = (float)c->pad_x;
	m->pad_y = (float)c->pad_y;
	m->reader_views = (int)c->views;
	m->refine_passes = (int)c->ref_passes;
	m->prov_mix = (float)c->prov_mix;
	m->chars_mix = (float)c->chars_mix;
	m->chars_sure = (float)c->chars_sure;
	if (pd_prior_parse(&m->alpha, c->prov_prior, m->prov_prior, err,
	    sizeof(err)) == -1) {
		gk_log(GK_LOG_ERR, "lpr.init_failed", "what=province.prior reason=%s",
		    err);
		return -1;
	}
	m->prov_prior_on = c->prov_prior != NULL && c->prov_prior[0] != '\0';
	m->colour_overrule = (float)c->colour_overrule;
	m->plate_flags = c->nev_ext ? GK_PLATE_NEV_EXT : 0;
	m->limits.max_bytes = (size_t)c->max_bytes;
	m->limits.max_w = (int)c->max_width;
	m->limits.max_h = (int)c->max_height;
	m->limits.max_pixels = c->max_pixels;
	return 0;
}

/* ------------------------------------------------------------ worker side */

/* A worker thread: hash, decode, detect, read; then back to the loop. */
static void on_done(struct gk_loop *, void *, void *);

static void
work(void *worker, void *item, void *arg)
{
	struct job	*j = item;
	struct darknet_lpr *d = arg;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;

	j->wait_ms = (double)(gk_mono_ms() - j->queued_ms);
	if (EVP_Digest(j->jpeg, j->len, md, &mdlen, EVP_sha256(), NULL) == 1)
		for (i = 0; i < mdlen && i < 32; i++)
			snprintf(j->sha256 + 2 * i, 3, "%02x", md[i]);
	lpr_run(worker, j->jpeg, j->len, &j->res);
	if (gk_loop_post(d->loop, on_done, j, d) == -1) {
		gk_log(GK_LOG_ERR, "frame.lost", "lane=%s frame_id=%s reason=%s",
		    j->lane, j->frame_id, "no memory to hand the result back");
		free(j);
	}
}

/* ------------------------------------------------------------ loop side */

static void
log_rejected(struct darknet_lpr *d, const char *topic, const char *frame_id,
    int reason, const char *detail)
{
	d->n.rejected[reason]++;
	gk_log(GK_LOG_WARN, "frame.rejected", "topic=%s frame_id=%s reason=%s "
	    "detail=%s count=%llu", topic, frame_id[0] != '\0' ? frame_id : NULL,
	    reason_name(reason), detail, (unsigned long long)d->n.rejected[reason]);
}

static int
id_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || strchr("._:-", s[i]) != NULL))
			return 0;
	return i >= 1 && i < ID_MAX;
}

/*
 * The frame's ts property into j->ts: RFC 3339, or integer epoch milliseconds (some
 * capture code has no formatter at hand). Absent or unreadable: the receipt time.
 */
static int
take_ts(struct job *j, const char *v)
{
	int64_t	 ms = 0;
	char	*end;
	long long n;

	if (v != NULL && v[0] >= '0' && v[0] <= '9' && strchr(v, '-') == NULL) {
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno == 0 && *end == '\0' && n > 0)
			ms = n;
	} else if (v != NULL && gk_ts_parse(v, &ms) == -1)
		ms = 0;
	if (ms == 0 || gk_ts_format(ms, j->ts, sizeof(j->ts)) == -1) {
		gk_ts_format(gk_wall_ms(), j->ts, sizeof(j->ts));
		return v == NULL ? 0 : -1;
	}
	return 0;
}

/* Copies the user properties we know into j; malformed ones are counted and left. */
static void
take_props(struct darknet_lpr *d, const struct gk_bus_msg *m, struct job *j,
    const char **ts)
{
	size_t	 i;
	char	*dst;

	*ts = NULL;
	for (i = 0; i < m->nprops; i++) {
		const char *k = m->props[i].key, *v = m->props[i].value;

		dst = NULL;
		if (strcmp(k, "frame_id") == 0)
			dst = j->frame_id;
		else if (strcmp(k, "camera") == 0)
			dst = j->camera;
		else if (strcmp(k, "trigger_id") == 0)
			dst = j->trigger_id;
		else if (strcmp(k, "ts") == 0) {
			*ts = v;
			continue;
		} else
			continue;
		if (!id_ok(v)) {
			d->n.props_bad++;
			gk_log(GK_LOG_WARN, "frame.bad_property", "topic=%s key=%s",
			    m->topic, k);
			continue;
		}
		memcpy(dst, v, strlen(v) + 1);
	}
}

static void
on_frame(struct darknet_lpr *d, const struct gk_bus_msg *m)
{
	struct job	*j, *old = NULL;
	const char	*s, *e, *ts;
	char		 lane[LQ_LANE_MAX], frame_id[ID_MAX] = "";
	size_t		 n, i;

	d->n.frames++;
	for (i = 0; i < m->nprops; i++)	/* for the log lines below */
		if (strcmp(m->props[i].key, "frame_id") == 0 &&
		    id_ok(m->props[i].value))
			gk_strlcpy(frame_id, m->props[i].value, sizeof(frame_id));
	s = m->topic + d->lane_at;
	if ((e = strchr(s, '/')) == NULL || (n = (size_t)(e - s)) >= sizeof(lane)) {
		log_rejected(d, m->topic, frame_id, R_BAD_LANE, "lane not a topic id");
		return;
	}
	memcpy(lane, s, n);
	lane[n] = '\0';
	if (!gk_topic_id_valid(lane)) {
		log_rejected(d, m->topic, frame_id, R_BAD_LANE, "lane not a topic id");
		return;
	}
	/* What is refused without decoding is refused before copying. */
	if (m->len == 0) {
		log_rejected(d, m->topic, frame_id, FRAME_EMPTY, "zero bytes");
		return;
	}
	if (m->len > (size_t)d->cfg.max_bytes) {
		log_rejected(d, m->topic, frame_id, FRAME_TOO_LARGE, "over "
		    "frame.max_bytes");
		return;
	}
	if ((j = calloc(1, sizeof(*j) + m->len)) == NULL) {
		log_rejected(d, m->topic, frame_id, FRAME_NOMEM, "job");
		return;
	}
	j->d = d;
	memcpy(j->lane, lane, n + 1);
	take_props(d, m, j, &ts);
	if (take_ts(j, ts) == -1) {
		d->n.props_bad++;
		gk_log(GK_LOG_WARN, "frame.bad_property", "topic=%s key=ts "
		    "frame_id=%s", m->topic, frame_id);
	}
	memcpy(j->jpeg, m->payload, m->len);
	j->len = m->len;
	j->queued_ms = gk_mono_ms();
	if (pool_push(d->pool, lane, j, (void **)&old) == -1) {
		log_rejected(d, m->topic, frame_id, errno == ENOSPC ?
		    R_TOO_MANY_LANES : R_BAD_LANE, errno == ENOSPC ?
		    "queue.lanes_max lanes already" : strerror(errno));
		free(j);
		return;
	}
	if (old != NULL) {
		d->n.dropped++;
		gk_log(GK_LOG_WARN, "frame.dropped", "lane=%s frame_id=%s "
		    "reason=overload for=%s dropped=%llu", old->lane,
		    old->frame_id[0] != '\0' ? old->frame_id : NULL,
		    j->frame_id[0] != '\0' ? j->frame_id : NULL,
		    (unsigned long long)d->n.dropped);
		free(old);
	}
}

static double
round4(double v)
{
	return round(v * 10000.0) / 10000.0;
}

/* One plate-read.v1 for plate p of job j. Returns 0 when published. */
static int
publish_read(struct darknet_lpr *d, const struct job *j, const struct lpr_plate *p)
{
	struct gk_bus_msg m;
	char		 topic[TOPIC_MAX], id[GK_ID_LEN];
	json_t		*o, *cc, *bb, *mv;
	char		*doc;
	int		 i, rc;

	if (gk_bus_topic(topic, sizeof(topic), "ecogate/v1/%s/lane/%s/plate",
	    d->cfg.site, j->lane) == -1 || gk_id_new(id) == -1)
		return -1;
	o = json_object();
	json_object_set_new(o, "schema", json_string("ecogate.plate-read.v1"));
	json_object_set_new(o, "event_id", json_string(id));
	json_object_set_new(o, "site", json_string(d->cfg.site));
	json_object_set_new(o, "lane", json_string(j->lane));
	json_object_set_new(o, "ts", json_string(j->ts));
	json_object_set_new(o, "plate", json_string(p->read.plate));
	json_object_set_new(o, "colour", json_string(colour_name(p->colour)));
	json_object_set_new(o, "confidence", json_real(round4(p->read.confidence)));
	cc = json_array();
	for (i = 0; i < p->read.nchars; i++)
		json_array_append_new(cc, json_real(round4(p->read.char_conf[i])));
	json_object_set_new(o, "char_confidences", cc);
	bb = json_object();
	json_object_set_new(bb, "x", json_integer(p->x));
	json_object_set_new(bb, "y", json_integer(p->y));
	json_object_set_new(bb, "w", json_integer(p->w));
	json_object_set_new(bb, "h", json_integer(p->h));
	json_object_set_new(o, "bbox", bb);
	json_object_set_new(o, "source", json_string("lpr"));
	if (j->sha256[0] != '\0')
		json_object_set_new(o, "frame_sha256", json_string(j->sha256));
	if (j->camera[0] != '\0')
		json_object_set_new(o, "camera", json_string(j->camera));
	if (j->trigger_id[0] != '\0')
		json_object_set_new(o, "trigger_id", json_string(j->trigger_id));
	if (j->frame_id[0] != '\0')
		json_object_set_new(o, "frame_id", json_string(j->frame_id));
	json_object_set_new(o, "double_row", json_boolean(p->double_row));
	mv = json_object();
	json_object_set_new(mv, "detector", json_string(d->models.det_version));
	json_object_set_new(mv, "reader", json_string(d->models.rd_version));
	json_object_set_new(o, "model", mv);
	doc = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (doc == NULL)
		return -1;
	memset(&m, 0, sizeof(m));
	m.topic = topic;
	m.payload = doc;
	m.len = strlen(doc);
	m.qos = 1;
	m.content_type = "application/json";
	rc = gk_bus_publish(d->bus, &m, NULL);
	free(doc);
	if (rc == 0)
		gk_log(GK_LOG_INFO, "plate.read", "lane=%s frame_id=%s event_id=%s "
		    "plate=%s colour=%s confidence=%g double_row=%d", j->lane,
		    j->frame_id[0] != '\0' ? j->frame_id : NULL, id, p->read.plate,
		    colour_name(p->colour), p->read.confidence, p->double_row);
	return rc;
}

/* The loop thread: a worker finished j. */
static void
on_done(struct gk_loop *l, void *item, void *arg)
{
	struct darknet_lpr	*d = arg;
	struct job		*j = item;
	const struct lpr_result	*r = &j->res;
	char			 topic[TOPIC_MAX];
	int			 i, published = 0;

	(void)l;
	if (d->bus == NULL) {	/* shutting down: the result has nowhere to go */
		free(j);
		return;
	}
	if (r->reason != FRAME_OK) {
		snprintf(topic, sizeof(topic), "ecogate/v1/%s/lane/%s/frame",
		    d->cfg.site, j->lane);
		log_rejected(d, topic, j->frame_id, r->reason, r->err);
		free(j);
		return;
	}
	d->n.processed++;
	for (i = 0; i < r->nplates; i++) {
		const struct lpr_plate *p = &r->plates[i];

		d->n.plates++;
		if (!p->read_ok) {
			d->n.unread++;
			gk_log(GK_LOG_INFO, "plate.unread", "lane=%s frame_id=%s "
			    "argmax=%s det_score=%g", j->lane, j->frame_id[0] != '\0' ?
			    j->frame_id : NULL, p->argmax, (double)p->det_score);
		} else if (p->read.confidence < d->cfg.min_confidence) {
			d->n.low_conf++;
			gk_log(GK_LOG_INFO, "plate.low_confidence", "lane=%s "
			    "frame_id=%s plate=%s confidence=%g", j->lane,
			    j->frame_id[0] != '\0' ? j->frame_id : NULL, p->read.plate,
			    p->read.confidence);
		} else if (publish_read(d, j, p) == 0) {
			d->n.published++;
			published++;
		} else {
			d->n.publish_failed++;
			gk_log(GK_LOG_WARN, "plate.publish_failed", "lane=%s frame_id=%s "
			    "plate=%s error=%s", j->lane, j->frame_id, p->read.plate,
			    strerror(errno));
		}
	}
	gk_log(GK_LOG_INFO, "frame.processed", "lane=%s frame_id=%s camera=%s "
	    "trigger_id=%s w=%d h=%d boxes=%d plates=%d published=%d wait_ms=%g "
	    "decode_ms=%.2f detect_ms=%.2f read_ms=%.2f sha256=%s", j->lane,
	    j->frame_id[0] != '\0' ? j->frame_id : NULL,
	    j->camera[0] != '\0' ? j->camera : NULL,
	    j->trigger_id[0] != '\0' ? j->trigger_id : NULL, r->w, r->h, r->ndet,
	    r->nplates, published, j->wait_ms, r->decode_ms, r->detect_ms,
	    r->read_ms, j->sha256);
	free(j);
}

static void
on_message(void *arg, const struct gk_bus_msg *m)
{
	struct darknet_lpr *d = arg;

	if (gk_bus_topic_match(d->frame_filter, m->topic))
		on_frame(d, m);
	else
		gk_log(GK_LOG_WARN, "bus.unexpected", "topic=%s", m->topic);
}

static void
on_state(void *arg, int connected, const char *why)
{
	(void)arg;
	gk_log(connected ? GK_LOG_INFO : GK_LOG_WARN, "lpr.mqtt", "connected=%d "
	    "why=%s", connected, why);
}

static void
on_published(void *arg, void *opaque, int ok, const char *why)
{
	struct darknet_lpr *d = arg;

	(void)opaque;
	if (!ok) {
		d->n.publish_failed++;
		gk_log(GK_LOG_WARN, "plate.publish_failed", "why=%s", why);
	}
}

static void
log_counters(struct darknet_lpr *d, const char *event)
{
	struct lq_lane_stats	 st[LANES_STATS];
	size_t			 queued = 0;
	int			 busy = 0, n = 0, i;

	if (d->pool != NULL)
		n = pool_stats(d->pool, st, LANES_STATS, &queued, &busy);
	gk_log(GK_LOG_INFO, event, "frames=%llu processed=%llu dropped=%llu "
	    "rejected_empty=%llu rejected_too_large=%llu rejected_not_jpeg=%llu "
	    "rejected_bad_header=%llu rejected_too_big=%llu rejected_corrupt=%llu "
	    "rejected_no_memory=%llu rejected_bad_lane=%llu "
	    "rejected_too_many_lanes=%llu plates=%llu published=%llu unread=%llu "
	    "low_confidence=%llu publish_failed=%llu bad_properties=%llu "
	    "queued=%zu busy=%d",
	    (unsigned long long)d->n.frames, (unsigned long long)d->n.processed,
	    (unsigned long long)d->n.dropped,
	    (unsigned long long)d->n.rejected[FRAME_EMPTY],
	    (unsigned long long)d->n.rejected[FRAME_TOO_LARGE],
	    (unsigned long long)d->n.rejected[FRAME_NOT_JPEG],
	    (unsigned long long)d->n.rejected[FRAME_BAD_HEADER],
	    (unsigned long long)d->n.rejected[FRAME_TOO_BIG],
	    (unsigned long long)d->n.rejected[FRAME_CORRUPT],
	    (unsigned long long)d->n.rejected[FRAME_NOMEM],
	    (unsigned long long)d->n.rejected[R_BAD_LANE],
	    (unsigned long long)d->n.rejected[R_TOO_MANY_LANES],
	    (unsigned long long)d->n.plates, (unsigned long long)d->n.published,
	    (unsigned long long)d->n.unread, (unsigned long long)d->n.low_conf,
	    (unsigned long long)d->n.publish_failed,
	    (unsigned long long)d->n.props_bad, queued, busy);
	for (i = 0; i < n; i++)
		gk_log(GK_LOG_INFO, "lpr.lane", "lane=%s queued=%zu frames=%llu "
		    "dropped=%llu taken=%llu", st[i].lane, st[i].queued,
		    (unsigned long long)st[i].pushed, (unsigned long long)st[i].dropped,
		    (unsigned long long)st[i].taken);
}

static void
on_stats(struct gk_loop *l, uint64_t id, void *arg)
{
	(void)l;
	(void)id;
	log_counters(arg, "lpr.stats");
}

static int
lpr_setup(struct darknet_lpr *d)
{
	struct gk_bus_opts	 bo;
	char			 err[512], status[TOPIC_MAX];
	char			 client_id[GK_BUS_CLIENT_ID_LEN];
	int			 i, dw, dh, rw, rh, rc, slots;

	if (!gk_topic_id_valid(d->cfg.site) || !gk_topic_id_valid(d->cfg.instance)) {
		gk_log(GK_LOG_ERR, "lpr.init_failed", "what=ids site=%s instance=%s "
		    "reason=%s", d->cfg.site, d->cfg.instance,
		    "not [a-z0-9][a-z0-9_-]{0,31}");
		return -1;
	}
	if (models_setup(d) == -1)
		return -1;
	for (i = 0; i < d->cfg.workers; i++) {
		if ((d->workers[i] = lpr_new(&d->models, err, sizeof(err))) == NULL) {
			gk_log(GK_LOG_ERR, "lpr.init_failed", "what=models reason=%s",
			    err);
			return -1;
		}
		d->nworkers++;
	}
	lpr_shape(d->workers[0], &dw, &dh, &rw, &rh, &rc, &slots);
	gk_log(GK_LOG_INFO, "lpr.models", "detector=%s detector_weights=%s "
	    "detector_version=%s detector_input=%dx%d reader=%s reader_weights=%s "
	    "reader_version=%s reader_input=%dx%dx%d slots=%d symbols=%d "
	    "refiner=%s refiner_passes=%d province=%s province_mix=%.2f "
	    "province_prior=%s chars=%s chars_mix=%.2f classes=%d workers=%d",
	    d->models.det_cfg, d->models.det_weights,
	    d->models.det_version, dw, dh, d->models.rd_cfg, d->models.rd_weights,
	    d->models.rd_version, rw, rh, rc, slots, d->models.alpha.nsym,
	    d->models.ref_cfg[0] != '\0' ? d->models.ref_weights : "(off)",
	    d->models.refine_passes,
	    d->models.prov_cfg[0] != '\0' ? d->models.prov_weights : "(off)",
	    (double)d->models.prov_mix,
	    d->models.prov_prior_on ? d->cfg.prov_prior : "(off)",
	    d->models.chars_cfg[0] != '\0' ? d->models.chars_weights : "(off)",
	    (double)d->models.chars_mix,
	    d->models.nclasses, d->nworkers);

	/* site is a checked topic id, so the filter is valid (checked anyway). */
	snprintf(d->frame_filter, sizeof(d->frame_filter),
	    "ecogate/v1/%s/lane/+/frame", d->cfg.site);
	d->lane_at = strlen("ecogate/v1/") + strlen(d->cfg.site) + strlen("/lane/");
	if (!gk_bus_filter_valid(d->frame_filter) || gk_bus_topic(status,
	    sizeof(status), "ecogate/v1/%s/status/darknet-lpr/%s", d->cfg.site,
	    d->cfg.instance) == -1) {
		gk_log(GK_LOG_ERR, "lpr.init_failed", "what=topics site=%s",
		    d->cfg.site);
		return -1;
	}
	if ((d->pool = pool_new(d->nworkers, (void *const *)d->workers,
	    (int)d->cfg.lanes_max, (int)d->cfg.queue_per_lane, work, d)) == NULL) {
		gk_log(GK_LOG_ERR, "lpr.init_failed", "what=workers reason=%s",
		    strerror(errno));
		return -1;
	}
	snprintf(client_id, sizeof(client_id), "darknet-lpr-%s-%s", d->cfg.site,
	    d->cfg.instance);
	memset(&bo, 0, sizeof(bo));
	bo.url = d->cfg.mqtt_url;
	bo.username = d->cfg.mqtt_username[0] != '\0' ? d->cfg.mqtt_username : NULL;
	bo.password = d->cfg.mqtt_password[0] != '\0' ? d->cfg.mqtt_password : NULL;
	bo.client_id = client_id;
	bo.status_topic = status;
	bo.version = LPR_VERSION;
	/*
	 * The adapter drops what is over its limit with only its own log line, so its
	 * limit sits above frame.max_bytes (at most GK_BUS_MAX_PAYLOAD): payloads up to
	 * twice that reach on_frame() to be refused with the frame's id and counted.
	 */
	bo.max_payload = 2 * (size_t)GK_BUS_MAX_PAYLOAD;
	bo.on_message = on_message;
	bo.on_state = on_state;
	bo.on_published = on_published;
	bo.arg = d;
	if ((d->bus = gk_bus_new(d->loop, &bo, err, sizeof(err))) == NULL)
		return -1;
	if (gk_bus_subscribe(d->bus, d->frame_filter, 1) == -1 ||
	    (rc = gk_bus_start(d->bus)) == -1)
		return -1;
	d->stats_timer = gk_loop_timer_add(d->loop, d->cfg.stats_ms, d->cfg.stats_ms,
	    on_stats, d);
	gk_log(GK_LOG_INFO, "lpr.start", "site=%s instance=%s version=%s frames=%s "
	    "workers=%d queue_per_lane=%lld", d->cfg.site, d->cfg.instance,
	    LPR_VERSION, d->frame_filter, d->nworkers, d->cfg.queue_per_lane);
	return 0;
}

static int
lpr_init(void *arg, struct gk_loop *loop, const char *conffile)
{
	struct darknet_lpr *d = arg;

	d->loop = loop;
	d->conffile = conffile;
	return lpr_setup(d) == 0 ? 0 : EX_SOFTWARE;
}

/*
 * Input first (the bus), then the workers (each finishes its frame; what they post
 * meets d->bus == NULL and is freed by the loop's final drain), then the frames still
 * queued, counted as dropped, then the networks.
 */
static void
lpr_shutdown(void *arg)
{
	struct darknet_lpr	*d = arg;
	struct job		*j;
	uint64_t		 left = 0;
	int			 i;

	log_counters(d, "lpr.counters");
	gk_bus_free(d->bus);
	d->bus = NULL;
	if (d->stats_timer != 0)
		gk_loop_timer_cancel(d->loop, d->stats_timer);
	if (d->pool != NULL) {
		pool_stop(d->pool);
		while ((j = pool_drain(d->pool)) != NULL) {
			left++;
			free(j);
		}
		pool_free(d->pool);
		d->pool = NULL;
	}
	if (left > 0)
		gk_log(GK_LOG_INFO, "frame.dropped", "reason=shutdown frames=%llu",
		    (unsigned long long)left);
	for (i = 0; i < d->nworkers; i++)
		lpr_free(d->workers[i]);
	d->nworkers = 0;
}

int
main(int argc, char *argv[])
{
	static struct darknet_lpr d;	/* all daemon state */
	static const struct gk_daemon dm = { "darknet-lpr", LPR_VERSION, &d.cfg,
	    lpr_keys, &d, lpr_init, NULL, lpr_shutdown };

	return gk_daemon_main(&dm, argc, argv);
}
