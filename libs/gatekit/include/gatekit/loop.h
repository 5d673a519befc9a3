/*
 * The event loop that every daemon's single state-owning thread runs: poll(2) over file
 * descriptors, timers, signals delivered as a descriptor (signalfd), and a thread-safe
 * queue through which library callbacks running on their own threads (Paho, librdkafka)
 * hand work to the loop thread and wake it (eventfd). Handlers run on the loop thread,
 * one at a time, so daemon state needs no locks.
 *
 *	struct gk_loop *l = gk_loop_new();
 *	gk_loop_signal(l, SIGTERM, on_term, &d);   // before any library starts a thread
 *	gk_loop_timer_add(l, 1000, 1000, on_tick, &d);
 *	while (!gk_loop_done(l))
 *		gk_loop_once(l, -1);
 *	gk_loop_free(l);
 */
#ifndef GATEKIT_LOOP_H
#define GATEKIT_LOOP_H

#include <stdint.h>

struct gk_loop;

/* revents are poll(2)'s POLLIN, POLLOUT, POLLERR, POLLHUP bits. */
typedef void gk_fd_cb(struct gk_loop *l, int fd, short revents, void *arg);
typedef void gk_timer_cb(struct gk_loop *l, uint64_t id, void *arg);
typedef void gk_signal_cb(struct gk_loop *l, int signo, void *arg);
/* Runs on the loop thread for an item posted with gk_loop_post(). */
typedef void gk_post_cb(struct gk_loop *l, void *item, void *arg);

/* Returns a new loop, or NULL (logged) when descriptors could not be made. */
struct gk_loop	*gk_loop_new(void);

/*
 * Frees the loop (NULL-safe). Posted items still queued are not run and not freed:
 * stop the producers, then call gk_loop_once(l, 0) until it returns 0 before freeing.
 */
void	gk_loop_free(struct gk_loop *l);

/* Watches fd for events (POLLIN/POLLOUT). Returns 0, or -1 when fd is already watched. */
int	gk_loop_fd_add(struct gk_loop *l, int fd, short events, gk_fd_cb *cb, void *arg);
/* Changes the events watched on fd. Returns 0, or -1 when fd is not watched. */
int	gk_loop_fd_mod(struct gk_loop *l, int fd, short events);
/* Stops watching fd (does not close it). Safe inside any callback. Returns 0 or -1. */
int	gk_loop_fd_del(struct gk_loop *l, int fd);

/*
 * Arms a timer that fires after after_ms, then every every_ms when every_ms > 0
 * (one-shot when 0). A negative after_ms means now; a due time past INT64_MAX ms
 * means never. Returns its id (never 0), or 0 when cb is NULL or on allocation
 * failure.
 */
uint64_t gk_loop_timer_add(struct gk_loop *l, int64_t after_ms, int64_t every_ms,
	    gk_timer_cb *cb, void *arg);
/* Cancels a timer; safe inside its own callback. Returns 0, or -1 when unknown. */
int	gk_loop_timer_cancel(struct gk_loop *l, uint64_t id);

/*
 * Delivers signo through the loop: the signal is blocked in the calling thread and its
 * handler runs on the loop thread. Call before any library starts threads so they
 * inherit the blocked mask. Calling it again for signo replaces the handler. Returns
 * 0, or -1 (bad signo, or no signalfd: the signal is then left as it was).
 */
int	gk_loop_signal(struct gk_loop *l, int signo, gk_signal_cb *cb, void *arg);

/*
 * Queues item for cb(l, item, arg) on the loop thread and wakes the loop. Safe from any
 * thread. The queue is unbounded (callers bound what they post). Returns 0, or -1 on
 * allocation failure.
 */
int	gk_loop_post(struct gk_loop *l, gk_post_cb *cb, void *item, void *arg);

/*
 * Waits up to max_wait_ms (-1: until something happens, bounded by the next timer) and
 * runs every ready handler once. Returns the number of handlers run, or -1 on a poll
 * error other than EINTR.
 */
int	gk_loop_once(struct gk_loop *l, int max_wait_ms);

/* Asks the loop to end with exit code code; gk_loop_done() then returns 1. Any thread. */
void	gk_loop_stop(struct gk_loop *l, int code);
int	gk_loop_done(const struct gk_loop *l);
int	gk_loop_exit_code(const struct gk_loop *l);

#endif
