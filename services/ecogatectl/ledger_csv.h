/*
 * ledger_csv: the pure half of `ecogatectl ledger export` and `migrate-import`: the
 * regulator's column sets for each ledger (Chinese headers in the regulator's order,
 * DOMAIN §2), the mapping between a record's English `fields` (docs/ledger.md) and
 * the cells an inspector reads, China time, RFC 4180 quoting, and the other way
 * round the validation of a historical ledger's rows. No database, no files opened:
 * ledger_export.c does the I/O, so everything here is unit-tested with expectations
 * written by hand (tests/ledger_export).
 *
 * Times: the ledger keeps RFC 3339 instants; the regulator's 进出厂时间 is the plant's
 * local time written `yyyymmdd HHmmss`. The plant's time is China Standard Time, a
 * fixed +08:00 (China has kept no daylight saving since 1991, so no time zone
 * database is consulted and the result does not depend on the machine's TZ). An
 * imported time without an offset is read as +08:00 too.
 *
 * Export and import agree on one table: what export writes, migrate-import reads
 * back (codes shown by their Chinese names are mapped back to the codes).
 */
#ifndef ECOGATECTL_LEDGER_CSV_H
#define ECOGATECTL_LEDGER_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "gatekit/util.h"

/* The ledgers an export can name; audit is the operators' actions (kind audit). */
enum ledger_csv_ledger {
	LEDGER_CSV_TRANSPORT = 0,	/* 进出厂运输车辆 */
	LEDGER_CSV_FLEET,		/* 厂内运输车辆 */
	LEDGER_CSV_MACHINERY,		/* 非道路移动机械 */
	LEDGER_CSV_AUDIT,		/* 操作记录 */
	LEDGER_CSV_NLEDGERS
};

/* How a column's value is written and read. */
enum ledger_csv_fmt {
	LCF_TEXT,		/* free text, at most max characters */
	LCF_TIME,		/* RFC 3339 <-> yyyymmdd HHmmss (+08:00) */
	LCF_DATE,		/* yyyy-mm-dd <-> yyyymmdd */
	LCF_STAGE,		/* one character 0-6, D (X for machinery) */
	LCF_COLOUR,		/* blue <-> 蓝 ... */
	LCF_FUEL,		/* B <-> 柴油 ... (DOMAIN §6) */
	LCF_USE,		/* F <-> 货运 ... */
	LCF_VTYPE,		/* GA 802 code, kept as the code (H11) */
	LCF_VIN,		/* 17 characters */
	LCF_PLATE,		/* a plate, checked against its colour */
	LCF_TONNAGE,		/* tonnes, one decimal, as a string */
	LCF_DIRECTION,		/* in <-> 进, out <-> 出 */
	LCF_RESULT,		/* allow <-> 放行, deny <-> 拒绝, review <-> 人工审核 */
	LCF_ALERT,		/* none <-> 无, orange <-> 橙色 ... */
	LCF_LIST,		/* array of strings <-> "a;b" */
	LCF_ID			/* the record's event_id: exported, not imported */
};

/*
 * One column. path names where export finds the value in the record body: "fields.x"
 * (imported into fields.x too), "event_id", "event.actor.id" ...; alt, when not NULL,
 * is tried when path is absent.
 */
struct ledger_csv_col {
	const char		*header;	/* the regulator's Chinese header */
	const char		*path;
	const char		*alt;
	enum ledger_csv_fmt	 fmt;
	int			 max;		/* LCF_TEXT and LCF_LIST items: characters */
};

#define LEDGER_CSV_TS_LEN	16	/* "20240301 083000" and the NUL */
#define LEDGER_CSV_CELL_MAX	4096	/* bytes of one exported or imported cell */
#define LEDGER_CSV_MAX_COLS	64	/* columns of an imported file */
#define LEDGER_CSV_ERR_MAX	512	/* one message */
#define LEDGER_CSV_ROW_ERRS	8	/* messages kept per row; more are counted */

/* The ledger named name ("transport", "fleet", "machinery", "audit"), or -1. */
int	ledger_csv_ledger(const char *name);

/* The English name of l ("transport"), and its Chinese sheet title (进出厂运输车辆). */
const char *ledger_csv_ledger_name(int l);
const char *ledger_csv_ledger_title(int l);

/* The columns of ledger l in export order; *n set to their number. NULL if no l. */
const struct ledger_csv_col *ledger_csv_columns(int l, size_t *n);

/*
 * Formatting for export.
 *
 * ledger_csv_local_time: an RFC 3339 instant as China's local "yyyymmdd HHmmss"
 * (seconds truncated, never rounded up). Returns 0, or -1 when s is not RFC 3339.
 */
int	ledger_csv_local_time(const char *rfc3339, char out[LEDGER_CSV_TS_LEN]);

/*
 * The local day yyyy-mm-dd or yyyymmdd as the half-open range of instants it covers:
 * lo = its 00:00:00+08:00, and when next is not zero, the following day's start
 * instead (for the end of an inclusive --to). Written as "2024-03-01T00:00:00+08:00"
 * into out (at least 32 bytes). Returns 0, or -1 when day is not a real date.
 */
int	ledger_csv_day_start(const char *day, int next, char *out, size_t outlen);

/*
 * The cell of column c for the record body (a parsed ledger-record.v1): "" when the
 * value is absent. Codes that have a Chinese name are written by it; a value that is
 * not what the column expects is written as it is (never dropped). Returns 0, or -1
 * when the cell does not fit outlen.
 */
int	ledger_csv_cell(const struct ledger_csv_col *c, const json_t *body, char *out,
	    size_t outlen);

/*
 * Appends s to out as one RFC 4180 field: quoted (quotes doubled) only when it holds
 * a comma, a quote, CR or LF. out must hold 2 * strlen(s) + 3 bytes. Returns the
 * number of bytes written (no NUL added).
 */
size_t	ledger_csv_quote(char *out, const char *s);

/*
 * Reading a historical ledger (migrate-import).
 *
 * The CSV reader streams records from fp: RFC 4180 (quoted fields with commas,
 * doubled quotes and line breaks), UTF-8 with or without BOM, LF or CRLF. One record
 * at a time is held, each field at most LEDGER_CSV_CELL_MAX bytes, at most
 * LEDGER_CSV_MAX_COLS fields.
 */
struct ledger_csv_reader {
	FILE	*fp;
	int	 line;		/* physical line about to be read, from 1 */
	int	 rline;		/* where the last record started */
	int	 bom_checked;
	char	**f;		/* the last record's fields (owned) */
	size_t	 n, cap;
	char	*buf;		/* one field being read */
	size_t	 blen, bcap;
};

/* Starts reading fp (borrowed) from its current position. */
void	ledger_csv_reader_init(struct ledger_csv_reader *r, FILE *fp);

/*
 * Reads the next record into r->f[0..r->n). Returns 1 for a record, 0 at the end, -1
 * for a malformed record (msg says why; the rest of its physical line is skipped),
 * -2 on a read error or no memory.
 */
int	ledger_csv_read(struct ledger_csv_reader *r, char *msg, size_t msglen);

/* Frees what r holds. */
void	ledger_csv_reader_free(struct ledger_csv_reader *r);

/* What an imported file's header says: the column each cell stands for. */
struct ledger_csv_header {
	int		 ledger;
	size_t		 n;
	int		 col[LEDGER_CSV_MAX_COLS];	/* index into the columns */
	char		*name[LEDGER_CSV_MAX_COLS];	/* as written, trimmed (owned) */
};

/*
 * Reads the header record cells[0..n) of a file for ledger l: every cell must name
 * one of l's columns (its Chinese header, a known variant, or the field's English
 * key), none twice; the time column is required. Returns 0, or -1 with err set
 * ("column 3: unknown column '车号'"). h is always safe to free.
 */
int	ledger_csv_header_read(int l, char *const *cells, size_t n,
	    struct ledger_csv_header *h, char *err, size_t errlen);
void	ledger_csv_header_free(struct ledger_csv_header *h);

/* One imported row, validated. */
struct ledger_csv_row {
	json_t	*fields;	/* the record's fields (owned) */
	json_t	*event;		/* the row as an object of strings, header -> cell */
	int64_t	 ms;		/* its time: the record's event_ts */
	char	 ts[GK_TS_LEN];	/* ms as RFC 3339 UTC */
	/* "field 车牌号码: ..." for each problem of a bad row */
	char	 err[LEDGER_CSV_ROW_ERRS][LEDGER_CSV_ERR_MAX];
	int	 nerr;		/* problems found (may exceed what err keeps) */
};

/*
 * Validates the data record cells[0..n) under header h into row: canonical values in
 * row->fields, the cells verbatim in row->event. now_ms bounds the time (a
 * historical row cannot lie in the future). Returns 0 for a good row, 1 for a bad
 * one (row->err says why), -1 on no memory. Free row with ledger_csv_row_free().
 */
int	ledger_csv_row_read(const struct ledger_csv_header *h, char *const *cells,
	    size_t n, int64_t now_ms, struct ledger_csv_row *row);
void	ledger_csv_row_free(struct ledger_csv_row *row);

/*
 * Parses a local time as old systems write it, read as +08:00: "yyyymmdd HHmmss",
 * "yyyymmddHHmmss", "yyyy-mm-dd HH:MM[:SS]" (also with / and unpadded month, day
 * and hour, as Excel saves them, or a T), or RFC 3339 with its own offset. Returns
 * 0 with *ms set, or -1.
 */
int	ledger_csv_parse_time(const char *s, int64_t *ms);

/*
 * The event_id of an imported row: UUIDv7-shaped (version 7, variant 10), its first
 * 48 bits the row's time in ms (so ids sort as the records' times do), the rest from
 * SHA-256("ecogate.ledger-import.v1" NUL site NUL file_sha256 NUL line). The same
 * file imported again gives the same ids, which the store refuses to append twice.
 * Returns 0, or -1 on a bad argument or a hash failure.
 */
int	ledger_csv_import_id(char out[GK_ID_LEN], const char *site,
	    const char *file_sha256, int line, int64_t ms);

#endif
