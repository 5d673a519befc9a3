/*
 * The C side of merkle_ref.py: a line-oriented driver that lets an independent
 * Python implementation question ledger_core. It answers one output line per input
 * line, so the script can send thousands of questions in one pipe.
 *
 *   ledger_ref_driver merkle ALG MAXN
 *	builds a tree of MAXN leaves, leaf i being "leaf i|" repeated i % 3 times
 *	(so every third leaf is empty), in the in-memory tile store, then answers:
 *	root N				root hex of the first N leaves
 *	incl I N			inclusion proof, hex hashes space-separated
 *	cons M N			consistency proof
 *	vincl I N LEAF ROOT [P...]	"ok" or "fail" (merkle_verify_inclusion)
 *	vcons M N ROOTM ROOTN [P...]	"ok" or "fail" (merkle_verify_consistency)
 *	errors answer "ERR"
 *   ledger_ref_driver numbers
 *	reads IEEE 754 bit patterns (16 hex digits) and writes jcs_number() of each
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jcs.h"
#include "merkle.h"

static int
unhex(const char *s, struct merkle_hash *h)
{
	unsigned v;
	int i;

	if (strlen(s) != 2 * MERKLE_HASH_LEN)
		return -1;
	for (i = 0; i < MERKLE_HASH_LEN; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		h->b[i] = (uint8_t)v;
	}
	return 0;
}

static void
put_hash(const struct merkle_hash *h)
{
	int i;

	for (i = 0; i < MERKLE_HASH_LEN; i++)
		printf("%02x", h->b[i]);
}

static void
put_proof(const struct merkle_hash *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(' ');
		put_hash(&p[i]);
	}
	putchar('\n');
}

/* Reads up to MERKLE_MAX_PROOF + 8 hashes from the rest of the line. */
static int
read_hashes(char *rest, struct merkle_hash *p, size_t *n)
{
	char *tok;

	*n = 0;
	for (tok = strtok(rest, " \n"); tok != NULL; tok = strtok(NULL, " \n")) {
		if (*n >= MERKLE_MAX_PROOF + 8 || unhex(tok, &p[*n]) == -1)
			return -1;
		(*n)++;
	}
	return 0;
}

static int
merkle_mode(const char *algname, uint64_t maxn)
{
	struct merkle_hash p[MERKLE_MAX_PROOF + 8], a, b, r;
	struct merkle_node nodes[MERKLE_MAX_LEVELS];
	struct merkle_hasher *h;
	struct merkle_memstore *ms;
	struct merkle_store s;
	struct merkle_tree t;
	enum merkle_alg alg;
	char line[16384], data[64 * 3], cmd[16], x[80], y[80];
	unsigned long long u, v;
	uint64_t i;
	size_t n, nn, len;
	int off, j;

	if (merkle_alg_parse(algname, &alg) == -1 ||
	    (h = merkle_hasher_new(alg)) == NULL ||
	    (ms = merkle_memstore_new(h)) == NULL)
		return 2;
	s = merkle_memstore_reader(ms);
	merkle_tree_init(&t);
	for (i = 0; i < maxn; i++) {
		len = 0;
		for (j = 0; j < (int)(i % 3); j++)
			len += (size_t)snprintf(data + len, sizeof(data) - len,
			    "leaf %llu|", (unsigned long long)i);
		if (merkle_leaf_hash(h, data, len, &r) == -1 ||
		    merkle_tree_append(&t, h, &r, nodes, &nn) == -1 ||
		    merkle_memstore_put(ms, nodes, nn) == -1)
			return 2;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		v = 0;
		if (sscanf(line, "%15s %llu %llu%n", cmd, &u, &v, &off) < 3 &&
		    (sscanf(line, "%15s %llu", cmd, &u) != 2 ||
		    strcmp(cmd, "root") != 0)) {
			puts("ERR");
			continue;
		}
		if (strcmp(cmd, "root") == 0) {
			if (merkle_root(h, &s, u, &r) == -1)
				puts("ERR");
			else {
				put_hash(&r);
				putchar('\n');
			}
		} else if (strcmp(cmd, "incl") == 0) {
			if (merkle_inclusion_proof(h, &s, u, v, p, &n) == -1)
				puts("ERR");
			else
				put_proof(p, n);
		} else if (strcmp(cmd, "cons") == 0) {
			if (merkle_consistency_proof(h, &s, u, v, p, &n) == -1)
				puts("ERR");
			else
				put_proof(p, n);
		} else if (strcmp(cmd, "vincl") == 0 || strcmp(cmd, "vcons") == 0) {
			int used;

			if (sscanf(line + off, " %79s %79s%n", x, y, &used) != 2 ||
			    unhex(x, &a) == -1 || unhex(y, &b) == -1 ||
			    read_hashes(line + off + used, p, &n) == -1) {
				puts("ERR");
				continue;
			}
			if (cmd[1] == 'i')
				j = merkle_verify_inclusion(h, u, v, &a, p, n, &b);
			else
				j = merkle_verify_consistency(h, u, v, &a, &b, p, n);
			puts(j == 0 ? "ok" : "fail");
		} else
			puts("ERR");
	}
	merkle_memstore_free(ms);
	merkle_hasher_free(h);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int
numbers_mode(void)
{
	char line[64], out[JCS_NUMBER_MAX];
	uint64_t bits;
	double d;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		bits = strtoull(line, NULL, 16);
		memcpy(&d, &bits, sizeof(d));
		if (jcs_number(d, out) == -1)
			puts("ERR");
		else
			puts(out);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	if (argc == 4 && strcmp(argv[1], "merkle") == 0)
		return merkle_mode(argv[2], strtoull(argv[3], NULL, 10));
	if (argc == 2 && strcmp(argv[1], "numbers") == 0)
		return numbers_mode();
	fprintf(stderr, "usage: ledger_ref_driver merkle sha256|sm3 MAXN | numbers\n");
	return 2;
}
