/*
 * Signed checkpoints (see checkpoint.h): formatting and strict parsing of the
 * tlog-checkpoint text, signed-note framing, and Ed25519 / SM2 signatures through
 * OpenSSL 3. Parsing is written to refuse rather than guess: every byte of a note
 * has exactly one accepted spelling, so two different texts never verify as the
 * same checkpoint.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <gatekit/util.h>

#include "b64.h"
#include "checkpoint.h"

/* The default distinguishing ID of GB/T 32918 and GM/T 0009 (RFC 8998 too). */
#define SM2_ID		"1234567812345678"
#define SM2_KEYID_TAG	"ecogate-sm2-sm3"
#define SIG_MAX		160	/* Ed25519 64 bytes, SM2 DER at most 72 */
#define EM_DASH		"\xe2\x80\x94"

struct checkpoint_key {
	EVP_PKEY		*pkey;
	enum checkpoint_sigalg	 alg;
	int			 private;
};

const char *
checkpoint_sigalg_name(enum checkpoint_sigalg alg)
{
	return alg == CHECKPOINT_SM2 ? "sm2" : "ed25519";
}

/* An encrypted PEM would make OpenSSL prompt on the terminal: refuse it instead. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static void
ossl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	gk_errf(err, errlen, "%s: %s", what, e ? buf : "failed");
	ERR_clear_error();
}

struct checkpoint_key *
checkpoint_key_from_pem(const char *pem, size_t len, char *err, size_t errlen)
{
	struct checkpoint_key *k;
	EVP_PKEY *pk = NULL;
	BIO *bio;
	char group[64];
	int private = 1;

	if (len > INT32_MAX) {
		gk_errf(err, errlen, "key: too long");
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		ossl_err(err, errlen, "key");
		return NULL;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (pk == NULL) {
		ERR_clear_error();
		private = 0;
		BIO_free(bio);
		if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
			ossl_err(err, errlen, "key");
			return NULL;
		}
		pk = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	}
	BIO_free(bio);
	if (pk == NULL) {
		ossl_err(err, errlen, "key: no unencrypted PEM private or public key");
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pk);
		gk_errf(err, errlen, "key: out of memory");
		return NULL;
	}
	k->pkey = pk;
	k->private = private;
	if (EVP_PKEY_is_a(pk, "ED25519"))
		k->alg = CHECKPOINT_ED25519;
	else if (EVP_PKEY_is_a(pk, "SM2") ||
	    (EVP_PKEY_is_a(pk, "EC") &&
	    EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) == 1 &&
	    strcmp(group, "SM2") == 0))
		k->alg = CHECKPOINT_SM2;
	else {
		gk_errf(err, errlen, "key: %s keys are not used for checkpoints "
		    "(Ed25519 or SM2)", EVP_PKEY_get0_type_name(pk));
		checkpoint_key_free(k);
		return NULL;
	}
	return k;
}

struct checkpoint_key *
checkpoint_key_load(const char *path, char *err, size_t errlen)
{
	struct checkpoint_key *k;
	char buf[16384];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		gk_errf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf), fp);
	if (ferror(fp) || n == sizeof(buf)) {
		gk_errf(err, errlen, "%s: %s", path, ferror(fp) ?
		    "read failed" : "too long for a key");
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	k = checkpoint_key_from_pem(buf, n, err, errlen);
	if (k == NULL && err != NULL && errlen > 0) {
		char tmp[512];

		gk_strlcpy(tmp, err, sizeof(tmp));
		gk_errf(err, errlen, "%s: %s", path, tmp);
	}
	OPENSSL_cleanse(buf, sizeof(buf));	/* it may have held a private key */
	return k;
}

void
checkpoint_key_free(struct checkpoint_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

enum checkpoint_sigalg
checkpoint_key_alg(const struct checkpoint_key *k)
{
	return k->alg;
}

int
checkpoint_key_can_sign(const struct checkpoint_key *k)
{
	return k->private;
}

int
checkpoint_key_id(const struct checkpoint_key *k, const char *name, uint32_t *id)
{
	static const uint8_t nl = 0x0a, ed25519 = 0x01, other = 0xff;
	uint8_t raw[32], md[32], *spki = NULL;
	size_t rawlen = sizeof(raw);
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int spkilen = 0, ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex2(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, name, strlen(name)) == 1 &&
	    EVP_DigestUpdate(ctx, &nl, 1) == 1;
	if (ok && k->alg == CHECKPOINT_ED25519) {
		ok = EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen) == 1 &&
		    rawlen == 32 &&
		    EVP_DigestUpdate(ctx, &ed25519, 1) == 1 &&
		    EVP_DigestUpdate(ctx, raw, rawlen) == 1;
	} else if (ok) {
		ok = (spkilen = i2d_PUBKEY(k->pkey, &spki)) > 0 &&
		    EVP_DigestUpdate(ctx, &other, 1) == 1 &&
		    EVP_DigestUpdate(ctx, SM2_KEYID_TAG,
		    strlen(SM2_KEYID_TAG)) == 1 &&
		    EVP_DigestUpdate(ctx, spki, (size_t)spkilen) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	OPENSSL_free(spki);
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return -1;
	}
	*id = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
	    (uint32_t)md[2] << 8 | md[3];
	return 0;
}

char *
checkpoint_key_public_pem(const struct checkpoint_key *k)
{
	BIO *bio;
	BUF_MEM *bm;
	char *s = NULL;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (PEM_write_bio_PUBKEY(bio, k->pkey) == 1 &&
	    BIO_get_mem_ptr(bio, &bm) == 1 && (s = malloc(bm->length + 1)) != NULL) {
		memcpy(s, bm->data, bm->length);
		s[bm->length] = '\0';
	}
	BIO_free(bio);
	return s;
}

/* Starts a one-shot EVP_DigestSign/Verify with k's algorithm on ctx. */
static int
sig_init(EVP_MD_CTX *ctx, const struct checkpoint_key *k, int sign)
{
	EVP_PKEY_CTX *pctx = NULL;
	const char *md = k->alg == CHECKPOINT_SM2 ? "SM3" : NULL;
	int rc;

	if (sign)
		rc = EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, k->pkey, NULL);
	else
		rc = EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, k->pkey,
		    NULL);
	if (rc != 1)
		return -1;
	/*
	 * The ID is part of what SM2 signs (the Z value). OpenSSL 3.0 does not
	 * apply the standard's default by itself: without an ID its signatures
	 * verify only without one, elsewhere (GmSSL, `openssl pkeyutl -pkeyopt
	 * distid:1234567812345678`) they do not. So it is always set.
	 */
	if (k->alg == CHECKPOINT_SM2 &&
	    EVP_PKEY_CTX_set1_id(pctx, SM2_ID, strlen(SM2_ID)) != 1)
		return -1;
	return 0;
}

static int
valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= CHECKPOINT_ORIGIN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '+')
			return 0;
	return 1;
}

int
checkpoint_format(const struct checkpoint *cp, char *buf, size_t len)
{
	char root[B64_LEN(MERKLE_HASH_LEN) + 1], ts[GK_TS_LEN];
	int n;

	if (!valid_name(cp->origin, strnlen(cp->origin, CHECKPOINT_ORIGIN_MAX)) ||
	    gk_ts_format(cp->time_ms, ts, sizeof(ts)) == -1 ||
	    b64_encode(cp->root.b, MERKLE_HASH_LEN, root, sizeof(root)) == -1)
		return -1;
	n = snprintf(buf, len, "%s\n%llu\n%s\ntime %s\nhash %s\n", cp->origin,
	    (unsigned long long)cp->size, root, ts, merkle_alg_name(cp->alg));
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

char *
checkpoint_sign(const struct checkpoint *cp, const struct checkpoint_key *k,
    char *err, size_t errlen)
{
	char body[512], sigb64[B64_LEN(4 + SIG_MAX) + 1], *note = NULL;
	uint8_t sig[4 + SIG_MAX];
	size_t siglen = SIG_MAX, notelen;
	EVP_MD_CTX *ctx = NULL;
	uint32_t id;
	int blen;

	gk_errf(err, errlen, "%s", "");
	if (!k->private) {
		gk_errf(err, errlen, "sign: the key is a public key");
		return NULL;
	}
	if ((blen = checkpoint_format(cp, body, sizeof(body))) == -1) {
		gk_errf(err, errlen, "sign: invalid checkpoint (origin or time)");
		return NULL;
	}
	if (checkpoint_key_id(k, cp->origin, &id) == -1) {
		gk_errf(err, errlen, "sign: cannot derive the key ID");
		return NULL;
	}
	sig[0] = (uint8_t)(id >> 24);
	sig[1] = (uint8_t)(id >> 16);
	sig[2] = (uint8_t)(id >> 8);
	sig[3] = (uint8_t)id;
	if ((ctx = EVP_MD_CTX_new()) == NULL || sig_init(ctx, k, 1) == -1 ||
	    EVP_DigestSign(ctx, sig + 4, &siglen, (const uint8_t *)body,
	    (size_t)blen) != 1) {
		ossl_err(err, errlen, "sign");
		goto done;
	}
	if (b64_encode(sig, 4 + siglen, sigb64, sizeof(sigb64)) == -1) {
		gk_errf(err, errlen, "sign: signature too long");
		goto done;
	}
	notelen = (size_t)blen + 1 + strlen(EM_DASH " ") + strlen(cp->origin) + 1 +
	    strlen(sigb64) + 2;
	if ((note = malloc(notelen)) == NULL) {
		gk_errf(err, errlen, "sign: out of memory");
		goto done;
	}
	snprintf(note, notelen, "%s\n" EM_DASH " %s %s\n", body, cp->origin, sigb64);
done:
	EVP_MD_CTX_free(ctx);
	return note;
}

/* Parses a decimal uint64 with no sign, no leading zero (but "0"), no overflow. */
static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* One line of at most max bytes from [*p, end), without its newline. */
static int
next_line(const char **p, const char *end, const char **line, size_t *n)
{
	const char *nl;

	if (*p >= end || (nl = memchr(*p, '\n', (size_t)(end - *p))) == NULL)
		return -1;
	*line = *p;
	*n = (size_t)(nl - *p);
	*p = nl + 1;
	return 0;
}

/*
 * Splits a signed note into its text (with its final newline) and its signature
 * block, checking the framing: size, no control characters but newline, a text
 * separated from the signatures by the last blank line.
 */
static int
split_note(const char *note, size_t len, size_t *textlen, char *err,
    size_t errlen)
{
	size_t i;

	if (len > CHECKPOINT_MAX_LEN) {
		gk_errf(err, errlen, "note is longer than %d bytes", CHECKPOINT_MAX_LEN);
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)note[i] < 0x20 && note[i] != '\n') {
			gk_errf(err, errlen, "note holds a control character");
			return -1;
		}
	if (len < 2 || note[len - 1] != '\n') {
		gk_errf(err, errlen, "note does not end in a newline");
		return -1;
	}
	for (i = len - 1; i > 0; i--)
		if (note[i] == '\n' && note[i - 1] == '\n')
			break;
	if (i == 0) {
		gk_errf(err, errlen, "note has no signatures (no blank line)");
		return -1;
	}
	*textlen = i;		/* up to and including the text's last newline */
	return 0;
}

static int
parse_body(const char *text, size_t len, struct checkpoint *cp, char *err,
    size_t errlen)
{
	const char *p = text, *end = text + len, *l;
	char tmp[64];
	size_t n;
	int64_t ms;
	char ts[GK_TS_LEN];

	memset(cp, 0, sizeof(*cp));
	if (next_line(&p, end, &l, &n) == -1 || !valid_name(l, n)) {
		gk_errf(err, errlen, "checkpoint: bad origin line");
		return -1;
	}
	memcpy(cp->origin, l, n);
	cp->origin[n] = '\0';
	if (next_line(&p, end, &l, &n) == -1 || parse_u64(l, n, &cp->size) == -1) {
		gk_errf(err, errlen, "checkpoint: bad tree size line");
		return -1;
	}
	if (next_line(&p, end, &l, &n) == -1 ||
	    b64_decode(l, n, cp->root.b, sizeof(cp->root.b)) != MERKLE_HASH_LEN) {
		gk_errf(err, errlen, "checkpoint: bad root hash line");
		return -1;
	}
	if (next_line(&p, end, &l, &n) == -1 || n < 5 || n - 5 >= sizeof(tmp) ||
	    memcmp(l, "time ", 5) != 0) {
		gk_errf(err, errlen, "checkpoint: bad time line");
		return -1;
	}
	memcpy(tmp, l + 5, n - 5);
	tmp[n - 5] = '\0';
	/* Only the one spelling gk_ts_format() writes, so the text stays canonical. */
	if (gk_ts_parse(tmp, &ms) == -1 || gk_ts_format(ms, ts, sizeof(ts)) == -1 ||
	    strcmp(ts, tmp) != 0) {
		gk_errf(err, errlen, "checkpoint: bad time line");
		return -1;
	}
	cp->time_ms = ms;
	if (next_line(&p, end, &l, &n) == -1 || n < 5 || n - 5 >= sizeof(tmp) ||
	    memcmp(l, "hash ", 5) != 0) {
		gk_errf(err, errlen, "checkpoint: bad hash line");
		return -1;
	}
	memcpy(tmp, l + 5, n - 5);
	tmp[n - 5] = '\0';
	if (merkle_alg_parse(tmp, &cp->alg) == -1) {
		gk_errf(err, errlen, "checkpoint: unknown hash \"%s\"", tmp);
		return -1;
	}
	if (p != end) {
		gk_errf(err, errlen, "checkpoint: unexpected lines after the hash line");
		return -1;
	}
	return 0;
}

int
checkpoint_parse(const char *text, size_t len, struct checkpoint *cp, char *err,
    size_t errlen)
{
	size_t textlen;

	gk_errf(err, errlen, "%s", "");
	if (split_note(text, len, &textlen, err, errlen) == -1)
		return -1;
	return parse_body(text, textlen, cp, err, errlen);
}

int
checkpoint_verify(const char *text, size_t len, const struct checkpoint_key *k,
    struct checkpoint *cp, char *err, size_t errlen)
{
	const char *p, *end = text + len, *l, *sp;
	uint8_t sig[4 + SIG_MAX];
	size_t textlen, n, dash = strlen(EM_DASH " ");
	EVP_MD_CTX *ctx;
	uint32_t id, sid;
	int siglen, nsigs = 0, good = 0, rc;

	gk_errf(err, errlen, "%s", "");
	if (split_note(text, len, &textlen, err, errlen) == -1 ||
	    parse_body(text, textlen, cp, err, errlen) == -1)
		return -1;
	if (checkpoint_key_id(k, cp->origin, &id) == -1) {
		gk_errf(err, errlen, "cannot derive the key ID");
		return -1;
	}
	p = text + textlen + 1;		/* past the blank line */
	if (p >= end) {
		gk_errf(err, errlen, "note has no signature lines");
		return -1;
	}
	while (p < end) {
		if (next_line(&p, end, &l, &n) == -1 || n <= dash ||
		    memcmp(l, EM_DASH " ", dash) != 0 ||
		    (sp = memchr(l + dash, ' ', n - dash)) == NULL ||
		    !valid_name(l + dash, (size_t)(sp - (l + dash))) ||
		    (siglen = b64_decode(sp + 1, (size_t)(l + n - (sp + 1)), sig,
		    sizeof(sig))) < 5) {
			gk_errf(err, errlen, "malformed signature line");
			return -1;
		}
		if (++nsigs > CHECKPOINT_MAX_SIGS) {
			gk_errf(err, errlen, "more than %d signatures",
			    CHECKPOINT_MAX_SIGS);
			return -1;
		}
		sid = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 |
		    (uint32_t)sig[2] << 8 | sig[3];
		/* Other keys' signatures (witnesses, say) are not ours to judge. */
		if ((size_t)(sp - (l + dash)) != strlen(cp->origin) ||
		    memcmp(l + dash, cp->origin, strlen(cp->origin)) != 0 ||
		    sid != id)
			continue;
		if ((ctx = EVP_MD_CTX_new()) == NULL) {
			gk_errf(err, errlen, "out of memory");
			return -1;
		}
		rc = sig_init(ctx, k, 0) == 0 &&
		    EVP_DigestVerify(ctx, sig + 4, (size_t)siglen - 4,
		    (const uint8_t *)text, textlen) == 1;
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		if (!rc) {
			gk_errf(err, errlen, "the %s signature of %s (key ID %08x) "
			    "does not verify", checkpoint_sigalg_name(k->alg),
			    cp->origin, id);
			return -1;
		}
		good = 1;
	}
	if (!good) {
		gk_errf(err, errlen, "no signature by the given %s key (key ID "
		    "%08x under %s)", checkpoint_sigalg_name(k->alg), id, cp->origin);
		return -1;
	}
	return 0;
}
