/*
 * The frames waiting for a worker: one bounded queue per lane, taken round-robin.
 * A camera (or a broken trigger) flooding one lane must not delay the other lanes'
 * vehicles, and a frame that has waited behind newer ones of its own lane is the
 * least useful (the vehicle has moved), so a full lane drops its oldest frame to
 * take the new one. The queue never blocks its producer.
 *
 * Pure data structure: items are opaque pointers owned by the caller; no locking
 * (the worker pool holds its mutex around every call).
 */
#ifndef LPR_LANE_QUEUE_H
#define LPR_LANE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define LQ_LANE_MAX	33	/* lane id (a topic id) and its NUL */

struct lane_queue;

/* Per-lane figures. */
struct lq_lane_stats {
	char		lane[LQ_LANE_MAX];
	size_t		queued;
	uint64_t	pushed;
	uint64_t	dropped;	/* oldest frames dropped for newer ones */
	uint64_t	taken;
};

/*
 * A queue for up to lanes_max lanes of per_lane items each (both >= 1). Returns it
 * (lq_free()), or NULL when out of memory.
 */
struct lane_queue *lq_new(int lanes_max, int per_lane);

/* Frees the queue (NULL-safe); items still queued are the caller's to free first. */
void	lq_free(struct lane_queue *q);

/*
 * Appends item to lane's queue, making the lane if new. When the lane is full its
 * oldest item is removed and returned in *dropped for the caller to free (else
 * *dropped is NULL). Returns 0, or -1 (errno ENOSPC) when lane is new and lanes_max
 * lanes exist, EINVAL when lane is empty or too long: the item was not taken.
 */
int	lq_push(struct lane_queue *q, const char *lane, void *item, void **dropped);

/*
 * Takes the oldest item of the next lane, in round-robin order after the lane taken
 * from last, that has any. lane (LQ_LANE_MAX bytes, may be NULL) receives its lane.
 * Returns the item, or NULL when every lane is empty.
 */
void	*lq_pop(struct lane_queue *q, char *lane);

/* Removes and returns any one queued item (for draining at shutdown), or NULL. */
void	*lq_drain(struct lane_queue *q);

/* Items queued in all lanes. */
size_t	lq_len(const struct lane_queue *q);

/* Number of lanes known; lq_stats() fills st for lane i (0..lq_lanes()-1). */
int	lq_lanes(const struct lane_queue *q);
int	lq_stats(const struct lane_queue *q, int i, struct lq_lane_stats *st);

#endif
