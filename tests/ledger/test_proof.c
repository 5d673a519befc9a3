/*
 * Unit tests for proof files (services/ledger-writer/proof.c): a small ledger of
 * canonical records in the in-memory tile store, a signed checkpoint, a proof
 * written and checked as an inspector would, then every tampering an inspector
 * must catch (record edited, hash flipped, index or size changed, hash algorithm
 * changed, checkpoint from another key, a stale or re-signed checkpoint).
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <gatekit/json.h>

#include "b64.h"
#include "checkpoint.h"
#include "jcs.h"
#include "proof.h"
#include "t.h"

#define NREC	50

struct ledger {
	struct merkle_hasher	*h;
	struct merkle_memstore	*ms;
	struct merkle_store	 s;
	struct merkle_tree	 t;
	char			*rec[NREC];
};

static struct checkpoint_key *
new_key(const char *type)
{
	struct checkpoint_key *k;
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, type);
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem, err[256];
	long n;

	T_REQUIRE(pk != NULL && bio != NULL);
	T_REQUIRE(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) == 1);
	n = BIO_get_mem_data(bio, &pem);
	k = checkpoint_key_from_pem(pem, (size_t)n, err, sizeof(err));
	T_REQUIRE(k != NULL);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return k;
}

/* A public-only copy of k, as the inspector holds it. */
static struct checkpoint_key *
public_of(const struct checkpoint_key *k)
{
	char *pem = checkpoint_key_public_pem(k), err[256];
	struct checkpoint_key *pub;

	T_REQUIRE(pem != NULL);
	pub = checkpoint_key_from_pem(pem, strlen(pem), err, sizeof(err));
	T_REQUIRE(pub != NULL && !checkpoint_key_can_sign(pub));
	free(pem);
	return pub;
}

static void
ledger_build(struct ledger *l, enum merkle_alg alg)
{
	struct merkle_node nodes[MERKLE_MAX_LEVELS];
	struct merkle_hash leaf;
	char err[256];
	json_t *j;
	size_t len, n;
	int i;

	memset(l, 0, sizeof(*l));
	T_REQUIRE((l->h = merkle_hasher_new(alg)) != NULL);
	T_REQUIRE((l->ms = merkle_memstore_new(l->h)) != NULL);
	l->s = merkle_memstore_reader(l->ms);
	merkle_tree_init(&l->t);
	for (i = 0; i < NREC; i++) {
		j = json_pack("{s:i, s:s, s:s, s:s, s:f, s:{s:s, s:[s]}}",
		    "seq", i + 1, "event_id", "0193a0e8-7c2a-7f00-8000-00000000002a",
		    "plate", "\xe6\xb2\xaa" "F81234", "lane", "in-1",
		    "tonnage", 31.5 + i, "decision", "result",
		    i % 2 ? "allow" : "deny", "reasons", "stage_below_min");
		T_REQUIRE(j != NULL);
		l->rec[i] = jcs_canonical(j, &len, err, sizeof(err));
		T_REQUIRE(l->rec[i] != NULL);
		json_decref(j);
		T_REQUIRE(merkle_leaf_hash(l->h, l->rec[i], len, &leaf) == 0);
		T_REQUIRE(merkle_tree_append(&l->t, l->h, &leaf, nodes, &n) == 0);
		T_REQUIRE(merkle_memstore_put(l->ms, nodes, n) == 0);
	}
}

static void
ledger_free(struct ledger *l)
{
	int i;

	for (i = 0; i < NREC; i++)
		free(l->rec[i]);
	merkle_memstore_free(l->ms);
	merkle_hasher_free(l->h);
}

/* The signed checkpoint of the ledger's first size records. */
static char *
signed_checkpoint(struct ledger *l, uint64_t size, const struct checkpoint_key *k)
{
	struct checkpoint cp;
	char err[256], *note;

	memset(&cp, 0, sizeof(cp));
	strcpy(cp.origin, "ecogate/plant-1");
	cp.size = size;
	cp.time_ms = 1795867200123LL;
	cp.alg = merkle_hasher_alg(l->h);
	T_REQUIRE(merkle_root(l->h, &l->s, size, &cp.root) == 0);
	note = checkpoint_sign(&cp, k, err, sizeof(err));
	T_REQUIRE(note != NULL);
	return note;
}

/* Checks the proof text with key; 0 or -1, reason in reason. */
static int
check(const char *text, const struct checkpoint_key *key, char *reason,
    size_t len)
{
	struct proof_result res;
	int rc;

	rc = proof_check_text(text, strlen(text), key, &res, reason, len);
	json_decref(res.record);
	return rc;
}

/* Applies edit to a copy of the parsed proof, checks it; must fail. */
static int
tampered(const char *text, const struct checkpoint_key *key,
    void (*edit)(json_t *), const char *want_reason)
{
	char err[256], reason[512], *again;
	json_t *doc = gk_json_parse(text, strlen(text), PROOF_MAX_LEN, err,
	    sizeof(err));
	int rc;

	T_REQUIRE(doc != NULL);
	edit(doc);
	again = proof_dump(doc);
	json_decref(doc);
	rc = check(again, key, reason, sizeof(reason));
	free(again);
	if (rc == 0) {
		fprintf(stderr, "tampered proof passed (want \"%s\")\n", want_reason);
		return 0;
	}
	if (strstr(reason, want_reason) == NULL) {
		fprintf(stderr, "reason \"%s\", want \"%s\"\n", reason, want_reason);
		return 0;
	}
	return 1;
}

static void
edit_record(json_t *doc)
{
	char *r = strdup(json_string_value(json_object_get(doc, "record")));

	*strstr(r, "\"seq\":18") = '\0';	/* cut the record at seq */
	strcat(r, "\"seq\":19,\"tonnage\":48.5}");
	json_object_set_new(doc, "record", json_string(r));
	free(r);
}

static void
edit_record_noncanonical(json_t *doc)
{
	const char *orig = json_string_value(json_object_get(doc, "record"));
	char *r = malloc(strlen(orig) + 2), *p;

	strcpy(r, orig);
	p = strstr(r, "\"lane\"");

	memmove(p + 1, p, strlen(p) + 1);	/* one space before "lane" */
	*p = ' ';
	json_object_set_new(doc, "record", json_string(r));
	free(r);
}

static void
edit_record_notjson(json_t *doc)
{
	json_object_set_new(doc, "record", json_string("{\"seq\":"));
}

static void
edit_flip_hash(json_t *doc)
{
	json_t *inc = json_object_get(doc, "inclusion");
	char s[64];

	strcpy(s, json_string_value(json_array_get(inc, 2)));
	s[5] = s[5] == 'A' ? 'B' : 'A';
	json_array_set_new(inc, 2, json_string(s));
}

static void
edit_drop_hash(json_t *doc)
{
	json_t *inc = json_object_get(doc, "inclusion");

	json_array_remove(inc, json_array_size(inc) - 1);
}

static void
edit_bad_base64(json_t *doc)
{
	json_array_set_new(json_object_get(doc, "inclusion"), 0,
	    json_string("not base64"));
}

static void
edit_index(json_t *doc)
{
	json_object_set_new(doc, "leaf_index", json_integer(16));
}

static void
edit_index_out(json_t *doc)
{
	json_object_set_new(doc, "leaf_index", json_integer(NREC));
}

static void
edit_size(json_t *doc)
{
	json_object_set_new(doc, "tree_size", json_integer(NREC - 1));
}

static void
edit_hash_alg(json_t *doc)
{
	const char *was = json_string_value(json_object_get(doc, "hash"));

	json_object_set_new(doc, "hash", json_string(strcmp(was, "sm3") == 0 ?
	    "sha256" : "sm3"));
}

static void
edit_format(json_t *doc)
{
	json_object_set_new(doc, "format", json_string("ecogate-proof/v2"));
}

static void
edit_unknown(json_t *doc)
{
	json_object_set_new(doc, "note", json_string("trust me"));
}

static void
edit_missing(json_t *doc)
{
	json_object_del(doc, "checkpoint");
}

static void
edit_checkpoint_size(json_t *doc)
{
	char *c = strdup(json_string_value(json_object_get(doc, "checkpoint")));

	memcpy(strstr(c, "\n50\n"), "\n49\n", 4);
	json_object_set_new(doc, "checkpoint", json_string(c));
	free(c);
}

static struct checkpoint_key *other_key;
static struct ledger *cur;

static void
edit_other_key(json_t *doc)
{
	char *note = signed_checkpoint(cur, NREC, other_key);

	json_object_set_new(doc, "checkpoint", json_string(note));
	free(note);
}

static void
test_roundtrip_and_tamper(enum merkle_alg alg, const char *keytype)
{
	struct checkpoint_key *key = new_key(keytype), *pub = public_of(key);
	struct proof_result res;
	struct ledger l;
	char err[256], reason[512], *note, *text;
	json_t *doc;
	const char *plate;

	ledger_build(&l, alg);
	cur = &l;
	note = signed_checkpoint(&l, NREC, key);
	doc = proof_make(l.h, &l.s, l.rec[17], strlen(l.rec[17]), 17, note, err,
	    sizeof(err));
	T_REQUIRE(doc != NULL);
	T_REQUIRE((text = proof_dump(doc)) != NULL);
	json_decref(doc);
	T_CHECK(text[strlen(text) - 1] == '\n');
	T_CHECK(strstr(text, "\"format\": \"ecogate-proof/v1\"") != NULL);

	/* The inspector's check, with the public key only. */
	T_CHECK(proof_check_text(text, strlen(text), pub, &res, reason,
	    sizeof(reason)) == 0);
	T_CHECKF(reason[0] == '\0', "%s", reason);
	T_CHECK(res.leaf_index == 17 && res.cp.size == NREC && res.cp.alg == alg);
	T_STREQ(res.cp.origin, "ecogate/plant-1");
	T_CHECK(gk_json_get_str(res.record, "plate", &plate) == GK_JSON_OK &&
	    strcmp(plate, "\xe6\xb2\xaa" "F81234") == 0);
	json_decref(res.record);

	T_CHECK(tampered(text, pub, edit_record, "does not lead"));
	T_CHECK(tampered(text, pub, edit_record_noncanonical, "canonical"));
	T_CHECK(tampered(text, pub, edit_record_notjson, "not JSON"));
	T_CHECK(tampered(text, pub, edit_flip_hash, "does not lead"));
	T_CHECK(tampered(text, pub, edit_drop_hash, "does not lead"));
	T_CHECK(tampered(text, pub, edit_bad_base64, "not a base64 hash"));
	T_CHECK(tampered(text, pub, edit_index, "does not lead"));
	T_CHECK(tampered(text, pub, edit_index_out, "outside the tree"));
	T_CHECK(tampered(text, pub, edit_size, "tree_size is 49"));
	T_CHECK(tampered(text, pub, edit_hash_alg, alg == MERKLE_SM3 ?
	    "hash is sha256" : "hash is sm3"));
	T_CHECK(tampered(text, pub, edit_format, "format"));
	T_CHECK(tampered(text, pub, edit_unknown, "unknown member"));
	T_CHECK(tampered(text, pub, edit_missing, "missing"));
	T_CHECK(tampered(text, pub, edit_checkpoint_size, "checkpoint:"));
	other_key = new_key(keytype);
	T_CHECK(tampered(text, pub, edit_other_key, "no signature by the given"));
	/* The other key, had the inspector been given it, would not save it. */
	T_CHECK(check(text, other_key, reason, sizeof(reason)) == -1);
	checkpoint_key_free(other_key);

	/* Not a proof at all. */
	T_CHECK(check("[]", pub, reason, sizeof(reason)) == -1);
	T_CHECK(check("{", pub, reason, sizeof(reason)) == -1 &&
	    strstr(reason, "not a proof file") != NULL);

	free(text);
	free(note);
	checkpoint_key_free(pub);
	checkpoint_key_free(key);
	ledger_free(&l);
}

static void
test_make_errors(void)
{
	struct checkpoint_key *key = new_key("ED25519");
	struct ledger l, l3;
	struct proof_result res;
	char err[256], reason[512], *note, *text;
	json_t *doc;

	ledger_build(&l, MERKLE_SHA256);
	/* An older checkpoint proves the records it covers. */
	note = signed_checkpoint(&l, 30, key);
	doc = proof_make(l.h, &l.s, l.rec[10], strlen(l.rec[10]), 10, note, err,
	    sizeof(err));
	T_REQUIRE(doc != NULL);
	text = proof_dump(doc);
	T_CHECK(proof_check(doc, key, &res, reason, sizeof(reason)) == 0);
	json_decref(res.record);
	T_CHECK(proof_check_text(text, strlen(text), key, NULL, reason,
	    sizeof(reason)) == 0);
	free(text);
	json_decref(doc);
	/* ... and not the ones after it. */
	T_CHECK(proof_make(l.h, &l.s, l.rec[40], strlen(l.rec[40]), 40, note, err,
	    sizeof(err)) == NULL && strstr(err, "not in the checkpoint") != NULL);
	/* The wrong record for the index. */
	T_CHECK(proof_make(l.h, &l.s, l.rec[11], strlen(l.rec[11]), 10, note, err,
	    sizeof(err)) == NULL && strstr(err, "not leaf 10") != NULL);
	/* A checkpoint of another hash. */
	ledger_build(&l3, MERKLE_SM3);
	T_CHECK(proof_make(l3.h, &l3.s, l.rec[1], strlen(l.rec[1]), 1, note, err,
	    sizeof(err)) == NULL && strstr(err, "checkpoint hash sha256") != NULL);
	/* Not a checkpoint. */
	T_CHECK(proof_make(l.h, &l.s, l.rec[1], strlen(l.rec[1]), 1, "x\n", err,
	    sizeof(err)) == NULL);
	free(note);
	ledger_free(&l3);
	ledger_free(&l);
	checkpoint_key_free(key);
}

int
main(void)
{
	test_roundtrip_and_tamper(MERKLE_SHA256, "ED25519");
	test_roundtrip_and_tamper(MERKLE_SM3, "SM2");
	test_make_errors();
	return T_DONE();
}
