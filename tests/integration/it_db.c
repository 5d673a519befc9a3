/*
 * Integration test of the PostgreSQL adapter (libs/gatekit/src/db.c), the migrations
 * in schemas/sql and their runner `ecogatectl migrate`, against the real PostgreSQL
 * the fixture started. Each run works in a database of its own (it_db_<pid>), dropped
 * at the end, so reruns start clean.
 *
 * The runner is exercised as the built binary (path in $ECOGATECTL, set by
 * tests/db/tests.cmake), the way an operator runs it.
 */
#include <sys/wait.h>

#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatekit/db.h"
#include "gatekit/util.h"
#include "gatekit/log.h"
#include "t.h"

static char	dbname[64];
static char	conninfo[256];
static char	sqldir[512];
static const char *ctl;
static const char *pgport;

/* Runs a shell command, captures stdout+stderr into out. Returns the exit status. */
static int
run(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
run(char *out, size_t outlen, const char *fmt, ...)
{
	char	 cmd[2048];
	va_list	 ap;
	FILE	*p;
	size_t	 n = 0, r;
	int	 st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	out[0] = '\0';
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (n + 1 < outlen && (r = fread(out + n, 1, outlen - n - 1, p)) > 0)
		n += r;
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
migrate(char *out, size_t outlen, const char *dir, const char *extra)
{
	return run(out, outlen, "ECOGATE_LOG_LEVEL=error '%s' migrate --db '%s' "
	    "--dir '%s' %s", ctl, conninfo, dir, extra);
}

/* The first column of the first row of a query without parameters, or "" / NULL. */
static char *
one(struct gk_db *db, const char *sql, char *buf, size_t len)
{
	struct gk_db_res	*r;
	const char		*v;

	buf[0] = '\0';
	if ((r = gk_db_exec(db, sql, 0, NULL)) == NULL) {
		fprintf(stderr, "query failed: %s: %s %s\n", sql, gk_db_errcode(db),
		    gk_db_errmsg(db));
		return NULL;
	}
	v = gk_db_res_value(r, 0, 0);
	snprintf(buf, len, "%s", v != NULL ? v : "(null)");
	gk_db_res_free(r);
	return buf;
}

static long
count(struct gk_db *db, const char *sql)
{
	char b[64];

	return one(db, sql, b, sizeof(b)) != NULL ? atol(b) : -1;
}

static void
test_migrations(struct gk_db *db)
{
	char	 out[8192], tmp[] = "/tmp/it_db.XXXXXX", b[640], want[80] = "";
	glob_t	 g;
	size_t	 nfiles;
	int	 rc;
	FILE	*f, *p1, *p2;
	char	 cmd[2048];

	snprintf(b, sizeof(b), "%s/[0-9]*_*.sql", sqldir);
	T_REQUIRE(glob(b, 0, NULL, &g) == 0);
	nfiles = g.gl_pathc;
	globfree(&g);

	rc = migrate(out, sizeof(out), sqldir, "");
	T_CHECKF(rc == 0, "rc %d: %s", rc, out);
	T_CHECKF(strstr(out, "applied 0001_registry.sql") != NULL, "%s", out);
	T_CHECK(count(db, "SELECT count(*) FROM schema_migrations") == (long)nfiles);
	T_CHECK(count(db, "SELECT count(*) FROM schema_migrations WHERE version = 1 "
	    "AND name = 'registry'") == 1);

	/* The recorded checksum is the file's sha256, as sha256sum(1) computes it. */
	rc = run(out, sizeof(out), "sha256sum '%s/0001_registry.sql'", sqldir);
	T_REQUIRE(rc == 0 && sscanf(out, "%64s", want) == 1);
	T_STREQ(one(db, "SELECT checksum FROM schema_migrations WHERE version = 1", b,
	    sizeof(b)), want);

	/* Idempotent: the second run applies nothing and says so. */
	rc = migrate(out, sizeof(out), sqldir, "");
	T_CHECKF(rc == 0 && strstr(out, "nothing to apply") != NULL, "rc %d: %s", rc,
	    out);
	T_CHECK(count(db, "SELECT count(*) FROM schema_migrations") == (long)nfiles);
	rc = migrate(out, sizeof(out), sqldir, "--status");
	T_CHECKF(rc == 0 && strstr(out, "0001 registry") != NULL &&
	    strstr(out, "0 pending") != NULL, "rc %d: %s", rc, out);

	/* History must not be rewritten: an edited applied file is refused by name. */
	T_REQUIRE(mkdtemp(tmp) != NULL);
	T_REQUIRE(run(out, sizeof(out), "cp '%s'/*.sql '%s'/", sqldir, tmp) == 0);
	snprintf(b, sizeof(b), "%s/0001_registry.sql", tmp);
	T_REQUIRE((f = fopen(b, "a")) != NULL);
	fputs("-- an innocent-looking edit\n", f);
	fclose(f);
	rc = migrate(out, sizeof(out), tmp, "");
	T_CHECKF(rc == 65, "tampered: rc %d", rc);
	T_CHECKF(strstr(out, "0001_registry.sql") != NULL &&
	    strstr(out, "checksum") != NULL, "%s", out);
	T_CHECK(count(db, "SELECT count(*) FROM schema_migrations") == (long)nfiles);
	T_REQUIRE(run(out, sizeof(out), "cp '%s/0001_registry.sql' '%s/'", sqldir,
	    tmp) == 0);

	/* A new migration: --dry-run shows it and changes nothing. */
	snprintf(b, sizeof(b), "%s/0900_it_extra.sql", tmp);
	T_REQUIRE((f = fopen(b, "w")) != NULL);
	fputs("CREATE TABLE it_extra (x int);\nINSERT INTO it_extra VALUES (1);\n", f);
	fclose(f);
	snprintf(b, sizeof(b), "%s/0901_it_slow.sql", tmp);
	T_REQUIRE((f = fopen(b, "w")) != NULL);
	fputs("SELECT pg_sleep(0.5);\nCREATE TABLE it_slow (x int);\n", f);
	fclose(f);
	rc = migrate(out, sizeof(out), tmp, "--dry-run");
	T_CHECKF(rc == 0 && strstr(out, "would apply 0900_it_extra.sql") != NULL &&
	    strstr(out, "would apply 0901_it_slow.sql") != NULL, "rc %d: %s", rc, out);
	T_STREQ(one(db, "SELECT to_regclass('it_extra') IS NULL", b, sizeof(b)), "t");

	/* Two runners at once: the advisory lock serialises them; each file once. */
	snprintf(cmd, sizeof(cmd), "ECOGATE_LOG_LEVEL=error '%s' migrate --db '%s' "
	    "--dir '%s' >/dev/null 2>&1", ctl, conninfo, tmp);
	p1 = popen(cmd, "r");
	p2 = popen(cmd, "r");
	T_REQUIRE(p1 != NULL && p2 != NULL);
	rc = pclose(p1);
	T_CHECKF(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "runner 1: %d", rc);
	rc = pclose(p2);
	T_CHECKF(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "runner 2: %d", rc);
	T_CHECK(count(db, "SELECT count(*) FROM schema_migrations WHERE version "
	    "IN (900, 901)") == 2);
	T_CHECK(count(db, "SELECT count(*) FROM it_extra") == 1);

	/* A failing migration leaves nothing behind and names file and SQLSTATE. */
	snprintf(b, sizeof(b), "%s/0902_it_bad.sql", tmp);
	T_REQUIRE((f = fopen(b, "w")) != NULL);
	fputs("CREATE TABLE it_bad (x int);\nSELECT 1 / 0;\n", f);
	fclose(f);
	rc = migrate(out, sizeof(out), tmp, "");
	T_CHECKF(rc == 65 && strstr(out, "0902_it_bad.sql") != NULL &&
	    strstr(out, "22012") != NULL, "rc %d: %s", rc, out);
	T_STREQ(one(db, "SELECT to_regclass('it_bad') IS NULL", b, sizeof(b)), "t");
	T_CHECK(count(db, "SELECT count(*) FROM schema_migrations WHERE version = 902")
	    == 0);

	/* An applied file missing from the directory is refused too. */
	rc = migrate(out, sizeof(out), sqldir, "");
	T_CHECKF(rc == 65 && strstr(out, "0900_it_extra.sql") != NULL, "rc %d: %s",
	    rc, out);

	T_CHECK(run(out, sizeof(out), "rm -rf '%s'", tmp) == 0);
	/* Leave the schema as shipped for the tests below. */
	T_CHECK(gk_db_exec_script(db, "DROP TABLE it_extra, it_slow; DELETE FROM "
	    "schema_migrations WHERE version IN (900, 901)") == 0);
}

static const char ins_vehicle[] =
    "INSERT INTO vehicle (plate, plate_colour, category, vin, engine_no,"
    " registered_on, vehicle_type, fuel_type, emission_stage, emission_source,"
    " use_nature, fleet_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
    " $12)";

static void
test_registry(struct gk_db *db)
{
	struct gk_db_res	*r;
	const char		*p[12] = { "沪A12345", "yellow", "external",
				    "LSVAM4187C2184847", NULL, "2019-03-01", "H11", "B",
				    "5", "manifest", "F", "上海某某运输有限公司" };
	const char		*q[2] = { "沪A12345", "yellow" };
	char			 b[64];
	long			 v1, v2;

	r = gk_db_exec(db, ins_vehicle, 12, p);
	T_REQUIRE(r != NULL);
	T_CHECK(gk_db_res_cmd_tuples(r) == 1);
	T_CHECK(gk_db_res_nrows(r) == 0);
	gk_db_res_free(r);
	T_CHECK(gk_db_errcode(db)[0] == '\0');

	r = gk_db_exec(db, "SELECT plate, vin, engine_no, fleet_name, registered_on,"
	    " version FROM vehicle WHERE plate = $1 AND plate_colour = $2", 2, q);
	T_REQUIRE(r != NULL);
	T_CHECK(gk_db_res_nrows(r) == 1 && gk_db_res_ncols(r) == 6);
	T_STREQ(gk_db_res_fname(r, 0), "plate");
	T_CHECK(gk_db_res_fname(r, 6) == NULL);
	T_STREQ(gk_db_res_value(r, 0, 0), "沪A12345");
	T_STREQ(gk_db_res_value(r, 0, 1), "LSVAM4187C2184847");
	T_CHECK(gk_db_res_isnull(r, 0, 2) && gk_db_res_value(r, 0, 2) == NULL);
	T_STREQ(gk_db_res_value(r, 0, 3), "上海某某运输有限公司");
	T_STREQ(gk_db_res_value(r, 0, 4), "2019-03-01");
	T_CHECK(gk_db_res_value(r, 1, 0) == NULL);	/* out of range */
	v1 = atol(gk_db_res_value(r, 0, 5));
	gk_db_res_free(r);

	/* Every change bumps the version and lands in the change log. */
	T_REQUIRE(gk_db_cmd(db, "UPDATE vehicle SET emission_stage = '6' WHERE plate ="
	    " $1 AND plate_colour = $2", 2, q) == 0);
	r = gk_db_exec(db, "SELECT version FROM vehicle WHERE plate = $1 AND"
	    " plate_colour = $2", 2, q);
	T_REQUIRE(r != NULL);
	v2 = atol(gk_db_res_value(r, 0, 0));
	gk_db_res_free(r);
	T_CHECKF(v2 > v1, "version %ld -> %ld", v1, v2);
	T_CHECK(count(db, "SELECT count(*) FROM registry_change WHERE plate ="
	    " '沪A12345' AND op IN ('insert', 'update')") == 2);

	/* An 8-character new-energy plate fits; 11 characters do not. */
	p[0] = "沪AD12345";
	p[1] = "green";
	p[3] = NULL;
	T_CHECK(gk_db_cmd(db, ins_vehicle, 12, p) == 0);
	p[0] = "沪A123456789";
	T_CHECK(gk_db_cmd(db, ins_vehicle, 12, p) == -1);
	T_STREQ(gk_db_errcode(db), GK_DB_CHECK_VIOLATION);
	T_STREQ(gk_db_errconstraint(db), "vehicle_plate_ck");

	/* Constraint violations surface their SQLSTATE, not as connection errors. */
	p[0] = "沪B54321";
	p[1] = "blue";
	p[3] = "LSVAM4187C218484I";		/* I is never in a VIN */
	T_CHECK(gk_db_exec(db, ins_vehicle, 12, p) == NULL);
	T_STREQ(gk_db_errcode(db), GK_DB_CHECK_VIOLATION);
	T_STREQ(gk_db_errconstraint(db), "vehicle_vin_ck");
	T_CHECK(!gk_db_err_is_connection(db));
	T_CHECK(gk_db_errmsg(db)[0] != '\0');
	p[3] = "LSVAM4187C2184847";
	p[7] = "G";				/* no such fuel code */
	T_CHECK(gk_db_cmd(db, ins_vehicle, 12, p) == -1);
	T_STREQ(gk_db_errconstraint(db), "vehicle_fuel_ck");
	p[7] = "B";
	p[9] = NULL;				/* a stage needs its evidence */
	T_CHECK(gk_db_cmd(db, ins_vehicle, 12, p) == -1);
	T_STREQ(gk_db_errconstraint(db), "vehicle_stage_has_source_ck");
	p[9] = "inferred";
	p[1] = "purple";
	T_CHECK(gk_db_cmd(db, ins_vehicle, 12, p) == -1);
	T_STREQ(gk_db_errcode(db), GK_DB_CHECK_VIOLATION);
	p[1] = NULL;
	T_CHECK(gk_db_cmd(db, ins_vehicle, 12, p) == -1);
	T_STREQ(gk_db_errcode(db), GK_DB_NOT_NULL_VIOLATION);
	p[1] = "blue";
	T_CHECK(gk_db_cmd(db, ins_vehicle, 12, p) == 0);
	T_CHECK(gk_db_cmd(db, ins_vehicle, 12, p) == -1);
	T_STREQ(gk_db_errcode(db), GK_DB_UNIQUE_VIOLATION);
	T_CHECK(strstr(gk_db_errmsg(db), "沪B54321") != NULL);	/* the detail */

	/* List entries: an exemption needs its kind. */
	T_CHECK(gk_db_cmd(db, "INSERT INTO vehicle_list_entry (plate, plate_colour, "
	    "list, reason) VALUES ($1, $2, 'exemption', '应急运输')", 2, q) == -1);
	T_STREQ(gk_db_errconstraint(db), "list_exemption_has_kind_ck");
	T_CHECK(gk_db_cmd(db, "INSERT INTO vehicle_list_entry (plate, plate_colour, "
	    "list, reason, exemption_kind, valid_to) VALUES ($1, $2, 'exemption', "
	    "'应急运输', 'emergency_transport', now() + interval '1 day')", 2, q) == 0);

	/* Roles: a viewer reads but cannot write; an operator writes. */
	T_REQUIRE(gk_db_cmd(db, "SET ROLE ecogate_viewer", 0, NULL) == 0);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle") == 3);
	p[0] = "沪C11111";
	T_CHECK(gk_db_cmd(db, ins_vehicle, 12, p) == -1);
	T_STREQ(gk_db_errcode(db), GK_DB_PRIVILEGE);
	T_REQUIRE(gk_db_cmd(db, "SET ROLE ecogate_operator", 0, NULL) == 0);
	T_CHECK(gk_db_cmd(db, ins_vehicle, 12, p) == 0);
	T_CHECK(gk_db_cmd(db, "DELETE FROM vehicle WHERE plate = $1", 1, p) == -1);
	T_STREQ(gk_db_errcode(db), GK_DB_PRIVILEGE);
	T_REQUIRE(gk_db_cmd(db, "RESET ROLE", 0, NULL) == 0);
	T_STREQ(one(db, "SELECT current_user", b, sizeof(b)), "postgres");
}

static void
test_tx(struct gk_db *db)
{
	const char *p[2] = { "沪D00001", "blue" };

	T_REQUIRE(gk_db_begin(db) == 0);
	T_CHECK(gk_db_cmd(db, "INSERT INTO vehicle (plate, plate_colour) VALUES ($1,"
	    " $2)", 2, p) == 0);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate = '沪D00001'") == 1);
	T_CHECK(gk_db_rollback(db) == 0);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate = '沪D00001'") == 0);

	/* An error aborts the transaction: later statements fail until rollback. */
	T_REQUIRE(gk_db_begin(db) == 0);
	T_CHECK(gk_db_cmd(db, "INSERT INTO vehicle (plate, plate_colour) VALUES ($1,"
	    " $2)", 2, p) == 0);
	T_CHECK(gk_db_cmd(db, "INSERT INTO vehicle (plate, plate_colour) VALUES ($1,"
	    " $2)", 2, p) == -1);
	T_STREQ(gk_db_errcode(db), GK_DB_UNIQUE_VIOLATION);
	T_CHECK(gk_db_cmd(db, "SELECT 1", 0, NULL) == -1);
	T_STREQ(gk_db_errcode(db), GK_DB_IN_FAILED_TX);
	T_CHECK(gk_db_rollback(db) == 0);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate = '沪D00001'") == 0);

	/* COMMIT of a failed transaction is reported as the rollback it is. */
	T_REQUIRE(gk_db_begin(db) == 0);
	T_CHECK(gk_db_cmd(db, "INSERT INTO vehicle (plate, plate_colour) VALUES ($1,"
	    " $2)", 2, p) == 0);
	T_CHECK(gk_db_cmd(db, "SELECT 1 / 0", 0, NULL) == -1);
	T_STREQ(gk_db_errcode(db), "22012");
	T_CHECK(gk_db_commit(db) == -1);
	T_STREQ(gk_db_errcode(db), GK_DB_IN_FAILED_TX);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate = '沪D00001'") == 0);
	T_CHECK(gk_db_begin(db) == 0 && gk_db_rollback(db) == 0);	/* usable */

	T_REQUIRE(gk_db_begin(db) == 0);
	T_CHECK(gk_db_cmd(db, "INSERT INTO vehicle (plate, plate_colour) VALUES ($1,"
	    " $2)", 2, p) == 0);
	T_CHECK(gk_db_commit(db) == 0);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate = '沪D00001'") == 1);

	/* A script: many statements, simple protocol. */
	T_CHECK(gk_db_exec_script(db, "CREATE TEMP TABLE s (x int); INSERT INTO s "
	    "VALUES (1), (2); INSERT INTO s VALUES (3);") == 0);
	T_CHECK(count(db, "SELECT sum(x) FROM s") == 6);
	T_CHECK(gk_db_exec_script(db, "INSERT INTO s VALUES (4); SELECT * FROM "
	    "nosuchtable;") == -1);
	T_STREQ(gk_db_errcode(db), "42P01");
	T_CHECK(count(db, "SELECT sum(x) FROM s") == 6);	/* all or nothing */
}

#define NCOPY 10000

static void
test_copy(struct gk_db *db)
{
	static char	 buf[1 << 16];
	char		 plate[32], fleet[64], f1[80], f2[160], f3[80], b[160];
	size_t		 used = 0, n;
	int64_t		 rows = -1;
	int		 i, ok = 1;
	const char	*odd = "Fleet, \"North\"\nline 2";

	/* The escaper: quotes, doubled quotes, NULL, too small. */
	T_CHECK(gk_db_csv_field(f1, sizeof(f1), "a\"b,c") == 8);
	T_STREQ(f1, "\"a\"\"b,c\"");
	T_CHECK(gk_db_csv_field(f1, sizeof(f1), "") == 2);
	T_STREQ(f1, "\"\"");
	T_CHECK(gk_db_csv_field(f1, sizeof(f1), NULL) == 0);
	T_STREQ(f1, "");
	T_CHECK(gk_db_csv_field(f1, 4, "abcd") >= 4);

	T_REQUIRE(gk_db_copy_begin(db, "COPY vehicle (plate, plate_colour, fleet_name,"
	    " engine_no) FROM STDIN (FORMAT csv)") == 0);
	/* Other statements wait until the COPY ends. */
	T_CHECK(gk_db_cmd(db, "SELECT 1", 0, NULL) == -1);
	for (i = 0; i < NCOPY && ok; i++) {
		snprintf(plate, sizeof(plate), "苏E%05d", i);
		snprintf(fleet, sizeof(fleet), "车队 %d", i % 7);
		gk_db_csv_field(f1, sizeof(f1), plate);
		gk_db_csv_field(f2, sizeof(f2), i == 4242 ? odd : fleet);
		gk_db_csv_field(f3, sizeof(f3), i % 2 == 0 ? "ENG-1" : NULL);
		n = (size_t)snprintf(b, sizeof(b), "%s,yellow,%s,%s\n", f1, f2, f3);
		if (used + n > sizeof(buf)) {
			ok = gk_db_copy_put(db, buf, used) == 0;
			used = 0;
		}
		memcpy(buf + used, b, n);
		used += n;
	}
	T_CHECK(ok);
	T_CHECK(gk_db_copy_put(db, buf, used) == 0);
	T_CHECKF(gk_db_copy_end(db, NULL, &rows) == 0, "%s %s", gk_db_errcode(db),
	    gk_db_errmsg(db));
	T_CHECKF(rows == NCOPY, "%lld rows", (long long)rows);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate LIKE '苏E%'") ==
	    NCOPY);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate LIKE '苏E%' AND"
	    " engine_no IS NULL") == NCOPY / 2);
	T_STREQ(one(db, "SELECT fleet_name FROM vehicle WHERE plate = '苏E04242'", f2,
	    sizeof(f2)), odd);

	/* A bad row fails the whole COPY with its SQLSTATE; the connection lives on. */
	T_REQUIRE(gk_db_copy_begin(db, "COPY vehicle (plate, plate_colour, vin) FROM"
	    " STDIN (FORMAT csv)") == 0);
	snprintf(b, sizeof(b), "\"浙A11111\",blue,\n\"浙A22222\",blue,BADVIN\n");
	T_CHECK(gk_db_copy_put(db, b, strlen(b)) == 0);
	T_CHECK(gk_db_copy_end(db, NULL, &rows) == -1);
	T_STREQ(gk_db_errcode(db), GK_DB_CHECK_VIOLATION);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate LIKE '浙A%'") == 0);

	/* An aborted COPY writes nothing. */
	T_REQUIRE(gk_db_copy_begin(db, "COPY vehicle (plate, plate_colour) FROM STDIN"
	    " (FORMAT csv)") == 0);
	snprintf(b, sizeof(b), "\"浙A33333\",blue\n");
	T_CHECK(gk_db_copy_put(db, b, strlen(b)) == 0);
	T_CHECK(gk_db_copy_end(db, "operator cancelled", NULL) == -1);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate LIKE '浙A%'") == 0);

	/* COPY through exec is refused without wedging the connection. */
	T_CHECK(gk_db_exec(db, "COPY vehicle (plate) FROM STDIN", 0, NULL) == NULL);
	T_CHECK(count(db, "SELECT 1") == 1);
	T_CHECK(gk_db_copy_put(db, "x", 1) == -1);

	/*
	 * COPY TO STDOUT is refused too, inside a transaction as well: the connection
	 * (and the transaction, which the refusal does not abort) stay usable. It used
	 * to leave libpq in COPY OUT mode, or to drop the connection and report the
	 * transaction lost.
	 */
	T_REQUIRE(gk_db_begin(db) == 0);
	T_CHECK(gk_db_exec(db, "COPY (SELECT 1) TO STDOUT", 0, NULL) == NULL);
	T_STREQ(gk_db_errcode(db), "0A000");
	T_CHECK(gk_db_copy_begin(db, "COPY (SELECT 1) TO STDOUT") == -1);
	T_STREQ(gk_db_errcode(db), "42601");
	T_CHECK(gk_db_copy_begin(db, "SELECT 1") == -1);
	T_STREQ(gk_db_errcode(db), "42601");
	T_CHECKF(count(db, "SELECT 1") == 1, "%s %s", gk_db_errcode(db),
	    gk_db_errmsg(db));
	T_CHECKF(gk_db_commit(db) == 0, "%s %s", gk_db_errcode(db), gk_db_errmsg(db));
	T_CHECK(gk_db_connected(db));
	T_CHECK(count(db, "SELECT 1") == 1);
}

static void
test_options(void)
{
	struct gk_db_opts	 o = { .application_name = "it_db",
				    .statement_timeout_ms = 200 };
	struct gk_db		*db;
	char			 b[64], ci[256];
	long long		 t0;

	T_REQUIRE((db = gk_db_new(conninfo, &o)) != NULL);
	T_CHECK(!gk_db_connected(db));
	T_STREQ(one(db, "SELECT current_setting('application_name')", b, sizeof(b)),
	    "it_db");
	T_CHECK(gk_db_connected(db));
	t0 = t_now_ms();
	T_CHECK(gk_db_cmd(db, "SELECT pg_sleep(5)", 0, NULL) == -1);
	T_STREQ(gk_db_errcode(db), "57014");
	T_CHECK(t_now_ms() - t0 < 3000);
	T_CHECK(gk_db_connected(db));
	gk_db_free(db);

	/* Nobody listening: fails fast with a connection-class error, then backs off. */
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=1 user=postgres dbname=x");
	T_REQUIRE((db = gk_db_new(ci, NULL)) != NULL);
	t0 = t_now_ms();
	T_CHECK(gk_db_exec(db, "SELECT 1", 0, NULL) == NULL);
	T_CHECK(t_now_ms() - t0 < 3000);
	T_STREQ(gk_db_errcode(db), GK_DB_CONN_UNABLE);
	T_CHECK(gk_db_err_is_connection(db));
	t0 = t_now_ms();
	T_CHECK(gk_db_cmd(db, "SELECT 1", 0, NULL) == -1);
	T_CHECK(t_now_ms() - t0 < 50);
	T_CHECKF(strstr(gk_db_errmsg(db), "next attempt") != NULL, "%s",
	    gk_db_errmsg(db));
	gk_db_free(db);
}

static void
test_reconnect(struct gk_db *db)
{
	const char	*p[2] = { "沪E99999", "blue" };
	long long	 t0;
	int		 up = 0;

	/* A transaction open when the server goes: its loss is reported, not hidden. */
	T_REQUIRE(gk_db_begin(db) == 0);
	T_REQUIRE(gk_db_cmd(db, "INSERT INTO vehicle (plate, plate_colour) VALUES ($1,"
	    " $2)", 2, p) == 0);
	T_REQUIRE(t_servers("restart", "postgres") == 0);
	T_CHECK(gk_db_cmd(db, "SELECT 1", 0, NULL) == -1);
	T_CHECKF(gk_db_err_is_connection(db), "%s %s", gk_db_errcode(db),
	    gk_db_errmsg(db));
	T_CHECK(gk_db_cmd(db, "SELECT 1", 0, NULL) == -1);	/* still: roll back first */
	T_CHECK(gk_db_err_is_connection(db));
	T_CHECK(gk_db_rollback(db) == 0);

	t0 = t_now_ms();
	while (t_now_ms() - t0 < 30000) {
		if (gk_db_cmd(db, "SELECT 1", 0, NULL) == 0) {
			up = 1;
			break;
		}
		T_CHECK(gk_db_err_is_connection(db));
		usleep(50000);
	}
	T_CHECKF(up, "no reconnect: %s", gk_db_errmsg(db));
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate = '沪E99999'") == 0);
	T_CHECK(count(db, "SELECT count(*) FROM vehicle WHERE plate LIKE '苏E%'") ==
	    NCOPY);
}

/*
 * A password reaches the server: from opts, or from the file that
 * ECOGATE_PG_PASSWORD_FILE names (a Docker secret). The fixture's pg_hba asks the
 * role ecogate_pwtest for a SCRAM password; everyone else is trusted.
 */
static void
test_password(struct gk_db *admin)
{
	struct gk_db_opts	 o;
	struct gk_db		*db;
	struct gk_db_res	*r;
	char			 pw[64], sql[160], ci[256], file[] = "/tmp/it_db_pw.XXXXXX";
	FILE			*fp;
	int			 fd;

	snprintf(pw, sizeof(pw), "pw-%d-%lld", (int)getpid(), (long long)gk_wall_ms());
	snprintf(sql, sizeof(sql), "DO $$ BEGIN CREATE ROLE ecogate_pwtest LOGIN; "
	    "EXCEPTION WHEN duplicate_object THEN NULL; END $$");
	T_REQUIRE(gk_db_cmd(admin, sql, 0, NULL) == 0);
	snprintf(sql, sizeof(sql), "ALTER ROLE ecogate_pwtest PASSWORD '%s'", pw);
	T_REQUIRE(gk_db_cmd(admin, sql, 0, NULL) == 0);
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%s user=ecogate_pwtest "
	    "dbname=postgres", pgport);

	T_REQUIRE((fd = mkstemp(file)) != -1);
	T_REQUIRE((fp = fdopen(fd, "w")) != NULL);
	fprintf(fp, "%s\n", pw);		/* as `openssl rand ... > file` leaves it */
	fclose(fp);
	setenv("ECOGATE_PG_PASSWORD_FILE", file, 1);
	T_REQUIRE((db = gk_db_new(ci, NULL)) != NULL);
	r = gk_db_exec(db, "SELECT current_user", 0, NULL);
	T_CHECKF(r != NULL && strcmp(gk_db_res_value(r, 0, 0), "ecogate_pwtest") == 0,
	    "%s", gk_db_errmsg(db));
	gk_db_res_free(r);
	gk_db_free(db);

	/* A wrong password is refused, with the server's reason. */
	T_REQUIRE((fp = fopen(file, "w")) != NULL);
	fprintf(fp, "not-%s\n", pw);
	fclose(fp);
	T_REQUIRE((db = gk_db_new(ci, NULL)) != NULL);
	T_CHECK(gk_db_connect(db) == -1 &&
	    strstr(gk_db_errmsg(db), "password authentication failed") != NULL);
	gk_db_free(db);

	/* opts.password wins over the file. */
	memset(&o, 0, sizeof(o));
	o.password = pw;
	T_REQUIRE((db = gk_db_new(ci, &o)) != NULL);
	T_CHECKF(gk_db_connect(db) == 0, "%s", gk_db_errmsg(db));
	gk_db_free(db);

	/* A file that cannot be read is a configuration error, said at once. */
	unlink(file);
	T_CHECK(gk_db_new(ci, NULL) == NULL);
	unsetenv("ECOGATE_PG_PASSWORD_FILE");
}

int
main(void)
{
	struct gk_db	*admin, *db;
	char		 sql[128], admininfo[256];

	gk_log_init("it_db");
	pgport = t_env("ECOGATE_PG_PORT", "35432");
	ctl = t_env("ECOGATECTL", "../services/ecogatectl/ecogatectl");
	snprintf(sqldir, sizeof(sqldir), "%s/schemas/sql",
	    t_env("ECOGATE_SOURCE_DIR", "../.."));
	T_REQUIRE(access(ctl, X_OK) == 0);

	snprintf(dbname, sizeof(dbname), "it_db_%d", (int)getpid());
	snprintf(admininfo, sizeof(admininfo),
	    "host=127.0.0.1 port=%s user=postgres dbname=postgres", pgport);
	snprintf(conninfo, sizeof(conninfo),
	    "host=127.0.0.1 port=%s user=postgres dbname=%s", pgport, dbname);
	T_REQUIRE((admin = gk_db_new(admininfo, NULL)) != NULL);
	/* The name is ours (digits only): no parameter is possible for identifiers. */
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", dbname);
	T_REQUIRE(gk_db_cmd(admin, sql, 0, NULL) == 0);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
	T_REQUIRE(gk_db_cmd(admin, sql, 0, NULL) == 0);

	T_REQUIRE((db = gk_db_new(conninfo, NULL)) != NULL);
	test_migrations(db);
	test_registry(db);
	test_tx(db);
	test_copy(db);
	test_options();
	test_password(admin);
	test_reconnect(db);
	gk_db_free(db);

	/* The admin connection died in the restart too; it reconnects by itself. */
	snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", dbname);
	if (gk_db_cmd(admin, sql, 0, NULL) == -1)
		T_CHECKF(gk_db_cmd(admin, sql, 0, NULL) == 0, "%s", gk_db_errmsg(admin));
	gk_db_free(admin);
	gk_db_free(NULL);
	return T_DONE();
}
