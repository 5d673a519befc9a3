/*
 * Benchmark of the ledger's Merkle tree (services/ledger-writer/merkle.c) at the
 * size issue 4 sets targets for: append 10^6 leaves into the in-memory tile store,
 * then time inclusion proofs (generate, verify) and consistency proofs at that size,
 * and print the proof size next to the targets (<= 1 KB, <= 1 ms to generate,
 * <= 0.1 ms to verify). Proofs are generated the way the daemon will: from stored
 * tiles, recomputing the levels between tile rows. Figures, never pass/fail.
 *
 *   bench_merkle [LEAVES [sha256|sm3]]	default 1000000, both hashes
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "merkle.h"

#define PROOFS	20000

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: cheap, repeatable indices. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static int
bench(enum merkle_alg alg, uint64_t n)
{
	struct merkle_hash p[MERKLE_MAX_PROOF], root, leaf, mroot;
	struct merkle_node nodes[MERKLE_MAX_LEVELS];
	struct merkle_hasher *h = merkle_hasher_new(alg);
	struct merkle_memstore *ms;
	struct merkle_store s;
	struct merkle_tree t;
	struct merkle_hash *leaves, *mroots;
	uint64_t *idx, *ms_, seed = 0x9e3779b97f4a7c15ULL, i;
	size_t np, nn, maxp = 0, sump = 0;
	char rec[160];
	double t0, t_app, t_gen, t_ver, t_cgen, t_cver;
	int len, bad = 0;

	if (h == NULL || (ms = merkle_memstore_new(h)) == NULL) {
		fprintf(stderr, "bench_merkle: no %s\n", merkle_alg_name(alg));
		return 1;
	}
	s = merkle_memstore_reader(ms);
	idx = malloc(PROOFS * sizeof(*idx));
	ms_ = malloc(PROOFS * sizeof(*ms_));
	leaves = malloc(PROOFS * sizeof(*leaves));
	mroots = malloc(PROOFS * sizeof(*mroots));
	if (idx == NULL || ms_ == NULL || leaves == NULL || mroots == NULL)
		return 1;

	/* Append: canonical-record-sized leaves, hashed, appended, tiles stored. */
	merkle_tree_init(&t);
	t0 = now_s();
	for (i = 0; i < n; i++) {
		len = snprintf(rec, sizeof(rec), "{\"decision\":{\"result\":\"allow\"},"
		    "\"lane\":\"in-1\",\"plate\":\"F81234\",\"seq\":%llu,"
		    "\"site\":\"plant-1\",\"tonnage\":31.5}", (unsigned long long)i);
		if (merkle_leaf_hash(h, rec, (size_t)len, &leaf) == -1 ||
		    merkle_tree_append(&t, h, &leaf, nodes, &nn) == -1 ||
		    merkle_memstore_put(ms, nodes, nn) == -1)
			return 1;
	}
	t_app = now_s() - t0;
	merkle_tree_root(&t, h, &root);

	for (i = 0; i < PROOFS; i++) {
		idx[i] = rnd(&seed) % n;
		ms_[i] = 1 + rnd(&seed) % (n - 1);
		len = snprintf(rec, sizeof(rec), "{\"decision\":{\"result\":\"allow\"},"
		    "\"lane\":\"in-1\",\"plate\":\"F81234\",\"seq\":%llu,"
		    "\"site\":\"plant-1\",\"tonnage\":31.5}",
		    (unsigned long long)idx[i]);
		merkle_leaf_hash(h, rec, (size_t)len, &leaves[i]);
		merkle_root(h, &s, ms_[i], &mroots[i]);
	}

	/* Inclusion: generate (store reads and tile folding) and verify apart. */
	t0 = now_s();
	for (i = 0; i < PROOFS; i++) {
		if (merkle_inclusion_proof(h, &s, idx[i], n, p, &np) == -1)
			bad++;
		sump += np;
		if (np > maxp)
			maxp = np;
	}
	t_gen = now_s() - t0;
	merkle_inclusion_proof(h, &s, idx[0], n, p, &np);
	t0 = now_s();
	for (i = 0; i < PROOFS; i++)
		/* Verifying one proof PROOFS times: the leaf and path stay valid. */
		if (merkle_verify_inclusion(h, idx[0], n, &leaves[0], p, np,
		    &root) == -1)
			bad++;
	t_ver = now_s() - t0;
	printf("%s: %llu leaves appended in %.2f s: %.0f appends/s "
	    "(leaf hash, frontier, tiles)\n", merkle_alg_name(alg),
	    (unsigned long long)n, t_app, (double)n / t_app);
	printf("  inclusion proof at %llu: %zu hashes max = %zu bytes "
	    "(target <= 1024), mean %.1f\n", (unsigned long long)n, maxp,
	    maxp * MERKLE_HASH_LEN, (double)sump / PROOFS);
	printf("  inclusion generate %.4f ms (target <= 1 ms), verify %.4f ms "
	    "(target <= 0.1 ms), over %d proofs\n", t_gen * 1e3 / PROOFS,
	    t_ver * 1e3 / PROOFS, PROOFS);

	/* Consistency from a random earlier size to n. */
	maxp = sump = 0;
	t0 = now_s();
	for (i = 0; i < PROOFS; i++) {
		if (merkle_consistency_proof(h, &s, ms_[i], n, p, &np) == -1)
			bad++;
		sump += np;
		if (np > maxp)
			maxp = np;
	}
	t_cgen = now_s() - t0;
	t0 = now_s();
	for (i = 0; i < PROOFS; i++) {
		/* Each needs its own proof: regenerate outside the timed part. */
		double g0;

		g0 = now_s();
		merkle_consistency_proof(h, &s, ms_[i], n, p, &np);
		t0 += now_s() - g0;
		mroot = mroots[i];
		if (merkle_verify_consistency(h, ms_[i], n, &mroot, &root, p,
		    np) == -1)
			bad++;
	}
	t_cver = now_s() - t0;
	printf("  consistency proof m -> %llu: %zu hashes max = %zu bytes, "
	    "mean %.1f; generate %.4f ms, verify %.4f ms\n",
	    (unsigned long long)n, maxp, maxp * MERKLE_HASH_LEN,
	    (double)sump / PROOFS, t_cgen * 1e3 / PROOFS, t_cver * 1e3 / PROOFS);
	if (bad)
		printf("  %d proofs FAILED\n", bad);
	free(idx);
	free(ms_);
	free(leaves);
	free(mroots);
	merkle_memstore_free(ms);
	merkle_hasher_free(h);
	return bad ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	enum merkle_alg alg;
	int rc = 0;

	if (n < 2) {
		fprintf(stderr, "usage: bench_merkle [LEAVES >= 2 [sha256|sm3]]\n");
		return 2;
	}
	if (argc > 2) {
		if (merkle_alg_parse(argv[2], &alg) == -1) {
			fprintf(stderr, "bench_merkle: unknown hash %s\n", argv[2]);
			return 2;
		}
		return bench(alg, n);
	}
	rc |= bench(MERKLE_SHA256, n);
	rc |= bench(MERKLE_SM3, n);
	return rc;
}
