/*
 * registry: the I/O half of `ecogatectl registry` (see registry.h): the CSV rows that
 * registry_csv.c validated go into PostgreSQL in one transaction, then the vehicles
 * that changed go to Kafka with their delivery reports awaited.
 *
 * Change detection is left to PostgreSQL: the upsert's DO UPDATE carries a WHERE ...
 * IS DISTINCT FROM clause over the columns the file gives, so an identical row is not
 * updated at all (no new version, no registry_change row, nothing to publish) and
 * RETURNING tells which rows were written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "gatekit/db.h"
#include "gatekit/json.h"
#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/plate.h"
#include "gatekit/stream.h"
#include "gatekit/util.h"

#include "audit.h"
#include "migrate.h"
#include "registry.h"
#include "registry_csv.h"

#define PUBLISH_TIMEOUT_MS	30000
#define KEY_MAX			(GK_PLATE_MAX * 2 + 32)

/* A vehicle to publish after the commit. */
struct key {
	char	plate[GK_PLATE_MAX * 2];
	char	colour[16];
};

struct keys {
	struct key	*k;
	size_t		 n;
};

static int
keys_add(struct keys *ks, const char *plate, const char *colour)
{
	struct key *nk;

	if ((nk = realloc(ks->k, (ks->n + 1) * sizeof(*nk))) == NULL)
		return -1;
	ks->k = nk;
	if (gk_strlcpy(nk[ks->n].plate, plate, sizeof(nk->plate)) >= sizeof(nk->plate) ||
	    gk_strlcpy(nk[ks->n].colour, colour, sizeof(nk->colour)) >=
	    sizeof(nk->colour))
		return -1;
	ks->n++;
	return 0;
}

/*
 * The record's fields under schemas/vehicle.v1.schema.json's names, then (get's
 * readable output only: the schema has no place for them) the rest of the row.
 */
static const char record_sql[] =
    "SELECT plate, plate_colour AS colour, "
    "greatest(version, (SELECT max(version) FROM vehicle_list_entry l "
    "WHERE l.plate = v.plate AND l.plate_colour = v.plate_colour)) AS version, "
    "plate_kind, category, vin, engine_no, "
    "to_char(registered_on, 'YYYY-MM-DD') AS registration_date, vehicle_type, "
    "vehicle_model, fuel_type AS fuel, emission_stage, emission_source, "
    "info_public_no, use_nature, fleet_name AS fleet, owner_name AS owner, "
    "nrmm_reg_code, to_char(nrmm_produced_on, 'YYYY-MM-DD') AS nrmm_produced_on, "
    "nrmm_pin, nrmm_machine_type, note, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "AS created_at, "
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "AS updated_at "
    "FROM vehicle v WHERE plate = $1 AND plate_colour = $2";
/* Columns of record_sql from this one on are not part of the published record. */
#define RECORD_EXTRA_FROM	"nrmm_reg_code"

/* The entries in force, oldest first; the schema allows 16. */
static const char lists_sql[] =
    "SELECT list, reason, exemption_kind, approval_no, "
    "to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "AS valid_from, "
    "to_char(valid_to AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "AS valid_to "
    "FROM vehicle_list_entry WHERE plate = $1 AND plate_colour = $2 "
    "AND valid_from <= now() AND (valid_to IS NULL OR valid_to > now()) "
    "ORDER BY id LIMIT 16";

/*
 * Adds the non-NULL columns of row r as string members (version as an integer),
 * stopping at the column named stop (NULL: all).
 */
static int
add_columns(json_t *o, const struct gk_db_res *res, int r, const char *stop)
{
	const char	*name, *val;
	int		 c;

	for (c = 0; c < gk_db_res_ncols(res); c++) {
		name = gk_db_res_fname(res, c);
		if (stop != NULL && strcmp(name, stop) == 0)
			break;
		if (gk_db_res_isnull(res, r, c))
			continue;
		val = gk_db_res_value(res, r, c);
		if (strcmp(name, "version") == 0) {
			if (json_object_set_new(o, name,
			    json_integer(strtoll(val, NULL, 10))) == -1)
				return -1;
		} else if (json_object_set_new(o, name, json_string(val)) == -1)
			return -1;
	}
	return 0;
}

int
registry_record_json(struct gk_db *db, const char *plate, const char *colour,
    int full, char **json)
{
	const char		*p[2] = { plate, colour };
	struct gk_db_res	*rv = NULL, *rl = NULL;
	json_t			*o = NULL, *lists, *e;
	int			 i, rc = -1;

	*json = NULL;
	if ((rv = gk_db_exec(db, record_sql, 2, p)) == NULL)
		goto fail;
	if (gk_db_res_nrows(rv) == 0) {
		gk_db_res_free(rv);
		return 0;
	}
	if ((rl = gk_db_exec(db, lists_sql, 2, p)) == NULL)
		goto fail;
	if ((o = json_object()) == NULL ||
	    json_object_set_new(o, "schema", json_string("ecogate.vehicle.v1")) == -1 ||
	    add_columns(o, rv, 0, full ? NULL : RECORD_EXTRA_FROM) == -1 ||
	    json_object_set_new(o, "registered", json_true()) == -1 ||
	    (lists = json_array()) == NULL)
		goto fail;
	if (json_object_set_new(o, "lists", lists) == -1)
		goto fail;
	for (i = 0; i < gk_db_res_nrows(rl); i++)
		if ((e = json_object()) == NULL || json_array_append_new(lists, e) == -1 ||
		    add_columns(e, rl, i, NULL) == -1)
			goto fail;
	if ((*json = gk_json_dump_compact(o)) == NULL)
		goto fail;
	rc = 1;
fail:
	if (rc == -1)
		gk_log(GK_LOG_ERR, "registry.record_failed", "plate=%s colour=%s "
		    "sqlstate=%s msg=%s", plate, colour, gk_db_errcode(db),
		    gk_db_errmsg(db));
	json_decref(o);
	gk_db_res_free(rl);
	gk_db_res_free(rv);
	return rc;
}

/* Publishing. */

struct pub {
	struct gk_loop		*loop;
	struct gk_stream	*p;
	size_t			 queued, delivered, failed;
};

static void
on_delivery(void *arg, const struct gk_stream_delivery *d)
{
	struct pub *pb = arg;

	if (d->err == 0)
		pb->delivered++;
	else {
		pb->failed++;
		gk_log(GK_LOG_ERR, "registry.publish_failed", "topic=%s err=%s",
		    d->topic, d->errstr);
	}
}

static int
pub_open(struct pub *pb, const char *brokers, FILE *errout)
{
	struct gk_stream_opts	 o;
	char			 err[512];

	memset(pb, 0, sizeof(*pb));
	if (gk_stream_create_topic(brokers, REGISTRY_TOPIC, 0, 1, PUBLISH_TIMEOUT_MS,
	    err, sizeof(err)) == -1) {
		fprintf(errout, "kafka %s: topic %s: %s\n", brokers, REGISTRY_TOPIC, err);
		return -1;
	}
	if ((pb->loop = gk_loop_new()) == NULL) {
		fprintf(errout, "cannot create the event loop\n");
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.brokers = brokers;
	o.client_id = "ecogatectl";
	o.on_delivery = on_delivery;
	o.arg = pb;
	o.message_timeout_ms = PUBLISH_TIMEOUT_MS;
	if ((pb->p = gk_stream_producer_new(pb->loop, &o, err, sizeof(err))) == NULL) {
		fprintf(errout, "kafka %s: %s\n", brokers, err);
		gk_loop_free(pb->loop);
		pb->loop = NULL;
		return -1;
	}
	return 0;
}

/* Queues one record (json NULL: a tombstone). Returns 0 or -1. */
static int
pub_send(struct pub *pb, const char *plate, const char *colour, const char *json,
    const struct registry_who *who)
{
	struct gk_stream_header	 h[2];
	char			 key[KEY_MAX];
	size_t			 nh = 0;
	int			 n, tries;

	n = snprintf(key, sizeof(key), "%s|%s", plate, colour);
	if (n < 0 || (size_t)n >= sizeof(key))
		return -1;
	if (who != NULL && who->operator_name != NULL) {
		h[nh].name = "operator";
		h[nh].value = who->operator_name;
		h[nh++].len = strlen(who->operator_name);
	}
	if (who != NULL && who->reason != NULL) {
		h[nh].name = "reason";
		h[nh].value = who->reason;
		h[nh++].len = strlen(who->reason);
	}
	/* A full local queue drains as the loop serves delivery reports. */
	for (tries = 0; tries < 1000; tries++) {
		if (gk_stream_produce(pb->p, REGISTRY_TOPIC, key, (size_t)n, json,
		    json != NULL ? strlen(json) : 0, h, nh, NULL) == 0) {
			pb->queued++;
			return 0;
		}
		if (errno != ENOBUFS)
			return -1;
		gk_loop_once(pb->loop, 10);
	}
	return -1;
}

/* Waits for every report (bounded), closes. Returns the records delivered, or -1. */
static long
pub_close(struct pub *pb)
{
	int64_t	deadline = gk_mono_ms() + PUBLISH_TIMEOUT_MS + 5000;
	long	rc;

	while (pb->delivered + pb->failed < pb->queued && gk_mono_ms() < deadline)
		gk_loop_once(pb->loop, 100);
	gk_stream_close(pb->p, 5000);
	gk_stream_free(pb->p);
	while (gk_loop_once(pb->loop, 0) > 0)
		;
	gk_loop_free(pb->loop);
	rc = pb->failed == 0 && pb->delivered == pb->queued ? (long)pb->delivered : -1;
	memset(pb, 0, sizeof(*pb));
	return rc;
}

/* Publishes the current record of each key; returns the number delivered or -1. */
static long
publish_keys(struct gk_db *db, const char *brokers, const struct keys *ks,
    const struct registry_who *who, FILE *errout)
{
	struct pub	 pb;
	char		*json;
	size_t		 i;
	int		 rc, bad = 0;

	if (ks->n == 0)
		return 0;
	if (pub_open(&pb, brokers, errout) == -1)
		return -1;
	for (i = 0; i < ks->n; i++) {
		rc = registry_record_json(db, ks->k[i].plate, ks->k[i].colour, 0, &json);
		if (rc == -1) {
			bad = 1;
			break;
		}
		/* Gone since (a concurrent remove): the edge must forget it too. */
		if (pub_send(&pb, ks->k[i].plate, ks->k[i].colour, rc == 1 ? json : NULL,
		    who) == -1) {
			fprintf(errout, "kafka: cannot queue %s (%s)\n", ks->k[i].plate,
			    ks->k[i].colour);
			bad = 1;
		}
		free(json);
	}
	if (pub_close(&pb) == -1 || bad) {
		fprintf(errout, "kafka %s: not every record was published to %s\n",
		    brokers, REGISTRY_TOPIC);
		return -1;
	}
	return (long)ks->n;
}

/* Import. */

static int
read_file(const char *path, char **buf, size_t *len, FILE *errout)
{
	FILE	*fp;
	char	*b = NULL, *nb;
	size_t	 n = 0, cap = 0, r;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(errout, "%s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	for (;;) {
		if (n == cap) {
			if (cap > REGISTRY_CSV_MAX_BYTES) {
				fprintf(errout, "%s: larger than %d bytes\n", path,
				    REGISTRY_CSV_MAX_BYTES);
				goto fail;
			}
			if ((nb = realloc(b, cap * 2 + 65536)) == NULL)
				goto fail;
			b = nb;
			cap = cap * 2 + 65536;
		}
		r = fread(b + n, 1, cap - n, fp);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(fp)) {
		fprintf(errout, "%s: read error\n", path);
		goto fail;
	}
	fclose(fp);
	*buf = b;
	*len = n;
	return 0;
fail:
	fclose(fp);
	free(b);
	return EX_IOERR;
}

/*
 * The upsert for the columns the file has. Only our own column names go into the SQL
 * text; every value is a parameter. Returns a malloc'd statement and sets cols[] (the
 * vehicle columns in parameter order) and *ncols, or NULL.
 */
static char *
upsert_sql(uint32_t present, int *cols, int *ncols)
{
	char	 ins[2048], vals[1024], set[2048], old[2048], new[2048], *sql;
	int	 c, n = 0, len;

	ins[0] = vals[0] = set[0] = old[0] = new[0] = '\0';
	for (c = 0; c < REGISTRY_COL_NVEHICLE; c++) {
		if (!(present & (1u << c)))
			continue;
		cols[n++] = c;
		snprintf(ins + strlen(ins), sizeof(ins) - strlen(ins), "%s%s",
		    n > 1 ? ", " : "", registry_col_name(c));
		snprintf(vals + strlen(vals), sizeof(vals) - strlen(vals), "%s$%d",
		    n > 1 ? ", " : "", n);
		if (c == REGISTRY_PLATE || c == REGISTRY_PLATE_COLOUR)
			continue;
		snprintf(set + strlen(set), sizeof(set) - strlen(set), "%s%s = "
		    "EXCLUDED.%s", set[0] != '\0' ? ", " : "", registry_col_name(c),
		    registry_col_name(c));
		snprintf(old + strlen(old), sizeof(old) - strlen(old), "%svehicle.%s",
		    old[0] != '\0' ? ", " : "", registry_col_name(c));
		snprintf(new + strlen(new), sizeof(new) - strlen(new), "%sEXCLUDED.%s",
		    new[0] != '\0' ? ", " : "", registry_col_name(c));
	}
	*ncols = n;
	/* ROW() keeps a single column a row constructor too. */
	len = snprintf(NULL, 0, "INSERT INTO vehicle (%s) VALUES (%s) ON CONFLICT "
	    "(plate, plate_colour) DO UPDATE SET %s WHERE ROW(%s) IS DISTINCT FROM "
	    "ROW(%s) RETURNING version", ins, vals, set, old, new);
	if ((sql = malloc((size_t)len + 1)) == NULL)
		return NULL;
	snprintf(sql, (size_t)len + 1, "INSERT INTO vehicle (%s) VALUES (%s) ON CONFLICT "
	    "(plate, plate_colour) DO UPDATE SET %s WHERE ROW(%s) IS DISTINCT FROM "
	    "ROW(%s) RETURNING version", ins, vals, set, old, new);
	return sql;
}

/*
 * Puts the row's plate on its list: the entry in force for (plate, colour, list) is
 * updated when its details differ, else a new entry is made. A date given as valid_to
 * means "through that day". Returns 1 when something was written, 0 when not, -1.
 */
static int
apply_list(struct gk_db *db, const struct registry_row *row,
    const struct registry_who *who)
{
	const char		*p[8];
	struct gk_db_res	*r;
	int			 changed;

	p[0] = row->v[REGISTRY_PLATE];
	p[1] = row->v[REGISTRY_PLATE_COLOUR];
	p[2] = row->v[REGISTRY_LIST];
	p[3] = row->v[REGISTRY_LIST_REASON];
	p[4] = row->v[REGISTRY_EXEMPTION_KIND];
	p[5] = row->v[REGISTRY_APPROVAL_NO];
	p[6] = row->v[REGISTRY_LIST_VALID_TO];
	p[7] = who != NULL ? who->operator_name : NULL;
	r = gk_db_exec(db,
	    "WITH cur AS (SELECT id FROM vehicle_list_entry WHERE plate = $1 AND "
	    "plate_colour = $2 AND list = $3 AND valid_from <= now() AND "
	    "(valid_to IS NULL OR valid_to > now()) ORDER BY id DESC LIMIT 1), "
	    "upd AS (UPDATE vehicle_list_entry e SET reason = $4, exemption_kind = $5, "
	    "approval_no = $6, valid_to = ($7::date + 1)::timestamptz FROM cur "
	    "WHERE e.id = cur.id AND ROW(e.reason, e.exemption_kind, e.approval_no, "
	    "e.valid_to) IS DISTINCT FROM ROW($4::text, $5::text, $6::text, "
	    "($7::date + 1)::timestamptz) RETURNING e.id), "
	    "ins AS (INSERT INTO vehicle_list_entry (plate, plate_colour, list, reason, "
	    "exemption_kind, approval_no, valid_to, source, created_by) "
	    "SELECT $1, $2, $3, $4, $5, $6, ($7::date + 1)::timestamptz, 'import', "
	    "coalesce($8::text, current_user::text) WHERE NOT EXISTS (SELECT 1 FROM cur) "
	    "RETURNING id) "
	    "SELECT (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins)", 8, p);
	if (r == NULL)
		return -1;
	changed = strcmp(gk_db_res_value(r, 0, 0), "0") != 0;
	gk_db_res_free(r);
	return changed;
}

/* Audit events of the registry's changes (see registry.h). */

/* 0 when who can sign an audit event (reason needed when need_reason), else a
 * sysexits code with the complaint on errout. */
static int
check_who(const struct registry_who *who, int need_reason, FILE *errout)
{
	if (who == NULL || who->site == NULL || !audit_valid_topic_id(who->site)) {
		fprintf(errout, "registry: site \"%s\": want [a-z0-9][a-z0-9_-]{0,31}\n",
		    who != NULL && who->site != NULL ? who->site : "");
		return EX_USAGE;
	}
	if (who->operator_name == NULL || !audit_valid_actor(who->operator_name)) {
		fprintf(errout, "registry: give --operator NAME (1 to 64 of A-Z a-z 0-9 "
		    ". _ : -): every registry change is audited\n");
		return EX_USAGE;
	}
	if (need_reason && (who->reason == NULL || !audit_valid_reason(who->reason))) {
		fprintf(errout, "registry: give --reason TEXT (1 to %d characters): "
		    "every registry change is audited\n", AUDIT_REASON_MAX);
		return EX_USAGE;
	}
	if (who->reason != NULL && !audit_valid_reason(who->reason)) {
		fprintf(errout, "registry: --reason: 1 to %d characters, no control "
		    "characters\n", AUDIT_REASON_MAX);
		return EX_USAGE;
	}
	return 0;
}

static int
audit_import(const char *brokers, const struct registry_who *who, const char *path, const char *sha,
    size_t rows, size_t changed, size_t bad, FILE *errout)
{
	struct audit_event	 ev;
	const char		*base;
	char			 reason[AUDIT_REASON_MAX * 4 + 1], target[160];
	json_t			*d;
	int			 rc;

	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	snprintf(target, sizeof(target), "registry/%.100s", base);
	if (who->reason != NULL)
		gk_strlcpy(reason, who->reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "import of %.150s", base);
	if (!audit_valid_reason(reason))	/* a file name with control chars */
		gk_strlcpy(reason, "registry import", sizeof(reason));
	if (!audit_valid_reason(target))
		gk_strlcpy(target, "registry", sizeof(target));
	/* The file's digest lets an inspector match the event to the file kept. */
	d = json_pack("{s:s, s:s, s:I, s:I, s:I}", "file", base, "sha256", sha,
	    "rows", (json_int_t)rows, "changed", (json_int_t)changed, "bad",
	    (json_int_t)bad);
	if (d == NULL)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.site = who->site;
	ev.actor = who->operator_name;
	ev.action = "registry.import";
	ev.target = target;
	ev.reason = reason;
	ev.details = d;
	rc = audit_send(brokers, &ev, NULL, errout);
	json_decref(d);
	return rc;
}

static int
audit_remove(const char *brokers, const struct registry_who *who, const char *plate,
    const char *colour, int listed, int force, FILE *errout)
{
	struct audit_event	 ev;
	char			 target[96];
	json_t			*d;
	int			 rc;

	snprintf(target, sizeof(target), "vehicle/%s|%s", plate, colour);
	d = json_pack("{s:s, s:s, s:b, s:b}", "plate", plate, "colour", colour,
	    "was_listed", listed, "force", force);
	if (d == NULL)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.site = who->site;
	ev.actor = who->operator_name;
	ev.action = "registry.remove";
	ev.target = target;
	ev.reason = who->reason;
	ev.details = d;
	rc = audit_send(brokers, &ev, NULL, errout);
	json_decref(d);
	return rc;
}

int
registry_import(struct gk_db *db, const char *brokers, const char *path,
    const struct registry_who *who, FILE *out, FILE *errout)
{
	struct registry_file	 f;
	struct keys		 ks = { NULL, 0 };
	struct gk_db_res	*r;
	const char		*params[REGISTRY_COL_NVEHICLE];
	char			*buf = NULL, *sql = NULL, err[1024];
	char			 sha[MIGRATE_SHA_LEN];
	size_t			 len, i, nbad, applied = 0, dbbad = 0;
	long			 published = 0;
	int			 cols[REGISTRY_COL_NVEHICLE], ncols, j, rc, changed;
	int			 lc, ret = EX_SOFTWARE;

	memset(&f, 0, sizeof(f));
	if ((rc = check_who(who, 0, errout)) != 0)
		return rc;
	if ((rc = read_file(path, &buf, &len, errout)) != 0)
		return rc;
	if (migrate_sha256_hex(buf, len, sha) == -1) {
		fprintf(errout, "%s: cannot compute its SHA-256\n", path);
		free(buf);
		return EX_SOFTWARE;
	}
	if (registry_csv_parse(path, buf, len, &f, err, sizeof(err)) == -1) {
		fprintf(errout, "%s\n", err);
		free(buf);
		return EX_DATAERR;
	}
	free(buf);
	for (i = 0; i < f.nerrors; i++)
		fprintf(errout, "%s\n", f.errors[i]);
	nbad = f.nbad;
	if (f.nrows == 0)
		goto summary;

	if ((sql = upsert_sql(f.present, cols, &ncols)) == NULL)
		goto out;
	if (gk_db_connect(db) == -1) {
		fprintf(errout, "database: %s\n", gk_db_errmsg(db));
		ret = EX_UNAVAILABLE;
		goto out;
	}
	if (gk_db_begin(db) == -1)
		goto dberr;
	for (i = 0; i < f.nrows; i++) {
		const struct registry_row *row = &f.rows[i];

		for (j = 0; j < ncols; j++)
			params[j] = row->v[cols[j]];
		if (gk_db_cmd(db, "SAVEPOINT registry_row", 0, NULL) == -1)
			goto dberr;
		changed = 0;
		r = gk_db_exec(db, sql, ncols, params);
		if (r != NULL) {
			changed = gk_db_res_nrows(r) > 0;
			gk_db_res_free(r);
			lc = 0;
			if (row->v[REGISTRY_LIST] != NULL &&
			    (lc = apply_list(db, row, who)) == -1)
				r = NULL;
			changed |= lc == 1;
		}
		if (r == NULL) {
			if (gk_db_err_is_connection(db))
				goto dberr;
			/* The database refused what we let through: report, go on. */
			fprintf(errout, "%s:%d: database refused the row: %s%s%s\n", path,
			    row->line, gk_db_errmsg(db),
			    gk_db_errconstraint(db)[0] != '\0' ? " constraint " : "",
			    gk_db_errconstraint(db));
			dbbad++;
			if (gk_db_cmd(db, "ROLLBACK TO SAVEPOINT registry_row", 0,
			    NULL) == -1)
				goto dberr;
			continue;
		}
		if (gk_db_cmd(db, "RELEASE SAVEPOINT registry_row", 0, NULL) == -1)
			goto dberr;
		applied++;
		if (changed && keys_add(&ks, row->v[REGISTRY_PLATE],
		    row->v[REGISTRY_PLATE_COLOUR]) == -1)
			goto dberr;
	}
	/* The audit event before the commit: an import Kafka did not take is undone. */
	if (ks.n > 0 && audit_import(brokers, who, path, sha, applied, ks.n, nbad + dbbad,
	    errout) == -1) {
		fprintf(errout, "registry import: no audit event, nothing was "
		    "imported\n");
		gk_db_rollback(db);
		ret = EX_UNAVAILABLE;
		goto out;
	}
	if (gk_db_commit(db) == -1)
		goto dberr;
	gk_log(GK_LOG_INFO, "registry.imported", "file=%s rows=%zu changed=%zu bad=%zu "
	    "operator=%s reason=%s", path, applied, ks.n, nbad + dbbad,
	    who != NULL && who->operator_name != NULL ? who->operator_name : "",
	    who != NULL && who->reason != NULL ? who->reason : "");
	if ((published = publish_keys(db, brokers, &ks, who, errout)) == -1) {
		fprintf(errout, "the import is committed in PostgreSQL, but not all of "
		    "it reached Kafka: run `ecogatectl registry publish`\n");
		published = 0;
		ret = EX_UNAVAILABLE;
	}
summary:
	nbad += dbbad;
	fprintf(out, "imported %zu rows (%zu changed, %zu unchanged), %zu bad rows; "
	    "published %ld to %s\n", applied, ks.n, applied - ks.n, nbad, published,
	    REGISTRY_TOPIC);
	if (ret != EX_UNAVAILABLE)
		ret = nbad > 0 ? EX_DATAERR : 0;
	goto out;
dberr:
	fprintf(errout, "database: %s %s; nothing was imported\n", gk_db_errcode(db),
	    gk_db_errmsg(db));
	gk_db_rollback(db);
	ret = gk_db_err_is_connection(db) ? EX_TEMPFAIL : EX_SOFTWARE;
out:
	free(sql);
	free(ks.k);
	registry_file_free(&f);
	return ret;
}

/* get, remove, publish. */

/* The plate as the registry stores it; what cannot be normalised is used as typed. */
static void
norm_plate(const char *raw, char *out, size_t outlen)
{
	if (gk_plate_normalise(raw, out, outlen, NULL) == -1)
		gk_strlcpy(out, raw, outlen);
}

/* The vehicles with plate (and colour when not NULL); NULL on error (reported). */
static struct gk_db_res *
find(struct gk_db *db, const char *plate, const char *colour, FILE *errout)
{
	const char		*p[2] = { plate, colour };
	struct gk_db_res	*r;

	r = gk_db_exec(db, "SELECT plate, plate_colour FROM vehicle WHERE plate = $1 "
	    "AND ($2::text IS NULL OR plate_colour = $2) ORDER BY plate_colour", 2, p);
	if (r == NULL)
		fprintf(errout, "database: %s %s\n", gk_db_errcode(db), gk_db_errmsg(db));
	return r;
}

static int
db_status(struct gk_db *db)
{
	return gk_db_err_is_connection(db) ? EX_UNAVAILABLE : EX_SOFTWARE;
}

/* Prints a record for people: one "key: value" line per field, lists after. */
static void
print_human(const char *json, FILE *out)
{
	const char	*k;
	json_t		*o, *v, *lists, *e;
	size_t		 i;

	if ((o = gk_json_parse(json, strlen(json), 1 << 20, NULL, 0)) == NULL)
		return;
	json_object_foreach(o, k, v) {
		if (strcmp(k, "schema") == 0)
			continue;
		if (json_is_string(v))
			fprintf(out, "%-18s %s\n", k, json_string_value(v));
		else if (json_is_integer(v))
			fprintf(out, "%-18s %lld\n", k, (long long)json_integer_value(v));
		else if (json_is_boolean(v))
			fprintf(out, "%-18s %s\n", k, json_is_true(v) ? "yes" : "no");
	}
	lists = json_object_get(o, "lists");
	if (json_array_size(lists) == 0)
		fprintf(out, "%-18s (none)\n", "lists");
	json_array_foreach(lists, i, e) {
		fprintf(out, "%-18s %s: %s", "list", json_string_value(
		    json_object_get(e, "list")), json_string_value(
		    json_object_get(e, "reason")));
		if ((v = json_object_get(e, "exemption_kind")) != NULL)
			fprintf(out, " [%s]", json_string_value(v));
		if ((v = json_object_get(e, "valid_to")) != NULL)
			fprintf(out, " until %s", json_string_value(v));
		fputc('\n', out);
	}
	json_decref(o);
}

int
registry_get(struct gk_db *db, const char *plate, const char *colour, int json,
    FILE *out, FILE *errout)
{
	struct gk_db_res	*r;
	char			 np[GK_PLATE_MAX * 2], *rec;
	int			 i, n, rc = 0;

	norm_plate(plate, np, sizeof(np));
	if ((r = find(db, np, colour, errout)) == NULL)
		return db_status(db);
	if ((n = gk_db_res_nrows(r)) == 0) {
		fprintf(errout, "%s%s%s: not in the registry\n", np,
		    colour != NULL ? " " : "", colour != NULL ? colour : "");
		gk_db_res_free(r);
		return EX_NOINPUT;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (registry_record_json(db, gk_db_res_value(r, i, 0),
		    gk_db_res_value(r, i, 1), !json, &rec) != 1) {
			rc = db_status(db);
			break;
		}
		if (json)
			fprintf(out, "%s\n", rec);
		else {
			if (i > 0)
				fputc('\n', out);
			print_human(rec, out);
		}
		free(rec);
	}
	gk_db_res_free(r);
	return rc;
}

int
registry_remove(struct gk_db *db, const char *brokers, const char *plate,
    const char *colour, int force, const struct registry_who *who, FILE *out,
    FILE *errout)
{
	struct gk_db_res	*r, *l = NULL;
	struct pub		 pb;
	const char		*p[2];
	char			 np[GK_PLATE_MAX * 2], col[16];
	int			 ret = EX_SOFTWARE, listed;

	if ((ret = check_who(who, 1, errout)) != 0)
		return ret;
	ret = EX_SOFTWARE;
	norm_plate(plate, np, sizeof(np));
	if ((r = find(db, np, colour, errout)) == NULL)
		return db_status(db);
	if (gk_db_res_nrows(r) != 1) {
		if (gk_db_res_nrows(r) == 0)
			fprintf(errout, "%s: not in the registry\n", np);
		else
			fprintf(errout, "%s: registered with %d colours: give --colour\n",
			    np, gk_db_res_nrows(r));
		ret = gk_db_res_nrows(r) == 0 ? EX_NOINPUT : EX_USAGE;
		gk_db_res_free(r);
		return ret;
	}
	gk_strlcpy(col, gk_db_res_value(r, 0, 1), sizeof(col));
	gk_db_res_free(r);
	p[0] = np;
	p[1] = col;
	if (gk_db_begin(db) == -1)
		goto dberr;
	l = gk_db_exec(db, "SELECT list FROM vehicle_list_entry WHERE plate = $1 AND "
	    "plate_colour = $2 AND (valid_to IS NULL OR valid_to > now()) FOR UPDATE",
	    2, p);
	if (l == NULL)
		goto dberr;
	if (gk_db_res_nrows(l) > 0 && !force) {
		fprintf(errout, "%s (%s) is on the %s: pass --force to remove it and "
		    "end its list entries\n", np, col, gk_db_res_value(l, 0, 0));
		gk_db_res_free(l);
		gk_db_rollback(db);
		return EX_DATAERR;
	}
	listed = gk_db_res_nrows(l) > 0;
	gk_db_res_free(l);
	if (gk_db_cmd(db, "UPDATE vehicle_list_entry SET valid_to = now() WHERE "
	    "plate = $1 AND plate_colour = $2 AND valid_from < now() AND "
	    "(valid_to IS NULL OR valid_to > now())", 2, p) == -1 ||
	    gk_db_cmd(db, "DELETE FROM vehicle WHERE plate = $1 AND plate_colour = $2",
	    2, p) == -1)
		goto dberr;
	/* The audit event before the commit: a removal Kafka did not take is undone. */
	if (audit_remove(brokers, who, np, col, listed, force, errout) == -1) {
		fprintf(errout, "registry remove: no audit event, %s (%s) was not "
		    "removed\n", np, col);
		gk_db_rollback(db);
		return EX_UNAVAILABLE;
	}
	if (gk_db_commit(db) == -1)
		goto dberr;
	gk_log(GK_LOG_INFO, "registry.removed", "plate=%s colour=%s operator=%s "
	    "reason=%s", np, col, who != NULL && who->operator_name != NULL ?
	    who->operator_name : "", who != NULL && who->reason != NULL ?
	    who->reason : "");
	if (pub_open(&pb, brokers, errout) == -1 ||
	    pub_send(&pb, np, col, NULL, who) == -1 || pub_close(&pb) != 1) {
		if (pb.p != NULL)
			pub_close(&pb);
		fprintf(errout, "removed %s (%s) from PostgreSQL, but the tombstone did "
		    "not reach %s: run the remove again once Kafka is back\n", np, col,
		    REGISTRY_TOPIC);
		return EX_UNAVAILABLE;
	}
	fprintf(out, "removed %s (%s); published a tombstone to %s\n", np, col,
	    REGISTRY_TOPIC);
	return 0;
dberr:
	fprintf(errout, "database: %s %s\n", gk_db_errcode(db), gk_db_errmsg(db));
	gk_db_rollback(db);
	return db_status(db);
}

int
registry_publish(struct gk_db *db, const char *brokers, const char *plate,
    const char *colour, const struct registry_who *who, FILE *out, FILE *errout)
{
	struct gk_db_res	*r;
	struct keys		 ks = { NULL, 0 };
	char			 np[GK_PLATE_MAX * 2];
	long			 n;
	int			 i;

	if (plate != NULL) {
		norm_plate(plate, np, sizeof(np));
		r = find(db, np, colour, errout);
	} else
		r = gk_db_exec(db, "SELECT plate, plate_colour FROM vehicle ORDER BY "
		    "version", 0, NULL);
	if (r == NULL) {
		if (plate == NULL)
			fprintf(errout, "database: %s\n", gk_db_errmsg(db));
		return db_status(db);
	}
	for (i = 0; i < gk_db_res_nrows(r); i++)
		if (keys_add(&ks, gk_db_res_value(r, i, 0),
		    gk_db_res_value(r, i, 1)) == -1) {
			gk_db_res_free(r);
			free(ks.k);
			return EX_SOFTWARE;
		}
	gk_db_res_free(r);
	if (plate != NULL && ks.n == 0) {
		fprintf(errout, "%s: not in the registry\n", np);
		return EX_NOINPUT;
	}
	n = publish_keys(db, brokers, &ks, who, errout);
	free(ks.k);
	if (n == -1)
		return EX_UNAVAILABLE;
	fprintf(out, "published %ld to %s\n", n, REGISTRY_TOPIC);
	return 0;
}
