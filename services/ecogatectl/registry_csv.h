/*
 * registry_csv: the pure half of `ecogatectl registry import`. It turns the bytes of a
 * vehicle registry file (the regulator's spreadsheet saved as CSV, or our own export)
 * into validated rows whose values are already in the database's canonical form, and
 * says for every row it refuses which line and which field is wrong, so an operator can
 * fix the file instead of guessing. No I/O, no database: registry.c does that.
 *
 * The file: RFC 4180 CSV (fields may be quoted; quotes inside are doubled; quoted fields
 * may hold commas and line breaks), UTF-8 with or without a byte order mark, LF or CRLF
 * line ends. The first record is the header. Each column is named either by the SQL
 * column name (plate, plate_colour, vin ...) or by one of the template's Chinese names
 * (车牌号码, 号牌颜色, 车辆识别代号(VIN) ...); registry_csv_columns() lists them all. An
 * unknown or repeated column rejects the whole file (a misspelt column must not be
 * dropped silently); plate and plate_colour columns are required.
 *
 * Values: leading and trailing spaces are trimmed; an empty cell is SQL NULL. Columns
 * not in the header are left as they are in the database on update. Codes accept their
 * Chinese names too (排放阶段 国六 -> 6, 燃料种类 柴油 -> B, 号牌颜色 黄 or JT/T 697.7
 * code 2 -> yellow, 名单 黑名单 -> blacklist). Dates are yyyy-mm-dd or yyyymmdd.
 * Plates are normalised and checked with gatekit/plate.h against the colour (for
 * category nrmm, the plate is the machine's environmental plate or 登记编码: any
 * 1-32 characters without spaces).
 *
 * Besides the vehicle, a row may put the plate on a list: 名单 (list) blacklist,
 * whitelist or exemption with 名单原因 (list_reason, required), 豁免类型 (exemption_kind,
 * required for exemptions), 审批编号 (approval_no) and 失效日期 (list_valid_to); or a
 * yes/no column 黑名单, 白名单 or 豁免. An empty list cell leaves existing entries alone.
 */
#ifndef ECOGATECTL_REGISTRY_CSV_H
#define ECOGATECTL_REGISTRY_CSV_H

#include <stddef.h>
#include <stdint.h>

/* The largest file accepted; a registry of a plant is a few thousand rows. */
#define REGISTRY_CSV_MAX_BYTES	(64 * 1024 * 1024)
/* The longest error message for one row. */
#define REGISTRY_ERR_MAX	512

/*
 * Columns. The vehicle table's columns come first, in table order, up to
 * REGISTRY_COL_NVEHICLE; the list columns follow.
 */
enum registry_col {
	REGISTRY_PLATE = 0,
	REGISTRY_PLATE_COLOUR,
	REGISTRY_PLATE_KIND,
	REGISTRY_CATEGORY,
	REGISTRY_VIN,
	REGISTRY_ENGINE_NO,
	REGISTRY_REGISTERED_ON,
	REGISTRY_VEHICLE_TYPE,
	REGISTRY_VEHICLE_MODEL,
	REGISTRY_FUEL_TYPE,
	REGISTRY_EMISSION_STAGE,
	REGISTRY_EMISSION_SOURCE,
	REGISTRY_INFO_PUBLIC_NO,
	REGISTRY_USE_NATURE,
	REGISTRY_FLEET_NAME,
	REGISTRY_OWNER_NAME,
	REGISTRY_NRMM_REG_CODE,
	REGISTRY_NRMM_PRODUCED_ON,
	REGISTRY_NRMM_PIN,
	REGISTRY_NRMM_MACHINE_TYPE,
	REGISTRY_NOTE,
	REGISTRY_COL_NVEHICLE,			/* end of the vehicle columns */
	REGISTRY_LIST = REGISTRY_COL_NVEHICLE,	/* blacklist / whitelist / exemption */
	REGISTRY_LIST_REASON,
	REGISTRY_EXEMPTION_KIND,
	REGISTRY_APPROVAL_NO,
	REGISTRY_LIST_VALID_TO,
	REGISTRY_NCOLS
};

/* One good row: canonical values, NULL for an empty cell or an absent column. */
struct registry_row {
	int	 line;			/* line of the file where the record starts */
	char	*v[REGISTRY_NCOLS];	/* owned */
};

/* A parsed file. Free with registry_file_free(). */
struct registry_file {
	uint32_t		 present;	/* bit c: column c is in the header */
	struct registry_row	*rows;		/* the good rows, in file order */
	size_t			 nrows;
	/* "FILE:LINE: ..." for each problem (a bad row may have several), owned */
	char			**errors;
	size_t			 nerrors;
	size_t			 nbad;		/* rows refused */
	size_t			 nrecords;	/* data records seen (good + bad) */
};

/* The SQL column name of c ("plate"), or "?" when out of range. */
const char *registry_col_name(enum registry_col c);

/*
 * The column a header cell names (SQL or Chinese name, trimmed), or -1. Yes/no list
 * columns (黑名单, 白名单, 豁免) map to REGISTRY_LIST; *list_value (may be NULL) is
 * then set to the list they stand for, else to NULL.
 */
int	registry_col_lookup(const char *name, const char **list_value);

/*
 * Parses the file name (used in messages) whose bytes are buf[0..len). Returns 0 with
 * f filled (good rows and one message per bad row), or -1 with err ("FILE:LINE: ...")
 * when the file as a whole is unusable: too large, no header, an unknown, repeated or
 * missing required column, bad UTF-8 in the header. f is always safe to free.
 */
int	registry_csv_parse(const char *name, const char *buf, size_t len,
	    struct registry_file *f, char *err, size_t errlen);

/* Frees what f holds and zeroes it. NULL-safe. */
void	registry_file_free(struct registry_file *f);

/*
 * Canonical value of one cell, for the CLI's own options too (--colour): validates
 * raw (trimmed, non-empty) for column c and writes the canonical text into out.
 * Returns 0, or -1 with msg set to the reason ("'Y' is not a stage (0-6, D, X)").
 * Plates are not handled here (they depend on the colour and category).
 */
int	registry_value(enum registry_col c, const char *raw, char *out, size_t outlen,
	    char *msg, size_t msglen);

/*
 * Normalises and checks a plate for colour (the canonical colour name, as stored) and
 * category ("nrmm" relaxes the format; NULL means external). Returns 0 with the plate
 * in out and its GA 号牌种类 code in kind ("" when it has none, e.g. nrmm), or -1
 * with msg set.
 */
int	registry_plate(const char *raw, const char *colour, const char *category,
	    char *out, size_t outlen, char kind[3], char *msg, size_t msglen);

#endif
