/*
 * Proof files (see proof.h). The checker is the code an inspector's verdict rests
 * on, so it reads every field strictly (types, ranges, no unknown members, canonical
 * base64) and checks in the order that gives the clearest reason: the signature
 * first (nothing else means anything without it), then agreement between the file
 * and the signed checkpoint, then the record, then the path to the root.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gatekit/json.h>
#include <gatekit/util.h>

#include "b64.h"
#include "jcs.h"
#include "proof.h"

json_t *
proof_make(struct merkle_hasher *h, const struct merkle_store *s,
    const char *record, size_t len, uint64_t leaf_index, const char *checkpoint,
    char *err, size_t errlen)
{
	struct merkle_hash path[MERKLE_MAX_PROOF], leaf;
	struct checkpoint cp;
	char b64[B64_LEN(MERKLE_HASH_LEN) + 1];
	json_t *doc = NULL, *arr;
	size_t n, i;

	gk_errf(err, errlen, "%s", "");
	if (checkpoint_parse(checkpoint, strlen(checkpoint), &cp, err, errlen) == -1)
		return NULL;
	if (cp.alg != merkle_hasher_alg(h)) {
		gk_errf(err, errlen, "checkpoint hash %s, tree hash %s",
		    merkle_alg_name(cp.alg), merkle_alg_name(merkle_hasher_alg(h)));
		return NULL;
	}
	if (leaf_index >= cp.size) {
		gk_errf(err, errlen, "leaf %llu is not in the checkpoint's %llu leaves",
		    (unsigned long long)leaf_index, (unsigned long long)cp.size);
		return NULL;
	}
	if (merkle_inclusion_proof(h, s, leaf_index, cp.size, path, &n) == -1) {
		gk_errf(err, errlen, "inclusion proof: %s", strerror(errno));
		return NULL;
	}
	if (merkle_leaf_hash(h, record, len, &leaf) == -1 ||
	    merkle_verify_inclusion(h, leaf_index, cp.size, &leaf, path, n,
	    &cp.root) == -1) {
		gk_errf(err, errlen, "the record is not leaf %llu of the checkpoint's "
		    "tree", (unsigned long long)leaf_index);
		return NULL;
	}
	if ((arr = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		b64_encode(path[i].b, MERKLE_HASH_LEN, b64, sizeof(b64));
		if (json_array_append_new(arr, json_string(b64)) == -1) {
			json_decref(arr);
			goto nomem;
		}
	}
	doc = json_pack("{s:s, s:s, s:I, s:I, s:s%, s:o, s:s}",
	    "format", PROOF_FORMAT,
	    "hash", merkle_alg_name(cp.alg),
	    "leaf_index", (json_int_t)leaf_index,
	    "tree_size", (json_int_t)cp.size,
	    "record", record, len,
	    "inclusion", arr,
	    "checkpoint", checkpoint);
	if (doc == NULL)
		goto nomem;
	return doc;
nomem:
	gk_errf(err, errlen, "cannot build the proof document");
	return NULL;
}

char *
proof_dump(const json_t *doc)
{
	char *s, *t;
	size_t n;

	if ((s = json_dumps(doc, JSON_INDENT(2))) == NULL)
		return NULL;
	n = strlen(s);
	if ((t = realloc(s, n + 2)) == NULL) {
		free(s);
		return NULL;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	return t;
}

/* A non-negative JSON integer member as uint64. */
static int
get_u64(const json_t *doc, const char *key, uint64_t *out)
{
	long long v;

	if (gk_json_get_int(doc, key, &v) != GK_JSON_OK || v < 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int
proof_check(const json_t *doc, const struct checkpoint_key *key,
    struct proof_result *res, char *reason, size_t reasonlen)
{
	static const char *const members[] = { "format", "hash", "leaf_index",
	    "tree_size", "record", "inclusion", "checkpoint" };
	struct merkle_hash path[MERKLE_MAX_PROOF], leaf;
	struct merkle_hasher *h = NULL;
	struct checkpoint cp;
	enum merkle_alg alg;
	const char *format, *hash, *record, *cptext, *key_s;
	char *canon = NULL, err[256];
	json_t *inc, *rec = NULL, *v;
	uint64_t index, size;
	size_t i, n, reclen, canonlen;
	int rc = -1;

	gk_errf(reason, reasonlen, "%s", "");
	if (res != NULL)
		memset(res, 0, sizeof(*res));
	if (!json_is_object(doc)) {
		gk_errf(reason, reasonlen, "not a proof: not a JSON object");
		return -1;
	}
	json_object_foreach((json_t *)(uintptr_t)doc, key_s, v) {
		for (i = 0; i < GK_NELEM(members); i++)
			if (strcmp(key_s, members[i]) == 0)
				break;
		if (i == GK_NELEM(members)) {
			gk_errf(reason, reasonlen, "unknown member \"%s\"", key_s);
			return -1;
		}
	}
	if (gk_json_get_str(doc, "format", &format) != GK_JSON_OK ||
	    strcmp(format, PROOF_FORMAT) != 0) {
		gk_errf(reason, reasonlen, "not a proof: format is not \"%s\"",
		    PROOF_FORMAT);
		return -1;
	}
	if (gk_json_get_str(doc, "hash", &hash) != GK_JSON_OK ||
	    merkle_alg_parse(hash, &alg) == -1 ||
	    get_u64(doc, "leaf_index", &index) == -1 ||
	    get_u64(doc, "tree_size", &size) == -1 ||
	    gk_json_get_str(doc, "record", &record) != GK_JSON_OK ||
	    gk_json_get_str(doc, "checkpoint", &cptext) != GK_JSON_OK ||
	    !json_is_array(inc = json_object_get(doc, "inclusion"))) {
		gk_errf(reason, reasonlen, "malformed proof: a member is missing or "
		    "of the wrong type");
		return -1;
	}
	reclen = json_string_length(json_object_get(doc, "record"));

	/* 1. The checkpoint is signed by the key the inspector trusts. */
	if (checkpoint_verify(cptext, strlen(cptext), key, &cp, err,
	    sizeof(err)) == -1) {
		gk_errf(reason, reasonlen, "checkpoint: %s", err);
		return -1;
	}
	/* 2. The file describes that checkpoint's tree. */
	if (cp.alg != alg) {
		gk_errf(reason, reasonlen, "hash is %s, the signed checkpoint says %s",
		    merkle_alg_name(alg), merkle_alg_name(cp.alg));
		return -1;
	}
	if (cp.size != size) {
		gk_errf(reason, reasonlen, "tree_size is %llu, the signed checkpoint "
		    "says %llu", (unsigned long long)size,
		    (unsigned long long)cp.size);
		return -1;
	}
	if (index >= size) {
		gk_errf(reason, reasonlen, "leaf_index %llu is outside the tree of "
		    "%llu", (unsigned long long)index, (unsigned long long)size);
		return -1;
	}
	n = json_array_size(inc);
	if (n > MERKLE_MAX_PROOF) {
		gk_errf(reason, reasonlen, "inclusion proof too long");
		return -1;
	}
	for (i = 0; i < n; i++) {
		v = json_array_get(inc, i);
		if (!json_is_string(v) || b64_decode(json_string_value(v),
		    json_string_length(v), path[i].b, MERKLE_HASH_LEN) !=
		    MERKLE_HASH_LEN) {
			gk_errf(reason, reasonlen, "inclusion[%zu] is not a base64 "
			    "hash", i);
			return -1;
		}
	}
	/* 3. The record is canonical JSON, so what is shown is what was hashed. */
	if ((rec = jcs_parse(record, reclen, PROOF_MAX_LEN, err,
	    sizeof(err))) == NULL) {
		gk_errf(reason, reasonlen, "record is not JSON: %s", err);
		return -1;
	}
	if ((canon = jcs_canonical(rec, &canonlen, err, sizeof(err))) == NULL ||
	    canonlen != reclen || memcmp(canon, record, reclen) != 0) {
		gk_errf(reason, reasonlen, "record is not in RFC 8785 canonical form");
		goto done;
	}
	/* 4. Its leaf hash leads to the signed root. */
	if ((h = merkle_hasher_new(alg)) == NULL) {
		gk_errf(reason, reasonlen, "hash %s is not available", hash);
		goto done;
	}
	if (merkle_leaf_hash(h, record, reclen, &leaf) == -1) {
		gk_errf(reason, reasonlen, "hashing failed");
		goto done;
	}
	if (merkle_verify_inclusion(h, index, size, &leaf, path, n,
	    &cp.root) == -1) {
		gk_errf(reason, reasonlen, "inclusion proof does not lead from the "
		    "record (leaf %llu) to the signed root of %llu leaves",
		    (unsigned long long)index, (unsigned long long)size);
		goto done;
	}
	rc = 0;
	if (res != NULL) {
		res->cp = cp;
		res->leaf_index = index;
		res->record = rec;
		rec = NULL;
	}
done:
	merkle_hasher_free(h);
	free(canon);
	json_decref(rec);
	return rc;
}

int
proof_check_text(const char *buf, size_t len, const struct checkpoint_key *key,
    struct proof_result *res, char *reason, size_t reasonlen)
{
	char err[256];
	json_t *doc;
	int rc;

	if ((doc = gk_json_parse(buf, len, PROOF_MAX_LEN, err, sizeof(err))) ==
	    NULL) {
		if (res != NULL)
			memset(res, 0, sizeof(*res));
		gk_errf(reason, reasonlen, "not a proof file: %s", err);
		return -1;
	}
	rc = proof_check(doc, key, res, reason, reasonlen);
	json_decref(doc);
	return rc;
}
