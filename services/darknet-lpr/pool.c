/*
 * Worker threads over the lane queue (pool.h): one mutex, one condition variable.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "pool.h"

struct worker {
	struct pool	*p;
	void		*state;
	pthread_t	 tid;
	int		 started;
};

struct pool {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct lane_queue	*q;
	int			 stopping;
	int			 stopped;
	int			 busy;
	int			 nworkers;
	struct worker		*w;
	pool_work_fn		*fn;
	void			*arg;
};

static void *
run(void *arg)
{
	struct worker	*w = arg;
	struct pool	*p = w->p;
	void		*item;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stopping && (item = lq_pop(p->q, NULL)) == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping)
			break;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		p->fn(w->state, item, p->arg);
		pthread_mutex_lock(&p->mu);
		p->busy--;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct pool *
pool_new(int nworkers, void *const *workers, int lanes_max, int per_lane,
    pool_work_fn *fn, void *arg)
{
	struct pool	*p;
	int		 i, e;

	if (nworkers < 1) {
		errno = EINVAL;
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->fn = fn;
	p->arg = arg;
	if ((p->q = lq_new(lanes_max, per_lane)) == NULL ||
	    (p->w = calloc((size_t)nworkers, sizeof(*p->w))) == NULL)
		goto fail;
	p->nworkers = nworkers;
	for (i = 0; i < nworkers; i++) {
		p->w[i].p = p;
		p->w[i].state = workers[i];
		if ((e = pthread_create(&p->w[i].tid, NULL, run, &p->w[i])) != 0) {
			errno = e;
			goto fail;
		}
		p->w[i].started = 1;
	}
	return p;
fail:
	e = errno;
	pool_free(p);
	errno = e;
	return NULL;
}

int
pool_push(struct pool *p, const char *lane, void *item, void **dropped)
{
	int rc;

	*dropped = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		pthread_mutex_unlock(&p->mu);
		errno = ESHUTDOWN;
		return -1;
	}
	rc = lq_push(p->q, lane, item, dropped);
	if (rc == 0)
		pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void
pool_stop(struct pool *p)
{
	int i;

	pthread_mutex_lock(&p->mu);
	if (p->stopped) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	p->stopping = 1;
	p->stopped = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nworkers; i++)
		if (p->w[i].started)
			pthread_join(p->w[i].tid, NULL);
}

void *
pool_drain(struct pool *p)
{
	void *item;

	pthread_mutex_lock(&p->mu);
	item = p->q != NULL ? lq_drain(p->q) : NULL;
	pthread_mutex_unlock(&p->mu);
	return item;
}

int
pool_stats(struct pool *p, struct lq_lane_stats *st, int max, size_t *queued,
    int *busy)
{
	int i, n;

	pthread_mutex_lock(&p->mu);
	n = lq_lanes(p->q);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		lq_stats(p->q, i, &st[i]);
	*queued = lq_len(p->q);
	*busy = p->busy;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	if (p->w != NULL)
		pool_stop(p);
	lq_free(p->q);
	free(p->w);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
