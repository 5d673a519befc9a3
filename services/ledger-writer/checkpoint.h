/*
 * checkpoint: the signed statement "the ledger of this site had N records and this
 * root at this time", which the ledger-writer publishes every N records or T seconds
 * so that rewriting history is detectable outside the plant.
 *
 * The text is a C2SP tlog-checkpoint inside a C2SP signed note, so generic
 * transparency-log tooling can read it:
 *
 *	ecogate/plant-1				origin (also the key name)
 *	1000					tree size
 *	3q2+7w...=				root hash, base64
 *	time 2026-11-28T12:00:00.123Z		extension: when it was signed (UTC)
 *	hash sha256				extension: the tree's hash (sha256, sm3)
 *
 *	— ecogate/plant-1 AbCd...		base64(key ID (4 bytes) || signature)
 *
 * The signature covers the text up to and including the "hash" line's newline. The
 * key name is the origin. Keys: Ed25519 (default; signature type 0x01, key ID =
 * SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4] as signed-note specifies)
 * or SM2 with SM3 and the standard's default distinguishing ID "1234567812345678",
 * set explicitly since OpenSSL 3.0 does not apply it by itself (no type byte
 * is assigned for it, so it uses 0xff followed by the identifier "ecogate-sm2-sm3"
 * and the DER SubjectPublicKeyInfo: SHA-256(name || 0x0A || 0xff ||
 * "ecogate-sm2-sm3" || SPKI)[:4]). Signing and verifying go through OpenSSL 3's
 * EVP_DigestSign/EVP_DigestVerify.
 *
 * Strictness: the origin and key names are printable ASCII without spaces or '+';
 * the size has no leading zeros; the root is canonical base64 of 32 bytes; the time
 * is exactly as gk_ts_format() writes it; no other extension lines. Signatures from
 * other keys are ignored as signed-note requires; a signature by the given key that
 * does not verify rejects the note.
 */
#ifndef LEDGER_CHECKPOINT_H
#define LEDGER_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "merkle.h"

#define CHECKPOINT_ORIGIN_MAX	128	/* with NUL */
#define CHECKPOINT_MAX_LEN	65536	/* a whole signed note */
#define CHECKPOINT_MAX_SIGS	100

enum checkpoint_sigalg {
	CHECKPOINT_ED25519 = 0,
	CHECKPOINT_SM2 = 1,
};

struct checkpoint {
	char			origin[CHECKPOINT_ORIGIN_MAX];
	uint64_t		size;
	struct merkle_hash	root;
	int64_t			time_ms;	/* Unix epoch, milliseconds */
	enum merkle_alg		alg;
};

struct checkpoint_key;

/*
 * Loads a key from PEM: a private key ("PRIVATE KEY", unencrypted; it signs and
 * verifies) or a public key ("PUBLIC KEY"; it verifies). Ed25519 and SM2 only.
 * Returns a new key (free with checkpoint_key_free(), NULL-safe), or NULL with err
 * filled. checkpoint_key_load() reads the file at path.
 */
struct checkpoint_key	*checkpoint_key_from_pem(const char *pem, size_t len,
			    char *err, size_t errlen);
struct checkpoint_key	*checkpoint_key_load(const char *path, char *err,
			    size_t errlen);
void			 checkpoint_key_free(struct checkpoint_key *k);
enum checkpoint_sigalg	 checkpoint_key_alg(const struct checkpoint_key *k);
const char		*checkpoint_sigalg_name(enum checkpoint_sigalg alg);
/* 1 when k holds a private key. */
int			 checkpoint_key_can_sign(const struct checkpoint_key *k);
/* The key ID of k under key name name (see above). 0 or -1. */
int			 checkpoint_key_id(const struct checkpoint_key *k,
			    const char *name, uint32_t *id);
/*
 * The public half of k as PEM, to hand to inspectors. Returns a new string (caller
 * free()s it), or NULL.
 */
char			*checkpoint_key_public_pem(const struct checkpoint_key *k);

/*
 * Writes cp's note text (the signed part) into buf. Returns its length, or -1 when
 * cp is invalid (origin) or buf is too small.
 */
int	checkpoint_format(const struct checkpoint *cp, char *buf, size_t len);

/*
 * Signs cp with k (a private key) under key name cp->origin. Returns the signed note
 * as a new string (caller free()s it), or NULL with err filled.
 */
char	*checkpoint_sign(const struct checkpoint *cp, const struct checkpoint_key *k,
	    char *err, size_t errlen);

/*
 * Parses a signed note's checkpoint WITHOUT checking any signature: for the writer
 * reading back its own last checkpoint, and for tools that show one. Never trust
 * what it returns. Returns 0, or -1 with err filled.
 */
int	checkpoint_parse(const char *text, size_t len, struct checkpoint *cp,
	    char *err, size_t errlen);

/*
 * Verifies a signed note against k (public or private) and parses its checkpoint
 * into cp. Returns 0 when a signature by k under the note's origin verifies and
 * none by k fails, or -1 with err saying why (syntax, no signature by this key, a
 * signature that does not verify).
 */
int	checkpoint_verify(const char *text, size_t len,
	    const struct checkpoint_key *k, struct checkpoint *cp, char *err,
	    size_t errlen);

#endif
