/*
 * The vehicle registry record as the verifier sees it: one plate and colour, the facts
 * the decision and the ledger need (category, vehicle type, fuel, emission stage and
 * where it came from, 使用性质, fleet, VIN) and the black/white/exemption list entries
 * that name the plate. The record travels as ecogate.vehicle.v1 JSON (see
 * schemas/vehicle.v1.schema.json): cached in Redis under the plate and carried on the
 * compacted Kafka topic ecogate.registry.v1, produced by ecogatectl from PostgreSQL's
 * vehicle and vehicle_list_entry tables (schemas/sql/0001_registry.sql). A record may
 * hold list entries only ("registered": false): a banned carrier need not be
 * registered first.
 *
 * Parsing is strict, because the cache is fed from the network: unknown fields, wrong
 * types, over-long strings and impossible codes are rejected with a message that names
 * the field. Pure: no I/O, no allocation kept, no global state.
 */
#ifndef VERIFIER_REGISTRY_H
#define VERIFIER_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <gatekit/plate.h>

/* Sizes of the fixed fields, NUL included (UTF-8: up to 4 bytes a character). */
#define REGISTRY_PLATE_MAX	(32 * 4 + 1)	/* nrmm 登记编码 up to 32 characters */
#define REGISTRY_TEXT_MAX	(100 * 4 + 1)	/* fleet, owner: 100 characters */
#define REGISTRY_REASON_MAX	(200 * 4 + 1)	/* list reason: 200 characters */
#define REGISTRY_SHORT_MAX	(64 * 4 + 1)	/* model, info_public_no, approval_no */
#define REGISTRY_ENTRIES_MAX	16		/* list entries kept per plate */
#define REGISTRY_DOC_MAX	(64 * 1024)	/* largest vehicle.v1 document read */

enum registry_category {
	REGISTRY_CAT_EXTERNAL = 0,	/* a carrier's vehicle */
	REGISTRY_CAT_OWN_FLEET,		/* 厂内运输车辆 */
	REGISTRY_CAT_NRMM		/* 非道路移动机械 */
};

/* Where the emission stage came from, strongest first (SQL vehicle.emission_source). */
enum registry_stage_source {
	REGISTRY_SRC_STAGE_NONE = 0,	/* no stage recorded */
	REGISTRY_SRC_STAGE_MANIFEST,	/* 随车清单 */
	REGISTRY_SRC_STAGE_LOOKUP,	/* 信息公开 query by VIN */
	REGISTRY_SRC_STAGE_PLATFORM,	/* the regulator's check API */
	REGISTRY_SRC_STAGE_INFERRED	/* 推定 from the registration date */
};

enum registry_list {
	REGISTRY_LIST_BLACK = 0,
	REGISTRY_LIST_WHITE,
	REGISTRY_LIST_EXEMPTION
};

/* Which registry answered a lookup (filled by the I/O shell, carried in decisions). */
enum registry_source {
	REGISTRY_FROM_REDIS = 0,
	REGISTRY_FROM_SNAPSHOT,
	REGISTRY_FROM_NONE
};

/* One black/white/exemption list entry. Times are Unix epoch milliseconds. */
struct registry_entry {
	enum registry_list	 list;
	char			 reason[REGISTRY_REASON_MAX];
	char			 exemption_kind[24];	/* "" unless an exemption */
	char			 approval_no[REGISTRY_SHORT_MAX];
	int64_t			 valid_from_ms;
	int64_t			 valid_to_ms;		/* 0: open-ended */
};

/*
 * A vehicle record. Absent optional text fields are ""; absent one-character codes
 * are 0. emission_stage is '0'..'6', 'D', 'X', or 0 when unknown.
 */
struct vehicle {
	char			 plate[REGISTRY_PLATE_MAX];
	enum gk_plate_colour	 colour;
	int			 registered;	/* 0: list entries only */
	char			 plate_kind[3];
	enum registry_category	 category;
	char			 vin[18];
	char			 engine_no[33 * 4];
	char			 registration_date[11];	/* yyyy-mm-dd */
	char			 vehicle_type[4];	/* "H11" */
	char			 vehicle_model[REGISTRY_SHORT_MAX];
	char			 fuel;			/* 'A'..'Z' code */
	char			 emission_stage;
	enum registry_stage_source stage_source;
	char			 info_public_no[REGISTRY_SHORT_MAX];
	char			 use_nature;		/* 'A'..'Z' */
	char			 fleet[REGISTRY_TEXT_MAX];
	char			 owner[REGISTRY_TEXT_MAX];
	int64_t			 version;
	int			 nentries;
	struct registry_entry	 entries[REGISTRY_ENTRIES_MAX];
};

/*
 * Parses a vehicle.v1 document (len bytes at buf, not necessarily NUL-terminated)
 * into *v. Returns 0, or -1 with err naming the field and the problem (e.g.
 * "emission_stage: \"7\" is not one of 0-6, D, X"); *v is then unspecified.
 */
int	registry_parse(const char *buf, size_t len, struct vehicle *v, char *err,
	    size_t errlen);

/*
 * The entry of list that is in force at now_ms (valid_from <= now < valid_to), the
 * first one in record order, or NULL. Borrowed from v.
 */
const struct registry_entry *registry_active(const struct vehicle *v,
	    enum registry_list list, int64_t now_ms);

/*
 * Returns 1 when v has an entry of list that is not in force at now_ms (expired or
 * not yet valid), else 0: decisions mention an expired exemption.
 */
int	registry_has_inactive(const struct vehicle *v, enum registry_list list,
	    int64_t now_ms);

/* Names: "external"/"own_fleet"/"nrmm"; "redis"/"snapshot"/"none"; "?" out of range. */
const char *registry_category_name(enum registry_category c);
const char *registry_source_name(enum registry_source s);

/* The canonical colour as the schemas spell it ("yellow_green"; NONE is "other"). */
const char *registry_colour_name(enum gk_plate_colour c);

/* Parses a schema colour name ("blue", "yellow_green", "unknown"). 0 or -1. */
int	registry_colour_parse(const char *s, enum gk_plate_colour *c);

#endif
