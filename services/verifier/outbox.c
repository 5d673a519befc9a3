/*
 * outbox: the durable log between a decision and Kafka (see outbox.h for the contract).
 *
 * Everything lives in one directory of append-only segment files, so the only
 * operations that must be atomic are the ones POSIX gives us: a record is written with
 * one pwrite at the end of the newest segment and made durable with fdatasync; a
 * segment is created (O_EXCL, then the directory is fsynced) only after the previous
 * one was fdatasynced, so every segment but the newest is complete on disk, and a
 * torn write can only ever be at the end of the newest one. Done marks are records in
 * the same log naming a seq, so no file is ever rewritten in place.
 *
 * Record, little-endian, 24-byte header then the body:
 *
 *	0  u32 magic "OBX1"	4  u32 CRC32C of bytes 8 .. end of body
 *	8  u32 body length	12 u16 type (1 passage, 2 done)	14 u16 zero
 *	16 u64 seq		24 body: passage: event_id[36] u8 keylen key payload
 *				         done: empty (seq names the passage)
 *
 * A segment's name (20 digits) is a lower bound for the seqs in it; it is what keeps
 * seqs from ever being reused when every older segment has been deleted. Segments are
 * deleted oldest first, only while the oldest holds nothing pending, because a done
 * mark always lives in the segment of its record or a newer one: deleting in order
 * can never drop a mark whose record is still on disk.
 *
 * In memory there is one small entry per record still on disk (seq, segment, offset,
 * done, a 64-bit hash of its event_id) and per segment a count of records not done;
 * payloads are read back from disk when replayed, so a backlog of hours costs little
 * memory. A hash table from event_id hash to seq lets outbox_append() refuse an id
 * the outbox already holds; a hash match is confirmed against the record on disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatekit/log.h"
#include "gatekit/util.h"

#include "outbox.h"

#define REC_MAGIC	0x3158424fU	/* "OBX1" as little-endian bytes */
#define REC_HDR		24
#define REC_PASSAGE	1
#define REC_DONE	2
#define BODY_MIN	(OUTBOX_ID_LEN + 1)
#define BODY_MAX	(BODY_MIN + OUTBOX_KEY_MAX + OUTBOX_PAYLOAD_MAX)
#define REC_MAX		(REC_HDR + BODY_MAX)
#define SEG_NAME_LEN	24		/* 20 digits ".seg" */

#define DEF_SEGMENT	(4u << 20)
#define DEF_MAX_BYTES	(256u << 20)
#define DEF_MAX_PEND	1000000u

struct entry {
	uint64_t seq;
	uint64_t idh;		/* id_hash(event_id), never 0 */
	uint64_t seg;		/* base (name) of the segment holding it */
	uint64_t off;
	uint32_t len;		/* whole record */
	int	 done;
};

struct segment {
	uint64_t base;
	uint64_t size;
	size_t	 live;		/* passages in it not done */
};

struct idslot {
	uint64_t h;		/* 0: empty */
	uint64_t seq;
};

struct outbox {
	char		 dir[PATH_MAX];
	int		 dirfd;
	int		 lockfd;
	int		 fd;		/* newest segment, seg[nseg - 1] */
	int		 rd_fd;		/* an older segment kept open for replay */
	uint64_t	 rd_base;
	struct outbox_opts opts;
	struct entry	*ent;		/* by seq; live ones are [head, nent) */
	size_t		 head, nent, entcap;
	struct segment	*seg;		/* oldest first */
	size_t		 nseg, segcap;
	uint64_t	 next_seq;
	int		 dirty;		/* written since the last sync */
	int		 broken;	/* a write or sync failed: refuse writes */
	int		 was_full;
	unsigned char	*buf;		/* REC_MAX bytes for building and reading */
	struct idslot	*ids;		/* event_id hash -> seq, linear probing */
	size_t		 idcap, nids;	/* idcap: a power of two, or 0 */
	struct outbox_stats st;
};

static int	held(struct outbox *, const char *, uint64_t *);

/* The record format, pure: CRC32C (gk_crc32c()), encoding, parsing. */

/* Fills the header of the record whose body is already at p + REC_HDR. */
static size_t
rec_seal(unsigned char *p, int type, uint64_t seq, size_t body)
{
	gk_put_le(p, REC_MAGIC, 4);
	gk_put_le(p + 8, body, 4);
	gk_put_le(p + 12, (uint64_t)type, 2);
	gk_put_le(p + 14, 0, 2);
	gk_put_le(p + 16, seq, 8);
	gk_put_le(p + 4, gk_crc32c(p + 8, REC_HDR - 8 + body), 4);
	return REC_HDR + body;
}

struct rec {
	int		 type;
	uint64_t	 seq;
	char		 event_id[OUTBOX_ID_LEN + 1];
	char		 key[OUTBOX_KEY_MAX + 1];
	const unsigned char *payload;	/* borrowed from the parsed bytes */
	size_t		 len;
};

/*
 * Parses the record at p (avail bytes there). Returns its length, or 0 when the bytes
 * there are not one whole valid record (short, bad magic, length, CRC or fields).
 */
static size_t
rec_parse(const unsigned char *p, size_t avail, struct rec *r)
{
	size_t	 body, klen;

	if (avail < REC_HDR || gk_get_le(p, 4) != REC_MAGIC)
		return 0;
	body = gk_get_le(p + 8, 4);
	if (body > BODY_MAX || avail - REC_HDR < body)
		return 0;
	if (gk_get_le(p + 4, 4) != gk_crc32c(p + 8, REC_HDR - 8 + body))
		return 0;
	r->type = (int)gk_get_le(p + 12, 2);
	r->seq = gk_get_le(p + 16, 8);
	if (gk_get_le(p + 14, 2) != 0 || r->seq == 0)
		return 0;
	if (r->type == REC_DONE)
		return body == 0 ? REC_HDR : 0;
	if (r->type != REC_PASSAGE || body < BODY_MIN)
		return 0;
	p += REC_HDR;
	klen = p[OUTBOX_ID_LEN];
	if (klen > body - BODY_MIN || memchr(p, '\0', OUTBOX_ID_LEN) != NULL ||
	    memchr(p + BODY_MIN, '\0', klen) != NULL)
		return 0;
	memcpy(r->event_id, p, OUTBOX_ID_LEN);
	r->event_id[OUTBOX_ID_LEN] = '\0';
	memcpy(r->key, p + BODY_MIN, klen);
	r->key[klen] = '\0';
	r->payload = p + BODY_MIN + klen;
	r->len = body - BODY_MIN - klen;
	return REC_HDR + body;
}

/* The offset of the next valid record after off, or n when there is none. */
static size_t
rec_resync(const unsigned char *p, size_t n, size_t off)
{
	struct rec r;

	for (off++; off + REC_HDR <= n; off++)
		if (rec_parse(p + off, n - off, &r) > 0)
			return off;
	return n;
}

/* The in-memory index. */

/* FNV-1a over the 36 characters, never 0 (0 marks an empty slot). */
static uint64_t
id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < OUTBOX_ID_LEN; i++)
		h = (h ^ (unsigned char)id[i]) * 1099511628211ULL;
	return h == 0 ? 1 : h;
}

static void
ids_insert(struct idslot *t, size_t cap, uint64_t h, uint64_t seq)
{
	size_t i;

	for (i = h & (cap - 1); t[i].h != 0; i = (i + 1) & (cap - 1))
		;
	t[i].h = h;
	t[i].seq = seq;
}

static int
ids_put(struct outbox *ob, uint64_t h, uint64_t seq)
{
	if ((ob->nids + 1) * 2 > ob->idcap) {
		size_t		 cap = ob->idcap ? ob->idcap * 2 : 1024;
		struct idslot	*t = calloc(cap, sizeof(*t));

		if (t == NULL)
			return -1;
		for (size_t i = 0; i < ob->idcap; i++)
			if (ob->ids[i].h != 0)
				ids_insert(t, cap, ob->ids[i].h, ob->ids[i].seq);
		free(ob->ids);
		ob->ids = t;
		ob->idcap = cap;
	}
	ids_insert(ob->ids, ob->idcap, h, seq);
	ob->nids++;
	return 0;
}

/* Removes (h, seq), moving later slots of the probe run back (no tombstones). */
static void
ids_del(struct outbox *ob, uint64_t h, uint64_t seq)
{
	size_t i, j, k, m;

	if (ob->idcap == 0)
		return;
	m = ob->idcap - 1;
	for (i = h & m; ob->ids[i].h != 0; i = (i + 1) & m)
		if (ob->ids[i].h == h && ob->ids[i].seq == seq)
			break;
	if (ob->ids[i].h == 0)
		return;
	ob->ids[i].h = 0;
	ob->nids--;
	for (j = (i + 1) & m; ob->ids[j].h != 0; j = (j + 1) & m) {
		k = ob->ids[j].h & m;	/* home slot of the entry at j */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			ob->ids[i] = ob->ids[j];
			ob->ids[j].h = 0;
			i = j;
		}
	}
}

/* The first live entry with seq >= seq (nent when none). */
static size_t
ent_lower(const struct outbox *ob, uint64_t seq)
{
	size_t lo = ob->head, hi = ob->nent;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ob->ent[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct segment *
seg_find(struct outbox *ob, uint64_t base)
{
	for (size_t i = 0; i < ob->nseg; i++)
		if (ob->seg[i].base == base)
			return &ob->seg[i];
	return NULL;
}

static int
ent_add(struct outbox *ob, uint64_t seq, uint64_t off, size_t len,
    const char *event_id)
{
	struct entry *e;
	uint64_t h = id_hash(event_id);

	if (ob->head > 0 && ob->head >= ob->nent / 2) {
		memmove(ob->ent, ob->ent + ob->head,
		    (ob->nent - ob->head) * sizeof(*ob->ent));
		ob->nent -= ob->head;
		ob->head = 0;
	}
	if (ob->nent == ob->entcap) {
		size_t cap = ob->entcap ? ob->entcap * 2 : 256;

		if ((e = realloc(ob->ent, cap * sizeof(*e))) == NULL)
			return -1;
		ob->ent = e;
		ob->entcap = cap;
	}
	if (ids_put(ob, h, seq) == -1)
		return -1;
	e = &ob->ent[ob->nent++];
	e->seq = seq;
	e->idh = h;
	e->seg = ob->seg[ob->nseg - 1].base;
	e->off = off;
	e->len = (uint32_t)len;
	e->done = 0;
	ob->seg[ob->nseg - 1].live++;
	ob->st.pending++;
	return 0;
}

static int
seg_push(struct outbox *ob, uint64_t base, uint64_t size)
{
	if (ob->nseg == ob->segcap) {
		size_t cap = ob->segcap ? ob->segcap * 2 : 16;
		struct segment *s = realloc(ob->seg, cap * sizeof(*s));

		if (s == NULL)
			return -1;
		ob->seg = s;
		ob->segcap = cap;
	}
	ob->seg[ob->nseg].base = base;
	ob->seg[ob->nseg].size = size;
	ob->seg[ob->nseg].live = 0;
	ob->nseg++;
	ob->st.segments++;
	ob->st.bytes += size;
	return 0;
}

static void
seg_name(char *buf, size_t len, uint64_t base)
{
	snprintf(buf, len, "%020llu.seg", (unsigned long long)base);
}

/* Deletes the oldest segments while they hold nothing pending (never the newest). */
static void
gc(struct outbox *ob)
{
	char	 name[SEG_NAME_LEN + 1];

	while (ob->nseg > 1 && ob->seg[0].live == 0) {
		struct segment *s = &ob->seg[0];

		seg_name(name, sizeof(name), s->base);
		if (unlinkat(ob->dirfd, name, 0) == -1 && errno != ENOENT) {
			gk_log(GK_LOG_WARN, "outbox.unlink_failed", "dir=%s file=%s error=%s",
			    ob->dir, name, strerror(errno));
			return;		/* tried again at the next mark */
		}
		if (ob->rd_fd != -1 && ob->rd_base == s->base) {
			close(ob->rd_fd);
			ob->rd_fd = -1;
		}
		while (ob->head < ob->nent && ob->ent[ob->head].seg == s->base) {
			ids_del(ob, ob->ent[ob->head].idh, ob->ent[ob->head].seq);
			ob->head++;
		}
		ob->st.bytes -= s->size;
		ob->st.segments--;
		ob->st.segments_deleted++;
		memmove(ob->seg, ob->seg + 1, --ob->nseg * sizeof(*ob->seg));
	}
}

/* Recovery. */

static int
seg_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Lists the segment bases in dir, sorted, into *out (caller frees). Returns the count. */
static ssize_t
list_segments(struct outbox *ob, uint64_t **out, char *err, size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	uint64_t	*v = NULL, *nv;
	size_t		 n = 0, cap = 0;
	int		 fd;

	if ((fd = dup(ob->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		gk_errf(err, errlen, "outbox %s: %s", ob->dir, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *s = de->d_name;

		if (strlen(s) != SEG_NAME_LEN || strcmp(s + 20, ".seg") != 0 ||
		    strspn(s, "0123456789") != 20)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				gk_errf(err, errlen, "outbox %s: out of memory", ob->dir);
				free(v);
				closedir(d);
				return -1;
			}
			v = nv;
		}
		v[n++] = strtoull(s, NULL, 10);
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), seg_cmp);
	*out = v;
	return (ssize_t)n;
}

static int
read_all(int fd, unsigned char **out, size_t *len)
{
	struct stat	 sb;
	unsigned char	*p;
	size_t		 got = 0;

	if (fstat(fd, &sb) == -1)
		return -1;
	if ((p = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1)) == NULL)
		return -1;
	while (got < (size_t)sb.st_size) {
		ssize_t r = pread(fd, p + got, (size_t)sb.st_size - got, (off_t)got);

		if (r <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			free(p);
			if (r == 0)
				errno = EIO;
			return -1;
		}
		got += (size_t)r;
	}
	*out = p;
	*len = got;
	return 0;
}

/* Applies one recovered record. Returns 0, or -1 when it breaks the seq order. */
static int
recover_rec(struct outbox *ob, const struct rec *r, uint64_t off, size_t len,
    uint64_t *last)
{
	size_t	 i;

	if (r->type == REC_DONE) {
		/* A mark for a record in a deleted segment finds nothing: fine. */
		i = ent_lower(ob, r->seq);
		if (i < ob->nent && ob->ent[i].seq == r->seq && !ob->ent[i].done) {
			ob->ent[i].done = 1;
			seg_find(ob, ob->ent[i].seg)->live--;
			ob->st.pending--;
		}
		return 0;
	}
	if (r->seq <= *last) {
		errno = EINVAL;
		return -1;
	}
	*last = r->seq;
	return ent_add(ob, r->seq, off, len, r->event_id);
}

/*
 * Reads segment base (the last one when newest) into the index, cutting a torn tail
 * or skipping corruption as outbox.h describes. Returns 0, or -1 with err set.
 */
static int
recover_seg(struct outbox *ob, uint64_t base, int newest, uint64_t *last,
    char *err, size_t errlen)
{
	char		 name[SEG_NAME_LEN + 1];
	unsigned char	*p = NULL;
	size_t		 n = 0, off = 0, len, next;
	struct rec	 r;
	int		 fd;

	seg_name(name, sizeof(name), base);
	if ((fd = openat(ob->dirfd, name, O_RDWR | O_CLOEXEC)) == -1 ||
	    read_all(fd, &p, &n) == -1) {
		gk_errf(err, errlen, "outbox %s/%s: %s", ob->dir, name, strerror(errno));
		goto fail;
	}
	if (seg_push(ob, base, n) == -1) {
		gk_errf(err, errlen, "outbox %s: out of memory", ob->dir);
		goto fail;
	}
	while (off < n) {
		if ((len = rec_parse(p + off, n - off, &r)) > 0) {
			if (recover_rec(ob, &r, off, len, last) == 0) {
				off += len;
				continue;
			}
			if (errno == ENOMEM) {
				gk_errf(err, errlen, "outbox %s: out of memory", ob->dir);
				goto fail;
			}
			next = off + len;	/* whole but out of order: corrupt */
		} else
			next = rec_resync(p, n, off);
		if (newest && next == n && len == 0) {
			/* A write cut short by a crash; never acknowledged by a sync. */
			gk_log(GK_LOG_WARN, "outbox.torn_tail",
			    "dir=%s file=%s offset=%zu bytes=%zu", ob->dir, name, off, n - off);
			if (ftruncate(fd, (off_t)off) == -1 || fdatasync(fd) == -1) {
				gk_errf(err, errlen, "outbox %s/%s: truncate at %zu: %s",
				    ob->dir, name, off, strerror(errno));
				goto fail;
			}
			ob->seg[ob->nseg - 1].size = off;
			ob->st.bytes -= n - off;
			ob->st.torn_tails++;
			break;
		}
		/*
		 * In the newest segment, records after a bad one may simply be unsynced
		 * writes the page cache wrote back before the bad one (power loss): keep
		 * them. In an older segment, fsynced before it was sealed, this is
		 * corruption of acknowledged data: refuse unless told to salvage.
		 */
		if (!newest && !ob->opts.salvage) {
			gk_errf(err, errlen, "outbox %s/%s: corrupt record at offset %zu "
			    "(%zu bytes up to the next valid record); move the file aside "
			    "or set salvage", ob->dir, name, off, next - off);
			goto fail;
		}
		gk_log(GK_LOG_ERR, "outbox.corrupt", "dir=%s file=%s offset=%zu bytes=%zu",
		    ob->dir, name, off, next - off);
		ob->st.corrupt++;
		off = next;
	}
	free(p);
	if (newest)
		ob->fd = fd;
	else
		close(fd);
	return 0;
fail:
	free(p);
	if (fd != -1)
		close(fd);
	return -1;
}

/* Creates the empty segment base as the newest and makes its name durable. */
static int
seg_create(struct outbox *ob, uint64_t base)
{
	char	 name[SEG_NAME_LEN + 1];
	int	 fd;

	seg_name(name, sizeof(name), base);
	fd = openat(ob->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fsync(ob->dirfd) == -1 || seg_push(ob, base, 0) == -1) {
		close(fd);
		unlinkat(ob->dirfd, name, 0);
		return -1;
	}
	if (ob->fd != -1)
		close(ob->fd);
	ob->fd = fd;
	if (ob->next_seq < base)
		ob->next_seq = base;
	return 0;
}

struct outbox *
outbox_open(const char *dir, const struct outbox_opts *opts, char *err, size_t errlen)
{
	struct outbox	*ob;
	uint64_t	*bases = NULL, last = 0;
	ssize_t		 n = 0;

	if ((ob = calloc(1, sizeof(*ob))) == NULL) {
		gk_errf(err, errlen, "outbox: out of memory");
		return NULL;
	}
	ob->dirfd = ob->lockfd = ob->fd = ob->rd_fd = -1;
	if (opts != NULL)
		ob->opts = *opts;
	if (ob->opts.segment_bytes == 0)
		ob->opts.segment_bytes = DEF_SEGMENT;
	if (ob->opts.max_bytes == 0)
		ob->opts.max_bytes = DEF_MAX_BYTES;
	if (ob->opts.max_pending == 0)
		ob->opts.max_pending = DEF_MAX_PEND;
	if (ob->opts.max_bytes / 2 < ob->opts.segment_bytes) {
		gk_errf(err, errlen, "outbox %s: max_bytes %zu must hold two segments of %zu",
		    dir, ob->opts.max_bytes, ob->opts.segment_bytes);
		goto fail;
	}
	if (gk_strlcpy(ob->dir, dir, sizeof(ob->dir)) >= sizeof(ob->dir)) {
		gk_errf(err, errlen, "outbox: directory name too long");
		goto fail;
	}
	if ((ob->buf = malloc(REC_MAX)) == NULL) {
		gk_errf(err, errlen, "outbox: out of memory");
		goto fail;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		gk_errf(err, errlen, "outbox %s: mkdir: %s", dir, strerror(errno));
		goto fail;
	}
	if ((ob->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (ob->lockfd = openat(ob->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		gk_errf(err, errlen, "outbox %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (flock(ob->lockfd, LOCK_EX | LOCK_NB) == -1) {
		gk_errf(err, errlen, "outbox %s: locked by another process (%s)", dir,
		    strerror(errno));
		goto fail;
	}
	if ((n = list_segments(ob, &bases, err, errlen)) == -1)
		goto fail;
	for (ssize_t i = 0; i < n; i++)
		if (recover_seg(ob, bases[i], i == n - 1, &last, err, errlen) == -1)
			goto fail;
	ob->next_seq = last + 1;
	if (n > 0 && ob->next_seq < bases[n - 1])
		ob->next_seq = bases[n - 1];
	if (n == 0 && seg_create(ob, ob->next_seq) == -1) {
		gk_errf(err, errlen, "outbox %s: create segment: %s", dir, strerror(errno));
		goto fail;
	}
	gc(ob);
	gk_log(GK_LOG_INFO, "outbox.open", "dir=%s segments=%llu pending=%llu "
	    "next_seq=%llu torn_tails=%llu corrupt=%llu", dir,
	    (unsigned long long)ob->st.segments, (unsigned long long)ob->st.pending,
	    (unsigned long long)ob->next_seq, (unsigned long long)ob->st.torn_tails,
	    (unsigned long long)ob->st.corrupt);
	free(bases);
	return ob;
fail:
	free(bases);
	outbox_close(ob);
	return NULL;
}

void
outbox_close(struct outbox *ob)
{
	if (ob == NULL)
		return;
	if (ob->fd != -1) {
		if (ob->dirty && !ob->broken)
			outbox_sync(ob);
		close(ob->fd);
	}
	if (ob->rd_fd != -1)
		close(ob->rd_fd);
	if (ob->lockfd != -1)
		close(ob->lockfd);
	if (ob->dirfd != -1)
		close(ob->dirfd);
	free(ob->ent);
	free(ob->seg);
	free(ob->buf);
	free(ob->ids);
	free(ob);
}

/* Seals the newest segment (durable first) and starts a new one. */
static int
roll(struct outbox *ob)
{
	struct segment *cur = &ob->seg[ob->nseg - 1];
	uint64_t base = ob->next_seq > cur->base ? ob->next_seq : cur->base + 1;

	if (fdatasync(ob->fd) == -1) {
		ob->broken = 1;
		gk_log(GK_LOG_ERR, "outbox.sync_failed", "dir=%s error=%s", ob->dir,
		    strerror(errno));
		return -1;
	}
	ob->st.syncs++;
	ob->dirty = 0;
	if (seg_create(ob, base) == -1) {
		gk_log(GK_LOG_ERR, "outbox.roll_failed", "dir=%s error=%s", ob->dir,
		    strerror(errno));
		return -1;
	}
	gc(ob);
	return 0;
}

/*
 * Makes room for an n-byte record in the newest segment, rolling when it is full.
 * Called before a passage takes its seq: a roll may move next_seq up to the new
 * segment's name.
 */
static int
room(struct outbox *ob, size_t n)
{
	struct segment *cur = &ob->seg[ob->nseg - 1];

	if (ob->broken) {
		errno = EIO;
		return -1;
	}
	if (cur->size > 0 && cur->size + n > ob->opts.segment_bytes)
		return roll(ob);
	return 0;
}

/* Appends the n record bytes at p to the newest segment (see room()); sets *off. */
static int
write_rec(struct outbox *ob, const unsigned char *p, size_t n, uint64_t *off)
{
	struct segment	*cur = &ob->seg[ob->nseg - 1];
	size_t		 done = 0;

	while (done < n) {
		ssize_t r = pwrite(ob->fd, p + done, n - done,
		    (off_t)(cur->size + done));

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			int saved = r == 0 ? EIO : errno;

			/* Leave no partial record behind, or recovery would call it torn. */
			if (ftruncate(ob->fd, (off_t)cur->size) == -1)
				ob->broken = 1;
			gk_log(GK_LOG_ERR, "outbox.write_failed", "dir=%s error=%s", ob->dir,
			    strerror(saved));
			errno = saved;
			return -1;
		}
		done += (size_t)r;
	}
	*off = cur->size;
	cur->size += n;
	ob->st.bytes += n;
	ob->dirty = 1;
	return 0;
}

int
outbox_append(struct outbox *ob, const char *event_id, const char *key,
    const void *payload, size_t len, uint64_t *seq)
{
	unsigned char	*body = ob->buf + REC_HDR;
	size_t		 klen, n;
	uint64_t	 off;

	if (event_id == NULL || key == NULL || (payload == NULL && len > 0) ||
	    strnlen(event_id, OUTBOX_ID_LEN + 1) != OUTBOX_ID_LEN) {
		errno = EINVAL;
		return -1;
	}
	if ((klen = strlen(key)) > OUTBOX_KEY_MAX || len > OUTBOX_PAYLOAD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (held(ob, event_id, seq)) {
		ob->st.duplicates++;
		errno = EEXIST;
		return -1;
	}
	n = REC_HDR + BODY_MIN + klen + len;
	if (ob->st.pending >= ob->opts.max_pending ||
	    ob->st.bytes + n > ob->opts.max_bytes) {
		ob->st.full++;
		if (!ob->was_full)
			gk_log(GK_LOG_ERR, "outbox.full", "dir=%s pending=%llu bytes=%llu",
			    ob->dir, (unsigned long long)ob->st.pending,
			    (unsigned long long)ob->st.bytes);
		ob->was_full = 1;
		errno = ENOSPC;
		return -1;
	}
	ob->was_full = 0;
	if (room(ob, n) == -1)
		return -1;
	memcpy(body, event_id, OUTBOX_ID_LEN);
	body[OUTBOX_ID_LEN] = (unsigned char)klen;
	memcpy(body + BODY_MIN, key, klen);
	if (len > 0)
		memcpy(body + BODY_MIN + klen, payload, len);
	rec_seal(ob->buf, REC_PASSAGE, ob->next_seq, n - REC_HDR);
	if (write_rec(ob, ob->buf, n, &off) == -1)
		return -1;
	if (ent_add(ob, ob->next_seq, off, n, event_id) == -1) {
		/* On disk but not indexed: replayed after a restart, never lost. */
		ob->broken = 1;
		errno = ENOMEM;
		return -1;
	}
	ob->st.appended++;
	*seq = ob->next_seq++;
	return 0;
}

int
outbox_sync(struct outbox *ob)
{
	if (ob->broken) {
		errno = EIO;
		return -1;
	}
	if (fdatasync(ob->fd) == -1) {
		ob->broken = 1;
		gk_log(GK_LOG_ERR, "outbox.sync_failed", "dir=%s error=%s", ob->dir,
		    strerror(errno));
		return -1;
	}
	ob->st.syncs++;
	ob->dirty = 0;
	return 0;
}

int
outbox_mark_done(struct outbox *ob, uint64_t seq)
{
	/* Not ob->buf: an outbox_pending callback may be reading a payload there. */
	unsigned char	 rec[REC_HDR];
	size_t		 i = ent_lower(ob, seq);
	uint64_t	 off;

	if (i == ob->nent || ob->ent[i].seq != seq) {
		errno = ENOENT;
		return -1;
	}
	if (ob->ent[i].done)
		return 0;
	if (room(ob, REC_HDR) == -1 ||
	    write_rec(ob, rec, rec_seal(rec, REC_DONE, seq, 0), &off) == -1)
		return -1;
	i = ent_lower(ob, seq);		/* a roll may have deleted segments */
	ob->ent[i].done = 1;
	seg_find(ob, ob->ent[i].seg)->live--;
	ob->st.pending--;
	ob->st.done++;
	gc(ob);
	return 0;
}

/* Reads entry e's record into ob->buf and parses it. Returns 0, or -1 (logged). */
static int
read_rec(struct outbox *ob, const struct entry *e, struct rec *r)
{
	char	 name[SEG_NAME_LEN + 1];
	int	 fd = ob->fd;
	ssize_t	 got;

	seg_name(name, sizeof(name), e->seg);
	if (e->seg != ob->seg[ob->nseg - 1].base) {
		if (ob->rd_fd != -1 && ob->rd_base != e->seg) {
			close(ob->rd_fd);
			ob->rd_fd = -1;
		}
		if (ob->rd_fd == -1) {
			ob->rd_fd = openat(ob->dirfd, name, O_RDONLY | O_CLOEXEC);
			if (ob->rd_fd == -1)
				goto fail;
			ob->rd_base = e->seg;
		}
		fd = ob->rd_fd;
	}
	do
		got = pread(fd, ob->buf, e->len, (off_t)e->off);
	while (got == -1 && errno == EINTR);
	if (got != (ssize_t)e->len || rec_parse(ob->buf, e->len, r) != e->len ||
	    r->seq != e->seq || r->type != REC_PASSAGE) {
		if (got >= 0)
			errno = EIO;
		goto fail;
	}
	return 0;
fail:
	gk_log(GK_LOG_ERR, "outbox.read_failed", "dir=%s file=%s offset=%llu error=%s",
	    ob->dir, name, (unsigned long long)e->off, strerror(errno));
	return -1;
}

/*
 * Whether a record with event_id is on disk; its seq into *seq. A hash match is
 * read back and compared; a record that cannot be read counts as not held (the
 * read error is logged; appending again then is at worst a duplicate downstream,
 * which consumers dedupe, never a loss).
 */
static int
held(struct outbox *ob, const char *event_id, uint64_t *seq)
{
	uint64_t	 h = id_hash(event_id);
	size_t		 i, k;
	struct rec	 r;

	if (ob->idcap == 0)
		return 0;
	for (i = h & (ob->idcap - 1); ob->ids[i].h != 0; i = (i + 1) & (ob->idcap - 1)) {
		if (ob->ids[i].h != h)
			continue;
		k = ent_lower(ob, ob->ids[i].seq);
		if (k < ob->nent && ob->ent[k].seq == ob->ids[i].seq &&
		    read_rec(ob, &ob->ent[k], &r) == 0 &&
		    memcmp(r.event_id, event_id, OUTBOX_ID_LEN) == 0) {
			*seq = ob->ent[k].seq;
			return 1;
		}
	}
	return 0;
}

int
outbox_pending(struct outbox *ob, uint64_t from, outbox_pending_cb *cb, void *arg)
{
	struct rec	 r;
	size_t		 i;
	int		 rv;

	for (i = ent_lower(ob, from); i < ob->nent; ) {
		struct entry e = ob->ent[i];

		if (e.done) {
			i++;
			continue;
		}
		if (read_rec(ob, &e, &r) == -1)
			return -1;
		if ((rv = cb(arg, e.seq, r.event_id, r.key, r.payload, r.len)) != 0)
			return rv;
		/* The callback may have marked records done and moved the index. */
		i = ent_lower(ob, e.seq + 1);
	}
	return 0;
}

void
outbox_stats(const struct outbox *ob, struct outbox_stats *st)
{
	*st = ob->st;
}
