/*
 * registry: `ecogatectl registry import|get|remove|publish`, the operator's hands on the
 * vehicle registry. PostgreSQL (schemas/sql/0001_registry.sql) is the source of truth;
 * after each commit the vehicles that really changed are published to the compacted
 * Kafka topic ecogate.registry.v1, from which the edges' Redis caches and snapshots
 * are fed: key "PLATE|COLOUR" (colour as stored: blue, yellow_green ...), value the
 * vehicle record as JSON (registry_record_json()), or a tombstone (no value) when the
 * vehicle left the registry. Each record carries the headers "operator" and "reason"
 * when they were given.
 *
 * The record follows schemas/vehicle.v1.schema.json: schema "ecogate.vehicle.v1",
 * plate, colour, registered (true), version, the vehicle's facts under the schema's
 * names (registered_on -> registration_date, fuel_type -> fuel, fleet_name -> fleet,
 * owner_name -> owner; NULL columns are left out) and "lists", the plate's entries in
 * force (at most 16). "version" is the registry version of the newest change the
 * record reflects (the vehicle's or one of its list entries'), so a cache can drop an
 * older record. The NRMM columns, note and the row's times have no place in the schema
 * and are shown by `registry get` only.
 *
 * Import is one transaction for all good rows (a savepoint per row, so a row the
 * database refuses is reported and skipped, not fatal): a crash leaves either the whole
 * import or nothing. Re-importing the same file changes nothing and publishes nothing:
 * an update happens only when a value differs (so version moves only then).
 */
#ifndef ECOGATECTL_REGISTRY_H
#define ECOGATECTL_REGISTRY_H

#include <stdio.h>

struct gk_db;

#define REGISTRY_TOPIC		"ecogate.registry.v1"

/*
 * Who changes the registry, why, and for which site's ledger. import and remove
 * produce an audit.v1 event (actions registry.import, registry.remove; actor
 * operator_name, key site) and await Kafka's acknowledgement before they commit, so
 * no registry change exists without its audit event; without Kafka they change
 * nothing. operator_name must be an audit actor; reason is required for remove and
 * defaults to "import of FILE" for import. publish changes nothing and is not
 * audited.
 */
struct registry_who {
	const char	*operator_name;
	const char	*reason;
	const char	*site;
};

/*
 * Imports the CSV file at path (see registry_csv.h) into db and publishes the changed
 * vehicles to brokers. Bad rows go to errout as "FILE:LINE: ...", the summary to out.
 * Returns a sysexits code: 0 (everything imported and published), EX_DATAERR (bad rows;
 * the good ones were applied and published), EX_NOINPUT/EX_IOERR (file),
 * EX_UNAVAILABLE (database unreachable, nothing changed; or Kafka unreachable after
 * the commit: run `registry publish`), EX_TEMPFAIL (connection lost midway, nothing
 * changed).
 */
int	registry_import(struct gk_db *db, const char *brokers, const char *path,
	    const struct registry_who *who, FILE *out, FILE *errout);

/*
 * Prints the vehicles with plate (all colours, or colour when not NULL): readable
 * text with every column, or when json is 1 one line per vehicle holding the record
 * exactly as published. Returns 0, EX_NOINPUT when there
 * is none, EX_UNAVAILABLE when the database is unreachable.
 */
int	registry_get(struct gk_db *db, const char *plate, const char *colour, int json,
	    FILE *out, FILE *errout);

/*
 * Deletes the vehicle (plate, colour; colour may be NULL when the plate has one
 * colour only) and publishes a tombstone. A vehicle on a list in force is kept unless
 * force is 1, which also ends those entries (valid_to = now). Returns 0, EX_NOINPUT (no
 * such vehicle), EX_USAGE (several colours: give one), EX_DATAERR (listed, no force),
 * EX_UNAVAILABLE.
 */
int	registry_remove(struct gk_db *db, const char *brokers, const char *plate,
	    const char *colour, int force, const struct registry_who *who, FILE *out,
	    FILE *errout);

/*
 * Publishes the current record of every vehicle (plate NULL), or of plate's vehicles,
 * again: for a publish that failed after a commit, or to refill the topic. Returns 0,
 * EX_NOINPUT (no such vehicle) or EX_UNAVAILABLE.
 */
int	registry_publish(struct gk_db *db, const char *brokers, const char *plate,
	    const char *colour, const struct registry_who *who, FILE *out,
	    FILE *errout);

/*
 * Builds the record of (plate, colour) from db into *json (caller frees): the
 * published record, or with full 1 also the columns the schema lacks (nrmm_*, note,
 * created_at, updated_at). Returns 1, 0 when there is no such vehicle, -1 on a
 * database error (logged).
 */
int	registry_record_json(struct gk_db *db, const char *plate, const char *colour,
	    int full, char **json);

#endif
