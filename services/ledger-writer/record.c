/*
 * record: passage decisions and audit events mapped to ledger records (record.h,
 * docs/ledger.md). Checks are what the record needs, not a full schema validation:
 * an extra member a newer producer adds is kept in "event" verbatim rather than
 * turning a good passage into a reject; a missing or malformed member the record is
 * built from makes the message a reject (kept, never dropped, by the daemon).
 */
#include <stdio.h>
#include <string.h>

#include "gatekit/json.h"
#include "gatekit/util.h"

#include "record.h"

int
record_hex_sha256(const char *hex, uint8_t out[32])
{
	size_t	i;
	int	hi, lo;

	if (hex == NULL || strlen(hex) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		hi = hex[2 * i];
		lo = hex[2 * i + 1];
		hi = hi >= '0' && hi <= '9' ? hi - '0' : hi >= 'a' && hi <= 'f' ?
		    hi - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' : lo >= 'a' && lo <= 'f' ?
		    lo - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* A required string member into buf (non-empty, fits). */
static int
want_str(const json_t *o, const char *key, char *buf, size_t len, char *err,
    size_t errlen)
{
	const char	*s;

	if (gk_json_get_str(o, key, &s) != GK_JSON_OK || *s == '\0') {
		gk_errf(err, errlen, "%s: missing or not a string", key);
		return -1;
	}
	if (gk_strlcpy(buf, s, len) >= len) {
		gk_errf(err, errlen, "%s: too long", key);
		return -1;
	}
	return 0;
}

static int
common(json_t *msg, const char *tskey, struct record *r, char *err, size_t errlen)
{
	int64_t	ms;

	if (want_str(msg, "event_id", r->event_id, sizeof(r->event_id), err,
	    errlen) == -1 || want_str(msg, "site", r->site, sizeof(r->site), err,
	    errlen) == -1 || want_str(msg, tskey, r->event_ts, sizeof(r->event_ts),
	    err, errlen) == -1)
		return -1;
	if (!gk_id_canonical(r->event_id)) {
		gk_errf(err, errlen, "event_id: not a canonical UUID");
		return -1;
	}
	if (gk_ts_parse(r->event_ts, &ms) == -1) {
		gk_errf(err, errlen, "%s: not an RFC 3339 time", tskey);
		return -1;
	}
	return 0;
}

static int
role_valid(const char *s)
{
	size_t	i, n = strlen(s);

	if (n < 1 || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_'))
			return 0;
	return 1;
}

static int
passage(json_t *msg, struct record *r, char *err, size_t errlen)
{
	const char	*cat = NULL, *dir;
	json_t		*v, *ev, *e;
	size_t		 i;

	if (common(msg, "ts_decided", r, err, errlen) == -1 ||
	    want_str(msg, "lane", r->lane, sizeof(r->lane), err, errlen) == -1 ||
	    want_str(msg, "plate", r->plate, sizeof(r->plate), err, errlen) == -1 ||
	    want_str(msg, "colour", r->colour, sizeof(r->colour), err, errlen) == -1)
		return -1;
	if (gk_json_get_str(msg, "direction", &dir) != GK_JSON_OK ||
	    (strcmp(dir, "in") != 0 && strcmp(dir, "out") != 0)) {
		gk_errf(err, errlen, "direction: not in or out");
		return -1;
	}
	if (gk_json_get_str(msg, "result", &dir) != GK_JSON_OK) {
		gk_errf(err, errlen, "result: missing");
		return -1;
	}
	v = json_object_get(msg, "vehicle");
	if (v != NULL && !json_is_object(v)) {
		gk_errf(err, errlen, "vehicle: not an object");
		return -1;
	}
	(void)gk_json_get_str(v, "category", &cat);
	r->ledger = cat == NULL || strcmp(cat, "external") == 0 ? "transport" :
	    strcmp(cat, "own_fleet") == 0 ? "fleet" :
	    strcmp(cat, "nrmm") == 0 ? "machinery" : NULL;
	if (r->ledger == NULL) {
		gk_errf(err, errlen, "vehicle.category: unknown '%s'", cat);
		return -1;
	}
	ev = json_object_get(msg, "evidence");
	if (ev == NULL)
		return 0;
	if (!json_is_array(ev) || json_array_size(ev) > RECORD_MAX_EVIDENCE) {
		gk_errf(err, errlen, "evidence: not an array of at most %d",
		    RECORD_MAX_EVIDENCE);
		return -1;
	}
	json_array_foreach(ev, i, e) {
		struct record_evidence	*re = &r->evidence[r->nevidence];
		const char		*h, *role = "plate_frame";

		if (gk_json_get_str(e, "sha256", &h) != GK_JSON_OK ||
		    record_hex_sha256(h, re->sha256) == -1) {
			gk_errf(err, errlen, "evidence[%zu].sha256: not 64 lower-case "
			    "hex digits", i);
			return -1;
		}
		if (json_object_get(e, "role") != NULL &&
		    (gk_json_get_str(e, "role", &role) != GK_JSON_OK ||
		    !role_valid(role))) {
			gk_errf(err, errlen, "evidence[%zu].role: not a short "
			    "lower-case word", i);
			return -1;
		}
		memcpy(re->hex, h, 64);
		re->hex[64] = '\0';
		gk_strlcpy(re->role, role, sizeof(re->role));
		r->nevidence++;
	}
	return 0;
}

static int
audit(json_t *msg, struct record *r, char *err, size_t errlen)
{
	json_t		*actor;
	const char	*s;

	if (common(msg, "ts", r, err, errlen) == -1)
		return -1;
	actor = json_object_get(msg, "actor");
	if (!json_is_object(actor) || gk_json_get_str(actor, "id", &s) != GK_JSON_OK) {
		gk_errf(err, errlen, "actor: not an object with an id");
		return -1;
	}
	if (gk_json_get_str(msg, "action", &s) != GK_JSON_OK ||
	    gk_json_get_str(msg, "reason", &s) != GK_JSON_OK) {
		gk_errf(err, errlen, "action or reason: missing");
		return -1;
	}
	return 0;
}

int
record_from_message(const struct record_source *src, json_t *msg, struct record *r,
    char *err, size_t errlen)
{
	const char	*schema;
	int		 rc;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(msg) || gk_json_get_str(msg, "schema", &schema) !=
	    GK_JSON_OK) {
		gk_errf(err, errlen, "schema: missing");
		return -1;
	}
	if (strcmp(schema, "ecogate.passage-decision.v1") == 0) {
		r->kind = "passage";
		rc = passage(msg, r, err, errlen);
	} else if (strcmp(schema, "ecogate.audit.v1") == 0) {
		r->kind = "audit";
		rc = audit(msg, r, err, errlen);
	} else {
		gk_errf(err, errlen, "schema: '%s' is not a ledger message", schema);
		rc = -1;
	}
	if (rc == -1) {
		memset(r, 0, sizeof(*r));
		return -1;
	}
	r->event = json_incref(msg);
	r->source = json_pack("{s:s, s:i, s:I}", "topic", src->topic, "partition",
	    src->partition, "offset", (json_int_t)src->offset);
	if (r->source == NULL) {
		record_clear(r);
		gk_errf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Copies member key of from (when present and not null) as name into to. */
static int
copy(json_t *to, const char *name, const json_t *from, const char *key)
{
	json_t	*v = json_object_get(from, key);

	if (v == NULL || json_is_null(v))
		return 0;
	return json_object_set(to, name, v);
}

static int
set_str(json_t *to, const char *name, const char *s)
{
	if (s == NULL)
		return 0;
	return json_object_set_new(to, name, json_string(s));
}

static int
passage_fields(struct record *r, const struct record_registry *reg, json_t *f)
{
	json_t	*m = r->event, *v = json_object_get(m, "vehicle");
	json_t	*rg = json_object_get(m, "registry"), *photos;
	int	 bad = 0;
	size_t	 i;

	bad |= set_str(f, "time", r->event_ts);
	bad |= copy(f, "direction", m, "direction");
	bad |= set_str(f, "lane", r->lane);
	bad |= set_str(f, "plate", r->plate);
	bad |= set_str(f, "plate_colour", r->colour);
	bad |= copy(f, "vehicle_type", v, "vehicle_type");
	bad |= copy(f, "vin", v, "vin");
	bad |= copy(f, "registration_date", v, "registration_date");
	bad |= copy(f, "emission_stage", v, "emission_stage");
	bad |= copy(f, "fuel", v, "fuel");
	bad |= copy(f, "fleet", v, "fleet");
	if (reg != NULL && reg->found) {
		bad |= set_str(f, "plate_kind", reg->plate_kind);
		bad |= set_str(f, "vehicle_model", reg->vehicle_model);
		bad |= set_str(f, "engine_no", reg->engine_no);
		bad |= set_str(f, "use_nature", reg->use_nature);
		bad |= set_str(f, "owner", reg->owner_name);
		bad |= set_str(f, "reg_code", reg->nrmm_reg_code);
		bad |= set_str(f, "production_date", reg->nrmm_produced_on);
		bad |= set_str(f, "machine_code", reg->nrmm_pin);
		bad |= set_str(f, "machine_type", reg->nrmm_machine_type);
	}
	if (r->nevidence > 0) {
		if ((photos = json_array()) == NULL)
			return -1;
		for (i = 0; i < r->nevidence; i++)
			bad |= json_array_append_new(photos,
			    json_string(r->evidence[i].hex));
		bad |= json_object_set_new(f, "photos", photos);
	}
	bad |= copy(f, "result", m, "result");
	bad |= copy(f, "reasons", m, "reasons");
	bad |= copy(f, "policy_version", m, "policy_version");
	bad |= copy(f, "alert_level", m, "alert_level");
	bad |= copy(f, "registry_source", rg, "source");
	bad |= copy(f, "registry_age_ms", rg, "age_ms");
	bad |= copy(f, "ts_first_read", m, "ts_first_read");
	bad |= copy(f, "ts_decided", m, "ts_decided");
	return bad ? -1 : 0;
}

int
record_finish(struct record *r, const struct record_registry *reg)
{
	json_t	*e;
	size_t	 i;
	int	 bad = 0;

	json_decref(r->fields);
	json_decref(r->evidence_json);
	json_decref(r->registry);
	r->evidence_json = r->registry = NULL;
	if ((r->fields = json_object()) == NULL)
		return -1;
	if (strcmp(r->kind, "audit") == 0) {
		bad |= set_str(r->fields, "time", r->event_ts);
		bad |= copy(r->fields, "operator", json_object_get(r->event,
		    "actor"), "id");
		bad |= copy(r->fields, "reason", r->event, "reason");
		return bad ? -1 : 0;
	}
	if (passage_fields(r, reg, r->fields) == -1)
		return -1;
	if ((r->evidence_json = json_array()) == NULL)
		return -1;
	for (i = 0; i < r->nevidence; i++) {
		e = json_pack("{s:s, s:s, s:s}", "sha256", r->evidence[i].hex, "role",
		    r->evidence[i].role, "status", r->evidence[i].stored ? "stored" :
		    "missing");
		bad |= json_array_append_new(r->evidence_json, e);
	}
	if (reg != NULL && reg->found)
		r->registry = json_pack("{s:I}", "version", (json_int_t)reg->version);
	return bad ? -1 : 0;
}

void
record_item(const struct record *r, struct ledger_item *it)
{
	memset(it, 0, sizeof(*it));
	it->kind = r->kind;
	it->ledger = r->ledger;
	it->event_id = r->event_id;
	it->event_ts = r->event_ts;
	it->lane = r->lane[0] != '\0' ? r->lane : NULL;
	it->plate = r->plate[0] != '\0' ? r->plate : NULL;
	it->source = r->source;
	it->fields = r->fields;
	it->evidence = r->evidence_json;
	it->registry = r->registry;
	it->event = r->event;
}

void
record_clear(struct record *r)
{
	json_decref(r->event);
	json_decref(r->source);
	json_decref(r->fields);
	json_decref(r->evidence_json);
	json_decref(r->registry);
	memset(r, 0, sizeof(*r));
}
