/*
 * `ecogatectl ledger verify | prove | check-proof` (docs/ledger.md, issue 4): what
 * lets an inspector believe the ledger rather than its vendor.
 *
 * verify re-derives the whole log from the rows, reading the tables with its own
 * plain SQL (never the ledger-writer's code), in one REPEATABLE READ snapshot so a
 * writer appending meanwhile is neither half-seen nor reported as damage. The
 * records, the index and the checkpoints are each read through a server-side cursor
 * in seq order and merged, so memory stays bounded at any size (a page of rows, a
 * frontier, one tile row per tile level, a small tile cache). For each seq: present
 * exactly once in both tables and agreeing, its body canonical RFC 8785 JSON naming
 * this seq, site and event, its leaf hash recomputed; each full tile compared as
 * soon as the leaves complete it; each checkpoint's signature checked against the
 * site's key, its root against the recomputed root at its size, and its consistency
 * with the previous checkpoint proved from the stored tiles. The first problem is
 * named by its seq (or checkpoint) and verify stops: that is what an inspector has
 * to look at, and what follows a broken link is not trustworthy anyway.
 *
 * prove builds an inclusion proof file for one event against the newest checkpoint
 * covering it (ledger_pgstore.c reads the tiles); check-proof checks such a file
 * offline with nothing but the site's public key.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include <jansson.h>

#include "gatekit/db.h"
#include "gatekit/util.h"

#include "b64.h"
#include "checkpoint.h"
#include "jcs.h"
#include "merkle.h"
#include "proof.h"

#include "ledger_cmd.h"
#include "ledger_pgstore.h"

/* The same defaults as the other ecogatectl commands (ecogatectl.c). */
#define DEFAULT_PG_CONNINFO	"host=127.0.0.1 port=25432 dbname=ecogate user=postgres"
#define DEFAULT_SITE		"site1"

#define PAGE_ROWS	"2000"		/* rows per FETCH */
#define PROGRESS_MS	5000		/* a progress line at most this often */
#define BODY_MAX	(1024 * 1024)	/* longest record body read */
#define MAX_KEYS	64		/* signing keys of one site (rotations) */
#define TILE_LEVELS	(MERKLE_MAX_LEVELS / MERKLE_TILE_HEIGHT)

enum { V_OK = 0, V_BAD, V_FAIL, V_NOLOG, V_USAGE };

/* A server-side cursor read a page at a time, with one row of look-ahead. */
struct cursor {
	const char		*fetch;		/* "FETCH ... FROM name" */
	struct gk_db_res	*cur, *next;
	int			 row;		/* next unread row of cur */
	int			 eof;
};

struct vkey {
	char			 id[9];
	struct checkpoint_key	*k;
};

/* A run of level-8L hashes while the leaves fill tile (L, tindex). */
struct tilerow {
	uint64_t		tindex;
	unsigned		n;
	struct merkle_hash	h[MERKLE_TILE_WIDTH];
};

struct verify {
	struct gk_db		*db;
	const char		*site;
	char			 origin[CHECKPOINT_ORIGIN_MAX];
	enum merkle_alg		 alg;
	struct merkle_hasher	*h;
	struct ledger_pgstore	*ps;
	struct checkpoint_key	*pin;		/* --pubkey: the only trusted key */
	struct vkey		 keys[MAX_KEYS];
	size_t			 nkeys;

	struct merkle_tree	 tree;		/* frontier of seq [0, tree.size) */
	struct tilerow		 rows[TILE_LEVELS];
	struct cursor		 rec, idx, cps, tile0;

	int			 have_prev;	/* the last checkpoint checked */
	uint64_t		 prev_size;
	struct merkle_hash	 prev_root;
	int64_t			 prev_time;
	char			 prev_key[9];

	uint64_t		 from, total, ntiles, ncps;
	int64_t			 t0, last_progress;
	int			 status;	/* V_OK, V_BAD, V_FAIL, V_NOLOG, V_USAGE */
	char			 msg[768];
};

/* The first data problem found: stored in v->msg, verify stops there. */
static int __attribute__((format(printf, 2, 3)))
bad(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	v->status = V_BAD;
	return -1;
}

/* A failure that says nothing about the data (database, memory). */
static int __attribute__((format(printf, 2, 3)))
fail(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	v->status = V_FAIL;
	return -1;
}

static int
dbfail(struct verify *v, const char *what)
{
	return fail(v, "%s: %s", what, gk_db_errmsg(v->db));
}

static const char *
env_or(const char *name, const char *def)
{
	const char *s = getenv(name);

	return s != NULL && s[0] != '\0' ? s : def;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static int
hash_eq(const struct merkle_hash *a, const struct merkle_hash *b)
{
	return memcmp(a->b, b->b, MERKLE_HASH_LEN) == 0;
}

static const char *
hash_b64(const struct merkle_hash *hh, char out[B64_LEN(MERKLE_HASH_LEN) + 1])
{
	b64_encode(hh->b, MERKLE_HASH_LEN, out, B64_LEN(MERKLE_HASH_LEN) + 1);
	return out;
}

/* ------------------------------------------------------------------ cursors */

/* Makes rows [row, row + k] readable; 0, or -1 on a database error. */
static int
cur_fill(struct verify *v, struct cursor *c, int k)
{
	struct gk_db_res *r;
	int avail;

	for (;;) {
		if (c->cur != NULL && c->row >= gk_db_res_nrows(c->cur)) {
			gk_db_res_free(c->cur);
			c->cur = c->next;
			c->next = NULL;
			c->row = 0;
		}
		avail = (c->cur ? gk_db_res_nrows(c->cur) - c->row : 0) +
		    (c->next ? gk_db_res_nrows(c->next) : 0);
		if (avail > k || c->eof)
			return 0;
		if ((r = gk_db_exec(v->db, c->fetch, 0, NULL)) == NULL)
			return dbfail(v, "reading the ledger");
		if (gk_db_res_nrows(r) == 0) {
			gk_db_res_free(r);
			c->eof = 1;
		} else if (c->cur == NULL)
			c->cur = r;
		else
			c->next = r;
	}
}

/*
 * Row k (0: the next unread, 1: the one after) of c in *res and *row: returns 1, or 0
 * when the cursor ends before it, or -1 on a database error.
 */
static int
cur_peek(struct verify *v, struct cursor *c, int k, struct gk_db_res **res,
    int *row)
{
	int left;

	if (cur_fill(v, c, k) == -1)
		return -1;
	left = c->cur ? gk_db_res_nrows(c->cur) - c->row : 0;
	if (k < left) {
		*res = c->cur;
		*row = c->row + k;
		return 1;
	}
	if (c->next != NULL && k - left < gk_db_res_nrows(c->next)) {
		*res = c->next;
		*row = k - left;
		return 1;
	}
	return 0;
}

static void
cur_advance(struct cursor *c)
{
	c->row++;
}

static void
cur_clear(struct cursor *c)
{
	gk_db_res_free(c->cur);
	gk_db_res_free(c->next);
	c->cur = c->next = NULL;
}

/* The seq (column 0) of row k ahead, or UINT64_MAX at the end; -1 on error. */
static int
peek_seq(struct verify *v, struct cursor *c, int k, uint64_t *seq,
    struct gk_db_res **res, int *row)
{
	int rc;

	if ((rc = cur_peek(v, c, k, res, row)) == -1)
		return -1;
	if (rc == 0) {
		*seq = UINT64_MAX;
		return 0;
	}
	if (parse_u64(gk_db_res_value(*res, *row, 0), seq) == -1)
		return fail(v, "unexpected seq value from the database");
	return 0;
}

/* ---------------------------------------------------------------- the log */

/* The site's ledger_log row and its keys. V_OK, or -1 (msg set). */
static int
load_log(struct verify *v)
{
	const char *p[] = { v->site };
	struct gk_db_res *res;
	const char *alg, *id, *pem;
	char err[256], derived[9];
	uint32_t kid;
	int i, n;

	res = gk_db_exec(v->db, "SELECT hash_alg, origin FROM ledger_log "
	    "WHERE site = $1", 1, p);
	if (res == NULL)
		return dbfail(v, "reading ledger_log");
	if (gk_db_res_nrows(res) != 1) {
		gk_db_res_free(res);
		fail(v, "no ledger for site %s", v->site);
		v->status = V_NOLOG;
		return -1;
	}
	alg = gk_db_res_value(res, 0, 0);
	if (merkle_alg_parse(alg, &v->alg) == -1) {
		bad(v, "ledger_log: unknown hash algorithm \"%s\"", alg);
		gk_db_res_free(res);
		return -1;
	}
	gk_strlcpy(v->origin, gk_db_res_value(res, 0, 1), sizeof(v->origin));
	gk_db_res_free(res);
	if ((v->h = merkle_hasher_new(v->alg)) == NULL)
		return fail(v, "hash %s is not available in this OpenSSL",
		    merkle_alg_name(v->alg));

	res = gk_db_exec(v->db, "SELECT key_id, public_key FROM ledger_key "
	    "WHERE site = $1 ORDER BY valid_from, key_id", 1, p);
	if (res == NULL)
		return dbfail(v, "reading ledger_key");
	n = gk_db_res_nrows(res);
	for (i = 0; i < n && v->nkeys < MAX_KEYS; i++) {
		id = gk_db_res_value(res, i, 0);
		pem = gk_db_res_value(res, i, 1);
		gk_strlcpy(v->keys[v->nkeys].id, id, sizeof(v->keys[0].id));
		v->keys[v->nkeys].k = checkpoint_key_from_pem(pem, strlen(pem), err,
		    sizeof(err));
		if (v->keys[v->nkeys].k == NULL) {
			gk_db_res_free(res);
			return bad(v, "ledger_key %s: %s", id, err);
		}
		/* A key row must name its key truly, or a forged row could hide. */
		if (checkpoint_key_id(v->keys[v->nkeys].k, v->origin, &kid) == -1 ||
		    (snprintf(derived, sizeof(derived), "%08" PRIx32, kid),
		    strcmp(derived, id) != 0)) {
			v->nkeys++;
			gk_db_res_free(res);
			return bad(v, "ledger_key %s: its public key's key ID under %s "
			    "is %s", v->keys[v->nkeys - 1].id, v->origin, derived);
		}
		v->nkeys++;
	}
	gk_db_res_free(res);
	return 0;
}

static const struct checkpoint_key *
find_key(struct verify *v, const char *id)
{
	size_t i;

	for (i = 0; i < v->nkeys; i++)
		if (strcmp(v->keys[i].id, id) == 0)
			return v->keys[i].k;
	return NULL;
}

/* ----------------------------------------------------------- checkpoints */

/*
 * A checkpoint's root differs from the leaves: when a stored full tile already
 * covers the tile row still filling (the ledger grew past it), it names the seq
 * whose leaf hash differs, more than the checkpoint can. -1 (msg set) when it found
 * one or the database failed, 0 when it cannot tell.
 */
static int
narrow(struct verify *v, uint64_t cpsize)
{
	struct merkle_hash stored[MERKLE_TILE_WIDTH];
	struct tilerow *r;
	char lv[12], ix[24];
	const char *p[] = { v->site, lv, ix };
	struct gk_db_res *res;
	unsigned tl, i, shift;
	uint64_t first;
	int ok;

	for (tl = 0; tl < TILE_LEVELS; tl++) {
		r = &v->rows[tl];
		if (r->n == 0)
			continue;
		snprintf(lv, sizeof(lv), "%u", tl);
		snprintf(ix, sizeof(ix), "%" PRIu64, r->tindex);
		if ((res = gk_db_exec(v->db, "SELECT encode(hashes, 'hex') "
		    "FROM ledger_tile WHERE site = $1 AND level = $2 AND idx = $3", 3,
		    p)) == NULL)
			return dbfail(v, "reading ledger_tile");
		ok = gk_db_res_nrows(res) == 1 && gk_hex_decode(
		    gk_db_res_value(res, 0, 0), stored[0].b, sizeof(stored)) == 0;
		gk_db_res_free(res);
		if (!ok)
			continue;
		for (i = 0; i < r->n; i++)
			if (!hash_eq(&stored[i], &r->h[i]))
				break;
		if (i == r->n)
			continue;
		shift = tl * MERKLE_TILE_HEIGHT;
		first = (r->tindex * MERKLE_TILE_WIDTH + i) << shift;
		if (tl == 0)
			return bad(v, "seq %" PRIu64 ": stored tile 0/%" PRIu64 " differs "
			    "from the leaf hash (and the checkpoint at size %" PRIu64
			    " from the records' root)", first, r->tindex, cpsize);
		return bad(v, "seq %" PRIu64 "..%" PRIu64 ": stored tile %u/%" PRIu64
		    " differs from the leaves (and the checkpoint at size %" PRIu64
		    " from the records' root)", first, first + ((uint64_t)1 << shift) -
		    1, tl, r->tindex, cpsize);
	}
	return 0;
}

/*
 * Checks one checkpoint row (res, row) of size cpsize against the tree's root
 * root, which the caller recomputed from the leaves (or, below --from, read from the
 * stored tiles), and against the previous checkpoint checked.
 */
static int
check_checkpoint(struct verify *v, struct gk_db_res *res, int row, uint64_t cpsize,
    const struct merkle_hash *root)
{
	struct merkle_hash colroot, proof[MERKLE_MAX_PROOF];
	struct merkle_store rd = ledger_pgstore_reader(v->ps);
	const struct checkpoint_key *k;
	struct checkpoint cp;
	const char *keyid = gk_db_res_value(res, row, 3);
	const char *note = gk_db_res_value(res, row, 4);
	const char *rootcol = gk_db_res_value(res, row, 1);
	int64_t signed_ms = strtoll(gk_db_res_value(res, row, 2), NULL, 10);
	char err[256], b1[B64_LEN(MERKLE_HASH_LEN) + 1];
	char b2[B64_LEN(MERKLE_HASH_LEN) + 1];
	size_t n;

	if ((k = find_key(v, keyid)) == NULL)
		return bad(v, "checkpoint at size %" PRIu64 ": signed with key %s, "
		    "which is not in ledger_key", cpsize, keyid);
	if (checkpoint_verify(note, strlen(note), k, &cp, err, sizeof(err)) == -1)
		return bad(v, "checkpoint at size %" PRIu64 ": signature does not "
		    "verify with key %s (%s)", cpsize, keyid, err);
	if (v->pin != NULL && checkpoint_verify(note, strlen(note), v->pin, &cp,
	    err, sizeof(err)) == -1)
		return bad(v, "checkpoint at size %" PRIu64 ": not signed by the "
		    "key given with --pubkey (%s)", cpsize, err);
	if (strcmp(cp.origin, v->origin) != 0)
		return bad(v, "checkpoint at size %" PRIu64 ": origin \"%s\", the "
		    "log's is \"%s\"", cpsize, cp.origin, v->origin);
	if (cp.alg != v->alg)
		return bad(v, "checkpoint at size %" PRIu64 ": hash %s, the log's "
		    "is %s", cpsize, merkle_alg_name(cp.alg),
		    merkle_alg_name(v->alg));
	if (cp.size != cpsize)
		return bad(v, "checkpoint at size %" PRIu64 ": its note says size "
		    "%" PRIu64, cpsize, cp.size);
	if (gk_hex_decode(rootcol, colroot.b, MERKLE_HASH_LEN) == -1 ||
	    !hash_eq(&colroot, &cp.root))
		return bad(v, "checkpoint at size %" PRIu64 ": root_hash column "
		    "differs from the signed note's root", cpsize);
	if (signed_ms != cp.time_ms)
		return bad(v, "checkpoint at size %" PRIu64 ": signed_at column "
		    "differs from the signed note's time", cpsize);
	if (!hash_eq(&cp.root, root)) {
		if (v->status == V_OK && narrow(v, cpsize) == -1)
			return -1;
		return bad(v, "checkpoint at size %" PRIu64 ": root differs from the "
		    "records' root (signed %s, records give %s)", cpsize,
		    hash_b64(&cp.root, b1), hash_b64(root, b2));
	}
	/* The stored tiles prove the previous signed tree a prefix of this one. */
	if (v->have_prev && v->prev_size > 0) {
		ledger_pgstore_set_size(v->ps, cpsize);
		if (merkle_consistency_proof(v->h, &rd, v->prev_size, cpsize, proof,
		    &n) == -1) {
			if (ledger_pgstore_db_failed(v->ps))
				return fail(v, "%s", ledger_pgstore_error(v->ps));
			return bad(v, "checkpoint at size %" PRIu64 ": no consistency "
			    "proof from size %" PRIu64 " (%s)", cpsize, v->prev_size,
			    ledger_pgstore_error(v->ps));
		}
		if (merkle_verify_consistency(v->h, v->prev_size, cpsize,
		    &v->prev_root, &cp.root, proof, n) == -1)
			return bad(v, "checkpoint at size %" PRIu64 ": not consistent "
			    "with the checkpoint at size %" PRIu64, cpsize,
			    v->prev_size);
	}
	if (v->have_prev && cp.time_ms < v->prev_time)
		return bad(v, "checkpoint at size %" PRIu64 ": signed before the "
		    "checkpoint at size %" PRIu64, cpsize, v->prev_size);
	v->have_prev = 1;
	v->prev_size = cpsize;
	v->prev_root = cp.root;
	v->prev_time = cp.time_ms;
	gk_strlcpy(v->prev_key, keyid, sizeof(v->prev_key));
	v->ncps++;
	return 0;
}

/* Checks every checkpoint of exactly the tree's current size. */
static int
checkpoints_at(struct verify *v)
{
	struct merkle_hash root;
	struct gk_db_res *res;
	uint64_t size;
	int row;

	for (;;) {
		if (peek_seq(v, &v->cps, 0, &size, &res, &row) == -1)
			return -1;
		if (size != v->tree.size)
			return 0;
		if (merkle_tree_root(&v->tree, v->h, &root) == -1)
			return fail(v, "hashing failed");
		if (check_checkpoint(v, res, row, size, &root) == -1)
			return -1;
		cur_advance(&v->cps);
	}
}

/* ---------------------------------------------------------------- tiles */

/* The stored full tile (tlevel, tindex) into out: 1, 0 when missing, -1 error. */
static int
stored_tile(struct verify *v, unsigned tlevel, uint64_t tindex,
    struct merkle_hash *out)
{
	char lv[12], ix[24];
	const char *p[] = { v->site, lv, ix };
	struct gk_db_res *res;
	uint64_t idx;
	const char *hex;
	int row, rc;

	if (tlevel == 0) {
		/* Level 0 comes every 256 records: read it by cursor. */
		for (;;) {
			if (peek_seq(v, &v->tile0, 0, &idx, &res, &row) == -1)
				return -1;
			if (idx >= tindex)
				break;
			cur_advance(&v->tile0);
		}
		if (idx != tindex)
			return 0;
		hex = gk_db_res_value(res, row, 1);
		rc = gk_hex_decode(hex, out[0].b, MERKLE_TILE_WIDTH *
		    MERKLE_HASH_LEN) == 0 ? 1 : 0;
		cur_advance(&v->tile0);
		return rc;
	}
	snprintf(lv, sizeof(lv), "%u", tlevel);
	snprintf(ix, sizeof(ix), "%" PRIu64, tindex);
	if ((res = gk_db_exec(v->db, "SELECT encode(hashes, 'hex') FROM ledger_tile "
	    "WHERE site = $1 AND level = $2 AND idx = $3", 3, p)) == NULL)
		return dbfail(v, "reading ledger_tile");
	rc = gk_db_res_nrows(res) == 1 && gk_hex_decode(gk_db_res_value(res, 0,
	    0), out[0].b, MERKLE_TILE_WIDTH * MERKLE_HASH_LEN) == 0 ? 1 : 0;
	gk_db_res_free(res);
	return rc;
}

/* Compares the completed tile row of level tl with the stored tile. */
static int
check_tile(struct verify *v, unsigned tl)
{
	struct merkle_hash stored[MERKLE_TILE_WIDTH];
	struct tilerow *r = &v->rows[tl];
	unsigned shift = tl * MERKLE_TILE_HEIGHT, i;
	uint64_t lo = (r->tindex * MERKLE_TILE_WIDTH) << shift, first;
	int rc;

	if ((rc = stored_tile(v, tl, r->tindex, stored)) == -1)
		return -1;
	if (rc == 0)
		return bad(v, "seq %" PRIu64 "..%" PRIu64 ": tile %u/%" PRIu64
		    " is missing or malformed (its leaves are all there)", lo,
		    lo + ((uint64_t)MERKLE_TILE_WIDTH << shift) - 1, tl, r->tindex);
	for (i = 0; i < MERKLE_TILE_WIDTH; i++)
		if (!hash_eq(&stored[i], &r->h[i]))
			break;
	if (i < MERKLE_TILE_WIDTH) {
		first = lo + ((uint64_t)i << shift);
		if (tl == 0)
			return bad(v, "seq %" PRIu64 ": stored tile 0/%" PRIu64
			    " differs from the leaf hash", first, r->tindex);
		return bad(v, "seq %" PRIu64 "..%" PRIu64 ": stored tile %u/%" PRIu64
		    " differs from the leaves", first, first +
		    ((uint64_t)1 << shift) - 1, tl, r->tindex);
	}
	v->ntiles++;
	r->n = 0;
	return 0;
}

/* Appends a verified leaf; completes and checks tiles as they fill. */
static int
append_leaf(struct verify *v, const struct merkle_hash *leaf)
{
	struct merkle_node nodes[MERKLE_MAX_LEVELS];
	struct tilerow *r;
	unsigned tl;
	size_t n, i;

	if (merkle_tree_append(&v->tree, v->h, leaf, nodes, &n) == -1)
		return fail(v, "hashing failed");
	for (i = 0; i < n; i++) {
		if (nodes[i].level % MERKLE_TILE_HEIGHT != 0)
			continue;
		tl = nodes[i].level / MERKLE_TILE_HEIGHT;
		r = &v->rows[tl];
		if (r->n == 0)
			r->tindex = nodes[i].index / MERKLE_TILE_WIDTH;
		r->h[r->n++] = nodes[i].hash;
		if (r->n == MERKLE_TILE_WIDTH && check_tile(v, tl) == -1)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- records */

/* A JSON number member equal to the integer want. */
static int
num_is(const json_t *o, const char *key, uint64_t want, double *got)
{
	const json_t *j = json_object_get(o, key);

	if (!json_is_number(j))
		return 0;
	*got = json_number_value(j);
	return *got == (double)want;
}

/*
 * Checks the record row at seq against the index row: body canonical, naming this
 * seq, site and event; leaf hash; index agreement. Fills *leaf.
 */
static int
check_record(struct verify *v, uint64_t seq, struct gk_db_res *rr, int ri,
    struct gk_db_res *xr, int xi, struct merkle_hash *leaf)
{
	const char *rid = gk_db_res_value(rr, ri, 1);
	const char *rat = gk_db_res_value(rr, ri, 2);
	const char *body = gk_db_res_value(rr, ri, 3);
	const char *lhex = gk_db_res_value(rr, ri, 4);
	const char *xid = gk_db_res_value(xr, xi, 1);
	const char *xat = gk_db_res_value(xr, xi, 2);
	struct merkle_hash stored;
	const char *s;
	char err[256], *canon = NULL;
	size_t len = strlen(body), clen = 0;
	json_t *j;
	double got = 0;
	int rc = -1;

	if ((j = jcs_parse(body, len, BODY_MAX, err, sizeof(err))) == NULL)
		return bad(v, "seq %" PRIu64 ": body is not JSON (%s)", seq, err);
	if ((canon = jcs_canonical(j, &clen, err, sizeof(err))) == NULL ||
	    clen != len || memcmp(canon, body, len) != 0) {
		bad(v, "seq %" PRIu64 ": body altered (not RFC 8785 canonical JSON)",
		    seq);
		goto done;
	}
	if (!json_is_object(j)) {
		bad(v, "seq %" PRIu64 ": body is not a JSON object", seq);
		goto done;
	}
	if (!num_is(j, "seq", seq, &got)) {
		if (json_is_number(json_object_get(j, "seq")))
			bad(v, "seq %" PRIu64 ": out of order / appears twice (the "
			    "record stored at seq %" PRIu64 " says seq %.0f)", seq, seq,
			    got);
		else
			bad(v, "seq %" PRIu64 ": body altered (no seq)", seq);
		goto done;
	}
	if (merkle_leaf_hash(v->h, body, len, leaf) == -1) {
		fail(v, "hashing failed");
		goto done;
	}
	if (lhex == NULL || gk_hex_decode(lhex, stored.b, MERKLE_HASH_LEN) ==
	    -1 || !hash_eq(&stored, leaf)) {
		bad(v, "seq %" PRIu64 ": body altered (leaf hash differs)", seq);
		goto done;
	}
	if ((s = json_string_value(json_object_get(j, "site"))) == NULL ||
	    strcmp(s, v->site) != 0) {
		bad(v, "seq %" PRIu64 ": the record says site \"%s\"", seq,
		    s ? s : "(none)");
		goto done;
	}
	if ((s = json_string_value(json_object_get(j, "event_id"))) == NULL ||
	    strcasecmp(s, rid) != 0) {
		bad(v, "seq %" PRIu64 ": the record's event_id %s differs from its "
		    "row's %s", seq, s ? s : "(none)", rid);
		goto done;
	}
	if (strcmp(rid, xid) != 0) {
		bad(v, "seq %" PRIu64 ": ledger_index and ledger_record disagree "
		    "(event_id %s in the index, %s in the record)", seq, xid, rid);
		goto done;
	}
	if (strcmp(rat, xat) != 0) {
		bad(v, "seq %" PRIu64 ": ledger_index and ledger_record disagree "
		    "(recorded_at %s in the index, %s in the record)", seq, xat, rat);
		goto done;
	}
	rc = 0;
done:
	free(canon);
	json_decref(j);
	return rc;
}

static void
progress(struct verify *v, uint64_t seq)
{
	int64_t now = gk_mono_ms(), el;

	if (now - v->last_progress < PROGRESS_MS)
		return;
	v->last_progress = now;
	el = now - v->t0;
	fprintf(stderr, "verify: site %s: seq %" PRIu64 " of %" PRIu64 " (%.0f%%), "
	    "%.0f records/s\n", v->site, seq, v->total, v->total ? 100.0 *
	    (double)seq / (double)v->total : 100.0, el > 0 ?
	    (double)(seq - v->from) * 1000.0 / (double)el : 0.0);
}

/* Merges the record and index cursors in seq order, checking each seq. */
static int
walk(struct verify *v)
{
	struct gk_db_res *rr, *xr, *r2;
	struct merkle_hash leaf;
	uint64_t e = v->from, rs, xs, r2s;
	int ri, xi, r2i;

	if (checkpoints_at(v) == -1)
		return -1;
	for (;; e++) {
		progress(v, e);
		if (peek_seq(v, &v->rec, 0, &rs, &rr, &ri) == -1 ||
		    peek_seq(v, &v->idx, 0, &xs, &xr, &xi) == -1)
			return -1;
		if (rs == UINT64_MAX && xs == UINT64_MAX)
			break;
		if (rs < e)
			return bad(v, "seq %" PRIu64 ": out of order / appears twice "
			    "(a second row in ledger_record)", rs);
		if (rs > e && xs > e)
			return bad(v, "seq %" PRIu64 ": missing", e);
		if (rs > e)
			return bad(v, "seq %" PRIu64 ": missing from ledger_record "
			    "(ledger_index names event %s)", e,
			    gk_db_res_value(xr, xi, 1));
		if (xs > e)
			return bad(v, "seq %" PRIu64 ": missing from ledger_index", e);
		if (peek_seq(v, &v->rec, 1, &r2s, &r2, &r2i) == -1)
			return -1;
		if (r2s == e)
			return bad(v, "seq %" PRIu64 ": out of order / appears twice "
			    "(two rows in ledger_record)", e);
		/* rr/xr stay valid: the look-ahead only fetches into the spare page. */
		if (check_record(v, e, rr, ri, xr, xi, &leaf) == -1)
			return -1;
		cur_advance(&v->rec);
		cur_advance(&v->idx);
		if (append_leaf(v, &leaf) == -1 || checkpoints_at(v) == -1)
			return -1;
	}
	return 0;
}

/* After the last record: nothing may claim more records than there are. */
static int
check_tail(struct verify *v)
{
	char sz[24];
	const char *p[] = { v->site, sz };
	struct gk_db_res *res;
	uint64_t size;
	int row;

	if (peek_seq(v, &v->cps, 0, &size, &res, &row) == -1)
		return -1;
	if (size != UINT64_MAX)
		return bad(v, "tail truncated: checkpoint at size %" PRIu64 " but "
		    "only %" PRIu64 " records", size, v->tree.size);
	/* A full tile whose leaves are not all there. */
	snprintf(sz, sizeof(sz), "%" PRIu64, v->tree.size);
	if ((res = gk_db_exec(v->db, "SELECT level, idx FROM ledger_tile "
	    "WHERE site = $1 AND (idx + 1) * 256 > ($2::bigint >> (8 * level)) "
	    "ORDER BY level, idx LIMIT 1", 2, p)) == NULL)
		return dbfail(v, "reading ledger_tile");
	if (gk_db_res_nrows(res) == 1) {
		bad(v, "tail truncated: tile %s/%s stored but only %" PRIu64
		    " records", gk_db_res_value(res, 0, 0), gk_db_res_value(res, 0, 1),
		    v->tree.size);
		gk_db_res_free(res);
		return -1;
	}
	gk_db_res_free(res);
	return 0;
}

/*
 * --from SEQ: the tree up to SEQ is taken from the stored tiles (not re-derived):
 * the frontier, the tile rows in progress, and the last checkpoint below SEQ,
 * whose signature and root are checked against those tiles.
 */
static int
start_from(struct verify *v)
{
	struct merkle_store rd = ledger_pgstore_reader(v->ps);
	struct merkle_hash root;
	struct gk_db_res *res;
	char from[24];
	const char *p[] = { v->site, from };
	uint64_t idx, j, size;
	unsigned tl;

	if (v->from > v->total) {
		fail(v, "--from %" PRIu64 " is beyond the ledger's %" PRIu64
		    " records", v->from, v->total);
		v->status = V_USAGE;
		return -1;
	}
	ledger_pgstore_set_size(v->ps, v->from);
	if (merkle_tree_load(&v->tree, v->from, &rd) == -1)
		goto storefail;
	for (tl = 0; tl < TILE_LEVELS; tl++) {
		idx = v->from >> (tl * MERKLE_TILE_HEIGHT);
		if (idx == 0)
			break;
		v->rows[tl].tindex = idx / MERKLE_TILE_WIDTH;
		v->rows[tl].n = 0;
		for (j = v->rows[tl].tindex * MERKLE_TILE_WIDTH; j < idx; j++)
			if (rd.get(rd.arg, tl * MERKLE_TILE_HEIGHT, j,
			    &v->rows[tl].h[v->rows[tl].n++]) == -1)
				goto storefail;
	}
	snprintf(from, sizeof(from), "%" PRIu64, v->from);
	if ((res = gk_db_exec(v->db, "SELECT tree_size, encode(root_hash, 'hex'), "
	    "floor(extract(epoch FROM signed_at) * 1000)::bigint, key_id, note "
	    "FROM ledger_checkpoint WHERE site = $1 AND tree_size < $2 "
	    "ORDER BY tree_size DESC LIMIT 1", 2, p)) == NULL)
		return dbfail(v, "reading ledger_checkpoint");
	if (gk_db_res_nrows(res) == 1) {
		size = strtoull(gk_db_res_value(res, 0, 0), NULL, 10);
		if (merkle_root(v->h, &rd, size, &root) == -1 ||
		    check_checkpoint(v, res, 0, size, &root) == -1) {
			gk_db_res_free(res);
			if (v->status == V_OK)
				goto storefail;
			return -1;
		}
	}
	gk_db_res_free(res);
	return 0;
storefail:
	if (ledger_pgstore_db_failed(v->ps))
		return fail(v, "%s", ledger_pgstore_error(v->ps));
	return bad(v, "seq %" PRIu64 ": the stored tree below --from is "
	    "incomplete (%s)", v->from, ledger_pgstore_error(v->ps));
}

/* Opens the snapshot and the cursors. */
static int
open_cursors(struct verify *v)
{
	char from[24], tfrom[24];
	const char *p[] = { v->site, from };
	const char *pt[] = { v->site, tfrom };
	const char *one[] = { v->site };
	struct gk_db_res *res;

	snprintf(from, sizeof(from), "%" PRIu64, v->from);
	snprintf(tfrom, sizeof(tfrom), "%" PRIu64, v->from / MERKLE_TILE_WIDTH);
	if (gk_db_begin(v->db) == -1 ||
	    gk_db_cmd(v->db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, "
	    "READ ONLY", 0, NULL) == -1)
		return dbfail(v, "starting the snapshot");
	if (gk_db_cmd(v->db, "DECLARE lv_rec NO SCROLL CURSOR FOR "
	    "SELECT seq, event_id, recorded_at, body, encode(leaf_hash, 'hex') "
	    "FROM ledger_record WHERE site = $1 AND seq >= $2 "
	    "ORDER BY seq, recorded_at", 2, p) == -1 ||
	    gk_db_cmd(v->db, "DECLARE lv_idx NO SCROLL CURSOR FOR "
	    "SELECT seq, event_id, recorded_at FROM ledger_index "
	    "WHERE site = $1 AND seq >= $2 ORDER BY seq", 2, p) == -1 ||
	    gk_db_cmd(v->db, "DECLARE lv_cps NO SCROLL CURSOR FOR "
	    "SELECT tree_size, encode(root_hash, 'hex'), "
	    "floor(extract(epoch FROM signed_at) * 1000)::bigint, key_id, note "
	    "FROM ledger_checkpoint WHERE site = $1 AND tree_size >= $2 "
	    "ORDER BY tree_size", 2, p) == -1 ||
	    gk_db_cmd(v->db, "DECLARE lv_tile0 NO SCROLL CURSOR FOR "
	    "SELECT idx, encode(hashes, 'hex') FROM ledger_tile "
	    "WHERE site = $1 AND level = 0 AND idx >= $2 ORDER BY idx", 2,
	    pt) == -1)
		return dbfail(v, "opening the cursors");
	v->rec.fetch = "FETCH FORWARD " PAGE_ROWS " FROM lv_rec";
	v->idx.fetch = "FETCH FORWARD " PAGE_ROWS " FROM lv_idx";
	v->cps.fetch = "FETCH FORWARD " PAGE_ROWS " FROM lv_cps";
	v->tile0.fetch = "FETCH FORWARD 64 FROM lv_tile0";
	/* For the progress line only. */
	if ((res = gk_db_exec(v->db, "SELECT coalesce(max(seq) + 1, 0) FROM "
	    "ledger_index WHERE site = $1", 1, one)) == NULL)
		return dbfail(v, "reading ledger_index");
	v->total = strtoull(gk_db_res_value(res, 0, 0), NULL, 10);
	gk_db_res_free(res);
	return 0;
}

static void
verify_clear(struct verify *v)
{
	size_t i;

	cur_clear(&v->rec);
	cur_clear(&v->idx);
	cur_clear(&v->cps);
	cur_clear(&v->tile0);
	for (i = 0; i < v->nkeys; i++)
		checkpoint_key_free(v->keys[i].k);
	checkpoint_key_free(v->pin);
	ledger_pgstore_free(v->ps);
	merkle_hasher_free(v->h);
}

static void
verify_usage(void)
{
	fprintf(stderr, "usage: ecogatectl ledger verify [--site S] [--from SEQ] "
	    "[--pubkey KEY.pem] [--db CONNINFO]\n");
}

int
ledger_verify_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "db", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify v;
	const char *conninfo = NULL, *pubkey = NULL;
	struct merkle_hash root;
	char err[256], b[B64_LEN(MERKLE_HASH_LEN) + 1];
	int ch, rc;

	memset(&v, 0, sizeof(v));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:f:k:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			v.site = optarg;
			break;
		case 'f':
			if (parse_u64(optarg, &v.from) == -1 ||
			    v.from >= UINT64_C(1) << 63) {
				fprintf(stderr, "ecogatectl ledger verify: --from: not a "
				    "sequence number: %s\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'k':
			pubkey = optarg;
			break;
		case 'c':
			conninfo = optarg;
			break;
		case 'h':
			verify_usage();
			return 0;
		default:
			verify_usage();
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		verify_usage();
		return EX_USAGE;
	}
	if (v.site == NULL)
		v.site = env_or("ECOGATE_SITE", DEFAULT_SITE);
	if (conninfo == NULL)
		conninfo = env_or("ECOGATE_PG_CONNINFO", DEFAULT_PG_CONNINFO);
	if (!gk_topic_id_valid(v.site)) {
		fprintf(stderr, "ecogatectl ledger verify: not a site id: %s\n",
		    v.site);
		return EX_USAGE;
	}
	if (pubkey != NULL && (v.pin = checkpoint_key_load(pubkey, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "ecogatectl ledger verify: %s\n", err);
		return EX_NOINPUT;
	}
	if ((v.db = gk_db_new(conninfo, &(struct gk_db_opts){
	    .application_name = "ecogatectl-ledger-verify" })) == NULL) {
		checkpoint_key_free(v.pin);
		return EX_SOFTWARE;
	}
	v.t0 = v.last_progress = gk_mono_ms();
	if (gk_db_connect(v.db) == -1)
		dbfail(&v, "connecting");
	else if (open_cursors(&v) == 0 && load_log(&v) == 0) {
		if ((v.ps = ledger_pgstore_new(v.db, v.site, v.h, v.from)) == NULL)
			fail(&v, "out of memory");
		else if ((v.from == 0 || start_from(&v) == 0) && walk(&v) == 0)
			check_tail(&v);
	}
	if (v.status == V_OK) {
		merkle_tree_root(&v.tree, v.h, &root);
		printf("site %s: verified %" PRIu64 " record%s", v.site,
		    v.tree.size - v.from, v.tree.size - v.from == 1 ? "" : "s");
		if (v.tree.size > v.from)
			printf(" (seq %" PRIu64 "..%" PRIu64 ")", v.from,
			    v.tree.size - 1);
		printf(", %" PRIu64 " full tiles, %" PRIu64 " checkpoints; "
		    "root %s at size %" PRIu64, v.ntiles, v.ncps, hash_b64(&root, b),
		    v.tree.size);
		if (v.have_prev)
			printf("; newest checkpoint at size %" PRIu64 " (key %s)%s",
			    v.prev_size, v.prev_key, v.prev_size < v.tree.size ?
			    ", the records after it are not signed yet" : "");
		else
			printf("; no checkpoint yet");
		printf("\n");
		rc = 0;
	} else {
		fprintf(stderr, "ecogatectl ledger verify: site %s: %s\n", v.site,
		    v.msg);
		rc = v.status == V_BAD ? EX_DATAERR : v.status == V_NOLOG ?
		    EX_NOINPUT : v.status == V_USAGE ? EX_USAGE :
		    gk_db_err_is_connection(v.db) ? EX_UNAVAILABLE : EX_SOFTWARE;
	}
	verify_clear(&v);
	gk_db_rollback(v.db);
	gk_db_free(v.db);
	return rc;
}

/* ------------------------------------------------------------------ prove */

static void
prove_usage(void)
{
	fprintf(stderr, "usage: ecogatectl ledger prove EVENT_ID [--site S] "
	    "[-o FILE] [--db CONNINFO]\n");
}

/*
 * Reads what the proof needs in one snapshot: the record's seq and body, the newest
 * checkpoint covering it (its signature checked against ledger_key, so a bad one is
 * refused here rather than by the inspector), and the tree's hashes through the
 * pgstore. Returns the proof document or NULL with msg filled and *ex set.
 */
static json_t *
build_proof(struct gk_db *db, const char *site, const char *event_id,
    char *msg, size_t msglen, int *ex)
{
	const char *p[] = { site, event_id };
	char seqs[24], err[256];
	const char *ps2[] = { site, seqs };
	struct gk_db_res *res = NULL, *cp = NULL, *keys = NULL;
	struct merkle_hasher *h = NULL;
	struct ledger_pgstore *ps = NULL;
	struct merkle_store rd;
	struct checkpoint_key *k = NULL;
	struct checkpoint parsed;
	enum merkle_alg alg;
	const char *body, *note, *kid;
	uint64_t seq, size;
	json_t *doc = NULL;
	int i;

	*ex = EX_SOFTWARE;
	if (gk_db_begin(db) == -1 || gk_db_cmd(db, "SET TRANSACTION ISOLATION LEVEL "
	    "REPEATABLE READ, READ ONLY", 0, NULL) == -1)
		goto dberr;
	if ((res = gk_db_exec(db, "SELECT l.hash_alg, i.seq, r.body "
	    "FROM ledger_log l JOIN ledger_index i ON i.site = l.site "
	    "LEFT JOIN ledger_record r ON r.site = i.site AND r.seq = i.seq "
	    "AND r.recorded_at = i.recorded_at "
	    "WHERE l.site = $1 AND i.event_id = $2::uuid", 2, p)) == NULL)
		goto dberr;
	if (gk_db_res_nrows(res) != 1) {
		gk_errf(msg, msglen, "%s", gk_db_res_nrows(res) == 0 ? "no such event "
		    "in the ledger" : "the event has several records (run verify)");
		*ex = gk_db_res_nrows(res) == 0 ? EX_NOINPUT : EX_DATAERR;
		goto done;
	}
	if (merkle_alg_parse(gk_db_res_value(res, 0, 0), &alg) == -1 ||
	    (h = merkle_hasher_new(alg)) == NULL) {
		gk_errf(msg, msglen, "hash %s is not available",
		    gk_db_res_value(res, 0, 0));
		goto done;
	}
	gk_strlcpy(seqs, gk_db_res_value(res, 0, 1), sizeof(seqs));
	seq = strtoull(seqs, NULL, 10);
	if ((body = gk_db_res_value(res, 0, 2)) == NULL) {
		gk_errf(msg, msglen, "seq %" PRIu64 ": record missing (run verify)",
		    seq);
		*ex = EX_DATAERR;
		goto done;
	}
	if ((cp = gk_db_exec(db, "SELECT tree_size, key_id, note "
	    "FROM ledger_checkpoint WHERE site = $1 AND tree_size > $2 "
	    "ORDER BY tree_size DESC LIMIT 1", 2, ps2)) == NULL)
		goto dberr;
	if (gk_db_res_nrows(cp) == 0) {
		gk_errf(msg, msglen, "seq %" PRIu64 " is not covered by a checkpoint "
		    "yet: try again after the next one", seq);
		*ex = EX_TEMPFAIL;
		goto done;
	}
	size = strtoull(gk_db_res_value(cp, 0, 0), NULL, 10);
	kid = gk_db_res_value(cp, 0, 1);
	note = gk_db_res_value(cp, 0, 2);
	if ((keys = gk_db_exec(db, "SELECT public_key FROM ledger_key "
	    "WHERE site = $1 AND key_id = $2", 2, (const char *[]){ site, kid })) ==
	    NULL)
		goto dberr;
	for (i = 0; i < gk_db_res_nrows(keys) && k == NULL; i++)
		k = checkpoint_key_from_pem(gk_db_res_value(keys, i, 0),
		    strlen(gk_db_res_value(keys, i, 0)), err, sizeof(err));
	if (k == NULL || checkpoint_verify(note, strlen(note), k, &parsed, err,
	    sizeof(err)) == -1 || parsed.size != size) {
		gk_errf(msg, msglen, "checkpoint at size %" PRIu64 " does not verify "
		    "with key %s (run verify)", size, kid);
		*ex = EX_DATAERR;
		goto done;
	}
	if ((ps = ledger_pgstore_new(db, site, h, size)) == NULL) {
		gk_errf(msg, msglen, "out of memory");
		goto done;
	}
	rd = ledger_pgstore_reader(ps);
	if ((doc = proof_make(h, &rd, body, strlen(body), seq, note, err,
	    sizeof(err))) == NULL) {
		if (ledger_pgstore_db_failed(ps)) {
			gk_errf(msg, msglen, "%s", ledger_pgstore_error(ps));
			*ex = EX_UNAVAILABLE;
		} else {
			gk_errf(msg, msglen, "seq %" PRIu64 ": %s%s%s (run verify)", seq,
			    err, ledger_pgstore_error(ps)[0] ? ": " : "",
			    ledger_pgstore_error(ps));
			*ex = EX_DATAERR;
		}
	}
	goto done;
dberr:
	gk_errf(msg, msglen, "%s", gk_db_errmsg(db));
	*ex = gk_db_err_is_connection(db) ? EX_UNAVAILABLE : EX_SOFTWARE;
done:
	gk_db_res_free(res);
	gk_db_res_free(cp);
	gk_db_res_free(keys);
	checkpoint_key_free(k);
	ledger_pgstore_free(ps);
	merkle_hasher_free(h);
	gk_db_rollback(db);
	return doc;
}

int
ledger_prove_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "db", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *site = NULL, *out = NULL, *conninfo = NULL, *event_id;
	char msg[512];
	struct gk_db *db;
	json_t *doc;
	char *text;
	FILE *fp;
	int ch, ex;
	long long li;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:o:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			site = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'c':
			conninfo = optarg;
			break;
		case 'h':
			prove_usage();
			return 0;
		default:
			prove_usage();
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		prove_usage();
		return EX_USAGE;
	}
	event_id = argv[optind];
	if (site == NULL)
		site = env_or("ECOGATE_SITE", DEFAULT_SITE);
	if (conninfo == NULL)
		conninfo = env_or("ECOGATE_PG_CONNINFO", DEFAULT_PG_CONNINFO);
	if (!gk_topic_id_valid(site) || !gk_id_valid(event_id)) {
		fprintf(stderr, "ecogatectl ledger prove: %s\n", !gk_id_valid(event_id) ?
		    "EVENT_ID is not a UUID" : "not a site id");
		return EX_USAGE;
	}
	if ((db = gk_db_new(conninfo, &(struct gk_db_opts){
	    .application_name = "ecogatectl-ledger-prove" })) == NULL)
		return EX_SOFTWARE;
	doc = build_proof(db, site, event_id, msg, sizeof(msg), &ex);
	gk_db_free(db);
	if (doc == NULL) {
		fprintf(stderr, "ecogatectl ledger prove: site %s, event %s: %s\n",
		    site, event_id, msg);
		return ex;
	}
	text = proof_dump(doc);
	li = json_integer_value(json_object_get(doc, "leaf_index"));
	fprintf(stderr, "ecogatectl ledger prove: site %s: event %s is seq %lld, "
	    "proven against the checkpoint at size %lld%s%s\n", site, event_id, li,
	    json_integer_value(json_object_get(doc, "tree_size")),
	    out ? ", written to " : "", out ? out : "");
	json_decref(doc);
	if (text == NULL) {
		fprintf(stderr, "ecogatectl ledger prove: out of memory\n");
		return EX_SOFTWARE;
	}
	fp = out ? fopen(out, "w") : stdout;
	if (fp == NULL || fputs(text, fp) == EOF || (out && fclose(fp) != 0) ||
	    (!out && fflush(fp) != 0)) {
		fprintf(stderr, "ecogatectl ledger prove: %s: %s\n", out ? out :
		    "stdout", strerror(errno));
		free(text);
		return EX_CANTCREAT;
	}
	free(text);
	return 0;
}

/* ------------------------------------------------------------ check-proof */

static void
check_usage(void)
{
	fprintf(stderr, "usage: ecogatectl ledger check-proof FILE --pubkey "
	    "KEY.pem\n");
}

/* The file at path into a new buffer of at most max bytes; NULL with err. */
static char *
read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	FILE *fp;
	char *buf;
	size_t n;

	if ((fp = fopen(path, "r")) == NULL) {
		gk_errf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(fp);
		gk_errf(err, errlen, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, max + 1, fp);
	if (ferror(fp) || n > max) {
		gk_errf(err, errlen, "%s: %s", path, ferror(fp) ? "read failed" :
		    "too long for a proof file");
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static const char *
str_or(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : def;
}

int
ledger_check_proof_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct checkpoint_key *key;
	struct proof_result res;
	const char *file, *keyfile = NULL;
	char err[512], ts[GK_TS_LEN], b[B64_LEN(MERKLE_HASH_LEN) + 1];
	char *buf;
	size_t len;
	uint32_t kid;
	double seqv = -1;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			keyfile = optarg;
			break;
		case 'h':
			check_usage();
			return 0;
		default:
			check_usage();
			return EX_USAGE;
		}
	}
	if (optind != argc - 1 || keyfile == NULL) {
		check_usage();
		return EX_USAGE;
	}
	file = argv[optind];
	if ((key = checkpoint_key_load(keyfile, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ecogatectl ledger check-proof: %s\n", err);
		return EX_NOINPUT;
	}
	if ((buf = read_file(file, PROOF_MAX_LEN, &len, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ecogatectl ledger check-proof: %s\n", err);
		checkpoint_key_free(key);
		return EX_NOINPUT;
	}
	rc = proof_check_text(buf, len, key, &res, err, sizeof(err));
	free(buf);
	/* The record must say it is the leaf it is proven to be. */
	if (rc == 0 && (!json_is_number(json_object_get(res.record, "seq")) ||
	    (seqv = json_number_value(json_object_get(res.record, "seq"))) !=
	    (double)res.leaf_index)) {
		snprintf(err, sizeof(err), "the record says seq %.0f but is proven "
		    "as leaf %" PRIu64, seqv, res.leaf_index);
		rc = -1;
	}
	if (rc == -1) {
		printf("proof FAILED: %s: %s\n", file, err);
		json_decref(res.record);
		checkpoint_key_free(key);
		return EX_DATAERR;
	}
	if (gk_ts_format(res.cp.time_ms, ts, sizeof(ts)) == -1)
		gk_strlcpy(ts, "?", sizeof(ts));
	if (checkpoint_key_id(key, res.cp.origin, &kid) == -1)
		kid = 0;
	printf("proof OK: %s\n"
	    "  site        %s (log %s)\n"
	    "  seq         %" PRIu64 "\n"
	    "  event_id    %s\n"
	    "  kind        %s\n"
	    "  event_ts    %s\n"
	    "  recorded_at %s\n"
	    "  tree size   %" PRIu64 "\n"
	    "  root        %s (%s)\n"
	    "  checkpoint  signed %s by key %08" PRIx32 " (%s)\n",
	    file, str_or(res.record, "site", "?"), res.cp.origin, res.leaf_index,
	    str_or(res.record, "event_id", "?"), str_or(res.record, "kind", "?"),
	    str_or(res.record, "event_ts", "?"),
	    str_or(res.record, "recorded_at", "?"), res.cp.size,
	    hash_b64(&res.cp.root, b), merkle_alg_name(res.cp.alg), ts, kid,
	    checkpoint_sigalg_name(checkpoint_key_alg(key)));
	json_decref(res.record);
	checkpoint_key_free(key);
	return 0;
}
