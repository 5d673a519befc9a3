/*
 * Tests of the vehicle.v1 registry record reader (services/verifier/registry.c):
 * every golden example in schemas/examples/vehicle.v1 (valid ones parse with the
 * facts written in them, invalid ones are refused), rules only C enforces (valid_to
 * after valid_from, plate length by category) and which list entry is in force when.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include <gatekit/util.h>

#include "registry.h"
#include "t.h"

static char exdir[1024];

static int
parse_file(const char *name, struct vehicle *v, char *err, size_t errlen)
{
	char	 path[1200], buf[65536];
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof(path), "%s/%s", exdir, name);
	f = fopen(path, "rb");
	T_REQUIRE(f != NULL);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return registry_parse(buf, n, v, err, errlen);
}

static void
test_examples(void)
{
	DIR		*d;
	struct dirent	*e;
	struct vehicle	 v;
	char		 err[256];
	int		 nvalid = 0, ninvalid = 0, rc;

	T_REQUIRE((d = opendir(exdir)) != NULL);
	while ((e = readdir(d)) != NULL) {
		err[0] = '\0';
		if (strncmp(e->d_name, "valid-", 6) == 0) {
			rc = parse_file(e->d_name, &v, err, sizeof(err));
			T_CHECKF(rc == 0, "%s: %s", e->d_name, err);
			nvalid++;
		} else if (strncmp(e->d_name, "invalid-", 8) == 0) {
			rc = parse_file(e->d_name, &v, err, sizeof(err));
			T_CHECKF(rc == -1, "%s accepted", e->d_name);
			T_CHECKF(err[0] != '\0', "%s: no message", e->d_name);
			printf("ok   %s: %s\n", e->d_name, err);
			ninvalid++;
		}
	}
	closedir(d);
	T_CHECK(nvalid >= 4);
	T_CHECK(ninvalid >= 10);
}

static void
test_facts(void)
{
	struct vehicle			 v;
	const struct registry_entry	*e;
	char				 err[256];
	int64_t				 t;

	T_REQUIRE(parse_file("valid-heavy-diesel-exempt.json", &v, err,
	    sizeof(err)) == 0);
	T_STREQ(v.plate, "沪D52817");
	T_CHECK(v.colour == GK_PLATE_COLOUR_YELLOW);
	T_CHECK(v.registered == 1);
	T_CHECK(v.version == 1042);
	T_STREQ(v.plate_kind, "01");
	T_CHECK(v.category == REGISTRY_CAT_EXTERNAL);
	T_STREQ(v.vin, "LZZ1CLVB8JA123456");
	T_STREQ(v.registration_date, "2019-06-12");
	T_STREQ(v.vehicle_type, "H11");
	T_CHECK(v.fuel == 'B');
	T_CHECK(v.emission_stage == '5');
	T_CHECK(v.stage_source == REGISTRY_SRC_STAGE_MANIFEST);
	T_CHECK(v.use_nature == 'F');
	T_STREQ(v.fleet, "上海宝钢物流有限公司");
	T_CHECK(v.nentries == 1);
	T_STREQ(v.entries[0].exemption_kind, "livelihood");
	T_STREQ(v.entries[0].approval_no, "沪应急2026-0042");

	/* In force from 2026-11-01T00:00+08:00 until just before 2026-12-01. */
	T_REQUIRE(gk_ts_parse("2026-11-15T12:00:00Z", &t) == 0);
	e = registry_active(&v, REGISTRY_LIST_EXEMPTION, t);
	T_CHECK(e != NULL);
	T_CHECK(registry_active(&v, REGISTRY_LIST_BLACK, t) == NULL);
	T_CHECK(registry_has_inactive(&v, REGISTRY_LIST_EXEMPTION, t) == 0);
	T_REQUIRE(gk_ts_parse("2026-10-31T15:59:59.999Z", &t) == 0);
	T_CHECK(registry_active(&v, REGISTRY_LIST_EXEMPTION, t) == NULL);
	T_REQUIRE(gk_ts_parse("2026-10-31T16:00:00Z", &t) == 0);
	T_CHECK(registry_active(&v, REGISTRY_LIST_EXEMPTION, t) != NULL);
	T_REQUIRE(gk_ts_parse("2026-11-30T16:00:00Z", &t) == 0);
	T_CHECK(registry_active(&v, REGISTRY_LIST_EXEMPTION, t) == NULL);
	T_CHECK(registry_has_inactive(&v, REGISTRY_LIST_EXEMPTION, t) == 1);

	T_REQUIRE(parse_file("valid-blacklist-only.json", &v, err, sizeof(err)) == 0);
	T_CHECK(v.registered == 0);
	T_CHECK(v.nentries == 1 && v.entries[0].list == REGISTRY_LIST_BLACK);
	T_CHECK(v.entries[0].valid_to_ms == 0);
	T_REQUIRE(gk_ts_parse("2030-01-01T00:00:00Z", &t) == 0);
	T_CHECK(registry_active(&v, REGISTRY_LIST_BLACK, t) != NULL);

	T_REQUIRE(parse_file("valid-nrmm.json", &v, err, sizeof(err)) == 0);
	T_CHECK(v.category == REGISTRY_CAT_NRMM);
	T_CHECK(v.emission_stage == 'X');
}

static void
test_c_rules(void)
{
	struct vehicle	 v;
	char		 err[256];
	const char	*doc;

	doc = "{\"schema\":\"ecogate.vehicle.v1\",\"plate\":\"沪A12345\","
	    "\"colour\":\"blue\",\"registered\":false,\"version\":1,\"lists\":"
	    "[{\"list\":\"whitelist\",\"reason\":\"x\",\"valid_from\":"
	    "\"2026-01-02T00:00:00Z\",\"valid_to\":\"2026-01-01T00:00:00Z\"}]}";
	T_CHECK(registry_parse(doc, strlen(doc), &v, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "lists[0].valid_to") != NULL, "%s", err);

	/* 11 characters: too long for a road vehicle, fine for a machine's code. */
	doc = "{\"schema\":\"ecogate.vehicle.v1\",\"plate\":\"沪A1234567890\","
	    "\"colour\":\"other\",\"registered\":true,\"version\":1}";
	T_CHECK(registry_parse(doc, strlen(doc), &v, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "plate") != NULL, "%s", err);
	doc = "{\"schema\":\"ecogate.vehicle.v1\",\"plate\":\"沪A1234567890\","
	    "\"colour\":\"other\",\"registered\":true,\"version\":1,"
	    "\"category\":\"nrmm\"}";
	T_CHECKF(registry_parse(doc, strlen(doc), &v, err, sizeof(err)) == 0,
	    "%s", err);

	doc = "{\"schema\":\"ecogate.vehicle.v1\",\"plate\":\"沪A12345\","
	    "\"colour\":\"blue\",\"registered\":true,\"version\":1,"
	    "\"registration_date\":\"2023-02-29\"}";
	T_CHECK(registry_parse(doc, strlen(doc), &v, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "registration_date") != NULL, "%s", err);

	doc = "{\"schema\":\"ecogate.vehicle.v1\",\"plate\":\"沪A12345\","
	    "\"colour\":\"blue\",\"registered\":true,\"version\":1,"
	    "\"lists\":[{\"list\":\"blacklist\",\"reason\":\"x\","
	    "\"valid_from\":\"2026-01-01T00:00:00Z\",\"by\":\"me\"}]}";
	T_CHECK(registry_parse(doc, strlen(doc), &v, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "lists[0].by") != NULL, "%s", err);

	T_CHECK(registry_parse("{\"a\":", 5, &v, err, sizeof(err)) == -1);
	T_CHECK(registry_parse("[]", 2, &v, err, sizeof(err)) == -1);
	T_CHECK(registry_parse("{}", 2, &v, err, sizeof(err)) == -1);
}

static void
test_names(void)
{
	enum gk_plate_colour	c;

	T_STREQ(registry_colour_name(GK_PLATE_COLOUR_YELLOW_GREEN), "yellow_green");
	T_STREQ(registry_colour_name(GK_PLATE_COLOUR_NONE), "other");
	T_CHECK(registry_colour_parse("yellow_green", &c) == 0 &&
	    c == GK_PLATE_COLOUR_YELLOW_GREEN);
	T_CHECK(registry_colour_parse("other", &c) == 0 && c == GK_PLATE_COLOUR_OTHER);
	T_CHECK(registry_colour_parse("yellow-green", &c) == -1);
	T_STREQ(registry_source_name(REGISTRY_FROM_SNAPSHOT), "snapshot");
	T_STREQ(registry_category_name(REGISTRY_CAT_OWN_FLEET), "own_fleet");
}

int
main(void)
{
	snprintf(exdir, sizeof(exdir), "%s/schemas/examples/vehicle.v1",
	    t_env("ECOGATE_SOURCE_DIR", "."));
	test_examples();
	test_facts();
	test_c_rules();
	test_names();
	return T_DONE();
}
