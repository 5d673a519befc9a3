/*
 * camera-capture's decisions, kept free of I/O (see capture.h): the capture schedule,
 * the reconnect backoff, the no-frame alarm, source URL kinds and the strict reading
 * of a lane trigger. Times are monotonic milliseconds handed in by the caller.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <gatekit/json.h>

#include "capture.h"

#define TRIGGER_MAX	4096	/* a trigger.v1 is about 250 bytes */

void
sched_init(struct sched *s, enum sched_mode mode, int burst, int64_t interval_ms,
    int64_t now)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->burst = burst > 0 ? burst : 1;
	s->interval_ms = interval_ms > 0 ? interval_ms : 1;
	s->due_ms = now;
	s->left = mode == SCHED_CONTINUOUS ? 1 : 0;
}

int
sched_trigger(struct sched *s, const char *trigger_id, uint64_t seq_now, int64_t now)
{
	int dropped = s->mode == SCHED_TRIGGER ? s->left : 0;

	gk_strlcpy(s->trigger_id, trigger_id, sizeof(s->trigger_id));
	s->left = s->burst;
	s->due_ms = now;
	/* Never the frame on show when the trigger came: it may not hold the vehicle. */
	if (seq_now > s->after_seq)
		s->after_seq = seq_now;
	return dropped;
}

int
sched_take(struct sched *s, uint64_t seq, int64_t now)
{
	if (s->left <= 0 || now < s->due_ms || seq <= s->after_seq)
		return 0;
	s->after_seq = seq;
	if (s->mode == SCHED_TRIGGER)
		s->left--;
	/*
	 * Keep the cadence of the schedule rather than of the frames' arrival, so a
	 * frame that came a little late does not stretch every later interval; after
	 * a longer gap (a dead camera) start afresh instead of catching up in a rush.
	 */
	s->due_ms += s->interval_ms;
	if (s->due_ms <= now)
		s->due_ms = now + s->interval_ms;
	return 1;
}

int64_t
sched_wait_ms(const struct sched *s, int64_t now)
{
	if (s->left <= 0)
		return -1;
	return s->due_ms > now ? s->due_ms - now : 0;
}

int64_t
backoff_ms(unsigned attempt, int64_t min_ms, int64_t max_ms, uint32_t rnd)
{
	int64_t d = min_ms > 0 ? min_ms : 1;

	if (max_ms < d)
		max_ms = d;
	while (attempt-- > 0 && d < max_ms)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d / 2 + (int64_t)(rnd % (uint32_t)(d - d / 2 + 1));
}

int
health_check(struct health *h, int64_t last_ms, int64_t now)
{
	int stale;

	if (h->alarm_ms <= 0)
		return 0;
	stale = now - last_ms >= h->alarm_ms;
	if (stale && !h->active) {
		h->active = 1;
		return 1;
	}
	if (!stale && h->active) {
		h->active = 0;
		return -1;
	}
	return 0;
}

static int
has_prefix(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

/* Returns 1 when the path of URL u (before '?' or '#') ends in .jpg or .jpeg. */
static int
url_is_jpeg(const char *u)
{
	size_t n = strcspn(u, "?#");

	return (n >= 4 && strncasecmp(u + n - 4, ".jpg", 4) == 0) ||
	    (n >= 5 && strncasecmp(u + n - 5, ".jpeg", 5) == 0);
}

enum source_kind
source_kind(const char *url, int snapshot_hint, char *out, size_t len)
{
	enum source_kind k;
	const char *p;

	if (url == NULL || url[0] == '\0')
		return SOURCE_BAD;
	for (p = url; *p != '\0'; p++)
		if (iscntrl((unsigned char)*p))
			return SOURCE_BAD;
	p = url;
	if (has_prefix(url, "dir:")) {
		k = SOURCE_DIR;
		p = url + 4;
	} else if (has_prefix(url, "file:") && !has_prefix(url, "file://")) {
		k = SOURCE_FILE;
		p = url + 5;
	} else if (has_prefix(url, "rtsp://") || has_prefix(url, "rtsps://")) {
		k = SOURCE_STREAM;
	} else if (has_prefix(url, "http://") || has_prefix(url, "https://")) {
		if (snapshot_hint > 0)
			k = SOURCE_SNAPSHOT;
		else if (snapshot_hint < 0)
			k = SOURCE_STREAM;
		else
			k = url_is_jpeg(url) ? SOURCE_SNAPSHOT : SOURCE_STREAM;
	} else if (strstr(url, "://") != NULL || strchr(url, ':') == url) {
		return SOURCE_BAD;	/* a scheme we do not open (ftp, file://...) */
	} else {
		k = SOURCE_FILE;
	}
	if (*p == '\0' || gk_strlcpy(out, p, len) >= len)
		return SOURCE_BAD;
	return k;
}

int
trigger_parse(const void *buf, size_t len, struct trigger *t, char *err, size_t errlen)
{
	static const char *const names[] = { "schema", "trigger_id", "site", "lane",
	    "source", "occupied", "ts", NULL };
	char perr[160], schema[32], source[16], ts[64];
	const char *bad = NULL;
	json_t *doc;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if ((doc = gk_json_parse(buf, len, TRIGGER_MAX, perr, sizeof(perr))) == NULL) {
		gk_errf(err, errlen, "not JSON: %s", perr);
		return -1;
	}
	if (!json_is_object(doc)) {
		gk_errf(err, errlen, "not an object");
		goto out;
	}
	if (gk_json_only_keys(doc, names, &bad) == -1) {
		gk_errf(err, errlen, "unknown member '%s'", bad);
		goto out;
	}
	if (gk_json_get_strbuf(doc, "schema", schema, sizeof(schema)) != GK_JSON_OK ||
	    strcmp(schema, "ecogate.trigger.v1") != 0) {
		gk_errf(err, errlen, "schema is not ecogate.trigger.v1");
		goto out;
	}
	if (gk_json_get_strbuf(doc, "trigger_id", t->trigger_id,
	    sizeof(t->trigger_id)) != GK_JSON_OK || !gk_id_canonical(t->trigger_id)) {
		gk_errf(err, errlen, "trigger_id missing or not a lower-case UUID");
		goto out;
	}
	if (gk_json_get_strbuf(doc, "site", t->site, sizeof(t->site)) != GK_JSON_OK ||
	    !gk_topic_id_valid(t->site) ||
	    gk_json_get_strbuf(doc, "lane", t->lane, sizeof(t->lane)) != GK_JSON_OK ||
	    !gk_topic_id_valid(t->lane)) {
		gk_errf(err, errlen, "site or lane missing or malformed");
		goto out;
	}
	if (gk_json_get_strbuf(doc, "source", source, sizeof(source)) != GK_JSON_OK ||
	    (strcmp(source, "loop") != 0 && strcmp(source, "radar") != 0 &&
	    strcmp(source, "light") != 0 && strcmp(source, "manual") != 0)) {
		gk_errf(err, errlen, "source missing or not loop/radar/light/manual");
		goto out;
	}
	if (gk_json_get_bool(doc, "occupied", &t->occupied) != GK_JSON_OK) {
		gk_errf(err, errlen, "occupied missing or not a boolean");
		goto out;
	}
	if (gk_json_get_strbuf(doc, "ts", ts, sizeof(ts)) != GK_JSON_OK ||
	    gk_ts_parse(ts, &t->ts_ms) == -1) {
		gk_errf(err, errlen, "ts missing or not RFC 3339");
		goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}
