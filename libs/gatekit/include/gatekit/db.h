/*
 * db: the PostgreSQL adapter. The ledger, the vehicle registry, report status and policy
 * live in PostgreSQL; this is the one place that speaks libpq, so no libpq type appears
 * in a daemon and results are plain memory we own.
 *
 * The handle is synchronous and owned by one thread. The connection is made lazily by
 * the first call; when it breaks (server restart, network), the failing call reports a
 * connection error and a later call reconnects, attempts spaced by a capped backoff.
 * A transaction open when the connection broke is gone: calls fail until the caller
 * acknowledges that with gk_db_rollback(), so statements meant for one transaction are
 * never silently run outside it.
 *
 * SQL is parameterised: values travel as text parameters ($1, $2 ...), never spliced
 * into SQL text. The one exception, gk_db_exec_script(), exists for the migration files
 * shipped with the product and must never see SQL built from input.
 *
 *	struct gk_db *db = gk_db_new("host=127.0.0.1 dbname=ecogate", NULL);
 *	const char *p[] = { "沪A12345", "blue" };
 *	struct gk_db_res *r = gk_db_exec(db,
 *	    "SELECT vin FROM vehicle WHERE plate = $1 AND plate_colour = $2", 2, p);
 *	if (r == NULL && strcmp(gk_db_errcode(db), GK_DB_UNIQUE_VIOLATION) == 0) ...
 *	gk_db_res_free(r);
 *	gk_db_free(db);
 */
#ifndef GATEKIT_DB_H
#define GATEKIT_DB_H

#include <stddef.h>
#include <stdint.h>

struct gk_db;
struct gk_db_res;

/* SQLSTATEs callers commonly branch on (PostgreSQL appendix A). */
#define GK_DB_UNIQUE_VIOLATION	"23505"
#define GK_DB_CHECK_VIOLATION	"23514"
#define GK_DB_NOT_NULL_VIOLATION "23502"
#define GK_DB_FK_VIOLATION	"23503"
#define GK_DB_SERIALIZATION	"40001"
#define GK_DB_DEADLOCK		"40P01"
#define GK_DB_IN_FAILED_TX	"25P02"
#define GK_DB_PRIVILEGE		"42501"
#define GK_DB_CONN_FAILURE	"08006"	/* also set by us when the connection broke */
#define GK_DB_CONN_UNABLE	"08001"	/* set by us when a connect attempt failed */

/* Connection options. Zero fields take the defaults shown; strings are copied. */
struct gk_db_opts {
	const char	*application_name;	/* "ecogate"; a conninfo value wins */
	int		 connect_timeout_s;	/* 5 (libpq's minimum effective value is 2) */
	int		 statement_timeout_ms;	/* 0: the server's setting */
	int		 backoff_min_ms;	/* 200 */
	int		 backoff_max_ms;	/* 10000 */
	/*
	 * Password for the server (a conninfo password wins). NULL: the file named by
	 * the environment variable ECOGATE_PG_PASSWORD_FILE when set (a Docker secret;
	 * one trailing newline ignored), else none (libpq's own PGPASSFILE still works).
	 */
	const char	*password;
};

/*
 * Returns a handle for conninfo (a libpq "key=value" string or postgresql:// URI,
 * copied); no connection is made yet. NULL (logged) on bad options or no memory.
 */
struct gk_db	*gk_db_new(const char *conninfo, const struct gk_db_opts *opts);

/* Closes the connection and frees the handle. NULL-safe. */
void	gk_db_free(struct gk_db *db);

/* Connects now if not connected. Returns 0, or -1 (error set) while unreachable. */
int	gk_db_connect(struct gk_db *db);

/* 1 when a connection is currently established, else 0. Makes no connection. */
int	gk_db_connected(const struct gk_db *db);

/*
 * Runs one statement with nparams text parameters (params[i] NULL = SQL NULL) using
 * the extended query protocol. Returns a result the caller frees with
 * gk_db_res_free() (also for statements returning no rows), or NULL on error with
 * gk_db_errcode()/gk_db_errmsg() set.
 */
struct gk_db_res *gk_db_exec(struct gk_db *db, const char *sql, int nparams,
	    const char *const *params);

/* Like gk_db_exec() for statements whose rows are not needed. Returns 0 or -1. */
int	gk_db_cmd(struct gk_db *db, const char *sql, int nparams,
	    const char *const *params);

/* Result accessors. Rows and columns count from 0; out-of-range gives 0 / NULL. */
void	gk_db_res_free(struct gk_db_res *res);	/* NULL-safe */
int	gk_db_res_nrows(const struct gk_db_res *res);
int	gk_db_res_ncols(const struct gk_db_res *res);
/* The column's name, or NULL when out of range. */
const char *gk_db_res_fname(const struct gk_db_res *res, int col);
/* The value as text (NUL-terminated, owned by res), or NULL for SQL NULL. */
const char *gk_db_res_value(const struct gk_db_res *res, int row, int col);
int	gk_db_res_isnull(const struct gk_db_res *res, int row, int col);
/* Rows affected by INSERT/UPDATE/DELETE/COPY/SELECT..., 0 when the command has none. */
int64_t	gk_db_res_cmd_tuples(const struct gk_db_res *res);

/*
 * Transactions. gk_db_begin() starts one (READ COMMITTED; run SET TRANSACTION next to
 * change that). gk_db_commit() of a transaction that had already failed rolls it back
 * and returns -1 with SQLSTATE 25P02 (libpq would report that COMMIT as a success).
 * gk_db_rollback() also clears the "transaction lost" state after a broken connection
 * and returns 0 then. Each returns 0 or -1.
 */
int	gk_db_begin(struct gk_db *db);
int	gk_db_commit(struct gk_db *db);
int	gk_db_rollback(struct gk_db *db);

/*
 * Runs sql, which may hold many statements, with the simple query protocol and no
 * parameters. ONLY for trusted SQL files shipped with the product (migrations): never
 * pass text built from input. Returns 0 or -1 (the first failing statement's error).
 */
int	gk_db_exec_script(struct gk_db *db, const char *sql);

/*
 * COPY ... FROM STDIN. gk_db_copy_begin() starts it (sql is a trusted COPY statement),
 * gk_db_copy_put() sends bytes in the COPY format chosen (rows need not align with
 * calls), gk_db_copy_end() finishes it, or aborts it when abort_reason is not NULL.
 * On success gk_db_copy_end() returns 0 and sets *rows (may be NULL) to the rows
 * copied; on failure -1 with the server's error (e.g. the failing row's SQLSTATE).
 * After a failed put, still call gk_db_copy_end() to leave COPY mode.
 */
int	gk_db_copy_begin(struct gk_db *db, const char *sql);
int	gk_db_copy_put(struct gk_db *db, const void *buf, size_t len);
int	gk_db_copy_end(struct gk_db *db, const char *abort_reason, int64_t *rows);

/*
 * Writes s as one CSV field for COPY (FORMAT csv) into dst of size dsize: quoted, with
 * quotes doubled, so commas, quotes and newlines survive and "" stays an empty string;
 * s == NULL writes nothing (an unquoted empty field, which COPY reads as NULL).
 * Always NUL-terminates when dsize > 0. Returns the length the field needs: a result
 * >= dsize means dst was too small (nothing useful was written).
 */
size_t	gk_db_csv_field(char *dst, size_t dsize, const char *s);

/*
 * The last error: SQLSTATE ("" when the last call succeeded), primary message, and
 * the violated constraint's name when the server gave one (else ""). Owned by db, valid
 * until the next call.
 */
const char *gk_db_errcode(const struct gk_db *db);
const char *gk_db_errmsg(const struct gk_db *db);
const char *gk_db_errconstraint(const struct gk_db *db);

/*
 * 1 when the last error was the connection's (class 08, server shutdown 57P0x), so the
 * caller should retry later rather than treat the data as bad; else 0.
 */
int	gk_db_err_is_connection(const struct gk_db *db);

#endif
