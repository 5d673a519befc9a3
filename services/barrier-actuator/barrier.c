/*
 * The barrier state machine (see barrier.h for the rules). Pure: no I/O, no clock,
 * no allocation; every call resets its out list and appends what the shell must do,
 * in the order it must do it.
 */
#include <stdio.h>
#include <string.h>

#include "barrier.h"

enum pos {
	POS_MID = 0,	/* neither limit input: moving, or stopped half way */
	POS_UP,
	POS_DOWN,
	POS_BOTH,	/* both limit inputs: a wiring or sensor fault */
};

static const char *const state_names[] = {
	[BARRIER_UNKNOWN] = "unknown",
	[BARRIER_CLOSED] = "closed",
	[BARRIER_OPENING] = "opening",
	[BARRIER_OPEN] = "open",
	[BARRIER_CLOSING] = "closing",
	[BARRIER_FAULT] = "fault",
};

static const char *const result_names[] = {
	[BARRIER_RES_DONE] = "done",
	[BARRIER_RES_EXPIRED] = "rejected-expired",
	[BARRIER_RES_OCCUPIED] = "rejected-occupied",
	[BARRIER_RES_UNSUPPORTED] = "rejected-unsupported",
	[BARRIER_RES_SUPERSEDED] = "superseded",
	[BARRIER_RES_FAULT] = "fault",
};

const char *
barrier_state_name(enum barrier_state s)
{
	if ((size_t)s >= GK_NELEM(state_names) || state_names[s] == NULL)
		return "invalid";
	return state_names[s];
}

const char *
barrier_result_name(enum barrier_result r)
{
	if ((size_t)r >= GK_NELEM(result_names) || result_names[r] == NULL)
		return "invalid";
	return result_names[r];
}

const char *
barrier_action_name(enum barrier_action a)
{
	switch (a) {
	case BARRIER_ACT_OPEN:
		return "open";
	case BARRIER_ACT_CLOSE:
		return "close";
	case BARRIER_ACT_HOLD:
		return "hold";
	}
	return "invalid";
}

int
barrier_action_parse(const char *s, enum barrier_action *a)
{
	if (strcmp(s, "open") == 0)
		*a = BARRIER_ACT_OPEN;
	else if (strcmp(s, "close") == 0)
		*a = BARRIER_ACT_CLOSE;
	else if (strcmp(s, "hold") == 0)
		*a = BARRIER_ACT_HOLD;
	else
		return -1;
	return 0;
}

void
barrier_cfg_default(struct barrier_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->open_coil = 0;
	cfg->close_coil = 1;
	cfg->pulse_ms = 500;
	cfg->travel_timeout_ms = 6000;
	cfg->up_input = 0;
	cfg->down_input = 1;
	cfg->loop_input = 2;
	cfg->poll_ms = 100;
	cfg->io_fail_max = 3;
	cfg->auto_close = 1;
	cfg->auto_close_delay_ms = 1000;
}

static int
addr_ok(int a, int optional)
{
	return (a >= 0 && a <= 65535) || (optional && a == -1);
}

int
barrier_cfg_check(const struct barrier_cfg *cfg, char *err, size_t errlen)
{
	if (!addr_ok(cfg->open_coil, 0) || !addr_ok(cfg->close_coil, 1)) {
		gk_errf(err, errlen, "coil address out of range (0-65535, close -1)");
		return -1;
	}
	if (!addr_ok(cfg->up_input, 0) || !addr_ok(cfg->down_input, 0) ||
	    !addr_ok(cfg->loop_input, 1)) {
		gk_errf(err, errlen, "input address out of range (0-65535, loop -1)");
		return -1;
	}
	if (cfg->up_input == cfg->down_input || cfg->up_input == cfg->loop_input ||
	    cfg->down_input == cfg->loop_input) {
		gk_errf(err, errlen, "up, down and loop inputs must differ");
		return -1;
	}
	if (cfg->open_coil == cfg->close_coil) {
		gk_errf(err, errlen, "open and close coils must differ");
		return -1;
	}
	if (cfg->pulse_ms <= 0 || cfg->travel_timeout_ms <= cfg->pulse_ms ||
	    cfg->poll_ms <= 0 || cfg->auto_close_delay_ms < 0) {
		gk_errf(err, errlen, "times must be positive and travel timeout longer "
		    "than the pulse");
		return -1;
	}
	if (cfg->io_fail_max < 1) {
		gk_errf(err, errlen, "io_fail_max must be at least 1");
		return -1;
	}
	return 0;
}

void
barrier_init(struct barrier *b, const struct barrier_cfg *cfg, int64_t now_ms)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	b->state = BARRIER_UNKNOWN;
	b->since_ms = now_ms;
	b->up = b->down = b->loop = -1;
}

static void
out_reset(struct barrier_out *out)
{
	out->n = 0;
	out->dropped = 0;
}

/* Returns a zeroed event appended to out, or NULL (counted) when out is full. */
static struct barrier_ev *
emit(struct barrier_out *out, enum barrier_ev_kind kind)
{
	struct barrier_ev *ev;

	if (out->n >= BARRIER_OUT_MAX) {
		out->dropped++;
		return NULL;
	}
	ev = &out->ev[out->n++];
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	return ev;
}

static void
respond(struct barrier_out *out, const char *cmd_id, enum barrier_result r,
    const char *code)
{
	struct barrier_ev *ev;

	if ((ev = emit(out, BARRIER_EV_RESPONSE)) == NULL)
		return;
	gk_strlcpy(ev->cmd_id, cmd_id, sizeof(ev->cmd_id));
	ev->result = r;
	if (code != NULL)
		gk_strlcpy(ev->code, code, sizeof(ev->code));
}

static void
emit_alarm(struct barrier_out *out, const char *code, int active)
{
	struct barrier_ev *ev;

	if ((ev = emit(out, BARRIER_EV_ALARM)) == NULL)
		return;
	gk_strlcpy(ev->code, code, sizeof(ev->code));
	ev->active = active;
}

static void
respond_pending(struct barrier *b, struct barrier_out *out, enum barrier_result r,
    const char *code)
{
	size_t i;

	for (i = 0; i < b->npending; i++)
		respond(out, b->pending[i], r, code);
	b->npending = 0;
}

/*
 * Enters state s (code: the fault code when s is fault). The alarm follows the fault
 * state: raised on entering it, cleared on leaving it or when the code changes, so an
 * operator's alarm list always matches the published state.
 */
static void
set_state(struct barrier *b, int64_t now, enum barrier_state s, const char *code,
    struct barrier_out *out)
{
	struct barrier_ev *ev;

	if (s == b->state && (s != BARRIER_FAULT || strcmp(b->fault, code) == 0))
		return;
	if (b->state == BARRIER_FAULT)
		emit_alarm(out, b->fault, 0);
	b->state = s;
	b->since_ms = now;
	if (s == BARRIER_FAULT) {
		gk_strlcpy(b->fault, code, sizeof(b->fault));
		emit_alarm(out, code, 1);
	} else
		b->fault[0] = '\0';
	if ((ev = emit(out, BARRIER_EV_STATE)) == NULL)
		return;
	ev->state = s;
	if (s == BARRIER_FAULT)
		gk_strlcpy(ev->code, code, sizeof(ev->code));
}

static void
fault(struct barrier *b, int64_t now, const char *code, struct barrier_out *out)
{
	respond_pending(b, out, BARRIER_RES_FAULT, code);
	b->deadline_ms = 0;
	b->auto_close_at = 0;
	set_state(b, now, BARRIER_FAULT, code, out);
}

/* Pulses the coil that moves the barrier towards target and starts the travel
 * deadline. */
static void
start_move(struct barrier *b, int64_t now, enum barrier_state target,
    struct barrier_out *out)
{
	struct barrier_ev *ev;

	if ((ev = emit(out, BARRIER_EV_PULSE)) != NULL) {
		ev->coil = target == BARRIER_OPEN ? b->cfg.open_coil : b->cfg.close_coil;
		ev->pulse_ms = b->cfg.pulse_ms;
	}
	b->target = target;
	b->deadline_ms = now + b->cfg.travel_timeout_ms;
	b->auto_close_at = 0;
	set_state(b, now, target == BARRIER_OPEN ? BARRIER_OPENING : BARRIER_CLOSING,
	    NULL, out);
}

/* Notes the barrier reached its target: answers waiting commands. */
static void
arrived(struct barrier *b, int64_t now, enum barrier_state s, struct barrier_out *out)
{
	b->deadline_ms = 0;
	respond_pending(b, out, BARRIER_RES_DONE, NULL);
	set_state(b, now, s, NULL, out);
}

static void
add_pending(struct barrier *b, const char *cmd_id, enum barrier_action a,
    struct barrier_out *out)
{
	/* Commands for the other direction were overtaken by this one. */
	if (b->npending > 0 && b->pending_action != a)
		respond_pending(b, out, BARRIER_RES_SUPERSEDED, NULL);
	if (b->npending == BARRIER_PENDING_MAX) {
		respond(out, b->pending[0], BARRIER_RES_SUPERSEDED, NULL);
		memmove(b->pending[0], b->pending[1],
		    sizeof(b->pending[0]) * (BARRIER_PENDING_MAX - 1));
		b->npending--;
	}
	gk_strlcpy(b->pending[b->npending++], cmd_id, GK_ID_LEN);
	b->pending_action = a;
}

static int
travel_fault(const struct barrier *b)
{
	return b->state == BARRIER_FAULT && (strcmp(b->fault, BARRIER_FAULT_NO_OPEN) == 0 ||
	    strcmp(b->fault, BARRIER_FAULT_NO_CLOSE) == 0);
}

static int
seen(struct barrier *b, const char *cmd_id)
{
	size_t i;

	for (i = 0; i < BARRIER_SEEN_MAX; i++)
		if (b->seen[i][0] != '\0' && strcmp(b->seen[i], cmd_id) == 0)
			return 1;
	gk_strlcpy(b->seen[b->seen_next], cmd_id, GK_ID_LEN);
	b->seen_next = (b->seen_next + 1) % BARRIER_SEEN_MAX;
	return 0;
}

int
barrier_command(struct barrier *b, int64_t now_ms, int64_t wall_ms,
    const struct barrier_cmd *cmd, struct barrier_out *out)
{
	out_reset(out);
	/* MQTT QoS 1 may deliver twice: a cmd_id is executed at most once. */
	if (seen(b, cmd->cmd_id))
		return 1;
	gk_strlcpy(b->last_cmd_id, cmd->cmd_id, sizeof(b->last_cmd_id));
	/* A command redelivered after an outage must not open for the wrong vehicle. */
	if (cmd->expires_ms < 0 || wall_ms > cmd->ts_ms + cmd->expires_ms) {
		respond(out, cmd->cmd_id, BARRIER_RES_EXPIRED, NULL);
		return 0;
	}
	if (cmd->action == BARRIER_ACT_HOLD) {
		b->hold = 1;
		b->auto_close_at = 0;
		respond(out, cmd->cmd_id, BARRIER_RES_DONE, NULL);
		return 0;
	}
	b->hold = 0;
	/* With the IO module silent or the sensors lying, nothing can be confirmed. */
	if (b->state == BARRIER_FAULT && !travel_fault(b)) {
		respond(out, cmd->cmd_id, BARRIER_RES_FAULT, b->fault);
		return 0;
	}
	if (cmd->action == BARRIER_ACT_OPEN) {
		/* A new open admits a new vehicle: auto-close waits for it. */
		b->vehicle_seen = b->loop == 1;
		if (b->state == BARRIER_OPEN) {
			b->auto_close_at = 0;
			respond(out, cmd->cmd_id, BARRIER_RES_DONE, NULL);
		} else if (b->state == BARRIER_OPENING)
			add_pending(b, cmd->cmd_id, cmd->action, out);
		else {
			add_pending(b, cmd->cmd_id, cmd->action, out);
			start_move(b, now_ms, BARRIER_OPEN, out);
		}
		return 0;
	}
	if (b->cfg.close_coil < 0) {
		respond(out, cmd->cmd_id, BARRIER_RES_UNSUPPORTED, NULL);
		return 0;
	}
	/* Never lower the barrier onto a vehicle. */
	if (b->loop == 1) {
		respond(out, cmd->cmd_id, BARRIER_RES_OCCUPIED, NULL);
		return 0;
	}
	if (b->state == BARRIER_CLOSED)
		respond(out, cmd->cmd_id, BARRIER_RES_DONE, NULL);
	else if (b->state == BARRIER_CLOSING)
		add_pending(b, cmd->cmd_id, cmd->action, out);
	else {
		add_pending(b, cmd->cmd_id, cmd->action, out);
		start_move(b, now_ms, BARRIER_CLOSED, out);
	}
	return 0;
}

static enum pos
classify(int up, int down)
{
	if (up && down)
		return POS_BOTH;
	if (up)
		return POS_UP;
	if (down)
		return POS_DOWN;
	return POS_MID;
}

static void
position(struct barrier *b, int64_t now, enum pos p, struct barrier_out *out)
{
	if (p == POS_BOTH) {
		fault(b, now, BARRIER_FAULT_SENSORS, out);
		return;
	}
	switch (b->state) {
	case BARRIER_FAULT:
		if (travel_fault(b)) {
			/* Late arrival at the commanded position ends a travel fault. */
			if ((b->target == BARRIER_OPEN && p == POS_UP) ||
			    (b->target == BARRIER_CLOSED && p == POS_DOWN))
				set_state(b, now, b->target, NULL, out);
			break;
		}
		/* IO answering again, sensors agreeing: the barrier is where it says. */
		set_state(b, now, p == POS_UP ? BARRIER_OPEN : p == POS_DOWN ?
		    BARRIER_CLOSED : BARRIER_UNKNOWN, NULL, out);
		break;
	case BARRIER_UNKNOWN:
		if (p == POS_UP)
			set_state(b, now, BARRIER_OPEN, NULL, out);
		else if (p == POS_DOWN)
			set_state(b, now, BARRIER_CLOSED, NULL, out);
		break;
	case BARRIER_OPENING:
		if (p == POS_UP)
			arrived(b, now, BARRIER_OPEN, out);
		break;
	case BARRIER_CLOSING:
		if (p == POS_DOWN)
			arrived(b, now, BARRIER_CLOSED, out);
		break;
	/*
	 * Moved without a command of ours (the controller's own logic, a hand crank): the
	 * state follows the barrier, and a movement that never ends is a fault too.
	 */
	case BARRIER_OPEN:
		if (p == POS_DOWN)
			set_state(b, now, BARRIER_CLOSED, NULL, out);
		else if (p == POS_MID) {
			b->target = BARRIER_CLOSED;
			b->deadline_ms = now + b->cfg.travel_timeout_ms;
			b->auto_close_at = 0;
			set_state(b, now, BARRIER_CLOSING, NULL, out);
		}
		break;
	case BARRIER_CLOSED:
		if (p == POS_UP)
			set_state(b, now, BARRIER_OPEN, NULL, out);
		else if (p == POS_MID) {
			b->target = BARRIER_OPEN;
			b->deadline_ms = now + b->cfg.travel_timeout_ms;
			set_state(b, now, BARRIER_OPENING, NULL, out);
		}
		break;
	}
}

static void
loop_changed(struct barrier *b, int64_t now, int occupied, struct barrier_out *out)
{
	struct barrier_ev *ev;
	int first = b->loop == -1;

	b->loop = occupied;
	/* The first reading of a free loop is no trigger. */
	if (!first || occupied) {
		if ((ev = emit(out, BARRIER_EV_LOOP)) != NULL)
			ev->occupied = occupied;
	}
	if (occupied) {
		if (b->state == BARRIER_OPEN || b->state == BARRIER_OPENING)
			b->vehicle_seen = 1;
		b->auto_close_at = 0;
		/* A vehicle under a closing barrier: raise it again. */
		if (b->state == BARRIER_CLOSING) {
			respond_pending(b, out, BARRIER_RES_OCCUPIED, NULL);
			b->vehicle_seen = 1;
			start_move(b, now, BARRIER_OPEN, out);
		}
	} else if (b->vehicle_seen && b->state == BARRIER_OPEN && b->cfg.auto_close &&
	    !b->hold && b->cfg.close_coil >= 0)
		b->auto_close_at = now + b->cfg.auto_close_delay_ms;
}

void
barrier_sensors(struct barrier *b, int64_t now_ms, int up, int down, int loop,
    struct barrier_out *out)
{
	out_reset(out);
	up = up != 0;
	down = down != 0;
	loop = b->cfg.loop_input >= 0 && loop != 0;
	b->io_fails = 0;
	b->io_ok = 1;
	b->up = up;
	b->down = down;
	position(b, now_ms, classify(up, down), out);
	if (b->cfg.loop_input >= 0 && loop != b->loop)
		loop_changed(b, now_ms, loop, out);
}

void
barrier_io_fail(struct barrier *b, int64_t now_ms, struct barrier_out *out)
{
	out_reset(out);
	/* One lost answer is weather; io_fail_max in a row is a dead module. */
	if (++b->io_fails < b->cfg.io_fail_max)
		return;
	b->io_ok = 0;
	fault(b, now_ms, BARRIER_FAULT_IO, out);
}

void
barrier_tick(struct barrier *b, int64_t now_ms, struct barrier_out *out)
{
	out_reset(out);
	if (b->deadline_ms != 0 && now_ms >= b->deadline_ms) {
		fault(b, now_ms, b->target == BARRIER_OPEN ? BARRIER_FAULT_NO_OPEN :
		    BARRIER_FAULT_NO_CLOSE, out);
		return;
	}
	if (b->auto_close_at != 0 && now_ms >= b->auto_close_at) {
		b->auto_close_at = 0;
		if (b->state == BARRIER_OPEN && !b->hold && b->loop != 1 &&
		    b->cfg.close_coil >= 0) {
			b->vehicle_seen = 0;
			start_move(b, now_ms, BARRIER_CLOSED, out);
		}
	}
}
