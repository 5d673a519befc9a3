/*
 * migrate: applies the SQL migrations shipped in schemas/sql to a PostgreSQL database.
 *
 * A migration is a file NNNN_name.sql (NNNN: the version, 4 to 9 digits; name: lower
 * case letters, digits, '_'). Files apply in version order, each in its own
 * transaction together with its row in schema_migrations (version, name, sha256 of
 * the file, time), so a failed file leaves nothing behind. Runners are serialised with
 * a transaction-scoped advisory lock, so two hosts starting at once apply each file
 * exactly once. History is not rewritten: a file whose checksum differs from the
 * applied one, an applied file that went missing, or a new file numbered below an
 * applied version is an error naming the file, and nothing is applied.
 *
 * A migration file must not contain transaction control (BEGIN/COMMIT) nor statements
 * that cannot run in a transaction (CREATE INDEX CONCURRENTLY, VACUUM).
 *
 * The pure helpers (name parsing, checksums, planning) are separate from the runner so
 * that they are unit-tested without a database.
 */
#ifndef ECOGATECTL_MIGRATE_H
#define ECOGATECTL_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

struct gk_db;

#define MIGRATE_NAME_MAX	101	/* the name part, with the NUL */
#define MIGRATE_FILE_MAX	128	/* "NNNN_name.sql", with the NUL */
#define MIGRATE_SHA_LEN		65	/* sha256 in lower-case hex, with the NUL */
#define MIGRATE_MAX_BYTES	(16 * 1024 * 1024)	/* a bigger file is refused */
/* The advisory lock key every runner takes ("ecogate" in ASCII). */
#define MIGRATE_LOCK_KEY	"28548172837253733"

/* One migration file, loaded. */
struct migration {
	int	 version;
	char	 name[MIGRATE_NAME_MAX];
	char	 file[MIGRATE_FILE_MAX];
	char	 sha[MIGRATE_SHA_LEN];
	char	*sql;			/* the file's bytes plus a NUL; owned */
	size_t	 len;
};

/* One row of schema_migrations. */
struct migration_applied {
	int	 version;
	char	 name[MIGRATE_NAME_MAX];
	char	 sha[MIGRATE_SHA_LEN];
	char	 applied_at[40];
};

enum migrate_mode {
	MIGRATE_APPLY,
	MIGRATE_DRY_RUN,	/* print what would be applied, change nothing */
	MIGRATE_STATUS,		/* list every migration and whether it is applied */
};

/*
 * Parses a directory entry name. Returns 1 for a migration file (version and name
 * set), 0 for a name that is no migration and is ignored (no ".sql" suffix, hidden
 * file), -1 for a ".sql" file whose name breaks the rule (a typo must not be skipped
 * silently).
 */
int	migrate_parse_name(const char *fname, int *version, char name[MIGRATE_NAME_MAX]);

/* Writes the SHA-256 of buf[0..len) in lower-case hex. Returns 0 or -1. */
int	migrate_sha256_hex(const void *buf, size_t len, char out[MIGRATE_SHA_LEN]);

/*
 * Sorts m[0..n) by version. Returns 0, or -1 with err naming both files when two share
 * a version.
 */
int	migrate_sort(struct migration *m, size_t n, char *err, size_t errlen);

/*
 * Compares the files m[0..n) (sorted) with the applied rows a[0..na) (any order) and
 * sets pending[0..*npending) to the indices in m still to apply, in order (pending has
 * room for n). Returns 0, or -1 with err naming the offending file when history would
 * be rewritten: checksum or name differs, an applied file is missing, or a pending
 * version is lower than the highest applied one.
 */
int	migrate_plan(const struct migration *m, size_t n,
	    const struct migration_applied *a, size_t na, size_t *pending,
	    size_t *npending, char *err, size_t errlen);

/*
 * Loads every migration file of dir, sorted. Returns 0 with *out (free with
 * migrate_free()) and *n set, or a sysexits code (EX_NOINPUT, EX_DATAERR, EX_IOERR,
 * EX_OSERR) with err set.
 */
int	migrate_load_dir(const char *dir, struct migration **out, size_t *n,
	    char *err, size_t errlen);
void	migrate_free(struct migration *m, size_t n);

/*
 * Runs mode against db with the files of dir, writing one line per migration to out
 * and errors to errout. Returns a sysexits code: 0, EX_DATAERR (bad files, rewritten
 * history, a failing migration), EX_NOINPUT/EX_IOERR (dir), EX_UNAVAILABLE (database
 * unreachable), EX_TEMPFAIL (connection lost midway).
 */
int	migrate_run(struct gk_db *db, const char *dir, enum migrate_mode mode,
	    FILE *out, FILE *errout);

#endif
