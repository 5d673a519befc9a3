/*
 * The read-only PostgreSQL merkle_store of `ecogatectl ledger` (see
 * ledger_pgstore.h). A get() of a complete subtree finds the tile row under it
 * (merkle_tile_locate), makes sure the cache holds that row far enough, and folds the
 * run of hashes under the node (merkle_tile_fold), as the in-memory store does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatekit/db.h"
#include "gatekit/util.h"

#include "ledger_pgstore.h"

/* Tile rows kept; a proof touches at most two per tile level. */
#define NROWS		16
#define TILE_LEVELS	(MERKLE_MAX_LEVELS / MERKLE_TILE_HEIGHT)

/* A run of level-8L hashes of tile (tlevel, tindex): the first n are valid. */
struct row {
	int			used;
	unsigned		tlevel;
	uint64_t		tindex;
	unsigned		n;
	int			full;	/* read from ledger_tile: never extended */
	uint64_t		stamp;	/* last use, for eviction */
	struct merkle_hash	h[MERKLE_TILE_WIDTH];
};

struct ledger_pgstore {
	struct gk_db		*db;
	struct merkle_hasher	*h;
	char			 site[64];
	uint64_t		 size;
	uint64_t		 clock;
	char			 err[256];
	int			 dberr;
	struct row		 rows[NROWS];
};

struct ledger_pgstore *
ledger_pgstore_new(struct gk_db *db, const char *site, struct merkle_hasher *h,
    uint64_t size)
{
	struct ledger_pgstore *ps;

	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return NULL;
	ps->db = db;
	ps->h = h;
	ps->size = size;
	gk_strlcpy(ps->site, site, sizeof(ps->site));
	return ps;
}

void
ledger_pgstore_free(struct ledger_pgstore *ps)
{
	free(ps);
}

void
ledger_pgstore_set_size(struct ledger_pgstore *ps, uint64_t size)
{
	ps->size = size;
}

const char *
ledger_pgstore_error(const struct ledger_pgstore *ps)
{
	return ps->err;
}

int
ledger_pgstore_db_failed(const struct ledger_pgstore *ps)
{
	return ps->dberr;
}

static int
db_fail(struct ledger_pgstore *ps, const char *what)
{
	ps->dberr = 1;
	gk_errf(ps->err, sizeof(ps->err), "%s: %s", what, gk_db_errmsg(ps->db));
	return -1;
}

/* The stored full tile (tlevel, tindex) into r. */
static int
read_full(struct ledger_pgstore *ps, struct row *r)
{
	char lv[12], ix[24];
	const char *p[] = { ps->site, lv, ix };
	struct gk_db_res *res;
	const char *v;
	int rc = -1;

	snprintf(lv, sizeof(lv), "%u", r->tlevel);
	snprintf(ix, sizeof(ix), "%" PRIu64, r->tindex);
	res = gk_db_exec(ps->db, "SELECT encode(hashes, 'hex') FROM ledger_tile "
	    "WHERE site = $1 AND level = $2 AND idx = $3", 3, p);
	if (res == NULL)
		return db_fail(ps, "reading ledger_tile");
	if (gk_db_res_nrows(res) != 1 || (v = gk_db_res_value(res, 0, 0)) == NULL)
		gk_errf(ps->err, sizeof(ps->err), "tile %u/%" PRIu64 " is missing",
		    r->tlevel, r->tindex);
	else if (gk_hex_decode(v, r->h[0].b, sizeof(r->h)) == -1)
		gk_errf(ps->err, sizeof(ps->err), "tile %u/%" PRIu64 " is malformed",
		    r->tlevel, r->tindex);
	else {
		r->n = MERKLE_TILE_WIDTH;
		r->full = 1;
		rc = 0;
	}
	gk_db_res_free(res);
	return rc;
}

/*
 * Extends the partial row r to need hashes: level 0 from the records' leaf_hash,
 * level L > 0 by folding the full tiles (L - 1, j) under each missing hash j. Every
 * hash asked for belongs to a complete subtree, so each must be there exactly once.
 */
static int
extend_partial(struct ledger_pgstore *ps, struct row *r, unsigned need)
{
	char lv[12], lo[24], hi[24];
	const char *p[] = { ps->site, lo, hi, lv };
	struct merkle_hash tile[MERKLE_TILE_WIDTH];
	struct gk_db_res *res;
	uint64_t first = r->tindex * MERKLE_TILE_WIDTH, want;
	const char *v;
	int i, nr;

	snprintf(lo, sizeof(lo), "%" PRIu64, first + r->n);
	snprintf(hi, sizeof(hi), "%" PRIu64, first + need);
	if (r->tlevel == 0)
		res = gk_db_exec(ps->db, "SELECT seq, encode(leaf_hash, 'hex') "
		    "FROM ledger_record WHERE site = $1 AND seq >= $2 AND seq < $3 "
		    "ORDER BY seq, recorded_at", 3, p);
	else {
		snprintf(lv, sizeof(lv), "%u", r->tlevel - 1);
		res = gk_db_exec(ps->db, "SELECT idx, encode(hashes, 'hex') "
		    "FROM ledger_tile WHERE site = $1 AND idx >= $2 AND idx < $3 "
		    "AND level = $4 ORDER BY idx", 4, p);
	}
	if (res == NULL)
		return db_fail(ps, r->tlevel == 0 ? "reading ledger_record" :
		    "reading ledger_tile");
	nr = gk_db_res_nrows(res);
	for (i = 0; i < nr; i++) {
		want = first + r->n;
		v = gk_db_res_value(res, i, 0);
		if (v == NULL || strtoull(v, NULL, 10) != want || r->n >= need)
			break;
		v = gk_db_res_value(res, i, 1);
		if (r->tlevel == 0) {
			if (v == NULL || gk_hex_decode(v, r->h[r->n].b,
			    MERKLE_HASH_LEN) == -1)
				break;
		} else if (v == NULL || gk_hex_decode(v, tile[0].b,
		    sizeof(tile)) == -1 || merkle_tile_fold(ps->h, tile,
		    MERKLE_TILE_WIDTH, &r->h[r->n]) == -1)
			break;
		r->n++;
	}
	gk_db_res_free(res);
	if (r->n < need || i < nr) {
		want = first + r->n;
		if (r->tlevel == 0)
			gk_errf(ps->err, sizeof(ps->err), "leaf hash of seq %" PRIu64
			    " is missing, malformed or there twice", want);
		else
			gk_errf(ps->err, sizeof(ps->err), "tile %u/%" PRIu64 " is "
			    "missing or malformed", r->tlevel - 1, want);
		r->n = 0;	/* a row must never hold a hash after a gap */
		return -1;
	}
	return 0;
}

/* The cached row (tlevel, tindex) holding at least need hashes, or NULL. */
static struct row *
get_row(struct ledger_pgstore *ps, unsigned tlevel, uint64_t tindex,
    unsigned need)
{
	struct row *r = NULL, *victim = &ps->rows[0];
	int full, i;

	full = merkle_tile_width(tlevel, tindex, ps->size) == MERKLE_TILE_WIDTH;
	for (i = 0; i < NROWS; i++) {
		if (ps->rows[i].used && ps->rows[i].tlevel == tlevel &&
		    ps->rows[i].tindex == tindex) {
			r = &ps->rows[i];
			break;
		}
		if (!ps->rows[i].used)
			victim = &ps->rows[i];
		else if (victim->used && ps->rows[i].stamp < victim->stamp)
			victim = &ps->rows[i];
	}
	if (r == NULL) {
		r = victim;
		memset(r, 0, sizeof(*r));
		r->used = 1;
		r->tlevel = tlevel;
		r->tindex = tindex;
	}
	r->stamp = ++ps->clock;
	if (r->n >= need)
		return r;
	/* A tile that is full at this size is read as stored, whole. */
	if (full) {
		r->n = 0;
		if (read_full(ps, r) == -1) {
			r->used = 0;
			return NULL;
		}
		return r;
	}
	if (extend_partial(ps, r, need) == -1) {
		r->used = 0;
		return NULL;
	}
	return r;
}

static int
pgstore_get(void *arg, unsigned level, uint64_t index, struct merkle_hash *out)
{
	struct ledger_pgstore *ps = arg;
	struct merkle_tile_ref ref;
	struct row *r;

	ps->err[0] = '\0';
	ps->dberr = 0;
	/* Only complete subtrees of the tree at the store's size exist. */
	if (level >= MERKLE_MAX_LEVELS || index >= (ps->size >> level)) {
		gk_errf(ps->err, sizeof(ps->err), "node %u/%" PRIu64 " is beyond "
		    "the tree of %" PRIu64, level, index, ps->size);
		return -1;
	}
	merkle_tile_locate(level, index, &ref);
	if ((r = get_row(ps, ref.tlevel, ref.tindex, ref.offset + ref.count)) ==
	    NULL)
		return -1;
	if (merkle_tile_fold(ps->h, &r->h[ref.offset], ref.count, out) == -1) {
		gk_errf(ps->err, sizeof(ps->err), "hashing failed");
		return -1;
	}
	return 0;
}

struct merkle_store
ledger_pgstore_reader(struct ledger_pgstore *ps)
{
	struct merkle_store s = { pgstore_get, ps };

	return s;
}
