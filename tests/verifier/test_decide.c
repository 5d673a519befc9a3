/*
 * Tests of the gate decision (services/verifier/decide.c): a scenario table written by
 * hand (whitelist, blacklist, each alert level x vehicle class at and just below the
 * minimum stage, new energy, unknown vehicles to deny or review, unknown stages, low
 * confidence, illegal plates, exit lanes, exemptions in force, expired and not yet
 * valid, NRMM without a stage, own fleet), asserting the result, the primary reason,
 * another code that must be present, and the LED lines. Then decisions are rendered as
 * passage-decision.v1 and validated by python3-jsonschema (tests/schemas/validate_msg.py),
 * an implementation independent of ours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gatekit/json.h>
#include <gatekit/util.h>

#include "decide.h"
#include "t.h"

/* 2026-11-28T12:00:00Z */
#define NOW	1795867200000LL
#define DAY	86400000LL

#define BLUE	GK_PLATE_COLOUR_BLUE
#define YELLOW	GK_PLATE_COLOUR_YELLOW
#define GREEN	GK_PLATE_COLOUR_GREEN
#define YG	GK_PLATE_COLOUR_YELLOW_GREEN

#define EXT	REGISTRY_CAT_EXTERNAL
#define OWN	REGISTRY_CAT_OWN_FLEET
#define NRMM	REGISTRY_CAT_NRMM

#define NOLIST	-1
#define BLACK	REGISTRY_LIST_BLACK
#define WHITE	REGISTRY_LIST_WHITE
#define EXEMPT	REGISTRY_LIST_EXEMPTION

/* The registry as the test knows it. from/to are days relative to NOW; to 0: open. */
struct vfix {
	const char		*plate;
	enum gk_plate_colour	 colour;
	int			 registered;
	enum registry_category	 cat;
	const char		*type;
	char			 fuel;
	char			 stage;
	int			 list;
	int			 from, to;
};

static const struct vfix registry[] = {
	{ "沪A10003", YELLOW, 1, EXT, "H11", 'B', '3', NOLIST, 0, 0 },
	{ "沪A10004", YELLOW, 1, EXT, "H11", 'B', '4', NOLIST, 0, 0 },
	{ "沪A10005", YELLOW, 1, EXT, "H11", 'B', '5', NOLIST, 0, 0 },
	{ "沪A10006", YELLOW, 1, EXT, "Q11", 'B', '6', NOLIST, 0, 0 },
	{ "沪A10000", YELLOW, 1, EXT, "H11", 'B', 0, NOLIST, 0, 0 },
	{ "沪A20003", BLUE, 1, EXT, "H31", 'B', '3', NOLIST, 0, 0 },
	{ "沪A20004", BLUE, 1, EXT, "H31", 'B', '4', NOLIST, 0, 0 },
	{ "沪A20005", BLUE, 1, EXT, "H41", 'A', '5', NOLIST, 0, 0 },
	{ "沪A30004", YELLOW, 1, EXT, "H11", 'E', '4', NOLIST, 0, 0 },
	{ "沪A30005", YELLOW, 1, EXT, "H11", 'E', '5', NOLIST, 0, 0 },
	{ "沪A30006", YELLOW, 1, EXT, "H11", 'F', '6', NOLIST, 0, 0 },
	{ "沪AD12345", GREEN, 1, EXT, "K33", 'C', 'D', NOLIST, 0, 0 },
	{ "沪A12345D", YG, 1, EXT, "H11", 'C', 'D', NOLIST, 0, 0 },
	{ "沪AF54321", GREEN, 1, EXT, "K33", 'O', '6', NOLIST, 0, 0 },
	{ "沪B12345", BLUE, 1, EXT, "K33", 'A', '4', NOLIST, 0, 0 },
	{ "沪B12346", BLUE, 1, EXT, "K33", 'A', 0, NOLIST, 0, 0 },
	{ "沪C00003", YELLOW, 1, NRMM, "J12", 'B', '3', NOLIST, 0, 0 },
	{ "沪C00002", YELLOW, 1, NRMM, "J11", 'B', '2', NOLIST, 0, 0 },
	{ "沪C00009", YELLOW, 1, NRMM, "", 'B', 'X', NOLIST, 0, 0 },
	{ "沪D00005", YELLOW, 1, OWN, "H11", 'B', '5', NOLIST, 0, 0 },
	{ "沪D00006", YELLOW, 1, OWN, "H11", 'B', '6', NOLIST, 0, 0 },
	{ "沪E11111", YELLOW, 1, EXT, "H11", 'B', '6', BLACK, -30, 0 },
	{ "苏E9K321", YELLOW, 0, EXT, "", 0, 0, BLACK, -30, 0 },
	{ "沪E22222", YELLOW, 1, EXT, "H11", 'B', '3', WHITE, -30, 30 },
	{ "沪E33333", YELLOW, 1, EXT, "H11", 'B', '3', EXEMPT, -1, 1 },
	{ "沪E44444", YELLOW, 1, EXT, "H11", 'B', '3', EXEMPT, -30, -1 },
	{ "沪E55555", YELLOW, 1, EXT, "H11", 'B', '3', EXEMPT, 1, 30 },
	{ "沪E66666", YELLOW, 1, EXT, "H11", 'B', '3', BLACK, -30, -2 },
	{ "沪E77777", YELLOW, 0, EXT, "", 0, 0, NOLIST, 0, 0 },
};

#define F_UNKNOWN_DENY	0x01	/* policy: unknown vehicles are denied */
#define F_STAGE_DENY	0x02	/* policy: unknown stages are denied */
#define F_NO_REGISTRY	0x04	/* no registry answered */
#define F_SNAPSHOT	0x08	/* the snapshot answered */

struct scen {
	const char		*lane;
	enum policy_level	 level;
	const char		*plate;
	enum gk_plate_colour	 colour;
	double			 conf;
	int			 flags;
	enum decide_result	 want;
	const char		*reason;	/* primary code */
	const char		*also;		/* another code present, or NULL */
	const char		*line2;		/* LED line 2, or NULL */
	const char		*line4;		/* LED line 4, or NULL */
};

#define NONE	POLICY_LEVEL_NONE
#define BLU	POLICY_LEVEL_BLUE
#define YEL	POLICY_LEVEL_YELLOW
#define ORA	POLICY_LEVEL_ORANGE
#define RED	POLICY_LEVEL_RED
#define ALLOW	DECIDE_ALLOW
#define DENY	DECIDE_DENY
#define REVIEW	DECIDE_REVIEW

static const struct scen table[] = {
	/* heavy diesel: none/blue X, yellow 4, orange 5, red 6 */
	{ "in-1", NONE, "沪A10003", YELLOW, .95, 0, ALLOW, "no_restriction",
	    "class.heavy_diesel", "排放阶段 国三", "允许通行" },
	{ "in-1", BLU, "沪A10003", YELLOW, .95, 0, ALLOW, "no_restriction",
	    "alert.blue", NULL, "允许通行" },
	{ "in-1", YEL, "沪A10003", YELLOW, .95, 0, DENY, "stage_below_min",
	    "alert.yellow", "排放阶段 国三", "禁止通行 排放不达标" },
	{ "in-1", YEL, "沪A10004", YELLOW, .95, 0, ALLOW, "stage_ok", NULL,
	    "排放阶段 国四", "允许通行" },
	{ "in-1", ORA, "沪A10004", YELLOW, .95, 0, DENY, "stage_below_min",
	    "class.heavy_diesel", "排放阶段 国四", "禁止通行 排放不达标" },
	{ "in-1", ORA, "沪A10005", YELLOW, .95, 0, ALLOW, "stage_ok", NULL,
	    "排放阶段 国五", "允许通行" },
	{ "in-1", RED, "沪A10005", YELLOW, .95, 0, DENY, "stage_below_min",
	    "alert.red", NULL, "禁止通行 排放不达标" },
	{ "in-1", RED, "沪A10006", YELLOW, .95, 0, ALLOW, "stage_ok",
	    "class.heavy_diesel", "排放阶段 国六", "允许通行" },
	/* light truck: yellow 3, orange 4, red 5 */
	{ "in-1", YEL, "沪A20003", BLUE, .95, 0, ALLOW, "stage_ok",
	    "class.light_truck", NULL, NULL },
	{ "in-1", ORA, "沪A20003", BLUE, .95, 0, DENY, "stage_below_min",
	    "class.light_truck", NULL, NULL },
	{ "in-1", ORA, "沪A20004", BLUE, .95, 0, ALLOW, "stage_ok", NULL, NULL,
	    NULL },
	{ "in-1", RED, "沪A20004", BLUE, .95, 0, DENY, "stage_below_min", NULL,
	    NULL, NULL },
	{ "in-1", RED, "沪A20005", BLUE, .95, 0, ALLOW, "stage_ok",
	    "class.light_truck", NULL, NULL },
	/* gas truck: yellow 4, orange 5, red 6 */
	{ "in-1", YEL, "沪A30004", YELLOW, .95, 0, ALLOW, "stage_ok",
	    "class.gas_truck", NULL, NULL },
	{ "in-1", ORA, "沪A30004", YELLOW, .95, 0, DENY, "stage_below_min",
	    "class.gas_truck", NULL, NULL },
	{ "in-1", ORA, "沪A30005", YELLOW, .95, 0, ALLOW, "stage_ok", NULL, NULL,
	    NULL },
	{ "in-1", RED, "沪A30005", YELLOW, .95, 0, DENY, "stage_below_min", NULL,
	    NULL, NULL },
	{ "in-1", RED, "沪A30006", YELLOW, .95, 0, ALLOW, "stage_ok",
	    "class.gas_truck", NULL, NULL },
	/* new energy: never stopped by stage */
	{ "in-1", RED, "沪AD12345", GREEN, .95, 0, ALLOW, "no_restriction",
	    "class.new_energy", "排放阶段 电动", "允许通行" },
	{ "in-1", RED, "沪A12345D", YG, .95, 0, ALLOW, "no_restriction",
	    "class.new_energy", "排放阶段 电动", NULL },
	{ "in-1", RED, "沪AF54321", GREEN, .95, 0, ALLOW, "no_restriction",
	    "class.new_energy", "排放阶段 国六", NULL },
	/* passenger */
	{ "in-1", RED, "沪B12345", BLUE, .95, 0, ALLOW, "no_restriction",
	    "class.passenger", NULL, NULL },
	{ "in-1", RED, "沪B12346", BLUE, .95, 0, ALLOW, "no_restriction",
	    "class.passenger", "排放阶段 未知", NULL },
	/* NRMM: yellow 2, orange 3, red 3; X is below every stage */
	{ "in-1", ORA, "沪C00003", YELLOW, .95, 0, ALLOW, "stage_ok",
	    "class.nrmm", NULL, NULL },
	{ "in-1", ORA, "沪C00002", YELLOW, .95, 0, DENY, "stage_below_min",
	    "class.nrmm", "排放阶段 国二", NULL },
	{ "in-1", YEL, "沪C00002", YELLOW, .95, 0, ALLOW, "stage_ok", NULL, NULL,
	    NULL },
	{ "in-1", ORA, "沪C00009", YELLOW, .95, 0, DENY, "stage_below_min",
	    "class.nrmm", "排放阶段 无", "禁止通行 排放不达标" },
	{ "in-1", NONE, "沪C00009", YELLOW, .95, 0, ALLOW, "no_restriction",
	    "class.nrmm", NULL, NULL },
	/* own fleet: yellow 4, orange 5, red 6 */
	{ "in-1", RED, "沪D00005", YELLOW, .95, 0, DENY, "stage_below_min",
	    "class.own_fleet", NULL, NULL },
	{ "in-1", RED, "沪D00006", YELLOW, .95, 0, ALLOW, "stage_ok",
	    "class.own_fleet", NULL, NULL },
	{ "in-1", ORA, "沪D00005", YELLOW, .95, 0, ALLOW, "stage_ok", NULL, NULL,
	    NULL },
	/* unknown vehicles */
	{ "in-1", ORA, "沪F99999", YELLOW, .95, 0, REVIEW, "unknown_vehicle",
	    "registry.redis", "未登记车辆", "人工核验" },
	{ "in-1", ORA, "沪F99999", YELLOW, .95, F_UNKNOWN_DENY, DENY,
	    "unknown_vehicle", NULL, "未登记车辆", "禁止通行" },
	{ "in-1", NONE, "沪F99999", YELLOW, .95, F_NO_REGISTRY, REVIEW,
	    "unknown_vehicle", "registry.none", "登记库不可用", "人工核验" },
	{ "in-1", ORA, "沪E77777", YELLOW, .95, 0, REVIEW, "unknown_vehicle",
	    NULL, "未登记车辆", NULL },
	/* stage not recorded */
	{ "in-1", ORA, "沪A10000", YELLOW, .95, 0, REVIEW, "stage_unknown",
	    "class.heavy_diesel", "排放阶段 未知", "人工核验" },
	{ "in-1", ORA, "沪A10000", YELLOW, .95, F_STAGE_DENY, DENY,
	    "stage_unknown", NULL, NULL, "禁止通行" },
	{ "in-1", NONE, "沪A10000", YELLOW, .95, 0, ALLOW, "no_restriction",
	    NULL, NULL, NULL },
	/* lists */
	{ "in-1", ORA, "沪E11111", YELLOW, .95, 0, DENY, "blacklist", NULL,
	    "排放阶段 国六", "禁止通行 黑名单" },
	{ "in-1", NONE, "苏E9K321", YELLOW, .95, 0, DENY, "blacklist", NULL,
	    "未登记车辆", "禁止通行 黑名单" },
	{ "in-1", RED, "沪E22222", YELLOW, .95, 0, ALLOW, "whitelist", NULL,
	    NULL, "允许通行 白名单" },
	{ "in-1", RED, "沪E33333", YELLOW, .95, 0, ALLOW, "exempt",
	    "exempt.livelihood", "排放阶段 国三", "允许通行 豁免" },
	{ "in-1", RED, "沪E44444", YELLOW, .95, 0, DENY, "stage_below_min",
	    "exemption_expired", NULL, NULL },
	{ "in-1", RED, "沪E55555", YELLOW, .95, 0, DENY, "stage_below_min",
	    "exemption_expired", NULL, NULL },
	{ "in-1", ORA, "沪E66666", YELLOW, .95, 0, DENY, "stage_below_min", NULL,
	    NULL, NULL },
	{ "in-1", NONE, "沪E66666", YELLOW, .95, 0, ALLOW, "no_restriction", NULL,
	    NULL, NULL },
	/* confidence: review below 0.8, at 0.8 decided; before the lists */
	{ "in-1", ORA, "沪A10006", YELLOW, .79, 0, REVIEW, "low_confidence", NULL,
	    NULL, "人工核验 车牌待确认" },
	{ "in-1", ORA, "沪A10006", YELLOW, .80, 0, ALLOW, "stage_ok", NULL, NULL,
	    NULL },
	{ "in-1", ORA, "沪E11111", YELLOW, .5, 0, REVIEW, "low_confidence", NULL,
	    NULL, NULL },
	{ "in-1", NONE, "沪E22222", YELLOW, .5, 0, REVIEW, "low_confidence",
	    NULL, NULL, NULL },
	/* illegal plates: wrong issuer letter, colour the plate cannot have */
	{ "in-1", ORA, "沪I12345", BLUE, .95, 0, REVIEW, "invalid_plate", NULL,
	    NULL, "人工核验 车牌待确认" },
	{ "in-1", ORA, "沪A10006", GREEN, .95, 0, REVIEW, "invalid_plate", NULL,
	    NULL, NULL },
	/* exit lanes record and allow; check_exit applies the rules */
	{ "out-1", RED, "沪A10003", YELLOW, .95, 0, ALLOW, "exit_lane",
	    "alert.red", "排放阶段 国三", "允许通行" },
	{ "out-1", RED, "沪E11111", YELLOW, .95, 0, ALLOW, "exit_lane", NULL,
	    NULL, NULL },
	{ "out-1", RED, "沪I12345", BLUE, .3, 0, ALLOW, "exit_lane", NULL, NULL,
	    NULL },
	{ "out-2", RED, "沪A10003", YELLOW, .95, 0, DENY, "stage_below_min", NULL,
	    NULL, NULL },
	/* a lane the policy does not list is an entry lane */
	{ "in-9", RED, "沪A10003", YELLOW, .95, 0, DENY, "stage_below_min",
	    "lane.unknown", NULL, NULL },
	/* the snapshot answered */
	{ "in-1", ORA, "沪A10005", YELLOW, .95, F_SNAPSHOT, ALLOW, "stage_ok",
	    "registry.snapshot", NULL, NULL },
};

static void
make_policy(struct policy *p, enum policy_level level, int flags)
{
	policy_default(p);
	gk_strlcpy(p->version, "test-7", sizeof(p->version));
	p->level = level;
	if (flags & F_UNKNOWN_DENY)
		p->unknown_vehicle = POLICY_DENY;
	if (flags & F_STAGE_DENY)
		p->unknown_stage = POLICY_DENY;
	p->nlanes = 3;
	gk_strlcpy(p->lanes[0].id, "in-1", POLICY_LANE_ID_MAX);
	p->lanes[0].direction = POLICY_DIR_IN;
	gk_strlcpy(p->lanes[1].id, "out-1", POLICY_LANE_ID_MAX);
	p->lanes[1].direction = POLICY_DIR_OUT;
	gk_strlcpy(p->lanes[2].id, "out-2", POLICY_LANE_ID_MAX);
	p->lanes[2].direction = POLICY_DIR_OUT;
	p->lanes[2].check_exit = 1;
}

/* The registry record for plate, or 0 when the test registry has none. */
static int
lookup(const char *plate, struct vehicle *v)
{
	size_t			 i;
	const struct vfix	*f;

	for (i = 0; i < GK_NELEM(registry); i++) {
		f = &registry[i];
		if (strcmp(f->plate, plate) != 0)
			continue;
		memset(v, 0, sizeof(*v));
		gk_strlcpy(v->plate, f->plate, sizeof(v->plate));
		v->colour = f->colour;
		v->registered = f->registered;
		v->category = f->cat;
		gk_strlcpy(v->vehicle_type, f->type, sizeof(v->vehicle_type));
		v->fuel = f->fuel;
		v->emission_stage = f->stage;
		if (f->stage != 0)
			v->stage_source = REGISTRY_SRC_STAGE_MANIFEST;
		gk_strlcpy(v->registration_date, "2019-06-12",
		    sizeof(v->registration_date));
		v->version = 1;
		if (f->list != NOLIST) {
			struct registry_entry *e = &v->entries[v->nentries++];

			e->list = (enum registry_list)f->list;
			gk_strlcpy(e->reason, "test", sizeof(e->reason));
			if (f->list == EXEMPT)
				gk_strlcpy(e->exemption_kind, "livelihood",
				    sizeof(e->exemption_kind));
			e->valid_from_ms = NOW + f->from * DAY;
			e->valid_to_ms = f->to != 0 ? NOW + f->to * DAY : 0;
		}
		return 1;
	}
	return 0;
}

static void
make_passage(struct fuse_passage *ps, const char *plate,
    enum gk_plate_colour colour, double conf)
{
	memset(ps, 0, sizeof(*ps));
	gk_strlcpy(ps->plate, plate, sizeof(ps->plate));
	ps->colour = colour;
	ps->confidence = conf;
	ps->plate_ok = gk_plate_check(plate, colour, 0, &ps->info, NULL) == 0;
	ps->reads = 3;
	ps->nids = 2;
	gk_strlcpy(ps->read_ids[0], "01937a4e-8c2b-7d41-9a3e-5f6b7c8d9e01",
	    GK_ID_LEN);
	gk_strlcpy(ps->read_ids[1], "01937a4e-8c2b-7d41-9a3e-5f6b7c8d9e02",
	    GK_ID_LEN);
	ps->first_wall_ms = NOW - 300;
}

static void
run(const struct scen *s, struct decision *d, struct policy *p,
    struct fuse_passage *ps)
{
	static struct vehicle	v;
	struct decide_input	in;
	int			found;

	make_policy(p, s->level, s->flags);
	make_passage(ps, s->plate, s->colour, s->conf);
	found = !(s->flags & F_NO_REGISTRY) && lookup(s->plate, &v);
	memset(&in, 0, sizeof(in));
	in.passage = ps;
	in.vehicle = found ? &v : NULL;
	in.source = (s->flags & F_NO_REGISTRY) ? REGISTRY_FROM_NONE :
	    (s->flags & F_SNAPSHOT) ? REGISTRY_FROM_SNAPSHOT : REGISTRY_FROM_REDIS;
	in.registry_age_ms = 1500;
	in.policy = p;
	in.lane = s->lane;
	in.now_wall_ms = NOW;
	decide(&in, d);
}

static void
test_table(void)
{
	struct decision		d;
	struct policy		p;
	struct fuse_passage	ps;
	char			code[80];
	size_t			i;

	T_CHECK(GK_NELEM(table) >= 40);
	for (i = 0; i < GK_NELEM(table); i++) {
		const struct scen *s = &table[i];

		run(s, &d, &p, &ps);
		T_CHECKF(d.result == s->want, "case %zu %s %s: result %s, want %s",
		    i, s->plate, policy_level_name(s->level),
		    decide_result_name(d.result), decide_result_name(s->want));
		T_CHECKF(d.nreasons > 0 && strcmp(d.reasons[0], s->reason) == 0,
		    "case %zu %s: reason %s, want %s", i, s->plate,
		    d.nreasons > 0 ? d.reasons[0] : "(none)", s->reason);
		if (s->also != NULL)
			T_CHECKF(decide_has_reason(&d, s->also),
			    "case %zu %s: no %s", i, s->plate, s->also);
		snprintf(code, sizeof(code), "alert.%s",
		    policy_level_name(s->level));
		T_CHECKF(decide_has_reason(&d, code), "case %zu: no %s", i, code);
		T_CHECKF(d.nlines == 4, "case %zu: %d lines", i, d.nlines);
		T_STREQ(d.lines[0], s->plate);
		T_STREQ(d.lines[2], policy_level_zh(s->level));
		if (s->line2 != NULL)
			T_CHECKF(strcmp(d.lines[1], s->line2) == 0,
			    "case %zu: line 2 \"%s\", want \"%s\"", i, d.lines[1],
			    s->line2);
		if (s->line4 != NULL)
			T_CHECKF(strcmp(d.lines[3], s->line4) == 0,
			    "case %zu: line 4 \"%s\", want \"%s\"", i, d.lines[3],
			    s->line4);
		T_STREQ(d.policy_version, "test-7");
		T_CHECK(d.level == s->level);
	}
}

/* Spot checks of what the decision carries besides result and reasons. */
static void
test_facts(void)
{
	struct decision		d;
	struct policy		p;
	struct fuse_passage	ps;
	const struct scen	heavy = { "in-1", ORA, "沪A10004", YELLOW, .95, 0,
	    DENY, "stage_below_min", NULL, NULL, NULL };
	const struct scen	out = { "out-1", ORA, "沪F99999", YELLOW, .95,
	    F_NO_REGISTRY, ALLOW, "exit_lane", NULL, NULL, NULL };

	run(&heavy, &d, &p, &ps);
	T_CHECK(d.has_vehicle == 1 && d.has_class == 1);
	T_CHECK(d.cls == POLICY_CLASS_HEAVY_DIESEL);
	T_CHECK(d.min_stage == '5');
	T_CHECK(d.facts.emission_stage == '4' && d.facts.fuel == 'B');
	T_STREQ(d.facts.vehicle_type, "H11");
	T_CHECK(d.direction == POLICY_DIR_IN);
	T_CHECK(d.source == REGISTRY_FROM_REDIS && d.registry_age_ms == 1500);

	run(&out, &d, &p, &ps);
	T_CHECK(d.has_vehicle == 0 && d.has_class == 0);
	T_CHECK(d.direction == POLICY_DIR_OUT);
	T_STREQ(d.lines[1], "登记库不可用");

	T_STREQ(decide_stage_zh('0'), "国零");
	T_STREQ(decide_stage_zh('6'), "国六");
	T_STREQ(decide_stage_zh('D'), "电动");
	T_STREQ(decide_stage_zh('X'), "无");
	T_STREQ(decide_stage_zh('7'), "未知");
}

static int
write_file(const char *path, const char *s)
{
	FILE	*f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(s, f);
	return fclose(f);
}

/* Renders a few decisions; checks some fields here, the schema in Python. */
static void
test_render(void)
{
	static const size_t	 pick[] = { 0, 4, 18, 24, 31, 33, 41, 46, 50, 52,
	    57 };
	char			 dir[] = "/tmp/verifier-decide-XXXXXX";
	char			 files[GK_NELEM(pick)][128], cmd[8192], err[256];
	struct decision		 d;
	struct policy		 p;
	struct fuse_passage	 ps;
	const char		*src = t_env("ECOGATE_SOURCE_DIR", "../..");
	char			*s;
	json_t			*j;
	const char		*str;
	long long		 ll;
	size_t			 i, n;
	int			 rc;

	T_REQUIRE(mkdtemp(dir) != NULL);
	n = (size_t)snprintf(cmd, sizeof(cmd),
	    "/usr/bin/python3 %s/tests/schemas/validate_msg.py "
	    "%s/schemas/passage-decision.v1.schema.json", src, src);
	for (i = 0; i < GK_NELEM(pick); i++) {
		T_REQUIRE(pick[i] < GK_NELEM(table));
		run(&table[pick[i]], &d, &p, &ps);
		if (i == 0) {
			/* One rendering names its evidence frames too. */
			ps.nframes = 2;
			memset(ps.frames[0], 'a', 64);
			ps.frames[0][64] = '\0';
			memset(ps.frames[1], 'b', 64);
			ps.frames[1][64] = '\0';
		}
		s = decide_render(&d, &ps, "01937a4e-9001-7abc-8def-0123456789ab",
		    "sh-baoshan", table[pick[i]].lane, ps.first_wall_ms, NOW,
		    err, sizeof(err));
		T_CHECKF(s != NULL, "case %zu: %s", pick[i], err);
		if (s == NULL)
			continue;
		snprintf(files[i], sizeof(files[i]), "%s/decision-%02zu.json", dir,
		    pick[i]);
		T_CHECK(write_file(files[i], s) == 0);
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " %s", files[i]);

		/* What we wrote is what we decided. */
		j = gk_json_parse(s, strlen(s), 65536, err, sizeof(err));
		T_REQUIRE(j != NULL);
		if (i == 0) {
			json_t *ev = json_object_get(j, "evidence");

			T_CHECK(json_array_size(ev) == 2 &&
			    gk_json_get_str(json_array_get(ev, 1), "sha256", &str) == 0 &&
			    str[0] == 'b' && strlen(str) == 64 &&
			    gk_json_get_str(json_array_get(ev, 0), "role", &str) == 0 &&
			    strcmp(str, "plate_frame") == 0);
		} else
			T_CHECK(json_object_get(j, "evidence") == NULL);
		T_CHECK(gk_json_get_str(j, "result", &str) == 0 &&
		    strcmp(str, decide_result_name(table[pick[i]].want)) == 0);
		T_CHECK(gk_json_get_str(j, "plate", &str) == 0 &&
		    strcmp(str, table[pick[i]].plate) == 0);
		T_CHECK(gk_json_get_str(j, "ts_decided", &str) == 0 &&
		    strcmp(str, "2026-11-28T12:00:00.000Z") == 0);
		T_CHECK(gk_json_get_str(j, "ts_first_read", &str) == 0 &&
		    strcmp(str, "2026-11-28T11:59:59.700Z") == 0);
		T_CHECK(json_string_value(json_array_get(json_object_get(j,
		    "reasons"), 0)) != NULL && strcmp(json_string_value(
		    json_array_get(json_object_get(j, "reasons"), 0)),
		    table[pick[i]].reason) == 0);
		T_CHECK(gk_json_get_int(json_object_get(j, "fused"), "reads",
		    &ll) == 0 && ll == 3);
		if (pick[i] == 4) {
			json_t *v = json_object_get(j, "vehicle");

			T_CHECK(gk_json_get_str(v, "emission_stage", &str) == 0 &&
			    strcmp(str, "4") == 0);
			T_CHECK(gk_json_get_str(v, "emission_stage_basis",
			    &str) == 0 && strcmp(str, "manifest") == 0);
			T_CHECK(gk_json_get_str(j, "colour", &str) == 0 &&
			    strcmp(str, "yellow") == 0);
			T_CHECK(gk_json_get_str(j, "alert_level", &str) == 0 &&
			    strcmp(str, "orange") == 0);
			T_CHECK(strstr(s, "\"confidence\":0.95,") != NULL);
		}
		if (table[pick[i]].flags & F_NO_REGISTRY) {
			T_CHECK(json_object_get(j, "vehicle") == NULL);
			T_CHECK(json_object_get(json_object_get(j, "registry"),
			    "age_ms") == NULL);
		}
		json_decref(j);
		free(s);
	}
	snprintf(cmd + n, sizeof(cmd) - n, " >&2");
	rc = system(cmd);
	T_CHECKF(rc == 0, "validate_msg.py said %d: %s", rc, cmd);
	for (i = 0; i < GK_NELEM(pick); i++)
		unlink(files[i]);
	rmdir(dir);

	/* What cannot be rendered is refused, not written. */
	run(&table[0], &d, &p, &ps);
	s = decide_render(&d, &ps, "01937A4E-9001-7ABC-8DEF-0123456789AB",
	    "sh-baoshan", "in-1", NOW, NOW, err, sizeof(err));
	T_CHECK(s == NULL && strstr(err, "event_id") != NULL);
	s = decide_render(&d, &ps, "01937a4e-9001-7abc-8def-0123456789ab",
	    "Sh/Baoshan", "in-1", NOW, NOW, err, sizeof(err));
	T_CHECK(s == NULL);
	ps.nids = 0;
	s = decide_render(&d, &ps, "01937a4e-9001-7abc-8def-0123456789ab",
	    "sh-baoshan", "in-1", NOW, NOW, err, sizeof(err));
	T_CHECK(s == NULL && strstr(err, "read") != NULL);
	ps.nids = 1;
	gk_strlcpy(ps.read_ids[0], "not-a-uuid", GK_ID_LEN);
	s = decide_render(&d, &ps, "01937a4e-9001-7abc-8def-0123456789ab",
	    "sh-baoshan", "in-1", NOW, NOW, err, sizeof(err));
	T_CHECK(s == NULL && strstr(err, "read_event_ids") != NULL);
}

int
main(void)
{
	test_table();
	test_facts();
	test_render();
	return T_DONE();
}
