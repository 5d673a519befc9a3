/*
 * The outbox's promise under a real crash: a writer process is killed with SIGKILL at
 * a random moment, again and again, on the same directory, and after every kill the
 * outbox is reopened and checked against what the writer had reported through a pipe:
 *
 *	A seq id   the record was appended and outbox_sync() returned (acknowledged)
 *	M seq      outbox_mark_done() is about to be called for it
 *	D seq      ... and a later outbox_sync() returned (the done mark is durable)
 *
 * Each report is one write(2) of at most PIPE_BUF bytes, so it arrives whole or not
 * at all. After each kill: every acknowledged record not marked is pending with its
 * own event_id and payload; no durable-done record is pending; pending seqs are
 * strictly increasing and no event_id appears twice. A record appended but never
 * acknowledged may or may not be there (the caller never acted on it); when it is,
 * it is held to the same rules from then on. The writer is a fork of this process
 * (single-threaded), and replays what is pending on start like the verifier does.
 *
 * OUTBOX_KILL_SEED and OUTBOX_KILL_ITERS reproduce or lengthen a run; the seed is
 * printed first.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "gatekit/log.h"
#include "gatekit/util.h"
#include "outbox.h"
#include "t.h"

#define ST_NONE		0	/* never reported */
#define ST_ACKED	1	/* acknowledged, pending */
#define ST_MARKING	2	/* a done mark may or may not have been written */
#define ST_DONE		3	/* done mark durable */

static const struct outbox_opts opts = {
	.segment_bytes = 16 * 1024,	/* a roll every round or two */
	.max_bytes = 64 * 1024 * 1024,
};

/* xorshift64*: the writer's and the parent's choices, reproducible from the seed. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void
make_id(char id[OUTBOX_ID_LEN + 1], uint64_t n)
{
	snprintf(id, OUTBOX_ID_LEN + 1, "00000000-0000-7000-8000-%012llx",
	    (unsigned long long)(n & 0xffffffffffffULL));
}

/* The payload of record id: its length and bytes follow from the id alone. */
static size_t
make_payload(unsigned char *p, uint64_t id)
{
	/* Mostly passage-sized; one in eight large enough to span pages when killed. */
	size_t n = id % 8 == 0 ? 4096 + id % 28000 : 200 + id % 600;

	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(id >> (8 * (i % 6))) ^ (unsigned char)i;
	return n;
}

static void
put(int fd, const char *buf, size_t n)
{
	if (n > 0 && write(fd, buf, n) != (ssize_t)n)
		_exit(4);
}

struct wlist {
	uint64_t seq[4096];
	size_t	 n;
};

static int
wcollect(void *arg, uint64_t seq, const char *event_id, const char *key,
    const void *payload, size_t len)
{
	struct wlist *w = arg;

	(void)event_id, (void)key, (void)payload, (void)len;
	if (w->n < GK_NELEM(w->seq))
		w->seq[w->n++] = seq;
	return 0;
}

/* The writer: runs until killed. Never returns. */
static void
writer(const char *dir, uint64_t seed, int fd)
{
	static struct wlist w;
	static unsigned char payload[32768];
	char		 err[512], id[OUTBOX_ID_LEN + 1], msg[4096];
	struct outbox	*ob;
	uint64_t	 rs = seed | 1, seq, marks[12];
	size_t		 len, nb, nm, ml;

	gk_log_set_level(GK_LOG_WARN);
	if ((ob = outbox_open(dir, &opts, err, sizeof(err))) == NULL) {
		ml = (size_t)snprintf(msg, sizeof(msg), "E %s\n", err);
		put(fd, msg, ml);
		_exit(3);
	}
	if (outbox_pending(ob, 0, wcollect, &w) != 0)
		_exit(5);
	for (;;) {
		nb = 1 + rnd(&rs) % 8;
		ml = 0;
		for (size_t i = 0; i < nb; i++) {
			uint64_t n = rnd(&rs) & 0xffffffffffffULL;

			make_id(id, n);
			len = make_payload(payload, n);
			if (outbox_append(ob, id, "s01", payload, len, &seq) == -1) {
				if (errno != ENOSPC)
					_exit(6);
				break;
			}
			if (w.n < GK_NELEM(w.seq))
				w.seq[w.n++] = seq;
			ml += (size_t)snprintf(msg + ml, sizeof(msg) - ml, "A %llu %llu\n",
			    (unsigned long long)seq, (unsigned long long)n);
		}
		if (outbox_sync(ob) == -1)
			_exit(7);
		put(fd, msg, ml);

		/*
		 * Mark some done in random order, as delivery reports of retried sends
		 * arrive: stragglers leave done marks for old segments in newer ones.
		 */
		nm = rnd(&rs) % 12;
		if (nm > w.n)
			nm = w.n;
		ml = 0;
		for (size_t i = 0; i < nm; i++) {
			size_t k = rnd(&rs) % 2 == 0 ? rnd(&rs) % w.n : 0;

			marks[i] = w.seq[k];
			memmove(&w.seq[k], &w.seq[k + 1], (w.n - k - 1) * sizeof(w.seq[0]));
			w.n--;
			ml += (size_t)snprintf(msg + ml, sizeof(msg) - ml, "M %llu\n",
			    (unsigned long long)marks[i]);
		}
		put(fd, msg, ml);
		for (size_t i = 0; i < nm; i++)
			if (outbox_mark_done(ob, marks[i]) == -1)
				_exit(8);
		if (nm > 0 && outbox_sync(ob) == -1)
			_exit(9);
		ml = 0;
		for (size_t i = 0; i < nm; i++)
			ml += (size_t)snprintf(msg + ml, sizeof(msg) - ml, "D %llu\n",
			    (unsigned long long)marks[i]);
		put(fd, msg, ml);
	}
}

/* What the parent knows about each seq. */
static unsigned char	*state;
static uint64_t		*ids;
static size_t		 cap;

static void
ensure(uint64_t seq)
{
	size_t n = cap ? cap : 1024;

	while (seq >= n)
		n *= 2;
	if (n == cap)
		return;
	state = realloc(state, n);
	ids = realloc(ids, n * sizeof(*ids));
	T_REQUIRE(state != NULL && ids != NULL);
	memset(state + cap, 0, n - cap);
	memset(ids + cap, 0, (n - cap) * sizeof(*ids));
	cap = n;
}

/* Applies complete report lines at the start of buf; returns the bytes used. */
static size_t
apply(char *buf, size_t n, int *errors)
{
	size_t	 used = 0;
	char	*nl;

	while ((nl = memchr(buf + used, '\n', n - used)) != NULL) {
		unsigned long long seq, id;
		char *line = buf + used;

		*nl = '\0';
		used = (size_t)(nl - buf) + 1;
		if (line[0] == 'E') {
			fprintf(stderr, "writer: %s\n", line);
			(*errors)++;
		} else if (sscanf(line, "A %llu %llu", &seq, &id) == 2) {
			ensure(seq);
			if (state[seq] != ST_NONE && ids[seq] != id) {
				fprintf(stderr, "seq %llu acknowledged twice\n", seq);
				(*errors)++;
			}
			state[seq] = ST_ACKED;
			ids[seq] = id;
		} else if (sscanf(line, "M %llu", &seq) == 1) {
			ensure(seq);
			state[seq] = ST_MARKING;
		} else if (sscanf(line, "D %llu", &seq) == 1) {
			ensure(seq);
			state[seq] = ST_DONE;
		} else {
			fprintf(stderr, "bad report line: %s\n", line);
			(*errors)++;
		}
	}
	return used;
}

struct check {
	uint64_t	 last;
	uint64_t	*idv;
	size_t		 nid;
	int		 errors;
	unsigned char	 want[32768];
};

static int
ccollect(void *arg, uint64_t seq, const char *event_id, const char *key,
    const void *payload, size_t len)
{
	struct check	*c = arg;
	unsigned long long n;
	char		 id[OUTBOX_ID_LEN + 1];
	size_t		 wl;

	ensure(seq);
	if (seq <= c->last) {
		fprintf(stderr, "pending seq %llu after %llu\n", (unsigned long long)seq,
		    (unsigned long long)c->last);
		c->errors++;
	}
	c->last = seq;
	if (sscanf(event_id, "00000000-0000-7000-8000-%12llx", &n) != 1) {
		fprintf(stderr, "seq %llu: odd event_id %s\n", (unsigned long long)seq,
		    event_id);
		c->errors++;
		return 0;
	}
	make_id(id, n);
	wl = make_payload(c->want, n);
	if (strcmp(id, event_id) != 0 || strcmp(key, "s01") != 0 || len != wl ||
	    memcmp(payload, c->want, wl) != 0) {
		fprintf(stderr, "seq %llu: id, key or payload differs\n",
		    (unsigned long long)seq);
		c->errors++;
	}
	if (state[seq] == ST_NONE)		/* written, never acknowledged: adopt */
		ids[seq] = n;
	else if (ids[seq] != n) {
		fprintf(stderr, "seq %llu: event_id %llx, reported %llx\n",
		    (unsigned long long)seq, n, (unsigned long long)ids[seq]);
		c->errors++;
	}
	c->idv = realloc(c->idv, (c->nid + 1) * sizeof(*c->idv));
	T_REQUIRE(c->idv != NULL);
	c->idv[c->nid++] = n;
	return 0;
}

static int
u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Reopens the outbox after a kill and checks the pending records themselves: order,
 * ids, payloads, no event_id twice. Pending seqs never reported are adopted.
 */
static int
check(const char *dir, uint64_t *torn)
{
	static struct check c;
	struct outbox	*ob;
	struct outbox_stats st;
	char		 err[512];

	c.last = 0;
	c.nid = 0;
	c.errors = 0;
	if ((ob = outbox_open(dir, &opts, err, sizeof(err))) == NULL) {
		fprintf(stderr, "reopen: %s\n", err);
		return 1;
	}
	if (outbox_pending(ob, 0, ccollect, &c) != 0)
		c.errors++;
	outbox_stats(ob, &st);
	*torn += st.torn_tails;
	outbox_close(ob);
	if (c.nid > 0) {
		qsort(c.idv, c.nid, sizeof(*c.idv), u64cmp);
		for (size_t i = 1; i < c.nid; i++)
			if (c.idv[i] == c.idv[i - 1]) {
				fprintf(stderr, "event_id %llx pending twice\n",
				    (unsigned long long)c.idv[i]);
				c.errors++;
			}
	}
	return c.errors;
}

/* Then checks the pending set against what was acknowledged and made done. */
struct pset {
	unsigned char	*p;
	size_t		 n;
};

static int
mark_seen(void *arg, uint64_t seq, const char *event_id, const char *key,
    const void *payload, size_t len)
{
	struct pset *ps = arg;

	(void)event_id, (void)key, (void)payload, (void)len;
	if (seq < ps->n)
		ps->p[seq] = 1;
	return 0;
}

static int
check_states(const char *dir)
{
	struct outbox	*ob;
	struct pset	 ps;
	char		 err[512];
	int		 errors = 0;

	if ((ob = outbox_open(dir, &opts, err, sizeof(err))) == NULL) {
		fprintf(stderr, "reopen: %s\n", err);
		return 1;
	}
	ps.n = cap;
	T_REQUIRE((ps.p = calloc(cap, 1)) != NULL);
	if (outbox_pending(ob, 0, mark_seen, &ps) != 0)
		errors++;
	outbox_close(ob);
	for (size_t s = 1; s < cap; s++) {
		if (state[s] == ST_ACKED && !ps.p[s]) {
			fprintf(stderr, "acknowledged seq %zu lost\n", s);
			errors++;
		} else if (state[s] == ST_DONE && ps.p[s]) {
			fprintf(stderr, "durably done seq %zu pending again\n", s);
			errors++;
		} else if (state[s] == ST_MARKING)
			state[s] = ps.p[s] ? ST_ACKED : ST_DONE;
		else if (state[s] == ST_NONE && ps.p[s])
			state[s] = ST_ACKED;	/* never acknowledged, but kept */
	}
	free(ps.p);
	return errors;
}

static void
rm_dir(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	char		 path[512];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int
main(void)
{
	char		 dir[] = "outbox-kill-XXXXXX";
	uint64_t	 seed, rs, torn = 0;
	long		 iters;
	int		 errors = 0, kills = 0;
	size_t		 acked = 0, done = 0;

	gk_log_init("test_outbox_kill");
	gk_log_set_level(GK_LOG_WARN);
	seed = strtoull(t_env("OUTBOX_KILL_SEED", "0"), NULL, 0);
	if (seed == 0)
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	iters = strtol(t_env("OUTBOX_KILL_ITERS", "200"), NULL, 10);
	printf("seed %llu (OUTBOX_KILL_SEED=%llu reproduces), %ld iterations\n",
	    (unsigned long long)seed, (unsigned long long)seed, iters);
	fflush(stdout);
	T_REQUIRE(mkdtemp(dir) != NULL);
	rs = seed | 1;
	ensure(1);

	for (long it = 0; it < iters && errors == 0; it++) {
		static char	 buf[1 << 16];
		size_t		 have = 0, used;
		int		 pfd[2], status;
		long long	 deadline;
		pid_t		 pid;
		uint64_t	 wseed = rnd(&rs);

		T_REQUIRE(pipe(pfd) == 0);
		fflush(stdout);
		fflush(stderr);
		T_REQUIRE((pid = fork()) != -1);
		if (pid == 0) {
			close(pfd[0]);
			writer(dir, wseed, pfd[1]);
			_exit(2);
		}
		close(pfd[1]);
		/* Some kills while it opens and replays, most while it works. */
		deadline = t_now_ms() + (long long)(rnd(&rs) % 40);
		for (;;) {
			long long left = deadline - t_now_ms();
			struct pollfd p = { .fd = pfd[0], .events = POLLIN };
			ssize_t r;

			if (left <= 0 || poll(&p, 1, (int)left) <= 0)
				break;
			if ((r = read(pfd[0], buf + have, sizeof(buf) - have)) <= 0)
				break;
			have += (size_t)r;
			used = apply(buf, have, &errors);
			memmove(buf, buf + used, have - used);
			have -= used;
		}
		if (kill(pid, SIGKILL) == 0)
			kills++;
		T_REQUIRE(waitpid(pid, &status, 0) == pid);
		if (!WIFSIGNALED(status)) {
			fprintf(stderr, "writer exited %d\n", WEXITSTATUS(status));
			errors++;
		}
		for (;;) {
			ssize_t r = read(pfd[0], buf + have, sizeof(buf) - have);

			if (r <= 0)
				break;
			have += (size_t)r;
			used = apply(buf, have, &errors);
			memmove(buf, buf + used, have - used);
			have -= used;
		}
		close(pfd[0]);
		errors += check(dir, &torn);
		errors += check_states(dir);
		if (errors > 0)
			fprintf(stderr, "iteration %ld failed (seed %llu)\n", it,
			    (unsigned long long)seed);
	}
	for (size_t s = 1; s < cap; s++) {
		acked += state[s] != ST_NONE;
		done += state[s] == ST_DONE;
	}
	printf("%d kills, %zu records acknowledged, %zu durably done, %llu torn tails "
	    "cut\n", kills, acked, done, (unsigned long long)torn);
	T_CHECKF(errors == 0, "%d errors (seed %llu)", errors, (unsigned long long)seed);
	T_CHECK(kills > 0 && acked > 0 && done > 0);
	if (errors == 0)
		rm_dir(dir);
	else
		fprintf(stderr, "outbox kept for a look in %s\n", dir);
	free(state);
	free(ids);
	return T_DONE();
}
