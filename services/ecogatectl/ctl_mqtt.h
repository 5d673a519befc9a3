/*
 * ctl_mqtt: the operator tool's one-shot MQTT exchange. A command line tool publishes
 * one message and must know it arrived: connect (clean session), optionally subscribe
 * to a response topic first, publish at QoS 1, wait for the broker's PUBACK and, when
 * asked, for the answer that carries the same correlation data, all within a deadline,
 * then disconnect. gatekit's bus does the MQTT; this file only waits on conditions.
 */
#ifndef ECOGATECTL_CTL_MQTT_H
#define ECOGATECTL_CTL_MQTT_H

#include <stddef.h>
#include <stdio.h>

struct gk_bus_msg;

/*
 * Publishes m through the broker at url and waits up to timeout_ms for its PUBACK.
 * When reply is not NULL, subscribes to m->response_topic first and also waits for a
 * message there whose correlation data equals m's; *reply then receives its payload
 * as a NUL-terminated string (caller frees). Returns 0; -1 (errout says why: not
 * connected, refused, no PUBACK); -2 when the publish was acknowledged but no answer
 * came in time (*reply NULL).
 */
int	ctl_mqtt_publish(const char *url, const struct gk_bus_msg *m, int timeout_ms,
	    char **reply, FILE *errout);

#endif
