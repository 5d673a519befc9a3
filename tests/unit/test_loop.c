/*
 * Unit tests of gatekit/loop.h: descriptor readiness and deletion inside callbacks,
 * timer order, periodic timers and cancellation, signals delivered through the loop,
 * posts from many threads delivered exactly once on the loop thread, and a stop from
 * another thread ending a blocking wait. Waits are bounded by deadlines, never by
 * sleeping and hoping.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/util.h"
#include "t.h"

/* Runs the loop until *flag is set or ms pass. Returns 0 when the flag was set. */
static int
run_until(struct gk_loop *l, const int *flag, long long ms)
{
	long long	 deadline = t_now_ms() + ms;

	while (!*flag) {
		if (t_now_ms() >= deadline)
			return -1;
		if (gk_loop_once(l, 50) == -1)
			return -1;
	}
	return 0;
}

/* fd callbacks */

struct fdrec {
	int	 calls;
	int	 fd;
	short	 revents;
	int	 other;		/* a descriptor to delete from inside the callback */
	int	 drain;
};

static void
on_fd(struct gk_loop *l, int fd, short revents, void *arg)
{
	struct fdrec	*r = arg;
	char		 b[16];

	(void)l;
	r->calls++;
	r->fd = fd;
	r->revents = revents;
	if (r->drain && (revents & POLLIN))
		T_CHECK(read(fd, b, sizeof(b)) > 0);
}

static int	 del_calls;

/* Deletes both watched descriptors: whichever runs first, the other must not. */
static void
on_fd_delete_both(struct gk_loop *l, int fd, short revents, void *arg)
{
	struct fdrec	*r = arg;

	(void)revents;
	del_calls++;
	r->calls++;
	T_CHECK(gk_loop_fd_del(l, fd) == 0);
	T_CHECK(gk_loop_fd_del(l, r->other) == 0);
	T_CHECK(gk_loop_fd_del(l, r->other) == -1);
	/* Re-adding a descriptor deleted in this round is allowed. */
	T_CHECK(gk_loop_fd_add(l, fd, POLLIN, on_fd_delete_both, arg) == 0);
	T_CHECK(gk_loop_fd_del(l, fd) == 0);
}

static void
test_fds(void)
{
	struct gk_loop	*l;
	struct fdrec	 r = { 0 }, r1 = { 0 }, r2 = { 0 };
	int		 p[2], q[2];

	T_REQUIRE((l = gk_loop_new()) != NULL);
	T_REQUIRE(pipe(p) == 0 && pipe(q) == 0);

	T_CHECK(gk_loop_fd_add(l, p[0], POLLIN, on_fd, &r) == 0);
	T_CHECK(gk_loop_fd_add(l, p[0], POLLIN, on_fd, &r) == -1);
	T_CHECK(gk_loop_fd_add(l, -1, POLLIN, on_fd, &r) == -1);
	T_CHECK(gk_loop_fd_mod(l, q[0], POLLIN) == -1);
	T_CHECK(gk_loop_fd_del(l, q[0]) == -1);

	/* Nothing to read: no handler runs. */
	T_CHECK(gk_loop_once(l, 0) == 0);
	T_CHECK(r.calls == 0);

	T_REQUIRE(write(p[1], "x", 1) == 1);
	T_CHECK(gk_loop_once(l, 1000) == 1);
	T_CHECK(r.calls == 1 && r.fd == p[0] && (r.revents & POLLIN));

	/* Level-triggered: still readable, so again; then not watched for input. */
	T_CHECK(gk_loop_once(l, 0) == 1 && r.calls == 2);
	T_CHECK(gk_loop_fd_mod(l, p[0], 0) == 0);
	T_CHECK(gk_loop_once(l, 0) == 0 && r.calls == 2);
	T_CHECK(gk_loop_fd_mod(l, p[0], POLLIN) == 0);
	r.drain = 1;
	T_CHECK(gk_loop_once(l, 0) == 1 && r.calls == 3);
	T_CHECK(gk_loop_once(l, 0) == 0 && r.calls == 3);

	/* A write end is ready for output at once. */
	T_CHECK(gk_loop_fd_add(l, q[1], POLLOUT, on_fd, &r2) == 0);
	T_CHECK(gk_loop_once(l, 1000) == 1);
	T_CHECK(r2.calls == 1 && r2.fd == q[1] && (r2.revents & POLLOUT));
	T_CHECK(gk_loop_fd_del(l, q[1]) == 0);

	/* Hang-up reaches the handler when the writer closes. */
	close(p[1]);
	T_CHECK(gk_loop_once(l, 1000) == 1);
	T_CHECK(r.revents & POLLHUP);
	T_CHECK(gk_loop_fd_del(l, p[0]) == 0);
	T_CHECK(gk_loop_once(l, 0) == 0);
	close(p[0]);

	/* Deleting descriptors from inside a callback while the loop iterates. */
	T_REQUIRE(pipe(p) == 0);
	r1.other = q[0];
	r2.calls = 0;
	r2.other = p[0];
	T_CHECK(gk_loop_fd_add(l, p[0], POLLIN, on_fd_delete_both, &r1) == 0);
	T_CHECK(gk_loop_fd_add(l, q[0], POLLIN, on_fd_delete_both, &r2) == 0);
	T_REQUIRE(write(p[1], "x", 1) == 1 && write(q[1], "y", 1) == 1);
	del_calls = 0;
	T_CHECK(gk_loop_once(l, 1000) == 1);
	T_CHECK(del_calls == 1);
	T_CHECK(gk_loop_once(l, 0) == 0 && del_calls == 1);
	T_CHECK(gk_loop_fd_del(l, p[0]) == -1 && gk_loop_fd_del(l, q[0]) == -1);

	/* A watched descriptor closed behind the loop's back is dropped. */
	{
		struct fdrec	 rc = { 0 };
		int		 fd = dup(p[0]);

		T_REQUIRE(fd >= 0);
		T_CHECK(gk_loop_fd_add(l, fd, POLLIN, on_fd, &rc) == 0);
		close(fd);
		T_CHECK(gk_loop_once(l, 0) == 1 && (rc.revents & POLLNVAL));
		T_CHECK(gk_loop_once(l, 0) == 0 && rc.calls == 1);
		T_CHECK(gk_loop_fd_del(l, fd) == -1);
	}

	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	gk_loop_free(l);
}

/* timers */

struct trec {
	int		 order[16];
	int		 n;
	int		 ticks;
	uint64_t	 tick_id;
	uint64_t	 victim;
	int		 done;
	int64_t		 first_ms, last_ms;
};

static struct trec	 tr;

static void
on_order(struct gk_loop *l, uint64_t id, void *arg)
{
	(void)l;
	(void)id;
	if (tr.n < (int)GK_NELEM(tr.order))
		tr.order[tr.n++] = (int)(intptr_t)arg;
}

static void
on_tick(struct gk_loop *l, uint64_t id, void *arg)
{
	(void)arg;
	T_CHECK(id == tr.tick_id);
	if (tr.ticks == 0)
		tr.first_ms = gk_mono_ms();
	tr.last_ms = gk_mono_ms();
	if (++tr.ticks == 5) {
		/* Cancelling itself inside its own callback. */
		T_CHECK(gk_loop_timer_cancel(l, id) == 0);
		T_CHECK(gk_loop_timer_cancel(l, id) == -1);
		tr.done = 1;
	}
}

static void
on_cancel_other(struct gk_loop *l, uint64_t id, void *arg)
{
	(void)id;
	(void)arg;
	T_CHECK(gk_loop_timer_cancel(l, tr.victim) == 0);
	tr.done = 1;
}

static void
on_never(struct gk_loop *l, uint64_t id, void *arg)
{
	(void)l;
	(void)id;
	(void)arg;
	T_CHECKF(0, "a cancelled timer fired");
}

/* Re-arms a 0 ms timer from its callback: each round must still end. */
static void
on_rearm(struct gk_loop *l, uint64_t id, void *arg)
{
	int	*count = arg;

	(void)id;
	(*count)++;
	T_CHECK(gk_loop_timer_add(l, 0, 0, on_rearm, arg) != 0);
}

static void
test_timers(void)
{
	struct gk_loop	*l;
	uint64_t	 a, b, c, x;
	int64_t		 t0, t1;
	int		 rearms = 0, ran;

	T_REQUIRE((l = gk_loop_new()) != NULL);
	memset(&tr, 0, sizeof(tr));

	/* One-shots fire in order of their due time, not of their arming. */
	t0 = gk_mono_ms();
	a = gk_loop_timer_add(l, 60, 0, on_order, (void *)3);
	b = gk_loop_timer_add(l, 20, 0, on_order, (void *)1);
	c = gk_loop_timer_add(l, 40, 0, on_order, (void *)2);
	x = gk_loop_timer_add(l, 30, 0, on_never, NULL);
	T_CHECK(a != 0 && b != 0 && c != 0 && x != 0);
	T_CHECK(a != b && b != c && a != c && x != c);
	T_CHECK(gk_loop_timer_cancel(l, x) == 0);
	T_CHECK(gk_loop_timer_cancel(l, x) == -1);
	T_CHECK(gk_loop_timer_cancel(l, 0) == -1);
	while (tr.n < 3 && gk_mono_ms() - t0 < 5000)
		T_CHECK(gk_loop_once(l, -1) >= 0);	/* bounded by the timers */
	t1 = gk_mono_ms();
	T_CHECK(tr.n == 3);
	T_CHECK(tr.order[0] == 1 && tr.order[1] == 2 && tr.order[2] == 3);
	T_CHECK(t1 - t0 >= 60);		/* never early */
	/* The same due time fires in arming order. */
	tr.n = 0;
	gk_loop_timer_add(l, 10, 0, on_order, (void *)7);
	gk_loop_timer_add(l, 10, 0, on_order, (void *)8);
	gk_loop_timer_add(l, 10, 0, on_order, (void *)9);
	t0 = gk_mono_ms();
	while (tr.n < 3 && gk_mono_ms() - t0 < 5000)
		gk_loop_once(l, -1);
	T_CHECK(tr.n == 3 && tr.order[0] == 7 && tr.order[1] == 8 &&
	    tr.order[2] == 9);
	/* One-shots do not come back. */
	T_CHECK(gk_loop_once(l, 100) == 0 && tr.n == 3);

	/* A periodic timer ticks until it cancels itself. */
	t0 = gk_mono_ms();
	tr.tick_id = gk_loop_timer_add(l, 5, 10, on_tick, NULL);
	T_CHECK(tr.tick_id != 0);
	T_CHECK(run_until(l, &tr.done, 5000) == 0);
	T_CHECK(tr.ticks == 5);
	/* The fifth tick is due 5 + 4 * 10 ms after arming, and never early. */
	T_CHECKF(tr.first_ms - t0 >= 5 && tr.last_ms - t0 >= 45,
	    "ticks at %lld and %lld ms", (long long)(tr.first_ms - t0),
	    (long long)(tr.last_ms - t0));
	t0 = gk_mono_ms();
	while (gk_mono_ms() - t0 < 60)
		gk_loop_once(l, 10);
	T_CHECK(tr.ticks == 5);

	/* A callback cancels another timer that is due in the same round. */
	tr.done = 0;
	gk_loop_timer_add(l, 0, 0, on_cancel_other, NULL);
	tr.victim = gk_loop_timer_add(l, 0, 0, on_never, NULL);
	T_CHECK(run_until(l, &tr.done, 5000) == 0);
	T_CHECK(gk_loop_once(l, 20) == 0);

	/* A timer that re-arms itself at 0 ms runs once per round. */
	gk_loop_timer_add(l, 0, 0, on_rearm, &rearms);
	ran = gk_loop_once(l, 0);
	T_CHECK(ran == 1 && rearms == 1);
	ran = gk_loop_once(l, 0);
	T_CHECK(ran == 1 && rearms == 2);
	gk_loop_free(l);	/* frees the armed timer too (checked by ASan) */
}

static void
on_count(struct gk_loop *l, uint64_t id, void *arg)
{
	(void)l;
	(void)id;
	(*(int *)arg)++;
}

/*
 * Huge delays mean "not in this lifetime", not a signed overflow that wraps the due
 * time into the past and fires at once (and aborts under UBSan).
 */
static void
test_timer_overflow(void)
{
	struct gk_loop	*l;
	uint64_t	 far, every;
	int		 fired_far = 0, fired_every = 0, i;

	T_REQUIRE((l = gk_loop_new()) != NULL);
	far = gk_loop_timer_add(l, INT64_MAX, 0, on_count, &fired_far);
	T_CHECK(far != 0);
	/* Due now, then every INT64_MAX ms: fires once, re-arms far away. */
	every = gk_loop_timer_add(l, 0, INT64_MAX, on_count, &fired_every);
	T_CHECK(every != 0);
	for (i = 0; i < 5; i++)
		T_CHECK(gk_loop_once(l, 0) >= 0);
	T_CHECKF(fired_far == 0, "INT64_MAX timer fired %d times", fired_far);
	T_CHECKF(fired_every == 1, "periodic INT64_MAX timer fired %d times",
	    fired_every);
	/* The wait they leave is capped, not negative. */
	T_CHECK(gk_loop_once(l, 10) == 0);
	T_CHECK(gk_loop_timer_cancel(l, far) == 0);
	T_CHECK(gk_loop_timer_cancel(l, every) == 0);
	gk_loop_free(l);
}

/* signals */

struct srec {
	int	 signo[8];
	int	 n;
};

static void
on_signal(struct gk_loop *l, int signo, void *arg)
{
	struct srec	*s = arg;

	(void)l;
	if (s->n < (int)GK_NELEM(s->signo))
		s->signo[s->n++] = signo;
}

/* A thread started before the loop blocked its signals, like a library's pool. */
static void *
early_thread(void *arg)
{
	atomic_int	*stop = arg;

	while (!atomic_load(stop))
		usleep(1000);
	return NULL;
}

/*
 * A signal the kernel hands to a thread that does not block it (OpenBLAS starts
 * such threads when darknet is loaded) must still reach the loop, not end the
 * process with the default action.
 */
static void
test_signal_foreign_thread(void)
{
	struct gk_loop	*l;
	struct srec	 s = { { 0 }, 0 };
	atomic_int	 stop = 0;
	pthread_t	 t;
	sigset_t	 set;
	long long	 deadline;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	T_REQUIRE(pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0);
	T_REQUIRE(pthread_create(&t, NULL, early_thread, &stop) == 0);
	T_REQUIRE((l = gk_loop_new()) != NULL);
	T_CHECK(gk_loop_signal(l, SIGTERM, on_signal, &s) == 0);
	T_REQUIRE(pthread_kill(t, SIGTERM) == 0);	/* straight to the thread */
	deadline = t_now_ms() + 5000;
	while (s.n < 1 && t_now_ms() < deadline)
		gk_loop_once(l, 100);
	T_CHECK(s.n == 1 && s.signo[0] == SIGTERM);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	gk_loop_free(l);
}

static void
test_signals(void)
{
	struct gk_loop	*l;
	struct srec	 s = { { 0 }, 0 };
	long long	 deadline;

	T_REQUIRE((l = gk_loop_new()) != NULL);
	T_CHECK(gk_loop_signal(l, SIGUSR1, on_signal, &s) == 0);
	T_CHECK(gk_loop_signal(l, SIGUSR2, on_signal, &s) == 0);
	T_CHECK(gk_loop_signal(l, SIGKILL, on_signal, &s) == -1);
	T_CHECK(gk_loop_signal(l, 0, on_signal, &s) == -1);

	/* Without the loop, SIGUSR1 would end the process. */
	T_REQUIRE(raise(SIGUSR1) == 0);
	deadline = t_now_ms() + 5000;
	while (s.n < 1 && t_now_ms() < deadline)
		gk_loop_once(l, 100);
	T_CHECK(s.n == 1 && s.signo[0] == SIGUSR1);

	T_REQUIRE(kill(getpid(), SIGUSR2) == 0);
	deadline = t_now_ms() + 5000;
	while (s.n < 2 && t_now_ms() < deadline)
		gk_loop_once(l, 100);
	T_CHECK(s.n == 2 && s.signo[1] == SIGUSR2);
	T_CHECK(gk_loop_once(l, 0) == 0 && s.n == 2);
	gk_loop_free(l);
}

/* posts */

#define NPOST_THREADS	4
#define NPOSTS		10000

struct postrec {
	pthread_t		 loop_thread;
	int			 wrong_thread;
	int			 out_of_order;
	int			 dup;
	int			 total;
	int			 last[NPOST_THREADS];
	unsigned char		 seen[NPOST_THREADS][NPOSTS];
};

struct producer {
	struct gk_loop	*l;
	struct postrec	*pr;
	int		 t;
	int		 failed;
};

static void
on_post(struct gk_loop *l, void *item, void *arg)
{
	struct postrec	*pr = arg;
	uintptr_t	 v = (uintptr_t)item;
	int		 t = (int)(v >> 20), i = (int)(v & 0xfffff);

	(void)l;
	if (!pthread_equal(pthread_self(), pr->loop_thread))
		pr->wrong_thread++;
	if (t < 0 || t >= NPOST_THREADS || i >= NPOSTS) {
		pr->dup++;
		return;
	}
	if (pr->seen[t][i]++)
		pr->dup++;
	/* Items from one producer keep that producer's order. */
	if (i != pr->last[t] + 1)
		pr->out_of_order++;
	pr->last[t] = i;
	pr->total++;
}

static void *
producer_main(void *arg)
{
	struct producer	*p = arg;
	uintptr_t	 i;

	for (i = 0; i < NPOSTS; i++)
		if (gk_loop_post(p->l, on_post,
		    (void *)((uintptr_t)p->t << 20 | i), p->pr) != 0)
			p->failed++;
	return NULL;
}

static void
test_posts(void)
{
	static struct postrec	 pr;
	struct producer		 p[NPOST_THREADS];
	pthread_t		 th[NPOST_THREADS];
	struct gk_loop		*l;
	long long		 deadline;
	int			 t, i, missing = 0, ran;

	T_REQUIRE((l = gk_loop_new()) != NULL);
	memset(&pr, 0, sizeof(pr));
	pr.loop_thread = pthread_self();
	for (t = 0; t < NPOST_THREADS; t++)
		pr.last[t] = -1;
	for (t = 0; t < NPOST_THREADS; t++) {
		p[t].l = l;
		p[t].pr = &pr;
		p[t].t = t;
		p[t].failed = 0;
		T_REQUIRE(pthread_create(&th[t], NULL, producer_main, &p[t]) == 0);
	}
	/* The loop runs while the producers post. */
	deadline = t_now_ms() + 30000;
	while (pr.total < NPOST_THREADS * NPOSTS && t_now_ms() < deadline)
		T_CHECK(gk_loop_once(l, 100) >= 0);
	for (t = 0; t < NPOST_THREADS; t++) {
		pthread_join(th[t], NULL);
		T_CHECK(p[t].failed == 0);
	}
	T_CHECKF(pr.total == NPOST_THREADS * NPOSTS, "%d delivered", pr.total);
	T_CHECK(pr.wrong_thread == 0);
	T_CHECK(pr.dup == 0);
	T_CHECK(pr.out_of_order == 0);
	for (t = 0; t < NPOST_THREADS; t++)
		for (i = 0; i < NPOSTS; i++)
			if (pr.seen[t][i] != 1)
				missing++;
	T_CHECK(missing == 0);
	/* Drained: nothing more runs. */
	ran = gk_loop_once(l, 0);
	T_CHECK(ran == 0);

	/* A post from the loop thread itself runs in a later round. */
	T_CHECK(gk_loop_post(l, on_post, (void *)(uintptr_t)0, &pr) == 0);
	T_CHECK(gk_loop_once(l, 1000) == 1 && pr.dup == 1);
	T_CHECK(gk_loop_post(NULL, on_post, NULL, &pr) == -1);

	/* Items left queued at free are not run; only the queue is freed. */
	T_CHECK(gk_loop_post(l, on_post, (void *)(uintptr_t)1, &pr) == 0);
	gk_loop_free(l);
	T_CHECK(pr.total == NPOST_THREADS * NPOSTS + 1);
}

/* stop */

struct stopper {
	struct gk_loop	*l;
	_Atomic int	 waiting;
};

static void *
stopper_main(void *arg)
{
	struct stopper	*s = arg;
	struct timespec	 ts = { 0, 20 * 1000000 };

	/* Let the loop thread block in poll; the checks do not rely on it. */
	while (!atomic_load(&s->waiting))
		nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);
	gk_loop_stop(s->l, 3);
	return NULL;
}

static void
on_stop_timer(struct gk_loop *l, uint64_t id, void *arg)
{
	(void)id;
	(void)arg;
	gk_loop_stop(l, 9);
}

static void
test_stop(void)
{
	struct stopper	 s;
	pthread_t	 th;
	long long	 t0, t1;
	int		 ran;

	T_REQUIRE((s.l = gk_loop_new()) != NULL);
	atomic_init(&s.waiting, 0);
	T_CHECK(gk_loop_done(s.l) == 0 && gk_loop_exit_code(s.l) == 0);
	T_REQUIRE(pthread_create(&th, NULL, stopper_main, &s) == 0);
	atomic_store(&s.waiting, 1);
	t0 = t_now_ms();
	/* Nothing else can wake this wait for 20 s: only the stop. */
	ran = gk_loop_once(s.l, 20000);
	t1 = t_now_ms();
	pthread_join(th, NULL);
	T_CHECK(ran == 0);
	T_CHECKF(t1 - t0 < 10000, "woke after %lld ms", t1 - t0);
	T_CHECK(gk_loop_done(s.l) == 1);
	T_CHECK(gk_loop_exit_code(s.l) == 3);
	gk_loop_free(s.l);

	/* The usual daemon shape, stopped by a handler on the loop thread. */
	T_REQUIRE((s.l = gk_loop_new()) != NULL);
	gk_loop_timer_add(s.l, 10, 0, on_stop_timer, NULL);
	t0 = t_now_ms();
	while (!gk_loop_done(s.l) && t_now_ms() - t0 < 5000)
		gk_loop_once(s.l, -1);
	T_CHECK(gk_loop_done(s.l) && gk_loop_exit_code(s.l) == 9);
	gk_loop_free(s.l);
	gk_loop_free(NULL);
}

int
main(void)
{
	gk_log_init("test_loop");
	test_fds();
	test_timers();
	test_timer_overflow();
	test_signals();
	test_signal_foreign_thread();
	test_posts();
	test_stop();
	return T_DONE();
}
