/*
 * ledger_csv: the regulator's ledger columns, export formatting and import
 * validation (see ledger_csv.h). The code tables are DOMAIN §6's; the parsing of
 * codes that the vehicle registry also reads (stages, fuels, 使用性质, dates, VINs,
 * plates) goes through registry_csv's registry_value() and registry_plate(), so a
 * ledger row and a registry row accept the same spellings and give the same
 * canonical values.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gatekit/plate.h"
#include "gatekit/util.h"

#include "ledger_csv.h"
#include "registry_csv.h"

/* China Standard Time: UTC+08:00 all year (no daylight saving since 1991). */
#define CST_OFFSET_MS	(8LL * 3600 * 1000)
#define DAY_MS		(86400LL * 1000)

/*
 * The column sets. Transport follows the 2020-era template's order (DOMAIN §2), then
 * what implementations keep; the in-plant and machinery ledgers keep their own
 * fields first. 事件编号 closes every set: the id `ecogatectl ledger prove` takes, so
 * an inspector can ask for the proof of a sampled row.
 */
static const struct ledger_csv_col transport_cols[] = {
	{ "进出厂时间", "fields.time", "event_ts", LCF_TIME, 0 },
	{ "车牌号码", "fields.plate", NULL, LCF_PLATE, 10 },
	{ "号牌颜色", "fields.plate_colour", NULL, LCF_COLOUR, 0 },
	{ "车辆类型", "fields.vehicle_type", NULL, LCF_VTYPE, 0 },
	{ "车辆识别代号(VIN)", "fields.vin", NULL, LCF_VIN, 0 },
	{ "发动机号码", "fields.engine_no", NULL, LCF_TEXT, 32 },
	{ "注册日期", "fields.registration_date", NULL, LCF_DATE, 0 },
	{ "排放阶段", "fields.emission_stage", NULL, LCF_STAGE, 0 },
	{ "燃料种类", "fields.fuel", NULL, LCF_FUEL, 0 },
	{ "使用性质", "fields.use_nature", NULL, LCF_USE, 0 },
	{ "运输货物名称", "fields.cargo", NULL, LCF_TEXT, 32 },
	{ "运输量(吨)", "fields.tonnage", NULL, LCF_TONNAGE, 0 },
	{ "车队名称", "fields.fleet", NULL, LCF_TEXT, 100 },
	{ "随车清单", "fields.manifest_ref", NULL, LCF_TEXT, 256 },
	{ "行驶证", "fields.licence_ref", NULL, LCF_TEXT, 256 },
	{ "照片", "fields.photos", NULL, LCF_LIST, 256 },
	{ "进出方向", "fields.direction", NULL, LCF_DIRECTION, 0 },
	{ "车道", "fields.lane", NULL, LCF_TEXT, 32 },
	{ "车辆型号", "fields.vehicle_model", NULL, LCF_TEXT, 64 },
	{ "通行结果", "fields.result", NULL, LCF_RESULT, 0 },
	{ "原因", "fields.reasons", NULL, LCF_LIST, 200 },
	{ "预警级别", "fields.alert_level", NULL, LCF_ALERT, 0 },
	{ "事件编号", "event_id", NULL, LCF_ID, 0 },
};

static const struct ledger_csv_col fleet_cols[] = {
	{ "进出厂时间", "fields.time", "event_ts", LCF_TIME, 0 },
	{ "车牌号码", "fields.plate", NULL, LCF_PLATE, 32 },
	{ "登记编码", "fields.reg_code", NULL, LCF_TEXT, 32 },
	{ "号牌颜色", "fields.plate_colour", NULL, LCF_COLOUR, 0 },
	{ "车辆类型", "fields.vehicle_type", NULL, LCF_VTYPE, 0 },
	{ "车辆识别代号(VIN)", "fields.vin", NULL, LCF_VIN, 0 },
	{ "发动机号码", "fields.engine_no", NULL, LCF_TEXT, 32 },
	{ "注册日期", "fields.registration_date", NULL, LCF_DATE, 0 },
	{ "排放阶段", "fields.emission_stage", NULL, LCF_STAGE, 0 },
	{ "燃料种类", "fields.fuel", NULL, LCF_FUEL, 0 },
	{ "随车清单", "fields.manifest_ref", NULL, LCF_TEXT, 256 },
	{ "行驶证", "fields.licence_ref", NULL, LCF_TEXT, 256 },
	{ "照片", "fields.photos", NULL, LCF_LIST, 256 },
	{ "进出方向", "fields.direction", NULL, LCF_DIRECTION, 0 },
	{ "车道", "fields.lane", NULL, LCF_TEXT, 32 },
	{ "通行结果", "fields.result", NULL, LCF_RESULT, 0 },
	{ "原因", "fields.reasons", NULL, LCF_LIST, 200 },
	{ "事件编号", "event_id", NULL, LCF_ID, 0 },
};

static const struct ledger_csv_col machinery_cols[] = {
	{ "进出厂时间", "fields.time", "event_ts", LCF_TIME, 0 },
	{ "登记编码", "fields.reg_code", NULL, LCF_TEXT, 32 },
	{ "生产日期", "fields.production_date", NULL, LCF_DATE, 0 },
	{ "排放阶段", "fields.emission_stage", NULL, LCF_STAGE, 0 },
	{ "机械代码(PIN)", "fields.machine_code", NULL, LCF_TEXT, 64 },
	{ "机械种类", "fields.machine_type", NULL, LCF_TEXT, 32 },
	{ "燃料种类", "fields.fuel", NULL, LCF_FUEL, 0 },
	{ "所有人", "fields.owner", NULL, LCF_TEXT, 100 },
	{ "照片", "fields.photos", NULL, LCF_LIST, 256 },
	{ "车牌号码", "fields.plate", NULL, LCF_PLATE, 32 },
	{ "进出方向", "fields.direction", NULL, LCF_DIRECTION, 0 },
	{ "车道", "fields.lane", NULL, LCF_TEXT, 32 },
	{ "通行结果", "fields.result", NULL, LCF_RESULT, 0 },
	{ "原因", "fields.reasons", NULL, LCF_LIST, 200 },
	{ "事件编号", "event_id", NULL, LCF_ID, 0 },
};

/* Operators' actions: the audit.v1 event the record keeps verbatim. */
static const struct ledger_csv_col audit_cols[] = {
	{ "时间", "event.ts", "event_ts", LCF_TIME, 0 },
	{ "操作员", "event.actor.id", "fields.operator", LCF_TEXT, 64 },
	{ "操作", "event.action", NULL, LCF_TEXT, 64 },
	{ "对象", "event.target", NULL, LCF_TEXT, 200 },
	{ "原因", "event.reason", "fields.reason", LCF_TEXT, 200 },
	{ "事件编号", "event_id", NULL, LCF_ID, 0 },
};

static const struct {
	const char			*name;
	const char			*title;
	const struct ledger_csv_col	*cols;
	size_t				 n;
} ledgers[LEDGER_CSV_NLEDGERS] = {
	{ "transport", "进出厂运输车辆", transport_cols, GK_NELEM(transport_cols) },
	{ "fleet", "厂内运输车辆", fleet_cols, GK_NELEM(fleet_cols) },
	{ "machinery", "非道路移动机械", machinery_cols, GK_NELEM(machinery_cols) },
	{ "audit", "操作记录", audit_cols, GK_NELEM(audit_cols) },
};

/* Header variants seen in old systems' and regulators' files, by column path. */
static const struct {
	const char	*name;
	const char	*path;
} header_aliases[] = {
	{ "进出时间", "fields.time" }, { "通行时间", "fields.time" },
	{ "时间", "fields.time" }, { "车牌号", "fields.plate" },
	{ "号牌号码", "fields.plate" }, { "车牌颜色", "fields.plate_colour" },
	{ "车辆识别代号（VIN）", "fields.vin" }, { "车辆识别代号", "fields.vin" },
	{ "车架号", "fields.vin" }, { "VIN", "fields.vin" },
	{ "发动机号", "fields.engine_no" }, { "注册登记日期", "fields.registration_date" },
	{ "排放标准", "fields.emission_stage" }, { "燃料类型", "fields.fuel" },
	{ "货物名称", "fields.cargo" }, { "运输货物", "fields.cargo" },
	{ "运输量", "fields.tonnage" }, { "运输量（吨）", "fields.tonnage" },
	{ "运输公司", "fields.fleet" }, { "方向", "fields.direction" },
	{ "进出厂方向", "fields.direction" }, { "环保登记编码", "fields.reg_code" },
	{ "机械代码", "fields.machine_code" }, { "机械代码（PIN）", "fields.machine_code" },
	{ "PIN", "fields.machine_code" }, { "机械类型", "fields.machine_type" },
	{ "车辆所有人", "fields.owner" }, { "放行结果", "fields.result" },
	{ "预警等级", "fields.alert_level" },
};

/* A code and its Chinese name; export writes the name, import reads both. */
struct name {
	const char	*code;
	const char	*zh;
};

static const struct name fuel_names[] = {
	{ "A", "汽油" }, { "B", "柴油" }, { "C", "电" }, { "D", "混合油" },
	{ "E", "天然气" }, { "F", "液化石油气" }, { "L", "甲醇" }, { "M", "乙醇" },
	{ "N", "太阳能" }, { "O", "混合动力" }, { "Y", "无" }, { "Z", "其他" },
};

static const struct name use_names[] = {
	{ "A", "非营运" }, { "F", "货运" }, { "R", "危化品运输" }, { "H", "警用" },
	{ "I", "消防" }, { "J", "救护" }, { "K", "工程救险" },
};

/* Direction, result and alert: the first name of a code is the one exported. */
static const struct name direction_names[] = {
	{ "in", "进" }, { "out", "出" }, { "in", "进厂" }, { "out", "出厂" },
	{ "in", "入" }, { "in", "入厂" }, { "in", "1" }, { "out", "2" },
};

static const struct name result_names[] = {
	{ "allow", "放行" }, { "deny", "拒绝" }, { "review", "人工审核" },
	{ "allow", "通过" }, { "allow", "允许" }, { "deny", "禁止" },
	{ "deny", "禁止通行" }, { "review", "待审核" },
};

static const struct name alert_names[] = {
	{ "none", "无" }, { "blue", "蓝色" }, { "yellow", "黄色" }, { "orange", "橙色" },
	{ "red", "红色" }, { "blue", "蓝" }, { "yellow", "黄" }, { "orange", "橙" },
	{ "red", "红" }, { "yellow", "Ⅲ级" }, { "orange", "Ⅱ级" }, { "red", "Ⅰ级" },
	{ "yellow", "III级" }, { "orange", "II级" }, { "red", "I级" },
};

int
ledger_csv_ledger(const char *name)
{
	int l;

	for (l = 0; name != NULL && l < LEDGER_CSV_NLEDGERS; l++)
		if (strcmp(name, ledgers[l].name) == 0)
			return l;
	return -1;
}

const char *
ledger_csv_ledger_name(int l)
{
	return l >= 0 && l < LEDGER_CSV_NLEDGERS ? ledgers[l].name : "?";
}

const char *
ledger_csv_ledger_title(int l)
{
	return l >= 0 && l < LEDGER_CSV_NLEDGERS ? ledgers[l].title : "?";
}

const struct ledger_csv_col *
ledger_csv_columns(int l, size_t *n)
{
	if (l < 0 || l >= LEDGER_CSV_NLEDGERS)
		return NULL;
	*n = ledgers[l].n;
	return ledgers[l].cols;
}

static int
valid_date(int y, int m, int d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return y >= 1900 && y <= 2199 && m >= 1 && m <= 12 && d >= 1 &&
	    d <= mdays[m - 1] + (m == 2 && leap);
}

/* Floor division, so instants before 1970 fall on the right day too. */
static int64_t
floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void
local_format(int64_t ms, char out[LEDGER_CSV_TS_LEN])
{
	int64_t	local = ms + CST_OFFSET_MS, days = floordiv(local, DAY_MS);
	int64_t	sod = (local - days * DAY_MS) / 1000;
	int64_t	y;
	int	m, d;
	char	buf[64];

	gk_civil_from_days(days, &y, &m, &d);
	/* gk_ts_parse() keeps years 0000-9999, so this fits; buf quiets the compiler. */
	snprintf(buf, sizeof(buf), "%04d%02d%02d %02d%02d%02d", (int)(y % 10000), m, d,
	    (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	gk_strlcpy(out, buf, LEDGER_CSV_TS_LEN);
}

int
ledger_csv_local_time(const char *s, char out[LEDGER_CSV_TS_LEN])
{
	int64_t ms;

	if (s == NULL || gk_ts_parse(s, &ms) == -1)
		return -1;
	local_format(ms, out);
	return 0;
}

/* Reads n digits at s into *v; 0 or -1. */
static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* yyyy-mm-dd, yyyy/mm/dd or yyyymmdd. */
static int
parse_day(const char *s, int *y, int *m, int *d)
{
	size_t len = strlen(s);

	if (len == 8) {
		if (digits(s, 4, y) == -1 || digits(s + 4, 2, m) == -1 ||
		    digits(s + 6, 2, d) == -1)
			return -1;
	} else if (len == 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4]) {
		if (digits(s, 4, y) == -1 || digits(s + 5, 2, m) == -1 ||
		    digits(s + 8, 2, d) == -1)
			return -1;
	} else
		return -1;
	return valid_date(*y, *m, *d) ? 0 : -1;
}

int
ledger_csv_day_start(const char *day, int next, char *out, size_t outlen)
{
	int	y, m, d;
	int64_t	days, yy;
	int	n;

	if (day == NULL || parse_day(day, &y, &m, &d) == -1)
		return -1;
	days = gk_days_from_civil(y, m, d) + (next != 0);
	gk_civil_from_days(days, &yy, &m, &d);
	n = snprintf(out, outlen, "%04d-%02d-%02dT00:00:00+08:00", (int)yy, m, d);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/*
 * Local time forms: "yyyymmdd HHmmss", "yyyymmddHHmmss", or y[-/]m[-/]d[ T]H:M[:S]
 * with 1-2 digit month, day, hour, minute and second (Excel writes "2024/3/1 8:30").
 */
int
ledger_csv_parse_time(const char *s, int64_t *ms)
{
	int		 v[6] = { 0, 0, 0, 0, 0, 0 }, i, k;
	const char	*p = s;
	size_t		 len;
	char		*end;
	long		 x;

	if (s == NULL)
		return -1;
	len = strlen(s);
	/* With its own offset (or Z): RFC 3339. */
	if (len > 19 && (s[len - 1] == 'Z' || s[len - 1] == 'z' || s[len - 3] == ':') &&
	    strchr(s, 'T') != NULL)
		return gk_ts_parse(s, ms);
	if (((len == 15 && s[8] == ' ') || len == 14) && isdigit((unsigned char)s[4])) {
		if (digits(s, 4, &v[0]) == -1 || digits(s + 4, 2, &v[1]) == -1 ||
		    digits(s + 6, 2, &v[2]) == -1)
			return -1;
		p = s + (len == 15 ? 9 : 8);
		if (digits(p, 2, &v[3]) == -1 || digits(p + 2, 2, &v[4]) == -1 ||
		    digits(p + 4, 2, &v[5]) == -1)
			return -1;
	} else {
		/* Numbers separated by - / (date), then space or T, then : (time). */
		static const char seps[] = "--T::";
		for (i = 0; i < 6; i++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			x = strtol(p, &end, 10);
			k = (int)(end - p);
			if ((i == 0 && k != 4) || (i > 0 && k > 2) || x < 0)
				return -1;
			v[i] = (int)x;
			p = end;
			if (i == 5 || *p == '\0')
				break;
			if (i == 0 || i == 1) {
				if (*p != '-' && *p != '/')
					return -1;
				if (i == 1 && p[0] != p[-1 - k])	/* same separator */
					return -1;
			} else if (i == 2) {
				if (*p != ' ' && *p != 'T')
					return -1;
			} else if (*p != seps[i])
				return -1;
			p++;
		}
		if (*p != '\0' || i < 4)	/* date and hour:minute at least */
			return -1;
	}
	if (!valid_date(v[0], v[1], v[2]) || v[3] > 23 || v[4] > 59 || v[5] > 59)
		return -1;
	*ms = ((gk_days_from_civil(v[0], v[1], v[2]) * 86400LL + v[3] * 3600LL +
	    v[4] * 60LL + v[5]) * 1000) - CST_OFFSET_MS;
	return 0;
}

/* Export. */

/* The value at a dotted path of body ("fields.plate", "event.actor.id"), or NULL. */
static const json_t *
at_path(const json_t *body, const char *path)
{
	const json_t	*v = body;
	char		 key[64];
	const char	*dot;
	size_t		 len;

	while (v != NULL && *path != '\0') {
		dot = strchr(path, '.');
		len = dot != NULL ? (size_t)(dot - path) : strlen(path);
		if (len >= sizeof(key) || !json_is_object(v))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		v = json_object_get(v, key);
		path += len + (dot != NULL);
	}
	return v;
}

static const char *
name_of(const struct name *t, size_t n, const char *code)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(t[i].code, code) == 0)
			return t[i].zh;
	return NULL;
}

static const char *
code_of(const struct name *t, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(t[i].zh, s) == 0 || strcasecmp(t[i].code, s) == 0)
			return t[i].code;
	return NULL;
}

static int
put(char *out, size_t outlen, const char *s)
{
	return gk_strlcpy(out, s, outlen) < outlen ? 0 : -1;
}

int
ledger_csv_cell(const struct ledger_csv_col *c, const json_t *body, char *out,
    size_t outlen)
{
	enum gk_plate_colour	 colour;
	const json_t		*v, *e;
	const char		*s, *zh = NULL;
	char			 buf[32], msg[128];
	size_t			 i, len;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if ((v = at_path(body, c->path)) == NULL && c->alt != NULL)
		v = at_path(body, c->alt);
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_array(v)) {
		/* Lists (photos, reasons) are joined by ';', which no item holds. */
		len = 0;
		json_array_foreach(v, i, e) {
			if (!json_is_string(e))
				continue;
			if (len > 0 && len + 1 < outlen)
				out[len++] = ';';
			if (len + json_string_length(e) >= outlen)
				return -1;
			memcpy(out + len, json_string_value(e), json_string_length(e));
			len += json_string_length(e);
		}
		out[len] = '\0';
		return 0;
	}
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return put(out, outlen, buf);
	}
	if (json_is_boolean(v))
		return put(out, outlen, json_is_true(v) ? "是" : "否");
	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	switch (c->fmt) {
	case LCF_TIME:
		if (ledger_csv_local_time(s, buf) == 0)
			return put(out, outlen, buf);
		break;
	case LCF_DATE:
		if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
			snprintf(buf, sizeof(buf), "%.4s%.2s%.2s", s, s + 5, s + 8);
			return put(out, outlen, buf);
		}
		break;
	case LCF_STAGE:
		/* Already one character in a record; older spellings normalised. */
		if (registry_value(REGISTRY_EMISSION_STAGE, s, buf, sizeof(buf), msg,
		    sizeof(msg)) == 0)
			return put(out, outlen, buf);
		break;
	case LCF_COLOUR:
		if (gk_plate_colour_parse(s, &colour) == 0)
			zh = gk_plate_colour_name_zh(colour);
		break;
	case LCF_FUEL:
		zh = name_of(fuel_names, GK_NELEM(fuel_names), s);
		break;
	case LCF_USE:
		zh = name_of(use_names, GK_NELEM(use_names), s);
		break;
	case LCF_DIRECTION:
		zh = name_of(direction_names, GK_NELEM(direction_names), s);
		break;
	case LCF_RESULT:
		zh = name_of(result_names, GK_NELEM(result_names), s);
		break;
	case LCF_ALERT:
		zh = name_of(alert_names, GK_NELEM(alert_names), s);
		break;
	default:
		break;
	}
	return put(out, outlen, zh != NULL ? zh : s);
}

size_t
ledger_csv_quote(char *out, const char *s)
{
	size_t n = 0;

	if (strpbrk(s, ",\"\r\n") == NULL) {
		n = strlen(s);
		memcpy(out, s, n);
		return n;
	}
	out[n++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"')
			out[n++] = '"';
		out[n++] = *s;
	}
	out[n++] = '"';
	return n;
}

/* Import: the CSV reader. */

void
ledger_csv_reader_init(struct ledger_csv_reader *r, FILE *fp)
{
	memset(r, 0, sizeof(*r));
	r->fp = fp;
	r->line = 1;
}

void
ledger_csv_reader_free(struct ledger_csv_reader *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->f[i]);
	free(r->f);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

static int
buf_add(struct ledger_csv_reader *r, int ch)
{
	char *nb;

	if (r->blen + 1 >= r->bcap) {
		if ((nb = realloc(r->buf, r->bcap * 2 + 256)) == NULL)
			return -1;
		r->buf = nb;
		r->bcap = r->bcap * 2 + 256;
	}
	r->buf[r->blen++] = (char)ch;
	return 0;
}

static int
field_end(struct ledger_csv_reader *r)
{
	char **nf;

	if (r->n == r->cap) {
		if ((nf = realloc(r->f, (r->cap * 2 + 16) * sizeof(*nf))) == NULL)
			return -1;
		r->f = nf;
		r->cap = r->cap * 2 + 16;
	}
	if ((r->f[r->n] = malloc(r->blen + 1)) == NULL)
		return -1;
	if (r->blen > 0)
		memcpy(r->f[r->n], r->buf, r->blen);
	r->f[r->n][r->blen] = '\0';
	r->n++;
	r->blen = 0;
	return 0;
}

/* Skips the rest of the physical line after a malformed record. */
static void
skip_line(struct ledger_csv_reader *r)
{
	int ch;

	while ((ch = getc(r->fp)) != EOF && ch != '\n')
		;
	if (ch == '\n')
		r->line++;
}

int
ledger_csv_read(struct ledger_csv_reader *r, char *msg, size_t msglen)
{
	int	ch, quoted = 0, after_quote = 0, at_start = 1, any = 0;
	size_t	i;

	for (i = 0; i < r->n; i++)
		free(r->f[i]);
	r->n = 0;
	r->blen = 0;
	if (!r->bom_checked) {
		/* A UTF-8 byte order mark, as Excel saves "CSV UTF-8". */
		r->bom_checked = 1;
		if ((ch = getc(r->fp)) == 0xef) {
			if (getc(r->fp) != 0xbb || getc(r->fp) != 0xbf) {
				gk_errf(msg, msglen, "not UTF-8 (a broken byte order "
				    "mark)");
				skip_line(r);
				return -1;
			}
		} else if (ch != EOF)
			ungetc(ch, r->fp);
	}
	r->rline = r->line;
	for (;;) {
		ch = getc(r->fp);
		if (ch == EOF) {
			if (ferror(r->fp)) {
				gk_errf(msg, msglen, "read error");
				return -2;
			}
			if (quoted) {
				gk_errf(msg, msglen, "quoted field not closed before the "
				    "end of the file");
				return -1;
			}
			if (!any)
				return 0;
			return field_end(r) == -1 ? -2 : 1;
		}
		any = 1;
		if (quoted) {
			if (ch == '"') {
				if ((ch = getc(r->fp)) == '"') {
					if (buf_add(r, '"') == -1)
						return -2;
					continue;
				}
				if (ch != EOF)
					ungetc(ch, r->fp);
				quoted = 0;
				after_quote = 1;
				continue;
			}
			if (ch == '\n')
				r->line++;
		} else {
			if (ch == '\r') {
				if ((ch = getc(r->fp)) != '\n') {
					if (ch != EOF)
						ungetc(ch, r->fp);
					ch = '\r';
				}
			}
			if (ch == ',' || ch == '\n') {
				if (field_end(r) == -1)
					return -2;
				if (r->n > LEDGER_CSV_MAX_COLS) {
					gk_errf(msg, msglen, "more than %d fields",
					    LEDGER_CSV_MAX_COLS);
					if (ch != '\n')
						skip_line(r);
					else
						r->line++;
					return -1;
				}
				at_start = 1;
				after_quote = 0;
				if (ch == '\n') {
					r->line++;
					return 1;
				}
				continue;
			}
			if (after_quote) {
				gk_errf(msg, msglen, "text after a closing quote (a quote "
				    "inside a quoted field must be doubled)");
				skip_line(r);
				return -1;
			}
			if (ch == '"') {
				if (!at_start) {
					gk_errf(msg, msglen, "'\"' inside an unquoted field "
					    "(quote the whole field)");
					skip_line(r);
					return -1;
				}
				quoted = 1;
				at_start = 0;
				continue;
			}
		}
		at_start = 0;
		if (r->blen >= LEDGER_CSV_CELL_MAX) {
			gk_errf(msg, msglen, "field %zu longer than %d bytes", r->n + 1,
			    LEDGER_CSV_CELL_MAX);
			if (ch != '\n')
				skip_line(r);
			return -1;
		}
		if (buf_add(r, ch) == -1)
			return -2;
	}
}

/* Import: header and rows. */

/* Trims ASCII spaces and tabs and the ideographic space, in place. */
static char *
trim(char *s)
{
	static const char ideo[] = "\xe3\x80\x80";
	size_t len;

	for (;;) {
		if (*s == ' ' || *s == '\t')
			s++;
		else if (strncmp(s, ideo, 3) == 0)
			s += 3;
		else
			break;
	}
	len = strlen(s);
	for (;;) {
		if (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		else if (len >= 3 && memcmp(s + len - 3, ideo, 3) == 0)
			len -= 3;
		else
			break;
	}
	s[len] = '\0';
	return s;
}

/* The column of ledger l a header cell names, or -1. */
static int
column_named(int l, const char *name)
{
	const struct ledger_csv_col	*c = ledgers[l].cols;
	const char			*path = NULL;
	size_t				 i, n = ledgers[l].n;

	for (i = 0; i < n; i++)
		if (strcmp(name, c[i].header) == 0)
			return (int)i;
	for (i = 0; i < GK_NELEM(header_aliases); i++)
		if (strcmp(name, header_aliases[i].name) == 0)
			path = header_aliases[i].path;
	for (i = 0; i < n; i++)
		if (path != NULL ? strcmp(path, c[i].path) == 0 :
		    (strncmp(c[i].path, "fields.", 7) == 0 &&
		    strcmp(name, c[i].path + 7) == 0) || strcmp(name, c[i].path) == 0)
			return (int)i;
	return -1;
}

void
ledger_csv_header_free(struct ledger_csv_header *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->name[i]);
	memset(h, 0, sizeof(*h));
}

int
ledger_csv_header_read(int l, char *const *cells, size_t n,
    struct ledger_csv_header *h, char *err, size_t errlen)
{
	char	*cell;
	size_t	 i, j;
	int	 c, have_time = 0;

	memset(h, 0, sizeof(*h));
	h->ledger = l;
	if (l < 0 || l == LEDGER_CSV_AUDIT || l >= LEDGER_CSV_NLEDGERS) {
		gk_errf(err, errlen, "no such ledger to import into");
		return -1;
	}
	if (n > LEDGER_CSV_MAX_COLS) {
		gk_errf(err, errlen, "%zu columns, at most %d", n, LEDGER_CSV_MAX_COLS);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((cell = strdup(cells[i])) == NULL) {
			gk_errf(err, errlen, "out of memory");
			return -1;
		}
		h->name[h->n++] = cell;
		cell = trim(cell);
		memmove(h->name[i], cell, strlen(cell) + 1);
		cell = h->name[i];
		if (gk_utf8_count(cell, 0) < 0) {
			gk_errf(err, errlen, "column %zu: header is not valid UTF-8 (save "
			    "the file as UTF-8)", i + 1);
			return -1;
		}
		if ((c = column_named(l, cell)) == -1) {
			gk_errf(err, errlen, "column %zu: unknown column '%s' for the %s "
			    "ledger", i + 1, cell, ledgers[l].name);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (h->col[j] == c || strcmp(h->name[j], cell) == 0) {
				gk_errf(err, errlen, "column %zu: '%s' names the same field "
				    "(%s) as column %zu '%s'", i + 1, cell,
				    ledgers[l].cols[c].header, j + 1, h->name[j]);
				return -1;
			}
		h->col[i] = c;
		have_time |= ledgers[l].cols[c].fmt == LCF_TIME;
	}
	if (!have_time) {
		gk_errf(err, errlen, "the header has no column %s (the time of each row)",
		    ledgers[l].cols[0].header);
		return -1;
	}
	return 0;
}

void
ledger_csv_row_free(struct ledger_csv_row *row)
{
	json_decref(row->fields);
	json_decref(row->event);
	row->fields = row->event = NULL;
}

static void
row_err(struct ledger_csv_row *row, const char *header, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
row_err(struct ledger_csv_row *row, const char *header, const char *fmt, ...)
{
	va_list	ap;
	size_t	k;
	char	*e;

	if (row->nerr < LEDGER_CSV_ROW_ERRS) {
		e = row->err[row->nerr];
		k = (size_t)snprintf(e, LEDGER_CSV_ERR_MAX, "field %s: ", header);
		if (k < LEDGER_CSV_ERR_MAX) {
			va_start(ap, fmt);
			vsnprintf(e + k, LEDGER_CSV_ERR_MAX - k, fmt, ap);
			va_end(ap);
		}
	}
	row->nerr++;
}

static int
set_str(json_t *o, const char *key, const char *v)
{
	return json_object_set_new(o, key, json_string(v));
}

/* Validates the cell raw of column c; 0 with out set, or -1 with msg set. */
static int
cell_value(int l, const struct ledger_csv_col *c, const char *raw, char *out,
    size_t outlen, char *msg, size_t msglen)
{
	enum gk_plate_colour	 colour;
	const char		*code;
	size_t			 i, len = strlen(raw);
	long			 n;

	switch (c->fmt) {
	case LCF_DATE:
		return registry_value(REGISTRY_REGISTERED_ON, raw, out, outlen, msg,
		    msglen);
	case LCF_STAGE:
		if (registry_value(REGISTRY_EMISSION_STAGE, raw, out, outlen, msg,
		    msglen) == -1)
			return -1;
		if (out[0] == 'X' && l != LEDGER_CSV_MACHINERY) {
			gk_errf(msg, msglen, "'%s': X (no stage) is for non-road "
			    "machinery only (0-6 or D)", raw);
			return -1;
		}
		return 0;
	case LCF_COLOUR:
		if (isdigit((unsigned char)raw[0]))
			return registry_value(REGISTRY_PLATE_COLOUR, raw, out, outlen,
			    msg, msglen);
		if (gk_plate_colour_parse(raw, &colour) == -1) {
			gk_errf(msg, msglen, "'%s' is not a plate colour (蓝 黄 绿 黄绿 白 "
			    "黑 其他 未知, or a JT/T 697.7 code)", raw);
			return -1;
		}
		return put(out, outlen, gk_plate_colour_name(colour));
	case LCF_FUEL:
		return registry_value(REGISTRY_FUEL_TYPE, raw, out, outlen, msg, msglen);
	case LCF_USE:
		return registry_value(REGISTRY_USE_NATURE, raw, out, outlen, msg,
		    msglen);
	case LCF_VTYPE:
		return registry_value(REGISTRY_VEHICLE_TYPE, raw, out, outlen, msg,
		    msglen);
	case LCF_VIN:
		return registry_value(REGISTRY_VIN, raw, out, outlen, msg, msglen);
	case LCF_TONNAGE:
		/* Digits, then at most one decimal: the template's "one decimal". */
		for (i = 0; i < len && isdigit((unsigned char)raw[i]); i++)
			;
		if (i == 0 || i > 6 || (i < len && (raw[i] != '.' || len != i + 2 ||
		    !isdigit((unsigned char)raw[i + 1])))) {
			gk_errf(msg, msglen, "'%s' is not a tonnage in tonnes with at "
			    "most one decimal (e.g. 31.5)", raw);
			return -1;
		}
		if (snprintf(out, outlen, "%.*s.%c", (int)i, raw, i < len ?
		    raw[i + 1] : '0') >= (int)outlen)
			return -1;
		/* "031.5" and "31.5" are one tonnage. */
		while (out[0] == '0' && out[1] != '.')
			memmove(out, out + 1, strlen(out));
		return 0;
	case LCF_DIRECTION:
	case LCF_RESULT:
	case LCF_ALERT:
		code = c->fmt == LCF_DIRECTION ? code_of(direction_names,
		    GK_NELEM(direction_names), raw) : c->fmt == LCF_RESULT ?
		    code_of(result_names, GK_NELEM(result_names), raw) :
		    code_of(alert_names, GK_NELEM(alert_names), raw);
		if (code == NULL) {
			gk_errf(msg, msglen, "'%s' is not %s", raw,
			    c->fmt == LCF_DIRECTION ? "a direction (进 or 出)" :
			    c->fmt == LCF_RESULT ? "a result (放行, 拒绝 or 人工审核)" :
			    "an alert level (无 蓝色 黄色 橙色 红色)");
			return -1;
		}
		return put(out, outlen, code);
	case LCF_PLATE:
	case LCF_TEXT:
	case LCF_LIST:
	default:
		if ((n = gk_utf8_count(raw, 0)) < 0) {
			gk_errf(msg, msglen, "not valid UTF-8 text (or holds a control "
			    "character)");
			return -1;
		}
		if (c->max > 0 && n > c->max) {
			gk_errf(msg, msglen, "%ld characters, at most %d allowed", n,
			    c->max);
			return -1;
		}
		return put(out, outlen, raw);
	}
}

/* A list cell: items separated by ';' or '；', each trimmed and checked. */
static int
list_value(int l, const struct ledger_csv_col *c, const char *raw, json_t **arr,
    char *msg, size_t msglen)
{
	static const char fw[] = "\xef\xbc\x9b";	/* ； */
	char	 item[LEDGER_CSV_CELL_MAX + 1], val[LEDGER_CSV_CELL_MAX + 1], *t;
	size_t	 k;

	if ((*arr = json_array()) == NULL)
		return -2;
	while (*raw != '\0') {
		for (k = 0; raw[k] != '\0' && raw[k] != ';' &&
		    strncmp(raw + k, fw, 3) != 0; k++)
			;
		memcpy(item, raw, k);
		item[k] = '\0';
		raw += k;
		if (*raw == ';')
			raw++;
		else if (*raw != '\0')
			raw += 3;
		t = trim(item);
		if (t[0] == '\0')
			continue;
		if (cell_value(l, c, t, val, sizeof(val), msg, msglen) == -1)
			return -1;
		if (json_array_append_new(*arr, json_string(val)) == -1)
			return -2;
	}
	return 0;
}

int
ledger_csv_row_read(const struct ledger_csv_header *h, char *const *cells, size_t n,
    int64_t now_ms, struct ledger_csv_row *row)
{
	const struct ledger_csv_col	*cols = ledgers[h->ledger].cols, *c;
	char				 raw[LEDGER_CSV_CELL_MAX + 1];
	char				 val[LEDGER_CSV_CELL_MAX + 1], msg[256];
	char				 plate[64], kind[3];
	const char			*plate_raw = NULL, *plate_hdr = NULL, *colour;
	char				*t;
	json_t				*arr;
	size_t				 i;
	int				 rc, have_time = 0, time_bad = 0;
	int				 l = h->ledger;

	memset(row, 0, sizeof(*row));
	if ((row->fields = json_object()) == NULL ||
	    (row->event = json_object()) == NULL)
		return -1;
	if (n != h->n) {
		row->nerr = 1;
		snprintf(row->err[0], LEDGER_CSV_ERR_MAX, "%zu fields, the header has "
		    "%zu", n, h->n);
		return 1;
	}
	for (i = 0; i < n; i++) {
		c = &cols[h->col[i]];
		/* The row verbatim, empty cells too: what the old system said. */
		if (set_str(row->event, h->name[i], cells[i]) == -1) {
			row_err(row, h->name[i], "not valid UTF-8 text");
			continue;
		}
		gk_strlcpy(raw, cells[i], sizeof(raw));
		t = trim(raw);
		if (t[0] == '\0')
			continue;
		memmove(raw, t, strlen(t) + 1);
		if (c->fmt == LCF_ID)
			continue;		/* the old system's id: in event only */
		if (c->fmt == LCF_TIME) {
			time_bad = 1;
			if (ledger_csv_parse_time(raw, &row->ms) == -1) {
				row_err(row, h->name[i], "'%s' is not a time (yyyymmdd "
				    "HHmmss, or yyyy-mm-dd HH:mm:ss, China time)", raw);
				continue;
			}
			/* Before 2000 no gate kept a ledger; later than now is a typo. */
			if (row->ms < 946684800000LL - CST_OFFSET_MS) {
				row_err(row, h->name[i], "'%s' is before 2000", raw);
				continue;
			}
			if (row->ms > now_ms + 60000) {
				row_err(row, h->name[i], "'%s' is in the future", raw);
				continue;
			}
			have_time = 1;
			time_bad = 0;
			continue;
		}
		if (c->fmt == LCF_LIST) {
			rc = list_value(l, c, raw, &arr, msg, sizeof(msg));
			if (rc == -2 || (rc == 0 && json_object_set_new(row->fields,
			    c->path + 7, arr) == -1))
				return -1;
			if (rc == -1) {
				json_decref(arr);
				row_err(row, h->name[i], "%s", msg);
			}
			continue;
		}
		if (cell_value(l, c, raw, val, sizeof(val), msg, sizeof(msg)) == -1) {
			row_err(row, h->name[i], "%s", msg);
			continue;
		}
		if (c->fmt == LCF_PLATE) {
			/* Checked below, once the colour is known. */
			plate_raw = cells[i];
			plate_hdr = h->name[i];
		}
		if (set_str(row->fields, c->path + 7, val) == -1)
			return -1;
	}
	if (!have_time && !time_bad)
		row_err(row, cols[0].header, "required");
	if (plate_raw != NULL) {
		colour = json_string_value(json_object_get(row->fields, "plate_colour"));
		/* An unknown or absent colour: the plate's format is checked alone. */
		if (colour == NULL || strcmp(colour, "unknown") == 0 ||
		    strcmp(colour, "none") == 0)
			colour = "other";
		gk_strlcpy(raw, plate_raw, sizeof(raw));
		if (registry_plate(trim(raw), colour, l == LEDGER_CSV_MACHINERY ? "nrmm" :
		    NULL, plate, sizeof(plate), kind, msg, sizeof(msg)) == -1)
			row_err(row, plate_hdr, "%s", msg);
		else if (set_str(row->fields, "plate", plate) == -1)
			return -1;
	}
	switch (l) {
	case LEDGER_CSV_TRANSPORT:
		if (json_object_get(row->fields, "plate") == NULL && plate_raw == NULL)
			row_err(row, "车牌号码", "required");
		break;
	case LEDGER_CSV_FLEET:
		if (plate_raw == NULL && json_object_get(row->fields, "reg_code") == NULL)
			row_err(row, "车牌号码", "required (or 登记编码)");
		break;
	case LEDGER_CSV_MACHINERY:
		if (json_object_get(row->fields, "reg_code") == NULL &&
		    json_object_get(row->fields, "machine_code") == NULL)
			row_err(row, "登记编码", "required (or 机械代码(PIN))");
		break;
	}
	if (row->nerr > 0)
		return 1;
	if (gk_ts_format(row->ms, row->ts, sizeof(row->ts)) == -1 ||
	    set_str(row->fields, "time", row->ts) == -1)
		return -1;
	return 0;
}

int
ledger_csv_import_id(char out[GK_ID_LEN], const char *site, const char *file_sha256,
    int line, int64_t ms)
{
	static const char	 tag[] = "ecogate.ledger-import.v1";
	unsigned char		 d[EVP_MAX_MD_SIZE];
	unsigned int		 dlen = 0;
	char			 ln[16];
	EVP_MD_CTX		*ctx;
	int			 ok;

	if (site == NULL || file_sha256 == NULL || site[0] == '\0' ||
	    file_sha256[0] == '\0' || line < 1)
		return -1;
	snprintf(ln, sizeof(ln), "%d", line);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	/* The NULs (sizeof includes tag's, +1 the others') keep the parts apart. */
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, tag, sizeof(tag)) == 1 &&
	    EVP_DigestUpdate(ctx, site, strlen(site) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, file_sha256, strlen(file_sha256) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, ln, strlen(ln)) == 1 &&
	    EVP_DigestFinal_ex(ctx, d, &dlen) == 1 && dlen >= 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	gk_id_from_digest(ms, d, out);
	return 0;
}
