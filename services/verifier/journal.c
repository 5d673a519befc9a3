/*
 * journal: acknowledged plate reads kept until their passage is durable (see
 * journal.h for the contract).
 *
 * One append-only file, opened O_APPEND, one write(2) per record, so records from
 * Paho's thread and the loop's never interleave and a killed process leaves at most
 * one torn record at the end. In memory: the messages still pending (a few per lane,
 * the open windows), each lane's last checkpoint, and the remembered read ids in two
 * generations of an insert-only hash set (the older one is dropped when the newer
 * fills, so at least seen_max / 2 and at most seen_max ids are remembered).
 *
 * Record bodies, little-endian, after the 12-byte frame (magic, length, CRC32C):
 *
 *	message     u8 1, u8 kind, u64 rseq, i64 mono, i64 wall, u8 lanelen, lane,
 *	            event_id[36] (zeros for a trigger), u32 len, payload
 *	checkpoint  u8 2, u8 lanelen, lane, u64 floor, i64 until_mono, i64 until_wall,
 *	            u8 platelen, plate, u8 triggerlen, trigger
 *	seen        u8 3, event_id[36]	(written by compaction only)
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gatekit/log.h>
#include <gatekit/util.h>

#include "journal.h"

#define J_MAGIC		0x314e524aU	/* "JRN1" as little-endian bytes */
#define J_FRAME		12
#define J_MSG		1
#define J_CK		2
#define J_SEEN		3
#define J_UUID		36
#define J_BODY_MAX	(JOURNAL_PAYLOAD_MAX + 256)

#define DEF_COMPACT	(4u << 20)
#define DEF_SEEN	8192u

struct jmsg {
	struct jmsg	*next;
	uint64_t	 rseq;
	int		 kind;
	char		 lane[JOURNAL_LANE_MAX];
	char		 event_id[JOURNAL_ID_LEN];
	int64_t		 mono, wall;
	size_t		 len;
	unsigned char	 payload[];
};

struct jlane {
	char		 name[JOURNAL_LANE_MAX];
	uint64_t	 floor;
	struct journal_hold hold;
	int64_t		 until_wall;
};

struct seen_gen {
	char		(*ids)[JOURNAL_ID_LEN];
	size_t		 n, max;
	uint32_t	*tab;		/* index + 1 into ids; 0: empty */
	size_t		 cap;		/* power of two, >= 2 * max */
};

struct journal {
	pthread_mutex_t	 mu;
	char		 path[PATH_MAX];
	int		 fd;
	struct journal_opts opts;
	uint64_t	 next_rseq;
	struct jmsg	*head, *tail;	/* pending, rseq order */
	struct jlane	*lanes;
	size_t		 nlanes, lanecap;
	struct seen_gen	 gen[2];	/* gen[cur] takes new ids */
	int		 cur;
	unsigned char	*buf;		/* one record */
	struct journal_stats st;
};

int64_t
journal_mono_from_wall(int64_t wall, int64_t now_wall, int64_t now_mono)
{
	return now_mono - (now_wall - wall);
}

/*
 * A receipt time of an earlier process, on this boot's monotonic clock: its own
 * monotonic reading when that is plausibly from this boot (not in the future, and
 * agreeing with the wall clock within 5 s), else the wall-clock age. Replaying with
 * the very readings the live run used is what makes the windows come out the same.
 * future: the time may lie ahead (a hold's end); otherwise it is clamped to now.
 */
static int64_t
map_time(int64_t mono, int64_t wall, int64_t now_mono, int64_t now_wall, int future)
{
	int64_t d;

	if (future || mono <= now_mono) {
		d = (now_wall - wall) - (now_mono - mono);
		if (d > -5000 && d < 5000)
			return mono;
	}
	d = journal_mono_from_wall(wall, now_wall, now_mono);
	return !future && d > now_mono ? now_mono : d;
}

/* The remembered read ids. */

static uint32_t
id_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static int
gen_init(struct seen_gen *g, size_t max)
{
	memset(g, 0, sizeof(*g));
	g->max = max;
	for (g->cap = 16; g->cap < 2 * max; g->cap *= 2)
		;
	g->ids = calloc(max, sizeof(*g->ids));
	g->tab = calloc(g->cap, sizeof(*g->tab));
	return g->ids == NULL || g->tab == NULL ? -1 : 0;
}

static void
gen_free(struct seen_gen *g)
{
	free(g->ids);
	free(g->tab);
	memset(g, 0, sizeof(*g));
}

static int
gen_has(const struct seen_gen *g, const char *id)
{
	size_t h;

	if (g->cap == 0)
		return 0;
	for (h = id_hash(id) & (g->cap - 1); g->tab[h] != 0; h = (h + 1) & (g->cap - 1))
		if (strcmp(g->ids[g->tab[h] - 1], id) == 0)
			return 1;
	return 0;
}

static int
seen_has(const struct journal *j, const char *id)
{
	return gen_has(&j->gen[0], id) || gen_has(&j->gen[1], id);
}

/* Remembers id; when the current generation is full the older one is dropped. */
static int
seen_add(struct journal *j, const char *id)
{
	struct seen_gen	*g = &j->gen[j->cur];
	size_t		 h;

	if (seen_has(j, id))
		return 0;
	if (g->n == g->max) {
		j->cur ^= 1;
		g = &j->gen[j->cur];
		gen_free(g);
		if (gen_init(g, j->opts.seen_max / 2) == -1)
			return -1;
	}
	gk_strlcpy(g->ids[g->n], id, JOURNAL_ID_LEN);
	for (h = id_hash(id) & (g->cap - 1); g->tab[h] != 0; h = (h + 1) & (g->cap - 1))
		;
	g->tab[h] = (uint32_t)++g->n;
	return 0;
}

/* Lanes and pending messages. */

static struct jlane *
lane_find(struct journal *j, const char *name, int create)
{
	struct jlane *l;

	for (size_t i = 0; i < j->nlanes; i++)
		if (strcmp(j->lanes[i].name, name) == 0)
			return &j->lanes[i];
	if (!create)
		return NULL;
	if (j->nlanes == j->lanecap) {
		size_t cap = j->lanecap ? j->lanecap * 2 : 16;

		if ((l = realloc(j->lanes, cap * sizeof(*l))) == NULL)
			return NULL;
		j->lanes = l;
		j->lanecap = cap;
	}
	l = &j->lanes[j->nlanes++];
	memset(l, 0, sizeof(*l));
	gk_strlcpy(l->name, name, sizeof(l->name));
	return l;
}

static int
msg_keep(struct journal *j, uint64_t rseq, int kind, const char *lane,
    const char *event_id, int64_t mono, int64_t wall, const void *p, size_t len)
{
	struct jmsg *m;

	if ((m = calloc(1, sizeof(*m) + len)) == NULL)
		return -1;
	m->rseq = rseq;
	m->kind = kind;
	gk_strlcpy(m->lane, lane, sizeof(m->lane));
	gk_strlcpy(m->event_id, event_id, sizeof(m->event_id));
	m->mono = mono;
	m->wall = wall;
	m->len = len;
	if (len > 0)
		memcpy(m->payload, p, len);
	if (j->tail != NULL)
		j->tail->next = m;
	else
		j->head = m;
	j->tail = m;
	j->st.pending++;
	return 0;
}

/* Drops the pending messages of lane below floor. */
static void
msg_trim(struct journal *j, const char *lane, uint64_t floor)
{
	struct jmsg **pp = &j->head, *m;

	j->tail = NULL;
	while ((m = *pp) != NULL) {
		if (m->rseq < floor && strcmp(m->lane, lane) == 0) {
			*pp = m->next;
			free(m);
			j->st.pending--;
			continue;
		}
		j->tail = m;
		pp = &m->next;
	}
}

/* Records: encoding. Each returns the whole record's length in j->buf. */

static size_t
frame(struct journal *j, size_t body)
{
	gk_put_le(j->buf, J_MAGIC, 4);
	gk_put_le(j->buf + 4, body, 4);
	gk_put_le(j->buf + 8, gk_crc32c(j->buf + J_FRAME, body), 4);
	return J_FRAME + body;
}

static size_t
enc_msg(struct journal *j, const struct jmsg *m, const void *payload)
{
	unsigned char	*p = j->buf + J_FRAME;
	size_t		 ll = strlen(m->lane);

	*p++ = J_MSG;
	*p++ = (unsigned char)m->kind;
	gk_put_le(p, m->rseq, 8);
	gk_put_le(p + 8, (uint64_t)m->mono, 8);
	gk_put_le(p + 16, (uint64_t)m->wall, 8);
	p += 24;
	*p++ = (unsigned char)ll;
	memcpy(p, m->lane, ll);
	p += ll;
	memset(p, 0, J_UUID);
	memcpy(p, m->event_id, strlen(m->event_id));
	p += J_UUID;
	gk_put_le(p, m->len, 4);
	p += 4;
	if (m->len > 0)
		memcpy(p, payload, m->len);
	p += m->len;
	return frame(j, (size_t)(p - (j->buf + J_FRAME)));
}

static size_t
enc_ck(struct journal *j, const struct jlane *l)
{
	unsigned char	*p = j->buf + J_FRAME;
	size_t		 ll = strlen(l->name), pl = strlen(l->hold.plate);
	size_t		 tl = strlen(l->hold.trigger);

	*p++ = J_CK;
	*p++ = (unsigned char)ll;
	memcpy(p, l->name, ll);
	p += ll;
	gk_put_le(p, l->floor, 8);
	gk_put_le(p + 8, (uint64_t)l->hold.until_mono_ms, 8);
	gk_put_le(p + 16, (uint64_t)l->until_wall, 8);
	p += 24;
	*p++ = (unsigned char)pl;
	memcpy(p, l->hold.plate, pl);
	p += pl;
	*p++ = (unsigned char)tl;
	memcpy(p, l->hold.trigger, tl);
	p += tl;
	return frame(j, (size_t)(p - (j->buf + J_FRAME)));
}

static size_t
enc_seen(struct journal *j, const char *id)
{
	j->buf[J_FRAME] = J_SEEN;
	memcpy(j->buf + J_FRAME + 1, id, J_UUID);
	return frame(j, 1 + J_UUID);
}

/* Writes n bytes of j->buf at the end of fd; on failure leaves no partial record. */
static int
put(struct journal *j, int fd, size_t n, uint64_t *size)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = write(fd, j->buf + done, n - done);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			int saved = r == 0 ? EIO : errno;

			if (ftruncate(fd, (off_t)*size) == -1)
				gk_log(GK_LOG_ERR, "journal.truncate_failed", "path=%s "
				    "error=%s", j->path, strerror(errno));
			errno = saved;
			return -1;
		}
		done += (size_t)r;
	}
	*size += n;
	return 0;
}

/* Records: decoding, at open. */

struct dec {
	int		 type;
	struct jmsg	 m;		/* message: all but the payload */
	const unsigned char *payload;
	struct jlane	 l;		/* checkpoint */
	char		 id[JOURNAL_ID_LEN];	/* seen */
};

/* Copies a length-prefixed string of at most max - 1 bytes; advances *p. */
static int
get_str(const unsigned char **p, const unsigned char *end, char *out, size_t max)
{
	size_t n;

	if (*p >= end || (n = **p) >= max || (size_t)(end - *p - 1) < n ||
	    memchr(*p + 1, '\0', n) != NULL)
		return -1;
	memcpy(out, *p + 1, n);
	out[n] = '\0';
	*p += 1 + n;
	return 0;
}

static int
dec_body(const unsigned char *p, size_t n, struct dec *d)
{
	const unsigned char *end = p + n;

	memset(d, 0, sizeof(*d));
	if (n < 1)
		return -1;
	d->type = *p++;
	switch (d->type) {
	case J_MSG:
		if (end - p < 25)
			return -1;
		d->m.kind = *p++;
		d->m.rseq = gk_get_le(p, 8);
		d->m.mono = (int64_t)gk_get_le(p + 8, 8);
		d->m.wall = (int64_t)gk_get_le(p + 16, 8);
		p += 24;
		if (get_str(&p, end, d->m.lane, sizeof(d->m.lane)) == -1 ||
		    end - p < J_UUID + 4)
			return -1;
		memcpy(d->m.event_id, p, J_UUID);
		d->m.event_id[J_UUID] = '\0';
		p += J_UUID;
		d->m.len = gk_get_le(p, 4);
		p += 4;
		if ((size_t)(end - p) != d->m.len || d->m.rseq == 0 ||
		    (d->m.kind != JOURNAL_READ && d->m.kind != JOURNAL_TRIGGER))
			return -1;
		d->payload = p;
		return 0;
	case J_CK:
		if (get_str(&p, end, d->l.name, sizeof(d->l.name)) == -1 || end - p < 24)
			return -1;
		d->l.floor = gk_get_le(p, 8);
		d->l.hold.until_mono_ms = (int64_t)gk_get_le(p + 8, 8);
		d->l.until_wall = (int64_t)gk_get_le(p + 16, 8);
		p += 24;
		if (get_str(&p, end, d->l.hold.plate, sizeof(d->l.hold.plate)) == -1 ||
		    get_str(&p, end, d->l.hold.trigger, sizeof(d->l.hold.trigger)) == -1)
			return -1;
		return p == end ? 0 : -1;
	case J_SEEN:
		if (end - p != J_UUID)
			return -1;
		memcpy(d->id, p, J_UUID);
		d->id[J_UUID] = '\0';
		return 0;
	default:
		return -1;
	}
}

/* Applies a decoded record to the in-memory state. */
static int
apply(struct journal *j, const struct dec *d)
{
	struct jlane *l;

	switch (d->type) {
	case J_MSG:
		if (d->m.rseq >= j->next_rseq)
			j->next_rseq = d->m.rseq + 1;
		if (d->m.event_id[0] != '\0' && seen_add(j, d->m.event_id) == -1)
			return -1;
		if ((l = lane_find(j, d->m.lane, 0)) != NULL && d->m.rseq < l->floor)
			return 0;
		return msg_keep(j, d->m.rseq, d->m.kind, d->m.lane, d->m.event_id,
		    d->m.mono, d->m.wall, d->payload, d->m.len);
	case J_CK:
		if ((l = lane_find(j, d->l.name, 1)) == NULL)
			return -1;
		if (d->l.floor >= l->floor) {
			*l = d->l;
			msg_trim(j, l->name, l->floor);
		}
		return 0;
	case J_SEEN:
		return seen_add(j, d->id);
	}
	return -1;
}

static int
load(struct journal *j, char *err, size_t errlen)
{
	struct stat	 sb;
	unsigned char	*p = NULL;
	size_t		 n, off = 0, body;
	ssize_t		 r;
	struct dec	 d;

	if (fstat(j->fd, &sb) == -1)
		goto fail;
	n = (size_t)sb.st_size;
	if ((p = malloc(n > 0 ? n : 1)) == NULL)
		goto fail;
	for (size_t got = 0; got < n; got += (size_t)r)
		if ((r = pread(j->fd, p + got, n - got, (off_t)got)) <= 0) {
			if (r == -1 && errno == EINTR) {
				r = 0;
				continue;
			}
			if (r == 0)
				errno = EIO;
			goto fail;
		}
	while (off < n) {
		if (n - off < J_FRAME || gk_get_le(p + off, 4) != J_MAGIC ||
		    (body = gk_get_le(p + off + 4, 4)) > J_BODY_MAX ||
		    n - off - J_FRAME < body ||
		    gk_get_le(p + off + 8, 4) != gk_crc32c(p + off + J_FRAME, body) ||
		    dec_body(p + off + J_FRAME, body, &d) == -1)
			break;
		if (apply(j, &d) == -1)
			goto fail;
		off += J_FRAME + body;
	}
	if (off < n) {
		/* A write cut short (power loss): nothing after it was acknowledged. */
		gk_log(GK_LOG_WARN, "journal.torn_tail", "path=%s offset=%zu bytes=%zu",
		    j->path, off, n - off);
		if (ftruncate(j->fd, (off_t)off) == -1 || fdatasync(j->fd) == -1)
			goto fail;
		j->st.torn++;
	}
	j->st.bytes = off;
	free(p);
	return 0;
fail:
	gk_errf(err, errlen, "journal %s: %s", j->path, strerror(errno));
	free(p);
	return -1;
}

struct journal *
journal_open(const char *path, const struct journal_opts *opts, char *err,
    size_t errlen)
{
	struct journal *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		gk_errf(err, errlen, "journal: out of memory");
		return NULL;
	}
	pthread_mutex_init(&j->mu, NULL);
	j->fd = -1;
	j->next_rseq = 1;
	if (opts != NULL)
		j->opts = *opts;
	if (j->opts.compact_bytes == 0)
		j->opts.compact_bytes = DEF_COMPACT;
	if (j->opts.seen_max < 2)
		j->opts.seen_max = DEF_SEEN;
	if (gk_strlcpy(j->path, path, sizeof(j->path)) >= sizeof(j->path) - 4) {
		gk_errf(err, errlen, "journal: path too long");
		goto fail;
	}
	if ((j->buf = malloc(J_FRAME + J_BODY_MAX)) == NULL ||
	    gen_init(&j->gen[0], j->opts.seen_max / 2) == -1) {
		gk_errf(err, errlen, "journal: out of memory");
		goto fail;
	}
	if ((j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) == -1) {
		gk_errf(err, errlen, "journal %s: %s", path, strerror(errno));
		goto fail;
	}
	if (load(j, err, errlen) == -1)
		goto fail;
	gk_log(GK_LOG_INFO, "journal.open", "path=%s bytes=%llu pending=%llu "
	    "lanes=%zu next_rseq=%llu", path, (unsigned long long)j->st.bytes,
	    (unsigned long long)j->st.pending, j->nlanes,
	    (unsigned long long)j->next_rseq);
	return j;
fail:
	journal_close(j);
	return NULL;
}

void
journal_close(struct journal *j)
{
	struct jmsg *m;

	if (j == NULL)
		return;
	if (j->fd != -1)
		close(j->fd);
	while ((m = j->head) != NULL) {
		j->head = m->next;
		free(m);
	}
	gen_free(&j->gen[0]);
	gen_free(&j->gen[1]);
	free(j->lanes);
	free(j->buf);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

int
journal_append(struct journal *j, enum journal_kind kind, const char *lane,
    const char *event_id, int64_t mono_ms, const void *payload, size_t len,
    uint64_t *rseq)
{
	struct jmsg	 m;
	size_t		 n;
	int		 rc = -1;

	if (lane == NULL || event_id == NULL || (payload == NULL && len > 0) ||
	    strlen(lane) == 0 || strlen(lane) >= JOURNAL_LANE_MAX ||
	    (kind == JOURNAL_READ ? strlen(event_id) != J_UUID : event_id[0] != '\0') ||
	    (kind != JOURNAL_READ && kind != JOURNAL_TRIGGER)) {
		errno = EINVAL;
		return -1;
	}
	if (len > JOURNAL_PAYLOAD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.kind = kind;
	gk_strlcpy(m.lane, lane, sizeof(m.lane));
	gk_strlcpy(m.event_id, event_id, sizeof(m.event_id));
	m.mono = mono_ms;
	m.wall = gk_wall_ms();
	m.len = len;

	pthread_mutex_lock(&j->mu);
	if (kind == JOURNAL_READ && seen_has(j, event_id)) {
		j->st.duplicates++;
		rc = 0;
		goto out;
	}
	m.rseq = j->next_rseq;
	n = enc_msg(j, &m, payload);
	if (put(j, j->fd, n, &j->st.bytes) == -1)
		goto out;
	if (j->opts.fsync && fdatasync(j->fd) == -1)
		goto out;	/* written, maybe not durable: Paho offers it again */
	j->next_rseq++;
	j->st.appended++;
	if ((kind == JOURNAL_READ && seen_add(j, event_id) == -1) ||
	    msg_keep(j, m.rseq, kind, lane, event_id, m.mono, m.wall, payload,
	    len) == -1) {
		/* On disk, not in memory: the next start replays it. */
		errno = ENOMEM;
		goto out;
	}
	*rseq = m.rseq;
	rc = 1;
out:
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int
journal_checkpoint(struct journal *j, const char *lane, uint64_t floor,
    const struct journal_hold *h)
{
	struct jlane	*l;
	int64_t		 now_mono = gk_mono_ms(), now_wall = gk_wall_ms();
	int		 rc = -1;

	pthread_mutex_lock(&j->mu);
	if ((l = lane_find(j, lane, 1)) == NULL) {
		errno = ENOMEM;
		goto out;
	}
	if (floor > l->floor)
		l->floor = floor;
	memset(&l->hold, 0, sizeof(l->hold));
	l->until_wall = 0;
	if (h != NULL && h->until_mono_ms > 0) {
		l->hold = *h;
		l->until_wall = now_wall + (h->until_mono_ms - now_mono);
	}
	if (put(j, j->fd, enc_ck(j, l), &j->st.bytes) == -1) {
		gk_log(GK_LOG_ERR, "journal.write_failed", "path=%s error=%s", j->path,
		    strerror(errno));
		goto out;
	}
	msg_trim(j, lane, l->floor);
	rc = 0;
out:
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int
journal_replay(struct journal *j, journal_hold_cb *hold_cb, journal_msg_cb *msg_cb,
    void *arg)
{
	int64_t		 now_mono = gk_mono_ms(), now_wall = gk_wall_ms();
	struct journal_hold h;
	struct journal_msg jm;
	struct jmsg	*m, *c;
	int		 rv = 0;

	/* Not under the mutex: the bus is not started, and callbacks may checkpoint. */
	for (size_t i = 0; i < j->nlanes && rv == 0; i++) {
		struct jlane *l = &j->lanes[i];

		if (l->hold.until_mono_ms == 0 || l->hold.plate[0] == '\0')
			continue;
		/*
		 * Even a hold that is over by now: the messages replayed next carry
		 * the times they came at, when it may still have been in force.
		 */
		h = l->hold;
		h.until_mono_ms = map_time(l->hold.until_mono_ms, l->until_wall,
		    now_mono, now_wall, 1);
		rv = hold_cb(arg, l->name, &h);
	}
	/*
	 * Walk by rseq rather than by pointer: a callback's checkpoint frees messages
	 * of its lane below the new floor, never one at or above the next rseq.
	 */
	for (uint64_t next = 1; rv == 0; ) {
		for (m = j->head; m != NULL && m->rseq < next; m = m->next)
			;
		if (m == NULL)
			break;
		next = m->rseq + 1;
		/* A copy: the callback's checkpoint may free m itself. */
		if ((c = malloc(sizeof(*c) + m->len)) == NULL)
			return -1;
		memcpy(c, m, sizeof(*c) + m->len);
		jm.rseq = c->rseq;
		jm.kind = (enum journal_kind)c->kind;
		jm.lane = c->lane;
		jm.event_id = c->event_id;
		jm.mono_ms = map_time(c->mono, c->wall, now_mono, now_wall, 0);
		jm.payload = c->payload;
		jm.len = c->len;
		rv = msg_cb(arg, &jm);
		free(c);
	}
	return rv;
}

/* Writes the live state to path.tmp, syncs it and renames it over the file. */
static int
compact(struct journal *j)
{
	char		 tmp[PATH_MAX], dir[PATH_MAX];
	uint64_t	 size = 0;
	int		 fd, dfd;
	struct jmsg	*m;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", j->path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	for (int g = 1; g >= 0; g--) {
		const struct seen_gen *sg = &j->gen[j->cur ^ g];

		for (size_t i = 0; i < sg->n; i++)
			if (put(j, fd, enc_seen(j, sg->ids[i]), &size) == -1)
				goto fail;
	}
	for (size_t i = 0; i < j->nlanes; i++)
		if (put(j, fd, enc_ck(j, &j->lanes[i]), &size) == -1)
			goto fail;
	for (m = j->head; m != NULL; m = m->next)
		if (put(j, fd, enc_msg(j, m, m->payload), &size) == -1)
			goto fail;
	if (fdatasync(fd) == -1 || rename(tmp, j->path) == -1)
		goto fail;
	gk_strlcpy(dir, j->path, sizeof(dir));
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	close(j->fd);
	j->fd = fd;
	j->st.bytes = size;
	j->st.compactions++;
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

int
journal_maybe_compact(struct journal *j)
{
	uint64_t	 before;
	int		 rc = 0;

	pthread_mutex_lock(&j->mu);
	before = j->st.bytes;
	if (before > j->opts.compact_bytes) {
		if ((rc = compact(j)) == -1)
			gk_log(GK_LOG_ERR, "journal.compact_failed", "path=%s error=%s",
			    j->path, strerror(errno));
		else
			gk_log(GK_LOG_INFO, "journal.compacted", "path=%s bytes=%llu "
			    "to=%llu pending=%llu", j->path, (unsigned long long)before,
			    (unsigned long long)j->st.bytes,
			    (unsigned long long)j->st.pending);
	}
	pthread_mutex_unlock(&j->mu);
	return rc;
}

void
journal_stats(struct journal *j, struct journal_stats *st)
{
	pthread_mutex_lock(&j->mu);
	*st = j->st;
	pthread_mutex_unlock(&j->mu);
}
