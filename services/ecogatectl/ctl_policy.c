/*
 * ctl_policy: `ecogatectl policy ...` (see ctl_policy.h for the order a change runs
 * in). The top half is pure (documents and version names), the bottom half talks to
 * PostgreSQL, Kafka (through audit.c) and MQTT (through ctl_mqtt.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "gatekit/bus.h"
#include "gatekit/db.h"
#include "gatekit/json.h"
#include "gatekit/log.h"
#include "gatekit/util.h"

#include "audit.h"
#include "ctl_mqtt.h"
#include "ctl_policy.h"

#define PUBLISH_TIMEOUT_MS	10000

/* Pure. */

/*
 * Compact JSON as gk_json_dump_compact(), but reals with 15 significant digits: a
 * person typed 0.8 and should read 0.8, not 0.80000000000000004. Every decimal of up
 * to 15 digits survives the trip (DBL_DIG), which covers confidences and the like.
 */
static char *
dump(const json_t *o)
{
	return json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(15));
}

static const char *
action_name(enum policy_action a)
{
	return a == POLICY_DENY ? "deny" : "review";
}

char *
ctl_policy_to_json(const struct policy *p, const char *alert_reason)
{
	json_t	*o, *ms, *row, *f, *lanes, *l;
	char	 stage[2] = { 0, 0 }, *s = NULL;
	int	 lv, c, i;

	if ((o = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(o, "schema", json_string("ecogate.policy.v1")) == -1 ||
	    json_object_set_new(o, "version", json_string(p->version)) == -1 ||
	    json_object_set_new(o, "alert_level",
	    json_string(policy_level_name(p->level))) == -1 ||
	    (alert_reason != NULL && json_object_set_new(o, "alert_reason",
	    json_string(alert_reason)) == -1) ||
	    json_object_set_new(o, "min_stage", ms = json_object()) == -1)
		goto fail;
	for (lv = 0; lv < POLICY_LEVEL_COUNT; lv++) {
		if (json_object_set_new(ms, policy_level_name((enum policy_level)lv),
		    row = json_object()) == -1)
			goto fail;
		for (c = 0; c < POLICY_CLASS_COUNT; c++) {
			stage[0] = p->min_stage[lv][c];
			if (json_object_set_new(row,
			    policy_class_name((enum policy_class)c),
			    json_string(stage)) == -1)
				goto fail;
		}
	}
	if (json_object_set_new(o, "unknown_vehicle",
	    json_string(action_name(p->unknown_vehicle))) == -1 ||
	    json_object_set_new(o, "unknown_stage",
	    json_string(action_name(p->unknown_stage))) == -1 ||
	    json_object_set_new(o, "review_below_confidence",
	    json_real(p->review_below)) == -1)
		goto fail;
	if (p->nlanes > 0) {
		if (json_object_set_new(o, "lanes", lanes = json_array()) == -1)
			goto fail;
		for (i = 0; i < p->nlanes; i++)
			if (json_array_append_new(lanes, l = json_object()) == -1 ||
			    json_object_set_new(l, "id",
			    json_string(p->lanes[i].id)) == -1 ||
			    json_object_set_new(l, "direction", json_string(
			    p->lanes[i].direction == POLICY_DIR_OUT ? "out" : "in")) == -1 ||
			    json_object_set_new(l, "check_exit",
			    json_boolean(p->lanes[i].check_exit)) == -1)
				goto fail;
	}
	if (json_object_set_new(o, "fusion", f = json_object()) == -1 ||
	    json_object_set_new(f, "window_ms",
	    json_integer((json_int_t)p->fusion.window_ms)) == -1 ||
	    json_object_set_new(f, "early_close_reads",
	    json_integer(p->fusion.early_reads)) == -1 ||
	    json_object_set_new(f, "early_close_confidence",
	    json_real(p->fusion.early_conf)) == -1 ||
	    json_object_set_new(f, "hold_ms",
	    json_integer((json_int_t)p->fusion.hold_ms)) == -1)
		goto fail;
	s = dump(o);
fail:
	json_decref(o);
	return s;
}

char *
ctl_policy_with_level(const char *doc, enum policy_level level, const char *version,
    const char *reason, char *err, size_t errlen)
{
	struct policy	 p;
	json_t		*o;
	char		*s = NULL, perr[256];

	if (policy_parse(doc, strlen(doc), &p, perr, sizeof(perr)) == -1) {
		gk_errf(err, errlen, "current policy: %s", perr);
		return NULL;
	}
	if ((o = gk_json_parse(doc, strlen(doc), POLICY_DOC_MAX, perr,
	    sizeof(perr))) == NULL) {
		gk_errf(err, errlen, "current policy: %s", perr);
		return NULL;
	}
	if (json_object_set_new(o, "version", json_string(version)) == -1 ||
	    json_object_set_new(o, "alert_level",
	    json_string(policy_level_name(level))) == -1 ||
	    (reason != NULL && json_object_set_new(o, "alert_reason",
	    json_string(reason)) == -1) ||
	    (s = dump(o)) == NULL) {
		gk_errf(err, errlen, "out of memory, or not UTF-8");
		goto out;
	}
	/* The result must be what the verifier accepts, or it goes nowhere. */
	if (policy_parse(s, strlen(s), &p, perr, sizeof(perr)) == -1) {
		gk_errf(err, errlen, "new policy: %s", perr);
		free(s);
		s = NULL;
	}
out:
	json_decref(o);
	return s;
}

int
ctl_policy_version_name(int64_t wall_ms, enum policy_level level, char *buf,
    size_t len)
{
	char	ts[GK_TS_LEN];
	int	n;

	if (gk_ts_format(wall_ms, ts, sizeof(ts)) == -1)
		return -1;
	n = snprintf(buf, len, "%s-%s", ts, policy_level_name(level));
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

enum ctl_policy_fate
ctl_policy_fate(int exists, int same, int current)
{
	if (!exists)
		return CTL_POLICY_NEW;
	if (!same)
		return CTL_POLICY_CONFLICT;
	return current ? CTL_POLICY_CURRENT : CTL_POLICY_OLD;
}

/* I/O. */

static const char current_sql[] =
    "SELECT version, document::text, set_by, reason, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "FROM policy_version WHERE site = $1 ORDER BY seq DESC LIMIT 1";

/* The stored version's fate: exists, same content, newest of its site. */
static const char fate_sql[] =
    "SELECT document = $3::jsonb, "
    "seq = (SELECT max(seq) FROM policy_version WHERE site = $1) "
    "FROM policy_version WHERE site = $1 AND version = $2";

static const char insert_sql[] =
    "INSERT INTO policy_version (site, version, document, alert_level, set_by, reason) "
    "VALUES ($1, $2, $3::jsonb, $4, $5, $6)";

/* One policy change at a time per site, so two operators never race to "newest". */
static const char lock_sql[] =
    "SELECT pg_advisory_xact_lock(hashtext('ecogate.policy_version'), hashtext($1))";

/* The site's current stored policy: 1 (strings in *res), 0 none, -1 error. */
static int
current(const struct ctl_policy_ctx *c, struct gk_db_res **res)
{
	const char *p[1] = { c->site };

	if ((*res = gk_db_exec(c->db, current_sql, 1, p)) == NULL) {
		fprintf(c->errout, "policy: database: %s\n", gk_db_errmsg(c->db));
		return -1;
	}
	return gk_db_res_nrows(*res) > 0;
}

static int
db_exit(const struct ctl_policy_ctx *c)
{
	return gk_db_err_is_connection(c->db) ? EX_UNAVAILABLE : EX_SOFTWARE;
}

static int
publish_doc(const struct ctl_policy_ctx *c, const char *doc)
{
	struct gk_bus_msg	m;
	char			topic[256];

	if (gk_bus_topic(topic, sizeof(topic), "ecogate/v1/%s/config/policy",
	    c->site) == -1) {
		fprintf(c->errout, "policy: site \"%s\" cannot be used in a topic\n",
		    c->site);
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.topic = topic;
	m.payload = doc;
	m.len = strlen(doc);
	m.qos = 1;
	m.retain = 1;
	m.content_type = "application/json";
	return ctl_mqtt_publish(c->mqtt_url, &m, PUBLISH_TIMEOUT_MS, NULL, c->errout);
}

/*
 * Stores doc (already validated into *p) as a new version of c->site, audited as
 * action, then publishes it (the order of ctl_policy.h). Returns a sysexits code.
 */
static int
change(const struct ctl_policy_ctx *c, const char *doc, const struct policy *p,
    const char *action)
{
	struct audit_event	 ev;
	struct gk_db_res	*res = NULL;
	json_t			*details = NULL;
	const char		*fp[3] = { c->site, p->version, doc };
	const char		*ip[6] = { c->site, p->version, doc,
				    policy_level_name(p->level), c->operator_name,
				    c->reason };
	const char		*lp[1] = { c->site };
	char			 target[128], event_id[GK_ID_LEN], *prev = NULL;
	int			 rc, exists, same = 0, cur = 0;

	if (gk_db_begin(c->db) == -1 || gk_db_cmd(c->db, lock_sql, 1, lp) == -1)
		goto dbfail;
	if ((res = gk_db_exec(c->db, fate_sql, 3, fp)) == NULL)
		goto dbfail;
	if ((exists = gk_db_res_nrows(res) > 0)) {
		same = strcmp(gk_db_res_value(res, 0, 0), "t") == 0;
		cur = strcmp(gk_db_res_value(res, 0, 1), "t") == 0;
	}
	gk_db_res_free(res);
	res = NULL;
	switch (ctl_policy_fate(exists, same, cur)) {
	case CTL_POLICY_NEW:
		break;
	case CTL_POLICY_CURRENT:
		gk_db_rollback(c->db);
		fprintf(c->out, "policy %s is already in force at %s; nothing changed\n",
		    p->version, c->site);
		return 0;
	case CTL_POLICY_OLD:
		gk_db_rollback(c->db);
		fprintf(c->errout, "policy: version \"%s\" is an older policy of %s; "
		    "give the document a new version to put it in force again\n",
		    p->version, c->site);
		return EX_DATAERR;
	case CTL_POLICY_CONFLICT:
		gk_db_rollback(c->db);
		fprintf(c->errout, "policy: version \"%s\" is already stored for %s with "
		    "other content; give the document a new version\n", p->version,
		    c->site);
		return EX_DATAERR;
	}
	if ((rc = current(c, &res)) == -1)
		goto dbfail;
	if (rc == 1 && (prev = strdup(gk_db_res_value(res, 0, 0))) == NULL)
		goto dbfail;
	gk_db_res_free(res);
	res = NULL;
	if (gk_db_cmd(c->db, insert_sql, 6, ip) == -1)
		goto dbfail;

	/* Audited before the commit: when Kafka says no, nothing happened. */
	snprintf(target, sizeof(target), "policy/%s", p->version);
	if ((details = json_pack("{s:s, s:s, s:s?}", "version", p->version,
	    "alert_level", policy_level_name(p->level), "previous_version",
	    prev)) == NULL) {
		gk_db_rollback(c->db);
		rc = EX_SOFTWARE;
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.site = c->site;
	ev.actor = c->operator_name;
	ev.action = action;
	ev.target = target;
	ev.reason = c->reason;
	ev.details = details;
	if (audit_send(c->brokers, &ev, event_id, c->errout) == -1) {
		gk_db_rollback(c->db);
		fprintf(c->errout, "policy: not changed (no audit event)\n");
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (gk_db_commit(c->db) == -1) {
		fprintf(c->errout, "policy: audit event %s was recorded but the database "
		    "refused the commit: %s; policy not changed\n", event_id,
		    gk_db_errmsg(c->db));
		rc = db_exit(c);
		goto out;
	}
	gk_log(GK_LOG_INFO, "policy.stored", "site=%s version=%s level=%s event_id=%s",
	    c->site, p->version, policy_level_name(p->level), event_id);
	if (publish_doc(c, doc) == -1) {
		fprintf(c->errout, "policy: version %s stored but NOT published to the "
		    "gates; run `ecogatectl policy publish --site %s`\n", p->version,
		    c->site);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	fprintf(c->out, "policy %s (%s, %s) stored and published for %s; audit event "
	    "%s\n", p->version, policy_level_name(p->level), policy_level_zh(p->level),
	    c->site, event_id);
	rc = 0;
	goto out;
dbfail:
	fprintf(c->errout, "policy: database: %s\n", gk_db_errmsg(c->db));
	rc = db_exit(c);
	gk_db_rollback(c->db);
out:
	json_decref(details);
	gk_db_res_free(res);
	free(prev);
	return rc;
}

static int
need_who(const struct ctl_policy_ctx *c)
{
	if (!audit_valid_actor(c->operator_name)) {
		fprintf(c->errout, "policy: give --operator NAME (1 to 64 of A-Z a-z 0-9 "
		    ". _ : -)\n");
		return -1;
	}
	if (!audit_valid_reason(c->reason)) {
		fprintf(c->errout, "policy: give --reason TEXT (1 to %d characters)\n",
		    AUDIT_REASON_MAX);
		return -1;
	}
	return 0;
}

int
ctl_policy_load(const struct ctl_policy_ctx *c, const char *path)
{
	struct policy	 p;
	json_t		*o;
	char		 err[256], *doc;
	int		 rc;

	if (need_who(c) == -1)
		return EX_USAGE;
	if (access(path, R_OK) == -1) {
		fprintf(c->errout, "%s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	/* The file is read by the strict parser first: its errors say where. */
	if ((o = gk_json_parse_file(path, POLICY_DOC_MAX, err, sizeof(err))) == NULL) {
		fprintf(c->errout, "%s\n", err);
		return EX_DATAERR;
	}
	doc = dump(o);
	json_decref(o);
	if (doc == NULL)
		return EX_SOFTWARE;
	if (policy_parse(doc, strlen(doc), &p, err, sizeof(err)) == -1) {
		fprintf(c->errout, "%s: not a valid policy: %s\n", path, err);
		free(doc);
		return EX_DATAERR;
	}
	rc = change(c, doc, &p, "policy.load");
	free(doc);
	return rc;
}

int
ctl_policy_set_alert(const struct ctl_policy_ctx *c, const char *level)
{
	struct gk_db_res	*res = NULL;
	struct policy		 p;
	enum policy_level	 lv;
	char			 version[POLICY_VERSION_MAX], err[256];
	char			*base = NULL, *doc = NULL;
	int			 rc;

	if (policy_level_parse(level, &lv) == -1) {
		fprintf(c->errout, "policy set-alert: \"%s\" is not a level: want none, "
		    "blue, yellow, orange, red (or 蓝, 黄, 橙, 红)\n", level);
		return EX_USAGE;
	}
	if (need_who(c) == -1)
		return EX_USAGE;
	if ((rc = current(c, &res)) == -1) {
		gk_db_res_free(res);
		return db_exit(c);
	}
	if (rc == 1)
		base = strdup(gk_db_res_value(res, 0, 1));
	else {
		policy_default(&p);
		base = ctl_policy_to_json(&p, NULL);
	}
	gk_db_res_free(res);
	if (base == NULL)
		return EX_SOFTWARE;
	if (ctl_policy_version_name(gk_wall_ms(), lv, version, sizeof(version)) == -1 ||
	    (doc = ctl_policy_with_level(base, lv, version, c->reason, err,
	    sizeof(err))) == NULL) {
		fprintf(c->errout, "policy set-alert: %s\n", err);
		free(base);
		return EX_DATAERR;
	}
	free(base);
	if (policy_parse(doc, strlen(doc), &p, err, sizeof(err)) == -1) {
		fprintf(c->errout, "policy set-alert: %s\n", err);
		free(doc);
		return EX_SOFTWARE;
	}
	rc = change(c, doc, &p, "policy.set_alert");
	free(doc);
	return rc;
}

int
ctl_policy_publish(const struct ctl_policy_ctx *c)
{
	struct gk_db_res	*res = NULL;
	json_t			*o;
	char			 err[256], *doc = NULL;
	int			 rc;

	if ((rc = current(c, &res)) != 1) {
		if (rc == 0)
			fprintf(c->errout, "policy: no policy stored for %s\n", c->site);
		gk_db_res_free(res);
		return rc == 0 ? EX_NOINPUT : db_exit(c);
	}
	o = gk_json_parse(gk_db_res_value(res, 0, 1), strlen(gk_db_res_value(res, 0, 1)),
	    POLICY_DOC_MAX, err, sizeof(err));
	if (o == NULL || (doc = dump(o)) == NULL) {
		fprintf(c->errout, "policy: stored document: %s\n", o == NULL ? err :
		    "out of memory");
		rc = EX_SOFTWARE;
	} else if (publish_doc(c, doc) == -1)
		rc = EX_UNAVAILABLE;
	else {
		fprintf(c->out, "policy %s published for %s\n", gk_db_res_value(res, 0, 0),
		    c->site);
		rc = 0;
	}
	json_decref(o);
	free(doc);
	gk_db_res_free(res);
	return rc;
}

static void
show_human(const struct ctl_policy_ctx *c, const struct policy *p,
    const struct gk_db_res *res)
{
	FILE	*f = c->out;
	int	 lv, k;

	fprintf(f, "site               %s\n", c->site);
	fprintf(f, "version            %s\n", p->version);
	fprintf(f, "alert level        %s (%s)\n", policy_level_zh(p->level),
	    policy_level_name(p->level));
	if (res != NULL)
		fprintf(f, "set by             %s at %s: %s\n", gk_db_res_value(res, 0, 2),
		    gk_db_res_value(res, 0, 4), gk_db_res_value(res, 0, 3));
	else
		fprintf(f, "set by             (none stored: the built-in default)\n");
	fprintf(f, "unknown vehicle    %s\n", action_name(p->unknown_vehicle));
	fprintf(f, "unknown stage      %s\n", action_name(p->unknown_stage));
	fprintf(f, "review below       %.2f\n", p->review_below);
	fprintf(f, "lanes              %d", p->nlanes);
	for (k = 0; k < p->nlanes; k++)
		fprintf(f, "%s%s (%s)", k == 0 ? ": " : ", ", p->lanes[k].id,
		    p->lanes[k].direction == POLICY_DIR_OUT ? "out" : "in");
	fprintf(f, "\n\nminimum emission stage (X: none needed, D: electric only)\n");
	fprintf(f, "  %-14s", "level");
	for (k = 0; k < POLICY_CLASS_COUNT; k++)
		fprintf(f, " %-12s", policy_class_name((enum policy_class)k));
	fputc('\n', f);
	for (lv = 0; lv < POLICY_LEVEL_COUNT; lv++) {
		fprintf(f, "%c %-14s", lv == (int)p->level ? '*' : ' ',
		    policy_level_name((enum policy_level)lv));
		for (k = 0; k < POLICY_CLASS_COUNT; k++)
			fprintf(f, " %-12c", p->min_stage[lv][k]);
		fputc('\n', f);
	}
	fprintf(f, "(* the level in force)\n");
}

int
ctl_policy_show(const struct ctl_policy_ctx *c, int json)
{
	struct gk_db_res	*res = NULL;
	struct policy		 p;
	json_t			*o = NULL;
	char			 err[256], *doc = NULL;
	const char		*stored;
	int			 rc;

	if ((rc = current(c, &res)) == -1) {
		gk_db_res_free(res);
		return db_exit(c);
	}
	if (rc == 1) {
		stored = gk_db_res_value(res, 0, 1);
		if (policy_parse(stored, strlen(stored), &p, err, sizeof(err)) == -1 ||
		    (o = gk_json_parse(stored, strlen(stored), POLICY_DOC_MAX, err,
		    sizeof(err))) == NULL) {
			/* Stored by an older tool or by hand: say so, do not guess. */
			fprintf(c->errout, "policy: stored version %s does not parse: %s\n",
			    gk_db_res_value(res, 0, 0), err);
			gk_db_res_free(res);
			return EX_DATAERR;
		}
		doc = dump(o);
		json_decref(o);
	} else {
		policy_default(&p);
		doc = ctl_policy_to_json(&p, NULL);
		gk_db_res_free(res);
		res = NULL;
	}
	if (doc == NULL) {
		gk_db_res_free(res);
		return EX_SOFTWARE;
	}
	if (json)
		fprintf(c->out, "%s\n", doc);
	else
		show_human(c, &p, res);
	free(doc);
	gk_db_res_free(res);
	return 0;
}
