/*
 * merkle: the RFC 9162 Merkle tree of a site's ledger, independent of where its
 * hashes are kept.
 *
 * Leaves are H(0x00 || record) and interior nodes H(0x01 || left || right), with H
 * SHA-256 by default or SM3 where the site chose it at creation, both through
 * OpenSSL 3's EVP (no hash of our own). Once the leaves under a node are all present,
 * the node's hash never changes; so the tree is stored as those "complete subtree"
 * hashes, (level, index) covering leaves [index * 2^level, (index + 1) * 2^level),
 * and read back through a callback (struct merkle_store). Roots at any past size,
 * inclusion and consistency proofs need O(log n) reads of them; nothing is ever
 * recomputed from the leaves.
 *
 * Appending goes through a frontier (struct merkle_tree): the hashes of the complete
 * subtrees that make up the tree now, one per set bit of its size. An append needs no
 * reads and hands back exactly the complete-subtree hashes it created, for the caller
 * to store in the same transaction as the record.
 *
 * Storage in tiles (C2SP tlog-tiles layout): only every 8th level is kept, in tiles of
 * 256 hashes. Tile (L, N) holds the level-8L hashes with indices [256N, 256N + 256);
 * the levels in between are recomputed from a tile on read (at most 127 hashes). A
 * tile is partial while the tree grows (width W < 256 = (size >> 8L) - 256N, capped);
 * a store that must stay append-only keeps each partial width as its own row, as
 * tlog-tiles does with ".p/W". merkle_memstore is such a store in memory, for tests,
 * the benchmark and tools.
 *
 * Not thread-safe: a hasher owns an EVP_MD_CTX; use one per thread.
 */
#ifndef LEDGER_MERKLE_H
#define LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 and SM3 both give 32 bytes; a hash of another size would change this. */
#define MERKLE_HASH_LEN		32
/* A tree has at most 2^63 leaves, so at most 64 levels below the root. */
#define MERKLE_MAX_LEVELS	64
/* Longest inclusion or consistency proof for a tree of up to 2^63 leaves. */
#define MERKLE_MAX_PROOF	128

#define MERKLE_TILE_HEIGHT	8
#define MERKLE_TILE_WIDTH	256

enum merkle_alg {
	MERKLE_SHA256 = 0,
	MERKLE_SM3 = 1,
};

struct merkle_hash {
	uint8_t b[MERKLE_HASH_LEN];
};

/* A complete subtree's hash: leaves [index << level, (index + 1) << level). */
struct merkle_node {
	unsigned		level;
	uint64_t		index;
	struct merkle_hash	hash;
};

/*
 * Where complete-subtree hashes are read from. get() stores the hash of the complete
 * subtree (level, index) and returns 0, or returns -1 when it is not stored (or the
 * read failed); the tree code then fails the whole operation.
 */
struct merkle_store {
	int	(*get)(void *arg, unsigned level, uint64_t index,
		    struct merkle_hash *out);
	void	*arg;
};

/* The frontier of a tree: edge[l] is valid when bit l of size is set. */
struct merkle_tree {
	uint64_t		size;
	struct merkle_hash	edge[MERKLE_MAX_LEVELS];
};

/* Where a complete subtree's hashes lie in the tiles. */
struct merkle_tile_ref {
	unsigned	tlevel;		/* tile level: holds tree level 8 * tlevel */
	uint64_t	tindex;		/* tile index within its level */
	unsigned	offset;		/* first tile hash under the node */
	unsigned	count;		/* tile hashes under it: 2^(level % 8) */
};

struct merkle_hasher;
struct merkle_memstore;

/* "sha256" / "sm3"; merkle_alg_parse() returns 0, or -1 for any other name. */
const char	*merkle_alg_name(enum merkle_alg alg);
int		 merkle_alg_parse(const char *name, enum merkle_alg *alg);

/*
 * A hasher for alg, its digest fetched once from OpenSSL's default provider.
 * Returns NULL when OpenSSL lacks it (or out of memory). Free with
 * merkle_hasher_free() (NULL-safe).
 */
struct merkle_hasher	*merkle_hasher_new(enum merkle_alg alg);
void			 merkle_hasher_free(struct merkle_hasher *h);
enum merkle_alg		 merkle_hasher_alg(const struct merkle_hasher *h);

/* H(0x00 || data), H(0x01 || l || r), H() (the empty tree's root). 0 or -1. */
int	merkle_leaf_hash(struct merkle_hasher *h, const void *data, size_t len,
	    struct merkle_hash *out);
int	merkle_node_hash(struct merkle_hasher *h, const struct merkle_hash *l,
	    const struct merkle_hash *r, struct merkle_hash *out);
int	merkle_empty_root(struct merkle_hasher *h, struct merkle_hash *out);

/* An empty frontier. */
void	merkle_tree_init(struct merkle_tree *t);

/*
 * Loads the frontier of a tree of size leaves from s (one read per set bit of size),
 * to go on appending after a restart. Returns 0, or -1 when a hash is missing.
 */
int	merkle_tree_load(struct merkle_tree *t, uint64_t size,
	    const struct merkle_store *s);

/*
 * Appends the leaf whose leaf hash is leaf. The complete subtrees this creates, the
 * leaf itself (level 0) first and then each new parent up the right edge, are
 * written to out (room for MERKLE_MAX_LEVELS) and counted in *nout; the caller
 * stores them. Returns 0, or -1 (tree full, or the hash failed; t is then unchanged).
 */
int	merkle_tree_append(struct merkle_tree *t, struct merkle_hasher *h,
	    const struct merkle_hash *leaf, struct merkle_node *out, size_t *nout);

/* The root of the frontier's tree (H() when empty). 0 or -1. */
int	merkle_tree_root(const struct merkle_tree *t, struct merkle_hasher *h,
	    struct merkle_hash *root);

/* The root of the tree's first size leaves, from s: popcount(size) reads. 0 or -1. */
int	merkle_root(struct merkle_hasher *h, const struct merkle_store *s,
	    uint64_t size, struct merkle_hash *root);

/*
 * The RFC 9162 inclusion proof (2.1.3.1, PATH) of leaf index in the tree of size
 * leaves, lowest level first, into proof (room for MERKLE_MAX_PROOF), its length in
 * *n. Returns 0, or -1 with errno EINVAL when index >= size, else a missing hash.
 */
int	merkle_inclusion_proof(struct merkle_hasher *h, const struct merkle_store *s,
	    uint64_t index, uint64_t size, struct merkle_hash *proof, size_t *n);

/*
 * The RFC 9162 consistency proof (2.1.4.1, PROOF) between sizes m and n, 0 < m <= n
 * (empty when m == n). Returns 0, or -1 with errno EINVAL for bad sizes, else a
 * missing hash.
 */
int	merkle_consistency_proof(struct merkle_hasher *h,
	    const struct merkle_store *s, uint64_t m, uint64_t n,
	    struct merkle_hash *proof, size_t *count);

/*
 * Verifies an inclusion proof as RFC 9162 2.1.3.2 does: leaf (a leaf hash) at index
 * in a tree of size leaves whose root is root. Returns 0 when it holds, -1 when not.
 */
int	merkle_verify_inclusion(struct merkle_hasher *h, uint64_t index,
	    uint64_t size, const struct merkle_hash *leaf,
	    const struct merkle_hash *proof, size_t n, const struct merkle_hash *root);

/*
 * Verifies a consistency proof as RFC 9162 2.1.4.2 does: the tree of size m with root
 * root_m is a prefix of the tree of size n with root root_n. m == n holds with an
 * empty proof and equal roots. Returns 0 when it holds, -1 when not (m == 0 too).
 */
int	merkle_verify_consistency(struct merkle_hasher *h, uint64_t m, uint64_t n,
	    const struct merkle_hash *root_m, const struct merkle_hash *root_n,
	    const struct merkle_hash *proof, size_t count);

/* Tile addressing (see above). */
void		merkle_tile_locate(unsigned level, uint64_t index,
		    struct merkle_tile_ref *ref);
/* Hashes tile (tlevel, tindex) holds when the tree has size leaves (0..256). */
unsigned	merkle_tile_width(unsigned tlevel, uint64_t tindex, uint64_t size);
/*
 * Folds count (a power of two, <= 256) consecutive tile hashes, left to right, into
 * the hash of the complete subtree above them. 0 or -1.
 */
int		merkle_tile_fold(struct merkle_hasher *h,
		    const struct merkle_hash *row, unsigned count,
		    struct merkle_hash *out);

/*
 * The in-memory tile store: keeps the level-8L hashes of every tile level in order
 * and answers get() for any complete subtree by folding them. h is borrowed and
 * must outlive the store. NULL on allocation failure.
 */
struct merkle_memstore	*merkle_memstore_new(struct merkle_hasher *h);
void			 merkle_memstore_free(struct merkle_memstore *ms);
/*
 * Stores what merkle_tree_append() created: nodes at levels 8L are kept, the others
 * dropped (they are recomputed). Nodes of one level must come in index order; one
 * already held must be equal. Returns 0, or -1 (errno EINVAL on a gap or a
 * mismatch, ENOMEM).
 */
int			 merkle_memstore_put(struct merkle_memstore *ms,
			    const struct merkle_node *nodes, size_t n);
/* A reader over ms, valid while ms lives. */
struct merkle_store	 merkle_memstore_reader(struct merkle_memstore *ms);
/*
 * The hashes of tile (tlevel, tindex) as of tree size size: *row is borrowed (valid
 * until the next put), *width its count. Returns 0, or -1 when the tile is empty.
 */
int			 merkle_memstore_tile(const struct merkle_memstore *ms,
			    unsigned tlevel, uint64_t tindex, uint64_t size,
			    const struct merkle_hash **row, unsigned *width);

#endif
