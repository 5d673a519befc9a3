/*
 * record: what a ledger record says about a passage decision or an operator's action,
 * as docs/ledger.md defines it; pure (no I/O), so the mapping is unit-tested with
 * hand-written expectations and the daemon only feeds it.
 *
 * Two steps, because a passage may have to wait for its evidence images:
 * record_from_message() checks a consumed message (passage-decision.v1 or audit.v1,
 * told apart by "schema") and extracts what the writer needs before deciding (event
 * id, site, time, plate and colour for the registry lookup, the evidence hashes);
 * record_finish() then builds the record's fields, evidence (each marked stored or
 * missing), registry and event members, enriched from the vehicle's registry row.
 * record_item() points a struct ledger_item (store.h) at the result.
 */
#ifndef LEDGER_RECORD_H
#define LEDGER_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

#define RECORD_MAX_EVIDENCE	32

/* Where the message was read: the record's "source". */
struct record_source {
	const char	*topic;
	int		 partition;
	int64_t		 offset;
};

/*
 * The PostgreSQL vehicle row of (plate, colour) at record time; a NULL string is an
 * absent column. found = 0: no row (nothing is added, registry member left out).
 */
struct record_registry {
	int		 found;
	long long	 version;
	const char	*plate_kind;
	const char	*vehicle_model;
	const char	*engine_no;
	const char	*use_nature;
	const char	*owner_name;
	const char	*nrmm_reg_code;
	const char	*nrmm_produced_on;
	const char	*nrmm_pin;
	const char	*nrmm_machine_type;
};

struct record_evidence {
	char		 hex[65];	/* lower-case SHA-256 */
	uint8_t		 sha256[32];
	char		 role[33];
	int		 stored;	/* set by the caller before record_finish() */
};

struct record {
	const char		*kind;		/* "passage" or "audit" (static) */
	const char		*ledger;	/* passage: transport/fleet/machinery */
	char			 event_id[37];
	char			 site[33];
	char			 event_ts[48];
	char			 lane[33];	/* passage */
	char			 plate[64];	/* passage */
	char			 colour[16];	/* passage */
	size_t			 nevidence;
	struct record_evidence	 evidence[RECORD_MAX_EVIDENCE];
	/* Built by record_finish(); owned (json_decref'd by record_clear()). */
	json_t			*event;		/* the message, verbatim */
	json_t			*source;
	json_t			*fields;
	json_t			*evidence_json;
	json_t			*registry;
};

/*
 * Checks msg (a parsed message from src) and fills r's identity, plate and evidence
 * list; takes a reference to msg. Returns 0, or -1 with err saying what is wrong
 * (unknown schema, missing or malformed member): the message is then a reject.
 */
int	record_from_message(const struct record_source *src, json_t *msg,
	    struct record *r, char *err, size_t errlen);

/*
 * Builds fields, evidence, registry and source from r (its evidence[].stored set by
 * the caller) and reg (NULL or found = 0: no registry row). Returns 0, or -1 (out of
 * memory).
 */
int	record_finish(struct record *r, const struct record_registry *reg);

/* Points it at r (valid while r lives); it's outputs are cleared. */
void	record_item(const struct record *r, struct ledger_item *it);

/* Frees what r holds and zeroes it. */
void	record_clear(struct record *r);

/* Parses 64 lower-case hex digits into 32 bytes. 0 or -1. */
int	record_hex_sha256(const char *hex, uint8_t out[32]);

#endif
