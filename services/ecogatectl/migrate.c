/*
 * migrate: the schema migration runner behind `ecogatectl migrate` (see migrate.h).
 *
 * The first half is pure (file names, checksums, the plan) and unit-tested; the second
 * half talks to PostgreSQL through gatekit's db adapter. The bookkeeping table is made
 * by the runner itself, under the same advisory lock as the migrations, rather than by
 * a migration: a migration cannot record itself in a table that does not exist yet.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "gatekit/db.h"
#include "gatekit/log.h"
#include "gatekit/util.h"

#include "migrate.h"

int
migrate_parse_name(const char *fname, int *version, char name[MIGRATE_NAME_MAX])
{
	const char	*p, *us;
	size_t		 len, nlen, ndig;
	long		 v = 0;

	len = strlen(fname);
	if (fname[0] == '.' || len < 4 || strcmp(fname + len - 4, ".sql") != 0)
		return 0;
	for (p = fname, ndig = 0; isdigit((unsigned char)*p); p++, ndig++)
		v = v * 10 + (*p - '0');
	if (ndig < 4 || ndig > 9 || *p != '_')
		return -1;
	us = p + 1;
	nlen = (size_t)(fname + len - 4 - us);
	if (nlen == 0 || nlen >= MIGRATE_NAME_MAX)
		return -1;
	for (p = us; p < fname + len - 4; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		    *p == '_'))
			return -1;
	memcpy(name, us, nlen);
	name[nlen] = '\0';
	*version = (int)v;
	return 1;
}

int
migrate_sha256_hex(const void *buf, size_t len, char out[MIGRATE_SHA_LEN])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[2 * mdlen] = '\0';
	return 0;
}

static int
cmp_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

int
migrate_sort(struct migration *m, size_t n, char *err, size_t errlen)
{
	size_t i;

	if (n > 1)
		qsort(m, n, sizeof(*m), cmp_version);
	for (i = 1; i < n; i++)
		if (m[i].version == m[i - 1].version) {
			gk_errf(err, errlen, "%s and %s share version %d",
			    m[i - 1].file, m[i].file, m[i].version);
			return -1;
		}
	return 0;
}

static const struct migration *
find_file(const struct migration *m, size_t n, int version)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].version == version)
			return &m[i];
	return NULL;
}

static const struct migration_applied *
find_applied(const struct migration_applied *a, size_t na, int version)
{
	size_t i;

	for (i = 0; i < na; i++)
		if (a[i].version == version)
			return &a[i];
	return NULL;
}

int
migrate_plan(const struct migration *m, size_t n, const struct migration_applied *a,
    size_t na, size_t *pending, size_t *npending, char *err, size_t errlen)
{
	const struct migration		*f;
	const struct migration_applied	*ap;
	size_t				 i;
	int				 top = -1;

	*npending = 0;
	for (i = 0; i < na; i++) {
		if (a[i].version > top)
			top = a[i].version;
		if ((f = find_file(m, n, a[i].version)) == NULL) {
			gk_errf(err, errlen, "version %04d (%s) is applied but its "
			    "file %04d_%s.sql is missing", a[i].version, a[i].name,
			    a[i].version, a[i].name);
			return -1;
		}
		if (strcmp(f->name, a[i].name) != 0) {
			gk_errf(err, errlen, "%s: version %04d was applied as \"%s\"; "
			    "released migrations must not be renamed", f->file,
			    f->version, a[i].name);
			return -1;
		}
		if (strcmp(f->sha, a[i].sha) != 0) {
			gk_errf(err, errlen, "%s: checksum %.12s... differs from the "
			    "%.12s... applied at %s; released migrations must not be "
			    "edited, add a new one", f->file, f->sha, a[i].sha,
			    a[i].applied_at);
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		if ((ap = find_applied(a, na, m[i].version)) != NULL)
			continue;
		if (m[i].version < top) {
			gk_errf(err, errlen, "%s: version %04d is below the applied "
			    "version %04d; renumber it above", m[i].file, m[i].version,
			    top);
			return -1;
		}
		pending[(*npending)++] = i;
	}
	return 0;
}

void
migrate_free(struct migration *m, size_t n)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < n; i++)
		free(m[i].sql);
	free(m);
}

/* Reads dir/file into m. Returns 0 or a sysexits code. */
static int
load_file(const char *dir, struct migration *m, char *err, size_t errlen)
{
	char		 path[4096];
	struct stat	 st;
	ssize_t		 r;
	size_t		 got = 0;
	int		 fd, rc = EX_IOERR;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, m->file) >= sizeof(path)) {
		gk_errf(err, errlen, "%s/%s: path too long", dir, m->file);
		return EX_DATAERR;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		gk_errf(err, errlen, "%s: %s", path, strerror(errno));
		return EX_NOINPUT;
	}
	if (fstat(fd, &st) == -1) {
		gk_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MIGRATE_MAX_BYTES) {
		gk_errf(err, errlen, "%s: not a regular file of at most %d bytes", path,
		    MIGRATE_MAX_BYTES);
		rc = EX_DATAERR;
		goto out;
	}
	if ((m->sql = malloc((size_t)st.st_size + 1)) == NULL) {
		gk_errf(err, errlen, "%s: out of memory", path);
		rc = EX_OSERR;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, m->sql + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			gk_errf(err, errlen, "%s: %s", path,
			    r == 0 ? "file shrank while read" : strerror(errno));
			goto out;
		}
		got += (size_t)r;
	}
	m->sql[got] = '\0';
	m->len = got;
	/* A NUL inside would cut the script short without anyone noticing. */
	if (memchr(m->sql, '\0', got) != NULL) {
		gk_errf(err, errlen, "%s: contains a NUL byte", path);
		rc = EX_DATAERR;
		goto out;
	}
	if (migrate_sha256_hex(m->sql, m->len, m->sha) == -1) {
		gk_errf(err, errlen, "%s: sha256 failed", path);
		rc = EX_SOFTWARE;
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

int
migrate_load_dir(const char *dir, struct migration **out, size_t *n, char *err,
    size_t errlen)
{
	DIR			*d;
	struct dirent		*de;
	struct migration	*m = NULL, *nm;
	size_t			 cnt = 0, cap = 0;
	int			 rc = EX_IOERR, version, k;
	char			 name[MIGRATE_NAME_MAX];

	*out = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		gk_errf(err, errlen, "%s: %s", dir, strerror(errno));
		return EX_NOINPUT;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if ((k = migrate_parse_name(de->d_name, &version, name)) == 0)
			continue;
		if (k == -1) {
			gk_errf(err, errlen, "%s/%s: not a migration name "
			    "(NNNN_name.sql, name of a-z 0-9 _)", dir, de->d_name);
			rc = EX_DATAERR;
			goto fail;
		}
		if (cnt == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((nm = reallocarray(m, cap, sizeof(*m))) == NULL) {
				gk_errf(err, errlen, "out of memory");
				rc = EX_OSERR;
				goto fail;
			}
			m = nm;
		}
		memset(&m[cnt], 0, sizeof(m[cnt]));
		m[cnt].version = version;
		gk_strlcpy(m[cnt].name, name, sizeof(m[cnt].name));
		if (gk_strlcpy(m[cnt].file, de->d_name, sizeof(m[cnt].file)) >=
		    sizeof(m[cnt].file)) {
			gk_errf(err, errlen, "%s/%s: name too long", dir, de->d_name);
			rc = EX_DATAERR;
			goto fail;
		}
		cnt++;
		if ((rc = load_file(dir, &m[cnt - 1], err, errlen)) != 0)
			goto fail;
		rc = EX_IOERR;
		errno = 0;
	}
	if (errno != 0) {
		gk_errf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (migrate_sort(m, cnt, err, errlen) == -1) {
		rc = EX_DATAERR;
		goto fail;
	}
	closedir(d);
	*out = m;
	*n = cnt;
	return 0;
fail:
	closedir(d);
	migrate_free(m, cnt);
	return rc;
}

/* ---------------------------------------------------------------- the runner */

static const char sql_bootstrap[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY CHECK (version >= 0),"
    " name text NOT NULL,"
    " checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"
    " applied_at timestamptz NOT NULL DEFAULT now(),"
    " applied_by text NOT NULL DEFAULT session_user)";

static const char sql_lock[] =
    "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")";

static const char sql_applied[] =
    "SELECT version, name, checksum,"
    " to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    " FROM schema_migrations ORDER BY version";

/* A database failure: names the SQLSTATE and picks the exit code. */
static int
db_failed(struct gk_db *db, FILE *errout, const char *what)
{
	fprintf(errout, "ecogatectl migrate: %s: %s %s\n", what, gk_db_errcode(db),
	    gk_db_errmsg(db));
	gk_log(GK_LOG_ERR, "migrate.error", "what=%s sqlstate=%s msg=%s", what,
	    gk_db_errcode(db), gk_db_errmsg(db));
	return gk_db_err_is_connection(db) ? EX_TEMPFAIL : EX_DATAERR;
}

/*
 * Reads schema_migrations into *out (caller frees). With create, makes the table
 * first, under the lock. Returns 0 or -1 (db error set).
 */
static int
read_applied(struct gk_db *db, int create, struct migration_applied **out, size_t *n)
{
	struct gk_db_res		*r = NULL;
	struct migration_applied	*a = NULL;
	int				 i, intx = 0;
	const char			*v;

	*out = NULL;
	*n = 0;
	if (create) {
		if (gk_db_begin(db) == -1)
			goto fail;
		intx = 1;
		if (gk_db_cmd(db, sql_lock, 0, NULL) == -1 ||
		    gk_db_cmd(db, sql_bootstrap, 0, NULL) == -1)
			goto fail;
	} else {
		r = gk_db_exec(db, "SELECT to_regclass('schema_migrations') IS NOT NULL",
		    0, NULL);
		if (r == NULL)
			goto fail;
		v = gk_db_res_value(r, 0, 0);
		if (v == NULL || strcmp(v, "t") != 0) {
			gk_db_res_free(r);
			return 0;	/* nothing applied yet */
		}
		gk_db_res_free(r);
	}
	if ((r = gk_db_exec(db, sql_applied, 0, NULL)) == NULL)
		goto fail;
	if (gk_db_res_nrows(r) > 0 &&
	    (a = calloc((size_t)gk_db_res_nrows(r), sizeof(*a))) == NULL)
		goto fail;
	for (i = 0; i < gk_db_res_nrows(r); i++) {
		a[i].version = atoi(gk_db_res_value(r, i, 0));
		gk_strlcpy(a[i].name, gk_db_res_value(r, i, 1), sizeof(a[i].name));
		gk_strlcpy(a[i].sha, gk_db_res_value(r, i, 2), sizeof(a[i].sha));
		gk_strlcpy(a[i].applied_at, gk_db_res_value(r, i, 3),
		    sizeof(a[i].applied_at));
	}
	*n = (size_t)gk_db_res_nrows(r);
	gk_db_res_free(r);
	r = NULL;
	if (intx && gk_db_commit(db) == -1)
		goto fail;
	*out = a;
	return 0;
fail:
	gk_db_res_free(r);
	free(a);
	if (intx)
		gk_db_rollback(db);
	return -1;
}

/*
 * Applies one migration in its own transaction. Another runner may have applied it
 * while we waited for the lock: then its checksum is checked and it is skipped.
 * Returns 0, 1 (skipped) or a sysexits code.
 */
static int
apply_one(struct gk_db *db, const struct migration *m, FILE *errout)
{
	struct gk_db_res	*r = NULL;
	char			 ver[16];
	const char		*p[3];
	const char		*sha;
	int			 rc;

	snprintf(ver, sizeof(ver), "%d", m->version);
	if (gk_db_begin(db) == -1)
		return db_failed(db, errout, m->file);
	if (gk_db_cmd(db, sql_lock, 0, NULL) == -1)
		goto dbfail;
	p[0] = ver;
	r = gk_db_exec(db, "SELECT checksum FROM schema_migrations WHERE version = $1",
	    1, p);
	if (r == NULL)
		goto dbfail;
	if (gk_db_res_nrows(r) == 1) {
		sha = gk_db_res_value(r, 0, 0);
		if (strcmp(sha, m->sha) != 0) {
			fprintf(errout, "ecogatectl migrate: %s: applied meanwhile by "
			    "another runner with a different checksum\n", m->file);
			gk_db_res_free(r);
			gk_db_rollback(db);
			return EX_DATAERR;
		}
		gk_db_res_free(r);
		return gk_db_commit(db) == -1 ? db_failed(db, errout, m->file) : 1;
	}
	gk_db_res_free(r);
	if (gk_db_exec_script(db, m->sql) == -1)
		goto dbfail;
	p[1] = m->name;
	p[2] = m->sha;
	if (gk_db_cmd(db, "INSERT INTO schema_migrations (version, name, checksum)"
	    " VALUES ($1, $2, $3)", 3, p) == -1 || gk_db_commit(db) == -1)
		goto dbfail;
	/* A plain SET in one file must not leak into the next one. */
	if (gk_db_cmd(db, "RESET ALL", 0, NULL) == -1)
		return db_failed(db, errout, m->file);
	return 0;
dbfail:
	rc = db_failed(db, errout, m->file);
	gk_db_rollback(db);
	return rc;
}

int
migrate_run(struct gk_db *db, const char *dir, enum migrate_mode mode, FILE *out,
    FILE *errout)
{
	struct migration		*m = NULL;
	struct migration_applied	*a = NULL;
	size_t				 n = 0, na = 0, np = 0, i, done = 0, *pending = NULL;
	const struct migration_applied	*ap;
	char				 err[512];
	int				 rc, top = -1;
	int64_t				 t0;

	if ((rc = migrate_load_dir(dir, &m, &n, err, sizeof(err))) != 0) {
		fprintf(errout, "ecogatectl migrate: %s\n", err);
		gk_log(GK_LOG_ERR, "migrate.error", "dir=%s msg=%s", dir, err);
		return rc;
	}
	if (gk_db_connect(db) == -1) {
		fprintf(errout, "ecogatectl migrate: cannot connect: %s\n",
		    gk_db_errmsg(db));
		gk_log(GK_LOG_ERR, "migrate.error", "sqlstate=%s msg=%s",
		    gk_db_errcode(db), gk_db_errmsg(db));
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (read_applied(db, mode == MIGRATE_APPLY, &a, &na) == -1) {
		rc = db_failed(db, errout, "schema_migrations");
		goto out;
	}
	if (n > 0 && (pending = calloc(n, sizeof(*pending))) == NULL) {
		fprintf(errout, "ecogatectl migrate: out of memory\n");
		rc = EX_OSERR;
		goto out;
	}
	for (i = 0; i < na; i++)
		if (a[i].version > top)
			top = a[i].version;
	if (migrate_plan(m, n, a, na, pending, &np, err, sizeof(err)) == -1) {
		fprintf(errout, "ecogatectl migrate: %s\n", err);
		gk_log(GK_LOG_ERR, "migrate.refused", "dir=%s msg=%s", dir, err);
		rc = EX_DATAERR;
		goto out;
	}
	if (mode == MIGRATE_STATUS) {
		for (i = 0; i < n; i++) {
			ap = NULL;
			for (size_t j = 0; j < na; j++)
				if (a[j].version == m[i].version)
					ap = &a[j];
			if (ap != NULL)
				fprintf(out, "%04d %-32s applied %s\n", m[i].version,
				    m[i].name, ap->applied_at);
			else
				fprintf(out, "%04d %-32s pending\n", m[i].version,
				    m[i].name);
		}
		fprintf(out, "%zu applied, %zu pending\n", na, np);
		rc = 0;
		goto out;
	}
	if (np == 0) {
		if (top >= 0)
			fprintf(out, "nothing to apply: database at version %04d\n", top);
		else
			fprintf(out, "nothing to apply: no migrations in %s\n", dir);
		rc = 0;
		goto out;
	}
	for (i = 0; i < np; i++) {
		const struct migration *mi = &m[pending[i]];

		if (mode == MIGRATE_DRY_RUN) {
			fprintf(out, "would apply %s\n", mi->file);
			continue;
		}
		t0 = gk_mono_ms();
		rc = apply_one(db, mi, errout);
		if (rc == 1) {
			fprintf(out, "skipped %s (applied by another runner)\n", mi->file);
			continue;
		}
		if (rc != 0)
			goto out;
		done++;
		fprintf(out, "applied %s (%lld ms)\n", mi->file,
		    (long long)(gk_mono_ms() - t0));
		fflush(out);
		gk_log(GK_LOG_INFO, "migrate.applied", "version=%d name=%s sha256=%s",
		    mi->version, mi->name, mi->sha);
	}
	if (mode == MIGRATE_DRY_RUN)
		fprintf(out, "%zu to apply (dry run, nothing changed)\n", np);
	else
		fprintf(out, "applied %zu migration%s: database at version %04d\n", done,
		    done == 1 ? "" : "s", m[pending[np - 1]].version);
	rc = 0;
out:
	free(pending);
	free(a);
	migrate_free(m, n);
	return rc;
}
