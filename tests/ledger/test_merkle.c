/*
 * Unit tests for the RFC 9162 Merkle tree (services/ledger-writer/merkle.c): the
 * edge cases (empty tree, one leaf, powers of two, m == n, out-of-range indices),
 * the tile addressing, the in-memory tile store and reloading a frontier. Random
 * trees are checked against an independent Python implementation in merkle_ref.py.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "merkle.h"
#include "t.h"

static void
hex(const struct merkle_hash *h, char out[65])
{
	int i;

	for (i = 0; i < MERKLE_HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", h->b[i]);
}

static int
hash_is(const struct merkle_hash *h, const char *want)
{
	char got[65];

	hex(h, got);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "hash %s, want %s\n", got, want);
		return 0;
	}
	return 1;
}

/* A tree of n leaves "leaf i" in a fresh memstore; frontier in *t. */
static struct merkle_memstore *
build(struct merkle_hasher *h, struct merkle_tree *t, uint64_t n)
{
	struct merkle_memstore *ms = merkle_memstore_new(h);
	struct merkle_node nodes[MERKLE_MAX_LEVELS];
	struct merkle_hash leaf;
	char data[32];
	size_t nn;
	uint64_t i;

	merkle_tree_init(t);
	for (i = 0; i < n; i++) {
		snprintf(data, sizeof(data), "leaf %llu", (unsigned long long)i);
		if (merkle_leaf_hash(h, data, strlen(data), &leaf) == -1 ||
		    merkle_tree_append(t, h, &leaf, nodes, &nn) == -1 ||
		    merkle_memstore_put(ms, nodes, nn) == -1) {
			merkle_memstore_free(ms);
			return NULL;
		}
	}
	return ms;
}

/* Known answers: both digests, both domain separation prefixes. */
static void
test_hashes(void)
{
	struct merkle_hasher *h = merkle_hasher_new(MERKLE_SHA256);
	struct merkle_hasher *sm3 = merkle_hasher_new(MERKLE_SM3);
	struct merkle_hash a, b, r, want;
	uint8_t buf[65];
	unsigned int len;
	enum merkle_alg alg;

	T_REQUIRE(h != NULL && sm3 != NULL);
	T_CHECK(merkle_hasher_alg(sm3) == MERKLE_SM3);
	T_CHECK(merkle_empty_root(h, &r) == 0 && hash_is(&r,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	T_CHECK(merkle_leaf_hash(h, "", 0, &r) == 0 && hash_is(&r,
	    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"));
	T_CHECK(merkle_empty_root(sm3, &r) == 0 && hash_is(&r,
	    "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"));
	/* The node hash is H(0x01 || l || r), checked with a one-shot EVP_Digest. */
	merkle_leaf_hash(h, "a", 1, &a);
	merkle_leaf_hash(h, "b", 1, &b);
	T_CHECK(merkle_node_hash(h, &a, &b, &r) == 0);
	buf[0] = 0x01;
	memcpy(buf + 1, a.b, 32);
	memcpy(buf + 33, b.b, 32);
	EVP_Digest(buf, 65, want.b, &len, EVP_sha256(), NULL);
	T_CHECK(memcmp(r.b, want.b, 32) == 0);
	/* Output may alias an input. */
	T_CHECK(merkle_node_hash(h, &a, &b, &a) == 0 && memcmp(a.b, want.b, 32) == 0);

	T_CHECK(merkle_alg_parse("sm3", &alg) == 0 && alg == MERKLE_SM3);
	T_CHECK(merkle_alg_parse("sha256", &alg) == 0 && alg == MERKLE_SHA256);
	T_CHECK(merkle_alg_parse("SHA256", &alg) == -1);
	T_CHECK(merkle_alg_parse(NULL, &alg) == -1);
	T_STREQ(merkle_alg_name(MERKLE_SM3), "sm3");
	merkle_hasher_free(h);
	merkle_hasher_free(sm3);
	merkle_hasher_free(NULL);
}

static void
test_append_nodes(void)
{
	struct merkle_hasher *h = merkle_hasher_new(MERKLE_SHA256);
	struct merkle_node nodes[MERKLE_MAX_LEVELS];
	struct merkle_tree t;
	struct merkle_hash leaf, r, a, b, ab;
	struct merkle_memstore *ms;
	size_t n;

	merkle_tree_init(&t);
	T_CHECK(merkle_tree_root(&t, h, &r) == 0 && hash_is(&r,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	/* One leaf: the root is the leaf hash. */
	merkle_leaf_hash(h, "a", 1, &a);
	T_CHECK(merkle_tree_append(&t, h, &a, nodes, &n) == 0 && n == 1);
	T_CHECK(nodes[0].level == 0 && nodes[0].index == 0);
	T_CHECK(merkle_tree_root(&t, h, &r) == 0 && memcmp(r.b, a.b, 32) == 0);
	/* Two: a new level-1 node. */
	merkle_leaf_hash(h, "b", 1, &b);
	T_CHECK(merkle_tree_append(&t, h, &b, nodes, &n) == 0 && n == 2);
	merkle_node_hash(h, &a, &b, &ab);
	T_CHECK(nodes[1].level == 1 && nodes[1].index == 0 &&
	    memcmp(nodes[1].hash.b, ab.b, 32) == 0);
	/* The 8th leaf completes levels 1, 2 and 3. */
	ms = build(h, &t, 7);
	merkle_leaf_hash(h, "leaf 7", 6, &leaf);
	T_CHECK(merkle_tree_append(&t, h, &leaf, nodes, &n) == 0 && n == 4);
	T_CHECK(nodes[1].level == 1 && nodes[1].index == 3);
	T_CHECK(nodes[2].level == 2 && nodes[2].index == 1);
	T_CHECK(nodes[3].level == 3 && nodes[3].index == 0);
	T_CHECK(merkle_memstore_put(ms, nodes, n) == 0);
	merkle_tree_root(&t, h, &r);
	T_CHECK(memcmp(r.b, nodes[3].hash.b, 32) == 0);
	merkle_memstore_free(ms);
	merkle_hasher_free(h);
}

/* Roots from the store equal roots from the frontier at every size up to 600. */
static void
test_roots_and_reload(void)
{
	struct merkle_hasher *h = merkle_hasher_new(MERKLE_SM3);
	struct merkle_node nodes[MERKLE_MAX_LEVELS];
	struct merkle_memstore *ms = merkle_memstore_new(h);
	struct merkle_store s = merkle_memstore_reader(ms);
	struct merkle_tree t, t2;
	struct merkle_hash leaf, r1, r2;
	char data[32];
	size_t n;
	uint64_t i;
	unsigned l;
	int bad = 0;

	merkle_tree_init(&t);
	for (i = 0; i < 600; i++) {
		snprintf(data, sizeof(data), "leaf %llu", (unsigned long long)i);
		merkle_leaf_hash(h, data, strlen(data), &leaf);
		merkle_tree_append(&t, h, &leaf, nodes, &n);
		merkle_memstore_put(ms, nodes, n);
		merkle_tree_root(&t, h, &r1);
		if (merkle_root(h, &s, t.size, &r2) == -1 ||
		    memcmp(r1.b, r2.b, 32) != 0)
			bad++;
		/* A frontier reloaded from the store carries on identically. */
		if (merkle_tree_load(&t2, t.size, &s) == -1 || t2.size != t.size)
			bad++;
		for (l = 0; l < MERKLE_MAX_LEVELS; l++)
			if (((t.size >> l) & 1) &&
			    memcmp(t2.edge[l].b, t.edge[l].b, 32) != 0)
				bad++;
	}
	T_CHECKF(bad == 0, "%d sizes differ", bad);
	/* Past the stored size nothing is made up. */
	T_CHECK(merkle_root(h, &s, 601, &r2) == -1);
	T_CHECK(merkle_tree_load(&t2, 601, &s) == -1 && t2.size == 0);
	merkle_memstore_free(ms);
	merkle_hasher_free(h);
}

static void
test_proofs_edges(void)
{
	struct merkle_hasher *h = merkle_hasher_new(MERKLE_SHA256);
	struct merkle_hash p[MERKLE_MAX_PROOF], root, root2, leaf, r[5];
	struct merkle_tree t;
	struct merkle_memstore *ms = build(h, &t, 1024);
	struct merkle_store s = merkle_memstore_reader(ms);
	static const uint64_t pow2[] = { 1, 2, 4, 8, 256, 512, 1024 };
	size_t n, i;
	uint64_t idx;

	T_REQUIRE(ms != NULL);
	/* Size 1: empty path, the root is the leaf. */
	T_CHECK(merkle_inclusion_proof(h, &s, 0, 1, p, &n) == 0 && n == 0);
	merkle_leaf_hash(h, "leaf 0", 6, &leaf);
	merkle_root(h, &s, 1, &root);
	T_CHECK(merkle_verify_inclusion(h, 0, 1, &leaf, p, 0, &root) == 0);
	/* Out of range. */
	errno = 0;
	T_CHECK(merkle_inclusion_proof(h, &s, 1, 1, p, &n) == -1 && errno == EINVAL);
	T_CHECK(merkle_inclusion_proof(h, &s, 0, 0, p, &n) == -1);
	T_CHECK(merkle_verify_inclusion(h, 1, 1, &leaf, p, 0, &root) == -1);
	T_CHECK(merkle_verify_inclusion(h, 0, 0, &leaf, p, 0, &root) == -1);
	/* Beyond what the store holds: fails rather than invents. */
	T_CHECK(merkle_inclusion_proof(h, &s, 0, 1025, p, &n) == -1);
	T_CHECK(merkle_consistency_proof(h, &s, 3, 2000, p, &n) == -1);

	/* Powers of two: log2(n) hashes, every leaf proves. */
	for (i = 0; i < sizeof(pow2) / sizeof(pow2[0]); i++) {
		int bad = 0, lg = __builtin_ctzll(pow2[i]);
		char data[32];

		merkle_root(h, &s, pow2[i], &root);
		for (idx = 0; idx < pow2[i]; idx += 1 + pow2[i] / 16) {
			snprintf(data, sizeof(data), "leaf %llu",
			    (unsigned long long)idx);
			merkle_leaf_hash(h, data, strlen(data), &leaf);
			if (merkle_inclusion_proof(h, &s, idx, pow2[i], p, &n) == -1 ||
			    n != (size_t)lg ||
			    merkle_verify_inclusion(h, idx, pow2[i], &leaf, p, n,
			    &root) == -1)
				bad++;
			/* The same proof does not hold for the neighbour. */
			if (pow2[i] > 1 && merkle_verify_inclusion(h, idx ^ 1,
			    pow2[i], &leaf, p, n, &root) == 0)
				bad++;
		}
		T_CHECKF(bad == 0, "size %llu", (unsigned long long)pow2[i]);
	}

	/* m == n: empty proof, equal roots only. */
	merkle_root(h, &s, 100, &root);
	merkle_root(h, &s, 101, &root2);
	T_CHECK(merkle_consistency_proof(h, &s, 100, 100, p, &n) == 0 && n == 0);
	T_CHECK(merkle_verify_consistency(h, 100, 100, &root, &root, p, 0) == 0);
	T_CHECK(merkle_verify_consistency(h, 100, 100, &root, &root2, p, 0) == -1);
	T_CHECK(merkle_verify_consistency(h, 100, 100, &root, &root, &root, 1) == -1);
	/* m == 0 and m > n refused. */
	errno = 0;
	T_CHECK(merkle_consistency_proof(h, &s, 0, 5, p, &n) == -1 && errno == EINVAL);
	T_CHECK(merkle_consistency_proof(h, &s, 6, 5, p, &n) == -1);
	T_CHECK(merkle_verify_consistency(h, 0, 5, &root, &root2, p, 1) == -1);
	/* m < n needs a non-empty proof. */
	T_CHECK(merkle_verify_consistency(h, 100, 101, &root, &root2, p, 0) == -1);
	T_CHECK(merkle_consistency_proof(h, &s, 100, 101, p, &n) == 0 && n > 0);
	T_CHECK(merkle_verify_consistency(h, 100, 101, &root, &root2, p, n) == 0);
	T_CHECK(merkle_verify_consistency(h, 100, 101, &root2, &root, p, n) == -1);
	/* m a power of two: the old root is implied, not sent. */
	merkle_root(h, &s, 512, &r[0]);
	merkle_root(h, &s, 1000, &r[1]);
	T_CHECK(merkle_consistency_proof(h, &s, 512, 1000, p, &n) == 0);
	T_CHECK(merkle_verify_consistency(h, 512, 1000, &r[0], &r[1], p, n) == 0);
	T_CHECK(merkle_verify_consistency(h, 256, 1000, &r[0], &r[1], p, n) == -1);
	/* Too long a proof is refused before any hashing. */
	T_CHECK(merkle_verify_inclusion(h, 0, 2, &leaf, p,
	    MERKLE_MAX_PROOF + 1, &root) == -1);

	merkle_memstore_free(ms);
	merkle_hasher_free(h);
}

static void
test_tiles(void)
{
	struct merkle_hasher *h = merkle_hasher_new(MERKLE_SHA256);
	struct merkle_tile_ref ref;
	struct merkle_tree t;
	struct merkle_memstore *ms = build(h, &t, 70000);
	struct merkle_store s = merkle_memstore_reader(ms);
	struct merkle_node nodes[2];
	const struct merkle_hash *row;
	struct merkle_hash x, y;
	unsigned w;
	char data[32];

	T_REQUIRE(ms != NULL);
	merkle_tile_locate(0, 300, &ref);
	T_CHECK(ref.tlevel == 0 && ref.tindex == 1 && ref.offset == 44 &&
	    ref.count == 1);
	merkle_tile_locate(3, 40, &ref);	/* leaves 320..327 */
	T_CHECK(ref.tlevel == 0 && ref.tindex == 1 && ref.offset == 64 &&
	    ref.count == 8);
	merkle_tile_locate(8, 5, &ref);
	T_CHECK(ref.tlevel == 1 && ref.tindex == 0 && ref.offset == 5 &&
	    ref.count == 1);
	merkle_tile_locate(15, 1, &ref);	/* level-8 hashes 128..255 */
	T_CHECK(ref.tlevel == 1 && ref.tindex == 0 && ref.offset == 128 &&
	    ref.count == 128);
	merkle_tile_locate(16, 3, &ref);
	T_CHECK(ref.tlevel == 2 && ref.tindex == 0 && ref.offset == 3 &&
	    ref.count == 1);

	T_CHECK(merkle_tile_width(0, 0, 300) == 256);
	T_CHECK(merkle_tile_width(0, 1, 300) == 44);
	T_CHECK(merkle_tile_width(0, 2, 300) == 0);
	T_CHECK(merkle_tile_width(1, 0, 300) == 1);
	T_CHECK(merkle_tile_width(1, 0, 255) == 0);
	T_CHECK(merkle_tile_width(1, 1, 70000) == 17);	/* 70000 >> 8 = 273 */
	T_CHECK(merkle_tile_width(2, 0, 70000) == 1);
	T_CHECK(merkle_tile_width(8, 0, UINT64_MAX) == 0);
	T_CHECK(merkle_tile_width(0, UINT64_MAX, 5) == 0);

	/* Tile rows hold the level-8L hashes: the leaves of tile (0, 1). */
	T_CHECK(merkle_memstore_tile(ms, 0, 1, 300, &row, &w) == 0 && w == 44);
	snprintf(data, sizeof(data), "leaf %d", 256 + 43);
	merkle_leaf_hash(h, data, strlen(data), &x);
	T_CHECK(memcmp(row[43].b, x.b, 32) == 0);
	T_CHECK(merkle_memstore_tile(ms, 0, 1000, 70000, &row, &w) == -1);
	/* A full tile folds to the level-8 hash stored in tile level 1. */
	T_CHECK(merkle_memstore_tile(ms, 0, 5, 70000, &row, &w) == 0 && w == 256);
	T_CHECK(merkle_tile_fold(h, row, 256, &x) == 0);
	T_CHECK(s.get(s.arg, 8, 5, &y) == 0 && memcmp(x.b, y.b, 32) == 0);
	T_CHECK(merkle_tile_fold(h, row, 3, &x) == -1);
	T_CHECK(merkle_tile_fold(h, row, 512, &x) == -1);
	/* Intermediate levels come from folding part of a tile. */
	T_CHECK(s.get(s.arg, 16, 0, &x) == 0);
	T_CHECK(s.get(s.arg, 16, 1, &x) == -1);	/* needs 131072 leaves */
	T_CHECK(s.get(s.arg, 3, 70000 / 8, &x) == -1);
	T_CHECK(s.get(s.arg, 64, 0, &x) == -1);

	/* put: replays must match, gaps are refused, non-tile levels dropped. */
	T_CHECK(s.get(s.arg, 0, 5, &x) == 0);
	nodes[0].level = 0;
	nodes[0].index = 5;
	nodes[0].hash = x;
	T_CHECK(merkle_memstore_put(ms, nodes, 1) == 0);
	nodes[0].hash.b[0] ^= 1;
	errno = 0;
	T_CHECK(merkle_memstore_put(ms, nodes, 1) == -1 && errno == EINVAL);
	nodes[0].index = 70001;
	T_CHECK(merkle_memstore_put(ms, nodes, 1) == -1);
	nodes[0].level = 3;
	T_CHECK(merkle_memstore_put(ms, nodes, 1) == 0);
	nodes[0].level = 72;
	T_CHECK(merkle_memstore_put(ms, nodes, 1) == -1);

	merkle_memstore_free(ms);
	merkle_memstore_free(NULL);
	merkle_hasher_free(h);
}

int
main(void)
{
	test_hashes();
	test_append_nodes();
	test_roots_and_reload();
	test_proofs_edges();
	test_tiles();
	return T_DONE();
}
