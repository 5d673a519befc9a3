/*
 * The admission policy (see policy.h): the built-in default, the strict policy.v1
 * reader, and the pure classification of a registered vehicle into a rule class.
 *
 * The default table follows the common city template of DOMAIN.md §4 (Shanghai's own
 * table is not public): nothing is restricted without an alert or at blue (advisory);
 * at yellow, 国三-and-below heavy and gas trucks stop; at orange and above, 国四 and
 * below heavy trucks (gas included) stop and non-road machinery needs 国三; at red only
 * 国六 heavy trucks enter. New-energy and passenger vehicles are never stopped by
 * stage. It is data a plant replaces with its own policy document, not a rule.
 */
#include <string.h>

#include <gatekit/json.h>
#include <gatekit/util.h>

#include "policy.h"

static const char *const level_names[] = {
	[POLICY_LEVEL_NONE] = "none",
	[POLICY_LEVEL_BLUE] = "blue",
	[POLICY_LEVEL_YELLOW] = "yellow",
	[POLICY_LEVEL_ORANGE] = "orange",
	[POLICY_LEVEL_RED] = "red",
};

static const char *const level_zh[] = {
	[POLICY_LEVEL_NONE] = "无",
	[POLICY_LEVEL_BLUE] = "蓝",
	[POLICY_LEVEL_YELLOW] = "黄",
	[POLICY_LEVEL_ORANGE] = "橙",
	[POLICY_LEVEL_RED] = "红",
};

static const char *const level_display[] = {
	[POLICY_LEVEL_NONE] = "无预警",
	[POLICY_LEVEL_BLUE] = "蓝色预警",
	[POLICY_LEVEL_YELLOW] = "黄色预警",
	[POLICY_LEVEL_ORANGE] = "橙色预警",
	[POLICY_LEVEL_RED] = "红色预警",
};

static const char *const class_names[] = {
	[POLICY_CLASS_HEAVY_DIESEL] = "heavy_diesel",
	[POLICY_CLASS_LIGHT_TRUCK] = "light_truck",
	[POLICY_CLASS_GAS_TRUCK] = "gas_truck",
	[POLICY_CLASS_NEW_ENERGY] = "new_energy",
	[POLICY_CLASS_PASSENGER] = "passenger",
	[POLICY_CLASS_NRMM] = "nrmm",
	[POLICY_CLASS_OWN_FLEET] = "own_fleet",
};

/* Rows: levels none..red; columns: classes in enum order. */
static const char default_table[POLICY_LEVEL_COUNT][POLICY_CLASS_COUNT + 1] = {
	/* heavy light gas nev pass nrmm own */
	{ 'X', 'X', 'X', 'X', 'X', 'X', 'X' },	/* none */
	{ 'X', 'X', 'X', 'X', 'X', 'X', 'X' },	/* blue */
	{ '4', '3', '4', 'X', 'X', '2', '4' },	/* yellow */
	{ '5', '4', '5', 'X', 'X', '3', '5' },	/* orange */
	{ '6', '5', '6', 'X', 'X', '3', '6' },	/* red */
};

static const char *const policy_keys[] = {
	"schema", "version", "alert_level", "alert_reason", "min_stage",
	"unknown_vehicle", "unknown_stage", "review_below_confidence", "lanes",
	"fusion",
};
static const char *const lane_keys[] = { "id", "direction", "check_exit" };
static const char *const fusion_keys[] = {
	"window_ms", "early_close_reads", "early_close_confidence", "hold_ms",
};

const char *
policy_level_name(enum policy_level level)
{
	if ((unsigned)level >= POLICY_LEVEL_COUNT)
		return "?";
	return level_names[level];
}

const char *
policy_level_zh(enum policy_level level)
{
	if ((unsigned)level >= POLICY_LEVEL_COUNT)
		return "?";
	return level_display[level];
}

int
policy_level_parse(const char *s, enum policy_level *level)
{
	size_t	i, n;

	for (i = 0; i < POLICY_LEVEL_COUNT; i++) {
		n = strlen(level_zh[i]);
		if (strcmp(s, level_names[i]) == 0 || strcmp(s, level_zh[i]) == 0 ||
		    (strncmp(s, level_zh[i], n) == 0 && strcmp(s + n, "色") == 0)) {
			*level = (enum policy_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
policy_class_name(enum policy_class c)
{
	if ((unsigned)c >= POLICY_CLASS_COUNT)
		return "?";
	return class_names[c];
}

int
policy_class_parse(const char *s, enum policy_class *c)
{
	size_t	i;

	for (i = 0; i < POLICY_CLASS_COUNT; i++)
		if (strcmp(s, class_names[i]) == 0) {
			*c = (enum policy_class)i;
			return 0;
		}
	return -1;
}

int
policy_stage_rank(char c)
{
	if (c == 'X')
		return 0;
	if (c >= '0' && c <= '6')
		return 1 + (c - '0');
	if (c == 'D')
		return 8;
	return -1;
}

void
policy_default(struct policy *p)
{
	int	l, c;

	memset(p, 0, sizeof(*p));
	gk_strlcpy(p->version, "default", sizeof(p->version));
	p->level = POLICY_LEVEL_NONE;
	for (l = 0; l < POLICY_LEVEL_COUNT; l++)
		for (c = 0; c < POLICY_CLASS_COUNT; c++)
			p->min_stage[l][c] = default_table[l][c];
	p->unknown_vehicle = POLICY_REVIEW;
	p->unknown_stage = POLICY_REVIEW;
	p->review_below = 0.8;
	fuse_params_default(&p->fusion);
}

enum policy_class
policy_classify(const struct vehicle *v, const struct gk_plate_info *plate)
{
	const char	*t = v->vehicle_type;

	if (v->category == REGISTRY_CAT_OWN_FLEET)
		return POLICY_CLASS_OWN_FLEET;
	if (v->category == REGISTRY_CAT_NRMM || t[0] == 'J')
		return POLICY_CLASS_NRMM;
	if (v->fuel == 'C' || v->emission_stage == 'D' ||
	    (plate != NULL && plate->is_new_energy))
		return POLICY_CLASS_NEW_ENERGY;
	if (t[0] == 'K')
		return POLICY_CLASS_PASSENGER;
	if (v->fuel == 'E' || v->fuel == 'F')
		return POLICY_CLASS_GAS_TRUCK;
	if (t[0] == 'H' && (t[1] == '3' || t[1] == '4'))
		return POLICY_CLASS_LIGHT_TRUCK;
	return POLICY_CLASS_HEAVY_DIESEL;
}

const struct policy_lane *
policy_lane(const struct policy *p, const char *id)
{
	int	i;

	for (i = 0; i < p->nlanes; i++)
		if (strcmp(p->lanes[i].id, id) == 0)
			return &p->lanes[i];
	return NULL;
}

/* ---- the policy.v1 reader */

static int
in_list(const char *k, const char *const *keys, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(k, keys[i]) == 0)
			return 1;
	return 0;
}

static int
closed(const json_t *obj, const char *const *keys, size_t n, const char *where,
    char *err, size_t errlen)
{
	const char	*k;
	json_t		*val;

	if (!json_is_object(obj)) {
		gk_errf(err, errlen, "%s: not an object", where);
		return -1;
	}
	json_object_foreach((json_t *)(uintptr_t)obj, k, val) {
		(void)val;
		if (!in_list(k, keys, n)) {
			gk_errf(err, errlen, "%s%s%s: unknown field", where,
			    where[0] != '\0' ? "." : "", k);
			return -1;
		}
	}
	return 0;
}

static size_t
utf8_chars(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* A topic segment: ^[a-z0-9][a-z0-9_-]{0,31}$ */
static int
valid_topic_id(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || n > 32)
		return 0;
	for (i = 0; i < n; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))
			continue;
		if (i > 0 && (s[i] == '_' || s[i] == '-'))
			continue;
		return 0;
	}
	return 1;
}

static int
get_action(const json_t *o, const char *key, enum policy_action *a, char *err,
    size_t errlen)
{
	const char	*s;
	int		 rc;

	rc = gk_json_get_str(o, key, &s);
	if (rc == GK_JSON_ABSENT)
		return 0;
	if (rc == GK_JSON_OK && strcmp(s, "deny") == 0)
		*a = POLICY_DENY;
	else if (rc == GK_JSON_OK && strcmp(s, "review") == 0)
		*a = POLICY_REVIEW;
	else {
		gk_errf(err, errlen, "%s: want \"deny\" or \"review\"", key);
		return -1;
	}
	return 0;
}

static int
get_unit(const json_t *o, const char *where, const char *key, double *d,
    char *err, size_t errlen)
{
	int	rc;

	rc = gk_json_get_double(o, key, d);
	if (rc == GK_JSON_ABSENT)
		return 0;
	if (rc != GK_JSON_OK || !(*d >= 0 && *d <= 1)) {
		gk_errf(err, errlen, "%s%s: want a number from 0 to 1", where, key);
		return -1;
	}
	return 0;
}

static int
get_range(const json_t *o, const char *key, long long lo, long long hi,
    long long *v, char *err, size_t errlen)
{
	int	rc;

	rc = gk_json_get_int(o, key, v);
	if (rc == GK_JSON_ABSENT)
		return 0;
	if (rc != GK_JSON_OK || *v < lo || *v > hi) {
		gk_errf(err, errlen, "fusion.%s: want an integer from %lld to %lld",
		    key, lo, hi);
		return -1;
	}
	return 0;
}

static int
parse_min_stage(const json_t *ms, struct policy *p, char *err, size_t errlen)
{
	const json_t	*row;
	const char	*s;
	int		 l, c;

	if (closed(ms, level_names, POLICY_LEVEL_COUNT, "min_stage", err,
	    errlen) == -1)
		return -1;
	for (l = 0; l < POLICY_LEVEL_COUNT; l++) {
		row = json_object_get(ms, level_names[l]);
		if (row == NULL) {
			gk_errf(err, errlen, "min_stage.%s: missing", level_names[l]);
			return -1;
		}
		if (!json_is_object(row)) {
			gk_errf(err, errlen, "min_stage.%s: not an object",
			    level_names[l]);
			return -1;
		}
		if (closed(row, class_names, POLICY_CLASS_COUNT, "min_stage.x",
		    err, errlen) == -1) {
			gk_errf(err, errlen, "min_stage.%s: unknown vehicle class",
			    level_names[l]);
			return -1;
		}
		for (c = 0; c < POLICY_CLASS_COUNT; c++) {
			if (gk_json_get_str(row, class_names[c], &s) != GK_JSON_OK) {
				gk_errf(err, errlen, "min_stage.%s.%s: missing or "
				    "not a string", level_names[l], class_names[c]);
				return -1;
			}
			if (strlen(s) != 1 || policy_stage_rank(s[0]) == -1) {
				gk_errf(err, errlen, "min_stage.%s.%s: \"%s\" is not "
				    "one of 0-6, D, X", level_names[l],
				    class_names[c], s);
				return -1;
			}
			p->min_stage[l][c] = s[0];
		}
	}
	return 0;
}

static int
parse_lanes(const json_t *lanes, struct policy *p, char *err, size_t errlen)
{
	const json_t	*ln;
	const char	*s;
	size_t		 i;
	int		 j, rc;
	char		 where[32];

	if (!json_is_array(lanes) || json_array_size(lanes) > POLICY_LANES_MAX) {
		gk_errf(err, errlen, "lanes: want an array of at most %d lanes",
		    POLICY_LANES_MAX);
		return -1;
	}
	json_array_foreach(lanes, i, ln) {
		struct policy_lane *pl = &p->lanes[i];

		snprintf(where, sizeof(where), "lanes[%zu]", i);
		if (closed(ln, lane_keys, GK_NELEM(lane_keys), where, err,
		    errlen) == -1)
			return -1;
		if (gk_json_get_str(ln, "id", &s) != GK_JSON_OK ||
		    !valid_topic_id(s)) {
			gk_errf(err, errlen, "%s.id: want a lane id (a-z, 0-9, _, -; "
			    "at most 32)", where);
			return -1;
		}
		gk_strlcpy(pl->id, s, sizeof(pl->id));
		for (j = 0; j < (int)i; j++)
			if (strcmp(p->lanes[j].id, pl->id) == 0) {
				gk_errf(err, errlen, "%s.id: lane \"%s\" twice", where,
				    pl->id);
				return -1;
			}
		if (gk_json_get_str(ln, "direction", &s) != GK_JSON_OK ||
		    (strcmp(s, "in") != 0 && strcmp(s, "out") != 0)) {
			gk_errf(err, errlen, "%s.direction: want \"in\" or \"out\"",
			    where);
			return -1;
		}
		pl->direction = s[0] == 'i' ? POLICY_DIR_IN : POLICY_DIR_OUT;
		pl->check_exit = 0;
		rc = gk_json_get_bool(ln, "check_exit", &pl->check_exit);
		if (rc != GK_JSON_OK && rc != GK_JSON_ABSENT) {
			gk_errf(err, errlen, "%s.check_exit: not a boolean", where);
			return -1;
		}
		p->nlanes++;
	}
	return 0;
}

static int
parse_fusion(const json_t *f, struct fuse_params *fp, char *err, size_t errlen)
{
	long long	 v;

	if (closed(f, fusion_keys, GK_NELEM(fusion_keys), "fusion", err,
	    errlen) == -1)
		return -1;
	v = fp->window_ms;
	if (get_range(f, "window_ms", 50, 10000, &v, err, errlen) == -1)
		return -1;
	fp->window_ms = v;
	v = fp->early_reads;
	if (get_range(f, "early_close_reads", 1, FUSE_READS_MAX, &v, err,
	    errlen) == -1)
		return -1;
	fp->early_reads = (int)v;
	v = fp->hold_ms;
	if (get_range(f, "hold_ms", 0, 600000, &v, err, errlen) == -1)
		return -1;
	fp->hold_ms = v;
	return get_unit(f, "fusion.", "early_close_confidence", &fp->early_conf, err,
	    errlen);
}

static int
parse_doc(const json_t *o, struct policy *p, char *err, size_t errlen)
{
	const char	*s;
	const json_t	*j;
	size_t		 n;
	int		 rc;

	if (closed(o, policy_keys, GK_NELEM(policy_keys), "", err, errlen) == -1)
		return -1;
	if (gk_json_get_str(o, "schema", &s) != GK_JSON_OK ||
	    strcmp(s, "ecogate.policy.v1") != 0) {
		gk_errf(err, errlen, "schema: want \"ecogate.policy.v1\"");
		return -1;
	}
	rc = gk_json_get_strbuf(o, "version", p->version, sizeof(p->version));
	if (rc != GK_JSON_OK || p->version[0] == '\0') {
		gk_errf(err, errlen, "version: %s", rc == GK_JSON_OK ? "empty" :
		    rc == GK_JSON_TOO_LONG ? "more than 64 bytes" :
		    gk_json_strerror(rc));
		return -1;
	}
	if (gk_json_get_str(o, "alert_level", &s) != GK_JSON_OK ||
	    policy_level_parse(s, &p->level) == -1) {
		gk_errf(err, errlen,
		    "alert_level: want none, blue, yellow, orange or red");
		return -1;
	}
	/* The document spells levels in English; Chinese is for operators' input. */
	if (strcmp(s, level_names[p->level]) != 0) {
		gk_errf(err, errlen, "alert_level: \"%s\": write the English name "
		    "(%s)", s, level_names[p->level]);
		return -1;
	}
	rc = gk_json_get_str(o, "alert_reason", &s);
	if (rc == GK_JSON_WRONG_TYPE ||
	    (rc == GK_JSON_OK && ((n = utf8_chars(s)) == 0 || n > 200))) {
		gk_errf(err, errlen, "alert_reason: want 1 to 200 characters");
		return -1;
	}
	if ((j = json_object_get(o, "min_stage")) == NULL) {
		gk_errf(err, errlen, "min_stage: missing");
		return -1;
	}
	if (parse_min_stage(j, p, err, errlen) == -1 ||
	    get_action(o, "unknown_vehicle", &p->unknown_vehicle, err, errlen) == -1 ||
	    get_action(o, "unknown_stage", &p->unknown_stage, err, errlen) == -1 ||
	    get_unit(o, "", "review_below_confidence", &p->review_below, err,
	    errlen) == -1)
		return -1;
	if ((j = json_object_get(o, "lanes")) != NULL &&
	    parse_lanes(j, p, err, errlen) == -1)
		return -1;
	if ((j = json_object_get(o, "fusion")) != NULL &&
	    parse_fusion(j, &p->fusion, err, errlen) == -1)
		return -1;
	return 0;
}

int
policy_parse(const char *buf, size_t len, struct policy *p, char *err,
    size_t errlen)
{
	struct policy	 tmp;
	char		 jerr[160];
	json_t		*o;
	int		 rc;

	o = gk_json_parse(buf, len, POLICY_DOC_MAX, jerr, sizeof(jerr));
	if (o == NULL) {
		gk_errf(err, errlen, "not strict JSON: %s", jerr);
		return -1;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		gk_errf(err, errlen, "not a JSON object");
		return -1;
	}
	/* Optional fields take the default's values; the caller's policy is kept. */
	policy_default(&tmp);
	rc = parse_doc(o, &tmp, err, errlen);
	json_decref(o);
	if (rc == 0)
		*p = tmp;
	return rc;
}
