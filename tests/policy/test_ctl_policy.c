/*
 * Unit tests of the pure parts of `ecogatectl policy` and `barrier open`: the default
 * document, the alert level change, version names and the version check
 * (ctl_policy.c), the audit event builder and its input checks (audit.c) and the
 * manual-release command (ctl_barrier.c). Expectations are written by hand from the
 * schemas and services/verifier/policy.c's table, not produced by the code under test.
 */
#include <stdlib.h>
#include <string.h>

#include "gatekit/json.h"
#include "gatekit/util.h"

#include "audit.h"
#include "ctl_barrier.h"
#include "ctl_policy.h"
#include "t.h"

static char *
slurp(const char *rel)
{
	char	 path[1024];
	json_t	*o;
	char	 err[256], *s;
	const char *src = getenv("ECOGATE_SOURCE_DIR");

	snprintf(path, sizeof(path), "%s/%s", src != NULL ? src : ".", rel);
	if ((o = gk_json_parse_file(path, POLICY_DOC_MAX, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	s = gk_json_dump_compact(o);
	json_decref(o);
	return s;
}

static void
test_default_document(void)
{
	struct policy	 d, p;
	char		*s, err[256];

	policy_default(&d);
	T_REQUIRE((s = ctl_policy_to_json(&d, NULL)) != NULL);
	/* The verifier's parser takes it back unchanged. */
	T_CHECKF(policy_parse(s, strlen(s), &p, err, sizeof(err)) == 0, "%s", err);
	T_STREQ(p.version, "default");
	T_CHECK(p.level == POLICY_LEVEL_NONE);
	T_CHECK(memcmp(p.min_stage, d.min_stage, sizeof(p.min_stage)) == 0);
	T_CHECK(p.unknown_vehicle == d.unknown_vehicle);
	T_CHECK(p.review_below == d.review_below);
	T_CHECK(p.fusion.window_ms == d.fusion.window_ms);
	T_CHECK(p.fusion.hold_ms == d.fusion.hold_ms);
	T_CHECK(p.fusion.early_reads == d.fusion.early_reads);
	/* policy.c's red row: heavy diesel 国六, light truck 国五, NRMM 3. */
	T_CHECKF(strstr(s, "\"red\":{\"heavy_diesel\":\"6\",\"light_truck\":\"5\","
	    "\"gas_truck\":\"6\",\"new_energy\":\"X\",\"passenger\":\"X\","
	    "\"nrmm\":\"3\",\"own_fleet\":\"6\"}") != NULL, "%s", s);
	T_CHECK(strstr(s, "\"schema\":\"ecogate.policy.v1\",\"version\":\"default\","
	    "\"alert_level\":\"none\"") == s + 1);
	T_CHECK(strstr(s, "\"unknown_vehicle\":\"review\"") != NULL);
	T_CHECK(strstr(s, "alert_reason") == NULL);
	T_CHECKF(strstr(s, "\"review_below_confidence\":0.8,") != NULL, "%s", s);
	T_CHECK(strstr(s, "\"fusion\":{\"window_ms\":800,") != NULL);
	free(s);
}

static void
test_with_level(void)
{
	struct policy	 p;
	char		*doc, *s, err[256], longv[80];

	T_REQUIRE((doc = slurp("schemas/examples/policy.v1/valid-strict-orange.json")) !=
	    NULL);
	s = ctl_policy_with_level(doc, POLICY_LEVEL_RED, "v-red-1", "市局发布红色预警",
	    err, sizeof(err));
	T_REQUIRE(s != NULL);
	T_CHECKF(policy_parse(s, strlen(s), &p, err, sizeof(err)) == 0, "%s", err);
	T_CHECK(p.level == POLICY_LEVEL_RED);
	T_STREQ(p.version, "v-red-1");
	T_CHECK(strstr(s, "\"alert_reason\":\"市局发布红色预警\"") != NULL);
	T_CHECK(strstr(s, "\"alert_level\":\"red\"") != NULL);
	free(s);

	/* 65 characters of version: the verifier would refuse it, so the tool does. */
	memset(longv, 'v', 65);
	longv[65] = '\0';
	T_CHECK(ctl_policy_with_level(doc, POLICY_LEVEL_RED, longv, "x", err,
	    sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "version") != NULL, "%s", err);
	free(doc);

	/* The base must itself be valid. */
	T_CHECK(ctl_policy_with_level("{\"schema\":\"ecogate.policy.v1\"}",
	    POLICY_LEVEL_RED, "v", "x", err, sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "current policy") != NULL, "%s", err);
	T_CHECK(ctl_policy_with_level("not json", POLICY_LEVEL_RED, "v", "x", err,
	    sizeof(err)) == NULL);
}

static void
test_invalid_examples(void)
{
	struct policy	 p;
	char		*doc, err[256];

	/* What `policy load` refuses with exit 65: the field is named. */
	T_REQUIRE((doc = slurp("schemas/examples/policy.v1/invalid-stage-7.json")) !=
	    NULL);
	T_CHECK(policy_parse(doc, strlen(doc), &p, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "min_stage") != NULL, "%s", err);
	free(doc);
	T_REQUIRE((doc = slurp("schemas/examples/policy.v1/invalid-alert-level.json")) !=
	    NULL);
	T_CHECK(policy_parse(doc, strlen(doc), &p, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "alert_level") != NULL, "%s", err);
	free(doc);
}

static void
test_levels_and_versions(void)
{
	enum policy_level	lv;
	char			v[POLICY_VERSION_MAX], small[10];

	T_CHECK(policy_level_parse("橙", &lv) == 0 && lv == POLICY_LEVEL_ORANGE);
	T_CHECK(policy_level_parse("蓝", &lv) == 0 && lv == POLICY_LEVEL_BLUE);
	T_CHECK(policy_level_parse("red", &lv) == 0 && lv == POLICY_LEVEL_RED);
	T_CHECK(policy_level_parse("none", &lv) == 0 && lv == POLICY_LEVEL_NONE);
	T_CHECK(policy_level_parse("purple", &lv) == -1);
	T_CHECK(policy_level_parse("", &lv) == -1);

	T_CHECK(ctl_policy_version_name(0, POLICY_LEVEL_ORANGE, v, sizeof(v)) == 0);
	T_STREQ(v, "1970-01-01T00:00:00.000Z-orange");
	T_CHECK(ctl_policy_version_name(1795867200123LL, POLICY_LEVEL_NONE, v,
	    sizeof(v)) == 0);
	T_STREQ(v, "2026-11-28T12:00:00.123Z-none");
	T_CHECK(ctl_policy_version_name(0, POLICY_LEVEL_RED, small, sizeof(small)) == -1);

	T_CHECK(ctl_policy_fate(0, 0, 0) == CTL_POLICY_NEW);
	T_CHECK(ctl_policy_fate(1, 1, 1) == CTL_POLICY_CURRENT);
	T_CHECK(ctl_policy_fate(1, 1, 0) == CTL_POLICY_OLD);
	T_CHECK(ctl_policy_fate(1, 0, 1) == CTL_POLICY_CONFLICT);
	T_CHECK(ctl_policy_fate(1, 0, 0) == CTL_POLICY_CONFLICT);
}

static void
test_audit_checks(void)
{
	char	buf[1024];
	int	i;

	T_CHECK(audit_valid_topic_id("sh-baoshan"));
	T_CHECK(audit_valid_topic_id("in_1"));
	T_CHECK(!audit_valid_topic_id("In-1"));
	T_CHECK(!audit_valid_topic_id("-in"));
	T_CHECK(!audit_valid_topic_id("a/b"));
	T_CHECK(!audit_valid_topic_id("+"));
	T_CHECK(!audit_valid_topic_id(""));
	T_CHECK(!audit_valid_topic_id(NULL));
	T_CHECK(audit_valid_topic_id("abcdefghijabcdefghijabcdefghij12"));	/* 32 */
	T_CHECK(!audit_valid_topic_id("abcdefghijabcdefghijabcdefghij123"));

	T_CHECK(audit_valid_actor("op.zhang"));
	T_CHECK(audit_valid_actor("ldap:ZHANG_3-x"));
	T_CHECK(!audit_valid_actor("张三"));
	T_CHECK(!audit_valid_actor("op zhang"));
	T_CHECK(!audit_valid_actor(""));
	T_CHECK(!audit_valid_actor(NULL));

	T_CHECK(audit_valid_reason("应急运输车辆，已核验审批单"));
	T_CHECK(!audit_valid_reason(""));
	T_CHECK(!audit_valid_reason("line\nbreak"));
	T_CHECK(!audit_valid_reason("\xc0\xaf"));		/* overlong '/' */
	T_CHECK(!audit_valid_reason("\xed\xa0\x80"));		/* surrogate */
	T_CHECK(!audit_valid_reason("\xe4\xb8"));		/* truncated */
	/* 200 Chinese characters (600 bytes) fit, 201 do not. */
	for (i = 0; i < 200; i++)
		memcpy(buf + i * 3, "红", 3);
	buf[600] = '\0';
	T_CHECK(audit_valid_reason(buf));
	memcpy(buf + 600, "红", 4);
	T_CHECK(!audit_valid_reason(buf));
}

static void
test_audit_event(void)
{
	struct audit_event	 e;
	json_t			*d;
	char			*s, err[256];

	d = json_pack("{s:s}", "version", "v2");
	memset(&e, 0, sizeof(e));
	e.site = "sh-baoshan";
	e.actor = "op.zhang";
	e.action = "policy.load";
	e.target = "policy/v2";
	e.reason = "冬季方案";
	e.details = d;
	s = audit_event_json(&e, "01937a4e-9101-7abc-8def-0123456789ab", 1795867200123LL,
	    err, sizeof(err));
	T_REQUIRE(s != NULL);
	T_STREQ(s, "{\"actor\":{\"kind\":\"operator\",\"id\":\"op.zhang\"},"
	    "\"schema\":\"ecogate.audit.v1\","
	    "\"event_id\":\"01937a4e-9101-7abc-8def-0123456789ab\","
	    "\"ts\":\"2026-11-28T12:00:00.123Z\",\"site\":\"sh-baoshan\","
	    "\"action\":\"policy.load\",\"target\":\"policy/v2\","
	    "\"reason\":\"冬季方案\",\"details\":{\"version\":\"v2\"}}");
	free(s);

	e.actor = "张三";
	T_CHECK(audit_event_json(&e, "01937a4e-9101-7abc-8def-0123456789ab", 0, err,
	    sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "operator") != NULL, "%s", err);
	e.actor = "op.zhang";
	e.reason = "";
	T_CHECK(audit_event_json(&e, "01937a4e-9101-7abc-8def-0123456789ab", 0, err,
	    sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "reason") != NULL, "%s", err);
	e.reason = "x";
	e.site = "SH";
	T_CHECK(audit_event_json(&e, "01937a4e-9101-7abc-8def-0123456789ab", 0, err,
	    sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "site") != NULL, "%s", err);
	e.site = "sh";
	T_CHECK(audit_event_json(&e, "not-an-id", 0, err, sizeof(err)) == NULL);
	json_decref(d);
}

static void
test_barrier_command(void)
{
	struct ctl_barrier_req	 r;
	char			*s, err[256];

	memset(&r, 0, sizeof(r));
	r.site = "sh-baoshan";
	r.lane = "in-2";
	r.operator_name = "op.zhang";
	r.reason = "应急运输车辆，已核验审批单";
	s = ctl_barrier_open_json(&r, "01937a4e-9101-7abc-8def-0123456789ab",
	    1795867200123LL, err, sizeof(err));
	T_REQUIRE(s != NULL);
	T_STREQ(s, "{\"schema\":\"ecogate.barrier-command.v1\","
	    "\"cmd_id\":\"01937a4e-9101-7abc-8def-0123456789ab\","
	    "\"site\":\"sh-baoshan\",\"lane\":\"in-2\",\"action\":\"open\","
	    "\"reason\":{\"code\":\"manual.release\",\"text\":\"应急运输车辆，已核验审批单\"},"
	    "\"who\":{\"kind\":\"operator\",\"id\":\"op.zhang\"},"
	    "\"ts\":\"2026-11-28T12:00:00.123Z\",\"expires_ms\":10000}");
	free(s);

	r.lane = "IN/2";
	T_CHECK(ctl_barrier_open_json(&r, "01937a4e-9101-7abc-8def-0123456789ab", 0, err,
	    sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "lane") != NULL, "%s", err);
	r.lane = "in-2";
	r.operator_name = NULL;
	T_CHECK(ctl_barrier_open_json(&r, "01937a4e-9101-7abc-8def-0123456789ab", 0, err,
	    sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "--operator") != NULL, "%s", err);
	r.operator_name = "op";
	r.reason = NULL;
	T_CHECK(ctl_barrier_open_json(&r, "01937a4e-9101-7abc-8def-0123456789ab", 0, err,
	    sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "--reason") != NULL, "%s", err);
}

int
main(void)
{
	test_default_document();
	test_with_level();
	test_invalid_examples();
	test_levels_and_versions();
	test_audit_checks();
	test_audit_event();
	test_barrier_command();
	return T_DONE();
}
