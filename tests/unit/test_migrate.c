/*
 * Unit tests of the migration runner's pure half (services/ecogatectl/migrate.c): file
 * name rules, SHA-256 checksums, ordering and the plan that refuses to rewrite
 * history. No database: integration.db runs the real thing.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "migrate.h"
#include "t.h"

static void
test_names(void)
{
	char	name[MIGRATE_NAME_MAX];
	int	v = -1;
	char	longname[300];

	T_CHECK(migrate_parse_name("0001_registry.sql", &v, name) == 1);
	T_CHECK(v == 1);
	T_STREQ(name, "registry");
	T_CHECK(migrate_parse_name("0000_meta.sql", &v, name) == 1 && v == 0);
	T_CHECK(migrate_parse_name("000123456_a_b_2.sql", &v, name) == 1 &&
	    v == 123456);
	T_STREQ(name, "a_b_2");
	/* Not migrations at all: ignored. */
	T_CHECK(migrate_parse_name("README.md", &v, name) == 0);
	T_CHECK(migrate_parse_name(".0002_x.sql", &v, name) == 0);
	T_CHECK(migrate_parse_name("0002_x.sql~", &v, name) == 0);
	T_CHECK(migrate_parse_name(".", &v, name) == 0);
	/* .sql files with broken names: errors, never skipped. */
	T_CHECK(migrate_parse_name("001_short.sql", &v, name) == -1);
	T_CHECK(migrate_parse_name("0002-dash.sql", &v, name) == -1);
	T_CHECK(migrate_parse_name("0002_.sql", &v, name) == -1);
	T_CHECK(migrate_parse_name("0002_Upper.sql", &v, name) == -1);
	T_CHECK(migrate_parse_name("0002_sp ace.sql", &v, name) == -1);
	T_CHECK(migrate_parse_name("registry.sql", &v, name) == -1);
	T_CHECK(migrate_parse_name("1234567890_toolong.sql", &v, name) == -1);
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "0003_", 5);
	strcpy(longname + 5 + MIGRATE_NAME_MAX, ".sql");
	T_CHECK(migrate_parse_name(longname, &v, name) == -1);
}

static void
test_sha(void)
{
	char h[MIGRATE_SHA_LEN];

	/* FIPS 180-2 test vectors. */
	T_REQUIRE(migrate_sha256_hex("abc", 3, h) == 0);
	T_STREQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	T_REQUIRE(migrate_sha256_hex("", 0, h) == 0);
	T_STREQ(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
mk(struct migration *m, int version, const char *name, const char *sql)
{
	memset(m, 0, sizeof(*m));
	m->version = version;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->file, sizeof(m->file), "%04d_%s.sql", version, name);
	migrate_sha256_hex(sql, strlen(sql), m->sha);
}

static void
mka(struct migration_applied *a, const struct migration *m)
{
	memset(a, 0, sizeof(*a));
	a->version = m->version;
	snprintf(a->name, sizeof(a->name), "%s", m->name);
	snprintf(a->sha, sizeof(a->sha), "%s", m->sha);
	snprintf(a->applied_at, sizeof(a->applied_at), "2026-01-01T00:00:00Z");
}

static void
test_plan(void)
{
	struct migration		m[3];
	struct migration_applied	a[3];
	size_t				pend[3], np = 99;
	char				err[512];

	mk(&m[0], 2, "two", "create table b();");
	mk(&m[1], 0, "zero", "create table z();");
	mk(&m[2], 1, "one", "create table a();");
	T_REQUIRE(migrate_sort(m, 3, err, sizeof(err)) == 0);
	T_CHECK(m[0].version == 0 && m[1].version == 1 && m[2].version == 2);

	/* Fresh database: everything, in order. */
	T_REQUIRE(migrate_plan(m, 3, NULL, 0, pend, &np, err, sizeof(err)) == 0);
	T_CHECK(np == 3 && pend[0] == 0 && pend[1] == 1 && pend[2] == 2);

	/* Partly applied (rows in any order): the rest. */
	mka(&a[0], &m[1]);
	mka(&a[1], &m[0]);
	T_REQUIRE(migrate_plan(m, 3, a, 2, pend, &np, err, sizeof(err)) == 0);
	T_CHECK(np == 1 && pend[0] == 2);

	/* All applied: nothing. */
	mka(&a[2], &m[2]);
	T_REQUIRE(migrate_plan(m, 3, a, 3, pend, &np, err, sizeof(err)) == 0);
	T_CHECK(np == 0);

	/* An edited file: refused, naming it. */
	mk(&m[1], 1, "one", "create table a(); -- edited");
	err[0] = '\0';
	T_CHECK(migrate_plan(m, 3, a, 3, pend, &np, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "0001_one.sql") != NULL && strstr(err, "checksum"),
	    "%s", err);
	mk(&m[1], 1, "one", "create table a();");

	/* A renamed file. */
	mk(&m[1], 1, "uno", "create table a();");
	T_CHECK(migrate_plan(m, 3, a, 3, pend, &np, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "0001_uno.sql") != NULL, "%s", err);
	mk(&m[1], 1, "one", "create table a();");

	/* An applied file gone missing. */
	T_CHECK(migrate_plan(m, 2, a, 3, pend, &np, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "0002_two.sql") != NULL && strstr(err, "missing"),
	    "%s", err);

	/* A new file numbered below the applied top. */
	a[0] = a[2];			/* applied: 2 and 0 */
	T_CHECK(migrate_plan(m, 3, a, 2, pend, &np, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "0001_one.sql") != NULL, "%s", err);

	/* Two files with one version. */
	mk(&m[2], 1, "dup", "x");
	T_CHECK(migrate_sort(m, 3, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "0001_one.sql") != NULL &&
	    strstr(err, "0001_dup.sql") != NULL, "%s", err);
}

static void
put(const char *dir, const char *name, const char *text)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	T_REQUIRE((f = fopen(path, "w")) != NULL);
	fputs(text, f);
	fclose(f);
}

static void
test_load(void)
{
	char			 dir[] = "/tmp/test_migrate.XXXXXX", err[512];
	char			 cmd[1024], want[MIGRATE_SHA_LEN] = "";
	struct migration	*m;
	size_t			 n;
	FILE			*p;
	const char		*src = t_env("ECOGATE_SOURCE_DIR", "../..");
	char			 sqldir[512];

	T_REQUIRE(mkdtemp(dir) != NULL);
	put(dir, "0002_b.sql", "select 2;\n");
	put(dir, "0001_a.sql", "select 1;\n");
	put(dir, "README", "not a migration");
	T_REQUIRE(migrate_load_dir(dir, &m, &n, err, sizeof(err)) == 0);
	T_CHECK(n == 2);
	if (n == 2) {
		T_STREQ(m[0].file, "0001_a.sql");
		T_STREQ(m[1].file, "0002_b.sql");
		T_STREQ(m[0].sql, "select 1;\n");
		T_CHECK(m[0].len == 10);
	}
	migrate_free(m, n);

	put(dir, "02_bad.sql", "select 3;\n");
	T_CHECK(migrate_load_dir(dir, &m, &n, err, sizeof(err)) == EX_DATAERR);
	T_CHECKF(strstr(err, "02_bad.sql") != NULL, "%s", err);
	T_CHECK(m == NULL && n == 0);

	T_CHECK(migrate_load_dir("/nonexistent/dir", &m, &n, err,
	    sizeof(err)) == EX_NOINPUT);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	T_CHECK(system(cmd) == 0);

	/* The shipped migrations load, and their checksums agree with sha256sum(1). */
	snprintf(sqldir, sizeof(sqldir), "%s/schemas/sql", src);
	T_REQUIRE(migrate_load_dir(sqldir, &m, &n, err, sizeof(err)) == 0);
	T_CHECK(n >= 1);
	if (n >= 1) {
		T_CHECK(m[0].version == 1 || m[0].version == 0);
		snprintf(cmd, sizeof(cmd), "sha256sum '%s/%s'", sqldir, m[0].file);
		if ((p = popen(cmd, "r")) != NULL) {
			if (fscanf(p, "%64s", want) != 1)
				want[0] = '\0';
			pclose(p);
		}
		T_STREQ(m[0].sha, want);
	}
	migrate_free(m, n);
}

int
main(void)
{
	test_names();
	test_sha();
	test_plan();
	test_load();
	return T_DONE();
}
