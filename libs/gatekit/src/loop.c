/*
 * loop: the poll(2) event loop that a daemon's one state-owning thread runs (see
 * gatekit/loop.h). Everything a daemon reacts to arrives here as a descriptor: sockets
 * and serial ports directly, signals through one signalfd, and work from library
 * threads (Paho, librdkafka) through a mutex-protected queue whose eventfd wakes poll.
 * So handlers run one at a time on one thread, and daemon state needs no locks.
 *
 * Callbacks may add and delete descriptors and timers, including their own, while the
 * loop is iterating: deleted watches are only marked dead during dispatch and swept
 * afterwards, and a timer is taken off the heap before its callback runs.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/util.h"

struct watch {
	int		 fd;
	short		 events;
	int		 dead;		/* deleted during dispatch, swept after */
	gk_fd_cb	*cb;
	void		*arg;
};

struct timer {
	int64_t		 due;		/* gk_mono_ms() */
	int64_t		 every;		/* 0: one-shot */
	uint64_t	 id;
	gk_timer_cb	*cb;
	void		*arg;
};

struct post {
	struct post	*next;
	gk_post_cb	*cb;
	void		*item;
	void		*arg;
};

struct sig {
	gk_signal_cb	*cb;
	void		*arg;
};

struct gk_loop {
	struct watch	*w;
	size_t		 nw, capw;
	int		 dispatching;	/* iterating w: delete marks, not removes */
	int		 ndead;
	struct pollfd	*pfd;
	size_t		 cappfd;

	struct timer	*heap;		/* min-heap on (due, id) */
	size_t		 nt, capt;
	uint64_t	 last_id;
	uint64_t	 firing_id;	/* the timer whose callback runs, or 0 */
	int		 firing_cancelled;

	int		 sigfd;		/* -1 until the first gk_loop_signal() */
	sigset_t	 sigs;
	struct sig	 sig[_NSIG];

	int		 evfd;		/* wakes poll: posts and stop */
	pthread_mutex_t	 mu;		/* guards qhead, qtail */
	struct post	*qhead, *qtail;

	_Atomic int	 done;
	_Atomic int	 code;
};

struct gk_loop *
gk_loop_new(void)
{
	struct gk_loop	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		gk_log(GK_LOG_ERR, "loop.error", "op=calloc");
		return NULL;
	}
	l->sigfd = -1;
	sigemptyset(&l->sigs);
	if ((l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		gk_log(GK_LOG_ERR, "loop.error", "op=eventfd err=%m");
		free(l);
		return NULL;
	}
	if (pthread_mutex_init(&l->mu, NULL) != 0) {
		gk_log(GK_LOG_ERR, "loop.error", "op=mutex");
		close(l->evfd);
		free(l);
		return NULL;
	}
	atomic_init(&l->done, 0);
	atomic_init(&l->code, 0);
	return l;
}

void
gk_loop_free(struct gk_loop *l)
{
	struct post	*p, *next;

	if (l == NULL)
		return;
	/*
	 * The signals stay blocked: unblocking them now would let a pending TERM kill
	 * the process in the middle of its orderly shutdown.
	 */
	if (l->sigfd != -1)
		close(l->sigfd);
	close(l->evfd);
	for (p = l->qhead; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	pthread_mutex_destroy(&l->mu);
	free(l->w);
	free(l->pfd);
	free(l->heap);
	free(l);
}

/* Returns the index of the live watch on fd, or -1. */
static ssize_t
watch_find(const struct gk_loop *l, int fd)
{
	size_t	 i;

	for (i = 0; i < l->nw; i++)
		if (l->w[i].fd == fd && !l->w[i].dead)
			return (ssize_t)i;
	return -1;
}

int
gk_loop_fd_add(struct gk_loop *l, int fd, short events, gk_fd_cb *cb, void *arg)
{
	struct watch	*nw;
	size_t		 cap;

	if (fd < 0 || cb == NULL || watch_find(l, fd) != -1)
		return -1;
	if (l->nw == l->capw) {
		cap = l->capw ? l->capw * 2 : 8;
		if ((nw = realloc(l->w, cap * sizeof(*nw))) == NULL) {
			gk_log(GK_LOG_ERR, "loop.error", "op=realloc fd=%d", fd);
			return -1;
		}
		l->w = nw;
		l->capw = cap;
	}
	l->w[l->nw].fd = fd;
	l->w[l->nw].events = events;
	l->w[l->nw].dead = 0;
	l->w[l->nw].cb = cb;
	l->w[l->nw].arg = arg;
	l->nw++;
	return 0;
}

int
gk_loop_fd_mod(struct gk_loop *l, int fd, short events)
{
	ssize_t	 i;

	if ((i = watch_find(l, fd)) == -1)
		return -1;
	l->w[i].events = events;
	return 0;
}

int
gk_loop_fd_del(struct gk_loop *l, int fd)
{
	ssize_t	 i;

	if ((i = watch_find(l, fd)) == -1)
		return -1;
	if (l->dispatching) {
		l->w[i].dead = 1;
		l->ndead++;
		return 0;
	}
	memmove(&l->w[i], &l->w[i + 1], (l->nw - (size_t)i - 1) * sizeof(*l->w));
	l->nw--;
	return 0;
}

/* Removes the watches deleted during dispatch, keeping the others in order. */
static void
watch_sweep(struct gk_loop *l)
{
	size_t	 i, j;

	for (i = 0, j = 0; i < l->nw; i++)
		if (!l->w[i].dead)
			l->w[j++] = l->w[i];
	l->nw = j;
	l->ndead = 0;
}

/* a + b for b >= 0, saturating at INT64_MAX: "never" rather than overflow. */
static int64_t
add_ms(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int
timer_before(const struct timer *a, const struct timer *b)
{
	return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void
heap_swap(struct gk_loop *l, size_t a, size_t b)
{
	struct timer	 t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
}

static void
heap_up(struct gk_loop *l, size_t i)
{
	while (i > 0 && timer_before(&l->heap[i], &l->heap[(i - 1) / 2])) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct gk_loop *l, size_t i)
{
	size_t	 c, m;

	for (;;) {
		m = i;
		c = 2 * i + 1;
		if (c < l->nt && timer_before(&l->heap[c], &l->heap[m]))
			m = c;
		if (c + 1 < l->nt && timer_before(&l->heap[c + 1], &l->heap[m]))
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

static int
heap_push(struct gk_loop *l, const struct timer *t)
{
	struct timer	*nh;
	size_t		 cap;

	if (l->nt == l->capt) {
		cap = l->capt ? l->capt * 2 : 8;
		if ((nh = realloc(l->heap, cap * sizeof(*nh))) == NULL)
			return -1;
		l->heap = nh;
		l->capt = cap;
	}
	l->heap[l->nt] = *t;
	heap_up(l, l->nt);
	l->nt++;
	return 0;
}

static void
heap_remove(struct gk_loop *l, size_t i)
{
	l->nt--;
	if (i == l->nt)
		return;
	l->heap[i] = l->heap[l->nt];
	heap_down(l, i);
	heap_up(l, i);
}

uint64_t
gk_loop_timer_add(struct gk_loop *l, int64_t after_ms, int64_t every_ms,
    gk_timer_cb *cb, void *arg)
{
	struct timer	 t;

	if (cb == NULL)
		return 0;
	t.due = add_ms(gk_mono_ms(), after_ms > 0 ? after_ms : 0);
	t.every = every_ms > 0 ? every_ms : 0;
	t.id = l->last_id + 1;
	t.cb = cb;
	t.arg = arg;
	if (heap_push(l, &t) == -1) {
		gk_log(GK_LOG_ERR, "loop.error", "op=timer_add");
		return 0;
	}
	l->last_id = t.id;
	return t.id;
}

int
gk_loop_timer_cancel(struct gk_loop *l, uint64_t id)
{
	size_t	 i;

	if (id == 0)
		return -1;
	if (id == l->firing_id) {
		if (l->firing_cancelled)
			return -1;
		l->firing_cancelled = 1;
		return 0;
	}
	for (i = 0; i < l->nt; i++) {
		if (l->heap[i].id == id) {
			heap_remove(l, i);
			return 0;
		}
	}
	return -1;
}

/*
 * Threads that a library started before the loop blocked a signal (OpenBLAS, which
 * darknet can be linked to through Debian's libblas.so.3 alternative, starts its
 * pool when it is loaded) do not block it, and the kernel may deliver the signal to
 * one of them: with the default action that would end the daemon on its first
 * SIGTERM without any clean stop. So each signal the loop takes also gets a handler
 * that hands it on to the loop's thread, where it is blocked and so waits for the
 * signalfd.
 */
static pthread_t sig_owner[_NSIG];

static void
sig_forward(int signo)
{
	int	 saved = errno;

	(void)pthread_kill(sig_owner[signo], signo);
	errno = saved;
}

int
gk_loop_signal(struct gk_loop *l, int signo, gk_signal_cb *cb, void *arg)
{
	struct sigaction sa;
	sigset_t	 one, old;
	int		 fd, had;

	if (cb == NULL || signo <= 0 || signo >= _NSIG || signo == SIGKILL ||
	    signo == SIGSTOP)
		return -1;
	sigemptyset(&one);
	if (sigaddset(&one, signo) == -1)
		return -1;
	if ((errno = pthread_sigmask(SIG_BLOCK, &one, &old)) != 0) {
		gk_log(GK_LOG_ERR, "loop.error", "op=sigmask signo=%d err=%m",
		    signo);
		return -1;
	}
	had = sigismember(&l->sigs, signo) == 1;
	sigaddset(&l->sigs, signo);
	fd = signalfd(l->sigfd, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1) {
		gk_log(GK_LOG_ERR, "loop.error", "op=signalfd signo=%d err=%m",
		    signo);
		if (had)	/* still in the signalfd, with its old handler */
			return -1;
		sigdelset(&l->sigs, signo);
		/* Nobody reads it: blocked, the signal would be lost for good. */
		if (!sigismember(&old, signo))
			(void)pthread_sigmask(SIG_UNBLOCK, &one, NULL);
		return -1;
	}
	l->sigfd = fd;
	l->sig[signo].cb = cb;
	l->sig[signo].arg = arg;
	sig_owner[signo] = pthread_self();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_forward;
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(signo, &sa, NULL) == -1)
		gk_log(GK_LOG_WARN, "loop.error", "op=sigaction signo=%d err=%m",
		    signo);
	return 0;
}

/* Sets the eventfd so that poll returns. Async-signal-safe. */
static void
wake(struct gk_loop *l)
{
	uint64_t	 one = 1;
	ssize_t		 n;

	/* EAGAIN means the counter is saturated: the loop is awake anyway. */
	do
		n = write(l->evfd, &one, sizeof(one));
	while (n == -1 && errno == EINTR);
}

int
gk_loop_post(struct gk_loop *l, gk_post_cb *cb, void *item, void *arg)
{
	struct post	*p;
	int		 was_empty;

	if (l == NULL || cb == NULL || (p = malloc(sizeof(*p))) == NULL)
		return -1;
	p->next = NULL;
	p->cb = cb;
	p->item = item;
	p->arg = arg;
	pthread_mutex_lock(&l->mu);
	was_empty = l->qhead == NULL;
	if (l->qtail != NULL)
		l->qtail->next = p;
	else
		l->qhead = p;
	l->qtail = p;
	pthread_mutex_unlock(&l->mu);
	/*
	 * Only the post that finds the queue empty needs to wake the loop: the loop
	 * clears the eventfd before it takes the queue, so a post that finds items
	 * there is taken along with them.
	 */
	if (was_empty)
		wake(l);
	return 0;
}

/* Clears the eventfd, then runs every item queued so far. Returns the count. */
static int
run_posts(struct gk_loop *l)
{
	struct post	*p, *next;
	uint64_t	 v;
	ssize_t		 n;
	int		 ran = 0;

	do
		n = read(l->evfd, &v, sizeof(v));
	while (n == -1 && errno == EINTR);
	pthread_mutex_lock(&l->mu);
	p = l->qhead;
	l->qhead = l->qtail = NULL;
	pthread_mutex_unlock(&l->mu);
	for (; p != NULL; p = next) {
		next = p->next;
		p->cb(l, p->item, p->arg);
		free(p);
		ran++;
	}
	return ran;
}

static int
run_signals(struct gk_loop *l)
{
	struct signalfd_siginfo	 si;
	ssize_t			 n;
	int			 ran = 0, signo;

	for (;;) {
		n = read(l->sigfd, &si, sizeof(si));
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			break;
		signo = (int)si.ssi_signo;
		if (signo > 0 && signo < _NSIG && l->sig[signo].cb != NULL) {
			l->sig[signo].cb(l, signo, l->sig[signo].arg);
			ran++;
		}
	}
	return ran;
}

/*
 * Fires the timers that are due. Timers armed by these callbacks wait for the next
 * round even when already due, so a callback that re-arms a 0 ms timer cannot keep
 * the loop here forever.
 */
static int
run_timers(struct gk_loop *l)
{
	struct timer	 t;
	uint64_t	 limit = l->last_id;
	int64_t		 now = gk_mono_ms();
	int		 ran = 0;

	while (l->nt > 0 && l->heap[0].due <= now && l->heap[0].id <= limit) {
		t = l->heap[0];
		heap_remove(l, 0);
		l->firing_id = t.id;
		l->firing_cancelled = 0;
		t.cb(l, t.id, t.arg);
		ran++;
		l->firing_id = 0;
		if (t.every == 0 || l->firing_cancelled)
			continue;
		/* Ticks missed while the loop was busy are skipped, not bunched. */
		t.due = add_ms(t.due, t.every);
		if (t.due <= now)
			t.due = add_ms(now, t.every);
		if (heap_push(l, &t) == -1)
			gk_log(GK_LOG_ERR, "loop.timer_lost", "id=%llu",
			    (unsigned long long)t.id);
	}
	return ran;
}

int
gk_loop_once(struct gk_loop *l, int max_wait_ms)
{
	struct pollfd	*np;
	struct watch	 w;
	size_t		 i, nw, need;
	int64_t		 d;
	int		 timeout = max_wait_ms, n, ran = 0;
	short		 rev;

	if (l->nt > 0) {
		d = l->heap[0].due - gk_mono_ms();
		if (d < 0)
			d = 0;
		if (d > INT_MAX)
			d = INT_MAX;
		if (timeout < 0 || d < timeout)
			timeout = (int)d;
	}
	nw = l->nw;
	need = nw + 2;
	if (need > l->cappfd) {
		if ((np = realloc(l->pfd, need * sizeof(*np))) == NULL) {
			gk_log(GK_LOG_ERR, "loop.error", "op=realloc nfds=%zu",
			    need);
			return -1;
		}
		l->pfd = np;
		l->cappfd = need;
	}
	l->pfd[0].fd = l->evfd;
	l->pfd[0].events = POLLIN;
	l->pfd[1].fd = l->sigfd;	/* poll skips -1 */
	l->pfd[1].events = POLLIN;
	for (i = 0; i < nw; i++) {
		l->pfd[i + 2].fd = l->w[i].fd;
		l->pfd[i + 2].events = l->w[i].events;
	}
	for (i = 0; i < need; i++)
		l->pfd[i].revents = 0;

	n = poll(l->pfd, need, timeout);
	if (n == -1) {
		if (errno != EINTR) {
			gk_log(GK_LOG_ERR, "loop.error", "op=poll err=%m");
			return -1;
		}
		n = 0;
	}

	if (n > 0) {
		l->dispatching = 1;
		if (l->pfd[0].revents != 0)
			ran += run_posts(l);
		if (l->pfd[1].revents != 0)
			ran += run_signals(l);
		/*
		 * w may move (a callback adds a watch) but does not shrink while
		 * dispatching, so index i still names the watch pfd[i + 2] polled.
		 */
		for (i = 0; i < nw; i++) {
			rev = l->pfd[i + 2].revents;
			if (rev == 0 || l->w[i].dead)
				continue;
			w = l->w[i];
			w.cb(l, w.fd, rev, w.arg);
			ran++;
			if ((rev & POLLNVAL) && !l->w[i].dead) {
				/* Closed but still watched: drop it, or poll spins. */
				gk_log(GK_LOG_ERR, "loop.fd_invalid", "fd=%d", w.fd);
				l->w[i].dead = 1;
				l->ndead++;
			}
		}
		l->dispatching = 0;
		if (l->ndead > 0)
			watch_sweep(l);
	}
	ran += run_timers(l);
	return ran;
}

void
gk_loop_stop(struct gk_loop *l, int code)
{
	atomic_store(&l->code, code);
	atomic_store(&l->done, 1);
	wake(l);
}

int
gk_loop_done(const struct gk_loop *l)
{
	return atomic_load(&l->done);
}

int
gk_loop_exit_code(const struct gk_loop *l)
{
	return atomic_load(&l->code);
}
