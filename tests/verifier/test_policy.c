/*
 * Tests of the admission policy (services/verifier/policy.c): the built-in default,
 * every golden example in schemas/examples/policy.v1 (valid ones parse, invalid ones
 * are refused by our parser too), rules only C can enforce (duplicate lane ids), that
 * a refused document leaves the caller's policy alone, alert-level names, the stage
 * order and the classification rules. Expectations are written by hand.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include <gatekit/json.h>

#include "policy.h"
#include "t.h"

static char exdir[1024];

static int
load(const char *path, char *buf, size_t len)
{
	FILE	*f = fopen(path, "rb");
	size_t	 n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (int)n;
}

static int
parse_file(const char *name, struct policy *p, char *err, size_t errlen)
{
	char	path[1200], buf[65536];
	int	n;

	snprintf(path, sizeof(path), "%s/%s", exdir, name);
	n = load(path, buf, sizeof(buf));
	T_REQUIRE(n > 0);
	return policy_parse(buf, (size_t)n, p, err, errlen);
}

static void
test_default(void)
{
	struct policy	p;

	policy_default(&p);
	T_STREQ(p.version, "default");
	T_CHECK(p.level == POLICY_LEVEL_NONE);
	T_CHECK(p.unknown_vehicle == POLICY_REVIEW);
	T_CHECK(p.unknown_stage == POLICY_REVIEW);
	T_CHECK(p.review_below == 0.8);
	T_CHECK(p.nlanes == 0);
	T_CHECK(p.fusion.window_ms == 800);
	T_CHECK(p.fusion.early_reads == 2);
	T_CHECK(p.fusion.early_conf == 0.9);
	T_CHECK(p.fusion.hold_ms == 10000);
	/* The documented table: DOMAIN.md §4's city template. */
	T_CHECK(p.min_stage[POLICY_LEVEL_NONE][POLICY_CLASS_HEAVY_DIESEL] == 'X');
	T_CHECK(p.min_stage[POLICY_LEVEL_BLUE][POLICY_CLASS_HEAVY_DIESEL] == 'X');
	T_CHECK(p.min_stage[POLICY_LEVEL_YELLOW][POLICY_CLASS_HEAVY_DIESEL] == '4');
	T_CHECK(p.min_stage[POLICY_LEVEL_ORANGE][POLICY_CLASS_HEAVY_DIESEL] == '5');
	T_CHECK(p.min_stage[POLICY_LEVEL_RED][POLICY_CLASS_HEAVY_DIESEL] == '6');
	T_CHECK(p.min_stage[POLICY_LEVEL_ORANGE][POLICY_CLASS_GAS_TRUCK] == '5');
	T_CHECK(p.min_stage[POLICY_LEVEL_ORANGE][POLICY_CLASS_LIGHT_TRUCK] == '4');
	T_CHECK(p.min_stage[POLICY_LEVEL_ORANGE][POLICY_CLASS_NRMM] == '3');
	T_CHECK(p.min_stage[POLICY_LEVEL_RED][POLICY_CLASS_NRMM] == '3');
	T_CHECK(p.min_stage[POLICY_LEVEL_RED][POLICY_CLASS_NEW_ENERGY] == 'X');
	T_CHECK(p.min_stage[POLICY_LEVEL_RED][POLICY_CLASS_PASSENGER] == 'X');
	T_CHECK(p.min_stage[POLICY_LEVEL_RED][POLICY_CLASS_OWN_FLEET] == '6');
}

/* valid-default.json is the default written as a document. */
static void
test_default_document(void)
{
	struct policy	a, b;
	char		err[256];

	policy_default(&a);
	T_REQUIRE(parse_file("valid-default.json", &b, err, sizeof(err)) == 0);
	T_STREQ(a.version, b.version);
	T_CHECK(a.level == b.level);
	T_CHECK(memcmp(a.min_stage, b.min_stage, sizeof(a.min_stage)) == 0);
	T_CHECK(a.unknown_vehicle == b.unknown_vehicle);
	T_CHECK(a.unknown_stage == b.unknown_stage);
	T_CHECK(a.review_below == b.review_below);
	T_CHECK(a.fusion.window_ms == b.fusion.window_ms);
	T_CHECK(a.fusion.early_reads == b.fusion.early_reads);
	T_CHECK(a.fusion.early_conf == b.fusion.early_conf);
	T_CHECK(a.fusion.hold_ms == b.fusion.hold_ms);
}

static void
test_strict_document(void)
{
	struct policy		 p;
	const struct policy_lane *l;
	char			 err[256];

	T_REQUIRE(parse_file("valid-strict-orange.json", &p, err, sizeof(err)) == 0);
	T_STREQ(p.version, "2026-11-28.3");
	T_CHECK(p.level == POLICY_LEVEL_ORANGE);
	T_CHECK(p.unknown_vehicle == POLICY_DENY);
	T_CHECK(p.unknown_stage == POLICY_DENY);
	T_CHECK(p.review_below == 0.7);
	T_CHECK(p.nlanes == 4);
	T_REQUIRE((l = policy_lane(&p, "out-2")) != NULL);
	T_CHECK(l->direction == POLICY_DIR_OUT && l->check_exit == 1);
	T_REQUIRE((l = policy_lane(&p, "out-1")) != NULL);
	T_CHECK(l->direction == POLICY_DIR_OUT && l->check_exit == 0);
	T_REQUIRE((l = policy_lane(&p, "in-2")) != NULL);
	T_CHECK(l->direction == POLICY_DIR_IN);
	T_CHECK(policy_lane(&p, "in-3") == NULL);
	T_CHECK(p.fusion.window_ms == 1200);
	T_CHECK(p.fusion.early_reads == 3);
	T_CHECK(p.fusion.early_conf == 0.85);
	T_CHECK(p.fusion.hold_ms == 30000);
	T_CHECK(p.min_stage[POLICY_LEVEL_RED][POLICY_CLASS_NEW_ENERGY] == 'D');
	T_CHECK(p.min_stage[POLICY_LEVEL_RED][POLICY_CLASS_NRMM] == '6');

	/* A minimal document takes the defaults for everything optional. */
	T_REQUIRE(parse_file("valid-minimal-red.json", &p, err, sizeof(err)) == 0);
	T_CHECK(p.level == POLICY_LEVEL_RED);
	T_CHECK(p.unknown_vehicle == POLICY_REVIEW);
	T_CHECK(p.fusion.window_ms == 800);
	T_CHECK(p.nlanes == 0);
}

/* Every example: valid-* parse, invalid-* are refused, with a message. */
static void
test_examples(void)
{
	DIR		*d;
	struct dirent	*e;
	struct policy	 p;
	char		 err[256];
	int		 nvalid = 0, ninvalid = 0, rc;

	T_REQUIRE((d = opendir(exdir)) != NULL);
	while ((e = readdir(d)) != NULL) {
		err[0] = '\0';
		if (strncmp(e->d_name, "valid-", 6) == 0) {
			rc = parse_file(e->d_name, &p, err, sizeof(err));
			T_CHECKF(rc == 0, "%s: %s", e->d_name, err);
			nvalid++;
		} else if (strncmp(e->d_name, "invalid-", 8) == 0) {
			rc = parse_file(e->d_name, &p, err, sizeof(err));
			T_CHECKF(rc == -1, "%s accepted", e->d_name);
			T_CHECKF(err[0] != '\0', "%s: no message", e->d_name);
			printf("ok   %s: %s\n", e->d_name, err);
			ninvalid++;
		}
	}
	closedir(d);
	T_CHECK(nvalid >= 3);
	T_CHECK(ninvalid >= 12);
}

/* Messages name the field; a refused document leaves the caller's policy alone. */
static void
test_refusals(void)
{
	struct policy	 p, before;
	char		 err[256], buf[65536];
	char		 path[1200];
	int		 n;
	const char	*dup = "\"lanes\":[{\"id\":\"in-1\",\"direction\":\"in\"},"
	    "{\"id\":\"in-1\",\"direction\":\"out\"}],";
	char		*at;

	policy_default(&p);
	p.level = POLICY_LEVEL_YELLOW;
	gk_strlcpy(p.version, "in-force", sizeof(p.version));
	before = p;

	T_CHECK(parse_file("invalid-stage-7.json", &p, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "min_stage.orange.heavy_diesel") != NULL, "%s", err);
	T_CHECK(memcmp(&p, &before, sizeof(p)) == 0);
	T_CHECK(parse_file("invalid-missing-level.json", &p, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "min_stage.yellow") != NULL, "%s", err);
	T_CHECK(parse_file("invalid-window-too-short.json", &p, err,
	    sizeof(err)) == -1);
	T_CHECKF(strstr(err, "fusion.window_ms") != NULL, "%s", err);
	T_CHECK(memcmp(&p, &before, sizeof(p)) == 0);

	/* Duplicate lane ids: uniqueItems cannot see them, the parser must. */
	snprintf(path, sizeof(path), "%s/valid-minimal-red.json", exdir);
	n = load(path, buf, sizeof(buf) - 200);
	T_REQUIRE(n > 0);
	at = strstr(buf, "\"min_stage\"");
	T_REQUIRE(at != NULL);
	memmove(at + strlen(dup), at, strlen(at) + 1);
	memcpy(at, dup, strlen(dup));
	T_CHECK(policy_parse(buf, strlen(buf), &p, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "twice") != NULL, "%s", err);

	/* Not JSON, not an object, Chinese level name in the document. */
	T_CHECK(policy_parse("{", 1, &p, err, sizeof(err)) == -1);
	T_CHECK(policy_parse("[]", 2, &p, err, sizeof(err)) == -1);
	T_CHECK(memcmp(&p, &before, sizeof(p)) == 0);
}

static void
test_names(void)
{
	enum policy_level	l;
	enum policy_class	c;

	T_CHECK(policy_level_parse("orange", &l) == 0 && l == POLICY_LEVEL_ORANGE);
	T_CHECK(policy_level_parse("橙", &l) == 0 && l == POLICY_LEVEL_ORANGE);
	T_CHECK(policy_level_parse("红色", &l) == 0 && l == POLICY_LEVEL_RED);
	T_CHECK(policy_level_parse("蓝", &l) == 0 && l == POLICY_LEVEL_BLUE);
	T_CHECK(policy_level_parse("黄色", &l) == 0 && l == POLICY_LEVEL_YELLOW);
	T_CHECK(policy_level_parse("none", &l) == 0 && l == POLICY_LEVEL_NONE);
	T_CHECK(policy_level_parse("紫", &l) == -1);
	T_CHECK(policy_level_parse("Orange", &l) == -1);
	T_CHECK(policy_level_parse("橙色色", &l) == -1);
	T_STREQ(policy_level_zh(POLICY_LEVEL_ORANGE), "橙色预警");
	T_STREQ(policy_level_zh(POLICY_LEVEL_NONE), "无预警");
	T_STREQ(policy_level_name(POLICY_LEVEL_COUNT), "?");
	T_CHECK(policy_class_parse("gas_truck", &c) == 0 && c == POLICY_CLASS_GAS_TRUCK);
	T_CHECK(policy_class_parse("truck", &c) == -1);
	T_STREQ(policy_class_name(POLICY_CLASS_OWN_FLEET), "own_fleet");

	/* X < 0 < 1 < ... < 6 < D */
	T_CHECK(policy_stage_rank('X') < policy_stage_rank('0'));
	T_CHECK(policy_stage_rank('0') < policy_stage_rank('1'));
	T_CHECK(policy_stage_rank('5') < policy_stage_rank('6'));
	T_CHECK(policy_stage_rank('6') < policy_stage_rank('D'));
	T_CHECK(policy_stage_rank('7') == -1);
	T_CHECK(policy_stage_rank('x') == -1);
	T_CHECK(policy_stage_rank(0) == -1);
}

static struct vehicle
veh(enum registry_category cat, const char *type, char fuel, char stage)
{
	struct vehicle	v;

	memset(&v, 0, sizeof(v));
	v.registered = 1;
	v.category = cat;
	gk_strlcpy(v.vehicle_type, type, sizeof(v.vehicle_type));
	v.fuel = fuel;
	v.emission_stage = stage;
	return v;
}

static void
test_classify(void)
{
	struct vehicle		v;
	struct gk_plate_info	nev, plain;

	T_REQUIRE(gk_plate_check("沪AD12345", GK_PLATE_COLOUR_GREEN, 0, &nev,
	    NULL) == 0);
	T_REQUIRE(gk_plate_check("沪A12345", GK_PLATE_COLOUR_YELLOW, 0, &plain,
	    NULL) == 0);

	v = veh(REGISTRY_CAT_EXTERNAL, "H11", 'B', '5');
	T_CHECK(policy_classify(&v, &plain) == POLICY_CLASS_HEAVY_DIESEL);
	v = veh(REGISTRY_CAT_EXTERNAL, "H21", 'B', '5');
	T_CHECK(policy_classify(&v, &plain) == POLICY_CLASS_HEAVY_DIESEL);
	v = veh(REGISTRY_CAT_EXTERNAL, "Q11", 'B', '5');
	T_CHECK(policy_classify(&v, &plain) == POLICY_CLASS_HEAVY_DIESEL);
	v = veh(REGISTRY_CAT_EXTERNAL, "", 0, 0);
	T_CHECK(policy_classify(&v, NULL) == POLICY_CLASS_HEAVY_DIESEL);
	v = veh(REGISTRY_CAT_EXTERNAL, "H31", 'B', '5');
	T_CHECK(policy_classify(&v, &plain) == POLICY_CLASS_LIGHT_TRUCK);
	v = veh(REGISTRY_CAT_EXTERNAL, "H41", 'A', '5');
	T_CHECK(policy_classify(&v, &plain) == POLICY_CLASS_LIGHT_TRUCK);
	v = veh(REGISTRY_CAT_EXTERNAL, "H11", 'E', '5');
	T_CHECK(policy_classify(&v, &plain) == POLICY_CLASS_GAS_TRUCK);
	v = veh(REGISTRY_CAT_EXTERNAL, "Q11", 'F', '6');
	T_CHECK(policy_classify(&v, &plain) == POLICY_CLASS_GAS_TRUCK);
	v = veh(REGISTRY_CAT_EXTERNAL, "H11", 'C', 'D');
	T_CHECK(policy_classify(&v, &plain) == POLICY_CLASS_NEW_ENERGY);
	/* A new-energy plate is enough, even with the facts silent. */
	v = veh(REGISTRY_CAT_EXTERNAL, "K33", 0, 0);
	T_CHECK(policy_classify(&v, &nev) == POLICY_CLASS_NEW_ENERGY);
	T_CHECK(policy_classify(&v, NULL) == POLICY_CLASS_PASSENGER);
	v = veh(REGISTRY_CAT_EXTERNAL, "K33", 'A', '6');
	T_CHECK(policy_classify(&v, &plain) == POLICY_CLASS_PASSENGER);
	v = veh(REGISTRY_CAT_EXTERNAL, "J12", 'B', '3');
	T_CHECK(policy_classify(&v, NULL) == POLICY_CLASS_NRMM);
	v = veh(REGISTRY_CAT_NRMM, "", 'B', 'X');
	T_CHECK(policy_classify(&v, NULL) == POLICY_CLASS_NRMM);
	/* Category beats everything: an electric own-fleet truck is own fleet. */
	v = veh(REGISTRY_CAT_OWN_FLEET, "H11", 'C', 'D');
	T_CHECK(policy_classify(&v, &nev) == POLICY_CLASS_OWN_FLEET);
	v = veh(REGISTRY_CAT_EXTERNAL, "Z11", 'B', '4');
	T_CHECK(policy_classify(&v, &plain) == POLICY_CLASS_HEAVY_DIESEL);
}

int
main(void)
{
	snprintf(exdir, sizeof(exdir), "%s/schemas/examples/policy.v1",
	    t_env("ECOGATE_SOURCE_DIR", "."));
	test_default();
	test_default_document();
	test_strict_document();
	test_examples();
	test_refusals();
	test_names();
	test_classify();
	return T_DONE();
}
