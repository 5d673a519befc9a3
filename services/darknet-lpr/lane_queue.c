/*
 * Per-lane ring buffers with drop-oldest and round-robin service (lane_queue.h).
 * Lanes are few (a gate has a handful), so finding one is a linear scan.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lane_queue.h"

struct lane {
	char		 id[LQ_LANE_MAX];
	void		**ring;		/* per_lane slots */
	int		 head;		/* oldest item */
	int		 count;
	uint64_t	 pushed, dropped, taken;
};

struct lane_queue {
	int		 lanes_max;
	int		 per_lane;
	int		 nlanes;
	int		 next;		/* where the round-robin scan starts */
	size_t		 len;
	struct lane	*lanes;
};

struct lane_queue *
lq_new(int lanes_max, int per_lane)
{
	struct lane_queue *q;

	if (lanes_max < 1 || per_lane < 1) {
		errno = EINVAL;
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->lanes = calloc((size_t)lanes_max, sizeof(*q->lanes))) == NULL) {
		free(q);
		return NULL;
	}
	q->lanes_max = lanes_max;
	q->per_lane = per_lane;
	return q;
}

void
lq_free(struct lane_queue *q)
{
	int i;

	if (q == NULL)
		return;
	for (i = 0; i < q->nlanes; i++)
		free(q->lanes[i].ring);
	free(q->lanes);
	free(q);
}

static struct lane *
lane_get(struct lane_queue *q, const char *id)
{
	struct lane	*l;
	size_t		 n = strlen(id);
	int		 i;

	if (n == 0 || n >= LQ_LANE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < q->nlanes; i++)
		if (strcmp(q->lanes[i].id, id) == 0)
			return &q->lanes[i];
	if (q->nlanes == q->lanes_max) {
		errno = ENOSPC;
		return NULL;
	}
	l = &q->lanes[q->nlanes];
	if ((l->ring = calloc((size_t)q->per_lane, sizeof(void *))) == NULL)
		return NULL;
	memcpy(l->id, id, n + 1);
	q->nlanes++;
	return l;
}

int
lq_push(struct lane_queue *q, const char *lane, void *item, void **dropped)
{
	struct lane *l;

	*dropped = NULL;
	if ((l = lane_get(q, lane)) == NULL)
		return -1;
	if (l->count == q->per_lane) {
		*dropped = l->ring[l->head];
		l->head = (l->head + 1) % q->per_lane;
		l->count--;
		l->dropped++;
		q->len--;
	}
	l->ring[(l->head + l->count) % q->per_lane] = item;
	l->count++;
	l->pushed++;
	q->len++;
	return 0;
}

void *
lq_pop(struct lane_queue *q, char *lane)
{
	struct lane	*l;
	void		*item;
	int		 i, k;

	for (i = 0; i < q->nlanes; i++) {
		k = (q->next + i) % q->nlanes;
		l = &q->lanes[k];
		if (l->count == 0)
			continue;
		item = l->ring[l->head];
		l->head = (l->head + 1) % q->per_lane;
		l->count--;
		l->taken++;
		q->len--;
		q->next = (k + 1) % q->nlanes;
		if (lane != NULL)
			memcpy(lane, l->id, LQ_LANE_MAX);
		return item;
	}
	return NULL;
}

void *
lq_drain(struct lane_queue *q)
{
	return lq_pop(q, NULL);
}

size_t
lq_len(const struct lane_queue *q)
{
	return q->len;
}

int
lq_lanes(const struct lane_queue *q)
{
	return q->nlanes;
}

int
lq_stats(const struct lane_queue *q, int i, struct lq_lane_stats *st)
{
	const struct lane *l;

	if (i < 0 || i >= q->nlanes)
		return -1;
	l = &q->lanes[i];
	memcpy(st->lane, l->id, LQ_LANE_MAX);
	st->queued = (size_t)l->count;
	st->pushed = l->pushed;
	st->dropped = l->dropped;
	st->taken = l->taken;
	return 0;
}
