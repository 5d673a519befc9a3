/*
 * store: appending to a site's ledger in PostgreSQL and reading its tree back (see
 * store.h and docs/ledger.md). The tree lives in two places that must agree: the
 * database (full tiles in ledger_tile, every leaf hash in ledger_record) and memory
 * (the frontier, plus the partial right-edge row of each tile level, which is never
 * stored). Memory is only trusted while it is known to match: every transaction
 * first checks that this session still holds the site's lock and that the log has
 * the size we believe, and any failure marks the memory stale, so the next call
 * rebuilds it from the database.
 *
 * Records go in with COPY (csv) into ledger_index and ledger_record: one round trip
 * per table per batch, which is what keeps the writer near a raw COPY's speed. The
 * few other statements of a batch (lock check, duplicates, partition, tiles,
 * evidence, offsets) are parameterised.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatekit/db.h"
#include "gatekit/log.h"
#include "gatekit/util.h"

#include "checkpoint.h"
#include "jcs.h"
#include "merkle.h"
#include "store.h"

#define TILE_LEVELS	8	/* ledger_tile.level 0..7 */
#define HEXHASH		(2 + 2 * MERKLE_HASH_LEN + 1)	/* "\x" + hex + NUL */

struct buf {
	char	*p;
	size_t	 len, cap;
};

struct tile_cache {
	int			valid;
	uint64_t		idx;
	struct merkle_hash	row[MERKLE_TILE_WIDTH];
};

/* A full tile waiting for its INSERT in the current transaction. */
struct tile_out {
	unsigned		level;
	uint64_t		idx;
	struct merkle_hash	row[MERKLE_TILE_WIDTH];
};

struct ledger_store {
	struct gk_db			*db;
	char				 site[40];
	char				 origin[CHECKPOINT_ORIGIN_MAX];
	enum merkle_alg			 alg;
	struct merkle_hasher		*h;
	const struct checkpoint_key	*key;
	char				 key_id[9];
	int				 wait_lock;
	int				 stale;
	int				 locks;		/* times taken in this session */
	uint64_t			 size;		/* records in the log */
	struct merkle_tree		 tree;
	/* edge[L]: the level-8L hashes of tile level L's partial (rightmost) tile. */
	struct merkle_hash		 edge[TILE_LEVELS][MERKLE_TILE_WIDTH];
	unsigned			 edgew[TILE_LEVELS];
	struct tile_cache		 cache[TILE_LEVELS];
	char				 month[8];	/* partition made: "YYYY-MM" */
	struct buf			 idxbuf, recbuf;
	struct tile_out			*tiles;
	size_t				 ntiles, tilecap;
};

static int
buf_reserve(struct buf *b, size_t more)
{
	size_t	 cap;
	char	*p;

	if (b->len + more + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 65536;
	while (cap < b->len + more + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int
buf_add(struct buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int
buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* One CSV field, quoted (NULL: empty and unquoted, which COPY reads as NULL). */
static int
buf_csv(struct buf *b, const char *s, size_t n)
{
	size_t	i;
	char	*d;

	if (s == NULL)
		return 0;
	if (buf_reserve(b, 2 * n + 2) == -1)
		return -1;
	d = b->p + b->len;
	*d++ = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			*d++ = '"';
		*d++ = s[i];
	}
	*d++ = '"';
	*d = '\0';
	b->len = (size_t)(d - b->p);
	return 0;
}

static void
hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char	x[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < n; i++) {
		out[2 * i] = x[p[i] >> 4];
		out[2 * i + 1] = x[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* A bytea in PostgreSQL's hex output ("\x...") of exactly n bytes into out. */
static int
bytea_decode(const char *s, uint8_t *out, size_t n)
{
	if (s == NULL || s[0] != '\\' || s[1] != 'x')
		return -1;
	return gk_hex_decode(s + 2, out, n);
}

/* "\x" + hex of n bytes: a bytea text parameter. Caller free()s. */
static char *
bytea_param(const void *p, size_t n)
{
	char	*s;

	if ((s = malloc(2 * n + 3)) == NULL)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	hex_encode(p, n, s + 2);
	return s;
}

static void
dberr(struct ledger_store *s, char *err, size_t errlen, const char *what)
{
	gk_errf(err, errlen, "ledger %s: %s: %s (%s)", s->site, what,
	    gk_db_errmsg(s->db), gk_db_errcode(s->db));
	errno = EIO;
}

/* ---- reading the tree ---- */

/* Full tile (level, idx) into the level's one-tile cache. 0 or -1. */
static int
tile_fetch(struct ledger_store *s, unsigned level, uint64_t idx)
{
	struct tile_cache	*c = &s->cache[level];
	struct gk_db_res	*r;
	char			 lv[8], ix[24];
	const char		*p[3] = { s->site, lv, ix };
	int			 rc = -1;

	if (c->valid && c->idx == idx)
		return 0;
	snprintf(lv, sizeof(lv), "%u", level);
	snprintf(ix, sizeof(ix), "%" PRIu64, idx);
	r = gk_db_exec(s->db, "SELECT hashes FROM ledger_tile WHERE site = $1 AND "
	    "level = $2 AND idx = $3", 3, p);
	if (r != NULL && gk_db_res_nrows(r) == 1 &&
	    bytea_decode(gk_db_res_value(r, 0, 0), (uint8_t *)c->row,
	    sizeof(c->row)) == 0) {
		c->valid = 1;
		c->idx = idx;
		rc = 0;
	} else
		c->valid = 0;
	gk_db_res_free(r);
	return rc;
}

/* struct merkle_store's get() over the stored full tiles and the in-memory edge. */
static int
store_get(void *arg, unsigned level, uint64_t index, struct merkle_hash *out)
{
	struct ledger_store	*s = arg;
	struct merkle_tile_ref	 ref;
	const struct merkle_hash *row;
	uint64_t		 edgeidx;

	merkle_tile_locate(level, index, &ref);
	if (ref.tlevel >= TILE_LEVELS || 8 * ref.tlevel >= 64)
		return -1;
	edgeidx = (s->size >> (8 * ref.tlevel)) / MERKLE_TILE_WIDTH;
	if (ref.tindex == edgeidx) {
		if (ref.offset + ref.count > s->edgew[ref.tlevel])
			return -1;
		row = s->edge[ref.tlevel];
	} else if (ref.tindex < edgeidx) {
		if (tile_fetch(s, ref.tlevel, ref.tindex) == -1)
			return -1;
		row = s->cache[ref.tlevel].row;
	} else
		return -1;
	return merkle_tile_fold(s->h, row + ref.offset, ref.count, out);
}

struct merkle_store
ledger_store_reader(struct ledger_store *s)
{
	struct merkle_store	ms = { store_get, s };

	return ms;
}

/* Takes the site's session lock (re-entrant within the session). 1, 0 busy, -1. */
static int
take_lock(struct ledger_store *s, char *err, size_t errlen)
{
	struct gk_db_res	*r;
	const char		*p[1] = { s->site };
	int			 got;

	r = gk_db_exec(s->db, s->wait_lock ?
	    "SELECT pg_advisory_lock(hashtext('ecogate.ledger'), hashtext($1)) "
	    "IS NOT NULL" :
	    "SELECT pg_try_advisory_lock(hashtext('ecogate.ledger'), hashtext($1))",
	    1, p);
	if (r == NULL) {
		dberr(s, err, errlen, "advisory lock");
		return -1;
	}
	got = gk_db_res_nrows(r) == 1 && strcmp(gk_db_res_value(r, 0, 0), "t") == 0;
	gk_db_res_free(r);
	if (got)
		s->locks++;
	if (!got) {
		gk_errf(err, errlen, "ledger %s: another session holds the site's "
		    "writer lock", s->site);
		errno = EBUSY;
		return 0;
	}
	return 1;
}

static int
size_now(struct ledger_store *s, uint64_t *size, char *err, size_t errlen)
{
	struct gk_db_res	*r;
	const char		*p[1] = { s->site };

	r = gk_db_exec(s->db, "SELECT coalesce(max(seq) + 1, 0) FROM ledger_index "
	    "WHERE site = $1", 1, p);
	if (r == NULL || gk_db_res_nrows(r) != 1) {
		dberr(s, err, errlen, "reading the log's size");
		gk_db_res_free(r);
		return -1;
	}
	*size = strtoull(gk_db_res_value(r, 0, 0), NULL, 10);
	gk_db_res_free(r);
	return 0;
}

/*
 * Rebuilds the partial edge rows and the frontier for the log's current size from
 * the database: level 0 from leaf_hash, level L from the roots of full tiles L-1.
 */
static int
load_tree(struct ledger_store *s, char *err, size_t errlen)
{
	struct gk_db_res	*r;
	char			 a[8], lo[24], hi[24];
	const char		*p[4];
	uint64_t		 n, first;
	unsigned		 L, w, i;
	struct merkle_hash	 row[MERKLE_TILE_WIDTH];
	struct merkle_store	 ms = ledger_store_reader(s);

	memset(s->cache, 0, sizeof(s->cache));
	memset(s->edgew, 0, sizeof(s->edgew));
	if (size_now(s, &s->size, err, errlen) == -1)
		return -1;
	for (L = 0; L < TILE_LEVELS; L++) {
		n = s->size >> (8 * L);
		if (n == 0)
			break;
		w = (unsigned)(n % MERKLE_TILE_WIDTH);
		first = n - w;
		if (w == 0)
			continue;
		snprintf(lo, sizeof(lo), "%" PRIu64, first);
		snprintf(hi, sizeof(hi), "%" PRIu64, first + w);
		if (L == 0) {
			p[0] = s->site;
			p[1] = lo;
			p[2] = hi;
			r = gk_db_exec(s->db, "SELECT leaf_hash FROM ledger_record "
			    "WHERE site = $1 AND seq >= $2 AND seq < $3 ORDER BY seq",
			    3, p);
		} else {
			snprintf(a, sizeof(a), "%u", L - 1);
			p[0] = s->site;
			p[1] = a;
			p[2] = lo;
			p[3] = hi;
			r = gk_db_exec(s->db, "SELECT hashes FROM ledger_tile WHERE "
			    "site = $1 AND level = $2 AND idx >= $3 AND idx < $4 "
			    "ORDER BY idx", 4, p);
		}
		if (r == NULL) {
			dberr(s, err, errlen, "reading the tree's edge");
			return -1;
		}
		if ((unsigned)gk_db_res_nrows(r) != w) {
			gk_errf(err, errlen, "ledger %s: tree edge at tile level %u: "
			    "%d rows where %u were expected (size %" PRIu64 ")",
			    s->site, L, gk_db_res_nrows(r), w, s->size);
			gk_db_res_free(r);
			errno = EIO;
			return -1;
		}
		for (i = 0; i < w; i++) {
			if (L == 0 ? bytea_decode(gk_db_res_value(r, (int)i, 0),
			    s->edge[0][i].b, MERKLE_HASH_LEN) :
			    (bytea_decode(gk_db_res_value(r, (int)i, 0),
			    (uint8_t *)row, sizeof(row)) == -1 ||
			    merkle_tile_fold(s->h, row, MERKLE_TILE_WIDTH,
			    &s->edge[L][i]) == -1)) {
				gk_errf(err, errlen, "ledger %s: bad hash in the tree's "
				    "edge at tile level %u", s->site, L);
				gk_db_res_free(r);
				errno = EIO;
				return -1;
			}
		}
		gk_db_res_free(r);
		s->edgew[L] = w;
	}
	if (merkle_tree_load(&s->tree, s->size, &ms) == -1) {
		gk_errf(err, errlen, "ledger %s: a tile of the tree of size %" PRIu64
		    " is missing", s->site, s->size);
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Lock and tree, after open or after anything went wrong. */
static int
refresh(struct ledger_store *s, char *err, size_t errlen)
{
	int	rc;

	if ((rc = take_lock(s, err, errlen)) != 1)
		return -1;
	if (load_tree(s, err, errlen) == -1)
		return -1;
	s->stale = 0;
	return 0;
}

/* ---- opening ---- */

static int
site_valid(const char *s)
{
	size_t	i, n = strlen(s);

	if (n < 1 || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    (i > 0 && (s[i] == '_' || s[i] == '-'))))
			return 0;
	return 1;
}

static int
open_log(struct ledger_store *s, const struct ledger_store_opts *o, char *err,
    size_t errlen)
{
	struct gk_db_res	*r;
	const char		*p[4];
	char			 origin[CHECKPOINT_ORIGIN_MAX];
	const char		*alg = o->hash_alg != NULL ? o->hash_alg : "sha256";
	char			 idbuf[16];
	uint32_t		 id;
	char			*pem;
	int			 rc;

	if (o->origin != NULL)
		gk_strlcpy(origin, o->origin, sizeof(origin));
	else
		snprintf(origin, sizeof(origin), "ecogate/%s", s->site);
	p[0] = s->site;
	p[1] = alg;
	p[2] = origin;
	if (gk_db_cmd(s->db, "INSERT INTO ledger_log (site, hash_alg, origin) VALUES "
	    "($1, $2, $3) ON CONFLICT (site) DO NOTHING", 3, p) == -1) {
		dberr(s, err, errlen, "creating the log");
		return -1;
	}
	r = gk_db_exec(s->db, "SELECT hash_alg, origin FROM ledger_log WHERE "
	    "site = $1", 1, p);
	if (r == NULL || gk_db_res_nrows(r) != 1) {
		dberr(s, err, errlen, "reading the log");
		gk_db_res_free(r);
		return -1;
	}
	if (strcmp(gk_db_res_value(r, 0, 0), alg) != 0) {
		gk_errf(err, errlen, "ledger %s: the log uses hash %s, configured %s",
		    s->site, gk_db_res_value(r, 0, 0), alg);
		gk_db_res_free(r);
		errno = EINVAL;
		return -1;
	}
	gk_strlcpy(s->origin, gk_db_res_value(r, 0, 1), sizeof(s->origin));
	gk_db_res_free(r);
	if (merkle_alg_parse(alg, &s->alg) == -1 ||
	    (s->h = merkle_hasher_new(s->alg)) == NULL) {
		gk_errf(err, errlen, "ledger %s: hash %s unavailable", s->site, alg);
		errno = EINVAL;
		return -1;
	}
	if (o->key == NULL)
		return 0;
	if (!checkpoint_key_can_sign(o->key) ||
	    checkpoint_key_id(o->key, s->origin, &id) == -1 ||
	    (pem = checkpoint_key_public_pem(o->key)) == NULL) {
		gk_errf(err, errlen, "ledger %s: the signing key is not a private "
		    "key that can sign", s->site);
		errno = EINVAL;
		return -1;
	}
	snprintf(idbuf, sizeof(idbuf), "%08" PRIx32, id);
	gk_strlcpy(s->key_id, idbuf, sizeof(s->key_id));
	p[0] = s->site;
	p[1] = s->key_id;
	p[2] = checkpoint_sigalg_name(checkpoint_key_alg(o->key));
	p[3] = pem;
	rc = gk_db_cmd(s->db, "INSERT INTO ledger_key (site, key_id, sig_alg, "
	    "public_key) VALUES ($1, $2, $3, $4) ON CONFLICT (site, key_id) "
	    "DO NOTHING", 4, p);
	free(pem);
	if (rc == -1) {
		dberr(s, err, errlen, "registering the signing key");
		return -1;
	}
	s->key = o->key;
	return 0;
}

struct ledger_store *
ledger_store_open(struct gk_db *db, const struct ledger_store_opts *o, char *err,
    size_t errlen)
{
	struct ledger_store	*s;

	if (db == NULL || o == NULL || o->site == NULL || !site_valid(o->site)) {
		gk_errf(err, errlen, "ledger: bad site '%s'",
		    o != NULL && o->site != NULL ? o->site : "");
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		gk_errf(err, errlen, "ledger: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->db = db;
	s->wait_lock = o->wait_lock;
	gk_strlcpy(s->site, o->site, sizeof(s->site));
	if (open_log(s, o, err, errlen) == -1 || refresh(s, err, errlen) == -1) {
		int	e = errno;

		ledger_store_close(s);
		errno = e;
		return NULL;
	}
	return s;
}

void
ledger_store_close(struct ledger_store *s)
{
	const char	*p[1];

	if (s == NULL)
		return;
	/* Each refresh took the (re-entrant) lock once: give back as many. */
	p[0] = s->site;
	while (s->locks > 0 && gk_db_connected(s->db) && gk_db_cmd(s->db,
	    "SELECT pg_advisory_unlock(hashtext('ecogate.ledger'), hashtext($1))",
	    1, p) == 0)
		s->locks--;
	merkle_hasher_free(s->h);
	free(s->idxbuf.p);
	free(s->recbuf.p);
	free(s->tiles);
	free(s);
}

uint64_t
ledger_store_size(const struct ledger_store *s)
{
	return s->size;
}

int
ledger_store_root(struct ledger_store *s, struct merkle_hash *root)
{
	return merkle_tree_root(&s->tree, s->h, root);
}

struct merkle_hasher *
ledger_store_hasher(struct ledger_store *s)
{
	return s->h;
}

const char *
ledger_store_site(const struct ledger_store *s)
{
	return s->site;
}

const char *
ledger_store_origin(const struct ledger_store *s)
{
	return s->origin;
}

/* ---- appending ---- */

void
ledger_item_clear(struct ledger_item *it)
{
	free(it->body);
	it->body = NULL;
	it->bodylen = 0;
	it->status = LEDGER_ITEM_PENDING;
	it->seq = 0;
	it->reason[0] = '\0';
}

static const char *const kinds[] = { "passage", "audit", "import", "alarm" };
static const char *const ledgers[] = { "transport", "fleet", "machinery" };

static int
in_set(const char *s, const char *const *set, size_t n)
{
	size_t	i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

static int
item_check(struct ledger_item *it)
{
	int64_t	ms;

	if (!in_set(it->kind, kinds, GK_NELEM(kinds)))
		snprintf(it->reason, sizeof(it->reason), "kind '%s' unknown",
		    it->kind != NULL ? it->kind : "");
	else if (it->ledger != NULL && !in_set(it->ledger, ledgers,
	    GK_NELEM(ledgers)))
		snprintf(it->reason, sizeof(it->reason), "ledger '%s' unknown",
		    it->ledger);
	else if (it->event_id == NULL || !gk_id_canonical(it->event_id))
		snprintf(it->reason, sizeof(it->reason),
		    "event_id is not a canonical UUID");
	else if (it->event_ts == NULL || gk_ts_parse(it->event_ts, &ms) == -1)
		snprintf(it->reason, sizeof(it->reason),
		    "event_ts is not an RFC 3339 time");
	else
		return 0;
	it->status = LEDGER_ITEM_INVALID;
	return -1;
}

/* The record object of docs/ledger.md. NULL on out of memory. */
static json_t *
record_object(struct ledger_store *s, const struct ledger_item *it, uint64_t seq,
    const char *recorded_at)
{
	json_t	*o = json_object();
	int	 bad = o == NULL;

	bad |= json_object_set_new(o, "schema", json_string(LEDGER_RECORD_SCHEMA));
	bad |= json_object_set_new(o, "site", json_string(s->site));
	bad |= json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	bad |= json_object_set_new(o, "kind", json_string(it->kind));
	if (it->ledger != NULL)
		bad |= json_object_set_new(o, "ledger", json_string(it->ledger));
	bad |= json_object_set_new(o, "event_id", json_string(it->event_id));
	bad |= json_object_set_new(o, "event_ts", json_string(it->event_ts));
	bad |= json_object_set_new(o, "recorded_at", json_string(recorded_at));
	if (it->source != NULL)
		bad |= json_object_set(o, "source", it->source);
	bad |= it->fields != NULL ? json_object_set(o, "fields", it->fields) :
	    json_object_set_new(o, "fields", json_object());
	if (it->evidence != NULL)
		bad |= json_object_set(o, "evidence", it->evidence);
	if (it->registry != NULL)
		bad |= json_object_set(o, "registry", it->registry);
	bad |= it->event != NULL ? json_object_set(o, "event", it->event) :
	    json_object_set_new(o, "event", json_object());
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Keeps what merkle_tree_append() created at tile levels; full rows go out. */
static int
edge_push(struct ledger_store *s, const struct merkle_node *nodes, size_t n)
{
	size_t		 i;
	unsigned	 L;
	struct tile_out	*t;

	for (i = 0; i < n; i++) {
		if (nodes[i].level % MERKLE_TILE_HEIGHT != 0)
			continue;
		L = nodes[i].level / MERKLE_TILE_HEIGHT;
		if (L >= TILE_LEVELS)
			continue;	/* beyond 2^64 leaves: never */
		s->edge[L][s->edgew[L]++] = nodes[i].hash;
		if (s->edgew[L] < MERKLE_TILE_WIDTH)
			continue;
		if (s->ntiles == s->tilecap) {
			size_t	cap = s->tilecap ? 2 * s->tilecap : 4;

			if ((t = realloc(s->tiles, cap * sizeof(*t))) == NULL)
				return -1;
			s->tiles = t;
			s->tilecap = cap;
		}
		t = &s->tiles[s->ntiles++];
		t->level = L;
		t->idx = nodes[i].index / MERKLE_TILE_WIDTH;
		memcpy(t->row, s->edge[L], sizeof(t->row));
		s->edgew[L] = 0;
	}
	return 0;
}

/* The ids already in the log, marked DUPLICATE; in-batch repeats too. */
static int
mark_duplicates(struct ledger_store *s, struct ledger_batch *b, char *err,
    size_t errlen)
{
	struct buf		 arr = { 0 };
	struct gk_db_res	*r;
	const char		*p[2];
	size_t			 i;
	int			 k, any = 0;

	if (buf_str(&arr, "{") == -1)
		goto oom;
	for (i = 0; i < b->nitems; i++) {
		struct ledger_item *it = &b->items[i];

		if (it->status != LEDGER_ITEM_PENDING)
			continue;
		if ((any && buf_str(&arr, ",") == -1) ||
		    buf_str(&arr, it->event_id) == -1)
			goto oom;
		any = 1;
	}
	if (buf_str(&arr, "}") == -1)
		goto oom;
	if (!any) {
		free(arr.p);
		return 0;
	}
	p[0] = s->site;
	p[1] = arr.p;
	r = gk_db_exec(s->db, "SELECT event_id::text FROM ledger_index WHERE "
	    "site = $1 AND event_id = ANY ($2::uuid[])", 2, p);
	free(arr.p);
	if (r == NULL) {
		dberr(s, err, errlen, "looking for duplicates");
		return -1;
	}
	for (k = 0; k < gk_db_res_nrows(r); k++)
		for (i = 0; i < b->nitems; i++)
			if (b->items[i].status == LEDGER_ITEM_PENDING &&
			    strcmp(b->items[i].event_id, gk_db_res_value(r, k, 0)) == 0)
				b->items[i].status = LEDGER_ITEM_DUPLICATE;
	gk_db_res_free(r);
	return 0;
oom:
	free(arr.p);
	gk_errf(err, errlen, "ledger %s: out of memory", s->site);
	errno = ENOMEM;
	return -1;
}

/* Repeats within the batch (a producer's retry): all but the first are duplicates. */
static int
mark_repeats(struct ledger_batch *b)
{
	size_t		 cap, i, j, slot;
	const char	**tab;
	uint64_t	 hsh;

	cap = 1;
	while (cap < 2 * b->nitems)
		cap <<= 1;
	if ((tab = calloc(cap, sizeof(*tab))) == NULL)
		return -1;
	for (i = 0; i < b->nitems; i++) {
		struct ledger_item *it = &b->items[i];

		if (it->status != LEDGER_ITEM_PENDING)
			continue;
		hsh = 1469598103934665603ULL;
		for (j = 0; it->event_id[j] != '\0'; j++)
			hsh = (hsh ^ (unsigned char)it->event_id[j]) *
			    1099511628211ULL;
		for (slot = hsh & (cap - 1); tab[slot] != NULL;
		    slot = (slot + 1) & (cap - 1))
			if (strcmp(tab[slot], it->event_id) == 0)
				break;
		if (tab[slot] != NULL)
			it->status = LEDGER_ITEM_DUPLICATE;
		else
			tab[slot] = it->event_id;
	}
	free(tab);
	return 0;
}

/* Lock still ours and the log the size we believe; else refresh once. */
static int
check_state(struct ledger_store *s, int *retry, char *err, size_t errlen)
{
	struct gk_db_res	*r;
	const char		*p[1] = { s->site };
	int			 held;
	uint64_t		 size;

	r = gk_db_exec(s->db, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE "
	    "locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND "
	    "classid = hashtext('ecogate.ledger')::oid AND "
	    "objid = hashtext($1)::oid AND objsubid = 2), "
	    "(SELECT coalesce(max(seq) + 1, 0) FROM ledger_index WHERE site = $1)",
	    1, p);
	if (r == NULL || gk_db_res_nrows(r) != 1) {
		dberr(s, err, errlen, "checking the lock");
		gk_db_res_free(r);
		return -1;
	}
	held = strcmp(gk_db_res_value(r, 0, 0), "t") == 0;
	size = strtoull(gk_db_res_value(r, 0, 1), NULL, 10);
	gk_db_res_free(r);
	if (held && size == s->size)
		return 0;
	gk_log(GK_LOG_WARN, "ledger.state_changed", "site=%s lock_held=%d "
	    "size=%" PRIu64 " expected=%" PRIu64, s->site, held, size, s->size);
	*retry = 1;
	return -1;
}

static int
ensure_partition(struct ledger_store *s, const char *recorded_at, char *err,
    size_t errlen)
{
	const char	*p[1] = { recorded_at };

	if (strncmp(s->month, recorded_at, 7) == 0)
		return 0;
	if (gk_db_cmd(s->db, "SELECT ledger_partition($1)", 1, p) == -1) {
		dberr(s, err, errlen, "making the month's partition");
		return -1;
	}
	memcpy(s->month, recorded_at, 7);
	s->month[7] = '\0';
	return 0;
}

static int
put_evidence(struct ledger_store *s, const struct ledger_batch *b, char *err,
    size_t errlen)
{
	size_t		 i;
	char		*hash, *content, size[24];
	const char	*p[4];
	int		 rc;

	for (i = 0; i < b->nevidence; i++) {
		const struct ledger_evidence *e = &b->evidence[i];

		hash = bytea_param(e->sha256, 32);
		content = bytea_param(e->content, e->len);
		snprintf(size, sizeof(size), "%zu", e->len);
		p[0] = hash;
		p[1] = e->media_type;
		p[2] = size;
		p[3] = content;
		rc = hash == NULL || content == NULL ? -1 : gk_db_cmd(s->db,
		    "INSERT INTO evidence (sha256, media_type, size, content) VALUES "
		    "($1::bytea, $2, $3, $4::bytea) ON CONFLICT (sha256) DO NOTHING",
		    4, p);
		free(hash);
		free(content);
		if (rc == -1) {
			dberr(s, err, errlen, "storing evidence");
			return -1;
		}
	}
	return 0;
}

static int
put_rejects(struct ledger_store *s, const struct ledger_batch *b, char *err,
    size_t errlen)
{
	size_t		 i;
	char		 part[16], off[24], *key, *val;
	const char	*p[7];
	int		 rc;

	for (i = 0; i < b->nrejects; i++) {
		const struct ledger_reject *r = &b->rejects[i];

		snprintf(part, sizeof(part), "%d", r->partition);
		snprintf(off, sizeof(off), "%" PRId64, r->offset);
		key = r->key != NULL ? bytea_param(r->key, r->keylen) : NULL;
		val = r->value != NULL ? bytea_param(r->value, r->vallen) : NULL;
		p[0] = r->topic;
		p[1] = part;
		p[2] = off;
		p[3] = s->site;
		p[4] = r->reason;
		p[5] = key;
		p[6] = val;
		rc = (r->key != NULL && key == NULL) || (r->value != NULL &&
		    val == NULL) ? -1 : gk_db_cmd(s->db, "INSERT INTO ledger_reject "
		    "(topic, partition, \"offset\", site, reason, key, value) VALUES "
		    "($1, $2, $3, $4, left($5, 400), $6::bytea, $7::bytea) "
		    "ON CONFLICT DO NOTHING", 7, p);
		free(key);
		free(val);
		if (rc == -1) {
			dberr(s, err, errlen, "storing a reject");
			return -1;
		}
	}
	return 0;
}

static int
put_tiles(struct ledger_store *s, char *err, size_t errlen)
{
	size_t		 i;
	char		 lv[8], ix[24], *hashes;
	const char	*p[4];
	int		 rc;

	for (i = 0; i < s->ntiles; i++) {
		snprintf(lv, sizeof(lv), "%u", s->tiles[i].level);
		snprintf(ix, sizeof(ix), "%" PRIu64, s->tiles[i].idx);
		if ((hashes = bytea_param(s->tiles[i].row,
		    sizeof(s->tiles[i].row))) == NULL) {
			gk_errf(err, errlen, "ledger %s: out of memory", s->site);
			return -1;
		}
		p[0] = s->site;
		p[1] = lv;
		p[2] = ix;
		p[3] = hashes;
		rc = gk_db_cmd(s->db, "INSERT INTO ledger_tile (site, level, idx, "
		    "hashes) VALUES ($1, $2, $3, $4::bytea)", 4, p);
		free(hashes);
		if (rc == -1) {
			dberr(s, err, errlen, "storing a tile");
			return -1;
		}
	}
	return 0;
}

static int
put_offsets(struct ledger_store *s, const struct ledger_batch *b, char *err,
    size_t errlen)
{
	size_t		 i;
	char		 part[16], off[24];
	const char	*p[4];

	for (i = 0; i < b->noffsets; i++) {
		snprintf(part, sizeof(part), "%d", b->offsets[i].partition);
		snprintf(off, sizeof(off), "%" PRId64, b->offsets[i].next_offset);
		p[0] = b->offsets[i].consumer;
		p[1] = b->offsets[i].topic;
		p[2] = part;
		p[3] = off;
		if (gk_db_cmd(s->db, "INSERT INTO ledger_offset (consumer, topic, "
		    "partition, next_offset) VALUES ($1, $2, $3, $4) ON CONFLICT "
		    "(consumer, topic, partition) DO UPDATE SET next_offset = "
		    "EXCLUDED.next_offset, updated_at = now()", 4, p) == -1) {
			dberr(s, err, errlen, "storing offsets");
			return -1;
		}
	}
	return 0;
}

static int
copy_rows(struct ledger_store *s, const char *sql, const struct buf *b,
    const char *what, char *err, size_t errlen)
{
	int64_t	rows;

	if (gk_db_copy_begin(s->db, sql) == -1) {
		dberr(s, err, errlen, what);
		return -1;
	}
	if (gk_db_copy_put(s->db, b->p, b->len) == -1) {
		(void)gk_db_copy_end(s->db, "put failed", NULL);
		dberr(s, err, errlen, what);
		return -1;
	}
	if (gk_db_copy_end(s->db, NULL, &rows) == -1) {
		dberr(s, err, errlen, what);
		return -1;
	}
	return 0;
}

/* Builds each new record, extends the tree and the COPY buffers. */
static int
build_records(struct ledger_store *s, struct ledger_batch *b,
    const char *recorded_at, size_t *nnew, char *err, size_t errlen)
{
	struct merkle_node	 nodes[MERKLE_MAX_LEVELS];
	size_t			 i, nn, blen;
	char			 num[24], jerr[120], hex[HEXHASH];
	json_t			*o;
	char			*body;

	*nnew = 0;
	s->idxbuf.len = s->recbuf.len = 0;
	s->ntiles = 0;
	for (i = 0; i < b->nitems; i++) {
		struct ledger_item *it = &b->items[i];

		if (it->status != LEDGER_ITEM_PENDING)
			continue;
		if ((o = record_object(s, it, s->size, recorded_at)) == NULL)
			goto oom;
		body = jcs_canonical(o, &blen, jerr, sizeof(jerr));
		json_decref(o);
		if (body == NULL) {
			it->status = LEDGER_ITEM_INVALID;
			snprintf(it->reason, sizeof(it->reason), "not canonicalisable: "
			    "%s", jerr);
			continue;
		}
		if (merkle_leaf_hash(s->h, body, blen, &it->leaf) == -1 ||
		    merkle_tree_append(&s->tree, s->h, &it->leaf, nodes,
		    &nn) == -1) {
			free(body);
			gk_errf(err, errlen, "ledger %s: hashing failed", s->site);
			return -1;
		}
		if (edge_push(s, nodes, nn) == -1) {
			free(body);
			goto oom;
		}
		it->seq = s->size++;
		it->body = body;
		it->bodylen = blen;
		it->status = LEDGER_ITEM_APPENDED;
		(*nnew)++;

		snprintf(num, sizeof(num), "%" PRIu64, it->seq);
		hex[0] = '\\';
		hex[1] = 'x';
		hex_encode(it->leaf.b, MERKLE_HASH_LEN, hex + 2);
		/* ledger_index: site, seq, event_id, recorded_at */
		if (buf_csv(&s->idxbuf, s->site, strlen(s->site)) == -1 ||
		    buf_add(&s->idxbuf, ",", 1) == -1 ||
		    buf_str(&s->idxbuf, num) == -1 ||
		    buf_add(&s->idxbuf, ",", 1) == -1 ||
		    buf_str(&s->idxbuf, it->event_id) == -1 ||
		    buf_add(&s->idxbuf, ",", 1) == -1 ||
		    buf_str(&s->idxbuf, recorded_at) == -1 ||
		    buf_add(&s->idxbuf, "\n", 1) == -1)
			goto oom;
		/*
		 * ledger_record: site, seq, recorded_at, event_id, kind, ledger,
		 * event_ts, lane, plate, body, leaf_hash
		 */
		if (buf_csv(&s->recbuf, s->site, strlen(s->site)) == -1 ||
		    buf_add(&s->recbuf, ",", 1) == -1 ||
		    buf_str(&s->recbuf, num) == -1 ||
		    buf_add(&s->recbuf, ",", 1) == -1 ||
		    buf_str(&s->recbuf, recorded_at) == -1 ||
		    buf_add(&s->recbuf, ",", 1) == -1 ||
		    buf_str(&s->recbuf, it->event_id) == -1 ||
		    buf_add(&s->recbuf, ",", 1) == -1 ||
		    buf_csv(&s->recbuf, it->kind, strlen(it->kind)) == -1 ||
		    buf_add(&s->recbuf, ",", 1) == -1 ||
		    (it->ledger != NULL && buf_str(&s->recbuf, it->ledger) == -1) ||
		    buf_add(&s->recbuf, ",", 1) == -1 ||
		    buf_csv(&s->recbuf, it->event_ts, strlen(it->event_ts)) == -1 ||
		    buf_add(&s->recbuf, ",", 1) == -1 ||
		    (it->lane != NULL && buf_csv(&s->recbuf, it->lane,
		    strlen(it->lane)) == -1) ||
		    buf_add(&s->recbuf, ",", 1) == -1 ||
		    (it->plate != NULL && buf_csv(&s->recbuf, it->plate,
		    strlen(it->plate)) == -1) ||
		    buf_add(&s->recbuf, ",", 1) == -1 ||
		    buf_csv(&s->recbuf, body, blen) == -1 ||
		    buf_add(&s->recbuf, ",", 1) == -1 ||
		    buf_str(&s->recbuf, hex) == -1 ||
		    buf_add(&s->recbuf, "\n", 1) == -1)
			goto oom;
	}
	return 0;
oom:
	gk_errf(err, errlen, "ledger %s: out of memory", s->site);
	errno = ENOMEM;
	return -1;
}

static int
commit(struct ledger_store *s, char *err, size_t errlen)
{
	if (gk_db_commit(s->db) == -1) {
		dberr(s, err, errlen, "COMMIT");
		return -1;
	}
	return 0;
}

static void
batch_reset(struct ledger_batch *b)
{
	size_t	i;

	for (i = 0; i < b->nitems; i++)
		if (b->items[i].status != LEDGER_ITEM_INVALID)
			ledger_item_clear(&b->items[i]);
}

int
ledger_store_append(struct ledger_store *s, struct ledger_batch *b, char *err,
    size_t errlen)
{
	char	 recorded_at[GK_TS_LEN];
	size_t	 i, nnew;
	int	 attempt, retry;

	if (b->nitems > LEDGER_BATCH_MAX) {
		gk_errf(err, errlen, "ledger %s: batch of %zu records, at most %d",
		    s->site, b->nitems, LEDGER_BATCH_MAX);
		errno = E2BIG;
		return -1;
	}
	if (gk_ts_format(b->recorded_at_ms > 0 ? b->recorded_at_ms : gk_wall_ms(),
	    recorded_at, sizeof(recorded_at)) == -1) {
		gk_errf(err, errlen, "ledger %s: bad recorded_at", s->site);
		errno = EINVAL;
		return -1;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		retry = 0;
		for (i = 0; i < b->nitems; i++) {
			ledger_item_clear(&b->items[i]);
			(void)item_check(&b->items[i]);
		}
		if (s->stale && refresh(s, err, errlen) == -1)
			break;
		if (gk_db_begin(s->db) == -1) {
			dberr(s, err, errlen, "BEGIN");
			s->stale = 1;
			(void)gk_db_rollback(s->db);
			continue;
		}
		if (check_state(s, &retry, err, errlen) == -1 ||
		    mark_repeats(b) == -1 ||
		    mark_duplicates(s, b, err, errlen) == -1 ||
		    ensure_partition(s, recorded_at, err, errlen) == -1 ||
		    put_evidence(s, b, err, errlen) == -1 ||
		    put_rejects(s, b, err, errlen) == -1 ||
		    build_records(s, b, recorded_at, &nnew, err, errlen) == -1 ||
		    (nnew > 0 && copy_rows(s, "COPY ledger_index (site, seq, "
		    "event_id, recorded_at) FROM STDIN (FORMAT csv)", &s->idxbuf,
		    "copying ledger_index", err, errlen) == -1) ||
		    (nnew > 0 && copy_rows(s, "COPY ledger_record (site, seq, "
		    "recorded_at, event_id, kind, ledger, event_ts, lane, plate, "
		    "body, leaf_hash) FROM STDIN (FORMAT csv)", &s->recbuf,
		    "copying ledger_record", err, errlen) == -1) ||
		    put_tiles(s, err, errlen) == -1 ||
		    put_offsets(s, b, err, errlen) == -1 ||
		    commit(s, err, errlen) == -1) {
			(void)gk_db_rollback(s->db);
			s->stale = 1;
			s->month[0] = '\0';	/* the partition may be rolled back */
			batch_reset(b);
			if (retry)
				continue;
			return -1;
		}
		/* The tiles that came full are stored: they are the cache's now. */
		for (i = 0; i < s->ntiles; i++) {
			struct tile_cache *c = &s->cache[s->tiles[i].level];

			c->valid = 1;
			c->idx = s->tiles[i].idx;
			memcpy(c->row, s->tiles[i].row, sizeof(c->row));
		}
		s->ntiles = 0;
		return 0;
	}
	if (errno == 0)
		errno = EIO;
	return -1;
}

/* ---- checkpoints and reads ---- */

void
ledger_checkpoint_clear(struct ledger_checkpoint *c)
{
	free(c->note);
	memset(c, 0, sizeof(*c));
}

static int
read_checkpoint(struct ledger_store *s, const char *size, struct ledger_checkpoint *out,
    char *err, size_t errlen)
{
	struct gk_db_res	*r;
	const char		*p[2] = { s->site, size };
	char			 perr[160];
	const char		*note;
	int			 rc;

	r = size != NULL ? gk_db_exec(s->db, "SELECT note, key_id FROM "
	    "ledger_checkpoint WHERE site = $1 AND tree_size = $2", 2, p) :
	    gk_db_exec(s->db, "SELECT note, key_id FROM ledger_checkpoint WHERE "
	    "site = $1 ORDER BY tree_size DESC LIMIT 1", 1, p);
	if (r == NULL) {
		dberr(s, err, errlen, "reading a checkpoint");
		return -1;
	}
	if (gk_db_res_nrows(r) == 0) {
		gk_db_res_free(r);
		return 0;
	}
	note = gk_db_res_value(r, 0, 0);
	memset(out, 0, sizeof(*out));
	if (checkpoint_parse(note, strlen(note), &out->cp, perr,
	    sizeof(perr)) == -1 || (out->note = strdup(note)) == NULL) {
		gk_errf(err, errlen, "ledger %s: stored checkpoint unreadable: %s",
		    s->site, perr);
		gk_db_res_free(r);
		return -1;
	}
	gk_strlcpy(out->key_id, gk_db_res_value(r, 0, 1), sizeof(out->key_id));
	rc = 1;
	gk_db_res_free(r);
	return rc;
}

int
ledger_store_last_checkpoint(struct ledger_store *s, struct ledger_checkpoint *out,
    char *err, size_t errlen)
{
	return read_checkpoint(s, NULL, out, err, errlen);
}

int
ledger_store_checkpoint(struct ledger_store *s, int64_t now_ms,
    struct ledger_checkpoint *out, char *err, size_t errlen)
{
	struct checkpoint	 cp;
	struct gk_db_res	*r;
	char			 size[24], ts[GK_TS_LEN], *root, *note, serr[200];
	const char		*p[6];
	int64_t			 n;

	memset(out, 0, sizeof(*out));
	if (s->key == NULL) {
		gk_errf(err, errlen, "ledger %s: no signing key", s->site);
		errno = EINVAL;
		return -1;
	}
	if (s->stale && refresh(s, err, errlen) == -1)
		return -1;
	memset(&cp, 0, sizeof(cp));
	gk_strlcpy(cp.origin, s->origin, sizeof(cp.origin));
	cp.size = s->size;
	cp.alg = s->alg;
	cp.time_ms = now_ms > 0 ? now_ms : gk_wall_ms();
	if (merkle_tree_root(&s->tree, s->h, &cp.root) == -1 ||
	    gk_ts_format(cp.time_ms, ts, sizeof(ts)) == -1) {
		gk_errf(err, errlen, "ledger %s: no root", s->site);
		return -1;
	}
	if ((note = checkpoint_sign(&cp, s->key, serr, sizeof(serr))) == NULL) {
		gk_errf(err, errlen, "ledger %s: signing: %s", s->site, serr);
		return -1;
	}
	snprintf(size, sizeof(size), "%" PRIu64, cp.size);
	if ((root = bytea_param(cp.root.b, MERKLE_HASH_LEN)) == NULL) {
		free(note);
		return -1;
	}
	p[0] = s->site;
	p[1] = size;
	p[2] = root;
	p[3] = ts;
	p[4] = s->key_id;
	p[5] = note;
	r = gk_db_exec(s->db, "INSERT INTO ledger_checkpoint (site, tree_size, "
	    "root_hash, signed_at, key_id, note) VALUES ($1, $2, $3::bytea, $4, $5, "
	    "$6) ON CONFLICT (site, tree_size) DO NOTHING", 6, p);
	free(root);
	if (r == NULL) {
		free(note);
		dberr(s, err, errlen, "storing a checkpoint");
		if (gk_db_err_is_connection(s->db))
			s->stale = 1;
		return -1;
	}
	n = gk_db_res_cmd_tuples(r);
	gk_db_res_free(r);
	if (n == 1) {
		out->cp = cp;
		out->note = note;
		gk_strlcpy(out->key_id, s->key_id, sizeof(out->key_id));
		return 0;
	}
	free(note);
	return read_checkpoint(s, size, out, err, errlen) == 1 ? 0 : -1;
}

int
ledger_store_offset(struct ledger_store *s, const char *consumer, const char *topic,
    int partition, int64_t *next)
{
	struct gk_db_res	*r;
	char			 part[16];
	const char		*p[3] = { consumer, topic, part };
	int			 rc;

	snprintf(part, sizeof(part), "%d", partition);
	r = gk_db_exec(s->db, "SELECT next_offset FROM ledger_offset WHERE "
	    "consumer = $1 AND topic = $2 AND partition = $3", 3, p);
	if (r == NULL)
		return -1;
	rc = gk_db_res_nrows(r) == 1;
	if (rc)
		*next = strtoll(gk_db_res_value(r, 0, 0), NULL, 10);
	gk_db_res_free(r);
	return rc;
}

int
ledger_store_has_evidence(struct ledger_store *s, const uint8_t sha256[32])
{
	struct gk_db_res	*r;
	char			*h;
	const char		*p[1];
	int			 rc;

	if ((h = bytea_param(sha256, 32)) == NULL)
		return -1;
	p[0] = h;
	r = gk_db_exec(s->db, "SELECT 1 FROM evidence WHERE sha256 = $1::bytea", 1,
	    p);
	free(h);
	if (r == NULL)
		return -1;
	rc = gk_db_res_nrows(r) == 1;
	gk_db_res_free(r);
	return rc;
}

char *
ledger_store_record(struct ledger_store *s, uint64_t seq, size_t *len)
{
	struct gk_db_res	*r;
	char			 num[24], *body = NULL;
	const char		*p[2] = { s->site, num };

	snprintf(num, sizeof(num), "%" PRIu64, seq);
	r = gk_db_exec(s->db, "SELECT body FROM ledger_record WHERE site = $1 AND "
	    "seq = $2", 2, p);
	if (r != NULL && gk_db_res_nrows(r) == 1 &&
	    (body = strdup(gk_db_res_value(r, 0, 0))) != NULL && len != NULL)
		*len = strlen(body);
	gk_db_res_free(r);
	return body;
}
