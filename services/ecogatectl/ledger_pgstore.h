/*
 * ledger_pgstore: a read-only merkle_store over one site's ledger in PostgreSQL, for
 * `ecogatectl ledger prove` (inclusion proofs) and `verify` (consistency proofs
 * between checkpoints). It is written apart from the ledger-writer's own store on
 * purpose: it takes no lock, writes nothing, and reads the tables with its own plain
 * SQL, so a checker does not lean on the code it checks.
 *
 * What it reads (docs/ledger.md): FULL tiles from ledger_tile; the partial right
 * edge of each tile level is recomputed, level 0 from ledger_record.leaf_hash and
 * higher levels by folding the full tiles one level down. Which tiles count as full
 * is decided by the tree size the store is set to, never by what happens to be
 * stored, so a tile stored beyond that size is not used.
 *
 * A small cache of tile rows (full or partial, each a run of level-8L hashes) makes
 * the O(log n) reads of one proof cost a few queries, and consecutive proofs of a
 * growing tree (verify's checkpoints) reuse the rows they share; a partial row is
 * extended, not re-read, when the tree has grown.
 *
 * Borrows the gk_db (the caller's transaction, if any, is the snapshot read) and the
 * hasher; not thread-safe.
 */
#ifndef ECOGATECTL_LEDGER_PGSTORE_H
#define ECOGATECTL_LEDGER_PGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "merkle.h"

struct gk_db;
struct ledger_pgstore;

/*
 * A store over site's tree of size leaves. site is copied; db and h are borrowed and
 * must outlive it. NULL when out of memory.
 */
struct ledger_pgstore	*ledger_pgstore_new(struct gk_db *db, const char *site,
			    struct merkle_hasher *h, uint64_t size);
void			 ledger_pgstore_free(struct ledger_pgstore *ps);

/* Moves the tree size the store answers for (rows cached so far stay valid). */
void			 ledger_pgstore_set_size(struct ledger_pgstore *ps,
			    uint64_t size);

/* The merkle_store reading through ps, valid while ps lives. */
struct merkle_store	 ledger_pgstore_reader(struct ledger_pgstore *ps);

/*
 * Why the last read failed ("tile 0/12 is missing", a database error ...), or ""
 * when none has. Owned by ps.
 */
const char		*ledger_pgstore_error(const struct ledger_pgstore *ps);

/*
 * 1 when the last failure was the database's (connection, query), not missing or
 * malformed ledger data; else 0.
 */
int			 ledger_pgstore_db_failed(const struct ledger_pgstore *ps);

#endif
