/*
 * `ecogatectl ledger export` and `ecogatectl ledger migrate-import` (issue 4): the
 * I/O half of the regulator's ledger files; ledger_csv.c holds the columns, the
 * mapping and the validation.
 *
 * export reads a site's records for a period of local (China) days in time order,
 * a page at a time by keyset (event_ts, seq), so memory stays bounded whatever the
 * period; each record's canonical body is what is exported, the search columns only
 * select. CSV is UTF-8 with a BOM (Excel in China opens it as UTF-8 only then) and
 * CRLF records (RFC 4180); XLSX goes through libxlsxwriter in constant-memory mode.
 * A file named with -o is written beside itself and renamed when complete, so a
 * failed export never leaves a plausible half file.
 *
 * migrate-import appends an old system's ledger as records of kind import through
 * the ledger-writer's store (store.h), the same code that appends passages, so the
 * records are chained like any other. The file is read twice and never held whole:
 * first to hash it and validate every row (bad rows reported by line and field),
 * then, after the import is audited on Kafka and while the site's ledger lock is
 * held, to append the good rows in batches. Each row's event_id derives from site,
 * file hash and line (ledger_csv_import_id), so importing the same file again adds
 * nothing.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <xlsxwriter.h>

#include "gatekit/db.h"
#include "gatekit/util.h"

#include "audit.h"
#include "jcs.h"
#include "ledger_cmd.h"
#include "ledger_csv.h"
#include "store.h"

#define DEFAULT_PG_CONNINFO	"host=127.0.0.1 port=25432 dbname=ecogate user=postgres"
#define DEFAULT_KAFKA_BROKERS	"127.0.0.1:29092"
#define DEFAULT_SITE		"site1"

#define PAGE_ROWS		1000	/* records read per query */
#define GK_STR_(x)		#x
#define GK_XSTR(x)		GK_STR_(x)
#define PROGRESS_MS		2000	/* a progress line at most this often */
#define BODY_MAX		(1 << 20)
#define XLSX_MAX_ROWS		1048576	/* rows of one worksheet, header included */
#define IMPORT_BATCH		500	/* records appended per transaction */
#define IMPORT_MAX_SHOWN	1000	/* bad-row messages printed; more are counted */

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : def;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

/* Export: the output, CSV or XLSX, behind one row-writing interface. */

struct out {
	int			 xlsx;
	FILE			*fp;		/* csv */
	lxw_workbook		*wb;		/* xlsx */
	lxw_worksheet		*ws;
	lxw_format		*bold;
	uint32_t		 xrow;		/* next row of ws */
	int			 nsheets;
	int			 ledger;
	char			*line;		/* csv: one record being built */
	size_t			 linecap;
};

static int
xlsx_sheet(struct out *o)
{
	const struct ledger_csv_col	*cols;
	char				 name[64];
	size_t				 n, i;

	cols = ledger_csv_columns(o->ledger, &n);
	o->nsheets++;
	if (o->nsheets == 1)
		snprintf(name, sizeof(name), "%s", ledger_csv_ledger_title(o->ledger));
	else
		snprintf(name, sizeof(name), "%s(%d)", ledger_csv_ledger_title(o->ledger),
		    o->nsheets);
	if ((o->ws = workbook_add_worksheet(o->wb, name)) == NULL)
		return -1;
	/* Widths: times and ids are long, most codes short. */
	for (i = 0; i < n; i++)
		worksheet_set_column(o->ws, (lxw_col_t)i, (lxw_col_t)i,
		    cols[i].fmt == LCF_TIME ? 17 : cols[i].fmt == LCF_ID ? 38 :
		    cols[i].fmt == LCF_LIST ? 30 : 14, NULL);
	worksheet_freeze_panes(o->ws, 1, 0);
	o->xrow = 0;
	return 0;
}

/* Writes one row of n cells. Returns 0 or -1. */
static int
out_row(struct out *o, char cells[][LEDGER_CSV_CELL_MAX], size_t n, int header)
{
	size_t	i, need, len = 0;
	char	*nl;

	if (o->xlsx) {
		if (!header && o->xrow >= XLSX_MAX_ROWS) {
			/* A worksheet is full: the rest goes on to the next one. */
			if (xlsx_sheet(o) == -1 || out_row(o, NULL, 0, 1) == -1)
				return -1;
		}
		if (header) {
			const struct ledger_csv_col *cols = ledger_csv_columns(o->ledger,
			    &n);
			for (i = 0; i < n; i++)
				if (worksheet_write_string(o->ws, o->xrow, (lxw_col_t)i,
				    cols[i].header, o->bold) != LXW_NO_ERROR)
					return -1;
		} else
			for (i = 0; i < n; i++)
				if (cells[i][0] != '\0' && worksheet_write_string(o->ws,
				    o->xrow, (lxw_col_t)i, cells[i], NULL) !=
				    LXW_NO_ERROR)
					return -1;
		o->xrow++;
		return 0;
	}
	for (i = 0, need = 3; i < n; i++)
		need += 2 * strlen(cells[i]) + 3;
	if (need > o->linecap) {
		if ((nl = realloc(o->line, need)) == NULL)
			return -1;
		o->line = nl;
		o->linecap = need;
	}
	for (i = 0; i < n; i++) {
		if (i > 0)
			o->line[len++] = ',';
		len += ledger_csv_quote(o->line + len, cells[i]);
	}
	o->line[len++] = '\r';
	o->line[len++] = '\n';
	return fwrite(o->line, 1, len, o->fp) == len ? 0 : -1;
}

static int
out_header(struct out *o)
{
	static char			 cells[LEDGER_CSV_MAX_COLS][LEDGER_CSV_CELL_MAX];
	const struct ledger_csv_col	*cols;
	size_t				 n, i;

	if (o->xlsx)
		return out_row(o, NULL, 0, 1);
	cols = ledger_csv_columns(o->ledger, &n);
	for (i = 0; i < n; i++)
		gk_strlcpy(cells[i], cols[i].header, sizeof(cells[i]));
	/* The BOM: Excel reads a CSV without it in the ANSI code page (GBK). */
	if (fwrite("\xef\xbb\xbf", 1, 3, o->fp) != 3)
		return -1;
	return out_row(o, cells, n, 0);
}

static int
out_open(struct out *o, const char *path, int xlsx, int ledger, char *err,
    size_t errlen)
{
	lxw_workbook_options opt;

	memset(o, 0, sizeof(*o));
	o->xlsx = xlsx;
	o->ledger = ledger;
	if (!xlsx) {
		if (path == NULL)
			o->fp = stdout;
		else if ((o->fp = fopen(path, "wb")) == NULL) {
			gk_errf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	memset(&opt, 0, sizeof(opt));
	/* Rows go to a temporary file as written: memory does not grow with rows. */
	opt.constant_memory = LXW_TRUE;
	if ((o->wb = workbook_new_opt(path, &opt)) == NULL) {
		gk_errf(err, errlen, "%s: cannot create the workbook", path);
		return -1;
	}
	if ((o->bold = workbook_add_format(o->wb)) != NULL)
		format_set_bold(o->bold);
	if (xlsx_sheet(o) == -1) {
		gk_errf(err, errlen, "%s: cannot add a worksheet", path);
		return -1;
	}
	return 0;
}

/* Finishes the file; returns 0 or -1 with err set. */
static int
out_close(struct out *o, char *err, size_t errlen)
{
	lxw_error	e;
	int		rc = 0;

	free(o->line);
	o->line = NULL;
	if (o->xlsx) {
		if (o->wb != NULL && (e = workbook_close(o->wb)) != LXW_NO_ERROR) {
			gk_errf(err, errlen, "xlsx: %s", lxw_strerror(e));
			rc = -1;
		}
		o->wb = NULL;
		return rc;
	}
	if (o->fp == NULL)
		return 0;
	if (fflush(o->fp) == EOF || ferror(o->fp)) {
		gk_errf(err, errlen, "write error: %s", strerror(errno));
		rc = -1;
	}
	if (o->fp != stdout && fclose(o->fp) == EOF && rc == 0) {
		gk_errf(err, errlen, "write error: %s", strerror(errno));
		rc = -1;
	}
	o->fp = NULL;
	return rc;
}

/*
 * The records of the period, oldest first, a page after (last_ts, last_seq). $5 NULL
 * selects the operators' actions (kind audit), else the passages and imported rows
 * of that ledger. Times are handed over as RFC 3339 text in UTC, whatever the
 * session's DateStyle or TimeZone.
 */
static const char page_sql[] =
    "SELECT seq, to_char(event_ts AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), body, kind, ledger FROM ledger_record "
    "WHERE site = $1 AND event_ts >= $2::timestamptz AND event_ts < $3::timestamptz "
    "AND (($5::text IS NULL AND kind = 'audit') OR "
    "(kind IN ('passage', 'import') AND ledger = $5::text)) "
    "AND (event_ts, seq) > ($4::timestamptz, $6::bigint) "
    "ORDER BY event_ts, seq LIMIT $7::integer";

/*
 * One record's row: the body must say what the search columns said (a body that
 * disagrees, or does not parse, is reported by seq and not exported: `ledger verify`
 * tells whether the body or the copy was altered). Returns 1 written, 0 skipped,
 * -1 on an output error.
 */
static int
export_record(struct out *o, const char *seq, const char *body, const char *kind,
    const char *ledger, char cells[][LEDGER_CSV_CELL_MAX], FILE *errout)
{
	const struct ledger_csv_col	*cols;
	json_error_t			 je;
	json_t				*b;
	const char			*bk, *bl;
	size_t				 n, i;
	int				 rc;

	cols = ledger_csv_columns(o->ledger, &n);
	if ((b = json_loadb(body, strlen(body), JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    !json_is_object(b)) {
		fprintf(errout, "ledger export: seq %s: body is not a JSON object (%s): "
		    "not exported; run `ecogatectl ledger verify`\n", seq, je.text);
		json_decref(b);
		return 0;
	}
	bk = json_string_value(json_object_get(b, "kind"));
	bl = json_string_value(json_object_get(b, "ledger"));
	if (bk == NULL || strcmp(bk, kind) != 0 || (ledger != NULL && (bl == NULL ||
	    strcmp(bl, ledger) != 0))) {
		fprintf(errout, "ledger export: seq %s: the body says kind %s ledger %s, "
		    "the search columns %s %s: not exported; run `ecogatectl ledger "
		    "verify`\n", seq, bk != NULL ? bk : "-", bl != NULL ? bl : "-", kind,
		    ledger != NULL ? ledger : "-");
		json_decref(b);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (ledger_csv_cell(&cols[i], b, cells[i], LEDGER_CSV_CELL_MAX) == -1) {
			/* Longer than any field of the regulator's: kept, cut, said. */
			fprintf(errout, "ledger export: seq %s: %s longer than %d bytes, "
			    "cut\n", seq, cols[i].header, LEDGER_CSV_CELL_MAX - 1);
			cells[i][LEDGER_CSV_CELL_MAX - 1] = '\0';
		}
	json_decref(b);
	rc = out_row(o, cells, n, 0);
	return rc == 0 ? 1 : -1;
}

static void
export_usage(FILE *f)
{
	fprintf(f, "usage: ecogatectl ledger export --from DATE --to DATE --format csv|xlsx "
	    "[--ledger transport|fleet|machinery|audit]\n"
	    "                [--site S] [-o FILE] [--db CONNINFO]\n"
	    "  DATE: yyyy-mm-dd or yyyymmdd, days in China time (+08:00), both included;\n"
	    "  csv goes to stdout without -o; xlsx needs -o.\n");
}

int
ledger_export_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'F' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "site", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "db", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char		 cells[LEDGER_CSV_MAX_COLS][LEDGER_CSV_CELL_MAX];
	struct gk_db_opts	 dbo = { .application_name = "ecogatectl" };
	struct out		 o;
	struct gk_db		*db = NULL;
	struct gk_db_res	*r = NULL;
	const char		*from = NULL, *to = NULL, *format = NULL, *lname = "transport";
	const char		*site = NULL, *path = NULL, *conninfo = NULL, *p[7];
	char			 lo[40], hi[40], last_ts[40] = "-infinity", last_seq[24] = "-1";
	char			*tmp = NULL, err[512];
	int64_t			 t0, shown;
	long long		 written = 0, skipped = 0;
	int			 ch, ledger, xlsx, i, nrows, rc, ret = EX_SOFTWARE;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case 'l':
			lname = optarg;
			break;
		case 's':
			site = optarg;
			break;
		case 'o':
			path = optarg;
			break;
		case 'c':
			conninfo = optarg;
			break;
		case 'h':
			export_usage(stdout);
			return 0;
		default:
			export_usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc || from == NULL || to == NULL || format == NULL) {
		export_usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(format, "csv") != 0 && strcmp(format, "xlsx") != 0) {
		fprintf(stderr, "ledger export: --format %s: want csv or xlsx\n", format);
		return EX_USAGE;
	}
	xlsx = strcmp(format, "xlsx") == 0;
	if (xlsx && path == NULL) {
		fprintf(stderr, "ledger export: xlsx needs -o FILE\n");
		return EX_USAGE;
	}
	if ((ledger = ledger_csv_ledger(lname)) == -1) {
		fprintf(stderr, "ledger export: --ledger %s: want transport, fleet, "
		    "machinery or audit\n", lname);
		return EX_USAGE;
	}
	if (ledger_csv_day_start(from, 0, lo, sizeof(lo)) == -1 ||
	    ledger_csv_day_start(to, 1, hi, sizeof(hi)) == -1) {
		fprintf(stderr, "ledger export: --from %s --to %s: want days as "
		    "yyyy-mm-dd or yyyymmdd\n", from, to);
		return EX_USAGE;
	}
	if (strcmp(lo, hi) >= 0) {
		fprintf(stderr, "ledger export: --from %s is after --to %s\n", from, to);
		return EX_USAGE;
	}
	if (site == NULL)
		site = env_or("ECOGATE_SITE", DEFAULT_SITE);
	if (!audit_valid_topic_id(site)) {
		fprintf(stderr, "ledger export: site \"%s\": want "
		    "[a-z0-9][a-z0-9_-]{0,31}\n", site);
		return EX_USAGE;
	}
	if (conninfo == NULL)
		conninfo = env_or("ECOGATE_PG_CONNINFO", DEFAULT_PG_CONNINFO);
	if ((db = gk_db_new(conninfo, &dbo)) == NULL)
		return EX_SOFTWARE;
	if (gk_db_connect(db) == -1) {
		fprintf(stderr, "ledger export: database: %s\n", gk_db_errmsg(db));
		ret = EX_UNAVAILABLE;
		goto out;
	}
	if (path != NULL) {
		size_t len = strlen(path) + 32;

		if ((tmp = malloc(len)) == NULL)
			goto out;
		snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
	}
	if (out_open(&o, tmp, xlsx, ledger, err, sizeof(err)) == -1) {
		fprintf(stderr, "ledger export: %s\n", err);
		ret = EX_CANTCREAT;
		goto out;
	}
	if (out_header(&o) == -1)
		goto ioerr;

	t0 = shown = gk_mono_ms();
	p[0] = site;
	p[1] = lo;
	p[2] = hi;
	p[3] = last_ts;
	p[4] = ledger == LEDGER_CSV_AUDIT ? NULL : lname;
	p[5] = last_seq;
	p[6] = GK_XSTR(PAGE_ROWS);
	do {
		if ((r = gk_db_exec(db, page_sql, 7, p)) == NULL) {
			fprintf(stderr, "ledger export: database: %s %s\n",
			    gk_db_errcode(db), gk_db_errmsg(db));
			ret = gk_db_err_is_connection(db) ? EX_UNAVAILABLE : EX_SOFTWARE;
			goto out;
		}
		nrows = gk_db_res_nrows(r);
		for (i = 0; i < nrows; i++) {
			rc = export_record(&o, gk_db_res_value(r, i, 0),
			    gk_db_res_value(r, i, 2), gk_db_res_value(r, i, 3),
			    gk_db_res_value(r, i, 4), cells, stderr);
			if (rc == -1)
				goto ioerr;
			if (rc == 1)
				written++;
			else
				skipped++;
		}
		if (nrows > 0) {
			gk_strlcpy(last_seq, gk_db_res_value(r, nrows - 1, 0),
			    sizeof(last_seq));
			gk_strlcpy(last_ts, gk_db_res_value(r, nrows - 1, 1),
			    sizeof(last_ts));
		}
		gk_db_res_free(r);
		r = NULL;
		if (gk_mono_ms() - shown >= PROGRESS_MS) {
			shown = gk_mono_ms();
			fprintf(stderr, "ledger export: %lld rows so far (%lld s), at %s\n",
			    written, (long long)((shown - t0) / 1000), last_ts);
		}
	} while (nrows == PAGE_ROWS);

	if (out_close(&o, err, sizeof(err)) == -1) {
		fprintf(stderr, "ledger export: %s\n", err);
		ret = EX_IOERR;
		goto out;
	}
	if (tmp != NULL && rename(tmp, path) == -1) {
		fprintf(stderr, "ledger export: %s: %s\n", path, strerror(errno));
		ret = EX_CANTCREAT;
		goto out;
	}
	fprintf(stderr, "ledger export: site %s, %s ledger, %s to %s (China time): %lld "
	    "rows written to %s (%s)%s", site, lname, from, to, written,
	    path != NULL ? path : "stdout", format, skipped > 0 ? "" : "\n");
	if (skipped > 0)
		fprintf(stderr, ", %lld records not exported (see above)\n", skipped);
	ret = skipped > 0 ? EX_DATAERR : 0;
	goto out;
ioerr:
	fprintf(stderr, "ledger export: %s: write error: %s\n",
	    path != NULL ? path : "stdout", strerror(errno));
	ret = EX_IOERR;
out:
	gk_db_res_free(r);
	if (o.fp != NULL || o.wb != NULL)
		out_close(&o, err, sizeof(err));
	if (tmp != NULL) {
		unlink(tmp);		/* gone already when renamed */
		free(tmp);
	}
	gk_db_free(db);
	return ret;
}

/* migrate-import. */

struct import {
	const char		*path;
	const char		*base;
	const char		*site;
	int			 ledger;
	char			 sha[65];
	int64_t			 now_ms;
	FILE			*fp;
	struct stat		 st;
	/* counts of the validating pass */
	long long		 good, bad;
};

/* The file's SHA-256 in hex, read from fp's start. 0 or -1. */
static int
file_sha256(FILE *fp, char out[65])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;
	EVP_MD_CTX		*ctx;
	size_t			 n;
	int			 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	while (ok && (n = fread(buf, 1, sizeof(buf), fp)) > 0)
		ok = EVP_DigestUpdate(ctx, buf, n) == 1;
	ok = ok && !ferror(fp) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
	    mdlen == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
	rewind(fp);
	return 0;
}

/* The good row's source member: {file, sha256, line}. */
static json_t *
row_source(const struct import *im, int line)
{
	return json_pack("{s:s, s:s, s:i}", "file", im->base, "sha256", im->sha,
	    "line", line);
}

/* A batch being filled: the rows and what the items borrow from them. */
struct pending {
	struct ledger_item	items[IMPORT_BATCH];
	struct ledger_csv_row	rows[IMPORT_BATCH];
	json_t			*src[IMPORT_BATCH];
	char			 ids[IMPORT_BATCH][GK_ID_LEN];
	size_t			 n;
};

static void
pending_clear(struct pending *pd)
{
	size_t i;

	for (i = 0; i < pd->n; i++) {
		ledger_item_clear(&pd->items[i]);
		ledger_csv_row_free(&pd->rows[i]);
		json_decref(pd->src[i]);
	}
	pd->n = 0;
}

struct tally {
	long long	 appended, duplicate, invalid;
	uint64_t	 first_seq, last_seq;
};

static int
pending_flush(struct ledger_store *s, struct pending *pd, struct tally *t,
    const struct import *im, FILE *errout)
{
	struct ledger_batch	 b;
	char			 err[512];
	size_t			 i;

	if (pd->n == 0)
		return 0;
	memset(&b, 0, sizeof(b));
	b.items = pd->items;
	b.nitems = pd->n;
	if (ledger_store_append(s, &b, err, sizeof(err)) == -1) {
		fprintf(errout, "ledger migrate-import: %s\n", err);
		pending_clear(pd);
		return -1;
	}
	for (i = 0; i < pd->n; i++) {
		const struct ledger_item *it = &pd->items[i];

		switch (it->status) {
		case LEDGER_ITEM_APPENDED:
			if (t->appended++ == 0)
				t->first_seq = it->seq;
			t->last_seq = it->seq;
			break;
		case LEDGER_ITEM_DUPLICATE:
			t->duplicate++;
			break;
		default:
			/* Our validation let through what the store refuses. */
			fprintf(errout, "%s:%lld: refused by the ledger: %s\n", im->path,
			    json_integer_value(json_object_get(pd->src[i], "line")),
			    it->reason);
			t->invalid++;
			break;
		}
	}
	pending_clear(pd);
	return 0;
}

/*
 * One pass over the file. validate: count and report every row (dry_run: print each
 * good row as JSON on out). Otherwise append the good rows to s. Returns 0, or a
 * sysexits code.
 */
static int
import_pass(struct import *im, int validate, int dry_run, struct ledger_store *s,
    struct tally *t, FILE *out, FILE *errout)
{
	struct ledger_csv_reader	 rd;
	struct ledger_csv_header	 h;
	struct ledger_csv_row		 row;
	struct pending			*pd = NULL;
	char				 msg[LEDGER_CSV_ERR_MAX], id[GK_ID_LEN];
	char				*js;
	json_t				*show;
	int				 rc, ret = EX_SOFTWARE, seen_header = 0, k;
	long long			 shown = 0;

	memset(&h, 0, sizeof(h));
	rewind(im->fp);
	ledger_csv_reader_init(&rd, im->fp);
	if (!validate && (pd = calloc(1, sizeof(*pd))) == NULL)
		goto out;
	for (;;) {
		rc = ledger_csv_read(&rd, msg, sizeof(msg));
		if (rc == 0)
			break;
		if (rc == -2) {
			fprintf(errout, "%s:%d: %s\n", im->path, rd.rline, msg[0] != '\0' ?
			    msg : "out of memory");
			ret = EX_IOERR;
			goto out;
		}
		if (!seen_header) {
			if (rc == -1) {
				fprintf(errout, "%s:%d: header: %s\n", im->path, rd.rline,
				    msg);
				ret = EX_DATAERR;
				goto out;
			}
			if (rd.n == 1 && rd.f[0][0] == '\0')
				continue;		/* blank lines first */
			if (ledger_csv_header_read(im->ledger, rd.f, rd.n, &h, msg,
			    sizeof(msg)) == -1) {
				fprintf(errout, "%s:%d: %s\n", im->path, rd.rline, msg);
				ret = EX_DATAERR;
				goto out;
			}
			seen_header = 1;
			continue;
		}
		if (rc == 1 && rd.n == 1 && rd.f[0][0] == '\0')
			continue;			/* a blank line */
		if (rc == -1) {
			if (validate) {
				if (shown++ < IMPORT_MAX_SHOWN)
					fprintf(errout, "%s:%d: %s\n", im->path,
					    rd.rline, msg);
				im->bad++;
			}
			continue;
		}
		if ((rc = ledger_csv_row_read(&h, rd.f, rd.n, im->now_ms, &row)) == -1)
			goto out;
		if (rc == 1) {
			if (validate) {
				for (k = 0; k < row.nerr && k < LEDGER_CSV_ROW_ERRS; k++)
					if (shown++ < IMPORT_MAX_SHOWN)
						fprintf(errout, "%s:%d: %s\n", im->path,
						    rd.rline, row.err[k]);
				im->bad++;
			}
			ledger_csv_row_free(&row);
			continue;
		}
		if (ledger_csv_import_id(id, im->site, im->sha, rd.rline, row.ms) == -1) {
			ledger_csv_row_free(&row);
			goto out;
		}
		if (validate) {
			im->good++;
			if (dry_run) {
				show = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:O, s:O}",
				    "line", rd.rline, "event_id", id, "event_ts", row.ts,
				    "kind", "import", "ledger",
				    ledger_csv_ledger_name(im->ledger), "source",
				    row_source(im, rd.rline), "fields", row.fields,
				    "event", row.event);
				js = show != NULL ? jcs_canonical(show, NULL, msg,
				    sizeof(msg)) : NULL;
				if (js != NULL)
					fprintf(out, "%s\n", js);
				free(js);
				json_decref(show);
			}
			ledger_csv_row_free(&row);
			continue;
		}
		/* Append: the item borrows the row, its id and its source. */
		k = (int)pd->n;
		pd->rows[k] = row;
		memcpy(pd->ids[k], id, GK_ID_LEN);
		if ((pd->src[k] = row_source(im, rd.rline)) == NULL) {
			ledger_csv_row_free(&row);
			goto out;
		}
		memset(&pd->items[k], 0, sizeof(pd->items[k]));
		pd->items[k].kind = "import";
		pd->items[k].ledger = ledger_csv_ledger_name(im->ledger);
		pd->items[k].event_id = pd->ids[k];
		pd->items[k].event_ts = pd->rows[k].ts;
		pd->items[k].lane = json_string_value(json_object_get(row.fields, "lane"));
		pd->items[k].plate = json_string_value(json_object_get(row.fields,
		    "plate"));
		pd->items[k].source = pd->src[k];
		pd->items[k].fields = row.fields;
		pd->items[k].event = row.event;
		pd->n++;
		if (pd->n == IMPORT_BATCH && pending_flush(s, pd, t, im, errout) == -1) {
			ret = EX_TEMPFAIL;
			goto out;
		}
	}
	if (!seen_header) {
		fprintf(errout, "%s: empty file, no header\n", im->path);
		ret = EX_DATAERR;
		goto out;
	}
	if (pd != NULL && pending_flush(s, pd, t, im, errout) == -1) {
		ret = EX_TEMPFAIL;
		goto out;
	}
	if (validate && shown > IMPORT_MAX_SHOWN)
		fprintf(errout, "%s: %lld more problems not shown\n", im->path,
		    shown - IMPORT_MAX_SHOWN);
	ret = 0;
out:
	if (pd != NULL) {
		pending_clear(pd);
		free(pd);
	}
	ledger_csv_header_free(&h);
	ledger_csv_reader_free(&rd);
	return ret;
}

static int
audit_ledger_import(const char *brokers, const struct import *im, const char *op,
    const char *reason, FILE *errout)
{
	struct audit_event	 ev;
	char			 target[160];
	json_t			*d;
	int			 rc;

	snprintf(target, sizeof(target), "ledger/%s/%.100s",
	    ledger_csv_ledger_name(im->ledger), im->base);
	if (!audit_valid_reason(target))	/* a file name with control chars */
		snprintf(target, sizeof(target), "ledger/%s",
		    ledger_csv_ledger_name(im->ledger));
	/* The file's digest lets an inspector match the event to the file kept. */
	d = json_pack("{s:s, s:s, s:s, s:I, s:I}", "file", im->base, "sha256", im->sha,
	    "ledger", ledger_csv_ledger_name(im->ledger), "rows", (json_int_t)im->good,
	    "bad", (json_int_t)im->bad);
	if (d == NULL)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.site = im->site;
	ev.actor = op;
	ev.action = "ledger.import";
	ev.target = target;
	ev.reason = reason;
	ev.details = d;
	rc = audit_send(brokers, &ev, NULL, errout);
	json_decref(d);
	return rc;
}

static void
import_usage(FILE *f)
{
	fprintf(f, "usage: ecogatectl ledger migrate-import FILE --operator NAME --reason "
	    "TEXT [--site S]\n"
	    "                [--ledger transport|fleet|machinery] [--dry-run] "
	    "[--db CONNINFO]\n"
	    "                [--brokers HOSTS] [--hash-alg sha256|sm3]\n"
	    "  FILE: CSV with the regulator's Chinese headers (as `ledger export` "
	    "writes them);\n"
	    "  times without an offset are China time. --hash-alg only when the site has "
	    "no ledger yet.\n");
}

int
ledger_import_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "operator", required_argument, NULL, 'o' },
		{ "reason", required_argument, NULL, 'r' },
		{ "db", required_argument, NULL, 'c' },
		{ "brokers", required_argument, NULL, 'b' },
		{ "hash-alg", required_argument, NULL, 'H' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gk_db_opts		 dbo = { .application_name = "ecogatectl" };
	struct ledger_store_opts	 so;
	struct import			 im;
	struct tally			 t;
	struct stat			 st2;
	struct gk_db			*db = NULL;
	struct gk_db_res		*r;
	struct ledger_store		*s = NULL;
	const char			*lname = "transport", *op = NULL, *reason = NULL;
	const char			*conninfo = NULL, *brokers = NULL, *alg = NULL;
	char				 err[512], logalg[16] = "";
	int				 ch, dry_run = 0, rc, ret = EX_SOFTWARE;

	memset(&im, 0, sizeof(im));
	memset(&t, 0, sizeof(t));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "nh", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			im.site = optarg;
			break;
		case 'l':
			lname = optarg;
			break;
		case 'o':
			op = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'c':
			conninfo = optarg;
			break;
		case 'b':
			brokers = optarg;
			break;
		case 'H':
			alg = optarg;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'h':
			import_usage(stdout);
			return 0;
		default:
			import_usage(stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind != 1) {
		import_usage(stderr);
		return EX_USAGE;
	}
	im.path = argv[optind];
	im.base = base_name(im.path);
	if ((im.ledger = ledger_csv_ledger(lname)) == -1 ||
	    im.ledger == LEDGER_CSV_AUDIT) {
		fprintf(stderr, "ledger migrate-import: --ledger %s: want transport, fleet "
		    "or machinery\n", lname);
		return EX_USAGE;
	}
	if (im.site == NULL)
		im.site = env_or("ECOGATE_SITE", DEFAULT_SITE);
	if (!audit_valid_topic_id(im.site)) {
		fprintf(stderr, "ledger migrate-import: site \"%s\": want "
		    "[a-z0-9][a-z0-9_-]{0,31}\n", im.site);
		return EX_USAGE;
	}
	if (!dry_run && (op == NULL || !audit_valid_actor(op))) {
		fprintf(stderr, "ledger migrate-import: give --operator NAME (1 to 64 of "
		    "A-Z a-z 0-9 . _ : -): the import is audited\n");
		return EX_USAGE;
	}
	if (!dry_run && (reason == NULL || !audit_valid_reason(reason))) {
		fprintf(stderr, "ledger migrate-import: give --reason TEXT (1 to %d "
		    "characters): the import is audited\n", AUDIT_REASON_MAX);
		return EX_USAGE;
	}
	if (alg != NULL && strcmp(alg, "sha256") != 0 && strcmp(alg, "sm3") != 0) {
		fprintf(stderr, "ledger migrate-import: --hash-alg %s: want sha256 or "
		    "sm3\n", alg);
		return EX_USAGE;
	}
	if ((im.fp = fopen(im.path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", im.path, strerror(errno));
		return EX_NOINPUT;
	}
	if (fstat(fileno(im.fp), &im.st) == -1 || file_sha256(im.fp, im.sha) == -1) {
		fprintf(stderr, "%s: cannot read it: %s\n", im.path, strerror(errno));
		ret = EX_IOERR;
		goto out;
	}
	im.now_ms = gk_wall_ms();

	/* Pass 1: every row validated and reported, nothing written. */
	if ((rc = import_pass(&im, 1, dry_run, NULL, &t, stdout, stderr)) != 0) {
		ret = rc;
		goto out;
	}
	if (dry_run) {
		fprintf(stderr, "ledger migrate-import: dry run, %s (sha256 %s): %lld rows "
		    "would be imported into the %s ledger of site %s, %lld bad rows\n",
		    im.path, im.sha, im.good, lname, im.site, im.bad);
		ret = im.bad > 0 ? EX_DATAERR : 0;
		goto out;
	}
	if (im.good == 0) {
		fprintf(stderr, "ledger migrate-import: %s: no good row, nothing "
		    "imported (%lld bad rows)\n", im.path, im.bad);
		ret = EX_DATAERR;
		goto out;
	}

	if (conninfo == NULL)
		conninfo = env_or("ECOGATE_PG_CONNINFO", DEFAULT_PG_CONNINFO);
	if (brokers == NULL)
		brokers = env_or("ECOGATE_KAFKA_BROKERS", DEFAULT_KAFKA_BROKERS);
	if ((db = gk_db_new(conninfo, &dbo)) == NULL)
		goto out;
	if (gk_db_connect(db) == -1) {
		fprintf(stderr, "ledger migrate-import: database: %s\n", gk_db_errmsg(db));
		ret = EX_UNAVAILABLE;
		goto out;
	}
	/* An existing log keeps its hash; --hash-alg only names a new log's. */
	if ((r = gk_db_exec(db, "SELECT hash_alg FROM ledger_log WHERE site = $1", 1,
	    &im.site)) == NULL) {
		fprintf(stderr, "ledger migrate-import: database: %s\n", gk_db_errmsg(db));
		ret = EX_UNAVAILABLE;
		goto out;
	}
	if (gk_db_res_nrows(r) == 1)
		gk_strlcpy(logalg, gk_db_res_value(r, 0, 0), sizeof(logalg));
	gk_db_res_free(r);
	if (logalg[0] != '\0' && alg != NULL && strcmp(alg, logalg) != 0) {
		fprintf(stderr, "ledger migrate-import: site %s's ledger uses %s, not "
		    "%s\n", im.site, logalg, alg);
		ret = EX_USAGE;
		goto out;
	}
	memset(&so, 0, sizeof(so));
	so.site = im.site;
	so.hash_alg = logalg[0] != '\0' ? logalg : alg;
	so.wait_lock = 0;
	if ((s = ledger_store_open(db, &so, err, sizeof(err))) == NULL) {
		if (errno == EBUSY)
			fprintf(stderr, "ledger migrate-import: site %s's ledger is held "
			    "by another appender (the ledger-writer): stop it for the "
			    "import; it resumes from its stored offsets (%s)\n", im.site,
			    err);
		else
			fprintf(stderr, "ledger migrate-import: %s\n", err);
		ret = errno == EBUSY ? EX_TEMPFAIL : EX_UNAVAILABLE;
		goto out;
	}
	if (logalg[0] == '\0')
		fprintf(stderr, "ledger migrate-import: created the ledger of site %s "
		    "(hash %s)\n", im.site, alg != NULL ? alg : "sha256");

	/* The audit event before any record: an import Kafka did not take is not made. */
	if (audit_ledger_import(brokers, &im, op, reason, stderr) == -1) {
		fprintf(stderr, "ledger migrate-import: no audit event, nothing was "
		    "imported\n");
		ret = EX_UNAVAILABLE;
		goto out;
	}

	/* Pass 2 appends what pass 1 validated: the file must not have changed. */
	if (fstat(fileno(im.fp), &st2) == -1 || st2.st_size != im.st.st_size ||
	    st2.st_mtim.tv_sec != im.st.st_mtim.tv_sec ||
	    st2.st_mtim.tv_nsec != im.st.st_mtim.tv_nsec) {
		fprintf(stderr, "ledger migrate-import: %s changed while being "
		    "imported; nothing was imported\n", im.path);
		ret = EX_DATAERR;
		goto out;
	}
	rc = import_pass(&im, 0, 0, s, &t, stdout, stderr);
	if (t.appended > 0)
		printf("imported %lld rows of %s into the %s ledger of site %s as seq "
		    "%llu..%llu", t.appended, im.path, lname, im.site,
		    (unsigned long long)t.first_seq, (unsigned long long)t.last_seq);
	else
		printf("imported 0 rows of %s into the %s ledger of site %s", im.path,
		    lname, im.site);
	printf(" (%lld already there, %lld refused by the ledger), %lld bad rows\n",
	    t.duplicate, t.invalid, im.bad);
	if (rc != 0) {
		fprintf(stderr, "ledger migrate-import: stopped; the rows appended so far "
		    "stay, and running the same import again appends the rest\n");
		ret = rc;
		goto out;
	}
	ret = im.bad > 0 || t.invalid > 0 ? EX_DATAERR : 0;
out:
	ledger_store_close(s);
	gk_db_free(db);
	if (im.fp != NULL)
		fclose(im.fp);
	return ret;
}
