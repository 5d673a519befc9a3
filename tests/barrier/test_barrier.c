/*
 * The barrier state machine, rule by rule: each case feeds commands, sensor readings
 * and ticks at chosen times and checks the actions, states, answers and alarms that
 * come out against expectations written here by hand.
 */
#include <string.h>

#include "t.h"
#include "barrier.h"

#define ID1	"0190a1b2-0000-7000-8000-000000000001"
#define ID2	"0190a1b2-0000-7000-8000-000000000002"
#define ID3	"0190a1b2-0000-7000-8000-000000000003"
#define ID4	"0190a1b2-0000-7000-8000-000000000004"
#define ID5	"0190a1b2-0000-7000-8000-000000000005"

static struct barrier_out out;

static struct barrier_cmd
cmd(const char *id, enum barrier_action a, int64_t ts, int64_t expires)
{
	struct barrier_cmd c;

	memset(&c, 0, sizeof(c));
	strcpy(c.cmd_id, id);
	c.action = a;
	c.ts_ms = ts;
	c.expires_ms = expires;
	return c;
}

static int
count(enum barrier_ev_kind k)
{
	size_t i;
	int n = 0;

	for (i = 0; i < out.n; i++)
		n += out.ev[i].kind == k;
	return n;
}

static int
has_pulse(int coil, int64_t ms)
{
	size_t i;

	for (i = 0; i < out.n; i++)
		if (out.ev[i].kind == BARRIER_EV_PULSE && out.ev[i].coil == coil &&
		    out.ev[i].pulse_ms == ms)
			return 1;
	return 0;
}

static int
has_state(enum barrier_state s, const char *code)
{
	size_t i;

	for (i = 0; i < out.n; i++)
		if (out.ev[i].kind == BARRIER_EV_STATE && out.ev[i].state == s &&
		    strcmp(out.ev[i].code, code) == 0)
			return 1;
	return 0;
}

static int
has_resp(const char *id, enum barrier_result r, const char *code)
{
	size_t i;

	for (i = 0; i < out.n; i++)
		if (out.ev[i].kind == BARRIER_EV_RESPONSE &&
		    strcmp(out.ev[i].cmd_id, id) == 0 && out.ev[i].result == r &&
		    strcmp(out.ev[i].code, code) == 0)
			return 1;
	return 0;
}

static int
has_alarm(const char *code, int active)
{
	size_t i;

	for (i = 0; i < out.n; i++)
		if (out.ev[i].kind == BARRIER_EV_ALARM &&
		    strcmp(out.ev[i].code, code) == 0 && out.ev[i].active == active)
			return 1;
	return 0;
}

static int
has_loop(int occupied)
{
	size_t i;

	for (i = 0; i < out.n; i++)
		if (out.ev[i].kind == BARRIER_EV_LOOP && out.ev[i].occupied == occupied)
			return 1;
	return 0;
}

/* A barrier at rest in the closed position at t = 1000, loop free. */
static void
closed_barrier(struct barrier *b, const struct barrier_cfg *cfg)
{
	barrier_init(b, cfg, 0);
	barrier_sensors(b, 1000, 0, 1, 0, &out);
	T_REQUIRE(b->state == BARRIER_CLOSED);
}

static void
test_names_and_cfg(void)
{
	struct barrier_cfg cfg;
	enum barrier_action a;
	char err[128];

	T_STREQ(barrier_state_name(BARRIER_CLOSING), "closing");
	T_STREQ(barrier_state_name(BARRIER_UNKNOWN), "unknown");
	T_STREQ(barrier_result_name(BARRIER_RES_EXPIRED), "rejected-expired");
	T_STREQ(barrier_result_name(BARRIER_RES_DONE), "done");
	T_CHECK(barrier_action_parse("hold", &a) == 0 && a == BARRIER_ACT_HOLD);
	T_CHECK(barrier_action_parse("Open", &a) == -1);

	barrier_cfg_default(&cfg);
	T_CHECK(cfg.open_coil == 0 && cfg.close_coil == 1);
	T_CHECK(cfg.pulse_ms == 500 && cfg.travel_timeout_ms == 6000);
	T_CHECK(cfg.up_input == 0 && cfg.down_input == 1 && cfg.loop_input == 2);
	T_CHECK(barrier_cfg_check(&cfg, err, sizeof(err)) == 0);
	cfg.down_input = 0;
	T_CHECK(barrier_cfg_check(&cfg, err, sizeof(err)) == -1);
	barrier_cfg_default(&cfg);
	cfg.travel_timeout_ms = 400;	/* shorter than the pulse */
	T_CHECK(barrier_cfg_check(&cfg, err, sizeof(err)) == -1);
	barrier_cfg_default(&cfg);
	cfg.loop_input = -1;
	cfg.close_coil = -1;
	T_CHECK(barrier_cfg_check(&cfg, err, sizeof(err)) == 0);
	cfg.up_input = 70000;
	T_CHECK(barrier_cfg_check(&cfg, err, sizeof(err)) == -1);
}

static void
test_startup(void)
{
	struct barrier_cfg cfg;
	struct barrier b;

	barrier_cfg_default(&cfg);
	barrier_init(&b, &cfg, 5);
	T_CHECK(b.state == BARRIER_UNKNOWN && b.since_ms == 5);
	/* Half way: still unknown, and a free loop at start is no trigger. */
	barrier_sensors(&b, 100, 0, 0, 0, &out);
	T_CHECK(b.state == BARRIER_UNKNOWN);
	T_CHECK(out.n == 0);
	barrier_sensors(&b, 200, 1, 0, 0, &out);
	T_CHECK(has_state(BARRIER_OPEN, ""));
	T_CHECK(b.since_ms == 200);
	/* A vehicle on the loop at start is reported. */
	barrier_init(&b, &cfg, 0);
	barrier_sensors(&b, 100, 0, 1, 1, &out);
	T_CHECK(has_state(BARRIER_CLOSED, "") && has_loop(1));
}

static void
test_open_cycle(void)
{
	struct barrier_cfg cfg;
	struct barrier b;
	struct barrier_cmd c;

	barrier_cfg_default(&cfg);
	closed_barrier(&b, &cfg);
	c = cmd(ID1, BARRIER_ACT_OPEN, 50000, 5000);
	T_CHECK(barrier_command(&b, 2000, 51000, &c, &out) == 0);
	T_CHECK(has_pulse(0, 500));
	T_CHECK(has_state(BARRIER_OPENING, ""));
	T_CHECK(count(BARRIER_EV_RESPONSE) == 0);
	T_STREQ(b.last_cmd_id, ID1);
	/* Moving: neither input. */
	barrier_sensors(&b, 2500, 0, 0, 0, &out);
	T_CHECK(out.n == 0);
	barrier_tick(&b, 7999, &out);
	T_CHECK(out.n == 0);
	barrier_sensors(&b, 3600, 1, 0, 0, &out);
	T_CHECK(has_state(BARRIER_OPEN, ""));
	T_CHECK(has_resp(ID1, BARRIER_RES_DONE, ""));
	/* Arrived: the travel deadline no longer applies. */
	barrier_tick(&b, 9000, &out);
	T_CHECK(out.n == 0 && b.state == BARRIER_OPEN);

	/* The vehicle drives over the loop and leaves; auto-close 1000 ms later. */
	barrier_sensors(&b, 10000, 1, 0, 1, &out);
	T_CHECK(has_loop(1) && count(BARRIER_EV_LOOP) == 1);
	barrier_sensors(&b, 12000, 1, 0, 0, &out);
	T_CHECK(has_loop(0));
	barrier_tick(&b, 12999, &out);
	T_CHECK(count(BARRIER_EV_PULSE) == 0);
	barrier_tick(&b, 13000, &out);
	T_CHECK(has_pulse(1, 500));
	T_CHECK(has_state(BARRIER_CLOSING, ""));
	barrier_sensors(&b, 14000, 0, 1, 0, &out);
	T_CHECK(has_state(BARRIER_CLOSED, ""));
	T_CHECK(count(BARRIER_EV_RESPONSE) == 0);
	/* Open while open: answered at once, no pulse. */
	c = cmd(ID2, BARRIER_ACT_OPEN, 50000, 5000);
	barrier_command(&b, 15000, 51000, &c, &out);
	barrier_sensors(&b, 16000, 1, 0, 0, &out);
	c = cmd(ID3, BARRIER_ACT_OPEN, 50000, 5000);
	barrier_command(&b, 16100, 51000, &c, &out);
	T_CHECK(has_resp(ID3, BARRIER_RES_DONE, "") && count(BARRIER_EV_PULSE) == 0);
	/* No vehicle passed since: auto-close does not fire on its own. */
	barrier_tick(&b, 60000, &out);
	T_CHECK(out.n == 0 && b.state == BARRIER_OPEN);
}

static void
test_two_opens_one_motion(void)
{
	struct barrier_cfg cfg;
	struct barrier b;
	struct barrier_cmd c;

	barrier_cfg_default(&cfg);
	closed_barrier(&b, &cfg);
	c = cmd(ID1, BARRIER_ACT_OPEN, 0, 600000);
	barrier_command(&b, 2000, 1, &c, &out);
	c = cmd(ID2, BARRIER_ACT_OPEN, 0, 600000);
	barrier_command(&b, 2100, 1, &c, &out);
	T_CHECK(out.n == 0);	/* already on its way: no second pulse */
	barrier_sensors(&b, 3000, 1, 0, 0, &out);
	T_CHECK(has_resp(ID1, BARRIER_RES_DONE, "") && has_resp(ID2, BARRIER_RES_DONE, ""));

	/* A close overtakes an open under way. */
	closed_barrier(&b, &cfg);
	c = cmd(ID3, BARRIER_ACT_OPEN, 0, 600000);
	barrier_command(&b, 2000, 1, &c, &out);
	c = cmd(ID4, BARRIER_ACT_CLOSE, 0, 600000);
	barrier_command(&b, 2200, 1, &c, &out);
	T_CHECK(has_resp(ID3, BARRIER_RES_SUPERSEDED, ""));
	T_CHECK(has_pulse(1, 500) && has_state(BARRIER_CLOSING, ""));
	barrier_sensors(&b, 2600, 0, 1, 0, &out);
	T_CHECK(has_resp(ID4, BARRIER_RES_DONE, "") && has_state(BARRIER_CLOSED, ""));
}

static void
test_expired_and_duplicate(void)
{
	struct barrier_cfg cfg;
	struct barrier b;
	struct barrier_cmd c;

	barrier_cfg_default(&cfg);
	closed_barrier(&b, &cfg);
	/* Issued at wall 1000, valid 500 ms, arrives at wall 1501. */
	c = cmd(ID1, BARRIER_ACT_OPEN, 1000, 500);
	T_CHECK(barrier_command(&b, 2000, 1501, &c, &out) == 0);
	T_CHECK(has_resp(ID1, BARRIER_RES_EXPIRED, ""));
	T_CHECK(count(BARRIER_EV_PULSE) == 0 && b.state == BARRIER_CLOSED);
	/* At exactly its expiry it is still valid. */
	c = cmd(ID2, BARRIER_ACT_OPEN, 1000, 500);
	barrier_command(&b, 2000, 1500, &c, &out);
	T_CHECK(has_pulse(0, 500));
	/* Redelivered (QoS 1): ignored, nothing done. */
	T_CHECK(barrier_command(&b, 2100, 1500, &c, &out) == 1);
	T_CHECK(out.n == 0);
	c = cmd(ID1, BARRIER_ACT_OPEN, 1000, 600000);
	T_CHECK(barrier_command(&b, 2100, 1500, &c, &out) == 1);
}

static void
test_loop_safety(void)
{
	struct barrier_cfg cfg;
	struct barrier b;
	struct barrier_cmd c;

	barrier_cfg_default(&cfg);
	closed_barrier(&b, &cfg);
	barrier_sensors(&b, 1100, 1, 0, 1, &out);	/* open, vehicle under it */
	T_CHECK(b.state == BARRIER_OPEN);
	c = cmd(ID1, BARRIER_ACT_CLOSE, 0, 600000);
	barrier_command(&b, 1200, 1, &c, &out);
	T_CHECK(has_resp(ID1, BARRIER_RES_OCCUPIED, ""));
	T_CHECK(count(BARRIER_EV_PULSE) == 0 && b.state == BARRIER_OPEN);

	/* Loop free: the close goes ahead; a vehicle rolls in while it closes. */
	barrier_sensors(&b, 1300, 1, 0, 0, &out);
	c = cmd(ID2, BARRIER_ACT_CLOSE, 0, 600000);
	barrier_command(&b, 1400, 1, &c, &out);
	T_CHECK(has_pulse(1, 500) && has_state(BARRIER_CLOSING, ""));
	barrier_sensors(&b, 1600, 0, 0, 1, &out);
	T_CHECK(has_loop(1));
	T_CHECK(has_resp(ID2, BARRIER_RES_OCCUPIED, ""));
	T_CHECK(has_pulse(0, 500) && has_state(BARRIER_OPENING, ""));
	barrier_sensors(&b, 2000, 1, 0, 1, &out);
	T_CHECK(has_state(BARRIER_OPEN, ""));
	/* The vehicle leaves, comes back before the delay: no close onto it. */
	barrier_sensors(&b, 3000, 1, 0, 0, &out);
	barrier_sensors(&b, 3500, 1, 0, 1, &out);
	barrier_tick(&b, 4000, &out);
	T_CHECK(count(BARRIER_EV_PULSE) == 0);
	barrier_sensors(&b, 5000, 1, 0, 0, &out);
	barrier_tick(&b, 6000, &out);
	T_CHECK(has_pulse(1, 500));

	/* No close coil: close is refused, auto-close never pulses. */
	cfg.close_coil = -1;
	closed_barrier(&b, &cfg);
	c = cmd(ID3, BARRIER_ACT_CLOSE, 0, 600000);
	barrier_command(&b, 1200, 1, &c, &out);
	T_CHECK(has_resp(ID3, BARRIER_RES_UNSUPPORTED, ""));
}

static void
test_hold(void)
{
	struct barrier_cfg cfg;
	struct barrier b;
	struct barrier_cmd c;

	barrier_cfg_default(&cfg);
	closed_barrier(&b, &cfg);
	c = cmd(ID1, BARRIER_ACT_OPEN, 0, 600000);
	barrier_command(&b, 1100, 1, &c, &out);
	barrier_sensors(&b, 2000, 1, 0, 0, &out);
	c = cmd(ID2, BARRIER_ACT_HOLD, 0, 600000);
	barrier_command(&b, 2100, 1, &c, &out);
	T_CHECK(has_resp(ID2, BARRIER_RES_DONE, "") && out.n == 1);
	barrier_sensors(&b, 3000, 1, 0, 1, &out);
	barrier_sensors(&b, 4000, 1, 0, 0, &out);
	barrier_tick(&b, 10000, &out);
	T_CHECK(count(BARRIER_EV_PULSE) == 0 && b.state == BARRIER_OPEN);
	/* The next open ends the hold: the next vehicle is closed behind again. */
	c = cmd(ID3, BARRIER_ACT_OPEN, 0, 600000);
	barrier_command(&b, 11000, 1, &c, &out);
	barrier_sensors(&b, 12000, 1, 0, 1, &out);
	barrier_sensors(&b, 13000, 1, 0, 0, &out);
	barrier_tick(&b, 14000, &out);
	T_CHECK(has_pulse(1, 500));
}

static void
test_travel_timeout(void)
{
	struct barrier_cfg cfg;
	struct barrier b;
	struct barrier_cmd c;

	barrier_cfg_default(&cfg);
	closed_barrier(&b, &cfg);
	c = cmd(ID1, BARRIER_ACT_OPEN, 0, 600000);
	barrier_command(&b, 2000, 1, &c, &out);
	barrier_sensors(&b, 3000, 0, 0, 0, &out);
	barrier_tick(&b, 7999, &out);
	T_CHECK(out.n == 0);
	barrier_tick(&b, 8000, &out);
	T_CHECK(has_state(BARRIER_FAULT, "barrier.no_open_confirm"));
	T_CHECK(has_alarm("barrier.no_open_confirm", 1));
	T_CHECK(has_resp(ID1, BARRIER_RES_FAULT, "barrier.no_open_confirm"));
	T_STREQ(b.fault, "barrier.no_open_confirm");
	/* Still half way: stays a fault, raised once. */
	barrier_sensors(&b, 8100, 0, 0, 0, &out);
	barrier_tick(&b, 9000, &out);
	T_CHECK(out.n == 0 && b.state == BARRIER_FAULT);
	/* Late arrival at the top clears it. */
	barrier_sensors(&b, 9500, 1, 0, 0, &out);
	T_CHECK(has_state(BARRIER_OPEN, "") && has_alarm("barrier.no_open_confirm", 0));
	T_CHECK(b.fault[0] == '\0');

	/* Stuck at the bottom after a travel fault: a new command retries. */
	closed_barrier(&b, &cfg);
	c = cmd(ID2, BARRIER_ACT_OPEN, 0, 600000);
	barrier_command(&b, 2000, 1, &c, &out);
	barrier_tick(&b, 8000, &out);
	T_CHECK(b.state == BARRIER_FAULT);
	barrier_sensors(&b, 8100, 0, 1, 0, &out);
	T_CHECK(b.state == BARRIER_FAULT && out.n == 0);
	c = cmd(ID3, BARRIER_ACT_OPEN, 0, 600000);
	barrier_command(&b, 9000, 1, &c, &out);
	T_CHECK(has_pulse(0, 500) && has_state(BARRIER_OPENING, ""));
	T_CHECK(has_alarm("barrier.no_open_confirm", 0));
	barrier_sensors(&b, 10000, 1, 0, 0, &out);
	T_CHECK(has_resp(ID3, BARRIER_RES_DONE, ""));

	/* A close that never arrives. */
	c = cmd(ID4, BARRIER_ACT_CLOSE, 0, 600000);
	barrier_command(&b, 11000, 1, &c, &out);
	barrier_tick(&b, 17000, &out);
	T_CHECK(has_state(BARRIER_FAULT, "barrier.no_close_confirm"));
	T_CHECK(has_resp(ID4, BARRIER_RES_FAULT, "barrier.no_close_confirm"));
}

static void
test_io_down(void)
{
	struct barrier_cfg cfg;
	struct barrier b;
	struct barrier_cmd c;

	barrier_cfg_default(&cfg);
	closed_barrier(&b, &cfg);
	c = cmd(ID1, BARRIER_ACT_OPEN, 0, 600000);
	barrier_command(&b, 2000, 1, &c, &out);
	barrier_io_fail(&b, 2100, &out);
	barrier_io_fail(&b, 2200, &out);
	T_CHECK(out.n == 0 && b.state == BARRIER_OPENING);
	barrier_io_fail(&b, 2300, &out);
	T_CHECK(has_state(BARRIER_FAULT, "modbus.no_answer"));
	T_CHECK(has_alarm("modbus.no_answer", 1));
	T_CHECK(has_resp(ID1, BARRIER_RES_FAULT, "modbus.no_answer"));
	/* More failures: no repeated alarm; commands answered fault at once. */
	barrier_io_fail(&b, 2400, &out);
	T_CHECK(out.n == 0);
	c = cmd(ID2, BARRIER_ACT_OPEN, 0, 600000);
	barrier_command(&b, 2500, 1, &c, &out);
	T_CHECK(has_resp(ID2, BARRIER_RES_FAULT, "modbus.no_answer"));
	T_CHECK(count(BARRIER_EV_PULSE) == 0);
	/* No travel deadline runs while the module is gone. */
	barrier_tick(&b, 20000, &out);
	T_CHECK(out.n == 0);
	/* The module answers again, barrier half way: unknown, alarm cleared. */
	barrier_sensors(&b, 21000, 0, 0, 0, &out);
	T_CHECK(has_state(BARRIER_UNKNOWN, "") && has_alarm("modbus.no_answer", 0));
	barrier_sensors(&b, 22000, 1, 0, 0, &out);
	T_CHECK(has_state(BARRIER_OPEN, ""));
	/* A failure that does not last is forgotten. */
	barrier_io_fail(&b, 23000, &out);
	barrier_io_fail(&b, 23100, &out);
	barrier_sensors(&b, 23200, 1, 0, 0, &out);
	barrier_io_fail(&b, 23300, &out);
	T_CHECK(out.n == 0 && b.state == BARRIER_OPEN);
}

static void
test_contradictory(void)
{
	struct barrier_cfg cfg;
	struct barrier b;
	struct barrier_cmd c;

	barrier_cfg_default(&cfg);
	closed_barrier(&b, &cfg);
	barrier_sensors(&b, 2000, 1, 1, 0, &out);
	T_CHECK(has_state(BARRIER_FAULT, "barrier.sensors_contradictory"));
	T_CHECK(has_alarm("barrier.sensors_contradictory", 1));
	c = cmd(ID1, BARRIER_ACT_CLOSE, 0, 600000);
	barrier_command(&b, 2100, 1, &c, &out);
	T_CHECK(has_resp(ID1, BARRIER_RES_FAULT, "barrier.sensors_contradictory"));
	/* The module dies meanwhile: one alarm replaces the other. */
	barrier_io_fail(&b, 2200, &out);
	barrier_io_fail(&b, 2300, &out);
	barrier_io_fail(&b, 2400, &out);
	T_CHECK(has_alarm("barrier.sensors_contradictory", 0));
	T_CHECK(has_alarm("modbus.no_answer", 1));
	T_CHECK(has_state(BARRIER_FAULT, "modbus.no_answer"));
	barrier_sensors(&b, 2500, 1, 1, 0, &out);
	T_CHECK(has_alarm("modbus.no_answer", 0));
	T_CHECK(has_state(BARRIER_FAULT, "barrier.sensors_contradictory"));
	barrier_sensors(&b, 3000, 0, 1, 0, &out);
	T_CHECK(has_state(BARRIER_CLOSED, ""));
	T_CHECK(has_alarm("barrier.sensors_contradictory", 0));
}

static void
test_moved_by_hand(void)
{
	struct barrier_cfg cfg;
	struct barrier b;

	barrier_cfg_default(&cfg);
	cfg.loop_input = -1;
	closed_barrier(&b, &cfg);
	/* Rises without our command: the state follows the barrier. */
	barrier_sensors(&b, 2000, 0, 0, 1, &out);	/* loop not wired: ignored */
	T_CHECK(has_state(BARRIER_OPENING, "") && count(BARRIER_EV_LOOP) == 0);
	barrier_sensors(&b, 3000, 1, 0, 0, &out);
	T_CHECK(has_state(BARRIER_OPEN, ""));
	barrier_sensors(&b, 4000, 0, 1, 0, &out);
	T_CHECK(has_state(BARRIER_CLOSED, ""));
}

int
main(void)
{
	test_names_and_cfg();
	test_startup();
	test_open_cycle();
	test_two_opens_one_motion();
	test_expired_and_duplicate();
	test_loop_safety();
	test_hold();
	test_travel_timeout();
	test_io_down();
	test_contradictory();
	test_moved_by_hand();
	return T_DONE();
}
