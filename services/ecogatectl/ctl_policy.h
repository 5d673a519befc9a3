/*
 * ctl_policy: `ecogatectl policy show|load|set-alert|publish`, the operator's hands on
 * the admission policy (services/verifier/policy.h says what a policy is). PostgreSQL
 * keeps every version (schemas/sql/0002_policy.sql, table policy_version: the current
 * policy of a site is its newest row); the verifiers take the current one from the
 * retained MQTT message ecogate/v1/{site}/config/policy.
 *
 * A document is validated with the verifier's own parser (policy_parse), so what the
 * tool accepts is exactly what the verifier will accept. A change runs in this order
 * (the "no unaudited change" rule of audit.h):
 *   1. validate; open a transaction, take the site's policy lock, check the version
 *      (a version already stored with other content is refused);
 *   2. insert the new row;
 *   3. produce the audit event to Kafka and await its delivery report: when Kafka is
 *      away the transaction is rolled back and nothing changed;
 *   4. commit;
 *   5. publish the document retained, QoS 1, and await the PUBACK. When the broker is
 *      away the new version is stored but not in force at the gates: the command
 *      says so and fails, and `policy publish` sends the current version again.
 *
 * The pure helpers (default document, level change, version names) are separate so
 * tests/policy checks them without servers.
 */
#ifndef ECOGATECTL_CTL_POLICY_H
#define ECOGATECTL_CTL_POLICY_H

#include <stdint.h>
#include <stdio.h>

#include "policy.h"	/* services/verifier: struct policy, enum policy_level */

struct gk_db;

/* Where a policy goes and who changes it; strings borrowed. */
struct ctl_policy_ctx {
	struct gk_db	*db;
	const char	*site;		/* topic id */
	const char	*brokers;	/* Kafka, for the audit event */
	const char	*mqtt_url;	/* where the retained policy goes */
	const char	*operator_name;	/* NULL: refused for changes */
	const char	*reason;	/* NULL: refused for changes */
	FILE		*out;
	FILE		*errout;
};

/* Pure. */

/*
 * The policy.v1 document of *p as compact JSON (lanes and alert_reason included when
 * present in p; alert_reason NULL: none). Caller frees; NULL on allocation failure.
 */
char	*ctl_policy_to_json(const struct policy *p, const char *alert_reason);

/*
 * doc (a valid policy.v1 document) with alert_level set to level, version to version
 * and alert_reason to reason, as compact JSON; caller frees. NULL with err when doc
 * is not valid or the result would not be (e.g. version too long).
 */
char	*ctl_policy_with_level(const char *doc, enum policy_level level,
	    const char *version, const char *reason, char *err, size_t errlen);

/*
 * A fresh version name for a policy made by the tool at wall_ms with level:
 * "2026-11-28T12:00:00.123Z-orange". Returns 0, -1 when len is too small.
 */
int	ctl_policy_version_name(int64_t wall_ms, enum policy_level level, char *buf,
	    size_t len);

/* How a stored version compares with a document about to be loaded. */
enum ctl_policy_fate {
	CTL_POLICY_NEW = 0,	/* version unknown: store it */
	CTL_POLICY_CURRENT,	/* same version and content, already in force: no-op */
	CTL_POLICY_OLD,		/* same version and content, but not the newest: refuse */
	CTL_POLICY_CONFLICT	/* same version, other content: refuse */
};

/*
 * exists: a row with this version exists; same: its content equals the document;
 * current: it is the site's newest row.
 */
enum ctl_policy_fate ctl_policy_fate(int exists, int same, int current);

/* I/O: each returns a <sysexits.h> code and says what happened on out / errout. */

/*
 * Prints the site's current policy (or the built-in default when none is stored):
 * readable, or with json 1 the document as one line.
 */
int	ctl_policy_show(const struct ctl_policy_ctx *c, int json);

/*
 * Loads the policy.v1 document in file path. EX_DATAERR when it does not validate
 * (the field named on errout; nothing stored or published) or its version is taken,
 * EX_NOINPUT for an unreadable file, EX_UNAVAILABLE when a server is away.
 */
int	ctl_policy_load(const struct ctl_policy_ctx *c, const char *path);

/*
 * Makes a new version of the current policy with the alert level changed (level as
 * policy_level_parse() reads it: English or 蓝/黄/橙/红). EX_USAGE for a bad level.
 */
int	ctl_policy_set_alert(const struct ctl_policy_ctx *c, const char *level);

/* Publishes the site's current stored policy again (retained). EX_NOINPUT: none. */
int	ctl_policy_publish(const struct ctl_policy_ctx *c);

#endif
