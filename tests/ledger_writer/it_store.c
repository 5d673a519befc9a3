/*
 * Integration test of the ledger's PostgreSQL store (services/ledger-writer/store.c)
 * against the real, migrated PostgreSQL: every record appended through the store is
 * mirrored into the in-memory tree of merkle.c (merkle_memstore), and the two must
 * agree on everything: leaf hashes, the full tiles in ledger_tile, roots and
 * inclusion/consistency proofs at many sizes, and after closing and reopening the
 * store at sizes inside partial tiles and across a full level-1 tile (65,536
 * records). Also: duplicates (in the log and within a batch) are skipped, invalid
 * items refused without failing the batch, offsets and evidence stored with the
 * batch, checkpoints signed, verified and not signed twice for one size, and a
 * second writer of the same site refused by the advisory lock.
 *
 * Each run uses a site of its own: ledger rows can never be removed.
 * Environment: ECOGATE_PG_CONNINFO (a superuser's connection to the migrated db).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "gatekit/db.h"
#include "gatekit/log.h"
#include "gatekit/util.h"

#include "checkpoint.h"
#include "merkle.h"
#include "store.h"
#include "t.h"

static const char		*conninfo;
static char			 site[33];
static struct checkpoint_key	*key;
static struct merkle_hasher	*mh;
static struct merkle_memstore	*ms;
static struct merkle_tree	 mtree;
static uint64_t			 nid;

static void
next_id(char out[GK_ID_LEN])
{
	T_REQUIRE(gk_id_new(out) == 0);
	nid++;
}

static struct ledger_store *
open_store(struct gk_db **db)
{
	char			 err[256];
	struct ledger_store	*s;
	struct ledger_store_opts o = { .site = site, .hash_alg = "sha256",
	    .key = key, .wait_lock = 0 };

	*db = gk_db_new(conninfo, NULL);
	T_REQUIRE(*db != NULL);
	s = ledger_store_open(*db, &o, err, sizeof(err));
	if (s == NULL)
		fprintf(stderr, "open: %s\n", err);
	T_REQUIRE(s != NULL);
	return s;
}

/* Mirrors an appended record into the in-memory tree. */
static void
mirror(const struct ledger_item *it)
{
	struct merkle_node	nodes[MERKLE_MAX_LEVELS];
	struct merkle_hash	leaf;
	size_t			n;

	T_REQUIRE(merkle_leaf_hash(mh, it->body, it->bodylen, &leaf) == 0);
	T_CHECK(memcmp(leaf.b, it->leaf.b, 32) == 0);
	T_REQUIRE(it->seq == mtree.size);
	T_REQUIRE(merkle_tree_append(&mtree, mh, &leaf, nodes, &n) == 0);
	T_REQUIRE(merkle_memstore_put(ms, nodes, n) == 0);
}

/* Appends n fresh records (plus dup old ids when given) in one batch. */
static void
append_n(struct ledger_store *s, size_t n, const char (*dups)[GK_ID_LEN],
    size_t ndup)
{
	struct ledger_item	*it = calloc(n + ndup, sizeof(*it));
	char			(*ids)[GK_ID_LEN] = calloc(n, GK_ID_LEN);
	json_t			*fields, *src;
	struct ledger_batch	 b = { 0 };
	char			 err[256];
	size_t			 i, k = 0;

	T_REQUIRE(it != NULL && ids != NULL);
	fields = json_pack("{s:s, s:s, s:s}", "plate", "沪A12345", "lane", "in-1",
	    "note", "quote \" comma , newline \n backslash \\ tab \t");
	src = json_pack("{s:s, s:i, s:i}", "topic", "ecogate.passage.v1",
	    "partition", 0, "offset", 7);
	for (i = 0; i < n; i++) {
		next_id(ids[i]);
		it[k].kind = "passage";
		it[k].ledger = "transport";
		it[k].event_id = ids[i];
		it[k].event_ts = "2026-11-28T12:00:01.702Z";
		it[k].lane = "in-1";
		it[k].plate = "沪A12345";
		it[k].fields = fields;
		it[k].source = src;
		k++;
		if (i < ndup) {	/* interleave the duplicates */
			it[k].kind = "audit";
			it[k].event_id = dups[i];
			it[k].event_ts = "2026-11-28T12:00:01Z";
			k++;
		}
	}
	b.items = it;
	b.nitems = k;
	if (ledger_store_append(s, &b, err, sizeof(err)) == -1)
		fprintf(stderr, "append: %s\n", err);
	for (i = 0; i < k; i++) {
		if (it[i].status == LEDGER_ITEM_APPENDED)
			mirror(&it[i]);
		else
			T_CHECKF(it[i].status == LEDGER_ITEM_DUPLICATE &&
			    strcmp(it[i].kind, "audit") == 0, "item %zu status %d",
			    i, it[i].status);
		ledger_item_clear(&it[i]);
	}
	json_decref(fields);
	json_decref(src);
	free(it);
	free(ids);
	T_CHECK(ledger_store_size(s) == mtree.size);
}

/* Roots and proofs through the PG reader equal the in-memory ones. */
static void
compare(struct ledger_store *s, unsigned samples)
{
	struct merkle_store	 pr = ledger_store_reader(s);
	struct merkle_store	 mr = merkle_memstore_reader(ms);
	struct merkle_hash	 a, b, pa[MERKLE_MAX_PROOF], pb[MERKLE_MAX_PROOF];
	size_t			 na, nb;
	uint64_t		 size = mtree.size, m, i;
	unsigned		 k;

	T_REQUIRE(ledger_store_root(s, &a) == 0);
	T_REQUIRE(merkle_tree_root(&mtree, mh, &b) == 0);
	T_CHECK(memcmp(a.b, b.b, 32) == 0);
	T_REQUIRE(merkle_root(mh, &pr, size, &a) == 0);
	T_CHECK(memcmp(a.b, b.b, 32) == 0);
	for (k = 0; k < samples; k++) {
		m = 1 + (uint64_t)rand() % size;
		i = (uint64_t)rand() % m;
		T_CHECK(merkle_root(mh, &pr, m, &a) == 0 &&
		    merkle_root(mh, &mr, m, &b) == 0 && memcmp(a.b, b.b, 32) == 0);
		T_CHECK(merkle_inclusion_proof(mh, &pr, i, size, pa, &na) == 0 &&
		    merkle_inclusion_proof(mh, &mr, i, size, pb, &nb) == 0 &&
		    na == nb && memcmp(pa, pb, na * sizeof(pa[0])) == 0);
		T_CHECK(merkle_consistency_proof(mh, &pr, m, size, pa, &na) == 0 &&
		    merkle_consistency_proof(mh, &mr, m, size, pb, &nb) == 0 &&
		    na == nb && memcmp(pa, pb, na * sizeof(pa[0])) == 0);
	}
}

/* Every full tile in ledger_tile equals the memstore's; none is missing. */
static void
compare_tiles(struct gk_db *db)
{
	struct gk_db_res		*r;
	const char			*p[1] = { site };
	const struct merkle_hash	*row;
	unsigned			 width, level, expect = 0;
	uint64_t			 idx, n;
	int				 i;
	char				 hex[2 + 2 * 256 * 32 + 1];

	r = gk_db_exec(db, "SELECT level, idx, hashes FROM ledger_tile WHERE "
	    "site = $1 ORDER BY level, idx", 1, p);
	T_REQUIRE(r != NULL);
	for (level = 0; level < 8; level++)
		expect += (unsigned)((mtree.size >> (8 * level)) / 256);
	T_CHECKF((unsigned)gk_db_res_nrows(r) == expect, "%d tiles, want %u",
	    gk_db_res_nrows(r), expect);
	for (i = 0; i < gk_db_res_nrows(r); i++) {
		level = (unsigned)atoi(gk_db_res_value(r, i, 0));
		idx = strtoull(gk_db_res_value(r, i, 1), NULL, 10);
		T_REQUIRE(merkle_memstore_tile(ms, level, idx, mtree.size, &row,
		    &width) == 0);
		T_CHECK(width == 256);
		hex[0] = '\\';
		hex[1] = 'x';
		for (n = 0; n < 256 * 32; n++)
			snprintf(hex + 2 + 2 * n, 3, "%02x", row[n / 32].b[n % 32]);
		T_CHECKF(strcmp(hex, gk_db_res_value(r, i, 2)) == 0,
		    "tile %u/%" PRIu64 " differs", level, idx);
	}
	gk_db_res_free(r);
}

static void
test_misc(struct ledger_store *s, struct gk_db *db)
{
	struct ledger_item		 it[3] = { 0 };
	struct ledger_evidence		 ev = { .media_type = "image/jpeg",
	    .content = "\xff\xd8 jpeg bytes", .len = 13 };
	struct ledger_offset		 off = { "it-store", "ecogate.passage.v1", 3,
	    0 };
	struct ledger_batch		 b = { 0 };
	struct ledger_checkpoint	 c1, c2;
	struct checkpoint		 vcp;
	struct gk_db			*db2;
	struct ledger_store		*s2;
	struct ledger_store_opts	 o = { .site = site, .key = key };
	char				 err[256], id[GK_ID_LEN], rtopic[64];
	int64_t				 next;

	snprintf(rtopic, sizeof(rtopic), "it.store.reject.%s", site);
	size_t				 i;

	/* An invalid item is refused; the batch goes on. */
	next_id(id);
	off.next_offset = 4242;
	SHA256(ev.content, ev.len, ev.sha256);
	it[0].kind = "passage";
	it[0].event_id = "not-a-uuid";
	it[0].event_ts = "2026-11-28T12:00:00Z";
	it[1].kind = "teleport";
	it[1].event_id = id;
	it[1].event_ts = "2026-11-28T12:00:00Z";
	it[2].kind = "audit";
	it[2].event_id = id;
	it[2].event_ts = "2026-11-28T12:00:00+08:00";
	b.items = it;
	b.nitems = 3;
	b.evidence = &ev;
	b.nevidence = 1;
	b.offsets = &off;
	b.noffsets = 1;
	T_REQUIRE(ledger_store_append(s, &b, err, sizeof(err)) == 0);
	T_CHECK(it[0].status == LEDGER_ITEM_INVALID);
	T_CHECK(it[1].status == LEDGER_ITEM_INVALID);
	T_CHECK(it[2].status == LEDGER_ITEM_APPENDED);
	T_CHECK(strstr(it[2].body, "\"schema\":\"ecogate.ledger-record.v1\"") !=
	    NULL);
	mirror(&it[2]);
	for (i = 0; i < 3; i++)
		ledger_item_clear(&it[i]);
	T_CHECK(ledger_store_offset(s, "it-store", "ecogate.passage.v1", 3,
	    &next) == 1 && next == 4242);
	T_CHECK(ledger_store_has_evidence(s, ev.sha256) == 1);
	/* Evidence again (idempotent), offsets moved on, a reject kept twice. */
	off.next_offset = 4243;
	b.nitems = 0;
	{
		struct ledger_reject	 rj = { "it.store.reject", 0, 0,
		    "not JSON", "k", 1, "\x01{", 2 };
		struct gk_db_res	*r;
		const char		*p[1] = { rtopic };

		rj.topic = rtopic;
		b.rejects = &rj;
		b.nrejects = 1;
		T_REQUIRE(ledger_store_append(s, &b, err, sizeof(err)) == 0);
		T_REQUIRE(ledger_store_append(s, &b, err, sizeof(err)) == 0);
		b.nrejects = 0;
		r = gk_db_exec(db, "SELECT reason, value FROM ledger_reject WHERE "
		    "topic = $1", 1, p);
		T_CHECK(r != NULL && gk_db_res_nrows(r) == 1 &&
		    strcmp(gk_db_res_value(r, 0, 0), "not JSON") == 0 &&
		    strcmp(gk_db_res_value(r, 0, 1), "\\x017b") == 0);
		gk_db_res_free(r);
	}
	T_CHECK(ledger_store_offset(s, "it-store", "ecogate.passage.v1", 3,
	    &next) == 1 && next == 4243);

	/* Checkpoints: signed, verifiable, not twice for one size. */
	T_REQUIRE(ledger_store_checkpoint(s, 0, &c1, err, sizeof(err)) == 0);
	T_CHECK(c1.cp.size == mtree.size);
	T_CHECK(checkpoint_verify(c1.note, strlen(c1.note), key, &vcp, err,
	    sizeof(err)) == 0 && vcp.size == mtree.size);
	T_REQUIRE(ledger_store_checkpoint(s, gk_wall_ms() + 5000, &c2, err,
	    sizeof(err)) == 0);
	T_CHECK(strcmp(c1.note, c2.note) == 0);
	ledger_checkpoint_clear(&c2);
	T_CHECK(ledger_store_last_checkpoint(s, &c2, err, sizeof(err)) == 1 &&
	    strcmp(c1.note, c2.note) == 0);
	ledger_checkpoint_clear(&c1);
	ledger_checkpoint_clear(&c2);

	/* One writer per site. */
	db2 = gk_db_new(conninfo, NULL);
	errno = 0;
	s2 = ledger_store_open(db2, &o, err, sizeof(err));
	T_CHECKF(s2 == NULL && errno == EBUSY, "second writer: %s", err);
	ledger_store_close(s2);
	gk_db_free(db2);
	/* Another hash algorithm for an existing log is refused. */
	db2 = gk_db_new(conninfo, NULL);
	o.hash_alg = "sm3";
	s2 = ledger_store_open(db2, &o, err, sizeof(err));
	T_CHECK(s2 == NULL && errno == EINVAL);
	ledger_store_close(s2);
	gk_db_free(db2);
	(void)db;
}

int
main(void)
{
	struct gk_db		*db;
	struct ledger_store	*s;
	char			 err[256], path[] = "/tmp/it_store_keyXXXXXX";
	char			 cmd[512];
	char			(*old)[GK_ID_LEN];
	struct ledger_item	 probe;
	size_t			 i;
	int			 fd;
	long long		 t0;
	unsigned		 seed = (unsigned)time(NULL);

	gk_log_init("it_store");
	gk_log_set_level(GK_LOG_WARN);
	conninfo = t_env("ECOGATE_PG_CONNINFO", NULL);
	if (conninfo == NULL) {
		fprintf(stderr, "ECOGATE_PG_CONNINFO is not set\n");
		return 1;
	}
	srand(seed);
	printf("seed %u\n", seed);
	snprintf(site, sizeof(site), "st%d-%lld", (int)getpid(),
	    (long long)time(NULL) % 1000000);
	T_REQUIRE((fd = mkstemp(path)) != -1);
	close(fd);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 -out %s "
	    "2>/dev/null", path);
	T_REQUIRE(system(cmd) == 0);
	key = checkpoint_key_load(path, err, sizeof(err));
	unlink(path);
	T_REQUIRE(key != NULL);
	T_REQUIRE((mh = merkle_hasher_new(MERKLE_SHA256)) != NULL);
	T_REQUIRE((ms = merkle_memstore_new(mh)) != NULL);
	merkle_tree_init(&mtree);
	(void)probe;

	/* Batches of odd sizes, reopening at sizes inside partial tiles. */
	s = open_store(&db);
	T_CHECK(ledger_store_size(s) == 0);
	append_n(s, 1, NULL, 0);
	compare(s, 5);
	old = calloc(64, GK_ID_LEN);
	T_REQUIRE(old != NULL);
	for (i = 0; i < 9; i++) {
		size_t	n = 1 + (size_t)rand() % 300;
		size_t	before = mtree.size;

		append_n(s, n, NULL, 0);
		T_CHECK(mtree.size == before + n);
		compare(s, 10);
		if (i % 3 == 2) {
			ledger_store_close(s);
			gk_db_free(db);
			s = open_store(&db);
			T_CHECK(ledger_store_size(s) == mtree.size);
			compare(s, 10);
		}
	}
	/* Duplicates of records already in the log, and within one batch. */
	{
		struct gk_db_res	*r;
		const char		*p[1] = { site };
		int			 k;

		r = gk_db_exec(db, "SELECT event_id::text FROM ledger_index WHERE "
		    "site = $1 ORDER BY seq LIMIT 32", 1, p);
		T_REQUIRE(r != NULL && gk_db_res_nrows(r) == 32);
		for (k = 0; k < 32; k++) {
			gk_strlcpy(old[k], gk_db_res_value(r, k, 0), GK_ID_LEN);
			gk_strlcpy(old[32 + k], old[k], GK_ID_LEN);
		}
		gk_db_res_free(r);
	}
	append_n(s, 100, old, 64);	/* 64 duplicates, each id twice */
	compare(s, 10);
	test_misc(s, db);
	compare_tiles(db);

	/* Across a full level-1 tile: 65,536 records and more. */
	t0 = t_now_ms();
	while (mtree.size < 66000)
		append_n(s, mtree.size + 5000 <= 66000 ? 5000 :
		    (size_t)(66000 - mtree.size), NULL, 0);
	printf("appended up to %" PRIu64 " records in %lld ms\n", mtree.size,
	    t_now_ms() - t0);
	compare(s, 50);
	compare_tiles(db);
	ledger_store_close(s);
	gk_db_free(db);
	s = open_store(&db);
	T_CHECK(ledger_store_size(s) == mtree.size);
	compare(s, 50);
	append_n(s, 777, NULL, 0);
	compare(s, 50);
	compare_tiles(db);
	{
		size_t	 len;
		char	*body = ledger_store_record(s, mtree.size - 1, &len);

		T_CHECK(body != NULL && strstr(body, "\"seq\":") != NULL);
		free(body);
	}
	ledger_store_close(s);
	gk_db_free(db);

	free(old);
	merkle_memstore_free(ms);
	merkle_hasher_free(mh);
	checkpoint_key_free(key);
	printf("site %s: %" PRIu64 " records\n", site, mtree.size);
	return T_DONE();
}
