/*
 * The barrier state machine: the functional core of the barrier-actuator. It turns
 * commands (open, close, hold), polled sensor readings (barrier-up and barrier-down
 * limit inputs, the safety loop under the barrier), IO module failures and clock ticks
 * into a list of things to do and say: pulse a coil, publish a new state, answer a
 * command, raise or clear an alarm, report loop occupancy. It does no I/O and reads no
 * clock: the caller passes the time, so every rule is a table test.
 *
 * Rules (the why is next to each rule in barrier.c):
 *  - A command whose ts + expires_ms lies before the wall clock is answered
 *    "rejected-expired" and never executed; a cmd_id seen recently is ignored.
 *  - The close coil is never pulsed while the loop detector reports a vehicle, neither
 *    for a close command ("rejected-occupied") nor for auto-close; a vehicle entering
 *    the loop while the barrier closes makes it open again.
 *  - With auto_close on, an opened barrier closes auto_close_delay_ms after the
 *    vehicle that passed under it has left the loop; "hold" suspends that until the
 *    next command.
 *  - Not reaching the commanded position within travel_timeout_ms, io_fail_max
 *    failed polls in a row, or up and down inputs both on, is a fault: state fault,
 *    an alarm, pending commands answered "fault". The fault clears (alarm cleared)
 *    when the sensors agree again: the IO module answers and up/down are not both on;
 *    after a travel fault, when the commanded position is finally reached or a new
 *    command succeeds.
 *
 * The up and down inputs must be wired; the loop input is optional (loop_input -1).
 */
#ifndef BARRIER_H
#define BARRIER_H

#include <stddef.h>
#include <stdint.h>

#include "gatekit/util.h"

enum barrier_state {
	BARRIER_UNKNOWN = 0,	/* after start, before the IO module answered */
	BARRIER_CLOSED,
	BARRIER_OPENING,
	BARRIER_OPEN,
	BARRIER_CLOSING,
	BARRIER_FAULT,
};

enum barrier_action {
	BARRIER_ACT_OPEN = 1,
	BARRIER_ACT_CLOSE,
	BARRIER_ACT_HOLD,
};

/* The answer to a command, published on its response topic. */
enum barrier_result {
	BARRIER_RES_DONE = 1,		/* "done": the barrier is where it was told */
	BARRIER_RES_EXPIRED,		/* "rejected-expired": arrived after its expiry */
	BARRIER_RES_OCCUPIED,		/* "rejected-occupied": close refused, loop occupied */
	BARRIER_RES_UNSUPPORTED,	/* "rejected-unsupported": no close coil configured */
	BARRIER_RES_SUPERSEDED,		/* "superseded": a later command reversed it */
	BARRIER_RES_FAULT,		/* "fault": not carried out, see the fault code */
};

#define BARRIER_CODE_LEN	64	/* fault and alarm codes, dotted words */
#define BARRIER_PENDING_MAX	4	/* commands waiting for the same position */
#define BARRIER_SEEN_MAX	32	/* recent cmd_ids remembered for at-most-once */
#define BARRIER_OUT_MAX		16	/* events one call can produce, with room to spare */

/* Fault codes (barrier-state.v1 "fault.code"). */
#define BARRIER_FAULT_NO_OPEN	"barrier.no_open_confirm"
#define BARRIER_FAULT_NO_CLOSE	"barrier.no_close_confirm"
#define BARRIER_FAULT_SENSORS	"barrier.sensors_contradictory"
#define BARRIER_FAULT_IO	"modbus.no_answer"

struct barrier_cfg {
	int	open_coil;		/* coil pulsed to raise the barrier */
	int	close_coil;		/* coil pulsed to lower it; -1: none */
	int64_t	pulse_ms;		/* how long a pulse holds the coil on */
	int64_t	travel_timeout_ms;	/* up or down must be confirmed within this */
	int	up_input;		/* discrete input on when fully up */
	int	down_input;		/* discrete input on when fully down */
	int	loop_input;		/* discrete input on while a vehicle is on the loop; -1: none */
	int64_t	poll_ms;		/* the shell polls the inputs this often */
	int	io_fail_max;		/* failed polls in a row that make an IO fault */
	int	auto_close;		/* close after the vehicle left the loop */
	int64_t	auto_close_delay_ms;
};

/* A validated command, as the shell parsed it from barrier-command.v1. */
struct barrier_cmd {
	char			 cmd_id[GK_ID_LEN];
	enum barrier_action	 action;
	int64_t			 ts_ms;		/* wall clock ms when issued */
	int64_t			 expires_ms;	/* validity after ts_ms */
};

enum barrier_ev_kind {
	BARRIER_EV_PULSE = 1,	/* write coil on now, off after pulse_ms */
	BARRIER_EV_STATE,	/* state changed: publish retained (state, since, fault) */
	BARRIER_EV_RESPONSE,	/* answer cmd_id with result (code: fault code when any) */
	BARRIER_EV_ALARM,	/* alarm code raised (active 1) or cleared (active 0) */
	BARRIER_EV_LOOP,	/* loop occupancy changed: publish a trigger */
};

/* One output; only the fields of its kind are meaningful. */
struct barrier_ev {
	enum barrier_ev_kind	 kind;
	int			 coil;			/* PULSE */
	int64_t			 pulse_ms;		/* PULSE */
	enum barrier_state	 state;			/* STATE */
	char			 cmd_id[GK_ID_LEN];	/* RESPONSE */
	enum barrier_result	 result;		/* RESPONSE */
	char			 code[BARRIER_CODE_LEN];/* RESPONSE (fault), ALARM, STATE (fault) */
	int			 active;		/* ALARM */
	int			 occupied;		/* LOOP */
};

/* What one call produced, in order; the caller's, filled by the call. */
struct barrier_out {
	struct barrier_ev	ev[BARRIER_OUT_MAX];
	size_t			n;
	size_t			dropped;	/* events that did not fit: a bug, logged */
};

/* The machine's state: plain data the shell embeds; touch only through barrier_*. */
struct barrier {
	struct barrier_cfg	 cfg;
	enum barrier_state	 state;
	int64_t			 since_ms;	/* when state was entered */
	char			 fault[BARRIER_CODE_LEN];	/* set when state is fault */
	enum barrier_state	 target;	/* OPEN or CLOSED while moving or after a travel fault */
	int64_t			 deadline_ms;	/* travel deadline, 0 none */
	int			 io_ok;		/* the IO module answered the last poll */
	int			 io_fails;	/* failed polls in a row */
	int			 up, down, loop;	/* last readings; -1 not read yet */
	int			 hold;		/* auto-close suspended */
	int			 vehicle_seen;	/* loop occupied since the last open */
	int64_t			 auto_close_at;	/* 0 none */
	char			 pending[BARRIER_PENDING_MAX][GK_ID_LEN];
	size_t			 npending;
	enum barrier_action	 pending_action;
	char			 last_cmd_id[GK_ID_LEN];
	char			 seen[BARRIER_SEEN_MAX][GK_ID_LEN];
	size_t			 seen_next;
};

/* Fills cfg with the defaults (open coil 0, close coil 1, pulse 500 ms, travel
 * timeout 6000 ms, inputs up 0 / down 1 / loop 2, poll 100 ms, 3 failed polls, auto
 * close on after 1000 ms). */
void	barrier_cfg_default(struct barrier_cfg *cfg);

/* Checks cfg (coils and inputs 0-65535 or -1 where allowed, positive times).
 * Returns 0, or -1 with the reason in err. */
int	barrier_cfg_check(const struct barrier_cfg *cfg, char *err, size_t errlen);

/* Starts b in state unknown at now_ms with a copy of cfg. */
void	barrier_init(struct barrier *b, const struct barrier_cfg *cfg, int64_t now_ms);

/*
 * Handles a command at now_ms (monotonic) and wall_ms (wall clock, for the expiry).
 * out is reset and filled. Returns 0, or 1 when cmd_id was seen recently and the
 * command was ignored (out stays empty).
 */
int	barrier_command(struct barrier *b, int64_t now_ms, int64_t wall_ms,
	    const struct barrier_cmd *cmd, struct barrier_out *out);

/* Handles one successful poll of the inputs (each 0 or 1; loop ignored when not
 * wired). out is reset and filled. */
void	barrier_sensors(struct barrier *b, int64_t now_ms, int up, int down, int loop,
	    struct barrier_out *out);

/* Handles one failed poll (the IO module did not answer). out is reset and filled. */
void	barrier_io_fail(struct barrier *b, int64_t now_ms, struct barrier_out *out);

/* Runs the timers (travel deadline, auto-close); call every poll. out is reset and
 * filled. */
void	barrier_tick(struct barrier *b, int64_t now_ms, struct barrier_out *out);

/* Names for logs and messages: "closed"..., "open"/"close"/"hold", "done"... */
const char *barrier_state_name(enum barrier_state s);
const char *barrier_action_name(enum barrier_action a);
const char *barrier_result_name(enum barrier_result r);

/* Parses "open", "close", "hold". Returns 0, or -1 for anything else. */
int	barrier_action_parse(const char *s, enum barrier_action *a);

#endif
