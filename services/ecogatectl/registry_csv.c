/*
 * registry_csv: reads and validates a vehicle registry CSV file (see registry_csv.h).
 *
 * Everything here mirrors the CHECK constraints of schemas/sql/0001_registry.sql, so a
 * bad value is reported with its file, line and column name rather than as a
 * constraint violation from the database; the database still has the last word
 * (registry.c reports a row it refuses the same way).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatekit/plate.h"
#include "gatekit/util.h"

#include "registry_csv.h"

static const char *const col_names[REGISTRY_NCOLS] = {
	"plate", "plate_colour", "plate_kind", "category", "vin", "engine_no",
	"registered_on", "vehicle_type", "vehicle_model", "fuel_type", "emission_stage",
	"emission_source", "info_public_no", "use_nature", "fleet_name", "owner_name",
	"nrmm_reg_code", "nrmm_produced_on", "nrmm_pin", "nrmm_machine_type", "note",
	"list", "list_reason", "exemption_kind", "approval_no", "list_valid_to",
};

/*
 * The Chinese header names accepted (the ledger template's, and the variants seen in
 * regulators' spreadsheets). 车辆识别代号 appears with ASCII and full-width brackets.
 */
static const struct {
	const char	*name;
	int		 col;
	const char	*list;		/* for the yes/no list columns */
} zh_names[] = {
	{ "车牌号码", REGISTRY_PLATE, NULL },
	{ "车牌号", REGISTRY_PLATE, NULL },
	{ "号牌号码", REGISTRY_PLATE, NULL },
	{ "号牌颜色", REGISTRY_PLATE_COLOUR, NULL },
	{ "车牌颜色", REGISTRY_PLATE_COLOUR, NULL },
	{ "号牌种类", REGISTRY_PLATE_KIND, NULL },
	{ "类别", REGISTRY_CATEGORY, NULL },
	{ "车辆类别", REGISTRY_CATEGORY, NULL },
	{ "车辆识别代号(VIN)", REGISTRY_VIN, NULL },
	{ "车辆识别代号（VIN）", REGISTRY_VIN, NULL },
	{ "车辆识别代号", REGISTRY_VIN, NULL },
	{ "车架号", REGISTRY_VIN, NULL },
	{ "VIN", REGISTRY_VIN, NULL },
	{ "发动机号码", REGISTRY_ENGINE_NO, NULL },
	{ "发动机号", REGISTRY_ENGINE_NO, NULL },
	{ "注册日期", REGISTRY_REGISTERED_ON, NULL },
	{ "注册登记日期", REGISTRY_REGISTERED_ON, NULL },
	{ "车辆类型", REGISTRY_VEHICLE_TYPE, NULL },
	{ "车辆型号", REGISTRY_VEHICLE_MODEL, NULL },
	{ "燃料种类", REGISTRY_FUEL_TYPE, NULL },
	{ "燃料类型", REGISTRY_FUEL_TYPE, NULL },
	{ "排放阶段", REGISTRY_EMISSION_STAGE, NULL },
	{ "排放标准", REGISTRY_EMISSION_STAGE, NULL },
	{ "排放阶段依据", REGISTRY_EMISSION_SOURCE, NULL },
	{ "排放依据", REGISTRY_EMISSION_SOURCE, NULL },
	{ "信息公开编号", REGISTRY_INFO_PUBLIC_NO, NULL },
	{ "使用性质", REGISTRY_USE_NATURE, NULL },
	{ "车队名称", REGISTRY_FLEET_NAME, NULL },
	{ "运输公司", REGISTRY_FLEET_NAME, NULL },
	{ "所有人", REGISTRY_OWNER_NAME, NULL },
	{ "车辆所有人", REGISTRY_OWNER_NAME, NULL },
	{ "登记编码", REGISTRY_NRMM_REG_CODE, NULL },
	{ "环保登记编码", REGISTRY_NRMM_REG_CODE, NULL },
	{ "生产日期", REGISTRY_NRMM_PRODUCED_ON, NULL },
	{ "机械代码", REGISTRY_NRMM_PIN, NULL },
	{ "机械代码(PIN)", REGISTRY_NRMM_PIN, NULL },
	{ "机械代码（PIN）", REGISTRY_NRMM_PIN, NULL },
	{ "PIN", REGISTRY_NRMM_PIN, NULL },
	{ "机械种类", REGISTRY_NRMM_MACHINE_TYPE, NULL },
	{ "机械类型", REGISTRY_NRMM_MACHINE_TYPE, NULL },
	{ "备注", REGISTRY_NOTE, NULL },
	{ "名单", REGISTRY_LIST, NULL },
	{ "名单类型", REGISTRY_LIST, NULL },
	{ "黑名单", REGISTRY_LIST, "blacklist" },
	{ "白名单", REGISTRY_LIST, "whitelist" },
	{ "豁免", REGISTRY_LIST, "exemption" },
	{ "名单原因", REGISTRY_LIST_REASON, NULL },
	{ "原因", REGISTRY_LIST_REASON, NULL },
	{ "豁免类型", REGISTRY_EXEMPTION_KIND, NULL },
	{ "豁免类别", REGISTRY_EXEMPTION_KIND, NULL },
	{ "审批编号", REGISTRY_APPROVAL_NO, NULL },
	{ "备案编号", REGISTRY_APPROVAL_NO, NULL },
	{ "审批/备案编号", REGISTRY_APPROVAL_NO, NULL },
	{ "失效日期", REGISTRY_LIST_VALID_TO, NULL },
	{ "名单失效日期", REGISTRY_LIST_VALID_TO, NULL },
};

/* A code and the words that mean it. */
struct alias {
	const char	*word;
	const char	*code;
};

static const struct alias category_words[] = {
	{ "external", "external" }, { "own_fleet", "own_fleet" }, { "nrmm", "nrmm" },
	{ "外部", "external" }, { "外部车辆", "external" }, { "外来车辆", "external" },
	{ "社会车辆", "external" }, { "运输车辆", "external" },
	{ "自有", "own_fleet" }, { "自有车辆", "own_fleet" }, { "厂内", "own_fleet" },
	{ "厂内车辆", "own_fleet" }, { "厂内运输车辆", "own_fleet" },
	{ "非道路", "nrmm" }, { "非道路机械", "nrmm" }, { "非道路移动机械", "nrmm" },
};

static const struct alias fuel_words[] = {
	{ "汽油", "A" }, { "柴油", "B" }, { "电", "C" }, { "纯电", "C" }, { "纯电动", "C" },
	{ "混合油", "D" }, { "天然气", "E" }, { "CNG", "E" }, { "LNG", "E" },
	{ "液化石油气", "F" }, { "LPG", "F" }, { "甲醇", "L" }, { "乙醇", "M" },
	{ "太阳能", "N" }, { "混合动力", "O" }, { "无", "Y" }, { "其他", "Z" },
	{ "其它", "Z" }, { "petrol", "A" }, { "gasoline", "A" }, { "diesel", "B" },
	{ "electric", "C" }, { "natural_gas", "E" }, { "lpg", "F" }, { "methanol", "L" },
	{ "ethanol", "M" }, { "solar", "N" }, { "hybrid", "O" }, { "none", "Y" },
	{ "other", "Z" },
};

static const struct alias source_words[] = {
	{ "manifest", "manifest" }, { "lookup", "lookup" }, { "platform", "platform" },
	{ "inferred", "inferred" }, { "随车清单", "manifest" }, { "信息公开", "lookup" },
	{ "信息公开查询", "lookup" }, { "平台", "platform" }, { "平台核验", "platform" },
	{ "推定", "inferred" },
};

static const struct alias use_words[] = {
	{ "非营运", "A" }, { "货运", "F" }, { "危化品运输", "R" }, { "警用", "H" },
	{ "消防", "I" }, { "救护", "J" }, { "工程救险", "K" },
};

static const struct alias list_words[] = {
	{ "blacklist", "blacklist" }, { "whitelist", "whitelist" },
	{ "exemption", "exemption" }, { "黑名单", "blacklist" }, { "白名单", "whitelist" },
	{ "豁免", "exemption" }, { "豁免名单", "exemption" },
};

static const struct alias exemption_words[] = {
	{ "emergency_transport", "emergency_transport" }, { "livelihood", "livelihood" },
	{ "special", "special" }, { "hazardous", "hazardous" }, { "other", "other" },
	{ "应急运输", "emergency_transport" }, { "民生保障", "livelihood" },
	{ "特种车辆", "special" }, { "危化品", "hazardous" }, { "其他", "other" },
	{ "其它", "other" },
};

static const char *const yes_words[] = { "是", "y", "yes", "1", "true", "√" };
static const char *const no_words[] = { "否", "n", "no", "0", "false" };

/* Database colour names by gatekit colour; NULL: not a colour the registry keeps. */
static const char *const db_colours[GK_PLATE_COLOUR_COUNT] = {
	[GK_PLATE_COLOUR_BLUE] = "blue",
	[GK_PLATE_COLOUR_YELLOW] = "yellow",
	[GK_PLATE_COLOUR_BLACK] = "black",
	[GK_PLATE_COLOUR_WHITE] = "white",
	[GK_PLATE_COLOUR_GREEN] = "green",
	[GK_PLATE_COLOUR_YELLOW_GREEN] = "yellow_green",
	[GK_PLATE_COLOUR_OTHER] = "other",
};

const char *
registry_col_name(enum registry_col c)
{
	if ((unsigned)c >= REGISTRY_NCOLS)
		return "?";
	return col_names[c];
}

int
registry_col_lookup(const char *name, const char **list_value)
{
	size_t i;

	if (list_value != NULL)
		*list_value = NULL;
	for (i = 0; i < REGISTRY_NCOLS; i++)
		if (strcmp(name, col_names[i]) == 0)
			return (int)i;
	for (i = 0; i < GK_NELEM(zh_names); i++)
		if (strcmp(name, zh_names[i].name) == 0) {
			if (list_value != NULL)
				*list_value = zh_names[i].list;
			return zh_names[i].col;
		}
	return -1;
}

static int
alias_find(const struct alias *a, size_t n, const char *s, int nocase, char *out,
    size_t outlen)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((nocase ? strcasecmp(s, a[i].word) : strcmp(s, a[i].word)) == 0)
			return gk_strlcpy(out, a[i].code, outlen) < outlen ? 0 : -1;
	return -1;
}

static int
word_in(const char *const *w, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(s, w[i]) == 0)
			return 1;
	return 0;
}

/* yyyy-mm-dd, yyyy/mm/dd or yyyymmdd, a real calendar day in 1900-2199. */
static int
parse_date(const char *s, char *out, size_t outlen)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	char	 d[9];
	size_t	 len = strlen(s), i, j;
	int	 y, m, day, leap;

	if (len == 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4]) {
		for (i = 0, j = 0; i < len; i++)
			if (i != 4 && i != 7)
				d[j++] = s[i];
	} else if (len == 8)
		memcpy(d, s, 8);
	else
		return -1;
	d[8] = '\0';
	for (i = 0; i < 8; i++)
		if (!isdigit((unsigned char)d[i]))
			return -1;
	y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
	m = (d[4] - '0') * 10 + (d[5] - '0');
	day = (d[6] - '0') * 10 + (d[7] - '0');
	if (y < 1900 || y > 2199 || m < 1 || m > 12 || day < 1)
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (day > mdays[m - 1] + (m == 2 && leap))
		return -1;
	if (outlen < 11)
		return -1;
	snprintf(out, outlen, "%04d-%02d-%02d", y, m, day);
	return 0;
}

/* 国六, 国VI, 国6b, 6, D, 电动, 无 ... -> "0".."6", "D", "X". */
static int
parse_stage(const char *s, char *out)
{
	static const char *const zh[] = { "零", "一", "二", "三", "四", "五", "六" };
	static const char *const roman[] = { "0", "I", "II", "III", "IV", "V", "VI" };
	static const char *const uroman[] = { "〇", "Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ", "Ⅵ" };
	char	 t[32];
	size_t	 len;
	int	 i;

	if (strcasecmp(s, "D") == 0 || strcmp(s, "电动") == 0 || strcmp(s, "纯电") == 0 ||
	    strcmp(s, "纯电动") == 0) {
		strcpy(out, "D");
		return 0;
	}
	if (strcasecmp(s, "X") == 0 || strcmp(s, "无") == 0) {
		strcpy(out, "X");
		return 0;
	}
	if (gk_strlcpy(t, s, sizeof(t)) >= sizeof(t))
		return -1;
	/* "国" is optional; after it, a 6a/6b (国六a, 国VIb) sub-stage is still 6. */
	if (strncmp(t, "国", strlen("国")) == 0) {
		memmove(t, t + strlen("国"), strlen(t) - strlen("国") + 1);
		len = strlen(t);
		if (len > 1 && strchr("aAbB", t[len - 1]) != NULL)
			t[len - 1] = '\0';
	}
	for (i = 0; i <= 6; i++)
		if ((t[0] == '0' + i && t[1] == '\0') || strcmp(t, zh[i]) == 0 ||
		    strcasecmp(t, roman[i]) == 0 || strcmp(t, uroman[i]) == 0) {
			out[0] = (char)('0' + i);
			out[1] = '\0';
			return 0;
		}
	return -1;
}

static int
check_len(const char *s, long max, int ctl_ok, char *msg, size_t msglen)
{
	long n = gk_utf8_count(s, ctl_ok);

	if (n < 0) {
		gk_errf(msg, msglen, "not valid UTF-8 text (or holds a control "
		    "character)");
		return -1;
	}
	if (n > max) {
		gk_errf(msg, msglen, "%ld characters, at most %ld allowed", n, max);
		return -1;
	}
	return 0;
}

int
registry_value(enum registry_col c, const char *raw, char *out, size_t outlen,
    char *msg, size_t msglen)
{
	enum gk_plate_colour	 colour;
	char			 up[64];
	size_t			 i, len = strlen(raw);
	long			 lim = 0;
	char			*end;
	long			 code;

	if (gk_utf8_count(raw, c == REGISTRY_NOTE) < 0) {
		gk_errf(msg, msglen, "not valid UTF-8 text (or holds a control "
		    "character)");
		return -1;
	}
	/* Codes are matched case-insensitively: keep an upper-case copy at hand. */
	for (i = 0; i < len && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)raw[i]);
	up[i] = '\0';

	switch (c) {
	case REGISTRY_PLATE_COLOUR:
		code = strtol(raw, &end, 10);
		if (isdigit((unsigned char)raw[0]) && *end == '\0') {
			if (gk_plate_colour_from_code(GK_PLATE_CODES_JTT697_FREIGHT,
			    (int)code, &colour) == -1) {
				gk_errf(msg, msglen, "'%s' is not a JT/T 697.7 colour code",
				    raw);
				return -1;
			}
		} else if (gk_plate_colour_parse(raw, &colour) == -1) {
			gk_errf(msg, msglen, "'%s' is not a plate colour (蓝 黄 绿 黄绿 白 "
			    "黑 其他, blue yellow green yellow_green white black other, "
			    "or a JT/T 697.7 code)", raw);
			return -1;
		}
		if (db_colours[colour] == NULL) {
			gk_errf(msg, msglen, "'%s' is not a colour the registry keeps "
			    "(register an unplated vehicle as other)", raw);
			return -1;
		}
		return gk_strlcpy(out, db_colours[colour], outlen) < outlen ? 0 : -1;
	case REGISTRY_PLATE_KIND:
		if (len != 2 || !isdigit((unsigned char)raw[0]) ||
		    !isdigit((unsigned char)raw[1])) {
			gk_errf(msg, msglen, "'%s' is not a 号牌种类 code (two digits, "
			    "e.g. 01, 02, 52)", raw);
			return -1;
		}
		break;
	case REGISTRY_CATEGORY:
		if (alias_find(category_words, GK_NELEM(category_words), raw, 1, out,
		    outlen) == 0)
			return 0;
		gk_errf(msg, msglen, "'%s' is not a category (external 外部, own_fleet "
		    "自有, nrmm 非道路移动机械)", raw);
		return -1;
	case REGISTRY_VIN:
		if (len != 17) {
			gk_errf(msg, msglen, "'%s' has %zu characters, a VIN has 17", raw,
			    len);
			return -1;
		}
		for (i = 0; i < 17; i++)
			if (!isdigit((unsigned char)up[i]) && !(up[i] >= 'A' &&
			    up[i] <= 'Z' && up[i] != 'I' && up[i] != 'O' &&
			    up[i] != 'Q')) {
				gk_errf(msg, msglen, "'%s': position %zu: '%c' is not "
				    "allowed in a VIN (digits and A-Z without I, O, Q)",
				    raw, i + 1, raw[i]);
				return -1;
			}
		return gk_strlcpy(out, up, outlen) < outlen ? 0 : -1;
	case REGISTRY_ENGINE_NO:
		lim = 32;
		break;
	case REGISTRY_REGISTERED_ON:
	case REGISTRY_NRMM_PRODUCED_ON:
	case REGISTRY_LIST_VALID_TO:
		if (parse_date(raw, out, outlen) == -1) {
			gk_errf(msg, msglen, "'%s' is not a date (yyyy-mm-dd or "
			    "yyyymmdd)", raw);
			return -1;
		}
		return 0;
	case REGISTRY_VEHICLE_TYPE:
		if (len != 3 || !(up[0] >= 'A' && up[0] <= 'Z') ||
		    !isdigit((unsigned char)up[1]) || !isdigit((unsigned char)up[2])) {
			gk_errf(msg, msglen, "'%s' is not a vehicle type code (a letter "
			    "and two digits, e.g. H11, Q11)", raw);
			return -1;
		}
		return gk_strlcpy(out, up, outlen) < outlen ? 0 : -1;
	case REGISTRY_VEHICLE_MODEL:
	case REGISTRY_INFO_PUBLIC_NO:
	case REGISTRY_NRMM_PIN:
	case REGISTRY_APPROVAL_NO:
		lim = 64;
		break;
	case REGISTRY_FUEL_TYPE:
		if (len == 1 && strchr("ABCDEFLMNOYZ", up[0]) != NULL)
			return gk_strlcpy(out, up, outlen) < outlen ? 0 : -1;
		if (alias_find(fuel_words, GK_NELEM(fuel_words), raw, 1, out,
		    outlen) == 0)
			return 0;
		gk_errf(msg, msglen, "'%s' is not a fuel (A-F, L-O, Y, Z or 汽油 柴油 "
		    "电 天然气 ...)", raw);
		return -1;
	case REGISTRY_EMISSION_STAGE:
		if (outlen >= 2 && parse_stage(raw, out) == 0)
			return 0;
		gk_errf(msg, msglen, "'%s' is not a stage (0-6, D, X)", raw);
		return -1;
	case REGISTRY_EMISSION_SOURCE:
		if (alias_find(source_words, GK_NELEM(source_words), raw, 1, out,
		    outlen) == 0)
			return 0;
		gk_errf(msg, msglen, "'%s' is not a stage source (manifest 随车清单, "
		    "lookup 信息公开, platform 平台, inferred 推定)", raw);
		return -1;
	case REGISTRY_USE_NATURE:
		if (len == 1 && up[0] >= 'A' && up[0] <= 'Z')
			return gk_strlcpy(out, up, outlen) < outlen ? 0 : -1;
		if (alias_find(use_words, GK_NELEM(use_words), raw, 0, out,
		    outlen) == 0)
			return 0;
		gk_errf(msg, msglen, "'%s' is not a 使用性质 (one letter A-Z, or 非营运 "
		    "货运 危化品运输 ...)", raw);
		return -1;
	case REGISTRY_FLEET_NAME:
	case REGISTRY_OWNER_NAME:
		lim = 100;
		break;
	case REGISTRY_NRMM_REG_CODE:
	case REGISTRY_NRMM_MACHINE_TYPE:
		lim = 32;
		break;
	case REGISTRY_NOTE:
		lim = 500;
		break;
	case REGISTRY_LIST:
		if (alias_find(list_words, GK_NELEM(list_words), raw, 1, out,
		    outlen) == 0)
			return 0;
		gk_errf(msg, msglen, "'%s' is not a list (blacklist 黑名单, whitelist "
		    "白名单, exemption 豁免)", raw);
		return -1;
	case REGISTRY_LIST_REASON:
		lim = 200;
		break;
	case REGISTRY_EXEMPTION_KIND:
		if (alias_find(exemption_words, GK_NELEM(exemption_words), raw, 1, out,
		    outlen) == 0)
			return 0;
		gk_errf(msg, msglen, "'%s' is not an exemption kind (emergency_transport "
		    "应急运输, livelihood 民生保障, special 特种车辆, hazardous 危化品, "
		    "other 其他)", raw);
		return -1;
	default:
		gk_errf(msg, msglen, "no such column");
		return -1;
	}
	/* Free text (and the two-digit plate kind, lim 0). */
	if (lim > 0 && check_len(raw, lim, c == REGISTRY_NOTE, msg, msglen) == -1)
		return -1;
	if (gk_strlcpy(out, raw, outlen) >= outlen) {
		gk_errf(msg, msglen, "too long");
		return -1;
	}
	return 0;
}

int
registry_plate(const char *raw, const char *colour, const char *category,
    char *out, size_t outlen, char kind[3], char *msg, size_t msglen)
{
	enum gk_plate_colour	 c = GK_PLATE_COLOUR_UNKNOWN;
	struct gk_plate_info	 info;
	struct gk_plate_err	 perr;
	long			 n;
	const char		*p;

	kind[0] = '\0';
	if (category != NULL && strcmp(category, "nrmm") == 0) {
		/* An environmental plate or 登记编码: free text without spaces. */
		n = gk_utf8_count(raw, 0);
		for (p = raw; *p != '\0'; p++)
			if (*p == ' ')
				n = -1;
		if (n < 1 || n > 32) {
			gk_errf(msg, msglen, "'%s' is not a machine plate or 登记编码 "
			    "(1-32 characters, no spaces)", raw);
			return -1;
		}
		return gk_strlcpy(out, raw, outlen) < outlen ? 0 : -1;
	}
	/* "other" fits no plate kind: check the plate's format only. */
	if (strcmp(colour, "other") != 0 && gk_plate_colour_parse(colour, &c) == -1)
		c = GK_PLATE_COLOUR_UNKNOWN;
	if (gk_plate_parse(raw, c, 0, out, outlen, &info, &perr) == -1) {
		gk_errf(msg, msglen, "'%s': %s", raw, perr.msg);
		return -1;
	}
	memcpy(kind, info.kind_code, 3);
	return 0;
}

/* CSV reading. */

struct csv {
	const char	*p, *end;
	int		 line;		/* physical line of p, from 1 */
};

struct record {
	char	**f;
	size_t	 n, cap;
	int	 line;			/* where the record starts */
};

static void
record_clear(struct record *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->f[i]);
	r->n = 0;
}

static int
record_add(struct record *r, const char *s, size_t len)
{
	char **nf;

	if (r->n == r->cap) {
		if ((nf = realloc(r->f, (r->cap * 2 + 8) * sizeof(*nf))) == NULL)
			return -1;
		r->f = nf;
		r->cap = r->cap * 2 + 8;
	}
	if ((r->f[r->n] = malloc(len + 1)) == NULL)
		return -1;
	memcpy(r->f[r->n], s, len);
	r->f[r->n][len] = '\0';
	r->n++;
	return 0;
}

/* Skips the rest of the physical line after a malformed record. */
static void
csv_skip_line(struct csv *c)
{
	while (c->p < c->end && *c->p != '\n')
		c->p++;
	if (c->p < c->end) {
		c->p++;
		c->line++;
	}
}

/*
 * Reads one record into r. Returns 1 for a record, 0 at the end of the input, -1 for
 * a malformed record (msg set; the rest of its line is skipped), -2 on no memory.
 */
static int
csv_record(struct csv *c, struct record *r, char *msg, size_t msglen)
{
	char	*buf = NULL, *nb;
	size_t	 len = 0, cap = 0;
	int	 quoted, rc = -2;

	record_clear(r);
	if (c->p >= c->end)
		return 0;
	r->line = c->line;
	for (;;) {
		len = 0;
		quoted = c->p < c->end && *c->p == '"';
		if (quoted)
			c->p++;
		for (;;) {
			if (c->p >= c->end) {
				if (quoted) {
					gk_errf(msg, msglen, "quoted field not closed "
					    "before the end of the file");
					rc = -1;
					goto out;
				}
				break;
			}
			if (quoted && *c->p == '"') {
				if (c->p + 1 < c->end && c->p[1] == '"') {
					c->p++;		/* a doubled quote */
				} else {
					c->p++;
					quoted = 0;
					if (c->p < c->end && *c->p != ',' &&
					    *c->p != '\n' && !(*c->p == '\r' &&
					    c->p + 1 < c->end && c->p[1] == '\n')) {
						gk_errf(msg, msglen, "text after a "
						    "closing quote (a quote inside a "
						    "quoted field must be doubled)");
						csv_skip_line(c);
						rc = -1;
						goto out;
					}
					continue;
				}
			} else if (!quoted) {
				if (*c->p == ',' || *c->p == '\n' || (*c->p == '\r' &&
				    c->p + 1 < c->end && c->p[1] == '\n'))
					break;
				if (*c->p == '"') {
					gk_errf(msg, msglen, "'\"' inside an unquoted "
					    "field (quote the whole field)");
					csv_skip_line(c);
					rc = -1;
					goto out;
				}
			} else if (*c->p == '\n')
				c->line++;
			if (len + 1 >= cap) {
				if ((nb = realloc(buf, cap * 2 + 64)) == NULL)
					goto out;
				buf = nb;
				cap = cap * 2 + 64;
			}
			buf[len++] = *c->p++;
		}
		if (record_add(r, buf != NULL ? buf : "", len) == -1)
			goto out;
		if (c->p >= c->end)
			break;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		c->p += *c->p == '\r' ? 2 : 1;	/* CRLF or LF */
		c->line++;
		break;
	}
	rc = 1;
out:
	free(buf);
	return rc;
}

/* Trims ASCII spaces and tabs (and the ideographic space) in place. */
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

static int
add_error(struct registry_file *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
add_error(struct registry_file *f, const char *fmt, ...)
{
	char	 buf[REGISTRY_ERR_MAX], **ne;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((ne = realloc(f->errors, (f->nerrors + 1) * sizeof(*ne))) == NULL)
		return -1;
	f->errors = ne;
	if ((ne[f->nerrors] = strdup(buf)) == NULL)
		return -1;
	f->nerrors++;
	return 0;
}

static void
row_free(struct registry_row *r)
{
	int i;

	for (i = 0; i < REGISTRY_NCOLS; i++) {
		free(r->v[i]);
		r->v[i] = NULL;
	}
}

void
registry_file_free(struct registry_file *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->nrows; i++)
		row_free(&f->rows[i]);
	free(f->rows);
	for (i = 0; i < f->nerrors; i++)
		free(f->errors[i]);
	free(f->errors);
	memset(f, 0, sizeof(*f));
}

/* What the header says about each of its cells. */
struct header {
	size_t		  n;
	int		 *col;		/* column per cell */
	const char	**list;		/* yes/no list columns: the list, else NULL */
	char		**name;		/* the cell as written (trimmed), for messages */
	const char	 *colname[REGISTRY_NCOLS];	/* first cell naming a column */
};

static void
header_free(struct header *h)
{
	size_t i;

	for (i = 0; h->name != NULL && i < h->n; i++)
		free(h->name[i]);
	free(h->name);
	free(h->col);
	free(h->list);
}

static int
read_header(const char *fname, struct record *r, struct header *h,
    struct registry_file *f, char *err, size_t errlen)
{
	const char	*lv;
	char		*cell;
	size_t		 i, j;
	int		 c;

	h->n = r->n;
	h->col = calloc(r->n, sizeof(*h->col));
	h->list = calloc(r->n, sizeof(*h->list));
	h->name = calloc(r->n, sizeof(*h->name));
	if (h->col == NULL || h->list == NULL || h->name == NULL) {
		gk_errf(err, errlen, "%s: out of memory", fname);
		return -1;
	}
	for (i = 0; i < r->n; i++) {
		cell = trim(r->f[i]);
		if ((h->name[i] = strdup(cell)) == NULL) {
			gk_errf(err, errlen, "%s: out of memory", fname);
			return -1;
		}
		if (gk_utf8_count(cell, 0) < 0) {
			gk_errf(err, errlen, "%s:%d: column %zu: header is not valid "
			    "UTF-8 (save the file as UTF-8)", fname, r->line, i + 1);
			return -1;
		}
		if ((c = registry_col_lookup(cell, &lv)) == -1) {
			gk_errf(err, errlen, "%s:%d: column %zu: unknown column '%s'",
			    fname, r->line, i + 1, cell);
			return -1;
		}
		/* 黑名单, 白名单 and 豁免 columns may stand side by side (and by 名单). */
		for (j = 0; j < i; j++)
			if (h->col[j] == c && !(c == REGISTRY_LIST &&
			    (lv != NULL || h->list[j] != NULL))) {
				gk_errf(err, errlen, "%s:%d: column %zu: '%s' names the "
				    "same field (%s) as column %zu '%s'", fname, r->line,
				    i + 1, cell, col_names[c], j + 1, h->name[j]);
				return -1;
			}
		h->col[i] = c;
		h->list[i] = lv;
		h->colname[c] = h->name[i];
		f->present |= (uint32_t)1 << c;
	}
	if (!(f->present & (1u << REGISTRY_PLATE)) ||
	    !(f->present & (1u << REGISTRY_PLATE_COLOUR))) {
		gk_errf(err, errlen, "%s:%d: the header has no column %s%s%s", fname,
		    r->line, f->present & (1u << REGISTRY_PLATE) ? "" :
		    "车牌号码 (plate)", (f->present & 3u) == 0 ? " and no column " : "",
		    f->present & (1u << REGISTRY_PLATE_COLOUR) ? "" :
		    "号牌颜色 (plate_colour)");
		return -1;
	}
	/* plate_kind is filled from the plate when the file does not give it. */
	f->present |= 1u << REGISTRY_PLATE_KIND;
	return 0;
}

/* The name a message uses for column c: as the file's header wrote it. */
static const char *
hname(const struct header *h, int c)
{
	return h->colname[c] != NULL ? h->colname[c] : col_names[c];
}

/*
 * Validates one data record into row. Returns 0 for a good row, 1 for a bad one
 * (each problem added to f->errors), -1 on no memory.
 */
static int
read_row(const char *fname, const struct header *h, struct record *r,
    struct registry_row *row, struct registry_file *f)
{
	char	 val[2048], msg[REGISTRY_ERR_MAX], plate[GK_PLATE_MAX * 2], kind[3];
	char	*cell;
	uint32_t failed = 0;	/* columns whose cell was given but refused */
	size_t	 i, k;
	int	 c, bad = 0;

	memset(row, 0, sizeof(*row));
	row->line = r->line;
	if (r->n != h->n) {
		if (add_error(f, "%s:%d: %zu fields, the header has %zu", fname,
		    r->line, r->n, h->n) == -1)
			return -1;
		return 1;
	}
	for (i = 0; i < r->n; i++) {
		c = h->col[i];
		cell = trim(r->f[i]);
		if (cell[0] == '\0')
			continue;
		if (h->list[i] != NULL) {
			/* A yes/no column standing for one list. */
			if (word_in(no_words, GK_NELEM(no_words), cell))
				continue;
			if (!word_in(yes_words, GK_NELEM(yes_words), cell)) {
				if (add_error(f, "%s:%d: field %s: '%s' is not yes or no "
				    "(是/否)", fname, r->line, h->name[i], cell) == -1)
					return -1;
				bad = 1;
				continue;
			}
			if (row->v[c] != NULL) {
				if (add_error(f, "%s:%d: field %s: the row is already on "
				    "the %s", fname, r->line, h->name[i], row->v[c]) == -1)
					return -1;
				bad = 1;
				continue;
			}
			if ((row->v[c] = strdup(h->list[i])) == NULL)
				return -1;
			continue;
		}
		if (c == REGISTRY_PLATE) {
			/* Checked below, once colour and category are known. */
			if ((row->v[c] = strdup(cell)) == NULL)
				return -1;
			continue;
		}
		if (registry_value(c, cell, val, sizeof(val), msg, sizeof(msg)) == -1) {
			if (add_error(f, "%s:%d: field %s: %s", fname, r->line,
			    h->name[i], msg) == -1)
				return -1;
			failed |= 1u << c;
			bad = 1;
			continue;
		}
		if (c == REGISTRY_LIST && row->v[c] != NULL) {
			if (add_error(f, "%s:%d: field %s: the row is already on the %s",
			    fname, r->line, h->name[i], row->v[c]) == -1)
				return -1;
			bad = 1;
			continue;
		}
		if ((row->v[c] = strdup(val)) == NULL)
			return -1;
	}

	/* An empty category is the table's default, not NULL (NOT NULL column). */
	if ((f->present & (1u << REGISTRY_CATEGORY)) && row->v[REGISTRY_CATEGORY] == NULL &&
	    !(failed & (1u << REGISTRY_CATEGORY)) &&
	    (row->v[REGISTRY_CATEGORY] = strdup("external")) == NULL)
		return -1;

	/* Cross-field rules, as the database's constraints have them. */
#define ROW_ERR(col, ...) do {							\
	if (add_error(f, "%s:%d: field %s: ", fname, r->line,			\
	    hname(h, (col))) == -1)						\
		return -1;							\
	snprintf(msg, sizeof(msg), __VA_ARGS__);				\
	k = strlen(f->errors[f->nerrors - 1]);					\
	if ((cell = realloc(f->errors[f->nerrors - 1], k + strlen(msg) + 1)) == NULL) \
		return -1;							\
	strcpy(cell + k, msg);							\
	f->errors[f->nerrors - 1] = cell;					\
	bad = 1;								\
} while (0)

	if (row->v[REGISTRY_PLATE] == NULL)
		ROW_ERR(REGISTRY_PLATE, "required");
	if (row->v[REGISTRY_PLATE_COLOUR] == NULL &&
	    !(failed & (1u << REGISTRY_PLATE_COLOUR)))
		ROW_ERR(REGISTRY_PLATE_COLOUR, "required");
	if (row->v[REGISTRY_PLATE] != NULL && row->v[REGISTRY_PLATE_COLOUR] != NULL) {
		if (registry_plate(row->v[REGISTRY_PLATE], row->v[REGISTRY_PLATE_COLOUR],
		    row->v[REGISTRY_CATEGORY], plate, sizeof(plate), kind, msg,
		    sizeof(msg)) == -1) {
			if (add_error(f, "%s:%d: field %s: %s", fname, r->line,
			    hname(h, REGISTRY_PLATE), msg) == -1)
				return -1;
			bad = 1;
		} else {
			free(row->v[REGISTRY_PLATE]);
			if ((row->v[REGISTRY_PLATE] = strdup(plate)) == NULL)
				return -1;
			/* The plate says its kind when the file does not. */
			if (row->v[REGISTRY_PLATE_KIND] == NULL && kind[0] != '\0' &&
			    (row->v[REGISTRY_PLATE_KIND] = strdup(kind)) == NULL)
				return -1;
		}
	}
	if (row->v[REGISTRY_EMISSION_STAGE] != NULL &&
	    row->v[REGISTRY_EMISSION_SOURCE] == NULL)
		ROW_ERR(REGISTRY_EMISSION_STAGE, "a stage needs its evidence in column "
		    "排放阶段依据 (emission_source: manifest, lookup, platform, inferred)");
	if (row->v[REGISTRY_LIST] != NULL) {
		if (row->v[REGISTRY_LIST_REASON] == NULL)
			ROW_ERR(REGISTRY_LIST, "a list entry needs a reason (名单原因)");
		if (strcmp(row->v[REGISTRY_LIST], "exemption") == 0 &&
		    row->v[REGISTRY_EXEMPTION_KIND] == NULL)
			ROW_ERR(REGISTRY_LIST, "an exemption needs its kind (豁免类型)");
	} else {
		for (c = REGISTRY_LIST_REASON; c < REGISTRY_NCOLS; c++)
			if (row->v[c] != NULL)
				ROW_ERR(c, "given without a list (名单)");
	}
#undef ROW_ERR
	/* The same vehicle twice would be applied twice: the later one is refused. */
	if (!bad)
		for (i = 0; i < f->nrows; i++)
			if (strcmp(f->rows[i].v[REGISTRY_PLATE],
			    row->v[REGISTRY_PLATE]) == 0 &&
			    strcmp(f->rows[i].v[REGISTRY_PLATE_COLOUR],
			    row->v[REGISTRY_PLATE_COLOUR]) == 0) {
				if (add_error(f, "%s:%d: field %s: %s (%s) is already "
				    "given on line %d", fname, r->line,
				    hname(h, REGISTRY_PLATE), row->v[REGISTRY_PLATE],
				    row->v[REGISTRY_PLATE_COLOUR], f->rows[i].line) == -1)
					return -1;
				bad = 1;
				break;
			}
	return bad;
}

int
registry_csv_parse(const char *name, const char *buf, size_t len,
    struct registry_file *f, char *err, size_t errlen)
{
	struct csv		 c;
	struct record		 r;
	struct header		 h;
	struct registry_row	 row, *nr;
	char			 msg[REGISTRY_ERR_MAX];
	size_t			 nbad = 0;
	int			 rc, ret = -1, seen_header = 0;

	memset(f, 0, sizeof(*f));
	memset(&r, 0, sizeof(r));
	memset(&h, 0, sizeof(h));
	memset(&row, 0, sizeof(row));
	if (len > REGISTRY_CSV_MAX_BYTES) {
		gk_errf(err, errlen, "%s: %zu bytes, more than the %d allowed", name, len,
		    REGISTRY_CSV_MAX_BYTES);
		return -1;
	}
	c.p = buf;
	c.end = buf + len;
	c.line = 1;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	for (;;) {
		rc = csv_record(&c, &r, msg, sizeof(msg));
		if (rc == 0)
			break;
		if (rc == -2) {
			gk_errf(err, errlen, "%s: out of memory", name);
			goto out;
		}
		if (!seen_header) {
			if (rc == -1) {
				gk_errf(err, errlen, "%s:%d: header: %s", name, r.line, msg);
				goto out;
			}
			if (r.n == 1 && trim(r.f[0])[0] == '\0')
				continue;	/* blank lines before the header */
			if (read_header(name, &r, &h, f, err, errlen) == -1)
				goto out;
			seen_header = 1;
			continue;
		}
		if (rc == 1 && r.n == 1 && r.f[0][0] == '\0')
			continue;		/* a blank line */
		f->nrecords++;
		if (rc == -1) {
			if (add_error(f, "%s:%d: %s", name, r.line, msg) == -1)
				goto nomem;
			nbad++;
			continue;
		}
		if ((rc = read_row(name, &h, &r, &row, f)) == -1)
			goto nomem;
		if (rc == 1) {
			row_free(&row);
			nbad++;
			continue;
		}
		if ((nr = realloc(f->rows, (f->nrows + 1) * sizeof(*nr))) == NULL)
			goto nomem;
		f->rows = nr;
		f->rows[f->nrows++] = row;
		memset(&row, 0, sizeof(row));
	}
	if (!seen_header) {
		gk_errf(err, errlen, "%s: empty file, no header", name);
		goto out;
	}
	f->nbad = nbad;
	ret = 0;
	goto out;
nomem:
	gk_errf(err, errlen, "%s: out of memory", name);
out:
	row_free(&row);
	record_clear(&r);
	free(r.f);
	header_free(&h);
	if (ret == -1)
		registry_file_free(f);
	return ret;
}
