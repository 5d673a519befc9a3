/*
 * The gate decision and its passage-decision.v1 rendering (see decide.h for the rule
 * table). Kept apart from fusion and the registry reader so that the rules an
 * inspector asks about ("why did this 国四 truck get in on an orange day?") live in one
 * short function.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gatekit/json.h>
#include <gatekit/util.h>

#include "decide.h"

static const char *const result_names[] = {
	[DECIDE_ALLOW] = "allow",
	[DECIDE_DENY] = "deny",
	[DECIDE_REVIEW] = "review",
};

/* passage-decision.v1 spells the stage's basis its own way. */
static const char *const basis_names[] = {
	[REGISTRY_SRC_STAGE_NONE] = NULL,
	[REGISTRY_SRC_STAGE_MANIFEST] = "manifest",
	[REGISTRY_SRC_STAGE_LOOKUP] = "vin_lookup",
	[REGISTRY_SRC_STAGE_PLATFORM] = "platform",
	[REGISTRY_SRC_STAGE_INFERRED] = "registration_date",
};

const char *
decide_result_name(enum decide_result r)
{
	if ((unsigned)r >= GK_NELEM(result_names))
		return "?";
	return result_names[r];
}

const char *
decide_stage_zh(char stage)
{
	static const char *const digits[] = {
		"国零", "国一", "国二", "国三", "国四", "国五", "国六",
	};

	if (stage >= '0' && stage <= '6')
		return digits[stage - '0'];
	if (stage == 'D')
		return "电动";
	if (stage == 'X')
		return "无";
	return "未知";
}

int
decide_has_reason(const struct decision *d, const char *code)
{
	int	i;

	for (i = 0; i < d->nreasons; i++)
		if (strcmp(d->reasons[i], code) == 0)
			return 1;
	return 0;
}

/*
 * dst = a, or a sep b when b is not NULL (truncated to len: our own short strings).
 * Not snprintf: this runs for every passage and the format machinery is most of the
 * cost of a decision.
 */
static void
join(char *dst, size_t len, const char *a, const char *sep, const char *b)
{
	size_t	n;

	n = gk_strlcpy(dst, a, len);
	if (b == NULL || n >= len)
		return;
	n += gk_strlcpy(dst + n, sep, len - n);
	if (n >= len)
		return;
	gk_strlcpy(dst + n, b, len - n);
}

/* Appends a reason code once; codes beyond the limit are dropped (context only). */
static void
reason(struct decision *d, const char *a, const char *b)
{
	char	code[DECIDE_REASON_MAX];

	join(code, sizeof(code), a, ".", b);
	if (d->nreasons == DECIDE_REASONS_MAX || decide_has_reason(d, code))
		return;
	gk_strlcpy(d->reasons[d->nreasons++], code, DECIDE_REASON_MAX);
}

static void
line(struct decision *d, const char *a, const char *b)
{
	if (d->nlines == DECIDE_LINES_MAX)
		return;
	join(d->lines[d->nlines++], DECIDE_LINE_MAX, a, " ", b);
}

static void
copy_facts(struct decide_facts *f, const struct vehicle *v)
{
	f->emission_stage = v->emission_stage;
	f->stage_source = v->stage_source;
	f->fuel = v->fuel;
	gk_strlcpy(f->vehicle_type, v->vehicle_type, sizeof(f->vehicle_type));
	f->category = v->category;
	gk_strlcpy(f->fleet, v->fleet, sizeof(f->fleet));
	gk_strlcpy(f->registration_date, v->registration_date,
	    sizeof(f->registration_date));
	gk_strlcpy(f->vin, v->vin, sizeof(f->vin));
}

/* The rule table of decide.h; sets the result and the primary reason code. */
static void
rules(const struct decide_input *in, const struct policy_lane *lane,
    struct decision *d)
{
	const struct fuse_passage	*ps = in->passage;
	const struct policy		*pol = in->policy;
	const struct vehicle		*v = in->vehicle;
	const struct registry_entry	*e;

	if (d->direction == POLICY_DIR_OUT && !(lane != NULL && lane->check_exit)) {
		d->result = DECIDE_ALLOW;
		reason(d, "exit_lane", NULL);
		return;
	}
	if (!ps->plate_ok) {
		d->result = DECIDE_REVIEW;
		reason(d, "invalid_plate", NULL);
		return;
	}
	if (!(ps->confidence >= pol->review_below)) {	/* NaN too */
		d->result = DECIDE_REVIEW;
		reason(d, "low_confidence", NULL);
		return;
	}
	if (v != NULL && registry_active(v, REGISTRY_LIST_BLACK,
	    in->now_wall_ms) != NULL) {
		d->result = DECIDE_DENY;
		reason(d, "blacklist", NULL);
		return;
	}
	if (v != NULL && registry_active(v, REGISTRY_LIST_WHITE,
	    in->now_wall_ms) != NULL) {
		d->result = DECIDE_ALLOW;
		reason(d, "whitelist", NULL);
		return;
	}
	if (v != NULL && (e = registry_active(v, REGISTRY_LIST_EXEMPTION,
	    in->now_wall_ms)) != NULL) {
		d->result = DECIDE_ALLOW;
		reason(d, "exempt", NULL);
		reason(d, "exempt", e->exemption_kind);
		return;
	}
	if (!d->has_vehicle) {
		d->result = pol->unknown_vehicle == POLICY_DENY ? DECIDE_DENY :
		    DECIDE_REVIEW;
		reason(d, "unknown_vehicle", NULL);
		return;
	}
	if (d->min_stage == 'X') {
		d->result = DECIDE_ALLOW;
		reason(d, "no_restriction", NULL);
		return;
	}
	if (policy_stage_rank(v->emission_stage) == -1) {
		d->result = pol->unknown_stage == POLICY_DENY ? DECIDE_DENY :
		    DECIDE_REVIEW;
		reason(d, "stage_unknown", NULL);
		return;
	}
	if (policy_stage_rank(v->emission_stage) < policy_stage_rank(d->min_stage)) {
		d->result = DECIDE_DENY;
		reason(d, "stage_below_min", NULL);
		return;
	}
	d->result = DECIDE_ALLOW;
	reason(d, "stage_ok", NULL);
}

/* The LED: plate, 排放阶段, 管控状态, and whether to pass. */
static void
display(const struct decide_input *in, struct decision *d)
{
	const char	*verdict, *why = NULL;
	const char	*p = d->reasons[0];

	line(d, d->plate, NULL);
	if (d->has_vehicle)
		line(d, "排放阶段", decide_stage_zh(d->facts.emission_stage));
	else if (in->source == REGISTRY_FROM_NONE)
		line(d, "登记库不可用", NULL);
	else
		line(d, "未登记车辆", NULL);
	line(d, policy_level_zh(d->level), NULL);
	verdict = d->result == DECIDE_ALLOW ? "允许通行" :
	    d->result == DECIDE_DENY ? "禁止通行" : "人工核验";
	if (strcmp(p, "blacklist") == 0)
		why = "黑名单";
	else if (strcmp(p, "whitelist") == 0)
		why = "白名单";
	else if (strcmp(p, "exempt") == 0)
		why = "豁免";
	else if (strcmp(p, "stage_below_min") == 0)
		why = "排放不达标";
	else if (strcmp(p, "low_confidence") == 0 ||
	    strcmp(p, "invalid_plate") == 0)
		why = "车牌待确认";
	line(d, verdict, why);
}

void
decide(const struct decide_input *in, struct decision *d)
{
	const struct fuse_passage	*ps = in->passage;
	const struct policy		*pol = in->policy;
	const struct vehicle		*v = in->vehicle;
	const struct policy_lane	*lane;

	memset(d, 0, sizeof(*d));
	gk_strlcpy(d->plate, ps->plate, sizeof(d->plate));
	d->colour = ps->colour;
	d->confidence = ps->confidence;
	d->level = pol->level;
	gk_strlcpy(d->policy_version, pol->version, sizeof(d->policy_version));
	d->source = in->source;
	d->registry_age_ms = in->registry_age_ms < 0 ? 0 : in->registry_age_ms;
	lane = policy_lane(pol, in->lane != NULL ? in->lane : "");
	d->direction = lane != NULL ? lane->direction : POLICY_DIR_IN;
	if (v != NULL && v->registered) {
		d->has_vehicle = 1;
		copy_facts(&d->facts, v);
		d->has_class = 1;
		d->cls = policy_classify(v, ps->plate_ok ? &ps->info : NULL);
		d->min_stage = pol->min_stage[d->level][d->cls];
	}

	rules(in, lane, d);

	if (v != NULL && !decide_has_reason(d, "exempt") &&
	    !decide_has_reason(d, "whitelist") &&
	    (registry_has_inactive(v, REGISTRY_LIST_EXEMPTION, in->now_wall_ms) ||
	    registry_has_inactive(v, REGISTRY_LIST_WHITE, in->now_wall_ms)))
		reason(d, "exemption_expired", NULL);
	if (lane == NULL)
		reason(d, "lane", "unknown");
	if (d->has_class)
		reason(d, "class", policy_class_name(d->cls));
	reason(d, "alert", policy_level_name(d->level));
	reason(d, "registry", registry_source_name(d->source));
	display(in, d);
}

/* ---- rendering */

static size_t
utf8_chars(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* json_object_set_new that remembers a failure in *bad instead of checking each. */
static void
put(json_t *o, const char *k, json_t *v, int *bad)
{
	if (v == NULL || json_object_set_new(o, k, v) == -1)
		*bad = 1;
}

static json_t *
render_vehicle(const struct decide_facts *f, int *bad)
{
	json_t	*o = json_object();
	char	 c[2] = { 0, 0 };

	if (o == NULL) {
		*bad = 1;
		return NULL;
	}
	if (f->emission_stage != 0) {
		c[0] = f->emission_stage;
		put(o, "emission_stage", json_string(c), bad);
	}
	if ((unsigned)f->stage_source < GK_NELEM(basis_names) &&
	    basis_names[f->stage_source] != NULL)
		put(o, "emission_stage_basis", json_string(basis_names[f->stage_source]),
		    bad);
	if (f->fuel != 0) {
		c[0] = f->fuel;
		put(o, "fuel", json_string(c), bad);
	}
	if (f->vehicle_type[0] != '\0')
		put(o, "vehicle_type", json_string(f->vehicle_type), bad);
	put(o, "category", json_string(registry_category_name(f->category)), bad);
	if (f->fleet[0] != '\0')
		put(o, "fleet", json_string(f->fleet), bad);
	if (f->registration_date[0] != '\0')
		put(o, "registration_date", json_string(f->registration_date), bad);
	if (f->vin[0] != '\0')
		put(o, "vin", json_string(f->vin), bad);
	return o;
}

char *
decide_render(const struct decision *d, const struct fuse_passage *p,
    const char *event_id, const char *site, const char *lane,
    int64_t first_read_ms, int64_t decided_ms, char *err, size_t errlen)
{
	char	 ts1[GK_TS_LEN], ts2[GK_TS_LEN];
	json_t	*o = NULL, *a, *sub;
	char	*s = NULL;
	int	 i, bad = 0;

	if (!gk_id_canonical(event_id)) {
		gk_errf(err, errlen, "event_id: not a lowercase UUID");
		return NULL;
	}
	if (!gk_topic_id_valid(site) || !gk_topic_id_valid(lane)) {
		gk_errf(err, errlen, "site or lane: not a topic id");
		return NULL;
	}
	if (d->plate[0] == '\0' || utf8_chars(d->plate) > 16) {
		gk_errf(err, errlen, "plate: want 1 to 16 characters");
		return NULL;
	}
	if (p->nids < 1 || p->reads < p->nids) {
		gk_errf(err, errlen, "fused: no read ids");
		return NULL;
	}
	for (i = 0; i < p->nids; i++)
		if (!gk_id_canonical(p->read_ids[i])) {
			gk_errf(err, errlen, "fused.read_event_ids[%d]: not a "
			    "lowercase UUID", i);
			return NULL;
		}
	if (gk_ts_format(first_read_ms, ts1, sizeof(ts1)) == -1 ||
	    gk_ts_format(decided_ms, ts2, sizeof(ts2)) == -1) {
		gk_errf(err, errlen, "timestamps out of range");
		return NULL;
	}
	if (d->nreasons < 1 || d->nlines < 1) {
		gk_errf(err, errlen, "decision has no reasons or lines");
		return NULL;
	}

	if ((o = json_object()) == NULL)
		goto fail;
	put(o, "schema", json_string("ecogate.passage-decision.v1"), &bad);
	put(o, "event_id", json_string(event_id), &bad);
	put(o, "site", json_string(site), &bad);
	put(o, "lane", json_string(lane), &bad);
	put(o, "direction", json_string(d->direction == POLICY_DIR_OUT ? "out" :
	    "in"), &bad);
	put(o, "plate", json_string(d->plate), &bad);
	put(o, "colour", json_string(registry_colour_name(d->colour)), &bad);
	put(o, "result", json_string(decide_result_name(d->result)), &bad);
	if ((a = json_array()) == NULL)
		goto fail;
	put(o, "reasons", a, &bad);
	for (i = 0; i < d->nreasons; i++)
		if (json_array_append_new(a, json_string(d->reasons[i])) == -1)
			bad = 1;
	if ((sub = json_object()) == NULL || (a = json_array()) == NULL) {
		json_decref(sub);
		goto fail;
	}
	put(sub, "lines", a, &bad);
	for (i = 0; i < d->nlines; i++)
		if (json_array_append_new(a, json_string(d->lines[i])) == -1)
			bad = 1;
	put(o, "display", sub, &bad);
	if (d->has_vehicle)
		put(o, "vehicle", render_vehicle(&d->facts, &bad), &bad);
	put(o, "alert_level", json_string(policy_level_name(d->level)), &bad);
	put(o, "policy_version", json_string(d->policy_version), &bad);
	if ((sub = json_object()) == NULL)
		goto fail;
	put(sub, "source", json_string(registry_source_name(d->source)), &bad);
	if (d->source != REGISTRY_FROM_NONE)
		put(sub, "age_ms", json_integer(d->registry_age_ms), &bad);
	put(o, "registry", sub, &bad);
	if ((sub = json_object()) == NULL)
		goto fail;
	put(sub, "confidence", json_real(d->confidence < 0 ? 0 :
	    d->confidence > 1 ? 1 : d->confidence), &bad);
	put(sub, "reads", json_integer(p->reads), &bad);
	if ((a = json_array()) == NULL) {
		json_decref(sub);
		goto fail;
	}
	put(sub, "read_event_ids", a, &bad);
	for (i = 0; i < p->nids; i++)
		if (json_array_append_new(a, json_string(p->read_ids[i])) == -1)
			bad = 1;
	put(o, "fused", sub, &bad);
	if (p->nframes > 0) {
		/* The frames the plate was read from, for the ledger's evidence. */
		if ((a = json_array()) == NULL)
			goto fail;
		put(o, "evidence", a, &bad);
		for (i = 0; i < p->nframes; i++)
			if (json_array_append_new(a, json_pack("{s:s, s:s}", "sha256",
			    p->frames[i], "role", "plate_frame")) == -1)
				bad = 1;
	}
	put(o, "ts_first_read", json_string(ts1), &bad);
	put(o, "ts_decided", json_string(ts2), &bad);
	if (bad)
		goto fail;
	/*
	 * Like gk_json_dump_compact(), but with reals to 4 significant digits: 0.95
	 * rather than jansson's default 0.94999999999999996.
	 */
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(4));
	if (s == NULL)
		goto fail;
	json_decref(o);
	return s;
fail:
	json_decref(o);
	gk_errf(err, errlen, "out of memory");
	return NULL;
}
