/*
 * Unit test of the registry CSV reader (services/ecogatectl/registry_csv.c): RFC 4180
 * quoting, the byte order mark, Chinese and English headers, the canonical values the
 * rows come out with, and the exact message for every kind of bad row or bad header.
 * Every expectation below is written by hand from the file the test feeds in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_csv.h"
#include "t.h"

static int
parse(const char *text, struct registry_file *f, char *err, size_t errlen)
{
	return registry_csv_parse("t.csv", text, strlen(text), f, err, errlen);
}

/* The value of column c in good row i, "(null)" for NULL, "(no row)" past the end. */
static const char *
val(const struct registry_file *f, size_t i, enum registry_col c)
{
	if (i >= f->nrows)
		return "(no row)";
	return f->rows[i].v[c] != NULL ? f->rows[i].v[c] : "(null)";
}

/* 1 when some message equals want exactly. */
static int
has_error(const struct registry_file *f, const char *want)
{
	size_t i;

	for (i = 0; i < f->nerrors; i++)
		if (strcmp(f->errors[i], want) == 0)
			return 1;
	fprintf(stderr, "missing message: %s\n  have:\n", want);
	for (i = 0; i < f->nerrors; i++)
		fprintf(stderr, "    %s\n", f->errors[i]);
	return 0;
}

static void
test_english_quoting(void)
{
	struct registry_file	 f;
	char			 err[512];
	/* BOM, CRLF, a quoted comma, doubled quotes, a line break inside a field. */
	const char *text =
	    "\xef\xbb\xbfplate,plate_colour,fleet_name,note\r\n"
	    "沪A12345,blue,\"Acme, Ltd\",\"say \"\"hi\"\"\"\r\n"
	    "沪B54321,yellow,Trans,\"two\nlines\"\r\n"
	    "\r\n"
	    "  沪c 77777 , 2 ,, \r\n";

	T_REQUIRE(parse(text, &f, err, sizeof(err)) == 0);
	T_CHECKF(f.nrows == 3, "%zu rows", f.nrows);
	T_CHECK(f.nbad == 0 && f.nerrors == 0);
	T_CHECK(f.nrecords == 3);
	T_STREQ(val(&f, 0, REGISTRY_PLATE), "沪A12345");
	T_STREQ(val(&f, 0, REGISTRY_PLATE_COLOUR), "blue");
	T_STREQ(val(&f, 0, REGISTRY_PLATE_KIND), "02");
	T_STREQ(val(&f, 0, REGISTRY_FLEET_NAME), "Acme, Ltd");
	T_STREQ(val(&f, 0, REGISTRY_NOTE), "say \"hi\"");
	T_CHECK(f.rows[0].line == 2);
	T_STREQ(val(&f, 1, REGISTRY_NOTE), "two\nlines");
	T_STREQ(val(&f, 1, REGISTRY_PLATE_KIND), "01");
	T_CHECK(f.rows[1].line == 3);
	/* The record after the two-line one starts on line 6 (line 5 is blank). */
	T_CHECKF(f.rows[2].line == 6, "line %d", f.rows[2].line);
	T_STREQ(val(&f, 2, REGISTRY_PLATE), "沪C77777");
	T_STREQ(val(&f, 2, REGISTRY_PLATE_COLOUR), "yellow");	/* JT/T 697.7 code 2 */
	T_STREQ(val(&f, 2, REGISTRY_FLEET_NAME), "(null)");
	T_STREQ(val(&f, 2, REGISTRY_VIN), "(null)");
	T_CHECK(f.present & (1u << REGISTRY_NOTE));
	T_CHECK(f.present & (1u << REGISTRY_PLATE_KIND));
	T_CHECK(!(f.present & (1u << REGISTRY_VIN)));
	registry_file_free(&f);
}

static void
test_chinese_header(void)
{
	struct registry_file	 f;
	char			 err[512];
	/* No BOM, LF only, no final line break. */
	const char *text =
	    "车牌号码,号牌颜色,类别,车辆识别代号（VIN）,注册日期,燃料种类,排放阶段,"
	    "排放阶段依据,使用性质,车辆类型,名单,名单原因,豁免类型,失效日期\n"
	    "沪a·12345,黄色,外部,lzz5elnd8kw100231,20190814,柴油,国六b,随车清单,货运,"
	    "q11,,,,\n"
	    "沪AD12345,绿,自有,,2023/05/20,纯电,电动,信息公开,A,H41,豁免,保供,民生保障,"
	    "2030-12-31\n"
	    "沪EA3021,其他,非道路移动机械,,,柴油,国Ⅲ,推定,,J11,黑名单,冒黑烟,,";

	T_REQUIRE(parse(text, &f, err, sizeof(err)) == 0);
	T_CHECKF(f.nrows == 3 && f.nbad == 0, "%zu rows, %zu bad", f.nrows, f.nbad);
	T_STREQ(val(&f, 0, REGISTRY_PLATE), "沪A12345");
	T_STREQ(val(&f, 0, REGISTRY_PLATE_COLOUR), "yellow");
	T_STREQ(val(&f, 0, REGISTRY_CATEGORY), "external");
	T_STREQ(val(&f, 0, REGISTRY_VIN), "LZZ5ELND8KW100231");
	T_STREQ(val(&f, 0, REGISTRY_REGISTERED_ON), "2019-08-14");
	T_STREQ(val(&f, 0, REGISTRY_FUEL_TYPE), "B");
	T_STREQ(val(&f, 0, REGISTRY_EMISSION_STAGE), "6");
	T_STREQ(val(&f, 0, REGISTRY_EMISSION_SOURCE), "manifest");
	T_STREQ(val(&f, 0, REGISTRY_USE_NATURE), "F");
	T_STREQ(val(&f, 0, REGISTRY_VEHICLE_TYPE), "Q11");
	T_STREQ(val(&f, 0, REGISTRY_LIST), "(null)");

	T_STREQ(val(&f, 1, REGISTRY_PLATE_COLOUR), "green");
	T_STREQ(val(&f, 1, REGISTRY_PLATE_KIND), "52");
	T_STREQ(val(&f, 1, REGISTRY_CATEGORY), "own_fleet");
	T_STREQ(val(&f, 1, REGISTRY_REGISTERED_ON), "2023-05-20");
	T_STREQ(val(&f, 1, REGISTRY_FUEL_TYPE), "C");
	T_STREQ(val(&f, 1, REGISTRY_EMISSION_STAGE), "D");
	T_STREQ(val(&f, 1, REGISTRY_EMISSION_SOURCE), "lookup");
	T_STREQ(val(&f, 1, REGISTRY_LIST), "exemption");
	T_STREQ(val(&f, 1, REGISTRY_LIST_REASON), "保供");
	T_STREQ(val(&f, 1, REGISTRY_EXEMPTION_KIND), "livelihood");
	T_STREQ(val(&f, 1, REGISTRY_LIST_VALID_TO), "2030-12-31");

	/* NRMM: free-form plate, colour other, no plate kind. */
	T_STREQ(val(&f, 2, REGISTRY_PLATE), "沪EA3021");
	T_STREQ(val(&f, 2, REGISTRY_PLATE_COLOUR), "other");
	T_STREQ(val(&f, 2, REGISTRY_PLATE_KIND), "(null)");
	T_STREQ(val(&f, 2, REGISTRY_CATEGORY), "nrmm");
	T_STREQ(val(&f, 2, REGISTRY_EMISSION_STAGE), "3");
	T_STREQ(val(&f, 2, REGISTRY_EMISSION_SOURCE), "inferred");
	T_STREQ(val(&f, 2, REGISTRY_LIST), "blacklist");
	registry_file_free(&f);
}

static void
test_yes_no_columns(void)
{
	struct registry_file	 f;
	char			 err[512];
	const char *text =
	    "车牌号码,号牌颜色,黑名单,白名单,原因\n"
	    "沪A12345,蓝,是,否,超标\n"
	    "沪A12346,蓝,,y,自有\n"
	    "沪A12347,蓝,是,是,两个\n"
	    "沪A12348,蓝,也许,,x\n";

	T_REQUIRE(parse(text, &f, err, sizeof(err)) == 0);
	T_CHECKF(f.nrows == 2 && f.nbad == 2, "%zu rows, %zu bad", f.nrows, f.nbad);
	T_STREQ(val(&f, 0, REGISTRY_LIST), "blacklist");
	T_STREQ(val(&f, 1, REGISTRY_LIST), "whitelist");
	T_CHECK(has_error(&f, "t.csv:4: field 白名单: the row is already on the "
	    "blacklist"));
	T_CHECK(has_error(&f, "t.csv:5: field 黑名单: '也许' is not yes or no (是/否)"));
	registry_file_free(&f);
}

static void
test_bad_rows(void)
{
	struct registry_file	 f;
	char			 err[512];
	const char *text =
	    "车牌号码,号牌颜色,车辆识别代号(VIN),注册日期,排放阶段,排放阶段依据,燃料种类,"
	    "车辆类型,使用性质,类别,名单,名单原因,豁免类型,审批编号\n"
	    /* 2: good */
	    "沪A12345,黄,,,6,随车清单,B,H11,F,,,,,\n"
	    /* 3: stage */
	    "沪A12346,黄,,,Y,随车清单,,,,,,,,\n"
	    /* 4: VIN length and a date, both reported */
	    "沪A12347,黄,LZZ5ELND8KW10023,2019-02-30,,,,,,,,,,\n"
	    /* 5: VIN letter O */
	    "沪A12348,黄,LZZ5ELND8KW1O0231,,,,,,,,,,,\n"
	    /* 6: colour */
	    "沪A12349,紫,,,,,,,,,,,,\n"
	    /* 7: plate does not fit the colour (blue is a small plate, 挂 is yellow) */
	    "沪A1234挂,蓝,,,,,,,,,,,,\n"
	    /* 8: plate with I in the serial that normalisation makes 1 is fine, */
	    /*    a bad province is not */
	    "X A12345,黄,,,,,,,,,,,,\n"
	    /* 9: stage without source */
	    "沪A12350,黄,,,5,,,,,,,,,\n"
	    /* 10: fuel, type, use, category */
	    "沪A12351,黄,,,,,煤,HH1,货,外星,,,,\n"
	    /* 11: exemption without kind, approval without list on 12 */
	    "沪A12352,黄,,,,,,,,,豁免,保供,,\n"
	    "沪A12353,黄,,,,,,,,,,,,A-1\n"
	    /* 13: list without reason */
	    "沪A12354,黄,,,,,,,,,黑名单,,,\n"
	    /* 14: plate missing, 15: colour missing */
	    ",黄,,,,,,,,,,,,\n"
	    "沪A12355,,,,,,,,,,,,,\n"
	    /* 16: too few fields */
	    "沪A12356,黄\n"
	    /* 17: the same vehicle as line 2 (after normalisation) */
	    "沪a12345,yellow,,,,,,,,,,,,\n"
	    /* 18: a stray quote, 19: good again */
	    "沪A12357,黄,ab\"c,,,,,,,,,,,\n"
	    "沪A12358,黄,,,,,,,,,,,,\n";

	T_REQUIRE(parse(text, &f, err, sizeof(err)) == 0);
	T_CHECKF(f.nrows == 2, "%zu rows", f.nrows);
	T_CHECKF(f.nbad == 16, "%zu bad", f.nbad);
	T_CHECK(f.nrecords == 18);
	T_STREQ(val(&f, 0, REGISTRY_PLATE), "沪A12345");
	T_STREQ(val(&f, 1, REGISTRY_PLATE), "沪A12358");
	T_CHECK(has_error(&f, "t.csv:3: field 排放阶段: 'Y' is not a stage (0-6, D, X)"));
	T_CHECK(has_error(&f, "t.csv:4: field 车辆识别代号(VIN): 'LZZ5ELND8KW10023' "
	    "has 16 characters, a VIN has 17"));
	T_CHECK(has_error(&f, "t.csv:4: field 注册日期: '2019-02-30' is not a date "
	    "(yyyy-mm-dd or yyyymmdd)"));
	T_CHECK(has_error(&f, "t.csv:5: field 车辆识别代号(VIN): 'LZZ5ELND8KW1O0231': "
	    "position 13: 'O' is not allowed in a VIN (digits and A-Z without I, O, Q)"));
	T_CHECK(has_error(&f, "t.csv:6: field 号牌颜色: '紫' is not a plate colour (蓝 "
	    "黄 绿 黄绿 白 黑 其他, blue yellow green yellow_green white black other, or "
	    "a JT/T 697.7 code)"));
	T_CHECK(f.nerrors > 0);
	{
		/* The plate module words the reason; we check file, line and field. */
		size_t i;
		int n7 = 0, n8 = 0;

		for (i = 0; i < f.nerrors; i++) {
			if (strncmp(f.errors[i], "t.csv:7: field 车牌号码: '沪A1234挂': ",
			    strlen("t.csv:7: field 车牌号码: '沪A1234挂': ")) == 0)
				n7++;
			if (strncmp(f.errors[i], "t.csv:8: field 车牌号码: 'X A12345': ",
			    strlen("t.csv:8: field 车牌号码: 'X A12345': ")) == 0)
				n8++;
		}
		T_CHECK(n7 == 1);
		T_CHECK(n8 == 1);
	}
	T_CHECK(has_error(&f, "t.csv:9: field 排放阶段: a stage needs its evidence in "
	    "column 排放阶段依据 (emission_source: manifest, lookup, platform, "
	    "inferred)"));
	T_CHECK(has_error(&f, "t.csv:10: field 燃料种类: '煤' is not a fuel (A-F, L-O, "
	    "Y, Z or 汽油 柴油 电 天然气 ...)"));
	T_CHECK(has_error(&f, "t.csv:10: field 车辆类型: 'HH1' is not a vehicle type "
	    "code (a letter and two digits, e.g. H11, Q11)"));
	T_CHECK(has_error(&f, "t.csv:10: field 使用性质: '货' is not a 使用性质 (one "
	    "letter A-Z, or 非营运 货运 危化品运输 ...)"));
	T_CHECK(has_error(&f, "t.csv:10: field 类别: '外星' is not a category (external "
	    "外部, own_fleet 自有, nrmm 非道路移动机械)"));
	T_CHECK(has_error(&f, "t.csv:11: field 名单: an exemption needs its kind "
	    "(豁免类型)"));
	T_CHECK(has_error(&f, "t.csv:12: field 审批编号: given without a list (名单)"));
	T_CHECK(has_error(&f, "t.csv:13: field 名单: a list entry needs a reason "
	    "(名单原因)"));
	T_CHECK(has_error(&f, "t.csv:14: field 车牌号码: required"));
	T_CHECK(has_error(&f, "t.csv:15: field 号牌颜色: required"));
	T_CHECK(has_error(&f, "t.csv:16: 2 fields, the header has 14"));
	T_CHECK(has_error(&f, "t.csv:17: field 车牌号码: 沪A12345 (yellow) is already "
	    "given on line 2"));
	T_CHECK(has_error(&f, "t.csv:18: '\"' inside an unquoted field (quote the "
	    "whole field)"));
	registry_file_free(&f);
}

static void
test_quote_errors(void)
{
	struct registry_file	 f;
	char			 err[512];

	T_REQUIRE(parse("plate,plate_colour\n\"沪A12345\"x,blue\n沪A12346,blue\n"
	    "\"沪A12347,blue\n", &f, err, sizeof(err)) == 0);
	T_CHECK(f.nrows == 1 && f.nbad == 2);
	T_CHECK(has_error(&f, "t.csv:2: text after a closing quote (a quote inside a "
	    "quoted field must be doubled)"));
	T_CHECK(has_error(&f, "t.csv:4: quoted field not closed before the end of the "
	    "file"));
	T_STREQ(val(&f, 0, REGISTRY_PLATE), "沪A12346");
	registry_file_free(&f);
}

static void
test_bad_headers(void)
{
	struct registry_file	 f;
	char			 err[512];

	T_CHECK(parse("车牌号码,号牌颜色,车身颜色\n沪A12345,蓝,红\n", &f, err,
	    sizeof(err)) == -1);
	T_STREQ(err, "t.csv:1: column 3: unknown column '车身颜色'");
	T_CHECK(f.nrows == 0 && f.rows == NULL);

	T_CHECK(parse("plate,车牌号码,plate_colour\n", &f, err, sizeof(err)) == -1);
	T_STREQ(err, "t.csv:1: column 2: '车牌号码' names the same field (plate) as "
	    "column 1 'plate'");

	T_CHECK(parse("plate,vin\n沪A12345,\n", &f, err, sizeof(err)) == -1);
	T_STREQ(err, "t.csv:1: the header has no column 号牌颜色 (plate_colour)");
	T_CHECK(parse("vin\n", &f, err, sizeof(err)) == -1);
	T_STREQ(err, "t.csv:1: the header has no column 车牌号码 (plate) and no column "
	    "号牌颜色 (plate_colour)");

	T_CHECK(parse("", &f, err, sizeof(err)) == -1);
	T_STREQ(err, "t.csv: empty file, no header");

	T_CHECK(parse("\xef\xbb\xbf\n\n", &f, err, sizeof(err)) == -1);
	T_STREQ(err, "t.csv: empty file, no header");

	T_CHECK(parse("plate,\"plate_colour\n", &f, err, sizeof(err)) == -1);
	T_STREQ(err, "t.csv:1: header: quoted field not closed before the end of the "
	    "file");

	/* A header alone is a valid, empty registry file. */
	T_CHECK(parse("plate,plate_colour\r\n", &f, err, sizeof(err)) == 0);
	T_CHECK(f.nrows == 0 && f.nbad == 0);
	registry_file_free(&f);
}

static void
test_values(void)
{
	char	out[64], msg[REGISTRY_ERR_MAX], kind[3];
	struct {
		enum registry_col	 c;
		const char		*in, *want;	/* want NULL: refused */
	} cases[] = {
		{ REGISTRY_EMISSION_STAGE, "0", "0" },
		{ REGISTRY_EMISSION_STAGE, "国0", "0" },
		{ REGISTRY_EMISSION_STAGE, "国IV", "4" },
		{ REGISTRY_EMISSION_STAGE, "国Ⅴ", "5" },
		{ REGISTRY_EMISSION_STAGE, "国6a", "6" },
		{ REGISTRY_EMISSION_STAGE, "x", "X" },
		{ REGISTRY_EMISSION_STAGE, "无", "X" },
		{ REGISTRY_EMISSION_STAGE, "7", NULL },
		{ REGISTRY_EMISSION_STAGE, "6a", NULL },
		{ REGISTRY_EMISSION_STAGE, "国七", NULL },
		{ REGISTRY_PLATE_COLOUR, "黄绿色", "yellow_green" },
		{ REGISTRY_PLATE_COLOUR, "Yellow-Green", "yellow_green" },
		{ REGISTRY_PLATE_COLOUR, "93", "yellow_green" },
		{ REGISTRY_PLATE_COLOUR, "1", "blue" },
		{ REGISTRY_PLATE_COLOUR, "0", NULL },	/* unplated */
		{ REGISTRY_PLATE_COLOUR, "8", NULL },
		{ REGISTRY_FUEL_TYPE, "e", "E" },
		{ REGISTRY_FUEL_TYPE, "LNG", "E" },
		{ REGISTRY_FUEL_TYPE, "G", NULL },
		{ REGISTRY_REGISTERED_ON, "20240229", "2024-02-29" },
		{ REGISTRY_REGISTERED_ON, "20230229", NULL },
		{ REGISTRY_REGISTERED_ON, "2023-1-5", NULL },
		{ REGISTRY_ENGINE_NO, "123456789012345678901234567890123", NULL },
		{ REGISTRY_ENGINE_NO, "12345678901234567890123456789012",
		    "12345678901234567890123456789012" },
		{ REGISTRY_PLATE_KIND, "5", NULL },
		{ REGISTRY_USE_NATURE, "危化品运输", "R" },
		{ REGISTRY_EXEMPTION_KIND, "应急运输", "emergency_transport" },
		{ REGISTRY_FLEET_NAME, "bad\x01name", NULL },
		{ REGISTRY_FLEET_NAME, "\xc0\xaf", NULL },	/* overlong '/' */
	};
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = registry_value(cases[i].c, cases[i].in, out, sizeof(out), msg,
		    sizeof(msg));
		if (cases[i].want == NULL)
			T_CHECKF(rc == -1, "%s '%s' accepted as '%s'",
			    registry_col_name(cases[i].c), cases[i].in, out);
		else
			T_CHECKF(rc == 0 && strcmp(out, cases[i].want) == 0,
			    "%s '%s': rc %d out '%s' msg %s",
			    registry_col_name(cases[i].c), cases[i].in, rc, out, msg);
	}
	T_CHECK(registry_plate("沪A12345D", "yellow_green", NULL, out, sizeof(out),
	    kind, msg, sizeof(msg)) == 0);
	T_STREQ(kind, "51");
	T_CHECK(registry_plate("沪A12345D", "blue", NULL, out, sizeof(out), kind, msg,
	    sizeof(msg)) == -1);
	T_CHECK(registry_plate("310115NR003021", "other", "nrmm", out, sizeof(out),
	    kind, msg, sizeof(msg)) == 0);
	T_STREQ(out, "310115NR003021");
	T_CHECK(registry_plate("A B", "other", "nrmm", out, sizeof(out), kind, msg,
	    sizeof(msg)) == -1);
	T_CHECK(registry_col_lookup("车辆识别代号(VIN)", NULL) == REGISTRY_VIN);
	T_CHECK(registry_col_lookup("emission_stage", NULL) == REGISTRY_EMISSION_STAGE);
	T_CHECK(registry_col_lookup("Plate", NULL) == -1);
}

/* The shipped sample registry and the test data files parse as documented. */
static void
test_files(void)
{
	static const struct {
		const char	*path;
		size_t		 rows, bad;
	} files[] = {
		{ "ops/sample/registry.csv", 30, 0 },
		{ "tests/registry/data/registry_en.csv", 4, 0 },
		{ "tests/registry/data/registry_bad.csv", 3, 4 },
	};
	struct registry_file	 f;
	char			 path[1024], err[512], *buf;
	const char		*src = getenv("ECOGATE_SOURCE_DIR");
	size_t			 i, len;
	FILE			*fp;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", src != NULL ? src : ".",
		    files[i].path);
		T_REQUIRE((fp = fopen(path, "rb")) != NULL);
		T_REQUIRE((buf = malloc(1 << 20)) != NULL);
		len = fread(buf, 1, 1 << 20, fp);
		fclose(fp);
		T_CHECKF(registry_csv_parse(files[i].path, buf, len, &f, err,
		    sizeof(err)) == 0, "%s", err);
		T_CHECKF(f.nrows == files[i].rows && f.nbad == files[i].bad,
		    "%s: %zu rows, %zu bad", files[i].path, f.nrows, f.nbad);
		for (len = 0; len < f.nerrors; len++)
			printf("  %s\n", f.errors[len]);
		registry_file_free(&f);
		free(buf);
	}
}

int
main(void)
{
	test_english_quoting();
	test_chinese_header();
	test_yes_no_columns();
	test_bad_rows();
	test_quote_errors();
	test_bad_headers();
	test_values();
	test_files();
	return T_DONE();
}
