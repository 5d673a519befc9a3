/*
 * db: the PostgreSQL adapter over libpq's synchronous API.
 *
 * Why results are copied: a PGresult would tie every caller to libpq and to PQclear();
 * copying the (small) result sets our daemons read into one block of our own memory
 * keeps the boundary clean, and PQclear() runs in the function that received the
 * result. Why errors keep the SQLSTATE: callers must tell a duplicate (23505: the
 * ledger-writer's idempotent insert), a serialization failure (40001: retry) and a lost
 * connection (08xxx: wait and retry) apart, and a message string cannot do that.
 *
 * Reconnection follows kv.c: the call that finds the connection broken reports it;
 * the next call reconnects at once, and failed attempts are spaced by a doubling,
 * capped, jittered backoff so a database that is down is not hammered.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "gatekit/db.h"
#include "gatekit/log.h"
#include "gatekit/util.h"

#define DB_COPY_CHUNK	(1 << 20)	/* PQputCopyData takes an int length */

struct gk_db {
	char		*conninfo;
	char		 appname[64];
	char		 connect_timeout[16];	/* text, as libpq takes it */
	char		 options[64];		/* "-c statement_timeout=N" or "" */
	char		*password;		/* NULL: none given */
	int		 backoff_min_ms;
	int		 backoff_max_ms;

	PGconn		*conn;		/* NULL while disconnected */
	int		 in_tx;		/* a transaction was open after the last call */
	int		 tx_lost;	/* the connection broke inside a transaction */
	int		 in_copy;
	int64_t		 next_try_ms;
	int		 backoff_ms;
	uint64_t	 rng;

	char		 code[6];	/* SQLSTATE of the last error, "" when none */
	char		 msg[512];
	char		 constraint[64];
	int		 conn_err;	/* the last error was the connection's */
};

struct gk_db_res {
	int	 nrows;
	int	 ncols;
	int64_t	 tuples;
	char	**names;	/* ncols names */
	char	**vals;		/* nrows * ncols values, NULL for SQL NULL */
	char	*ptrs[];	/* storage for names and vals, then the text */
};

static void	db_seterr(struct gk_db *, const char *, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* Records an error of our own making (no server result to take it from). */
static void
db_seterr(struct gk_db *db, const char *code, int conn_err, const char *fmt, ...)
{
	va_list	ap;
	size_t	n;

	gk_strlcpy(db->code, code, sizeof(db->code));
	va_start(ap, fmt);
	vsnprintf(db->msg, sizeof(db->msg), fmt, ap);
	va_end(ap);
	/* libpq's messages end in a newline; our logs and callers do not want it. */
	n = strlen(db->msg);
	while (n > 0 && (db->msg[n - 1] == '\n' || db->msg[n - 1] == ' '))
		db->msg[--n] = '\0';
	db->constraint[0] = '\0';
	db->conn_err = conn_err;
}

static void
db_clearerr(struct gk_db *db)
{
	db->code[0] = '\0';
	db->msg[0] = '\0';
	db->constraint[0] = '\0';
	db->conn_err = 0;
}

static int
code_is_connection(const char *code)
{
	return strncmp(code, "08", 2) == 0 || strcmp(code, "57P01") == 0 ||
	    strcmp(code, "57P02") == 0 || strcmp(code, "57P03") == 0;
}

static uint64_t
db_rand(struct gk_db *db)
{
	db->rng ^= db->rng << 13;
	db->rng ^= db->rng >> 7;
	db->rng ^= db->rng << 17;
	return db->rng;
}

/* Routes server NOTICEs (e.g. "already exists, skipping") to our log, not stderr. */
static void
db_notice(void *arg, const char *message)
{
	char	buf[512];
	size_t	n;

	(void)arg;
	if (!gk_log_enabled(GK_LOG_DEBUG))
		return;
	gk_strlcpy(buf, message, sizeof(buf));
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	gk_log(GK_LOG_DEBUG, "db.notice", "msg=%s", buf);
}

/*
 * The password from the file ECOGATE_PG_PASSWORD_FILE names, when it is set: how
 * Docker secrets reach a daemon. 0 (none, or read), -1 (logged).
 */
static int
password_file(struct gk_db *db)
{
	const char	*path = getenv("ECOGATE_PG_PASSWORD_FILE");
	char		 buf[1024];
	size_t		 n;
	FILE		*fp;

	if (path == NULL || path[0] == '\0')
		return 0;
	if ((fp = fopen(path, "r")) == NULL) {
		gk_log(GK_LOG_ERR, "db.error", "reason=%s path=%s error=%s",
		    "ECOGATE_PG_PASSWORD_FILE unreadable", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (n == 0 || strlen(buf) != n) {
		gk_log(GK_LOG_ERR, "db.error", "reason=%s path=%s",
		    "ECOGATE_PG_PASSWORD_FILE empty or binary", path);
		return -1;
	}
	db->password = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return db->password == NULL ? -1 : 0;
}

struct gk_db *
gk_db_new(const char *conninfo, const struct gk_db_opts *opts)
{
	struct gk_db	*db;
	const char	*app = "ecogate";
	int		 ct = 5, st = 0;

	if (conninfo == NULL) {
		gk_log(GK_LOG_ERR, "db.error", "reason=%s", "no conninfo");
		return NULL;
	}
	if ((db = calloc(1, sizeof(*db))) == NULL ||
	    (db->conninfo = strdup(conninfo)) == NULL) {
		gk_log(GK_LOG_ERR, "db.error", "reason=%s", "out of memory");
		goto fail;
	}
	if (opts != NULL) {
		if (opts->application_name != NULL && opts->application_name[0] != '\0')
			app = opts->application_name;
		if (opts->connect_timeout_s > 0)
			ct = opts->connect_timeout_s;
		st = opts->statement_timeout_ms;
		db->backoff_min_ms = opts->backoff_min_ms;
		db->backoff_max_ms = opts->backoff_max_ms;
	}
	if (db->backoff_min_ms <= 0)
		db->backoff_min_ms = 200;
	if (db->backoff_max_ms <= 0)
		db->backoff_max_ms = 10000;
	if (gk_strlcpy(db->appname, app, sizeof(db->appname)) >= sizeof(db->appname) ||
	    st < 0 || db->backoff_max_ms < db->backoff_min_ms) {
		gk_log(GK_LOG_ERR, "db.error", "reason=%s", "invalid options");
		goto fail;
	}
	snprintf(db->connect_timeout, sizeof(db->connect_timeout), "%d", ct);
	if (opts != NULL && opts->password != NULL) {
		if ((db->password = strdup(opts->password)) == NULL)
			goto fail;
	} else if (password_file(db) == -1)
		goto fail;
	if (st > 0)
		snprintf(db->options, sizeof(db->options), "-c statement_timeout=%d", st);
	db->rng = (uint64_t)gk_mono_ms() ^ (uint64_t)(uintptr_t)db ^ 0x9e3779b97f4a7c15ULL;
	if (db->rng == 0)
		db->rng = 1;
	return db;
fail:
	if (db != NULL) {
		free(db->conninfo);
		free(db->password);
	}
	free(db);
	return NULL;
}

void
gk_db_free(struct gk_db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	if (db->conninfo != NULL) {
		/* It may hold a password. */
		explicit_bzero(db->conninfo, strlen(db->conninfo));
		free(db->conninfo);
	}
	if (db->password != NULL) {
		explicit_bzero(db->password, strlen(db->password));
		free(db->password);
	}
	free(db);
}

int
gk_db_connected(const struct gk_db *db)
{
	return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK;
}

const char *
gk_db_errcode(const struct gk_db *db)
{
	return db->code;
}

const char *
gk_db_errmsg(const struct gk_db *db)
{
	return db->msg;
}

const char *
gk_db_errconstraint(const struct gk_db *db)
{
	return db->constraint;
}

int
gk_db_err_is_connection(const struct gk_db *db)
{
	return db->conn_err;
}

/* Forgets a broken connection; the next call reconnects at once. */
static void
db_lost(struct gk_db *db)
{
	gk_log(GK_LOG_WARN, "db.disconnected", "reason=%s in_tx=%d",
	    db->msg, db->in_tx);
	if (db->in_tx)
		db->tx_lost = 1;
	db->in_tx = 0;
	db->in_copy = 0;
	PQfinish(db->conn);
	db->conn = NULL;
	db->next_try_ms = 0;
}

static void
db_backoff(struct gk_db *db)
{
	int64_t wait;

	if (db->backoff_ms == 0)
		db->backoff_ms = db->backoff_min_ms;
	else if (db->backoff_ms < db->backoff_max_ms / 2)
		db->backoff_ms *= 2;
	else
		db->backoff_ms = db->backoff_max_ms;
	wait = db->backoff_ms - (int64_t)(db_rand(db) % (uint64_t)(db->backoff_ms / 4 + 1));
	db->next_try_ms = gk_mono_ms() + wait;
	gk_log(db->backoff_ms == db->backoff_min_ms ? GK_LOG_WARN : GK_LOG_DEBUG,
	    "db.connect_failed", "reason=%s retry_ms=%lld", db->msg, (long long)wait);
}

/* Makes sure a usable connection exists. Returns 0, or -1 with the error set. */
static int
db_ensure(struct gk_db *db)
{
	const char	*keys[12], *vals[12];
	int		 k = 0;
	int64_t		 now;

	if (db->tx_lost) {
		db_seterr(db, GK_DB_CONN_FAILURE, 1,
		    "connection lost inside a transaction; roll back first");
		return -1;
	}
	if (db->in_copy) {
		db_seterr(db, "55000", 0, "a COPY is in progress; end it first");
		return -1;
	}
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_BAD) {
		db_seterr(db, GK_DB_CONN_FAILURE, 1, "%s", PQerrorMessage(db->conn));
		db_lost(db);
		if (db->tx_lost)
			return -1;
	}
	if (db->conn != NULL)
		return 0;
	now = gk_mono_ms();
	if (now < db->next_try_ms) {
		db_seterr(db, GK_DB_CONN_UNABLE, 1,
		    "database unreachable, next attempt in %lld ms",
		    (long long)(db->next_try_ms - now));
		return -1;
	}
	/* Our defaults first so a conninfo value overrides them; options last. */
	keys[k] = "application_name";	vals[k++] = db->appname;
	if (db->password != NULL) {
		keys[k] = "password";	vals[k++] = db->password;
	}
	keys[k] = "connect_timeout";	vals[k++] = db->connect_timeout;
	keys[k] = "client_encoding";	vals[k++] = "UTF8";
	/*
	 * A silent network partition must not block the daemon's thread until the
	 * kernel gives up on TCP (many minutes): probe an idle connection after 30 s and
	 * drop it after about a minute without answers, and give up on unacknowledged
	 * writes after 60 s. A conninfo value overrides these.
	 */
	keys[k] = "keepalives";		vals[k++] = "1";
	keys[k] = "keepalives_idle";	vals[k++] = "30";
	keys[k] = "keepalives_interval";	vals[k++] = "10";
	keys[k] = "keepalives_count";	vals[k++] = "3";
	keys[k] = "tcp_user_timeout";	vals[k++] = "60000";
	keys[k] = "dbname";		vals[k++] = db->conninfo;
	if (db->options[0] != '\0') {
		keys[k] = "options";	vals[k++] = db->options;
	}
	keys[k] = NULL;
	vals[k] = NULL;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL) {
		db_seterr(db, GK_DB_CONN_UNABLE, 1, "out of memory");
		db_backoff(db);
		return -1;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_seterr(db, GK_DB_CONN_UNABLE, 1, "%s", PQerrorMessage(db->conn));
		PQfinish(db->conn);
		db->conn = NULL;
		db_backoff(db);
		return -1;
	}
	PQsetNoticeProcessor(db->conn, db_notice, db);
	db->backoff_ms = 0;
	db->next_try_ms = 0;
	db->in_tx = 0;
	gk_log(GK_LOG_INFO, "db.connected", "host=%s port=%s db=%s user=%s",
	    PQhost(db->conn), PQport(db->conn), PQdb(db->conn), PQuser(db->conn));
	return 0;
}

int
gk_db_connect(struct gk_db *db)
{
	db_clearerr(db);
	return db_ensure(db);
}

/* Remembers whether a transaction is open, so a broken connection can say so. */
static void
db_note_tx(struct gk_db *db)
{
	PGTransactionStatusType ts;

	if (db->conn == NULL)
		return;
	ts = PQtransactionStatus(db->conn);
	db->in_tx = ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR ||
	    ts == PQTRANS_ACTIVE;
}

/*
 * Takes the error out of a failed result (which may be NULL), then notices a broken
 * connection. Always returns -1.
 */
static int
db_fail(struct gk_db *db, const PGresult *res)
{
	const char *code = NULL, *prim = NULL, *detail = NULL, *cons = NULL;

	if (res != NULL) {
		code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		prim = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	}
	if (prim == NULL)
		prim = PQerrorMessage(db->conn);
	if (code == NULL)
		code = PQstatus(db->conn) == CONNECTION_BAD ? GK_DB_CONN_FAILURE : "XX000";
	if (detail != NULL)
		db_seterr(db, code, code_is_connection(code), "%s (%s)", prim, detail);
	else
		db_seterr(db, code, code_is_connection(code), "%s", prim);
	if (cons != NULL)
		gk_strlcpy(db->constraint, cons, sizeof(db->constraint));
	if (PQstatus(db->conn) == CONNECTION_BAD) {
		db->conn_err = 1;
		db_lost(db);
	} else
		db_note_tx(db);
	return -1;
}

/* Copies a tuples result into one block of our own memory. */
static struct gk_db_res *
res_copy(PGresult *pr)
{
	struct gk_db_res	*r;
	size_t			 nptr, bytes = 0, sz;
	char			*p;
	int			 i, j, nrows, ncols;
	const char		*tuples;

	nrows = PQntuples(pr);
	ncols = PQnfields(pr);
	if (ncols > 0 && (size_t)nrows > SIZE_MAX / sizeof(char *) / (size_t)ncols / 2)
		return NULL;
	nptr = (size_t)ncols + (size_t)nrows * (size_t)ncols;
	for (j = 0; j < ncols; j++)
		bytes += strlen(PQfname(pr, j)) + 1;
	for (i = 0; i < nrows; i++)
		for (j = 0; j < ncols; j++)
			if (!PQgetisnull(pr, i, j))
				bytes += (size_t)PQgetlength(pr, i, j) + 1;
	sz = sizeof(*r) + nptr * sizeof(char *) + bytes;
	if ((r = malloc(sz)) == NULL)
		return NULL;
	r->nrows = nrows;
	r->ncols = ncols;
	r->names = r->ptrs;
	r->vals = r->ptrs + ncols;
	p = (char *)(r->ptrs + nptr);
	for (j = 0; j < ncols; j++) {
		r->names[j] = p;
		sz = strlen(PQfname(pr, j)) + 1;
		memcpy(p, PQfname(pr, j), sz);
		p += sz;
	}
	for (i = 0; i < nrows; i++)
		for (j = 0; j < ncols; j++) {
			if (PQgetisnull(pr, i, j)) {
				r->vals[(size_t)i * ncols + j] = NULL;
				continue;
			}
			sz = (size_t)PQgetlength(pr, i, j);
			r->vals[(size_t)i * ncols + j] = p;
			memcpy(p, PQgetvalue(pr, i, j), sz);
			p[sz] = '\0';
			p += sz + 1;
		}
	tuples = PQcmdTuples(pr);
	r->tuples = tuples != NULL && tuples[0] != '\0' ? strtoll(tuples, NULL, 10) : 0;
	return r;
}

/*
 * Leaves a COPY the caller was not meant to start (COPY run through gk_db_exec() or a
 * script, COPY TO STDOUT given to gk_db_copy_begin()) so the connection is usable
 * again, keeping the error already set: COPY IN is ended with an error (the server
 * rolls it back), COPY OUT is read to its end and thrown away. Without this libpq
 * stays in COPY mode and every later call fails with "another command is already in
 * progress". A connection that breaks meanwhile, or a COPY BOTH (replication only),
 * is dropped.
 */
static void
db_copy_leave(struct gk_db *db, ExecStatusType st)
{
	PGresult	*pr;
	char		*buf;
	int		 n;

	if (st == PGRES_COPY_IN) {
		if (PQputCopyEnd(db->conn, "COPY not supported here") != 1)
			goto lost;
	} else if (st == PGRES_COPY_OUT) {
		while ((n = PQgetCopyData(db->conn, &buf, 0)) > 0)
			PQfreemem(buf);
		if (n == -2)
			goto lost;
	} else
		goto lost;
	while ((pr = PQgetResult(db->conn)) != NULL)
		PQclear(pr);
	if (PQstatus(db->conn) == CONNECTION_BAD)
		goto lost;
	db_note_tx(db);
	return;
lost:
	db_lost(db);
}

/* Turns a PGresult into ours or into an error; clears it either way. */
static struct gk_db_res *
db_take(struct gk_db *db, PGresult *pr)
{
	struct gk_db_res *r = NULL;

	switch (PQresultStatus(pr)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		if ((r = res_copy(pr)) == NULL)
			db_seterr(db, "53200", 0, "out of memory copying a result");
		db_note_tx(db);
		break;
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
		/* Not through exec: leave COPY mode so the connection stays usable. */
		db_seterr(db, "0A000", 0,
		    "COPY FROM STDIN goes through gk_db_copy_begin(), COPY TO STDOUT "
		    "is not supported");
		db_copy_leave(db, PQresultStatus(pr));
		break;
	default:
		db_fail(db, pr);
		break;
	}
	PQclear(pr);
	return r;
}

struct gk_db_res *
gk_db_exec(struct gk_db *db, const char *sql, int nparams, const char *const *params)
{
	PGresult *pr;

	db_clearerr(db);
	if (db_ensure(db) == -1)
		return NULL;
	pr = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (pr == NULL) {
		db_fail(db, NULL);
		return NULL;
	}
	return db_take(db, pr);
}

int
gk_db_cmd(struct gk_db *db, const char *sql, int nparams, const char *const *params)
{
	struct gk_db_res *r;

	if ((r = gk_db_exec(db, sql, nparams, params)) == NULL)
		return -1;
	gk_db_res_free(r);
	return 0;
}

void
gk_db_res_free(struct gk_db_res *res)
{
	free(res);
}

int
gk_db_res_nrows(const struct gk_db_res *res)
{
	return res != NULL ? res->nrows : 0;
}

int
gk_db_res_ncols(const struct gk_db_res *res)
{
	return res != NULL ? res->ncols : 0;
}

const char *
gk_db_res_fname(const struct gk_db_res *res, int col)
{
	if (res == NULL || col < 0 || col >= res->ncols)
		return NULL;
	return res->names[col];
}

const char *
gk_db_res_value(const struct gk_db_res *res, int row, int col)
{
	if (res == NULL || row < 0 || row >= res->nrows || col < 0 || col >= res->ncols)
		return NULL;
	return res->vals[(size_t)row * res->ncols + col];
}

int
gk_db_res_isnull(const struct gk_db_res *res, int row, int col)
{
	return gk_db_res_value(res, row, col) == NULL;
}

int64_t
gk_db_res_cmd_tuples(const struct gk_db_res *res)
{
	return res != NULL ? res->tuples : 0;
}

int
gk_db_begin(struct gk_db *db)
{
	return gk_db_cmd(db, "BEGIN", 0, NULL);
}

int
gk_db_commit(struct gk_db *db)
{
	/*
	 * COMMIT of a transaction that already failed "succeeds" with the tag ROLLBACK;
	 * a caller must not take that for a commit.
	 */
	if (db->conn != NULL && !db->tx_lost &&
	    PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
		if (gk_db_cmd(db, "ROLLBACK", 0, NULL) == -1)
			return -1;
		db_seterr(db, GK_DB_IN_FAILED_TX, 0,
		    "transaction had failed and was rolled back, not committed");
		return -1;
	}
	return gk_db_cmd(db, "COMMIT", 0, NULL);
}

int
gk_db_rollback(struct gk_db *db)
{
	db_clearerr(db);
	if (db->tx_lost) {
		/* The server ended the transaction with the connection. */
		db->tx_lost = 0;
		return 0;
	}
	if (db->conn == NULL)
		return 0;
	if (gk_db_cmd(db, "ROLLBACK", 0, NULL) == -1) {
		if (db->conn_err) {
			db->tx_lost = 0;
			return 0;
		}
		return -1;
	}
	return 0;
}

int
gk_db_exec_script(struct gk_db *db, const char *sql)
{
	PGresult		*pr;
	struct gk_db_res	*r;

	db_clearerr(db);
	if (db_ensure(db) == -1)
		return -1;
	/* PQexec: simple protocol, so one string may hold many statements. */
	if ((pr = PQexec(db->conn, sql)) == NULL)
		return db_fail(db, NULL);
	if ((r = db_take(db, pr)) == NULL)
		return -1;
	gk_db_res_free(r);
	return 0;
}

int
gk_db_copy_begin(struct gk_db *db, const char *sql)
{
	PGresult	*pr;
	int		 rc = -1;

	db_clearerr(db);
	if (db_ensure(db) == -1)
		return -1;
	if ((pr = PQexec(db->conn, sql)) == NULL)
		return db_fail(db, NULL);
	switch (PQresultStatus(pr)) {
	case PGRES_COPY_IN:
		db->in_copy = 1;
		rc = 0;
		break;
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
		db_seterr(db, "42601", 0, "not a COPY ... FROM STDIN statement");
		db_copy_leave(db, PQresultStatus(pr));
		break;
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		db_seterr(db, "42601", 0, "not a COPY ... FROM STDIN statement");
		db_note_tx(db);
		break;
	default:
		db_fail(db, pr);
		break;
	}
	PQclear(pr);
	return rc;
}

int
gk_db_copy_put(struct gk_db *db, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 n;

	if (!db->in_copy || db->conn == NULL) {
		db_seterr(db, "55000", 0, "no COPY in progress");
		return -1;
	}
	while (len > 0) {
		n = len < DB_COPY_CHUNK ? len : DB_COPY_CHUNK;
		if (PQputCopyData(db->conn, p, (int)n) != 1) {
			db_seterr(db, GK_DB_CONN_FAILURE,
			    PQstatus(db->conn) == CONNECTION_BAD, "%s",
			    PQerrorMessage(db->conn));
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int
gk_db_copy_end(struct gk_db *db, const char *abort_reason, int64_t *rows)
{
	PGresult	*pr;
	const char	*t;
	int		 rc = 0, got = 0;

	if (rows != NULL)
		*rows = 0;
	if (!db->in_copy || db->conn == NULL) {
		db_seterr(db, "55000", 0, "no COPY in progress");
		return -1;
	}
	db_clearerr(db);
	if (PQputCopyEnd(db->conn, abort_reason) != 1) {
		db_seterr(db, GK_DB_CONN_FAILURE, 1, "%s", PQerrorMessage(db->conn));
		db_lost(db);
		return -1;
	}
	db->in_copy = 0;
	/* Read every result up to NULL: the connection is not free before that. */
	while ((pr = PQgetResult(db->conn)) != NULL) {
		if (!got && PQresultStatus(pr) == PGRES_COMMAND_OK) {
			t = PQcmdTuples(pr);
			if (rows != NULL && t[0] != '\0')
				*rows = strtoll(t, NULL, 10);
		} else if (!got) {
			rc = -1;
			db_fail(db, pr);
			if (db->conn == NULL) {
				PQclear(pr);
				return -1;
			}
		}
		got = 1;
		PQclear(pr);
	}
	if (abort_reason != NULL && rc == 0) {
		/* An abort that the server did not report as an error still failed. */
		db_seterr(db, "57014", 0, "COPY aborted: %s", abort_reason);
		rc = -1;
	}
	db_note_tx(db);
	return rc;
}

size_t
gk_db_csv_field(char *dst, size_t dsize, const char *s)
{
	size_t	need = 0, i;
	char	*d = dst;

	if (s == NULL) {
		if (dsize > 0)
			dst[0] = '\0';
		return 0;
	}
	need = 2;
	for (i = 0; s[i] != '\0'; i++)
		need += s[i] == '"' ? 2 : 1;
	if (need >= dsize) {
		if (dsize > 0)
			dst[0] = '\0';
		return need;
	}
	*d++ = '"';
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '"')
			*d++ = '"';
		*d++ = s[i];
	}
	*d++ = '"';
	*d = '\0';
	return need;
}
