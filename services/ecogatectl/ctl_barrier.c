/*
 * ctl_barrier: the manual release (see ctl_barrier.h): one pure builder for the
 * command, one shell that audits, publishes and optionally waits for the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "gatekit/bus.h"
#include "gatekit/json.h"
#include "gatekit/log.h"
#include "gatekit/util.h"

#include "audit.h"
#include "ctl_barrier.h"
#include "ctl_mqtt.h"

#define WAIT_MS_DEFAULT		15000
#define PUBLISH_TIMEOUT_MS	10000

static int
check(const struct ctl_barrier_req *r, char *err, size_t errlen)
{
	if (!audit_valid_topic_id(r->site)) {
		gk_errf(err, errlen, "site \"%s\": want [a-z0-9][a-z0-9_-]{0,31}",
		    r->site != NULL ? r->site : "");
		return -1;
	}
	if (!audit_valid_topic_id(r->lane)) {
		gk_errf(err, errlen, "lane \"%s\": want [a-z0-9][a-z0-9_-]{0,31}",
		    r->lane != NULL ? r->lane : "");
		return -1;
	}
	if (!audit_valid_actor(r->operator_name)) {
		gk_errf(err, errlen, "give --operator NAME (1 to 64 of A-Z a-z 0-9 . _ : -)");
		return -1;
	}
	if (!audit_valid_reason(r->reason)) {
		gk_errf(err, errlen, "give --reason TEXT (1 to %d characters)",
		    AUDIT_REASON_MAX);
		return -1;
	}
	return 0;
}

char *
ctl_barrier_open_json(const struct ctl_barrier_req *r, const char *cmd_id,
    int64_t wall_ms, char *err, size_t errlen)
{
	json_t	*o;
	char	 ts[GK_TS_LEN], *s;

	if (check(r, err, errlen) == -1)
		return NULL;
	if (!gk_id_valid(cmd_id) || gk_ts_format(wall_ms, ts, sizeof(ts)) == -1) {
		gk_errf(err, errlen, "bad command id or time");
		return NULL;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:s, s:i}",
	    "schema", "ecogate.barrier-command.v1", "cmd_id", cmd_id, "site", r->site,
	    "lane", r->lane, "action", "open",
	    "reason", "code", CTL_BARRIER_REASON_CODE, "text", r->reason,
	    "who", "kind", "operator", "id", r->operator_name,
	    "ts", ts, "expires_ms", CTL_BARRIER_EXPIRES_MS);
	if (o == NULL) {
		gk_errf(err, errlen, "cannot build the command (not UTF-8?)");
		return NULL;
	}
	s = gk_json_dump_compact(o);
	json_decref(o);
	if (s == NULL)
		gk_errf(err, errlen, "out of memory");
	return s;
}

int
ctl_barrier_open(const struct ctl_barrier_req *r, FILE *out, FILE *errout)
{
	struct audit_event	 ev;
	struct gk_bus_msg	 m;
	json_t			*details = NULL;
	char			 cmd_id[GK_ID_LEN], event_id[GK_ID_LEN], err[256];
	char			 topic[256], resp[256], target[64], *cmd = NULL;
	char			*reply = NULL;
	int			 rc;

	if (check(r, err, sizeof(err)) == -1) {
		fprintf(errout, "barrier open: %s\n", err);
		return EX_USAGE;
	}
	if (gk_id_new(cmd_id) == -1 ||
	    (cmd = ctl_barrier_open_json(r, cmd_id, gk_wall_ms(), err,
	    sizeof(err))) == NULL) {
		fprintf(errout, "barrier open: %s\n", err);
		return EX_SOFTWARE;
	}
	if (gk_bus_topic(topic, sizeof(topic), "ecogate/v1/%s/lane/%s/barrier/cmd",
	    r->site, r->lane) == -1 ||
	    gk_bus_topic(resp, sizeof(resp), "ecogate/v1/%s/lane/%s/barrier/resp/"
	    "ecogatectl-%d", r->site, r->lane, (int)getpid()) == -1) {
		fprintf(errout, "barrier open: site or lane cannot be used in a topic\n");
		rc = EX_USAGE;
		goto out;
	}

	/* The record first: no manual release may exist without it. */
	snprintf(target, sizeof(target), "lane/%s", r->lane);
	details = json_pack("{s:s, s:s, s:s, s:i}", "lane", r->lane, "cmd_id", cmd_id,
	    "reason_code", CTL_BARRIER_REASON_CODE, "expires_ms", CTL_BARRIER_EXPIRES_MS);
	memset(&ev, 0, sizeof(ev));
	ev.site = r->site;
	ev.actor = r->operator_name;
	ev.action = "barrier.open";
	ev.target = target;
	ev.reason = r->reason;
	ev.details = details;
	if (details == NULL || audit_send(r->brokers, &ev, event_id, errout) == -1) {
		fprintf(errout, "barrier open: not sent (no audit event)\n");
		rc = EX_UNAVAILABLE;
		goto out;
	}

	memset(&m, 0, sizeof(m));
	m.topic = topic;
	m.payload = cmd;
	m.len = strlen(cmd);
	m.qos = 1;
	m.expiry_s = CTL_BARRIER_EXPIRES_MS / 1000;
	m.content_type = "application/json";
	if (r->wait) {
		m.response_topic = resp;
		m.correlation = cmd_id;
		m.correlation_len = strlen(cmd_id);
	}
	rc = ctl_mqtt_publish(r->mqtt_url, &m, r->wait ? (r->wait_ms > 0 ? r->wait_ms :
	    WAIT_MS_DEFAULT) : PUBLISH_TIMEOUT_MS, r->wait ? &reply : NULL, errout);
	if (rc == -1) {
		fprintf(errout, "barrier open: audited as %s but the command was NOT "
		    "delivered to the broker\n", event_id);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	gk_log(GK_LOG_INFO, "barrier.open_sent", "site=%s lane=%s cmd_id=%s "
	    "event_id=%s operator=%s", r->site, r->lane, cmd_id, event_id,
	    r->operator_name);
	fprintf(out, "barrier open sent to %s lane %s: cmd_id %s, audit event %s\n",
	    r->site, r->lane, cmd_id, event_id);
	if (rc == -2) {
		fprintf(errout, "barrier open: no answer from the barrier-actuator in "
		    "time\n");
		rc = EX_TEMPFAIL;
	} else if (reply != NULL)
		fprintf(out, "answer: %s\n", reply);
out:
	json_decref(details);
	free(reply);
	free(cmd);
	return rc;
}
