/*
 * proof: the self-contained proof file an inspector checks offline, with nothing but
 * the site's public key: "this record is in the ledger that this signed checkpoint
 * commits to". `ecogatectl ledger prove` writes it, `ecogatectl ledger check-proof
 * FILE --pubkey KEY` checks it with proof_check().
 *
 *	{
 *	  "format": "ecogate-proof/v1",
 *	  "hash": "sha256",
 *	  "leaf_index": 41,
 *	  "tree_size": 1000,
 *	  "record": "{\"event_id\":\"...\",\"seq\":42,...}",
 *	  "inclusion": ["base64 hash", ...],
 *	  "checkpoint": "ecogate/plant-1\n1000\n...\n\n— ecogate/plant-1 ...\n"
 *	}
 *
 * "record" is the record's RFC 8785 canonical JSON as a string: exactly the bytes
 * whose leaf hash H(0x00 || record) is in the tree, so nothing depends on how a
 * reader re-serialises numbers. The checker still parses it and insists that it is
 * canonical, so what the inspector reads is what was hashed. "inclusion" is the RFC
 * 9162 inclusion proof, lowest level first. The checkpoint's signed "hash" line
 * must agree with "hash" and its size with "tree_size".
 */
#ifndef LEDGER_PROOF_H
#define LEDGER_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "checkpoint.h"
#include "merkle.h"

#define PROOF_FORMAT	"ecogate-proof/v1"
/* Largest proof file proof_check_text() reads. */
#define PROOF_MAX_LEN	(4 * 1024 * 1024)

/*
 * Builds the proof document for the record whose canonical JSON is record (len
 * bytes), the leaf leaf_index of the tree, against the signed checkpoint text (not
 * verified here; its size and hash are read from it): its inclusion proof is read
 * from s. The record's leaf hash is checked against the proof and the checkpoint's
 * root before anything is returned, so a wrong record, index or store fails here
 * rather than at the inspector's. Returns a new reference, or NULL with err filled.
 */
json_t	*proof_make(struct merkle_hasher *h, const struct merkle_store *s,
	    const char *record, size_t len, uint64_t leaf_index,
	    const char *checkpoint, char *err, size_t errlen);

/* The document as the file's text (indented, trailing newline); caller free()s. */
char	*proof_dump(const json_t *doc);

/* What a checked proof says, for the caller to show. */
struct proof_result {
	struct checkpoint	cp;		/* the verified checkpoint */
	uint64_t		leaf_index;
	json_t			*record;	/* the parsed record; caller decrefs */
};

/*
 * Checks doc against key: the checkpoint's signature, the record's canonical form
 * and leaf hash, the inclusion proof up to the signed root. Returns 0 when all
 * hold, filling res (when not NULL; free res->record with json_decref), or -1 with
 * reason saying what failed first.
 */
int	proof_check(const json_t *doc, const struct checkpoint_key *key,
	    struct proof_result *res, char *reason, size_t reasonlen);

/* proof_check() on the text of a proof file (len bytes at buf). */
int	proof_check_text(const char *buf, size_t len,
	    const struct checkpoint_key *key, struct proof_result *res,
	    char *reason, size_t reasonlen);

#endif
