/*
 * The worker pool: threads that take frames from the per-lane queue (lane_queue.h)
 * round-robin and run them through the models, one network instance per thread.
 * The producer (the loop thread, handed frames by the bus) only ever takes the mutex
 * for a queue operation: it never waits for a worker, so a slow model cannot hold the
 * bus up; a full lane drops its oldest frame instead.
 */
#ifndef LPR_POOL_H
#define LPR_POOL_H

#include "lane_queue.h"

struct pool;

/* Runs on a worker thread with that worker's own state and one item it now owns. */
typedef void pool_work_fn(void *worker, void *item, void *arg);

/*
 * Starts nworkers threads, thread i calling fn(workers[i], item, arg) for each item
 * taken. The queue holds lanes_max lanes of per_lane items. Returns the pool, or NULL
 * (errno set) when a thread or memory could not be had.
 */
struct pool	*pool_new(int nworkers, void *const *workers, int lanes_max,
		    int per_lane, pool_work_fn *fn, void *arg);

/*
 * Queues item on lane, as lq_push() does (a dropped oldest item comes back in
 * *dropped for the caller to free). Returns 0, or -1 (errno ENOSPC, EINVAL, or
 * ESHUTDOWN once stopping).
 */
int	pool_push(struct pool *p, const char *lane, void *item, void **dropped);

/*
 * Stops taking items, waits for the items being worked on to finish and joins the
 * threads. Queued items stay queued: take them with pool_drain(). Idempotent.
 */
void	pool_stop(struct pool *p);

/* After pool_stop(): one queued item, or NULL when none is left. */
void	*pool_drain(struct pool *p);

/* Queue figures (lq_lanes()/lq_stats() under the pool's lock); busy: workers now
 * working. Returns the number of lanes written into st (at most max). */
int	pool_stats(struct pool *p, struct lq_lane_stats *st, int max, size_t *queued,
	    int *busy);

void	pool_free(struct pool *p);	/* stops first; NULL-safe */

#endif
