/*
 * barrier-actuator: the imperative shell around the barrier state machine (barrier.c).
 * It owns one lane's barrier: commands arrive over MQTT on lane/{lane}/barrier/cmd,
 * the relay/IO module is driven and polled over Modbus (modbus_io.c), the decision's
 * text goes to the lane display (display.c), and whatever the state machine decides
 * is said back on MQTT: the retained barrier state, the answer to each command on its
 * MQTT 5 response topic with its correlation data, alarms, and loop occupancy as a
 * trigger for the cameras. All rules live in barrier.c; this file only moves bytes
 * and reads the clocks, so the rules stay table-tested.
 *
 * One thread: the loop runs the bus callbacks, the poll timer and the pulse timers.
 * libmodbus blocks for at most the response timeout per call, which bounds how long a
 * dead IO module can hold the loop.
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "gatekit/bus.h"
#include "gatekit/cfg.h"
#include "gatekit/daemon.h"
#include "gatekit/json.h"
#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/util.h"

#include "barrier.h"
#include "display.h"
#include "modbus_io.h"

#define SVC		"barrier-actuator"
#define TOPIC_LEN	256
#define CMD_MAX_BYTES	4096	/* a barrier-command.v1 is a few hundred bytes */
#define DEC_MAX_BYTES	65536	/* a passage decision carries vehicle facts too */
#define REPLY_MAX	16	/* commands awaiting an answer (pending + in flight) */
#define PULSE_MAX	4	/* coils with an "off" still to write */
#define REASON_LEN	200

#ifndef ECOGATE_VERSION
#define ECOGATE_VERSION	"unknown"
#endif

struct act_cfg {
	char		*site;
	char		*lane;
	char		*mqtt_url;
	char		*mqtt_client_id;
	char		*mqtt_username;
	char		*mqtt_password;
	char		*modbus_target;
	long long	 modbus_unit_id;
	int64_t		 modbus_timeout_ms;
	long long	 coil_open;
	long long	 coil_close;
	int64_t		 pulse_ms;
	long long	 input_up;
	long long	 input_down;
	long long	 input_loop;
	int64_t		 travel_timeout_ms;
	int64_t		 poll_ms;
	long long	 io_fail_max;
	int		 auto_close;
	int64_t		 auto_close_delay_ms;
	int64_t		 state_interval_ms;
	char		*display;
};

static const struct gk_cfg_key act_keys[] = {
	{ "site", GK_CFG_STR, offsetof(struct act_cfg, site), "demo", 1, 32, 0,
	    "plant site id (topic segment)" },
	{ "lane", GK_CFG_STR, offsetof(struct act_cfg, lane), "in-1", 1, 32, 0,
	    "lane this actuator serves (topic segment)" },
	{ "mqtt.url", GK_CFG_STR, offsetof(struct act_cfg, mqtt_url),
	    "tcp://127.0.0.1:1883", 0, 0, 0, "MQTT broker URL" },
	{ "mqtt.client-id", GK_CFG_STR, offsetof(struct act_cfg, mqtt_client_id),
	    NULL, 0, 64, 0, "MQTT client id; empty: barrier-actuator-{lane}" },
	{ "mqtt.username", GK_CFG_STR, offsetof(struct act_cfg, mqtt_username),
	    NULL, 0, 0, 0, "MQTT user; empty: none" },
	{ "mqtt.password", GK_CFG_STR, offsetof(struct act_cfg, mqtt_password),
	    NULL, 0, 0, GK_CFG_SECRET, "MQTT password" },
	{ "modbus.target", GK_CFG_STR, offsetof(struct act_cfg, modbus_target),
	    "tcp://127.0.0.1:15020", 1, 300, 0,
	    "IO module: tcp://HOST:PORT or rtu:DEVICE[,BAUD[,8N1]]" },
	{ "modbus.unit-id", GK_CFG_INT, offsetof(struct act_cfg, modbus_unit_id),
	    "1", 0, 247, 0, "Modbus unit (slave) id" },
	{ "modbus.timeout", GK_CFG_MS, offsetof(struct act_cfg, modbus_timeout_ms),
	    "200ms", 10, 5000, 0, "Modbus response timeout" },
	{ "coil.open", GK_CFG_INT, offsetof(struct act_cfg, coil_open), "0", 0, 65535,
	    0, "coil pulsed to raise the barrier" },
	{ "coil.close", GK_CFG_INT, offsetof(struct act_cfg, coil_close), "1", -1,
	    65535, 0, "coil pulsed to lower it; -1: none" },
	{ "pulse", GK_CFG_MS, offsetof(struct act_cfg, pulse_ms), "500ms", 1, 60000, 0,
	    "how long a pulse holds the coil on" },
	{ "input.up", GK_CFG_INT, offsetof(struct act_cfg, input_up), "0", 0, 65535, 0,
	    "discrete input on when fully up" },
	{ "input.down", GK_CFG_INT, offsetof(struct act_cfg, input_down), "1", 0, 65535,
	    0, "discrete input on when fully down" },
	{ "input.loop", GK_CFG_INT, offsetof(struct act_cfg, input_loop), "2", -1,
	    65535, 0, "discrete input of the safety loop; -1: none" },
	{ "travel.timeout", GK_CFG_MS, offsetof(struct act_cfg, travel_timeout_ms),
	    "6s", 1, 600000, 0, "time to reach the commanded position" },
	{ "poll.interval", GK_CFG_MS, offsetof(struct act_cfg, poll_ms), "100ms", 10,
	    60000, 0, "how often the inputs are read" },
	{ "io.fail-max", GK_CFG_INT, offsetof(struct act_cfg, io_fail_max), "3", 1,
	    1000, 0, "failed polls in a row that make an IO fault" },
	{ "auto-close", GK_CFG_BOOL, offsetof(struct act_cfg, auto_close), "yes", 0, 0,
	    0, "close after the vehicle left the loop" },
	{ "auto-close.delay", GK_CFG_MS, offsetof(struct act_cfg, auto_close_delay_ms),
	    "1s", 1, 600000, 0, "delay before the automatic close" },
	{ "state.interval", GK_CFG_MS, offsetof(struct act_cfg, state_interval_ms),
	    "30s", 1000, 3600000, 0, "the retained state is republished this often" },
	{ "display", GK_CFG_STR, offsetof(struct act_cfg, display), "log", 1, 300, 0,
	    "lane display: log or tcp://HOST:PORT" },
	{ NULL }
};

/* Where to answer a command, kept from its arrival until the state machine answers. */
struct reply {
	char	 cmd_id[GK_ID_LEN];	/* "" free */
	char	*topic;			/* NULL: the command asked for no answer */
	void	*corr;
	size_t	 corr_len;
};

/* A coil switched on whose "off" is still to be written. */
struct pulse {
	struct actuator	*a;
	int		 coil;		/* -1 free */
	uint64_t	 timer;		/* 0 when due (retried by the poll) */
};

struct act_stats {
	uint64_t	cmds;
	uint64_t	cmds_bad;
	uint64_t	cmds_dup;
	uint64_t	cmds_expired;
	uint64_t	decisions;
	uint64_t	decisions_bad;
	uint64_t	pub_fail;
	uint64_t	io_fail;
};

struct actuator {
	struct act_cfg		 cfg;
	struct gk_loop		*loop;
	struct gk_bus		*bus;
	struct modbus_io	*io;
	struct display		*disp;
	struct barrier		 b;
	uint64_t		 poll_timer;
	uint64_t		 state_timer;
	struct reply		 replies[REPLY_MAX];
	size_t			 reply_next;
	struct pulse		 pulses[PULSE_MAX];
	struct act_stats	 st;
	char			 t_cmd[TOPIC_LEN];
	char			 t_decision[TOPIC_LEN];
	char			 t_state[TOPIC_LEN];
	char			 t_trigger[TOPIC_LEN];
	char			 t_alarm[TOPIC_LEN];
	char			 t_status[TOPIC_LEN];
	char			 client_id[GK_BUS_CLIENT_ID_LEN];
};

static void	act_apply(struct actuator *a, const struct barrier_out *out);

/* Returns 1 when s matches ^[A-Za-z0-9._:-]{1,64}$ (the schemas' "id"). */
static int
id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._:-") == n;
}

/* Returns 1 when s matches ^[a-z][a-z0-9_.]*$ with at most 64 bytes. */
static int
code_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64 || s[0] < 'a' || s[0] > 'z')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

/* Counts UTF-8 code points (the input is valid UTF-8: jansson checked it). */
static size_t
utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * Parses and checks a barrier-command.v1 document strictly, as the schema says, and
 * that it is meant for our site and lane. Fills cmd. Returns 0, or -1 with the reason
 * in err; cmd->cmd_id is filled whenever the document had a valid one, so even a
 * refused command can be answered by id.
 */
static int
cmd_parse(const struct actuator *a, const void *buf, size_t len,
    struct barrier_cmd *cmd, char *err, size_t errlen)
{
	static const char *const top[] = { "schema", "cmd_id", "site", "lane",
	    "action", "reason", "who", "event_id", "ts", "expires_ms", NULL };
	static const char *const rkeys[] = { "code", "text", NULL };
	static const char *const wkeys[] = { "kind", "id", NULL };
	char perr[160];
	const char *s, *bad = NULL, *kind;
	json_t *j, *reason, *who;
	long long exp;
	int rc;

	memset(cmd, 0, sizeof(*cmd));
	if ((j = gk_json_parse(buf, len, CMD_MAX_BYTES, perr, sizeof(perr))) == NULL) {
		gk_errf(err, errlen, "not JSON: %s", perr);
		return -1;
	}
	if (!json_is_object(j)) {
		gk_errf(err, errlen, "not an object");
		goto fail;
	}
	if (gk_json_get_str(j, "cmd_id", &s) == GK_JSON_OK && gk_id_canonical(s))
		gk_strlcpy(cmd->cmd_id, s, sizeof(cmd->cmd_id));
	if (gk_json_only_keys(j, top, &bad) == -1) {
		gk_errf(err, errlen, "unknown field '%s'", bad);
		goto fail;
	}
	if ((rc = gk_json_get_str(j, "schema", &s)) != GK_JSON_OK ||
	    strcmp(s, "ecogate.barrier-command.v1") != 0) {
		gk_errf(err, errlen, "schema: %s", rc != GK_JSON_OK ?
		    gk_json_strerror(rc) : "not ecogate.barrier-command.v1");
		goto fail;
	}
	if (cmd->cmd_id[0] == '\0') {
		gk_errf(err, errlen, "cmd_id: absent or not a lower-case UUID");
		goto fail;
	}
	if (gk_json_get_str(j, "site", &s) != GK_JSON_OK || strcmp(s, a->cfg.site)) {
		gk_errf(err, errlen, "site: absent or not '%s'", a->cfg.site);
		goto fail;
	}
	if (gk_json_get_str(j, "lane", &s) != GK_JSON_OK || strcmp(s, a->cfg.lane)) {
		gk_errf(err, errlen, "lane: absent or not '%s'", a->cfg.lane);
		goto fail;
	}
	if (gk_json_get_str(j, "action", &s) != GK_JSON_OK ||
	    barrier_action_parse(s, &cmd->action) == -1) {
		gk_errf(err, errlen, "action: not open, close or hold");
		goto fail;
	}
	if ((reason = json_object_get(j, "reason")) == NULL ||
	    !json_is_object(reason)) {
		gk_errf(err, errlen, "reason: absent or not an object");
		goto fail;
	}
	if (gk_json_only_keys(reason, rkeys, &bad) == -1) {
		gk_errf(err, errlen, "reason: unknown field '%s'", bad);
		goto fail;
	}
	if (gk_json_get_str(reason, "code", &s) != GK_JSON_OK || !code_ok(s)) {
		gk_errf(err, errlen, "reason.code: absent or not dotted lower-case words");
		goto fail;
	}
	rc = gk_json_get_str(reason, "text", &s);
	if (rc == GK_JSON_WRONG_TYPE || (rc == GK_JSON_OK &&
	    (s[0] == '\0' || utf8_len(s) > REASON_LEN))) {
		gk_errf(err, errlen, "reason.text: not a string of 1-200 characters");
		goto fail;
	}
	if ((who = json_object_get(j, "who")) == NULL || !json_is_object(who)) {
		gk_errf(err, errlen, "who: absent or not an object");
		goto fail;
	}
	if (gk_json_only_keys(who, wkeys, &bad) == -1) {
		gk_errf(err, errlen, "who: unknown field '%s'", bad);
		goto fail;
	}
	if (gk_json_get_str(who, "kind", &kind) != GK_JSON_OK ||
	    (strcmp(kind, "service") != 0 && strcmp(kind, "operator") != 0)) {
		gk_errf(err, errlen, "who.kind: not service or operator");
		goto fail;
	}
	if (gk_json_get_str(who, "id", &s) != GK_JSON_OK || !id_ok(s)) {
		gk_errf(err, errlen, "who.id: absent or not an id");
		goto fail;
	}
	/* A manual release must say why, in the operator's words. */
	if (strcmp(kind, "operator") == 0 && rc != GK_JSON_OK) {
		gk_errf(err, errlen, "reason.text: required from an operator");
		goto fail;
	}
	rc = gk_json_get_str(j, "event_id", &s);
	if (rc == GK_JSON_WRONG_TYPE || (rc == GK_JSON_OK && !gk_id_canonical(s))) {
		gk_errf(err, errlen, "event_id: not a lower-case UUID");
		goto fail;
	}
	if (gk_json_get_str(j, "ts", &s) != GK_JSON_OK ||
	    gk_ts_parse(s, &cmd->ts_ms) == -1) {
		gk_errf(err, errlen, "ts: absent or not an RFC 3339 time");
		goto fail;
	}
	if (gk_json_get_int(j, "expires_ms", &exp) != GK_JSON_OK || exp < 1 ||
	    exp > 600000) {
		gk_errf(err, errlen, "expires_ms: not an integer 1-600000");
		goto fail;
	}
	cmd->expires_ms = exp;
	json_decref(j);
	return 0;
fail:
	json_decref(j);
	return -1;
}

static void
on_published(void *arg, void *opaque, int ok, const char *why)
{
	struct actuator *a = arg;
	const char *what = opaque;

	if (!ok) {
		a->st.pub_fail++;
		gk_log(GK_LOG_WARN, "bus.publish_failed", "what=%s why=%s", what, why);
	}
}

/* Publishes a JSON document (consumed: decref'd here). Returns 0 or -1 (logged). */
static int
publish_json(struct actuator *a, const char *topic, json_t *doc, int retain,
    const void *corr, size_t corr_len, const char *what)
{
	struct gk_bus_msg m;
	char *txt;
	int rc;

	txt = doc != NULL ? gk_json_dump_compact(doc) : NULL;
	json_decref(doc);
	if (txt == NULL) {
		a->st.pub_fail++;
		gk_log(GK_LOG_ERR, "bus.publish_failed", "what=%s why=%s", what,
		    "out of memory");
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.topic = topic;
	m.payload = txt;
	m.len = strlen(txt);
	m.qos = 1;
	m.retain = retain;
	m.content_type = "application/json";
	m.correlation = corr;
	m.correlation_len = corr_len;
	rc = gk_bus_publish(a->bus, &m, (void *)(uintptr_t)what);
	if (rc == -1) {
		a->st.pub_fail++;
		gk_log(GK_LOG_WARN, "bus.publish_failed", "what=%s topic=%s why=%s",
		    what, topic, strerror(errno));
	}
	free(txt);
	return rc;
}

/* The wall time of a monotonic instant, for "since". */
static int64_t
mono_to_wall(int64_t mono)
{
	return gk_wall_ms() - (gk_mono_ms() - mono);
}

static const char *
fault_text(const char *code)
{
	if (strcmp(code, BARRIER_FAULT_IO) == 0)
		return "道闸控制器无响应";
	if (strcmp(code, BARRIER_FAULT_NO_OPEN) == 0)
		return "道闸未能抬起到位";
	if (strcmp(code, BARRIER_FAULT_NO_CLOSE) == 0)
		return "道闸未能落下到位";
	if (strcmp(code, BARRIER_FAULT_SENSORS) == 0)
		return "道闸限位信号矛盾";
	return NULL;
}

/* Publishes barrier-state.v1, retained. */
static void
publish_state(struct actuator *a)
{
	char since[GK_TS_LEN], now[GK_TS_LEN];
	const char *txt;
	json_t *doc, *f;

	if (gk_ts_format(mono_to_wall(a->b.since_ms), since, sizeof(since)) == -1 ||
	    gk_ts_format(gk_wall_ms(), now, sizeof(now)) == -1)
		return;
	doc = json_object();
	json_object_set_new(doc, "schema", json_string("ecogate.barrier-state.v1"));
	json_object_set_new(doc, "site", json_string(a->cfg.site));
	json_object_set_new(doc, "lane", json_string(a->cfg.lane));
	json_object_set_new(doc, "state",
	    json_string(barrier_state_name(a->b.state)));
	json_object_set_new(doc, "since", json_string(since));
	json_object_set_new(doc, "ts", json_string(now));
	if (a->b.state == BARRIER_FAULT) {
		f = json_object();
		json_object_set_new(f, "code", json_string(a->b.fault));
		if ((txt = fault_text(a->b.fault)) != NULL)
			json_object_set_new(f, "text", json_string(txt));
		json_object_set_new(doc, "fault", f);
	}
	if (a->b.last_cmd_id[0] != '\0')
		json_object_set_new(doc, "last_cmd_id", json_string(a->b.last_cmd_id));
	if (a->cfg.input_loop >= 0 && a->b.loop >= 0)
		json_object_set_new(doc, "loop_occupied", json_boolean(a->b.loop == 1));
	publish_json(a, a->t_state, doc, 1, NULL, 0, "state");
}

/* Remembers where to answer cmd_id; the oldest entry gives way when full. */
static void
reply_add(struct actuator *a, const char *cmd_id, const struct gk_bus_msg *m)
{
	struct reply *r = &a->replies[a->reply_next];

	if (r->cmd_id[0] != '\0')
		gk_log(GK_LOG_WARN, "barrier.reply_dropped", "cmd_id=%s", r->cmd_id);
	free(r->topic);
	free(r->corr);
	memset(r, 0, sizeof(*r));
	gk_strlcpy(r->cmd_id, cmd_id, sizeof(r->cmd_id));
	if (m->response_topic != NULL && (r->topic = strdup(m->response_topic)) ==
	    NULL)
		goto nomem;
	if (m->correlation != NULL && m->correlation_len > 0) {
		if ((r->corr = malloc(m->correlation_len)) == NULL)
			goto nomem;
		memcpy(r->corr, m->correlation, m->correlation_len);
		r->corr_len = m->correlation_len;
	}
	a->reply_next = (a->reply_next + 1) % REPLY_MAX;
	return;
nomem:
	gk_log(GK_LOG_ERR, "barrier.reply_nomem", "cmd_id=%s", cmd_id);
	free(r->topic);
	memset(r, 0, sizeof(*r));
}

/* Sends the answer for cmd_id (result a string, code NULL or a fault code) to the
 * response topic remembered for it, then forgets it. */
static void
reply_send(struct actuator *a, const char *cmd_id, const char *result,
    const char *code)
{
	char now[GK_TS_LEN];
	struct reply *r = NULL;
	json_t *doc;
	size_t i;

	gk_log(GK_LOG_INFO, "barrier.cmd_result", "cmd_id=%s result=%s code=%s",
	    cmd_id, result, code);
	for (i = 0; i < REPLY_MAX; i++)
		if (strcmp(a->replies[i].cmd_id, cmd_id) == 0) {
			r = &a->replies[i];
			break;
		}
	if (r == NULL || r->topic == NULL)
		goto out;
	if (gk_ts_format(gk_wall_ms(), now, sizeof(now)) == -1)
		goto out;
	doc = json_object();
	json_object_set_new(doc, "schema", json_string("ecogate.barrier-response.v1"));
	json_object_set_new(doc, "cmd_id", json_string(cmd_id));
	json_object_set_new(doc, "site", json_string(a->cfg.site));
	json_object_set_new(doc, "lane", json_string(a->cfg.lane));
	json_object_set_new(doc, "result", json_string(result));
	if (code != NULL && code[0] != '\0')
		json_object_set_new(doc, "code", json_string(code));
	json_object_set_new(doc, "state", json_string(barrier_state_name(a->b.state)));
	json_object_set_new(doc, "ts", json_string(now));
	publish_json(a, r->topic, doc, 0, r->corr, r->corr_len, "response");
out:
	if (r != NULL) {
		free(r->topic);
		free(r->corr);
		memset(r, 0, sizeof(*r));
	}
}

static void
publish_alarm(struct actuator *a, const char *code, int active)
{
	char now[GK_TS_LEN];
	const char *txt;
	json_t *doc;

	gk_log(active ? GK_LOG_WARN : GK_LOG_INFO, active ? "barrier.alarm" :
	    "barrier.alarm_cleared", "code=%s", code);
	if (gk_ts_format(gk_wall_ms(), now, sizeof(now)) == -1)
		return;
	doc = json_object();
	json_object_set_new(doc, "schema", json_string("ecogate.alarm.v1"));
	json_object_set_new(doc, "site", json_string(a->cfg.site));
	json_object_set_new(doc, "lane", json_string(a->cfg.lane));
	json_object_set_new(doc, "source", json_string(SVC));
	json_object_set_new(doc, "code", json_string(code));
	json_object_set_new(doc, "active", json_boolean(active));
	if ((txt = fault_text(code)) != NULL)
		json_object_set_new(doc, "text", json_string(txt));
	json_object_set_new(doc, "ts", json_string(now));
	publish_json(a, a->t_alarm, doc, 0, NULL, 0, "alarm");
}

static void
publish_trigger(struct actuator *a, int occupied)
{
	char now[GK_TS_LEN], id[GK_ID_LEN];
	json_t *doc;

	gk_log(GK_LOG_INFO, "barrier.loop", "occupied=%d", occupied);
	if (gk_ts_format(gk_wall_ms(), now, sizeof(now)) == -1 ||
	    gk_id_new(id) == -1)
		return;
	doc = json_object();
	json_object_set_new(doc, "schema", json_string("ecogate.trigger.v1"));
	json_object_set_new(doc, "trigger_id", json_string(id));
	json_object_set_new(doc, "site", json_string(a->cfg.site));
	json_object_set_new(doc, "lane", json_string(a->cfg.lane));
	json_object_set_new(doc, "source", json_string("loop"));
	json_object_set_new(doc, "occupied", json_boolean(occupied));
	json_object_set_new(doc, "ts", json_string(now));
	publish_json(a, a->t_trigger, doc, 0, NULL, 0, "trigger");
}

/* Writes the "off" of a pulse; on failure the slot stays due and the poll retries,
 * since a coil left on would swallow the next pulse's rising edge. */
static void
pulse_off(struct pulse *p)
{
	char err[160];

	p->timer = 0;
	if (modbus_io_write_coil(p->a->io, p->coil, 0, err, sizeof(err)) == -1) {
		gk_log(GK_LOG_WARN, "modbus.write_failed", "coil=%d on=0 err=%s",
		    p->coil, err);
		return;
	}
	gk_log(GK_LOG_DEBUG, "barrier.pulse_end", "coil=%d", p->coil);
	p->coil = -1;
}

static void
on_pulse_timer(struct gk_loop *l, uint64_t id, void *arg)
{
	(void)l;
	(void)id;
	pulse_off(arg);
}

static void
do_pulse(struct actuator *a, int coil, int64_t ms)
{
	struct pulse *p = NULL;
	char err[160];
	size_t i;

	for (i = 0; i < PULSE_MAX; i++)
		if (a->pulses[i].coil == coil || (p == NULL && a->pulses[i].coil < 0))
			p = &a->pulses[i];
	if (p != NULL && p->coil == coil && p->timer != 0)
		gk_loop_timer_cancel(a->loop, p->timer);
	if (p == NULL) {
		gk_log(GK_LOG_ERR, "barrier.pulse_dropped", "coil=%d", coil);
		return;
	}
	p->coil = coil;
	p->timer = 0;
	if (modbus_io_write_coil(a->io, coil, 1, err, sizeof(err)) == -1) {
		a->st.io_fail++;
		gk_log(GK_LOG_WARN, "modbus.write_failed", "coil=%d on=1 err=%s", coil,
		    err);
		/* Make sure it is off; the travel timeout reports the failure. */
		pulse_off(p);
		return;
	}
	gk_log(GK_LOG_INFO, "barrier.pulse", "coil=%d ms=%lld", coil, (long long)ms);
	if ((p->timer = gk_loop_timer_add(a->loop, ms, 0, on_pulse_timer, p)) == 0)
		pulse_off(p);
}

/* Carries out what the state machine decided. */
static void
act_apply(struct actuator *a, const struct barrier_out *out)
{
	const struct barrier_ev *e;
	size_t i;

	if (out->dropped > 0)
		gk_log(GK_LOG_ERR, "barrier.events_dropped", "n=%zu", out->dropped);
	for (i = 0; i < out->n; i++) {
		e = &out->ev[i];
		switch (e->kind) {
		case BARRIER_EV_PULSE:
			do_pulse(a, e->coil, e->pulse_ms);
			break;
		case BARRIER_EV_STATE:
			gk_log(GK_LOG_INFO, "barrier.state", "state=%s fault=%s",
			    barrier_state_name(e->state), e->code);
			publish_state(a);
			break;
		case BARRIER_EV_RESPONSE:
			reply_send(a, e->cmd_id, barrier_result_name(e->result),
			    e->code);
			break;
		case BARRIER_EV_ALARM:
			publish_alarm(a, e->code, e->active);
			break;
		case BARRIER_EV_LOOP:
			publish_trigger(a, e->occupied);
			break;
		}
	}
}

static void
on_poll(struct gk_loop *l, uint64_t id, void *arg)
{
	struct actuator *a = arg;
	struct barrier_out out;
	uint8_t bits[MODBUS_IO_MAX_BITS];
	char err[160];
	int lo, hi, loop = 0;
	size_t i;

	(void)l;
	(void)id;
	for (i = 0; i < PULSE_MAX; i++)
		if (a->pulses[i].coil >= 0 && a->pulses[i].timer == 0)
			pulse_off(&a->pulses[i]);
	lo = (int)(a->cfg.input_up < a->cfg.input_down ? a->cfg.input_up :
	    a->cfg.input_down);
	hi = (int)(a->cfg.input_up > a->cfg.input_down ? a->cfg.input_up :
	    a->cfg.input_down);
	if (a->cfg.input_loop >= 0) {
		lo = a->cfg.input_loop < lo ? (int)a->cfg.input_loop : lo;
		hi = a->cfg.input_loop > hi ? (int)a->cfg.input_loop : hi;
	}
	if (modbus_io_read_inputs(a->io, lo, hi - lo + 1, bits, err,
	    sizeof(err)) == -1) {
		a->st.io_fail++;
		gk_log(GK_LOG_DEBUG, "modbus.read_failed", "err=%s", err);
		barrier_io_fail(&a->b, gk_mono_ms(), &out);
	} else {
		if (a->cfg.input_loop >= 0)
			loop = bits[a->cfg.input_loop - lo];
		barrier_sensors(&a->b, gk_mono_ms(), bits[a->cfg.input_up - lo],
		    bits[a->cfg.input_down - lo], loop, &out);
	}
	act_apply(a, &out);
	barrier_tick(&a->b, gk_mono_ms(), &out);
	act_apply(a, &out);
}

static void
on_state_timer(struct gk_loop *l, uint64_t id, void *arg)
{
	(void)l;
	(void)id;
	publish_state(arg);
}

static void
handle_cmd(struct actuator *a, const struct gk_bus_msg *m)
{
	struct barrier_cmd cmd;
	struct barrier_out out;
	char err[200];

	a->st.cmds++;
	if (cmd_parse(a, m->payload, m->len, &cmd, err, sizeof(err)) == -1) {
		a->st.cmds_bad++;
		gk_log(GK_LOG_WARN, "barrier.cmd_invalid",
		    "topic=%s cmd_id=%s err=%s bad_total=%llu", m->topic, cmd.cmd_id,
		    err, (unsigned long long)a->st.cmds_bad);
		/* The issuer waits for an answer: say no, when we know whom to tell. */
		if (cmd.cmd_id[0] != '\0') {
			reply_add(a, cmd.cmd_id, m);
			reply_send(a, cmd.cmd_id, "rejected-invalid", NULL);
		}
		return;
	}
	gk_log(GK_LOG_INFO, "barrier.cmd", "cmd_id=%s action=%s", cmd.cmd_id,
	    barrier_action_name(cmd.action));
	if (barrier_command(&a->b, gk_mono_ms(), gk_wall_ms(), &cmd, &out) == 1) {
		a->st.cmds_dup++;
		gk_log(GK_LOG_INFO, "barrier.cmd_duplicate", "cmd_id=%s", cmd.cmd_id);
		/* The first delivery's answer is still owed (or was sent). */
		return;
	}
	/* Before the events run: an answer may be among them. */
	reply_add(a, cmd.cmd_id, m);
	if (out.n > 0 && out.ev[0].kind == BARRIER_EV_RESPONSE &&
	    out.ev[0].result == BARRIER_RES_EXPIRED)
		a->st.cmds_expired++;
	act_apply(a, &out);
}

static void
handle_decision(struct actuator *a, const struct gk_bus_msg *m)
{
	const char *lines[DISPLAY_LINES_MAX];
	char err[160];
	json_t *j, *disp, *arr, *v;
	size_t i, n;

	a->st.decisions++;
	if ((j = gk_json_parse(m->payload, m->len, DEC_MAX_BYTES, err,
	    sizeof(err))) == NULL) {
		a->st.decisions_bad++;
		gk_log(GK_LOG_WARN, "barrier.decision_invalid", "err=%s", err);
		return;
	}
	disp = json_object_get(j, "display");
	arr = disp != NULL ? json_object_get(disp, "lines") : NULL;
	n = json_is_array(arr) ? json_array_size(arr) : 0;
	if (n < 1 || n > 4) {
		gk_errf(err, sizeof(err), "display.lines: not an array of 1-4 lines");
		goto bad;
	}
	for (i = 0; i < n; i++) {
		v = json_array_get(arr, i);
		if (!json_is_string(v) || utf8_len(json_string_value(v)) > 32) {
			gk_errf(err, sizeof(err), "display.lines[%zu]: not a string of "
			    "at most 32 characters", i);
			goto bad;
		}
		lines[i] = json_string_value(v);
	}
	display_show(a->disp, lines, n);
	json_decref(j);
	return;
bad:
	a->st.decisions_bad++;
	gk_log(GK_LOG_WARN, "barrier.decision_invalid", "err=%s", err);
	json_decref(j);
}

static void
on_message(void *arg, const struct gk_bus_msg *m)
{
	struct actuator *a = arg;

	if (strcmp(m->topic, a->t_cmd) == 0)
		handle_cmd(a, m);
	else if (strcmp(m->topic, a->t_decision) == 0)
		handle_decision(a, m);
	else
		gk_log(GK_LOG_WARN, "bus.unexpected_topic", "topic=%s", m->topic);
}

static void
on_bus_state(void *arg, int connected, const char *why)
{
	struct actuator *a = arg;

	gk_log(connected ? GK_LOG_INFO : GK_LOG_WARN, connected ? "bus.up" :
	    "bus.down", "why=%s", why);
	/* The retained state may predate a restart of ours: say it again. */
	if (connected)
		publish_state(a);
}

/* Sets up everything local; remote ends are reached by the loop. Returns 0 or -1. */
static int
act_setup(struct actuator *a)
{
	struct modbus_io_cfg mc;
	struct barrier_cfg bc;
	struct gk_bus_opts o;
	char err[256];
	size_t i;

	if (!gk_topic_id_valid(a->cfg.site) || !gk_topic_id_valid(a->cfg.lane)) {
		gk_log(GK_LOG_ERR, "cfg.error", "err=%s site=%s lane=%s",
		    "site and lane must match ^[a-z0-9][a-z0-9_-]{0,31}$", a->cfg.site,
		    a->cfg.lane);
		return -1;
	}
	barrier_cfg_default(&bc);
	bc.open_coil = (int)a->cfg.coil_open;
	bc.close_coil = (int)a->cfg.coil_close;
	bc.pulse_ms = a->cfg.pulse_ms;
	bc.travel_timeout_ms = a->cfg.travel_timeout_ms;
	bc.up_input = (int)a->cfg.input_up;
	bc.down_input = (int)a->cfg.input_down;
	bc.loop_input = (int)a->cfg.input_loop;
	bc.poll_ms = a->cfg.poll_ms;
	bc.io_fail_max = (int)a->cfg.io_fail_max;
	bc.auto_close = a->cfg.auto_close;
	bc.auto_close_delay_ms = a->cfg.auto_close_delay_ms;
	if (barrier_cfg_check(&bc, err, sizeof(err)) == -1) {
		gk_log(GK_LOG_ERR, "cfg.error", "err=%s", err);
		return -1;
	}
	/* One read covers up, down and loop: keep them within one Modbus request. */
	{
		long long lo = bc.up_input < bc.down_input ? bc.up_input : bc.down_input;
		long long hi = bc.up_input > bc.down_input ? bc.up_input : bc.down_input;

		if (bc.loop_input >= 0) {
			lo = bc.loop_input < lo ? bc.loop_input : lo;
			hi = bc.loop_input > hi ? bc.loop_input : hi;
		}
		if (hi - lo + 1 > MODBUS_IO_MAX_BITS) {
			gk_log(GK_LOG_ERR, "cfg.error", "err=%s",
			    "input.up, input.down and input.loop span more than 2000");
			return -1;
		}
	}
	barrier_init(&a->b, &bc, gk_mono_ms());
	for (i = 0; i < PULSE_MAX; i++) {
		a->pulses[i].a = a;
		a->pulses[i].coil = -1;
	}

	modbus_io_cfg_default(&mc);
	if (modbus_io_cfg_parse(&mc, a->cfg.modbus_target, err, sizeof(err)) == -1) {
		gk_log(GK_LOG_ERR, "cfg.error", "key=%s err=%s", "modbus.target", err);
		return -1;
	}
	mc.unit_id = (int)a->cfg.modbus_unit_id;
	mc.response_timeout_ms = a->cfg.modbus_timeout_ms;
	if ((a->io = modbus_io_new(&mc, err, sizeof(err))) == NULL) {
		gk_log(GK_LOG_ERR, "cfg.error", "key=%s err=%s", "modbus.target", err);
		return -1;
	}
	if ((a->disp = display_open(a->cfg.display, err, sizeof(err))) == NULL) {
		gk_log(GK_LOG_ERR, "cfg.error", "key=%s err=%s", "display", err);
		return -1;
	}

	if (gk_bus_topic(a->t_cmd, TOPIC_LEN, "ecogate/v1/%s/lane/%s/barrier/cmd",
	    a->cfg.site, a->cfg.lane) == -1 ||
	    gk_bus_topic(a->t_decision, TOPIC_LEN, "ecogate/v1/%s/lane/%s/decision",
	    a->cfg.site, a->cfg.lane) == -1 ||
	    gk_bus_topic(a->t_state, TOPIC_LEN, "ecogate/v1/%s/lane/%s/barrier/state",
	    a->cfg.site, a->cfg.lane) == -1 ||
	    gk_bus_topic(a->t_trigger, TOPIC_LEN, "ecogate/v1/%s/lane/%s/trigger",
	    a->cfg.site, a->cfg.lane) == -1 ||
	    gk_bus_topic(a->t_alarm, TOPIC_LEN, "ecogate/v1/%s/alarm",
	    a->cfg.site) == -1 ||
	    gk_bus_topic(a->t_status, TOPIC_LEN,
	    "ecogate/v1/%s/status/barrier-actuator/%s", a->cfg.site,
	    a->cfg.lane) == -1) {
		gk_log(GK_LOG_ERR, "cfg.error", "err=%s", "cannot build the topics");
		return -1;
	}
	if (a->cfg.mqtt_client_id[0] != '\0')
		gk_strlcpy(a->client_id, a->cfg.mqtt_client_id, sizeof(a->client_id));
	else
		snprintf(a->client_id, sizeof(a->client_id), "barrier-actuator-%s",
		    a->cfg.lane);

	memset(&o, 0, sizeof(o));
	o.url = a->cfg.mqtt_url;
	o.client_id = a->client_id;
	o.username = a->cfg.mqtt_username[0] != '\0' ? a->cfg.mqtt_username : NULL;
	o.password = a->cfg.mqtt_password[0] != '\0' ? a->cfg.mqtt_password : NULL;
	o.status_topic = a->t_status;
	o.version = ECOGATE_VERSION;
	o.max_payload = DEC_MAX_BYTES;
	o.on_message = on_message;
	o.on_state = on_bus_state;
	o.on_published = on_published;
	o.arg = a;
	if ((a->bus = gk_bus_new(a->loop, &o, err, sizeof(err))) == NULL)
		return -1;
	if (gk_bus_subscribe(a->bus, a->t_cmd, 1) == -1 ||
	    gk_bus_subscribe(a->bus, a->t_decision, 1) == -1) {
		gk_log(GK_LOG_ERR, "bus.subscribe_failed", "err=%s", strerror(errno));
		return -1;
	}
	a->poll_timer = gk_loop_timer_add(a->loop, 0, a->cfg.poll_ms, on_poll, a);
	a->state_timer = gk_loop_timer_add(a->loop, a->cfg.state_interval_ms,
	    a->cfg.state_interval_ms, on_state_timer, a);
	if (a->poll_timer == 0 || a->state_timer == 0) {
		gk_log(GK_LOG_ERR, "svc.init_failed", "err=%s", "timer");
		return -1;
	}
	if (gk_bus_start(a->bus) == -1)
		return -1;
	return 0;
}

/* Frees everything in reverse order; safe on a half-made actuator. */
static void
act_shutdown(void *arg)
{
	struct actuator *a = arg;
	char err[160];
	size_t i;

	if (a->loop != NULL) {
		if (a->poll_timer != 0)
			gk_loop_timer_cancel(a->loop, a->poll_timer);
		if (a->state_timer != 0)
			gk_loop_timer_cancel(a->loop, a->state_timer);
	}
	/* Leave no coil energised behind us. */
	for (i = 0; i < PULSE_MAX; i++) {
		if (a->pulses[i].coil < 0)
			continue;
		if (a->pulses[i].timer != 0)
			gk_loop_timer_cancel(a->loop, a->pulses[i].timer);
		if (a->io != NULL)
			(void)modbus_io_write_coil(a->io, a->pulses[i].coil, 0, err,
			    sizeof(err));
	}
	gk_bus_free(a->bus);
	display_close(a->disp);
	modbus_io_free(a->io);
	for (i = 0; i < REPLY_MAX; i++) {
		free(a->replies[i].topic);
		free(a->replies[i].corr);
	}
	gk_log(GK_LOG_INFO, "barrier.counters", "cmds=%llu cmds_bad=%llu cmds_dup=%llu "
	    "cmds_expired=%llu decisions=%llu decisions_bad=%llu pub_fail=%llu "
	    "io_fail=%llu", (unsigned long long)a->st.cmds,
	    (unsigned long long)a->st.cmds_bad, (unsigned long long)a->st.cmds_dup,
	    (unsigned long long)a->st.cmds_expired,
	    (unsigned long long)a->st.decisions,
	    (unsigned long long)a->st.decisions_bad,
	    (unsigned long long)a->st.pub_fail, (unsigned long long)a->st.io_fail);
}

/* gk_daemon init: set up, or EX_CONFIG (the log says what: a bad target, mostly). */
static int
act_init(void *arg, struct gk_loop *loop, const char *conffile)
{
	struct actuator *a = arg;

	(void)conffile;
	a->loop = loop;
	return act_setup(a) == 0 ? 0 : EX_CONFIG;
}

int
main(int argc, char *argv[])
{
	static struct actuator	a;	/* large (reply and seen tables): not on the stack */
	static const struct gk_daemon d = { SVC, ECOGATE_VERSION, &a.cfg, act_keys, &a,
	    act_init, NULL, act_shutdown };

	return gk_daemon_main(&d, argc, argv);
}
