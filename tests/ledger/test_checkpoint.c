/*
 * Unit tests for signed checkpoints (services/ledger-writer/checkpoint.c): keys made
 * here with OpenSSL and loaded back from PEM files, sign/verify round trips for
 * Ed25519 and SM2, the key ID recomputed independently, and every kind of forgery
 * the ledger must notice: altered size, root, time, hash, signature, another key.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "b64.h"
#include "checkpoint.h"
#include "t.h"

static char tmpdir[] = "/tmp/test_checkpoint.XXXXXX";

/* Makes a key of type ("ED25519", "SM2", "RSA") and writes NAME.key / NAME.pub. */
static void
make_key(const char *type, const char *name)
{
	char path[256];
	EVP_PKEY *pk;
	FILE *fp;

	if (strcmp(type, "RSA") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, type);
	T_REQUIRE(pk != NULL);
	snprintf(path, sizeof(path), "%s/%s.key", tmpdir, name);
	T_REQUIRE((fp = fopen(path, "w")) != NULL);
	T_REQUIRE(PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL) == 1);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/%s.pub", tmpdir, name);
	T_REQUIRE((fp = fopen(path, "w")) != NULL);
	T_REQUIRE(PEM_write_PUBKEY(fp, pk) == 1);
	fclose(fp);
	EVP_PKEY_free(pk);
}

static struct checkpoint_key *
load(const char *file)
{
	char path[256], err[256];
	struct checkpoint_key *k;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, file);
	k = checkpoint_key_load(path, err, sizeof(err));
	if (k == NULL)
		fprintf(stderr, "load %s: %s\n", file, err);
	return k;
}

static void
sample(struct checkpoint *cp, enum merkle_alg alg)
{
	int i;

	memset(cp, 0, sizeof(*cp));
	strcpy(cp->origin, "ecogate/plant-1");
	cp->size = 1000;
	for (i = 0; i < MERKLE_HASH_LEN; i++)
		cp->root.b[i] = (uint8_t)(i * 7 + 1);
	cp->time_ms = 1795867200123LL;	/* 2026-11-28T12:00:00.123Z */
	cp->alg = alg;
}

/* verify() of text with one substring replaced: must fail. */
static int
verify_altered(const char *note, const char *from, const char *to,
    const struct checkpoint_key *k)
{
	char buf[4096], err[256];
	struct checkpoint cp;
	const char *at = strstr(note, from);
	size_t pre;

	if (at == NULL) {
		fprintf(stderr, "\"%s\" not in the note\n", from);
		return 0;
	}
	pre = (size_t)(at - note);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)pre, note, to,
	    at + strlen(from));
	return checkpoint_verify(buf, strlen(buf), k, &cp, err, sizeof(err)) == -1;
}

/* Changes one base64 character of the signature on the last line. */
static void
flip_sig(char *note)
{
	char *p = strrchr(note, ' ') + 10;

	*p = *p == 'A' ? 'B' : 'A';
}

static void
test_roundtrip(const char *keyname, enum merkle_alg alg,
    enum checkpoint_sigalg sigalg)
{
	struct checkpoint_key *priv, *pub, *pub2;
	struct checkpoint cp, got;
	char keyfile[64], pubfile[64], err[256], body[512], *note, *pem;
	char root[64];

	snprintf(keyfile, sizeof(keyfile), "%s.key", keyname);
	snprintf(pubfile, sizeof(pubfile), "%s.pub", keyname);
	T_REQUIRE((priv = load(keyfile)) != NULL);
	T_REQUIRE((pub = load(pubfile)) != NULL);
	T_CHECK(checkpoint_key_alg(priv) == sigalg);
	T_CHECK(checkpoint_key_alg(pub) == sigalg);
	T_CHECK(checkpoint_key_can_sign(priv) && !checkpoint_key_can_sign(pub));

	sample(&cp, alg);
	note = checkpoint_sign(&cp, priv, err, sizeof(err));
	T_REQUIRE(note != NULL);
	/* The text is the tlog-checkpoint, then the blank line and one signature. */
	b64_encode(cp.root.b, 32, root, sizeof(root));
	snprintf(body, sizeof(body), "ecogate/plant-1\n1000\n%s\n"
	    "time 2026-11-28T12:00:00.123Z\nhash %s\n\n\xe2\x80\x94 ecogate/plant-1 ",
	    root, merkle_alg_name(alg));
	T_CHECKF(strncmp(note, body, strlen(body)) == 0, "%s", note);
	T_CHECK(note[strlen(note) - 1] == '\n');

	T_CHECK(checkpoint_verify(note, strlen(note), pub, &got, err,
	    sizeof(err)) == 0);
	T_STREQ(got.origin, "ecogate/plant-1");
	T_CHECK(got.size == 1000 && got.time_ms == cp.time_ms && got.alg == alg &&
	    memcmp(got.root.b, cp.root.b, 32) == 0);
	/* A private key verifies too. */
	T_CHECK(checkpoint_verify(note, strlen(note), priv, &got, err,
	    sizeof(err)) == 0);
	/* The public half exported as PEM is the same key. */
	T_REQUIRE((pem = checkpoint_key_public_pem(priv)) != NULL);
	T_REQUIRE((pub2 = checkpoint_key_from_pem(pem, strlen(pem), err,
	    sizeof(err))) != NULL);
	T_CHECK(checkpoint_verify(note, strlen(note), pub2, &got, err,
	    sizeof(err)) == 0);
	free(pem);
	checkpoint_key_free(pub2);

	/* Every signed field matters. */
	T_CHECK(verify_altered(note, "\n1000\n", "\n1001\n", pub));
	T_CHECK(verify_altered(note, "\n1000\n", "\n999\n", pub));
	T_CHECK(verify_altered(note, "\n1000\n", "\n01000\n", pub));
	T_CHECK(verify_altered(note, root + 4, "AAAA", pub));
	T_CHECK(verify_altered(note, ".123Z", ".124Z", pub));
	T_CHECK(verify_altered(note, alg == MERKLE_SM3 ? "hash sm3" :
	    "hash sha256", alg == MERKLE_SM3 ? "hash sha256" : "hash sm3", pub));
	T_CHECK(verify_altered(note, "ecogate/plant-1\n", "ecogate/plant-2\n", pub));
	/* The signature itself. */
	{
		char *copy = strdup(note);

		flip_sig(copy);
		T_CHECK(checkpoint_verify(copy, strlen(copy), pub, &got, err,
		    sizeof(err)) == -1);
		T_CHECKF(strstr(err, "does not verify") != NULL, "%s", err);
		free(copy);
	}
	/* Nothing may follow or be missing. */
	T_CHECK(verify_altered(note, "\n\n", "\n", pub));
	T_CHECK(verify_altered(note, "hash ", "x\nhash ", pub));

	/* A public key cannot sign. */
	T_CHECK(checkpoint_sign(&cp, pub, err, sizeof(err)) == NULL);
	free(note);
	checkpoint_key_free(priv);
	checkpoint_key_free(pub);
}

static void
test_other_keys(void)
{
	struct checkpoint_key *a, *b, *sm2, *apub;
	struct checkpoint cp, got;
	char err[256], *na, *nb, both[4096], *sigb;

	T_REQUIRE((a = load("ed.key")) != NULL);
	T_REQUIRE((apub = load("ed.pub")) != NULL);
	T_REQUIRE((b = load("ed2.key")) != NULL);
	T_REQUIRE((sm2 = load("sm2.key")) != NULL);
	sample(&cp, MERKLE_SHA256);
	na = checkpoint_sign(&cp, a, err, sizeof(err));
	nb = checkpoint_sign(&cp, b, err, sizeof(err));
	T_REQUIRE(na != NULL && nb != NULL);

	/* Another key's checkpoint is not ours, even under the same name. */
	T_CHECK(checkpoint_verify(nb, strlen(nb), apub, &got, err,
	    sizeof(err)) == -1);
	T_CHECKF(strstr(err, "no signature by the given") != NULL, "%s", err);
	T_CHECK(checkpoint_verify(na, strlen(na), sm2, &got, err,
	    sizeof(err)) == -1);

	/* Two signatures (a witness, say): each key finds its own. */
	sigb = strstr(nb, "\n\n") + 2;
	snprintf(both, sizeof(both), "%s%s", na, sigb);
	T_CHECK(checkpoint_verify(both, strlen(both), apub, &got, err,
	    sizeof(err)) == 0);
	T_CHECK(checkpoint_verify(both, strlen(both), b, &got, err,
	    sizeof(err)) == 0);
	/* A bad signature by the key rejects the note even if another is good. */
	snprintf(both, sizeof(both), "%s%s", na, strstr(na, "\n\n") + 2);
	flip_sig(both);
	T_CHECK(checkpoint_verify(both, strlen(both), apub, &got, err,
	    sizeof(err)) == -1);

	free(na);
	free(nb);
	checkpoint_key_free(a);
	checkpoint_key_free(apub);
	checkpoint_key_free(b);
	checkpoint_key_free(sm2);
}

/* The key ID follows signed-note: SHA-256(name || 0x0A || 0x01 || key)[:4]. */
static void
test_key_id(void)
{
	struct checkpoint_key *k, *sm2;
	uint8_t buf[256], md[32], raw[32];
	size_t rawlen = sizeof(raw), n;
	unsigned int mdlen;
	uint32_t id, id2;
	EVP_PKEY *pk;
	FILE *fp;
	char path[256];

	T_REQUIRE((k = load("ed.pub")) != NULL);
	snprintf(path, sizeof(path), "%s/ed.pub", tmpdir);
	T_REQUIRE((fp = fopen(path, "r")) != NULL);
	pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	T_REQUIRE(pk != NULL &&
	    EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) == 1);
	n = strlen("ecogate/plant-1");
	memcpy(buf, "ecogate/plant-1", n);
	buf[n++] = 0x0a;
	buf[n++] = 0x01;
	memcpy(buf + n, raw, 32);
	n += 32;
	EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL);
	T_CHECK(checkpoint_key_id(k, "ecogate/plant-1", &id) == 0);
	T_CHECK(id == ((uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
	    (uint32_t)md[2] << 8 | md[3]));
	/* The name is part of the ID. */
	T_CHECK(checkpoint_key_id(k, "ecogate/plant-2", &id2) == 0 && id2 != id);
	T_REQUIRE((sm2 = load("sm2.pub")) != NULL);
	T_CHECK(checkpoint_key_id(sm2, "ecogate/plant-1", &id2) == 0 && id2 != id);
	EVP_PKEY_free(pk);
	checkpoint_key_free(k);
	checkpoint_key_free(sm2);
}

/*
 * Our SM2 signatures use SM3 and the standard's default distinguishing ID
 * "1234567812345678": they verify through another OpenSSL route (the ID passed as a
 * parameter at init, as `openssl pkeyutl -pkeyopt distid:...` does) and not
 * without the ID (which OpenSSL 3.0 would otherwise use).
 */
static void
test_sm2_default_id(void)
{
	struct checkpoint_key *k;
	struct checkpoint cp;
	char err[256], *note, *sig, path[256], id[] = "1234567812345678";
	uint8_t raw[200];
	OSSL_PARAM params[2];
	EVP_PKEY *pk;
	EVP_MD_CTX *ctx;
	FILE *fp;
	int n;
	size_t textlen;

	T_REQUIRE((k = load("sm2.key")) != NULL);
	sample(&cp, MERKLE_SM3);
	T_REQUIRE((note = checkpoint_sign(&cp, k, err, sizeof(err))) != NULL);
	textlen = (size_t)(strstr(note, "\n\n") - note) + 1;
	sig = strrchr(note, ' ') + 1;
	n = b64_decode(sig, strlen(sig) - 1, raw, sizeof(raw));
	T_REQUIRE(n > 4);
	snprintf(path, sizeof(path), "%s/sm2.pub", tmpdir);
	T_REQUIRE((fp = fopen(path, "r")) != NULL);
	pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	T_REQUIRE(pk != NULL);
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_DIST_ID, id,
	    strlen(id));
	params[1] = OSSL_PARAM_construct_end();
	ctx = EVP_MD_CTX_new();
	T_CHECK(EVP_DigestVerifyInit_ex(ctx, NULL, "SM3", NULL, NULL, pk,
	    params) == 1 && EVP_DigestVerify(ctx, raw + 4, (size_t)n - 4,
	    (const uint8_t *)note, textlen) == 1);
	EVP_MD_CTX_free(ctx);
	ctx = EVP_MD_CTX_new();
	T_CHECK(EVP_DigestVerifyInit_ex(ctx, NULL, "SM3", NULL, NULL, pk,
	    NULL) == 1 && EVP_DigestVerify(ctx, raw + 4, (size_t)n - 4,
	    (const uint8_t *)note, textlen) != 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	free(note);
	checkpoint_key_free(k);
}

static void
test_load_errors(void)
{
	char err[256], path[256];
	struct checkpoint_key *k;
	FILE *fp;

	T_CHECK(load("rsa.key") == NULL);
	T_CHECK(load("missing.key") == NULL);
	snprintf(path, sizeof(path), "%s/garbage.key", tmpdir);
	T_REQUIRE((fp = fopen(path, "w")) != NULL);
	fputs("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
	    fp);
	fclose(fp);
	k = checkpoint_key_load(path, err, sizeof(err));
	T_CHECK(k == NULL && strstr(err, "garbage.key") != NULL);
	T_CHECK(checkpoint_key_from_pem("", 0, err, sizeof(err)) == NULL);
	checkpoint_key_free(NULL);
}

static void
test_parse_strict(void)
{
	struct checkpoint_key *k;
	struct checkpoint cp;
	char err[256], *note, bad[4096];

	T_REQUIRE((k = load("ed.key")) != NULL);
	sample(&cp, MERKLE_SHA256);
	T_REQUIRE((note = checkpoint_sign(&cp, k, err, sizeof(err))) != NULL);
	T_CHECK(checkpoint_parse(note, strlen(note), &cp, err, sizeof(err)) == 0);
	T_CHECK(cp.size == 1000);
	/* Without the signature block, without the final newline. */
	T_CHECK(checkpoint_parse(note, (size_t)(strstr(note, "\n\n") - note) + 1,
	    &cp, err, sizeof(err)) == -1);
	T_CHECK(checkpoint_parse(note, strlen(note) - 1, &cp, err,
	    sizeof(err)) == -1);
	/* A control character, a time in another spelling, an unknown hash. */
	T_CHECK(verify_altered(note, "plant-1\n1000", "plant-1\n10\t00", k));
	T_CHECK(verify_altered(note, "12:00:00.123Z", "20:00:00.123+08:00", k));
	T_CHECK(verify_altered(note, "hash sha256", "hash md5", k));
	T_CHECK(verify_altered(note, "ecogate/plant-1\n", "ecogate plant\n", k));
	T_CHECK(verify_altered(note, "\xe2\x80\x94 ", "-- ", k));
	snprintf(bad, sizeof(bad), "%s", note);
	strcpy(strstr(bad, "\n\n") + 2, "\xe2\x80\x94 x\n");
	T_CHECK(checkpoint_verify(bad, strlen(bad), k, &cp, err, sizeof(err)) == -1);
	/* A size beyond uint64. */
	T_CHECK(verify_altered(note, "\n1000\n", "\n18446744073709551616\n", k));
	/* Formatting refuses an origin with a space or a plus. */
	sample(&cp, MERKLE_SHA256);
	strcpy(cp.origin, "a b");
	T_CHECK(checkpoint_format(&cp, bad, sizeof(bad)) == -1);
	strcpy(cp.origin, "a+b");
	T_CHECK(checkpoint_sign(&cp, k, err, sizeof(err)) == NULL);
	free(note);
	checkpoint_key_free(k);
}

int
main(void)
{
	char cmd[300];

	T_REQUIRE(mkdtemp(tmpdir) != NULL);
	make_key("ED25519", "ed");
	make_key("ED25519", "ed2");
	make_key("SM2", "sm2");
	make_key("RSA", "rsa");

	test_roundtrip("ed", MERKLE_SHA256, CHECKPOINT_ED25519);
	test_roundtrip("ed", MERKLE_SM3, CHECKPOINT_ED25519);
	test_roundtrip("sm2", MERKLE_SM3, CHECKPOINT_SM2);
	test_roundtrip("sm2", MERKLE_SHA256, CHECKPOINT_SM2);
	test_other_keys();
	test_key_id();
	test_sm2_default_id();
	test_load_errors();
	test_parse_strict();

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return T_DONE();
}
