/*
 * RFC 9162 Merkle tree over stored complete subtrees (see merkle.h). Proof generation
 * follows the RFC's recursive definitions of PATH and SUBPROOF directly, because
 * every subtree they name is either complete (one read) or the right edge of a
 * subtree starting at an aligned leaf, which decomposes into at most 64 complete
 * ones; the recursion is at most 64 deep. Verification is the RFC's iterative
 * algorithm, written step by step so it can be read next to sections 2.1.3.2 and
 * 2.1.4.2.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "merkle.h"

struct merkle_hasher {
	enum merkle_alg	 alg;
	EVP_MD		*md;
	EVP_MD_CTX	*ctx;
};

const char *
merkle_alg_name(enum merkle_alg alg)
{
	return alg == MERKLE_SM3 ? "sm3" : "sha256";
}

int
merkle_alg_parse(const char *name, enum merkle_alg *alg)
{
	if (name != NULL && strcmp(name, "sha256") == 0)
		*alg = MERKLE_SHA256;
	else if (name != NULL && strcmp(name, "sm3") == 0)
		*alg = MERKLE_SM3;
	else
		return -1;
	return 0;
}

struct merkle_hasher *
merkle_hasher_new(enum merkle_alg alg)
{
	struct merkle_hasher *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->alg = alg;
	h->md = EVP_MD_fetch(NULL, alg == MERKLE_SM3 ? "SM3" : "SHA256", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (h->md == NULL || h->ctx == NULL ||
	    EVP_MD_get_size(h->md) != MERKLE_HASH_LEN) {
		merkle_hasher_free(h);
		return NULL;
	}
	return h;
}

void
merkle_hasher_free(struct merkle_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

enum merkle_alg
merkle_hasher_alg(const struct merkle_hasher *h)
{
	return h->alg;
}

/* H(a || b || c), any part may be empty; out may alias an input. */
static int
digest3(struct merkle_hasher *h, const void *a, size_t alen, const void *b,
    size_t blen, const void *c, size_t clen, struct merkle_hash *out)
{
	unsigned int olen = 0;

	if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 ||
	    (alen && EVP_DigestUpdate(h->ctx, a, alen) != 1) ||
	    (blen && EVP_DigestUpdate(h->ctx, b, blen) != 1) ||
	    (clen && EVP_DigestUpdate(h->ctx, c, clen) != 1) ||
	    EVP_DigestFinal_ex(h->ctx, out->b, &olen) != 1 ||
	    olen != MERKLE_HASH_LEN)
		return -1;
	return 0;
}

int
merkle_leaf_hash(struct merkle_hasher *h, const void *data, size_t len,
    struct merkle_hash *out)
{
	static const uint8_t leaf_prefix = 0x00;

	return digest3(h, &leaf_prefix, 1, data, len, NULL, 0, out);
}

int
merkle_node_hash(struct merkle_hasher *h, const struct merkle_hash *l,
    const struct merkle_hash *r, struct merkle_hash *out)
{
	static const uint8_t node_prefix = 0x01;

	return digest3(h, &node_prefix, 1, l->b, MERKLE_HASH_LEN, r->b,
	    MERKLE_HASH_LEN, out);
}

int
merkle_empty_root(struct merkle_hasher *h, struct merkle_hash *out)
{
	return digest3(h, NULL, 0, NULL, 0, NULL, 0, out);
}

/* The largest power of two strictly below n (n >= 2): RFC 9162's k. */
static uint64_t
split_point(uint64_t n)
{
	return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

void
merkle_tree_init(struct merkle_tree *t)
{
	memset(t, 0, sizeof(*t));
}

int
merkle_tree_load(struct merkle_tree *t, uint64_t size,
    const struct merkle_store *s)
{
	unsigned l;

	merkle_tree_init(t);
	for (l = 0; l < MERKLE_MAX_LEVELS; l++) {
		if (!((size >> l) & 1))
			continue;
		if (s->get(s->arg, l, (size >> l) - 1, &t->edge[l]) == -1) {
			merkle_tree_init(t);
			return -1;
		}
	}
	t->size = size;
	return 0;
}

int
merkle_tree_append(struct merkle_tree *t, struct merkle_hasher *h,
    const struct merkle_hash *leaf, struct merkle_node *out, size_t *nout)
{
	struct merkle_hash cur = *leaf;
	uint64_t idx = t->size;
	unsigned level = 0;
	size_t n = 0;

	if (t->size >= UINT64_C(1) << 63) {
		errno = EOVERFLOW;
		return -1;
	}
	out[n].level = 0;
	out[n].index = idx;
	out[n++].hash = cur;
	/* Each trailing one bit of the old size is a left sibling now completed. */
	while (idx & 1) {
		if (merkle_node_hash(h, &t->edge[level], &cur, &cur) == -1)
			return -1;
		level++;
		idx >>= 1;
		out[n].level = level;
		out[n].index = idx;
		out[n++].hash = cur;
	}
	t->edge[level] = cur;
	t->size++;
	*nout = n;
	return 0;
}

int
merkle_tree_root(const struct merkle_tree *t, struct merkle_hasher *h,
    struct merkle_hash *root)
{
	unsigned l;
	int have = 0;

	/* Fold the complete subtrees from the smallest (rightmost) leftwards. */
	for (l = 0; l < MERKLE_MAX_LEVELS; l++) {
		if (!((t->size >> l) & 1))
			continue;
		if (!have) {
			*root = t->edge[l];
			have = 1;
		} else if (merkle_node_hash(h, &t->edge[l], root, root) == -1)
			return -1;
	}
	return have ? 0 : merkle_empty_root(h, root);
}

/*
 * MTH(D[lo:hi]) for 0 < hi - lo, lo aligned to the largest power of two in hi - lo
 * (true of every subtree RFC 9162's recursions name): the complete subtrees of the
 * range, largest first, folded from the right.
 */
static int
range_hash(struct merkle_hasher *h, const struct merkle_store *s, uint64_t lo,
    uint64_t hi, struct merkle_hash *out)
{
	struct merkle_hash part[MERKLE_MAX_LEVELS];
	uint64_t pos = lo, len = hi - lo;
	int l, n = 0, i;

	for (l = MERKLE_MAX_LEVELS - 1; l >= 0; l--) {
		if (!((len >> l) & 1))
			continue;
		if (pos & ((UINT64_C(1) << l) - 1)) {
			errno = EINVAL;
			return -1;
		}
		if (s->get(s->arg, (unsigned)l, pos >> l, &part[n]) == -1)
			return -1;
		n++;
		pos += UINT64_C(1) << l;
	}
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	*out = part[n - 1];
	for (i = n - 2; i >= 0; i--)
		if (merkle_node_hash(h, &part[i], out, out) == -1)
			return -1;
	return 0;
}

int
merkle_root(struct merkle_hasher *h, const struct merkle_store *s,
    uint64_t size, struct merkle_hash *root)
{
	if (size == 0)
		return merkle_empty_root(h, root);
	return range_hash(h, s, 0, size, root);
}

/* PATH(m, D[lo:hi]) of RFC 9162 2.1.3.1, appended to proof. */
static int
path(struct merkle_hasher *h, const struct merkle_store *s, uint64_t m,
    uint64_t lo, uint64_t hi, struct merkle_hash *proof, size_t *n)
{
	uint64_t k;

	if (hi - lo == 1)
		return 0;
	k = split_point(hi - lo);
	if (*n >= MERKLE_MAX_PROOF) {
		errno = EOVERFLOW;
		return -1;
	}
	if (m < lo + k) {
		if (path(h, s, m, lo, lo + k, proof, n) == -1)
			return -1;
		return range_hash(h, s, lo + k, hi, &proof[(*n)++]);
	}
	if (path(h, s, m, lo + k, hi, proof, n) == -1)
		return -1;
	return range_hash(h, s, lo, lo + k, &proof[(*n)++]);
}

int
merkle_inclusion_proof(struct merkle_hasher *h, const struct merkle_store *s,
    uint64_t index, uint64_t size, struct merkle_hash *proof, size_t *n)
{
	*n = 0;
	if (index >= size) {
		errno = EINVAL;
		return -1;
	}
	return path(h, s, index, 0, size, proof, n);
}

/* SUBPROOF(m, D[lo:hi], b) of RFC 9162 2.1.4.1, m counted from lo. */
static int
subproof(struct merkle_hasher *h, const struct merkle_store *s, uint64_t m,
    uint64_t lo, uint64_t hi, int b, struct merkle_hash *proof, size_t *n)
{
	uint64_t k;

	if (*n >= MERKLE_MAX_PROOF) {
		errno = EOVERFLOW;
		return -1;
	}
	if (m == hi - lo) {
		if (b)
			return 0;
		return range_hash(h, s, lo, hi, &proof[(*n)++]);
	}
	k = split_point(hi - lo);
	if (m <= k) {
		if (subproof(h, s, m, lo, lo + k, b, proof, n) == -1)
			return -1;
		return range_hash(h, s, lo + k, hi, &proof[(*n)++]);
	}
	if (subproof(h, s, m - k, lo + k, hi, 0, proof, n) == -1)
		return -1;
	return range_hash(h, s, lo, lo + k, &proof[(*n)++]);
}

int
merkle_consistency_proof(struct merkle_hasher *h, const struct merkle_store *s,
    uint64_t m, uint64_t n, struct merkle_hash *proof, size_t *count)
{
	*count = 0;
	if (m == 0 || m > n) {
		errno = EINVAL;
		return -1;
	}
	return subproof(h, s, m, 0, n, 1, proof, count);
}

static int
hash_eq(const struct merkle_hash *a, const struct merkle_hash *b)
{
	return memcmp(a->b, b->b, MERKLE_HASH_LEN) == 0;
}

int
merkle_verify_inclusion(struct merkle_hasher *h, uint64_t index, uint64_t size,
    const struct merkle_hash *leaf, const struct merkle_hash *proof, size_t n,
    const struct merkle_hash *root)
{
	struct merkle_hash r;
	uint64_t fn, sn;
	size_t i;

	/* 1. */
	if (index >= size || n > MERKLE_MAX_PROOF)
		return -1;
	/* 2., 3. */
	fn = index;
	sn = size - 1;
	r = *leaf;
	/* 4. */
	for (i = 0; i < n; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			if (merkle_node_hash(h, &proof[i], &r, &r) == -1)
				return -1;
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else if (merkle_node_hash(h, &r, &proof[i], &r) == -1)
			return -1;
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	return sn == 0 && hash_eq(&r, root) ? 0 : -1;
}

int
merkle_verify_consistency(struct merkle_hasher *h, uint64_t m, uint64_t n,
    const struct merkle_hash *root_m, const struct merkle_hash *root_n,
    const struct merkle_hash *proof, size_t count)
{
	struct merkle_hash fr, sr;
	const struct merkle_hash *c;
	uint64_t fn, sn;
	size_t i, total;
	int first_prepended;

	if (m == 0 || m > n || count > MERKLE_MAX_PROOF)
		return -1;
	if (m == n)
		return count == 0 && hash_eq(root_m, root_n) ? 0 : -1;
	/* 1. */
	if (count == 0)
		return -1;
	/* 2. With m a power of two, the old root is itself the first node. */
	first_prepended = (m & (m - 1)) == 0;
	total = count + (first_prepended ? 1 : 0);
	/* 3., 4. */
	fn = m - 1;
	sn = n - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	fr = sr = first_prepended ? *root_m : proof[0];
	/* 6. */
	for (i = 1; i < total; i++) {
		c = &proof[first_prepended ? i - 1 : i];
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			if (merkle_node_hash(h, c, &fr, &fr) == -1 ||
			    merkle_node_hash(h, c, &sr, &sr) == -1)
				return -1;
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else if (merkle_node_hash(h, &sr, c, &sr) == -1)
			return -1;
		fn >>= 1;
		sn >>= 1;
	}
	/* 7. */
	return hash_eq(&fr, root_m) && hash_eq(&sr, root_n) && sn == 0 ? 0 : -1;
}

void
merkle_tile_locate(unsigned level, uint64_t index, struct merkle_tile_ref *ref)
{
	unsigned r = level % MERKLE_TILE_HEIGHT;
	uint64_t first = index << r;	/* first level-8L hash under the node */

	ref->tlevel = level / MERKLE_TILE_HEIGHT;
	ref->tindex = first / MERKLE_TILE_WIDTH;
	ref->offset = (unsigned)(first % MERKLE_TILE_WIDTH);
	ref->count = 1U << r;
}

unsigned
merkle_tile_width(unsigned tlevel, uint64_t tindex, uint64_t size)
{
	uint64_t have;

	if (tlevel * MERKLE_TILE_HEIGHT >= MERKLE_MAX_LEVELS ||
	    tindex > UINT64_MAX / MERKLE_TILE_WIDTH)
		return 0;
	have = size >> (tlevel * MERKLE_TILE_HEIGHT);
	if (have <= tindex * MERKLE_TILE_WIDTH)
		return 0;
	have -= tindex * MERKLE_TILE_WIDTH;
	return have >= MERKLE_TILE_WIDTH ? MERKLE_TILE_WIDTH : (unsigned)have;
}

int
merkle_tile_fold(struct merkle_hasher *h, const struct merkle_hash *row,
    unsigned count, struct merkle_hash *out)
{
	struct merkle_hash tmp[MERKLE_TILE_WIDTH / 2];
	unsigned i, w;

	if (count == 0 || count > MERKLE_TILE_WIDTH || (count & (count - 1))) {
		errno = EINVAL;
		return -1;
	}
	if (count == 1) {
		*out = row[0];
		return 0;
	}
	for (i = 0; i < count / 2; i++)
		if (merkle_node_hash(h, &row[2 * i], &row[2 * i + 1], &tmp[i]) == -1)
			return -1;
	for (w = count / 2; w > 1; w /= 2)
		for (i = 0; i < w / 2; i++)
			if (merkle_node_hash(h, &tmp[2 * i], &tmp[2 * i + 1],
			    &tmp[i]) == -1)
				return -1;
	*out = tmp[0];
	return 0;
}

/* ------------------------------------------------------------ in-memory tiles */

#define TILE_LEVELS	(MERKLE_MAX_LEVELS / MERKLE_TILE_HEIGHT)

struct merkle_memstore {
	struct merkle_hasher	*h;
	struct {
		struct merkle_hash	*v;
		uint64_t		 n, cap;
	} lv[TILE_LEVELS];
};

struct merkle_memstore *
merkle_memstore_new(struct merkle_hasher *h)
{
	struct merkle_memstore *ms;

	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		return NULL;
	ms->h = h;
	return ms;
}

void
merkle_memstore_free(struct merkle_memstore *ms)
{
	unsigned i;

	if (ms == NULL)
		return;
	for (i = 0; i < TILE_LEVELS; i++)
		free(ms->lv[i].v);
	free(ms);
}

int
merkle_memstore_put(struct merkle_memstore *ms, const struct merkle_node *nodes,
    size_t n)
{
	struct merkle_hash *nv;
	uint64_t ncap;
	unsigned t;
	size_t i;

	for (i = 0; i < n; i++) {
		if (nodes[i].level % MERKLE_TILE_HEIGHT != 0)
			continue;
		t = nodes[i].level / MERKLE_TILE_HEIGHT;
		if (t >= TILE_LEVELS) {
			errno = EINVAL;
			return -1;
		}
		if (nodes[i].index < ms->lv[t].n) {
			/* A replayed append must bring the same hash again. */
			if (!hash_eq(&ms->lv[t].v[nodes[i].index], &nodes[i].hash)) {
				errno = EINVAL;
				return -1;
			}
			continue;
		}
		if (nodes[i].index != ms->lv[t].n) {
			errno = EINVAL;
			return -1;
		}
		if (ms->lv[t].n == ms->lv[t].cap) {
			ncap = ms->lv[t].cap ? ms->lv[t].cap * 2 : MERKLE_TILE_WIDTH;
			if ((nv = realloc(ms->lv[t].v, ncap * sizeof(*nv))) == NULL)
				return -1;
			ms->lv[t].v = nv;
			ms->lv[t].cap = ncap;
		}
		ms->lv[t].v[ms->lv[t].n++] = nodes[i].hash;
	}
	return 0;
}

static int
memstore_get(void *arg, unsigned level, uint64_t index, struct merkle_hash *out)
{
	struct merkle_memstore *ms = arg;
	struct merkle_tile_ref ref;
	uint64_t first;

	if (level >= MERKLE_MAX_LEVELS ||
	    index > (UINT64_MAX >> (level % MERKLE_TILE_HEIGHT)))
		return -1;
	merkle_tile_locate(level, index, &ref);
	first = ref.tindex * MERKLE_TILE_WIDTH + ref.offset;
	if (first >= ms->lv[ref.tlevel].n ||
	    ms->lv[ref.tlevel].n - first < ref.count)
		return -1;
	return merkle_tile_fold(ms->h, &ms->lv[ref.tlevel].v[first], ref.count,
	    out);
}

struct merkle_store
merkle_memstore_reader(struct merkle_memstore *ms)
{
	struct merkle_store s = { memstore_get, ms };

	return s;
}

int
merkle_memstore_tile(const struct merkle_memstore *ms, unsigned tlevel,
    uint64_t tindex, uint64_t size, const struct merkle_hash **row,
    unsigned *width)
{
	unsigned w = merkle_tile_width(tlevel, tindex, size);

	if (w == 0 || tindex * MERKLE_TILE_WIDTH + w > ms->lv[tlevel].n)
		return -1;
	*row = &ms->lv[tlevel].v[tindex * MERKLE_TILE_WIDTH];
	*width = w;
	return 0;
}
