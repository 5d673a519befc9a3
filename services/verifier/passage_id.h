/*
 * passage_id: the event_id of a passage, derived from its reads instead of minted.
 *
 * A read the verifier took but had not yet decided when it was killed is replayed
 * from the journal at start (journal.h), and the broker may deliver an already
 * decided read once more. If each decision minted a fresh id, such a passage could
 * reach the ledger twice under two ids, and the ledger, which dedupes on event_id,
 * would keep both. So the id is a function of what identifies the passage: the site
 * and the event_id of the read that opened its fusion window. The same reads make
 * the same passage id however often they are decided, and the outbox refuses an id
 * it already holds.
 *
 * Shape: a version 7 UUID (RFC 9562) whose 48-bit time is the passage's first read
 * time (so ids still sort by time and index well) and whose 74 "random" bits are the
 * first bits of SHA-256("ecogate.passage.v1" NUL site NUL first_read_id). Lowercase
 * canonical text, valid for passage-decision.v1 and gk_id_time().
 */
#ifndef VERIFIER_PASSAGE_ID_H
#define VERIFIER_PASSAGE_ID_H

#include <stdint.h>

#include <gatekit/util.h>

/*
 * Writes the passage id for site and the opening read's event_id, with time wall_ms
 * (clamped to 0 .. 2^48 - 1), into out. Returns 0, or -1 when an argument is empty
 * or the digest fails.
 */
int	passage_id(char out[GK_ID_LEN], const char *site, const char *first_read_id,
	    int64_t wall_ms);

#endif
