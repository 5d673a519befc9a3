/*
 * Unit test of ledger_csv (services/ecogatectl/ledger_csv.h), the pure half of
 * `ecogatectl ledger export` and `migrate-import`. Every expectation is written by
 * hand from DOMAIN §2 and §6 (headers, code names, yyyymmdd HHmmss in China time),
 * RFC 4180 (quoting) and a Python computation of the import id (hashlib, recorded
 * here as a fixed vector).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jcs.h"
#include "ledger_csv.h"
#include "t.h"

/* 2024-03-01T00:30:00Z, i.e. 2024-03-01 08:30:00 in China. */
#define MS_0830	1709253000000LL
/* Far after every time below: "now" for the import's future check. */
#define NOW	1893456000000LL		/* 2030-01-01T00:00:00Z */

static void
test_local_time(void)
{
	char out[LEDGER_CSV_TS_LEN];

	T_CHECK(ledger_csv_local_time("2024-03-01T00:30:00.000Z", out) == 0);
	T_STREQ(out, "20240301 083000");
	/* 16:00 UTC is the next local day; across a year end too. */
	T_CHECK(ledger_csv_local_time("2023-12-31T16:00:00Z", out) == 0);
	T_STREQ(out, "20240101 000000");
	T_CHECK(ledger_csv_local_time("2024-02-29T15:59:59.999Z", out) == 0);
	T_STREQ(out, "20240229 235959");	/* truncated, never rounded up */
	T_CHECK(ledger_csv_local_time("2024-03-01T08:30:00+08:00", out) == 0);
	T_STREQ(out, "20240301 083000");
	T_CHECK(ledger_csv_local_time("2024-03-01T05:30:00+05:00", out) == 0);
	T_STREQ(out, "20240301 083000");
	T_CHECK(ledger_csv_local_time("1969-12-31T20:00:00Z", out) == 0);
	T_STREQ(out, "19700101 040000");
	T_CHECK(ledger_csv_local_time("20240301 083000", out) == -1);
	T_CHECK(ledger_csv_local_time("", out) == -1);
}

static void
test_day_start(void)
{
	char out[40];

	T_CHECK(ledger_csv_day_start("2024-03-01", 0, out, sizeof(out)) == 0);
	T_STREQ(out, "2024-03-01T00:00:00+08:00");
	T_CHECK(ledger_csv_day_start("20240229", 1, out, sizeof(out)) == 0);
	T_STREQ(out, "2024-03-01T00:00:00+08:00");
	T_CHECK(ledger_csv_day_start("2023-12-31", 1, out, sizeof(out)) == 0);
	T_STREQ(out, "2024-01-01T00:00:00+08:00");
	T_CHECK(ledger_csv_day_start("2023/02/28", 1, out, sizeof(out)) == 0);
	T_STREQ(out, "2023-03-01T00:00:00+08:00");
	T_CHECK(ledger_csv_day_start("2023-02-29", 0, out, sizeof(out)) == -1);
	T_CHECK(ledger_csv_day_start("2024-3-1", 0, out, sizeof(out)) == -1);
	T_CHECK(ledger_csv_day_start("2024-03-01", 0, out, 10) == -1);
}

static void
quote_is(const char *in, const char *want)
{
	char	buf[256];
	size_t	n = ledger_csv_quote(buf, in);

	buf[n] = '\0';
	T_STREQ(buf, want);
}

static void
test_quote(void)
{
	quote_is("沪A12345", "沪A12345");
	quote_is("", "");
	quote_is("a,b", "\"a,b\"");
	quote_is("say \"hi\"", "\"say \"\"hi\"\"\"");
	quote_is("two\nlines", "\"two\nlines\"");
	quote_is("cr\r", "\"cr\r\"");
	quote_is("a;b", "a;b");
	quote_is(" lead", " lead");		/* spaces are data in RFC 4180 */
}

static void
headers_are(int l, const char *const *want, size_t nwant)
{
	const struct ledger_csv_col	*c;
	size_t				 n, i;

	T_REQUIRE((c = ledger_csv_columns(l, &n)) != NULL);
	T_CHECKF(n == nwant, "%s: %zu columns, want %zu", ledger_csv_ledger_name(l), n,
	    nwant);
	for (i = 0; i < n && i < nwant; i++)
		T_STREQ(c[i].header, want[i]);
}

static void
test_headers(void)
{
	static const char *const transport[] = {
		"进出厂时间", "车牌号码", "号牌颜色", "车辆类型", "车辆识别代号(VIN)",
		"发动机号码", "注册日期", "排放阶段", "燃料种类", "使用性质",
		"运输货物名称", "运输量(吨)", "车队名称", "随车清单", "行驶证", "照片",
		"进出方向", "车道", "车辆型号", "通行结果", "原因", "预警级别",
		"事件编号",
	};
	static const char *const fleet[] = {
		"进出厂时间", "车牌号码", "登记编码", "号牌颜色", "车辆类型",
		"车辆识别代号(VIN)", "发动机号码", "注册日期", "排放阶段", "燃料种类",
		"随车清单", "行驶证", "照片", "进出方向", "车道", "通行结果", "原因",
		"事件编号",
	};
	static const char *const machinery[] = {
		"进出厂时间", "登记编码", "生产日期", "排放阶段", "机械代码(PIN)",
		"机械种类", "燃料种类", "所有人", "照片", "车牌号码", "进出方向", "车道",
		"通行结果", "原因", "事件编号",
	};
	static const char *const audit[] = {
		"时间", "操作员", "操作", "对象", "原因", "事件编号",
	};
	size_t n;

	headers_are(LEDGER_CSV_TRANSPORT, transport, sizeof(transport) /
	    sizeof(transport[0]));
	headers_are(LEDGER_CSV_FLEET, fleet, sizeof(fleet) / sizeof(fleet[0]));
	headers_are(LEDGER_CSV_MACHINERY, machinery, sizeof(machinery) /
	    sizeof(machinery[0]));
	headers_are(LEDGER_CSV_AUDIT, audit, sizeof(audit) / sizeof(audit[0]));
	T_CHECK(ledger_csv_ledger("transport") == LEDGER_CSV_TRANSPORT);
	T_CHECK(ledger_csv_ledger("machinery") == LEDGER_CSV_MACHINERY);
	T_CHECK(ledger_csv_ledger("audit") == LEDGER_CSV_AUDIT);
	T_CHECK(ledger_csv_ledger("Transport") == -1);
	T_CHECK(ledger_csv_columns(LEDGER_CSV_NLEDGERS, &n) == NULL);
	T_STREQ(ledger_csv_ledger_title(LEDGER_CSV_MACHINERY), "非道路移动机械");
}

/* The cells of body under ledger l, joined by '|' for one comparison. */
static void
cells_are(int l, const char *body, const char *want)
{
	const struct ledger_csv_col	*c;
	json_t				*b;
	char				 cell[LEDGER_CSV_CELL_MAX], got[4096];
	size_t				 n, i;

	T_REQUIRE((b = json_loads(body, 0, NULL)) != NULL);
	c = ledger_csv_columns(l, &n);
	got[0] = '\0';
	for (i = 0; i < n; i++) {
		T_CHECK(ledger_csv_cell(&c[i], b, cell, sizeof(cell)) == 0);
		if (i > 0)
			strcat(got, "|");
		strcat(got, cell);
	}
	T_STREQ(got, want);
	json_decref(b);
}

static void
test_cells(void)
{
	char	 cell[8];
	json_t	*b;
	size_t	 n;

	cells_are(LEDGER_CSV_TRANSPORT,
	    "{\"schema\":\"ecogate.ledger-record.v1\",\"kind\":\"passage\","
	    "\"ledger\":\"transport\",\"event_id\":\"018df76a-fb40-7000-8000-000000000001\","
	    "\"event_ts\":\"2024-03-01T00:30:00.000Z\",\"fields\":{"
	    "\"time\":\"2024-03-01T00:30:00.000Z\",\"plate\":\"沪A12345\","
	    "\"plate_colour\":\"yellow\",\"vehicle_type\":\"H11\","
	    "\"vin\":\"LZZ1CLSB0KA123456\",\"engine_no\":\"WP10.336E53-1\","
	    "\"registration_date\":\"2018-06-30\",\"emission_stage\":\"5\","
	    "\"fuel\":\"B\",\"use_nature\":\"F\",\"cargo\":\"煤炭, 块\","
	    "\"tonnage\":\"31.5\",\"fleet\":\"上海某运输有限公司\","
	    "\"manifest_ref\":\"aa11\",\"photos\":[\"p1\",\"p2\"],"
	    "\"direction\":\"in\",\"lane\":\"in-1\",\"vehicle_model\":\"ZZ4257\","
	    "\"result\":\"deny\",\"reasons\":[\"emission.stage_below_min\","
	    "\"alert.orange\"],\"alert_level\":\"orange\","
	    "\"registry_age_ms\":1200}}",
	    "20240301 083000|沪A12345|黄|H11|LZZ1CLSB0KA123456|WP10.336E53-1|20180630|5|"
	    "柴油|货运|煤炭, 块|31.5|上海某运输有限公司|aa11||p1;p2|进|in-1|ZZ4257|拒绝|"
	    "emission.stage_below_min;alert.orange|橙色|"
	    "018df76a-fb40-7000-8000-000000000001");
	/* Absent fields are empty cells; the time falls back on event_ts. */
	cells_are(LEDGER_CSV_FLEET,
	    "{\"kind\":\"passage\",\"ledger\":\"fleet\",\"event_id\":\"e\","
	    "\"event_ts\":\"2024-03-01T16:00:00Z\",\"fields\":{\"plate\":\"沪D12345\","
	    "\"plate_colour\":\"green\",\"emission_stage\":\"D\",\"fuel\":\"C\","
	    "\"direction\":\"out\",\"result\":\"allow\",\"reasons\":[\"registry.hit\"],"
	    "\"licence_ref\":\"bb22\"}}",
	    "20240302 000000|沪D12345||绿|||||D|电||bb22||出||放行|registry.hit|e");
	cells_are(LEDGER_CSV_MACHINERY,
	    "{\"kind\":\"import\",\"ledger\":\"machinery\",\"event_id\":\"m\","
	    "\"fields\":{\"time\":\"2024-03-01T01:00:00Z\",\"reg_code\":\"沪MA12345\","
	    "\"production_date\":\"2019-01-02\",\"emission_stage\":\"X\","
	    "\"machine_code\":\"PIN-0001\",\"machine_type\":\"挖掘机\",\"fuel\":\"B\","
	    "\"owner\":\"某工程公司\",\"result\":\"review\"}}",
	    "20240301 090000|沪MA12345|20190102|X|PIN-0001|挖掘机|柴油|某工程公司|||||"
	    "人工审核||m");
	cells_are(LEDGER_CSV_AUDIT,
	    "{\"kind\":\"audit\",\"event_id\":\"a\",\"event_ts\":\"2024-03-01T02:00:00Z\","
	    "\"event\":{\"schema\":\"ecogate.audit.v1\",\"ts\":\"2024-03-01T02:00:00.000Z\","
	    "\"actor\":{\"kind\":\"operator\",\"id\":\"zhang.san\"},"
	    "\"action\":\"barrier.open\",\"target\":\"lane/in-1\",\"reason\":\"道闸故障\"}}",
	    "20240301 100000|zhang.san|barrier.open|lane/in-1|道闸故障|a");
	/* Unknown codes are written as they are, never dropped. */
	cells_are(LEDGER_CSV_AUDIT, "{\"event_id\":\"x\",\"event\":{\"ts\":\"yesterday\"}}",
	    "yesterday|||||x");
	/* A cell that does not fit says so. */
	T_REQUIRE((b = json_loads("{\"event_id\":\"0123456789\"}", 0, NULL)) != NULL);
	T_CHECK(ledger_csv_cell(&ledger_csv_columns(LEDGER_CSV_AUDIT, &n)[5], b, cell,
	    sizeof(cell)) == -1);
	json_decref(b);
}

static void
test_parse_time(void)
{
	int64_t ms;

	T_CHECK(ledger_csv_parse_time("20240301 083000", &ms) == 0 && ms == MS_0830);
	T_CHECK(ledger_csv_parse_time("20240301083000", &ms) == 0 && ms == MS_0830);
	T_CHECK(ledger_csv_parse_time("2024-03-01 08:30:00", &ms) == 0 && ms == MS_0830);
	T_CHECK(ledger_csv_parse_time("2024/3/1 8:30", &ms) == 0 && ms == MS_0830);
	T_CHECK(ledger_csv_parse_time("2024-03-01T08:30", &ms) == 0 && ms == MS_0830);
	T_CHECK(ledger_csv_parse_time("2024-03-01T08:30:00+08:00", &ms) == 0 &&
	    ms == MS_0830);
	T_CHECK(ledger_csv_parse_time("2024-03-01T00:30:00Z", &ms) == 0 &&
	    ms == MS_0830);
	T_CHECK(ledger_csv_parse_time("20240230 083000", &ms) == -1);
	T_CHECK(ledger_csv_parse_time("20240301 246000", &ms) == -1);
	T_CHECK(ledger_csv_parse_time("2024-03-01", &ms) == -1);
	T_CHECK(ledger_csv_parse_time("2024-03/01 08:30", &ms) == -1);
	T_CHECK(ledger_csv_parse_time("2024-03-01 08:30:00.5", &ms) == -1);
	T_CHECK(ledger_csv_parse_time("", &ms) == -1);
}

static void
test_import_id(void)
{
	char	id[GK_ID_LEN], id2[GK_ID_LEN];
	char	sha[65];

	memset(sha, 0, sizeof(sha));
	for (int i = 0; i < 64; i += 2)
		memcpy(sha + i, "ab", 2);
	/* Python: hashlib.sha256(b"ecogate.ledger-import.v1\0plant-1\0" + sha +
	 * b"\0" b"17"), 48-bit ms in front, version 7, variant 10. */
	T_CHECK(ledger_csv_import_id(id, "plant-1", sha, 17, MS_0830) == 0);
	T_STREQ(id, "018df76a-fb40-7d2b-8ff5-dfdbc0842f78");
	T_CHECK(ledger_csv_import_id(id2, "plant-1", sha, 18, MS_0830) == 0);
	T_CHECK(strcmp(id, id2) != 0);
	T_CHECK(ledger_csv_import_id(id2, "plant-2", sha, 17, MS_0830) == 0);
	T_CHECK(strcmp(id, id2) != 0);
	T_CHECK(ledger_csv_import_id(id2, "plant-1", sha, 0, MS_0830) == -1);
	T_CHECK(ledger_csv_import_id(id2, "", sha, 1, MS_0830) == -1);
}

/* Splits a comma-separated line (no quoting) into cells, in place. */
static size_t
split(char *s, char **cells)
{
	size_t n = 0;

	cells[n++] = s;
	for (; *s != '\0'; s++)
		if (*s == ',') {
			*s = '\0';
			cells[n++] = s + 1;
		}
	return n;
}

static void
test_header_read(void)
{
	struct ledger_csv_header	 h;
	char				 line[512], err[256], *cells[64];
	size_t				 n;

	strcpy(line, "进出厂时间, 车牌号 ,号牌颜色,VIN,tonnage,事件编号");
	n = split(line, cells);
	T_CHECK(ledger_csv_header_read(LEDGER_CSV_TRANSPORT, cells, n, &h, err,
	    sizeof(err)) == 0);
	T_CHECK(h.n == 6 && h.col[1] == 1 && h.col[3] == 4 && h.col[4] == 11);
	T_STREQ(h.name[1], "车牌号");
	ledger_csv_header_free(&h);

	strcpy(line, "进出厂时间,车号");
	n = split(line, cells);
	T_CHECK(ledger_csv_header_read(LEDGER_CSV_TRANSPORT, cells, n, &h, err,
	    sizeof(err)) == -1);
	T_STREQ(err, "column 2: unknown column '车号' for the transport ledger");
	ledger_csv_header_free(&h);

	strcpy(line, "时间,车牌号码,号牌号码");
	n = split(line, cells);
	T_CHECK(ledger_csv_header_read(LEDGER_CSV_TRANSPORT, cells, n, &h, err,
	    sizeof(err)) == -1);
	T_STREQ(err, "column 3: '号牌号码' names the same field (车牌号码) as column 2 "
	    "'车牌号码'");
	ledger_csv_header_free(&h);

	strcpy(line, "车牌号码,号牌颜色");
	n = split(line, cells);
	T_CHECK(ledger_csv_header_read(LEDGER_CSV_TRANSPORT, cells, n, &h, err,
	    sizeof(err)) == -1);
	T_STREQ(err, "the header has no column 进出厂时间 (the time of each row)");
	ledger_csv_header_free(&h);

	/* Machinery has no VIN; nobody imports into the audit ledger. */
	strcpy(line, "进出厂时间,VIN");
	n = split(line, cells);
	T_CHECK(ledger_csv_header_read(LEDGER_CSV_MACHINERY, cells, n, &h, err,
	    sizeof(err)) == -1);
	ledger_csv_header_free(&h);
	T_CHECK(ledger_csv_header_read(LEDGER_CSV_AUDIT, cells, 1, &h, err,
	    sizeof(err)) == -1);
	ledger_csv_header_free(&h);
}

/* Reads header and row (plain comma lists) for ledger l; returns the row's rc. */
static int
row_of(int l, const char *header, const char *data, struct ledger_csv_row *row)
{
	struct ledger_csv_header	 h;
	char				 hl[1024], dl[1024], err[256], *hc[64], *dc[64];
	size_t				 nh, nd;
	int				 rc;

	strcpy(hl, header);
	strcpy(dl, data);
	nh = split(hl, hc);
	nd = split(dl, dc);
	T_REQUIRE(ledger_csv_header_read(l, hc, nh, &h, err, sizeof(err)) == 0);
	rc = ledger_csv_row_read(&h, dc, nd, NOW, row);
	ledger_csv_header_free(&h);
	return rc;
}

static void
json_is(const json_t *j, const char *want)
{
	char	err[128];
	char	*s = jcs_canonical(j, NULL, err, sizeof(err));

	T_REQUIRE(s != NULL);
	T_STREQ(s, want);
	free(s);
}

static void
test_row_read(void)
{
	static const char hdr[] = "进出厂时间,车牌号码,号牌颜色,车辆类型,车辆识别代号(VIN),"
	    "发动机号码,注册日期,排放阶段,燃料种类,使用性质,运输货物名称,运输量(吨),"
	    "车队名称,照片,进出方向,车道,通行结果,原因,预警级别,事件编号";
	struct ledger_csv_row row;

	/* The export's own spellings read back as the codes. */
	T_CHECK(row_of(LEDGER_CSV_TRANSPORT, hdr,
	    "20240301 083000,沪A12345,黄,h11,lzz1clsb0ka123456,WP10, 20180630,5,柴油,"
	    "货运,煤炭,031.5,某运输公司,p1; p2,进,in-1,拒绝,a.b;c,橙色,old-17", &row) == 0);
	T_CHECK(row.ms == MS_0830);
	T_STREQ(row.ts, "2024-03-01T00:30:00.000Z");
	json_is(row.fields, "{\"alert_level\":\"orange\",\"cargo\":\"煤炭\","
	    "\"direction\":\"in\",\"emission_stage\":\"5\",\"engine_no\":\"WP10\","
	    "\"fleet\":\"某运输公司\",\"fuel\":\"B\",\"lane\":\"in-1\","
	    "\"photos\":[\"p1\",\"p2\"],\"plate\":\"沪A12345\","
	    "\"plate_colour\":\"yellow\",\"reasons\":[\"a.b\",\"c\"],"
	    "\"registration_date\":\"2018-06-30\",\"result\":\"deny\","
	    "\"time\":\"2024-03-01T00:30:00.000Z\",\"tonnage\":\"31.5\","
	    "\"use_nature\":\"F\",\"vehicle_type\":\"H11\","
	    "\"vin\":\"LZZ1CLSB0KA123456\"}");
	/* The event keeps every cell as written, spaces and empty cells too. */
	T_STREQ(json_string_value(json_object_get(row.event, "注册日期")), " 20180630");
	T_STREQ(json_string_value(json_object_get(row.event, "事件编号")), "old-17");
	T_CHECK(json_object_size(row.event) == 20);
	ledger_csv_row_free(&row);

	/* Excel's time, a tonnage without decimals, a colour code, empty cells. */
	T_CHECK(row_of(LEDGER_CSV_TRANSPORT, "进出厂时间,车牌号码,号牌颜色,运输量(吨),排放阶段",
	    "2024/3/1 8:30,沪A12345,2,30,", &row) == 0);
	json_is(row.fields, "{\"plate\":\"沪A12345\",\"plate_colour\":\"yellow\","
	    "\"time\":\"2024-03-01T00:30:00.000Z\",\"tonnage\":\"30.0\"}");
	ledger_csv_row_free(&row);

	/* Every problem of a bad row, each by its field as the header wrote it. */
	T_CHECK(row_of(LEDGER_CSV_TRANSPORT, "时间,车牌号,车架号,排放阶段,运输量(吨),进出方向",
	    "20290301 083000x,沪A12345,LZZ1CLSB0KA12345O,7,12.34,上", &row) == 1);
	T_CHECK(row.nerr == 5);
	T_STREQ(row.err[0], "field 时间: '20290301 083000x' is not a time (yyyymmdd "
	    "HHmmss, or yyyy-mm-dd HH:mm:ss, China time)");
	T_CHECK(strncmp(row.err[1], "field 车架号: 'LZZ1CLSB0KA12345O': position 17",
	    strlen("field 车架号: 'LZZ1CLSB0KA12345O': position 17")) == 0);
	T_STREQ(row.err[2], "field 排放阶段: '7' is not a stage (0-6, D, X)");
	T_STREQ(row.err[3], "field 运输量(吨): '12.34' is not a tonnage in tonnes with at "
	    "most one decimal (e.g. 31.5)");
	T_STREQ(row.err[4], "field 进出方向: '上' is not a direction (进 or 出)");
	ledger_csv_row_free(&row);

	T_CHECK(row_of(LEDGER_CSV_TRANSPORT, "进出厂时间,车牌号码,排放阶段",
	    "20310101 000000,,X", &row) == 1);
	T_CHECK(row.nerr == 3);
	T_STREQ(row.err[0], "field 进出厂时间: '20310101 000000' is in the future");
	T_STREQ(row.err[1], "field 排放阶段: 'X': X (no stage) is for non-road machinery "
	    "only (0-6 or D)");
	T_STREQ(row.err[2], "field 车牌号码: required");
	ledger_csv_row_free(&row);

	/* A plate that does not fit its colour. */
	T_CHECK(row_of(LEDGER_CSV_TRANSPORT, "进出厂时间,车牌号码,号牌颜色",
	    "20240301 083000,沪A1234,黄", &row) == 1);
	T_CHECK(row.nerr == 1 && strncmp(row.err[0], "field 车牌号码: '沪A1234'",
	    strlen("field 车牌号码: '沪A1234'")) == 0);
	ledger_csv_row_free(&row);

	T_CHECK(row_of(LEDGER_CSV_TRANSPORT, "进出厂时间,车牌号码", "20240301 083000",
	    &row) == 1);
	T_STREQ(row.err[0], "1 fields, the header has 2");
	ledger_csv_row_free(&row);

	/* Machinery: X is a stage there, and the plate is free text. */
	T_CHECK(row_of(LEDGER_CSV_MACHINERY, "进出厂时间,登记编码,生产日期,排放阶段,"
	    "机械代码(PIN),车牌号码", "2024-03-01 09:00:00,沪MA12345,2019-01-02,无,"
	    "PIN-1,环保号牌1", &row) == 0);
	json_is(row.fields, "{\"emission_stage\":\"X\",\"machine_code\":\"PIN-1\","
	    "\"plate\":\"环保号牌1\",\"production_date\":\"2019-01-02\","
	    "\"reg_code\":\"沪MA12345\",\"time\":\"2024-03-01T01:00:00.000Z\"}");
	ledger_csv_row_free(&row);
	T_CHECK(row_of(LEDGER_CSV_MACHINERY, "进出厂时间,所有人",
	    "2024-03-01 09:00:00,某公司", &row) == 1);
	T_STREQ(row.err[0], "field 登记编码: required (or 机械代码(PIN))");
	ledger_csv_row_free(&row);
}

static void
test_reader(void)
{
	static const char data[] =
	    "\xef\xbb\xbf" "a,b,c\r\n"
	    "1,\"x, \"\"y\"\"\nz\",3\r\n"
	    "\r\n"
	    "4,\"bad\"x,6\n"
	    "7,8\"9,10\n"
	    "last,,";
	struct ledger_csv_reader	 r;
	char				 msg[256];
	FILE				*fp;

	T_REQUIRE((fp = fmemopen((void *)(uintptr_t)data, sizeof(data) - 1, "rb")) !=
	    NULL);
	ledger_csv_reader_init(&r, fp);
	T_CHECK(ledger_csv_read(&r, msg, sizeof(msg)) == 1);
	T_CHECK(r.rline == 1 && r.n == 3);
	T_STREQ(r.f[0], "a");		/* the BOM is not part of the first header */
	T_STREQ(r.f[2], "c");
	T_CHECK(ledger_csv_read(&r, msg, sizeof(msg)) == 1);
	T_CHECK(r.rline == 2 && r.n == 3);
	T_STREQ(r.f[1], "x, \"y\"\nz");
	T_STREQ(r.f[2], "3");
	T_CHECK(ledger_csv_read(&r, msg, sizeof(msg)) == 1);	/* the blank line */
	T_CHECK(r.rline == 4 && r.n == 1 && r.f[0][0] == '\0');
	T_CHECK(ledger_csv_read(&r, msg, sizeof(msg)) == -1);
	T_CHECK(r.rline == 5);
	T_STREQ(msg, "text after a closing quote (a quote inside a quoted field must be "
	    "doubled)");
	T_CHECK(ledger_csv_read(&r, msg, sizeof(msg)) == -1);
	T_CHECK(r.rline == 6);
	T_STREQ(msg, "'\"' inside an unquoted field (quote the whole field)");
	T_CHECK(ledger_csv_read(&r, msg, sizeof(msg)) == 1);
	T_CHECK(r.rline == 7 && r.n == 3);
	T_STREQ(r.f[0], "last");
	T_CHECK(ledger_csv_read(&r, msg, sizeof(msg)) == 0);
	ledger_csv_reader_free(&r);
	fclose(fp);
}

int
main(void)
{
	test_local_time();
	test_day_start();
	test_quote();
	test_headers();
	test_cells();
	test_parse_time();
	test_import_id();
	test_header_read();
	test_row_read();
	test_reader();
	return T_DONE();
}
