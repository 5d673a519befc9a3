/*
 * snapshot: the verifier's own copy of the vehicle registry, a JSON-lines file on the
 * edge's disk that answers when Redis does not. Each line is one change from the
 * compacted Kafka topic ecogate.registry.v1, the last line for a key wins:
 *	{"key":"沪A12345|yellow","vehicle":{...vehicle.v1...}}
 *	{"key":"沪A12345|yellow","vehicle":null}		(removed)
 *
 * The file is read once at open into a hash table, so a lookup during a Redis outage
 * costs a probe, not a scan. Every change is appended and fsync'd before it is
 * applied in memory. When superseded lines outnumber live ones (and there are more
 * than a few thousand), the file is rewritten with one line per key through a
 * temporary file, fsync and rename, so a crash leaves either the old file or the new
 * one. Removals are kept as tombstones through compaction: after Redis missed
 * changes, snapshot_foreach() replays deletions as well as records.
 *
 * A bad line (torn by a crash mid-append, or edited by hand) is skipped, logged and
 * counted; the lines after it still count.
 */
#ifndef VERIFIER_SNAPSHOT_H
#define VERIFIER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

struct snapshot;

struct snapshot_stats {
	size_t		keys;		/* live records */
	size_t		tombstones;	/* removed keys remembered */
	size_t		lines;		/* lines in the file */
	size_t		bad_lines;	/* skipped at open */
	uint64_t	compactions;
};

/*
 * Opens (creating when missing) the snapshot at path and loads it. Returns NULL with
 * the reason in err when the file cannot be read.
 */
struct snapshot	*snapshot_open(const char *path, char *err, size_t errlen);
void		 snapshot_close(struct snapshot *);

/*
 * The vehicle.v1 document (compact JSON) recorded for key, or NULL when the key is
 * unknown or removed. Borrowed until the next snapshot_put().
 */
const char	*snapshot_get(const struct snapshot *, const char *key);

/*
 * Records vehicle (a vehicle.v1 document as compact JSON), or a removal when vehicle
 * is NULL, for key: appended and fsync'd, then applied; may compact. Returns 0, or
 * -1 with errno when the file could not be written (nothing applied).
 */
int		 snapshot_put(struct snapshot *, const char *key, const char *vehicle);

/* Milliseconds since the snapshot was last written (0 when never). */
int64_t		 snapshot_age_ms(const struct snapshot *, int64_t now_wall_ms);

/*
 * Calls fn for every key, with its document or NULL for a removal, in the order the
 * keys were first seen; stops and returns fn's value when it is not 0.
 */
int		 snapshot_foreach(const struct snapshot *,
		    int (*fn)(void *, const char *key, const char *vehicle), void *arg);

void		 snapshot_stats(const struct snapshot *, struct snapshot_stats *);

/* Rewrites the file with one line per key now. Returns 0 or -1 with errno. */
int		 snapshot_compact(struct snapshot *);

#endif
