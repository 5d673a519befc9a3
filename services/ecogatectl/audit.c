/*
 * audit: builds audit.v1 events (pure) and produces them to Kafka with the delivery
 * report awaited (see audit.h for the ordering rule the callers keep).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatekit/json.h"
#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/stream.h"
#include "gatekit/util.h"

#include "audit.h"

#define AUDIT_TIMEOUT_MS	10000	/* librdkafka's retry budget for the event */

int
audit_valid_topic_id(const char *s)
{
	return gk_topic_id_valid(s);
}

int
audit_valid_actor(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64)
			return 0;
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' ||
		    s[i] == ':' || s[i] == '-'))
			return 0;
	}
	return 1;
}

int
audit_valid_reason(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = 0, more, k;
	unsigned long		 cp;

	if (s == NULL)
		return 0;
	/* jansson checks UTF-8 again; counting here gives the schema's character limit. */
	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (*p < 0x80) {
			more = 0;
			cp = *p;
		} else if ((*p & 0xe0) == 0xc0) {
			more = 1;
			cp = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			more = 2;
			cp = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			more = 3;
			cp = *p & 0x07;
		} else
			return 0;
		for (k = 1; k <= more; k++) {
			if ((p[k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[k] & 0x3f);
		}
		/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
		if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
		    (more == 3 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp > 0x10ffff)
			return 0;
		p += more + 1;
		if (++n > AUDIT_REASON_MAX)
			return 0;
	}
	return n > 0;
}

char *
audit_event_json(const struct audit_event *e, const char *event_id, int64_t wall_ms,
    char *err, size_t errlen)
{
	json_t	*o = NULL, *actor;
	char	 ts[GK_TS_LEN], *s = NULL;
	size_t	 n;

	if (!audit_valid_topic_id(e->site)) {
		gk_errf(err, errlen, "site \"%s\": want [a-z0-9][a-z0-9_-]{0,31}",
		    e->site != NULL ? e->site : "");
		return NULL;
	}
	if (!audit_valid_actor(e->actor)) {
		gk_errf(err, errlen, "operator \"%s\": want 1 to 64 of A-Z a-z 0-9 . _ : -",
		    e->actor != NULL ? e->actor : "");
		return NULL;
	}
	if (!audit_valid_reason(e->reason)) {
		gk_errf(err, errlen, "reason: want 1 to %d characters of UTF-8 text",
		    AUDIT_REASON_MAX);
		return NULL;
	}
	if (e->action == NULL || (n = strlen(e->action)) == 0 || n > 64 ||
	    strchr(e->action, '.') == NULL || e->target == NULL ||
	    !audit_valid_reason(e->target)) {
		gk_errf(err, errlen, "action or target missing or malformed");
		return NULL;
	}
	if (e->details != NULL && !json_is_object(e->details)) {
		gk_errf(err, errlen, "details: not an object");
		return NULL;
	}
	if (!gk_id_valid(event_id) || gk_ts_format(wall_ms, ts, sizeof(ts)) == -1) {
		gk_errf(err, errlen, "bad event id or time");
		return NULL;
	}
	if ((o = json_object()) == NULL || (actor = json_object()) == NULL)
		goto fail;
	if (json_object_set_new(o, "actor", actor) == -1 ||
	    json_object_set_new(actor, "kind", json_string("operator")) == -1 ||
	    json_object_set_new(actor, "id", json_string(e->actor)) == -1 ||
	    json_object_set_new(o, "schema", json_string("ecogate.audit.v1")) == -1 ||
	    json_object_set_new(o, "event_id", json_string(event_id)) == -1 ||
	    json_object_set_new(o, "ts", json_string(ts)) == -1 ||
	    json_object_set_new(o, "site", json_string(e->site)) == -1 ||
	    json_object_set_new(o, "action", json_string(e->action)) == -1 ||
	    json_object_set_new(o, "target", json_string(e->target)) == -1 ||
	    json_object_set_new(o, "reason", json_string(e->reason)) == -1)
		goto fail;
	if (e->details != NULL && json_object_set_new(o, "details",
	    json_deep_copy(e->details)) == -1)
		goto fail;
	s = gk_json_dump_compact(o);
fail:
	if (s == NULL)
		gk_errf(err, errlen, "out of memory");
	json_decref(o);
	return s;
}

/* Kafka. */

struct delivery {
	int	done;
	int	err;
	char	errstr[256];
};

static void
on_delivery(void *arg, const struct gk_stream_delivery *d)
{
	struct delivery *dv = arg;

	dv->done = 1;
	dv->err = d->err;
	gk_strlcpy(dv->errstr, d->errstr != NULL ? d->errstr : "?", sizeof(dv->errstr));
}

int
audit_send(const char *brokers, const struct audit_event *e,
    char event_id[GK_ID_LEN], FILE *errout)
{
	struct gk_stream_opts	 o;
	struct delivery		 dv;
	struct gk_loop		*loop = NULL;
	struct gk_stream	*p = NULL;
	char			 id[GK_ID_LEN], err[512], *json = NULL;
	int64_t			 deadline;
	int			 rc = -1;

	if (gk_id_new(id) == -1) {
		fprintf(errout, "audit: cannot mint an event id\n");
		return -1;
	}
	if ((json = audit_event_json(e, id, gk_wall_ms(), err, sizeof(err))) == NULL) {
		fprintf(errout, "audit: %s\n", err);
		return -1;
	}
	/* Not compacted: every event is kept, the ledger needs them all. */
	if (gk_stream_create_topic(brokers, AUDIT_TOPIC, 0, 0, AUDIT_TIMEOUT_MS, err,
	    sizeof(err)) == -1) {
		fprintf(errout, "audit: kafka %s: topic %s: %s\n", brokers, AUDIT_TOPIC,
		    err);
		goto out;
	}
	if ((loop = gk_loop_new()) == NULL) {
		fprintf(errout, "audit: cannot create the event loop\n");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	memset(&dv, 0, sizeof(dv));
	o.brokers = brokers;
	o.client_id = "ecogatectl";
	o.on_delivery = on_delivery;
	o.arg = &dv;
	o.message_timeout_ms = AUDIT_TIMEOUT_MS;
	if ((p = gk_stream_producer_new(loop, &o, err, sizeof(err))) == NULL) {
		fprintf(errout, "audit: kafka %s: %s\n", brokers, err);
		goto out;
	}
	if (gk_stream_produce(p, AUDIT_TOPIC, e->site, strlen(e->site), json,
	    strlen(json), NULL, 0, NULL) == -1) {
		fprintf(errout, "audit: kafka %s: cannot queue the event: %s\n", brokers,
		    strerror(errno));
		goto out;
	}
	deadline = gk_mono_ms() + AUDIT_TIMEOUT_MS + 5000;
	while (!dv.done && gk_mono_ms() < deadline)
		gk_loop_once(loop, 100);
	if (!dv.done || dv.err != 0) {
		fprintf(errout, "audit: kafka %s: event not delivered to %s: %s\n",
		    brokers, AUDIT_TOPIC, dv.done ? dv.errstr : "no delivery report");
		goto out;
	}
	gk_log(GK_LOG_INFO, "audit.sent", "event_id=%s action=%s site=%s actor=%s", id,
	    e->action, e->site, e->actor);
	if (event_id != NULL)
		memcpy(event_id, id, GK_ID_LEN);
	rc = 0;
out:
	if (p != NULL) {
		gk_stream_close(p, 2000);
		gk_stream_free(p);
	}
	if (loop != NULL) {
		while (gk_loop_once(loop, 0) > 0)
			;
		gk_loop_free(loop);
	}
	free(json);
	return rc;
}
