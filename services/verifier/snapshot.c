/*
 * snapshot: the verifier's registry snapshot file, loaded into a hash table, appended
 * with fsync, compacted by rewrite and rename. See snapshot.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <gatekit/json.h>
#include <gatekit/log.h>
#include <gatekit/util.h>

#include "registry.h"
#include "snapshot.h"

#define LINE_MAX_BYTES	(REGISTRY_DOC_MAX + 1024)
#define COMPACT_MIN	1024	/* lines below which compaction is not worth it */

struct entry {
	char	*key;
	char	*doc;		/* NULL: removed */
};

struct snapshot {
	char		*path;
	int		 fd;		/* O_APPEND */
	int		 stale;		/* fd is the file compaction replaced */
	struct entry	*e;		/* in order of first appearance */
	size_t		 n, cap;
	size_t		*idx;		/* open addressing: entry index + 1, 0 = free */
	size_t		 idxcap;	/* power of two, at least 2n */
	size_t		 lines, bad, live;
	uint64_t	 compactions;
	int64_t		 written_ms;	/* last write, wall clock; 0 never */
};

static uint64_t
key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The slot of key in the index: its entry's slot, or the free slot it would take. */
static size_t
slot_of(const struct snapshot *s, const char *key)
{
	size_t i = (size_t)key_hash(key) & (s->idxcap - 1);

	while (s->idx[i] != 0 && strcmp(s->e[s->idx[i] - 1].key, key) != 0)
		i = (i + 1) & (s->idxcap - 1);
	return i;
}

static int
grow_index(struct snapshot *s)
{
	size_t	 ncap = s->idxcap == 0 ? 64 : s->idxcap * 2, i, *old = s->idx;
	size_t	 ocap = s->idxcap;

	if ((s->idx = calloc(ncap, sizeof(*s->idx))) == NULL) {
		s->idx = old;
		return -1;
	}
	s->idxcap = ncap;
	for (i = 0; i < ocap; i++)
		if (old[i] != 0)
			s->idx[slot_of(s, s->e[old[i] - 1].key)] = old[i];
	free(old);
	return 0;
}

/* Applies key -> doc (copied; NULL removes) in memory. 0 or -1 (ENOMEM). */
static int
apply(struct snapshot *s, const char *key, const char *doc)
{
	struct entry	*e;
	char		*d = NULL;
	size_t		 i;

	if (doc != NULL && (d = strdup(doc)) == NULL)
		return -1;
	if ((s->n + 1) * 2 > s->idxcap && grow_index(s) == -1)
		goto nomem;
	i = slot_of(s, key);
	if (s->idx[i] != 0) {
		e = &s->e[s->idx[i] - 1];
		s->live += (d != NULL) - (e->doc != NULL);
		free(e->doc);
		e->doc = d;
		return 0;
	}
	if (s->n == s->cap) {
		size_t ncap = s->cap == 0 ? 64 : s->cap * 2;
		struct entry *ne = realloc(s->e, ncap * sizeof(*ne));

		if (ne == NULL)
			goto nomem;
		s->e = ne;
		s->cap = ncap;
	}
	if ((s->e[s->n].key = strdup(key)) == NULL)
		goto nomem;
	s->e[s->n].doc = d;
	s->live += d != NULL;
	s->idx[i] = ++s->n;
	return 0;
nomem:
	free(d);
	errno = ENOMEM;
	return -1;
}

/* The file line for key -> doc, with its newline; caller frees. NULL on bad doc. */
static char *
render(const char *key, const char *doc)
{
	json_t	*j, *v = json_null();
	char	*line, *out;
	size_t	 len;

	if (doc != NULL && (v = json_loads(doc, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return NULL;
	if ((j = json_pack("{s:s, s:o}", "key", key, "vehicle", v)) == NULL)
		return NULL;
	line = gk_json_dump_compact(j);
	json_decref(j);
	if (line == NULL)
		return NULL;
	len = strlen(line);
	if ((out = realloc(line, len + 2)) == NULL) {
		free(line);
		return NULL;
	}
	out[len] = '\n';
	out[len + 1] = '\0';
	return out;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Parses one file line into s; a bad one is logged and counted. */
static void
load_line(struct snapshot *s, const char *line, size_t len, int lineno)
{
	char		 err[200], *doc = NULL;
	const char	*key;
	json_t		*j, *v;

	s->lines++;
	if ((j = gk_json_parse(line, len, LINE_MAX_BYTES, err, sizeof(err))) == NULL ||
	    gk_json_get_str(j, "key", &key) != GK_JSON_OK ||
	    (v = json_object_get(j, "vehicle")) == NULL ||
	    !(json_is_null(v) || json_is_object(v)) ||
	    (!json_is_null(v) && (doc = gk_json_dump_compact(v)) == NULL) ||
	    apply(s, key, doc) == -1) {
		s->bad++;
		gk_log(GK_LOG_WARN, "snapshot.bad_line", "path=%s line=%d reason=%s",
		    s->path, lineno, j == NULL ? err : "no key, or vehicle neither an "
		    "object nor null");
	}
	free(doc);
	json_decref(j);
}

static int
load(struct snapshot *s)
{
	FILE		*fp;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	int		 lineno = 0, torn = 0;
	struct stat	 st;

	if ((fp = fdopen(dup(s->fd), "r")) == NULL)
		return -1;
	if (fstat(fileno(fp), &st) == 0 && st.st_size > 0)
		s->written_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		torn = line[n - 1] != '\n';
		if (n > 1 || torn)
			load_line(s, line, (size_t)n - !torn, lineno);
	}
	free(line);
	fclose(fp);
	/* A torn last line would swallow the next append: end it. */
	if (torn && write_all(s->fd, "\n", 1) == -1)
		return -1;
	return 0;
}

struct snapshot *
snapshot_open(const char *path, char *err, size_t errlen)
{
	struct snapshot *s;

	if ((s = calloc(1, sizeof(*s))) != NULL)
		s->fd = -1;
	if (s == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		gk_errf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	if ((s->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) == -1 ||
	    grow_index(s) == -1 || load(s) == -1) {
		gk_errf(err, errlen, "%s: %s", path, strerror(errno));
		snapshot_close(s);
		return NULL;
	}
	gk_log(GK_LOG_INFO, "snapshot.loaded", "path=%s keys=%zu removed=%zu lines=%zu "
	    "bad_lines=%zu", path, s->live, s->n - s->live, s->lines, s->bad);
	return s;
}

void
snapshot_close(struct snapshot *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	for (i = 0; i < s->n; i++) {
		free(s->e[i].key);
		free(s->e[i].doc);
	}
	free(s->e);
	free(s->idx);
	free(s->path);
	free(s);
}

const char *
snapshot_get(const struct snapshot *s, const char *key)
{
	size_t i = slot_of(s, key);

	return s->idx[i] == 0 ? NULL : s->e[s->idx[i] - 1].doc;
}

int
snapshot_put(struct snapshot *s, const char *key, const char *vehicle)
{
	struct stat	 st;
	char		*line;
	int		 rc = -1, saved;

	if (s->stale) {
		/* Appending to the replaced file would write where nobody reads. */
		int nfd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC);

		if (nfd == -1)
			return -1;
		close(s->fd);
		s->fd = nfd;
		s->stale = 0;
	}
	if ((line = render(key, vehicle)) == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (fstat(s->fd, &st) == -1)
		goto out;
	if (write_all(s->fd, line, strlen(line)) == -1 || fdatasync(s->fd) == -1) {
		/* Take a partial line back, so the file stays one change per line. */
		saved = errno;
		if (ftruncate(s->fd, st.st_size) == -1)
			gk_log(GK_LOG_ERR, "snapshot.truncate_failed", "path=%s error=%s",
			    s->path, strerror(errno));
		errno = saved;
		goto out;
	}
	if (apply(s, key, vehicle) == -1)
		goto out;
	s->lines++;
	s->written_ms = gk_wall_ms();
	rc = 0;
	if (s->lines > COMPACT_MIN && s->lines > 2 * s->n && snapshot_compact(s) == -1)
		gk_log(GK_LOG_WARN, "snapshot.compact_failed", "path=%s error=%s",
		    s->path, strerror(errno));
out:
	free(line);
	return rc;
}

int64_t
snapshot_age_ms(const struct snapshot *s, int64_t now_wall_ms)
{
	if (s->written_ms == 0 || now_wall_ms < s->written_ms)
		return 0;
	return now_wall_ms - s->written_ms;
}

int
snapshot_foreach(const struct snapshot *s,
    int (*fn)(void *, const char *, const char *), void *arg)
{
	size_t	i;
	int	rc;

	for (i = 0; i < s->n; i++)
		if ((rc = fn(arg, s->e[i].key, s->e[i].doc)) != 0)
			return rc;
	return 0;
}

void
snapshot_stats(const struct snapshot *s, struct snapshot_stats *st)
{
	st->keys = s->live;
	st->tombstones = s->n - s->live;
	st->lines = s->lines;
	st->bad_lines = s->bad;
	st->compactions = s->compactions;
}

int
snapshot_compact(struct snapshot *s)
{
	char	 tmp[4096], dir[4096];
	char	*line;
	size_t	 i, lines_before = s->lines;
	int	 fd, dfd, nfd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.compact", s->path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) == -1)
		return -1;
	for (i = 0; i < s->n; i++) {
		if ((line = render(s->e[i].key, s->e[i].doc)) == NULL) {
			errno = EINVAL;
			goto fail;
		}
		if (write_all(fd, line, strlen(line)) == -1) {
			free(line);
			goto fail;
		}
		free(line);
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, s->path) == -1)
		goto fail;
	/* The rename itself must survive a power cut. */
	gk_strlcpy(dir, s->path, sizeof(dir));
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	s->lines = s->n;
	s->compactions++;
	if ((nfd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC)) == -1) {
		s->stale = 1;	/* snapshot_put() tries again */
		return -1;
	}
	close(s->fd);
	s->fd = nfd;
	gk_log(GK_LOG_INFO, "snapshot.compacted", "path=%s lines_before=%zu lines=%zu",
	    s->path, lines_before, s->n);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}
