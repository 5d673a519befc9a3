/*
 * Strict reader of the vehicle.v1 registry record (see registry.h). The rules mirror
 * schemas/vehicle.v1.schema.json and the CHECK constraints of the vehicle and
 * vehicle_list_entry tables, so a record the cache holds is one PostgreSQL could hold.
 */
#include <stdio.h>
#include <string.h>

#include <gatekit/json.h>
#include <gatekit/util.h>

#include "registry.h"

static const char *const category_names[] = {
	[REGISTRY_CAT_EXTERNAL] = "external",
	[REGISTRY_CAT_OWN_FLEET] = "own_fleet",
	[REGISTRY_CAT_NRMM] = "nrmm",
};

static const char *const source_names[] = {
	[REGISTRY_FROM_REDIS] = "redis",
	[REGISTRY_FROM_SNAPSHOT] = "snapshot",
	[REGISTRY_FROM_NONE] = "none",
};

/* Schema spelling of each canonical colour. */
static const char *const colour_names[] = {
	[GK_PLATE_COLOUR_UNKNOWN] = "unknown",
	[GK_PLATE_COLOUR_BLUE] = "blue",
	[GK_PLATE_COLOUR_YELLOW] = "yellow",
	[GK_PLATE_COLOUR_BLACK] = "black",
	[GK_PLATE_COLOUR_WHITE] = "white",
	[GK_PLATE_COLOUR_GREEN] = "green",
	[GK_PLATE_COLOUR_YELLOW_GREEN] = "yellow_green",
	[GK_PLATE_COLOUR_OTHER] = "other",
	[GK_PLATE_COLOUR_NONE] = "other",
};

static const char *const stage_source_names[] = {
	[REGISTRY_SRC_STAGE_NONE] = "",
	[REGISTRY_SRC_STAGE_MANIFEST] = "manifest",
	[REGISTRY_SRC_STAGE_LOOKUP] = "lookup",
	[REGISTRY_SRC_STAGE_PLATFORM] = "platform",
	[REGISTRY_SRC_STAGE_INFERRED] = "inferred",
};

static const char *const list_names[] = {
	[REGISTRY_LIST_BLACK] = "blacklist",
	[REGISTRY_LIST_WHITE] = "whitelist",
	[REGISTRY_LIST_EXEMPTION] = "exemption",
};

static const char *const exemption_kinds[] = {
	"emergency_transport", "livelihood", "special", "hazardous", "other",
};

static const char *const vehicle_keys[] = {
	"schema", "plate", "colour", "registered", "version", "plate_kind",
	"category", "vin", "engine_no", "registration_date", "vehicle_type",
	"vehicle_model", "fuel", "emission_stage", "emission_source",
	"info_public_no", "use_nature", "fleet", "owner", "lists",
};

static const char *const entry_keys[] = {
	"list", "reason", "exemption_kind", "approval_no", "valid_from", "valid_to",
};

const char *
registry_category_name(enum registry_category c)
{
	if ((unsigned)c >= GK_NELEM(category_names))
		return "?";
	return category_names[c];
}

const char *
registry_source_name(enum registry_source s)
{
	if ((unsigned)s >= GK_NELEM(source_names))
		return "?";
	return source_names[s];
}

const char *
registry_colour_name(enum gk_plate_colour c)
{
	if ((unsigned)c >= GK_NELEM(colour_names))
		return "?";
	return colour_names[c];
}

int
registry_colour_parse(const char *s, enum gk_plate_colour *c)
{
	size_t	i;

	/* NONE shares "other" with OTHER; the first match (OTHER) wins. */
	for (i = 0; i < GK_NELEM(colour_names); i++)
		if (strcmp(s, colour_names[i]) == 0) {
			*c = (enum gk_plate_colour)i;
			return 0;
		}
	return -1;
}

static int
name_index(const char *s, const char *const *names, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (names[i][0] != '\0' && strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/* Characters (code points) in valid UTF-8 text. */
static size_t
utf8_chars(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* Every key of obj is one of keys; else names the first stranger in err. */
static int
closed(const json_t *obj, const char *const *keys, size_t nkeys, const char *where,
    char *err, size_t errlen)
{
	const char	*k;
	json_t		*val;

	json_object_foreach((json_t *)(uintptr_t)obj, k, val) {
		(void)val;
		if (name_index(k, keys, nkeys) == -1) {
			gk_errf(err, errlen, "%s%s: unknown field", where, k);
			return -1;
		}
	}
	return 0;
}

/*
 * Copies string field key into buf: 1..maxchars characters. Absent is fine unless
 * required (buf is then ""). Returns 0 or -1 with err.
 */
static int
get_text(const json_t *obj, const char *where, const char *key, char *buf,
    size_t len, size_t maxchars, int required, char *err, size_t errlen)
{
	int	rc;
	size_t	n;

	buf[0] = '\0';
	rc = gk_json_get_strbuf(obj, key, buf, len);
	if (rc == GK_JSON_ABSENT && !required)
		return 0;
	if (rc != GK_JSON_OK) {
		gk_errf(err, errlen, "%s%s: %s", where, key, rc == GK_JSON_ABSENT ?
		    "missing" : rc == GK_JSON_TOO_LONG ? "too long" :
		    "not a string");
		return -1;
	}
	n = utf8_chars(buf);
	if (n == 0 || n > maxchars) {
		gk_errf(err, errlen, "%s%s: %zu characters, want 1 to %zu", where,
		    key, n, maxchars);
		return -1;
	}
	return 0;
}

/* A one-character code field: c must be in allowed. Absent leaves *out 0. */
static int
get_code(const json_t *obj, const char *key, const char *allowed, char *out,
    char *err, size_t errlen)
{
	const char	*s;
	int		 rc;

	*out = 0;
	rc = gk_json_get_str(obj, key, &s);
	if (rc == GK_JSON_ABSENT)
		return 0;
	if (rc != GK_JSON_OK || strlen(s) != 1 || strchr(allowed, s[0]) == NULL) {
		gk_errf(err, errlen, "%s: want one of %s", key, allowed);
		return -1;
	}
	*out = s[0];
	return 0;
}

static int
valid_date(const char *s)
{
	int	y, m, d;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t	i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	return 1;
}

static int
valid_vin(const char *s)
{
	size_t	i;

	if (strlen(s) != 17)
		return 0;
	for (i = 0; i < 17; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			continue;
		if (s[i] < 'A' || s[i] > 'Z' || s[i] == 'I' || s[i] == 'O' ||
		    s[i] == 'Q')
			return 0;
	}
	return 1;
}

static int
get_time(const json_t *obj, const char *where, const char *key, int64_t *ms,
    int required, char *err, size_t errlen)
{
	const char	*s;
	int		 rc;

	*ms = 0;
	rc = gk_json_get_str(obj, key, &s);
	if (rc == GK_JSON_ABSENT && !required)
		return 0;
	if (rc != GK_JSON_OK || gk_ts_parse(s, ms) == -1) {
		gk_errf(err, errlen, "%s%s: %s", where, key, rc == GK_JSON_ABSENT ?
		    "missing" : "not an RFC 3339 time");
		return -1;
	}
	return 0;
}

static int
parse_entry(const json_t *e, size_t idx, struct registry_entry *re, char *err,
    size_t errlen)
{
	char		 where[32];
	const char	*s;
	int		 i;

	snprintf(where, sizeof(where), "lists[%zu].", idx);
	if (!json_is_object(e)) {
		gk_errf(err, errlen, "lists[%zu]: not an object", idx);
		return -1;
	}
	if (closed(e, entry_keys, GK_NELEM(entry_keys), where, err, errlen) == -1)
		return -1;
	if (gk_json_get_str(e, "list", &s) != GK_JSON_OK ||
	    (i = name_index(s, list_names, GK_NELEM(list_names))) == -1) {
		gk_errf(err, errlen, "%slist: want blacklist, whitelist or exemption",
		    where);
		return -1;
	}
	re->list = (enum registry_list)i;
	if (get_text(e, where, "reason", re->reason, sizeof(re->reason), 200, 1,
	    err, errlen) == -1 ||
	    get_text(e, where, "exemption_kind", re->exemption_kind,
	    sizeof(re->exemption_kind), 23, 0, err, errlen) == -1 ||
	    get_text(e, where, "approval_no", re->approval_no,
	    sizeof(re->approval_no), 64, 0, err, errlen) == -1 ||
	    get_time(e, where, "valid_from", &re->valid_from_ms, 1, err,
	    errlen) == -1 ||
	    get_time(e, where, "valid_to", &re->valid_to_ms, 0, err, errlen) == -1)
		return -1;
	if (re->exemption_kind[0] != '\0' && name_index(re->exemption_kind,
	    exemption_kinds, GK_NELEM(exemption_kinds)) == -1) {
		gk_errf(err, errlen, "%sexemption_kind: \"%s\" is not a kind", where,
		    re->exemption_kind);
		return -1;
	}
	/* Policy keys on the kind, so an exemption must say which it is. */
	if (re->list == REGISTRY_LIST_EXEMPTION && re->exemption_kind[0] == '\0') {
		gk_errf(err, errlen, "%sexemption_kind: missing for an exemption",
		    where);
		return -1;
	}
	if (json_object_get(e, "valid_to") != NULL &&
	    re->valid_to_ms <= re->valid_from_ms) {
		gk_errf(err, errlen, "%svalid_to: not after valid_from", where);
		return -1;
	}
	return 0;
}

static int
parse_obj(const json_t *o, struct vehicle *v, char *err, size_t errlen)
{
	const char	*s;
	long long	 ll;
	json_t		*lists, *e;
	size_t		 i;
	int		 k, rc;
	char		 stage;

	memset(v, 0, sizeof(*v));
	if (!json_is_object(o)) {
		gk_errf(err, errlen, "not a JSON object");
		return -1;
	}
	if (closed(o, vehicle_keys, GK_NELEM(vehicle_keys), "", err, errlen) == -1)
		return -1;
	if (gk_json_get_str(o, "schema", &s) != GK_JSON_OK ||
	    strcmp(s, "ecogate.vehicle.v1") != 0) {
		gk_errf(err, errlen, "schema: want \"ecogate.vehicle.v1\"");
		return -1;
	}
	if (get_text(o, "", "plate", v->plate, sizeof(v->plate), 32, 1, err,
	    errlen) == -1)
		return -1;
	for (s = v->plate; *s != '\0'; s++)
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
			gk_errf(err, errlen, "plate: contains white space");
			return -1;
		}
	if (gk_json_get_str(o, "colour", &s) != GK_JSON_OK ||
	    registry_colour_parse(s, &v->colour) == -1 ||
	    v->colour == GK_PLATE_COLOUR_UNKNOWN) {
		gk_errf(err, errlen, "colour: missing or not a plate colour");
		return -1;
	}
	if ((rc = gk_json_get_bool(o, "registered", &v->registered)) != GK_JSON_OK) {
		gk_errf(err, errlen, "registered: %s", gk_json_strerror(rc));
		return -1;
	}
	if ((rc = gk_json_get_int(o, "version", &ll)) != GK_JSON_OK || ll < 0) {
		gk_errf(err, errlen, "version: %s", rc == GK_JSON_OK ? "negative" :
		    gk_json_strerror(rc));
		return -1;
	}
	v->version = ll;

	if (get_text(o, "", "plate_kind", v->plate_kind, sizeof(v->plate_kind), 2, 0,
	    err, errlen) == -1)
		return -1;
	if (v->plate_kind[0] != '\0' && (strlen(v->plate_kind) != 2 ||
	    v->plate_kind[0] < '0' || v->plate_kind[0] > '9' ||
	    v->plate_kind[1] < '0' || v->plate_kind[1] > '9')) {
		gk_errf(err, errlen, "plate_kind: want two digits");
		return -1;
	}
	v->category = REGISTRY_CAT_EXTERNAL;
	rc = gk_json_get_str(o, "category", &s);
	if (rc != GK_JSON_ABSENT) {
		if (rc != GK_JSON_OK || (k = name_index(s, category_names,
		    GK_NELEM(category_names))) == -1) {
			gk_errf(err, errlen,
			    "category: want external, own_fleet or nrmm");
			return -1;
		}
		v->category = (enum registry_category)k;
	}
	/* The gate reads a machine's 登记编码, which may be longer than a plate. */
	if (v->category != REGISTRY_CAT_NRMM && utf8_chars(v->plate) > 10) {
		gk_errf(err, errlen, "plate: more than 10 characters");
		return -1;
	}
	if (get_text(o, "", "vin", v->vin, sizeof(v->vin), 17, 0, err, errlen) == -1)
		return -1;
	if (v->vin[0] != '\0' && !valid_vin(v->vin)) {
		gk_errf(err, errlen,
		    "vin: want 17 digits or capitals without I, O, Q");
		return -1;
	}
	if (get_text(o, "", "engine_no", v->engine_no, sizeof(v->engine_no), 32, 0,
	    err, errlen) == -1 ||
	    get_text(o, "", "registration_date", v->registration_date,
	    sizeof(v->registration_date), 10, 0, err, errlen) == -1)
		return -1;
	if (v->registration_date[0] != '\0' && !valid_date(v->registration_date)) {
		gk_errf(err, errlen, "registration_date: want a yyyy-mm-dd date");
		return -1;
	}
	if (get_text(o, "", "vehicle_type", v->vehicle_type, sizeof(v->vehicle_type),
	    3, 0, err, errlen) == -1)
		return -1;
	if (v->vehicle_type[0] != '\0' && (strlen(v->vehicle_type) != 3 ||
	    v->vehicle_type[0] < 'A' || v->vehicle_type[0] > 'Z' ||
	    v->vehicle_type[1] < '0' || v->vehicle_type[1] > '9' ||
	    v->vehicle_type[2] < '0' || v->vehicle_type[2] > '9')) {
		gk_errf(err, errlen, "vehicle_type: want a capital and two digits");
		return -1;
	}
	if (get_text(o, "", "vehicle_model", v->vehicle_model,
	    sizeof(v->vehicle_model), 64, 0, err, errlen) == -1 ||
	    get_code(o, "fuel", "ABCDEFLMNOYZ", &v->fuel, err, errlen) == -1 ||
	    get_code(o, "emission_stage", "0123456DX", &stage, err, errlen) == -1)
		return -1;
	v->emission_stage = stage;
	rc = gk_json_get_str(o, "emission_source", &s);
	if (rc != GK_JSON_ABSENT) {
		if (rc != GK_JSON_OK || (k = name_index(s, stage_source_names,
		    GK_NELEM(stage_source_names))) == -1) {
			gk_errf(err, errlen, "emission_source: want manifest, lookup, "
			    "platform or inferred");
			return -1;
		}
		v->stage_source = (enum registry_stage_source)k;
	}
	/* A stage without its evidence cannot be defended in an inspection. */
	if (v->emission_stage != 0 && v->stage_source == REGISTRY_SRC_STAGE_NONE) {
		gk_errf(err, errlen, "emission_source: missing for emission_stage");
		return -1;
	}
	if (get_text(o, "", "info_public_no", v->info_public_no,
	    sizeof(v->info_public_no), 64, 0, err, errlen) == -1 ||
	    get_code(o, "use_nature", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", &v->use_nature,
	    err, errlen) == -1 ||
	    get_text(o, "", "fleet", v->fleet, sizeof(v->fleet), 100, 0, err,
	    errlen) == -1 ||
	    get_text(o, "", "owner", v->owner, sizeof(v->owner), 100, 0, err,
	    errlen) == -1)
		return -1;

	lists = json_object_get(o, "lists");
	if (lists == NULL)
		return 0;
	if (!json_is_array(lists)) {
		gk_errf(err, errlen, "lists: not an array");
		return -1;
	}
	if (json_array_size(lists) > REGISTRY_ENTRIES_MAX) {
		gk_errf(err, errlen, "lists: %zu entries, at most %d",
		    json_array_size(lists), REGISTRY_ENTRIES_MAX);
		return -1;
	}
	json_array_foreach(lists, i, e) {
		if (parse_entry(e, i, &v->entries[i], err, errlen) == -1)
			return -1;
		v->nentries++;
	}
	return 0;
}

int
registry_parse(const char *buf, size_t len, struct vehicle *v, char *err,
    size_t errlen)
{
	char	 jerr[160];
	json_t	*o;
	int	 rc;

	o = gk_json_parse(buf, len, REGISTRY_DOC_MAX, jerr, sizeof(jerr));
	if (o == NULL) {
		gk_errf(err, errlen, "not strict JSON: %s", jerr);
		return -1;
	}
	rc = parse_obj(o, v, err, errlen);
	json_decref(o);
	return rc;
}

static int
in_force(const struct registry_entry *e, int64_t now_ms)
{
	return e->valid_from_ms <= now_ms &&
	    (e->valid_to_ms == 0 || now_ms < e->valid_to_ms);
}

const struct registry_entry *
registry_active(const struct vehicle *v, enum registry_list list, int64_t now_ms)
{
	int	i;

	for (i = 0; i < v->nentries; i++)
		if (v->entries[i].list == list && in_force(&v->entries[i], now_ms))
			return &v->entries[i];
	return NULL;
}

int
registry_has_inactive(const struct vehicle *v, enum registry_list list,
    int64_t now_ms)
{
	int	i;

	for (i = 0; i < v->nentries; i++)
		if (v->entries[i].list == list && !in_force(&v->entries[i], now_ms))
			return 1;
	return 0;
}
