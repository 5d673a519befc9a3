/*
 * store: a site's ledger in PostgreSQL (schemas/sql/0003_ledger.sql), the one place
 * that appends to it. The ledger-writer daemon and `ecogatectl ledger migrate-import`
 * both go through here, so every record gets its seq, canonical body, leaf hash and
 * tiles the same way (docs/ledger.md).
 *
 * Opening a site's log creates its ledger_log row (and the signing key's ledger_key
 * row) when missing, refuses a log kept with another hash algorithm, takes the site's
 * advisory lock pg_try_advisory_lock(hashtext('ecogate.ledger'), hashtext(site)) for
 * the life of the connection (one appender per site), and loads the Merkle frontier
 * from the stored full tiles and, for the partial right edge, from leaf_hash (level
 * 0) and the roots of full lower tiles (higher levels): the edge is never stored.
 *
 * An append is one transaction: the month's partition (ledger_partition()), the
 * evidence images, the rejected messages (ledger_reject), the records (ledger_index and ledger_record by COPY), the tiles
 * that became full, and the consumer's offsets. An event_id already in ledger_index,
 * or twice in the batch, is skipped as a duplicate, so replays change nothing. On any
 * failure the transaction is rolled back and the in-memory tree is marked stale: the
 * next call reloads it (and re-takes the lock after a lost connection), so memory
 * never runs ahead of the database.
 *
 * The handle borrows a gk_db (one thread, one connection) and owns nothing else of
 * the caller's. Not thread-safe.
 *
 *	struct ledger_store *s = ledger_store_open(db, &(struct ledger_store_opts){
 *	    .site = "plant-1", .hash_alg = "sha256", .key = key }, err, sizeof(err));
 *	struct ledger_item it = { .kind = "import", .ledger = "transport",
 *	    .event_id = id, .event_ts = "2024-01-02T08:00:00Z", .source = src,
 *	    .fields = fields, .event = row };
 *	struct ledger_batch b = { .items = &it, .nitems = 1 };
 *	if (ledger_store_append(s, &b, err, sizeof(err)) == 0) ... it.status, it.seq
 *	ledger_item_clear(&it);
 *	ledger_store_close(s);
 */
#ifndef LEDGER_STORE_H
#define LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "checkpoint.h"
#include "merkle.h"

struct gk_db;
struct ledger_store;

#define LEDGER_RECORD_SCHEMA	"ecogate.ledger-record.v1"
/* Most records one ledger_store_append() takes (its COPY buffers grow with it). */
#define LEDGER_BATCH_MAX	10000

struct ledger_store_opts {
	const char	*site;		/* required: ^[a-z0-9][a-z0-9_-]{0,31}$ */
	/* "sha256" (NULL) or "sm3": used when the log is created, checked otherwise. */
	const char	*hash_alg;
	/* NULL: "ecogate/<site>". Only used when the log is created. */
	const char	*origin;
	/*
	 * The checkpoint signing key (borrowed; must outlive the store), or NULL for a
	 * store that only appends or reads (migrate-import). Its public half is put in
	 * ledger_key when missing.
	 */
	const struct checkpoint_key *key;
	/*
	 * 1: wait for the site's lock; 0: fail at once (errno EBUSY) when another
	 * session holds it.
	 */
	int		 wait_lock;
};

enum ledger_item_status {
	LEDGER_ITEM_PENDING = 0,	/* not processed (the batch failed) */
	LEDGER_ITEM_APPENDED,		/* appended at item->seq */
	LEDGER_ITEM_DUPLICATE,		/* event_id already in the log (or the batch) */
	LEDGER_ITEM_INVALID,		/* refused: item->reason says why; not appended */
};

/*
 * One record to append. Inputs are borrowed for the call; json values may be NULL
 * (the member is then left out of the record; "fields" and "event" become {} ).
 * The record object is built as docs/ledger.md shows, with site, seq and recorded_at
 * added by the store.
 */
struct ledger_item {
	/* In. */
	const char	*kind;		/* "passage", "audit", "import", "alarm" */
	const char	*ledger;	/* "transport", "fleet", "machinery" or NULL */
	const char	*event_id;	/* canonical lower-case UUID */
	const char	*event_ts;	/* RFC 3339 */
	const char	*lane;		/* search copies in ledger_record; NULL: none */
	const char	*plate;
	json_t		*source;	/* {"topic","partition","offset"} / {"file",...} */
	json_t		*fields;
	json_t		*evidence;	/* [{"sha256","role","status"}] */
	json_t		*registry;	/* {"version": n} */
	json_t		*event;		/* the source message, verbatim */

	/* Out, set by ledger_store_append(). */
	enum ledger_item_status status;
	uint64_t	 seq;		/* APPENDED */
	char		*body;		/* APPENDED: the canonical JSON (malloc'd) */
	size_t		 bodylen;
	struct merkle_hash leaf;	/* APPENDED */
	char		 reason[160];	/* INVALID */
};

/* An evidence image to store (idempotent on its hash) with the batch. */
struct ledger_evidence {
	uint8_t		 sha256[32];	/* checked against the bytes by the caller */
	const char	*media_type;	/* 1..64 characters */
	const void	*content;
	size_t		 len;
};

/* Where a consumer resumes in one Kafka partition, written with the batch. */
struct ledger_offset {
	const char	*consumer;
	const char	*topic;
	int		 partition;
	int64_t		 next_offset;
};

/*
 * A message refused as malformed (migration 0004, ledger_reject): kept verbatim with
 * the batch, idempotent on (topic, partition, offset).
 */
struct ledger_reject {
	const char	*topic;
	int		 partition;
	int64_t		 offset;
	const char	*reason;
	const void	*key;		/* NULL: none */
	size_t		 keylen;
	const void	*value;		/* NULL: none */
	size_t		 vallen;
};

struct ledger_batch {
	struct ledger_item		*items;
	size_t				 nitems;
	const struct ledger_evidence	*evidence;
	size_t				 nevidence;
	const struct ledger_offset	*offsets;
	size_t				 noffsets;
	/* recorded_at of every record; 0: now. Mostly for tests. */
	int64_t				 recorded_at_ms;
	const struct ledger_reject	*rejects;
	size_t				 nrejects;
};

/* A checkpoint as stored in ledger_checkpoint. */
struct ledger_checkpoint {
	struct checkpoint	 cp;
	char			 key_id[9];	/* 8 lower-case hex digits */
	char			*note;		/* the signed note (malloc'd) */
};

/*
 * Opens the site's log on db (see above). Returns the handle, or NULL with err filled
 * and errno EBUSY (lock held elsewhere), EINVAL (bad site, hash algorithm differs
 * from the log's, key unusable), EIO (database; gk_db_err_is_connection(db) tells a
 * transient outage, worth retrying).
 */
struct ledger_store	*ledger_store_open(struct gk_db *db,
			    const struct ledger_store_opts *opts, char *err,
			    size_t errlen);
/* Frees the handle; releases the lock when the connection is still up. NULL-safe. */
void			 ledger_store_close(struct ledger_store *s);

/*
 * Appends a batch in one transaction (see above); items get their status, and the
 * appended ones their seq, body and leaf hash, in order. Items that are INVALID
 * (bad id, time, kind, uncanonicalisable JSON) are not appended and do not fail the
 * batch. Returns 0 when committed, or -1 with err filled (nothing of the batch is
 * stored; every item PENDING; errno EIO, EBUSY when the lock was lost to another
 * session, E2BIG beyond LEDGER_BATCH_MAX).
 */
int	ledger_store_append(struct ledger_store *s, struct ledger_batch *b,
	    char *err, size_t errlen);
/* Frees what ledger_store_append() put in it and resets its outputs. */
void	ledger_item_clear(struct ledger_item *it);

/* Records in the log (the tree's size) and the current root. */
uint64_t	ledger_store_size(const struct ledger_store *s);
int		ledger_store_root(struct ledger_store *s, struct merkle_hash *root);
struct merkle_hasher *ledger_store_hasher(struct ledger_store *s);
const char	*ledger_store_site(const struct ledger_store *s);
const char	*ledger_store_origin(const struct ledger_store *s);

/*
 * A reader of complete-subtree hashes over the stored tiles and the in-memory edge,
 * for merkle_root()/merkle_*_proof() up to the current size. Valid while s lives and
 * no append runs.
 */
struct merkle_store	ledger_store_reader(struct ledger_store *s);

/*
 * Signs the current tree with opts->key at time now_ms (0: now) and inserts it into
 * ledger_checkpoint. When a checkpoint of this size already exists it is returned
 * instead (a restart does not sign the same size twice). Fills out (free with
 * ledger_checkpoint_clear()). Returns 0, or -1 with err filled.
 */
int	ledger_store_checkpoint(struct ledger_store *s, int64_t now_ms,
	    struct ledger_checkpoint *out, char *err, size_t errlen);
/* The newest stored checkpoint: 1 found (out filled), 0 none, -1 error. */
int	ledger_store_last_checkpoint(struct ledger_store *s,
	    struct ledger_checkpoint *out, char *err, size_t errlen);
void	ledger_checkpoint_clear(struct ledger_checkpoint *c);

/*
 * The stored next offset of (consumer, topic, partition): 1 found (*next set), 0 none
 * stored, -1 error.
 */
int	ledger_store_offset(struct ledger_store *s, const char *consumer,
	    const char *topic, int partition, int64_t *next);

/* 1 when evidence with this SHA-256 is stored, 0 when not, -1 on error. */
int	ledger_store_has_evidence(struct ledger_store *s, const uint8_t sha256[32]);

/* The body of record seq (malloc'd, NUL-terminated; length in *len), or NULL. */
char	*ledger_store_record(struct ledger_store *s, uint64_t seq, size_t *len);

#endif
