/*
 * audit: the record of every operator action that changes how the plant runs
 * (schemas/audit.v1.schema.json), produced to the Kafka topic ecogate.audit.v1, key
 * the site, from which the ledger-writer appends it to the ledger.
 *
 * The rule the callers keep is "no unaudited change": the audit event is produced
 * and its delivery report awaited BEFORE the change is made visible (the database
 * commit, the MQTT publish). When Kafka is away the command fails and changes nothing.
 * The reverse risk, an audit event for a change that then failed (database commit
 * lost, broker gone), is reported on stderr by the caller and stays visible in the
 * ledger as an action without effect, which an auditor can tell from the history.
 *
 * audit_event_json() and the audit_valid_*() checks are pure; audit_send() does I/O.
 */
#ifndef ECOGATECTL_AUDIT_H
#define ECOGATECTL_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "gatekit/util.h"

#define AUDIT_TOPIC		"ecogate.audit.v1"
#define AUDIT_REASON_MAX	200	/* characters, as the schemas allow */

/* One action to audit; every string borrowed. */
struct audit_event {
	const char	*site;		/* topic_id: [a-z0-9][a-z0-9_-]{0,31} */
	const char	*actor;		/* operator id: [A-Za-z0-9._:-]{1,64} */
	const char	*action;	/* "policy.load", "barrier.open" ... */
	const char	*target;	/* "policy/VERSION", "lane/in-1" */
	const char	*reason;	/* 1..200 characters */
	const json_t	*details;	/* an object, or NULL */
};

/* 1 when s is a topic id (site, lane): [a-z0-9][a-z0-9_-]{0,31}. */
int	audit_valid_topic_id(const char *s);

/* 1 when s is an operator or service id: [A-Za-z0-9._:-]{1,64}. */
int	audit_valid_actor(const char *s);

/* 1 when s is valid UTF-8 of 1..200 characters, with no control characters. */
int	audit_valid_reason(const char *s);

/*
 * The audit.v1 message of e with event_id and ts (wall_ms) as compact JSON; caller
 * frees. NULL when a field is invalid (err says which) or on allocation failure.
 */
char	*audit_event_json(const struct audit_event *e, const char *event_id,
	    int64_t wall_ms, char *err, size_t errlen);

/*
 * Mints an event id (copied to event_id when not NULL), builds the event and produces
 * it to AUDIT_TOPIC on brokers (creating the topic when missing), waiting for the
 * delivery report (about 15 s at most). Returns 0 once Kafka has acknowledged it, -1
 * with the reason on errout.
 */
int	audit_send(const char *brokers, const struct audit_event *e,
	    char event_id[GK_ID_LEN], FILE *errout);

#endif
