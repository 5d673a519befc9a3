/*
 * bench_ledger: records per second appended to a site's ledger through the store
 * (services/ledger-writer/store.c: canonical JSON, leaf hashes, tree, full tiles,
 * duplicate check, COPY of index and records, offsets, one transaction per batch)
 * next to a raw COPY of the very same rows (the bodies and hashes the store made)
 * into plain tables shaped like ledger_index and ledger_record, with their indexes
 * and the index's foreign key to ledger_log (what the store's rows also pay), in the
 * same PostgreSQL in the same run, batch for batch. Prints both rates, the
 * ratio and issue 4's targets (>= 20k records/s on 2 cores, >= 50% of raw COPY).
 * Measures; never fails on speed.
 *
 *	ECOGATE_PG_CONNINFO="host=127.0.0.1 port=24432 dbname=ecogate user=postgres" \
 *	    bench_ledger [records [batch]]
 *
 * Each run uses a site of its own (ledger rows stay); the raw tables are dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gatekit/db.h"
#include "gatekit/log.h"
#include "gatekit/util.h"

#include "store.h"

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, struct gk_db *db)
{
	fprintf(stderr, "bench_ledger: %s: %s\n", what, db != NULL ?
	    gk_db_errmsg(db) : "");
	exit(1);
}

/* Appends s as a quoted CSV field. */
static char *
csv(char *d, const char *s, size_t n)
{
	size_t	i;

	*d++ = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			*d++ = '"';
		*d++ = s[i];
	}
	*d++ = '"';
	return d;
}

int
main(int argc, char *argv[])
{
	const char		*conninfo = getenv("ECOGATE_PG_CONNINFO");
	size_t			 n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t			 batch = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
	struct gk_db		*db;
	struct ledger_store	*s;
	struct ledger_item	*it;
	struct ledger_batch	 b;
	struct ledger_offset	 off;
	char			(*ids)[GK_ID_LEN], site[33], err[256], ts[GK_TS_LEN];
	char			 rawi[64], rawr[64], sql[512], *buf, *d;
	char			**bodies, *recat;
	size_t			*blen, i, j, k, cap;
	uint64_t		*seqs;
	struct merkle_hash	*leaves;
	json_t			*fields, *event, *src;
	double			 t0, t_store, t_raw;
	int64_t			 rows;
	static const char	 hx[] = "0123456789abcdef";

	if (conninfo == NULL || n == 0 || batch == 0 || batch > LEDGER_BATCH_MAX) {
		fprintf(stderr, "usage: ECOGATE_PG_CONNINFO=... bench_ledger "
		    "[records [batch]]\n");
		return 2;
	}
	gk_log_init("bench_ledger");
	gk_log_set_level(GK_LOG_ERR);
	snprintf(site, sizeof(site), "bench%d-%ld", (int)getpid(),
	    (long)time(NULL) % 100000);
	if ((db = gk_db_new(conninfo, NULL)) == NULL)
		die("db", NULL);
	s = ledger_store_open(db, &(struct ledger_store_opts){ .site = site },
	    err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "bench_ledger: %s\n", err);
		return 1;
	}
	it = calloc(batch, sizeof(*it));
	ids = calloc(n, GK_ID_LEN);
	bodies = calloc(n, sizeof(*bodies));
	blen = calloc(n, sizeof(*blen));
	seqs = calloc(n, sizeof(*seqs));
	leaves = calloc(n, sizeof(*leaves));
	if (it == NULL || ids == NULL || bodies == NULL || blen == NULL ||
	    seqs == NULL || leaves == NULL)
		die("out of memory", NULL);
	/* A passage record of typical size (about 1 KB canonical). */
	fields = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	    " s:[s], s:s, s:s, s:s, s:i}", "time", "2026-11-28T12:00:01.702Z",
	    "direction", "in", "lane", "in-1", "plate", "沪AD12345", "plate_colour",
	    "green", "vehicle_type", "H11", "vin", "LZZ5CLSB0PA123456", "engine_no",
	    "E123456", "registration_date", "2024-03-15", "emission_stage", "6",
	    "fuel", "B", "photos",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "result", "allow", "policy_version", "2026-11-28.3", "registry_source",
	    "redis", "registry_age_ms", 1200);
	event = json_pack("{s:s, s:s, s:s, s:s, s:[s, s], s:{s:[s, s, s, s]}}",
	    "schema", "ecogate.passage-decision.v1", "site", site, "lane", "in-1",
	    "result", "allow", "reasons", "registry.hit", "alert.orange.allowed",
	    "display", "lines", "沪AD12345", "国六 柴油", "橙色预警", "请通行");
	src = json_pack("{s:s, s:i, s:i}", "topic", "ecogate.passage.v1",
	    "partition", 0, "offset", 1234);
	for (i = 0; i < n; i++)
		if (gk_id_new(ids[i]) == -1)
			die("uuid", NULL);

	/* Through the store. */
	off.consumer = "bench";
	off.topic = site;
	off.partition = 0;
	t0 = now_s();
	for (i = 0; i < n; i += batch) {
		k = n - i < batch ? n - i : batch;
		memset(it, 0, k * sizeof(*it));
		for (j = 0; j < k; j++) {
			it[j].kind = "passage";
			it[j].ledger = "transport";
			it[j].event_id = ids[i + j];
			it[j].event_ts = "2026-11-28T12:00:01.702Z";
			it[j].lane = "in-1";
			it[j].plate = "沪AD12345";
			it[j].fields = fields;
			it[j].source = src;
			it[j].event = event;
		}
		memset(&b, 0, sizeof(b));
		b.items = it;
		b.nitems = k;
		off.next_offset = (int64_t)(i + k);
		b.offsets = &off;
		b.noffsets = 1;
		if (ledger_store_append(s, &b, err, sizeof(err)) == -1) {
			fprintf(stderr, "bench_ledger: %s\n", err);
			return 1;
		}
		for (j = 0; j < k; j++) {
			bodies[i + j] = it[j].body;	/* kept for the raw COPY */
			blen[i + j] = it[j].bodylen;
			seqs[i + j] = it[j].seq;
			leaves[i + j] = it[j].leaf;
			it[j].body = NULL;
		}
	}
	t_store = now_s() - t0;

	/* The same rows by raw COPY into look-alike tables, batch by batch. */
	snprintf(rawi, sizeof(rawi), "bench_raw_index_%d", (int)getpid());
	snprintf(rawr, sizeof(rawr), "bench_raw_record_%d", (int)getpid());
	/* Same columns, defaults, indexes and the index's foreign key to ledger_log. */
	snprintf(sql, sizeof(sql), "CREATE TABLE %s (LIKE ledger_index INCLUDING "
	    "DEFAULTS INCLUDING INDEXES, FOREIGN KEY (site) REFERENCES ledger_log); "
	    "CREATE TABLE %s (LIKE ledger_record INCLUDING DEFAULTS INCLUDING "
	    "INDEXES)", rawi, rawr);
	if (gk_db_exec_script(db, sql) == -1)
		die("creating the raw tables", db);
	gk_ts_format(gk_wall_ms(), ts, sizeof(ts));
	recat = ts;
	cap = 0;
	for (i = 0; i < n && i < batch; i++)
		cap += 2 * blen[i] + 400;
	cap = cap * 2 + 65536;
	if ((buf = malloc(cap)) == NULL)
		die("out of memory", NULL);
	t0 = now_s();
	for (i = 0; i < n; i += batch) {
		k = n - i < batch ? n - i : batch;
		if (gk_db_begin(db) == -1)
			die("BEGIN", db);
		d = buf;
		for (j = i; j < i + k; j++)
			d += sprintf(d, "\"%s\",%llu,%s,%s\n", site,
			    (unsigned long long)seqs[j], ids[j], recat);
		snprintf(sql, sizeof(sql), "COPY %s (site, seq, event_id, "
		    "recorded_at) FROM STDIN (FORMAT csv)", rawi);
		if (gk_db_copy_begin(db, sql) == -1 ||
		    gk_db_copy_put(db, buf, (size_t)(d - buf)) == -1 ||
		    gk_db_copy_end(db, NULL, &rows) == -1)
			die("raw COPY index", db);
		d = buf;
		for (j = i; j < i + k; j++) {
			size_t	h;

			d += sprintf(d, "\"%s\",%llu,%s,%s,\"passage\",transport,"
			    "\"2026-11-28T12:00:01.702Z\",\"in-1\",", site,
			    (unsigned long long)seqs[j], recat, ids[j]);
			d = csv(d, "沪AD12345", strlen("沪AD12345"));
			*d++ = ',';
			d = csv(d, bodies[j], blen[j]);
			*d++ = ',';
			*d++ = '\\';
			*d++ = 'x';
			for (h = 0; h < 32; h++) {
				*d++ = hx[leaves[j].b[h] >> 4];
				*d++ = hx[leaves[j].b[h] & 15];
			}
			*d++ = '\n';
		}
		snprintf(sql, sizeof(sql), "COPY %s (site, seq, recorded_at, "
		    "event_id, kind, ledger, event_ts, lane, plate, body, leaf_hash) "
		    "FROM STDIN (FORMAT csv)", rawr);
		if (gk_db_copy_begin(db, sql) == -1 ||
		    gk_db_copy_put(db, buf, (size_t)(d - buf)) == -1 ||
		    gk_db_copy_end(db, NULL, &rows) == -1)
			die("raw COPY record", db);
		if (gk_db_commit(db) == -1)
			die("COMMIT", db);
	}
	t_raw = now_s() - t0;
	snprintf(sql, sizeof(sql), "DROP TABLE %s; DROP TABLE %s", rawi, rawr);
	(void)gk_db_exec_script(db, sql);

	printf("%-44s %12s %10s   %s\n", "figure", "records/s", "seconds",
	    "target");
	printf("%-44s %12.0f %10.2f   %s\n", "appended through the store", n / t_store,
	    t_store, ">= 20000 on 2 cores");
	printf("%-44s %12.0f %10.2f\n", "raw COPY of the same rows", n / t_raw, t_raw);
	printf("%-44s %11.0f%%   %s\n", "store / raw COPY",
	    100.0 * (n / t_store) / (n / t_raw), ">= 50%");
	printf("(%zu records in batches of %zu, site %s, %ld CPUs)\n", n, batch, site,
	    sysconf(_SC_NPROCESSORS_ONLN));

	for (i = 0; i < n; i++)
		free(bodies[i]);
	free(bodies);
	free(blen);
	free(seqs);
	free(leaves);
	free(buf);
	free(it);
	free(ids);
	json_decref(fields);
	json_decref(event);
	json_decref(src);
	ledger_store_close(s);
	gk_db_free(db);
	return 0;
}
