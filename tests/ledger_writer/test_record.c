/*
 * Unit test of the message-to-record mapping (services/ledger-writer/record.c): a
 * passage decision (the schema's valid-full example plus an evidence array) with and
 * without its registry row, an NRMM passage, an audit event, and the malformed
 * messages that must become rejects. Expectations are written out by hand as the
 * canonical JSON docs/ledger.md says the record must carry.
 */
#include <string.h>

#include "gatekit/json.h"
#include "jcs.h"
#include "record.h"
#include "t.h"

static const char passage_msg[] =
    "{\"schema\":\"ecogate.passage-decision.v1\","
    "\"event_id\":\"01937a4e-9001-7abc-8def-0123456789ab\",\"site\":\"sh-baoshan\","
    "\"lane\":\"in-1\",\"direction\":\"in\",\"plate\":\"沪AD12345\","
    "\"colour\":\"green\",\"result\":\"allow\",\"reasons\":[\"registry.hit\","
    "\"alert.orange.allowed\"],\"display\":{\"lines\":[\"沪AD12345\"]},"
    "\"vehicle\":{\"emission_stage\":\"D\",\"fuel\":\"C\",\"vehicle_type\":\"H11\","
    "\"category\":\"external\",\"fleet\":\"上海宝钢物流有限公司\","
    "\"registration_date\":\"2024-03-15\",\"vin\":\"LZZ5CLSB0PA123456\"},"
    "\"alert_level\":\"orange\",\"policy_version\":\"2026-11-28.3\","
    "\"registry\":{\"source\":\"redis\",\"age_ms\":1200},"
    "\"fused\":{\"confidence\":0.95,\"reads\":1,\"read_event_ids\":"
    "[\"01937a4e-8c2b-7d41-9a3e-5f6b7c8d9e02\"]},"
    "\"evidence\":[{\"sha256\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "\",\"role\":\"plate_frame\"},{\"sha256\":\""
    "00000000000000000000000000000000000000000000000000000000000000ff\"}],"
    "\"ts_first_read\":\"2026-11-28T12:00:01.456Z\","
    "\"ts_decided\":\"2026-11-28T12:00:01.702Z\"}";

static char *
canon(const json_t *j)
{
	char	err[128];

	return jcs_canonical(j, NULL, err, sizeof(err));
}

static json_t *
parse(const char *s)
{
	char	err[128];

	return gk_json_parse(s, strlen(s), 1 << 20, err, sizeof(err));
}

static void
test_passage(void)
{
	struct record_source	 src = { "ecogate.passage.v1", 2, 1234 };
	struct record_registry	 reg = { .found = 1, .version = 118,
	    .plate_kind = "52", .engine_no = "E12345", .use_nature = "F",
	    .owner_name = "上海宝钢物流有限公司" };
	struct record		 r;
	struct ledger_item	 it;
	json_t			*m = parse(passage_msg);
	char			 err[128], *s;

	T_REQUIRE(m != NULL);
	T_REQUIRE(record_from_message(&src, m, &r, err, sizeof(err)) == 0);
	T_STREQ(r.kind, "passage");
	T_STREQ(r.ledger, "transport");
	T_STREQ(r.event_id, "01937a4e-9001-7abc-8def-0123456789ab");
	T_STREQ(r.event_ts, "2026-11-28T12:00:01.702Z");
	T_STREQ(r.site, "sh-baoshan");
	T_STREQ(r.plate, "沪AD12345");
	T_STREQ(r.colour, "green");
	T_CHECK(r.nevidence == 2);
	T_STREQ(r.evidence[1].role, "plate_frame");
	T_CHECK(r.evidence[1].sha256[31] == 0xff && r.evidence[0].sha256[0] == 0xaa);
	r.evidence[0].stored = 1;
	T_REQUIRE(record_finish(&r, &reg) == 0);
	s = canon(r.fields);
	T_STREQ(s, "{\"alert_level\":\"orange\",\"direction\":\"in\","
	    "\"emission_stage\":\"D\",\"engine_no\":\"E12345\","
	    "\"fleet\":\"上海宝钢物流有限公司\",\"fuel\":\"C\",\"lane\":\"in-1\","
	    "\"owner\":\"上海宝钢物流有限公司\",\"photos\":[\""
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\""
	    "00000000000000000000000000000000000000000000000000000000000000ff\"],"
	    "\"plate\":\"沪AD12345\",\"plate_colour\":\"green\",\"plate_kind\":\"52\","
	    "\"policy_version\":\"2026-11-28.3\",\"reasons\":[\"registry.hit\","
	    "\"alert.orange.allowed\"],\"registration_date\":\"2024-03-15\","
	    "\"registry_age_ms\":1200,\"registry_source\":\"redis\","
	    "\"result\":\"allow\",\"time\":\"2026-11-28T12:00:01.702Z\","
	    "\"ts_decided\":\"2026-11-28T12:00:01.702Z\","
	    "\"ts_first_read\":\"2026-11-28T12:00:01.456Z\",\"use_nature\":\"F\","
	    "\"vehicle_type\":\"H11\",\"vin\":\"LZZ5CLSB0PA123456\"}");
	free(s);
	s = canon(r.evidence_json);
	T_STREQ(s, "[{\"role\":\"plate_frame\",\"sha256\":\""
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	    "\"status\":\"stored\"},{\"role\":\"plate_frame\",\"sha256\":\""
	    "00000000000000000000000000000000000000000000000000000000000000ff\","
	    "\"status\":\"missing\"}]");
	free(s);
	s = canon(r.registry);
	T_STREQ(s, "{\"version\":118}");
	free(s);
	s = canon(r.source);
	T_STREQ(s, "{\"offset\":1234,\"partition\":2,\"topic\":\"ecogate.passage.v1\"}");
	free(s);
	T_CHECK(r.event == m);
	record_item(&r, &it);
	T_STREQ(it.kind, "passage");
	T_STREQ(it.lane, "in-1");
	T_CHECK(it.fields == r.fields && it.event == m);

	/* No registry row: nothing from it, no registry member. */
	T_REQUIRE(record_finish(&r, NULL) == 0);
	T_CHECK(r.registry == NULL);
	T_CHECK(json_object_get(r.fields, "engine_no") == NULL);
	T_CHECK(json_object_get(r.fields, "vin") != NULL);
	record_clear(&r);
	json_decref(m);
}

static void
test_nrmm(void)
{
	struct record_source	 src = { "ecogate.passage.v1", 0, 5 };
	struct record_registry	 reg = { .found = 1, .version = 7,
	    .nrmm_reg_code = "沪NRMM0001", .nrmm_produced_on = "2021-05-01",
	    .nrmm_pin = "PIN123", .nrmm_machine_type = "loader" };
	struct record		 r;
	char			 err[128], *s;
	json_t			*m = parse("{\"schema\":\"ecogate.passage-decision.v1\","
	    "\"event_id\":\"01937a4e-9001-7abc-8def-0123456789ac\",\"site\":\"p1\","
	    "\"lane\":\"out-2\",\"direction\":\"out\",\"plate\":\"沪NRMM0001\","
	    "\"colour\":\"other\",\"result\":\"deny\",\"reasons\":[\"x\"],"
	    "\"vehicle\":{\"category\":\"nrmm\",\"emission_stage\":\"X\"},"
	    "\"registry\":{\"source\":\"none\"},"
	    "\"ts_first_read\":\"2026-11-28T12:00:01Z\","
	    "\"ts_decided\":\"2026-11-28T12:00:02+08:00\"}");

	T_REQUIRE(record_from_message(&src, m, &r, err, sizeof(err)) == 0);
	T_STREQ(r.ledger, "machinery");
	T_CHECK(r.nevidence == 0);
	T_REQUIRE(record_finish(&r, &reg) == 0);
	s = canon(r.fields);
	T_STREQ(s, "{\"direction\":\"out\",\"emission_stage\":\"X\",\"lane\":\"out-2\","
	    "\"machine_code\":\"PIN123\",\"machine_type\":\"loader\","
	    "\"plate\":\"沪NRMM0001\",\"plate_colour\":\"other\","
	    "\"production_date\":\"2021-05-01\",\"reasons\":[\"x\"],"
	    "\"reg_code\":\"沪NRMM0001\",\"registry_source\":\"none\","
	    "\"result\":\"deny\",\"time\":\"2026-11-28T12:00:02+08:00\","
	    "\"ts_decided\":\"2026-11-28T12:00:02+08:00\","
	    "\"ts_first_read\":\"2026-11-28T12:00:01Z\"}");
	free(s);
	s = canon(r.evidence_json);
	T_STREQ(s, "[]");
	free(s);
	record_clear(&r);
	json_decref(m);

	m = parse("{\"schema\":\"ecogate.passage-decision.v1\","
	    "\"event_id\":\"01937a4e-9001-7abc-8def-0123456789ad\",\"site\":\"p1\","
	    "\"lane\":\"in-1\",\"direction\":\"in\",\"plate\":\"沪A1\","
	    "\"colour\":\"blue\",\"result\":\"allow\","
	    "\"vehicle\":{\"category\":\"own_fleet\"},"
	    "\"ts_decided\":\"2026-11-28T12:00:02Z\"}");
	T_REQUIRE(record_from_message(&src, m, &r, err, sizeof(err)) == 0);
	T_STREQ(r.ledger, "fleet");
	record_clear(&r);
	json_decref(m);
}

static void
test_audit(void)
{
	struct record_source	 src = { "ecogate.audit.v1", 0, 9 };
	struct record		 r;
	char			 err[128], *s;
	json_t			*m = parse("{\"schema\":\"ecogate.audit.v1\","
	    "\"event_id\":\"01937a4e-9101-7abc-8def-0123456789ab\","
	    "\"ts\":\"2026-11-28T20:06:30.120Z\",\"site\":\"sh-baoshan\","
	    "\"actor\":{\"kind\":\"operator\",\"id\":\"op.zhang\"},"
	    "\"action\":\"barrier.open\",\"target\":\"lane/in-1\","
	    "\"reason\":\"司机证件已人工核验\"}");

	T_REQUIRE(record_from_message(&src, m, &r, err, sizeof(err)) == 0);
	T_STREQ(r.kind, "audit");
	T_CHECK(r.ledger == NULL);
	T_STREQ(r.event_ts, "2026-11-28T20:06:30.120Z");
	T_REQUIRE(record_finish(&r, NULL) == 0);
	s = canon(r.fields);
	T_STREQ(s, "{\"operator\":\"op.zhang\",\"reason\":\"司机证件已人工核验\","
	    "\"time\":\"2026-11-28T20:06:30.120Z\"}");
	free(s);
	T_CHECK(r.evidence_json == NULL && r.registry == NULL);
	record_clear(&r);
	json_decref(m);
}

static void
test_rejects(void)
{
	static const char *const bad[] = {
		"{\"schema\":\"ecogate.plate-read.v1\"}",
		"{\"event_id\":\"01937a4e-9101-7abc-8def-0123456789ab\"}",
		"[1,2]",
		/* passage without ts_decided */
		"{\"schema\":\"ecogate.passage-decision.v1\","
		"\"event_id\":\"01937a4e-9001-7abc-8def-0123456789ab\",\"site\":\"p\","
		"\"lane\":\"in-1\",\"direction\":\"in\",\"plate\":\"A\","
		"\"colour\":\"blue\",\"result\":\"allow\"}",
		/* upper-case id */
		"{\"schema\":\"ecogate.passage-decision.v1\","
		"\"event_id\":\"01937A4E-9001-7abc-8def-0123456789ab\",\"site\":\"p\","
		"\"lane\":\"in-1\",\"direction\":\"in\",\"plate\":\"A\","
		"\"colour\":\"blue\",\"result\":\"allow\","
		"\"ts_decided\":\"2026-11-28T12:00:02Z\"}",
		/* bad direction */
		"{\"schema\":\"ecogate.passage-decision.v1\","
		"\"event_id\":\"01937a4e-9001-7abc-8def-0123456789ab\",\"site\":\"p\","
		"\"lane\":\"in-1\",\"direction\":\"up\",\"plate\":\"A\","
		"\"colour\":\"blue\",\"result\":\"allow\","
		"\"ts_decided\":\"2026-11-28T12:00:02Z\"}",
		/* evidence hash upper case */
		"{\"schema\":\"ecogate.passage-decision.v1\","
		"\"event_id\":\"01937a4e-9001-7abc-8def-0123456789ab\",\"site\":\"p\","
		"\"lane\":\"in-1\",\"direction\":\"in\",\"plate\":\"A\","
		"\"colour\":\"blue\",\"result\":\"allow\","
		"\"evidence\":[{\"sha256\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}],"
		"\"ts_decided\":\"2026-11-28T12:00:02Z\"}",
		/* bad time */
		"{\"schema\":\"ecogate.audit.v1\","
		"\"event_id\":\"01937a4e-9101-7abc-8def-0123456789ab\",\"ts\":\"yesterday\","
		"\"site\":\"p\",\"actor\":{\"id\":\"x\"},\"action\":\"a.b\",\"reason\":\"r\"}",
		/* audit without actor id */
		"{\"schema\":\"ecogate.audit.v1\","
		"\"event_id\":\"01937a4e-9101-7abc-8def-0123456789ab\","
		"\"ts\":\"2026-11-28T12:00:02Z\",\"site\":\"p\",\"actor\":\"x\","
		"\"action\":\"a.b\",\"reason\":\"r\"}",
		/* unknown category */
		"{\"schema\":\"ecogate.passage-decision.v1\","
		"\"event_id\":\"01937a4e-9001-7abc-8def-0123456789ab\",\"site\":\"p\","
		"\"lane\":\"in-1\",\"direction\":\"in\",\"plate\":\"A\","
		"\"colour\":\"blue\",\"result\":\"allow\",\"vehicle\":{\"category\":\"ufo\"},"
		"\"ts_decided\":\"2026-11-28T12:00:02Z\"}",
	};
	struct record_source	 src = { "t", 0, 0 };
	struct record		 r;
	char			 err[128];
	size_t			 i;
	json_t			*m;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = parse(bad[i]);
		T_REQUIRE(m != NULL);
		T_CHECKF(record_from_message(&src, m, &r, err, sizeof(err)) == -1,
		    "bad[%zu] accepted", i);
		T_CHECK(r.event == NULL);
		json_decref(m);
	}
}

int
main(void)
{
	test_passage();
	test_nrmm();
	test_audit();
	test_rejects();
	return T_DONE();
}
