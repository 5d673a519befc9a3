/*
 * ctl_barrier: `ecogatectl barrier open`, the manual release of a lane's barrier by
 * an operator. The tool publishes a barrier-command.v1 (schemas/) with action open,
 * who = the operator, reason code "manual.release" and the operator's text, a fresh
 * cmd_id and a short expiry (10 s, also as the MQTT message expiry, so a command
 * stuck in a broker never opens the barrier for the wrong vehicle) on
 * ecogate/v1/{site}/lane/{lane}/barrier/cmd, QoS 1, not retained.
 *
 * Audited first (audit.h): the audit event is on Kafka before the command leaves,
 * so there is no manual release without its record. With --wait the command carries
 * a response topic and its cmd_id as correlation data, and the tool waits for the
 * barrier-actuator's answer and prints it.
 */
#ifndef ECOGATECTL_CTL_BARRIER_H
#define ECOGATECTL_CTL_BARRIER_H

#include <stdint.h>
#include <stdio.h>

#include "gatekit/util.h"

#define CTL_BARRIER_EXPIRES_MS	10000
#define CTL_BARRIER_REASON_CODE	"manual.release"

struct ctl_barrier_req {
	const char	*site;
	const char	*lane;
	const char	*operator_name;
	const char	*reason;
	const char	*brokers;	/* Kafka, for the audit event */
	const char	*mqtt_url;
	int		 wait;		/* wait for the actuator's answer */
	int		 wait_ms;	/* how long; 0: 15000 */
};

/*
 * Pure: the barrier-command.v1 "open" message for r with cmd_id, issued at wall_ms,
 * as compact JSON; caller frees. NULL with err when a field is invalid.
 */
char	*ctl_barrier_open_json(const struct ctl_barrier_req *r, const char *cmd_id,
	    int64_t wall_ms, char *err, size_t errlen);

/*
 * Audits and publishes the open command; with r->wait, prints the answer. Returns 0;
 * EX_USAGE (bad lane, site, operator or reason), EX_UNAVAILABLE (Kafka: nothing sent;
 * or MQTT: audited but not sent, said on errout), EX_TEMPFAIL (sent, no answer in
 * time).
 */
int	ctl_barrier_open(const struct ctl_barrier_req *r, FILE *out, FILE *errout);

#endif
