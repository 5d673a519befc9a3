/*
 * Unit tests of the verifier's durable outbox, file by file: the append / sync / done /
 * replay contract, recovery of a torn tail cut at every byte offset, corruption in a
 * sealed and in the newest segment, segment rolling and deletion, and the limits.
 *
 * Every record here has key "s01" and a 96-byte payload, so a passage record is
 * 24 + 36 + 1 + 3 + 96 = 160 bytes and a done mark 24 bytes; the expected offsets and
 * file sizes below are worked out by hand from that, not taken from the code.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatekit/log.h"
#include "outbox.h"
#include "t.h"

#define REC	160
#define MARK	24
#define SEG1	"00000000000000000001.seg"

static void
make_id(char id[OUTBOX_ID_LEN + 1], int n)
{
	snprintf(id, OUTBOX_ID_LEN + 1, "00000000-0000-7000-8000-%012d", n);
}

static void
make_payload(char p[96], int n)
{
	memset(p, 'a' + n % 26, 96);
	memcpy(p, "passage", 7);
	p[7] = (char)('0' + n % 10);
}

/* Appends passage n and checks that it got seq n. */
static void
append_n(struct outbox *ob, int n)
{
	char		 id[OUTBOX_ID_LEN + 1], p[96];
	uint64_t	 seq = 0;

	make_id(id, n);
	make_payload(p, n);
	T_CHECKF(outbox_append(ob, id, "s01", p, sizeof(p), &seq) == 0, "append %d: %s",
	    n, strerror(errno));
	T_CHECKF(seq == (uint64_t)n, "append %d got seq %llu", n, (unsigned long long)seq);
}

struct seen {
	int	 n;
	uint64_t seq[64];
	int	 bad;		/* records whose id, key or payload did not match */
	int	 stop_at;	/* return 7 at this seq */
};

static int
collect(void *arg, uint64_t seq, const char *event_id, const char *key,
    const void *payload, size_t len)
{
	struct seen	*s = arg;
	char		 id[OUTBOX_ID_LEN + 1], p[96];

	make_id(id, (int)seq);
	make_payload(p, (int)seq);
	if (strcmp(event_id, id) != 0 || strcmp(key, "s01") != 0 || len != sizeof(p) ||
	    memcmp(payload, p, len) != 0)
		s->bad++;
	if (s->n < 64)
		s->seq[s->n++] = seq;
	return s->stop_at != 0 && (uint64_t)s->stop_at == seq ? 7 : 0;
}

/* Checks that the pending records are exactly want[0..nwant), in that order. */
static void
check_pending(struct outbox *ob, const int *want, int nwant, const char *what)
{
	struct seen	 s = { 0 };
	int		 ok;

	T_CHECKF(outbox_pending(ob, 0, collect, &s) == 0, "%s: pending failed", what);
	ok = s.n == nwant && s.bad == 0;
	for (int i = 0; ok && i < nwant; i++)
		ok = s.seq[i] == (uint64_t)want[i];
	T_CHECKF(ok, "%s: %d pending (%d bad), want %d", what, s.n, s.bad, nwant);
}

static void
mkdir_tmp(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "outbox-%s-XXXXXX", name);
	T_REQUIRE(mkdtemp(dir) != NULL);
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

static int
file_exists(const char *dir, const char *name)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static long
file_size(const char *dir, const char *name)
{
	char		 path[512];
	struct stat	 sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Reads dir/name into buf (at most len bytes); returns the size or -1. */
static long
file_read(const char *dir, const char *name, unsigned char *buf, size_t len)
{
	char	 path[512];
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	n = fread(buf, 1, len, f);
	fclose(f);
	return (long)n;
}

static void
file_write(const char *dir, const char *name, const unsigned char *buf, size_t len)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	T_REQUIRE((f = fopen(path, "wb")) != NULL);
	T_REQUIRE(fwrite(buf, 1, len, f) == len);
	T_REQUIRE(fclose(f) == 0);
}

static struct outbox *
open_dir(const char *dir, const struct outbox_opts *o)
{
	char		 err[512];
	struct outbox	*ob = outbox_open(dir, o, err, sizeof(err));

	if (ob == NULL)
		fprintf(stderr, "open %s: %s\n", dir, err);
	return ob;
}

static void
test_basics(void)
{
	char		 dir[64], id[OUTBOX_ID_LEN + 1], big[300];
	struct outbox	*ob, *ob2;
	struct outbox_stats st;
	struct seen	 s = { 0 };
	uint64_t	 seq;
	char		 err[256];

	mkdir_tmp(dir, sizeof(dir), "basics");
	T_REQUIRE((ob = open_dir(dir, NULL)) != NULL);
	check_pending(ob, NULL, 0, "fresh");
	append_n(ob, 1);
	append_n(ob, 2);
	append_n(ob, 3);
	T_CHECK(outbox_sync(ob) == 0);
	check_pending(ob, (int[]){ 1, 2, 3 }, 3, "three appended");
	T_CHECK(file_size(dir, SEG1) == 3 * REC);

	/* Only one process (open file) may hold the directory. */
	T_CHECK((ob2 = outbox_open(dir, NULL, err, sizeof(err))) == NULL);
	T_CHECKF(strstr(err, "locked") != NULL, "err: %s", err);
	outbox_close(ob2);

	T_CHECK(outbox_mark_done(ob, 2) == 0);
	T_CHECK(outbox_mark_done(ob, 2) == 0);		/* idempotent, no second mark */
	T_CHECK(file_size(dir, SEG1) == 3 * REC + MARK);
	errno = 0;
	T_CHECK(outbox_mark_done(ob, 99) == -1 && errno == ENOENT);
	check_pending(ob, (int[]){ 1, 3 }, 2, "2 done");

	/* from and stopping. */
	s.stop_at = 0;
	T_CHECK(outbox_pending(ob, 2, collect, &s) == 0 && s.n == 1 && s.seq[0] == 3);
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	T_CHECK(outbox_pending(ob, 0, collect, &s) == 7 && s.n == 1);

	/* Bad arguments: clear errors, nothing written. */
	make_id(id, 9);
	errno = 0;
	T_CHECK(outbox_append(ob, "short-id", "s01", "x", 1, &seq) == -1 && errno == EINVAL);
	memset(big, 'k', sizeof(big));
	big[OUTBOX_KEY_MAX + 1] = '\0';
	errno = 0;
	T_CHECK(outbox_append(ob, id, big, "x", 1, &seq) == -1 && errno == EMSGSIZE);
	errno = 0;
	T_CHECK(outbox_append(ob, id, "s01", big, OUTBOX_PAYLOAD_MAX + 1, &seq) == -1 &&
	    errno == EMSGSIZE);
	T_CHECK(file_size(dir, SEG1) == 3 * REC + MARK);
	big[OUTBOX_KEY_MAX] = '\0';
	T_CHECK(outbox_append(ob, id, big, NULL, 0, &seq) == 0 && seq == 4);

	outbox_stats(ob, &st);
	T_CHECK(st.appended == 4 && st.done == 1 && st.pending == 3 && st.segments == 1);
	T_CHECK(st.bytes == 3 * REC + MARK + 24 + 37 + OUTBOX_KEY_MAX);
	outbox_close(ob);

	/* Reopen replays exactly the records not done, in order; seqs go on. */
	T_REQUIRE((ob = open_dir(dir, NULL)) != NULL);
	memset(&s, 0, sizeof(s));
	T_CHECK(outbox_pending(ob, 0, collect, &s) == 0);
	T_CHECK(s.n == 3 && s.seq[0] == 1 && s.seq[1] == 3 && s.seq[2] == 4);
	T_CHECK(s.bad == 1);	/* seq 4 has the long key and no payload */
	append_n(ob, 5);
	outbox_stats(ob, &st);
	T_CHECK(st.appended == 1 && st.pending == 4 && st.torn_tails == 0);
	outbox_close(ob);
	rm_dir(dir);
}

/*
 * Records 1, 2, 3 and a done mark for 1, cut at every byte offset: recovery keeps the
 * whole records before the cut, cuts the partial one, and seqs continue after it.
 */
static void
test_torn_tail(void)
{
	char		 dir[64];
	unsigned char	 orig[1024];
	long		 size;
	struct outbox	*ob;
	struct outbox_stats st;
	int		 fails = 0;

	mkdir_tmp(dir, sizeof(dir), "torn");
	T_REQUIRE((ob = open_dir(dir, NULL)) != NULL);
	append_n(ob, 1);
	append_n(ob, 2);
	append_n(ob, 3);
	T_CHECK(outbox_mark_done(ob, 1) == 0);
	outbox_close(ob);
	size = file_read(dir, SEG1, orig, sizeof(orig));
	T_REQUIRE(size == 3 * REC + MARK);

	for (long cut = 0; cut <= size; cut++) {
		int	 want[3], nwant = 0, boundary;
		long	 keep = cut >= 3 * REC + MARK ? 3 * REC + MARK :
			    cut >= 3 * REC ? 3 * REC : cut - cut % REC;
		uint64_t seq = 0;
		char	 id[OUTBOX_ID_LEN + 1];
		struct seen s = { 0 };

		boundary = keep == cut;
		for (int k = 1; k <= 3; k++)
			if (cut >= k * REC && !(k == 1 && cut >= 3 * REC + MARK))
				want[nwant++] = k;
		file_write(dir, SEG1, orig, (size_t)cut);
		if ((ob = open_dir(dir, NULL)) == NULL) {
			T_CHECKF(0, "cut %ld: open failed", cut);
			continue;
		}
		outbox_stats(ob, &st);
		T_CHECK(outbox_pending(ob, 0, collect, &s) == 0);
		int ok = s.n == nwant && s.bad == 0;
		for (int i = 0; ok && i < nwant; i++)
			ok = s.seq[i] == (uint64_t)want[i];
		ok = ok && st.torn_tails == (uint64_t)!boundary;
		ok = ok && file_size(dir, SEG1) == keep;
		/* The next seq follows the last whole record: a torn one was never acked. */
		make_id(id, 0);
		ok = ok && outbox_append(ob, id, "s01", "", 0, &seq) == 0 &&
		    seq == (uint64_t)(keep / REC + 1);
		if (!ok && fails++ < 5)
			T_CHECKF(0, "cut %ld: %d pending, torn %llu, size %ld, next %llu", cut,
			    s.n, (unsigned long long)st.torn_tails, file_size(dir, SEG1),
			    (unsigned long long)seq);
		outbox_close(ob);
	}
	T_CHECKF(fails == 0, "%d cut offsets failed", fails);

	/* The tail of the last record zeroed (size kept, as after a power loss). */
	for (long z = 2 * REC; z < 3 * REC; z += 53) {
		unsigned char buf[1024];

		memcpy(buf, orig, 3 * REC);
		memset(buf + z, 0, (size_t)(3 * REC - z));
		file_write(dir, SEG1, buf, 3 * REC);
		T_REQUIRE((ob = open_dir(dir, NULL)) != NULL);
		check_pending(ob, (int[]){ 1, 2 }, 2, "zeroed tail");
		outbox_stats(ob, &st);
		T_CHECK(st.torn_tails == 1 && file_size(dir, SEG1) == 2 * REC);
		outbox_close(ob);
	}
	rm_dir(dir);
}

/* Small segments: three records each (480 bytes), room for one done mark more. */
static const struct outbox_opts small = { .segment_bytes = 512, .max_bytes = 4096 };

static void
test_corrupt(void)
{
	char		 dir[64], err[512];
	unsigned char	 buf[1024];
	struct outbox	*ob;
	struct outbox_stats st;
	struct outbox_opts salvage = small;

	/* A flipped byte in record 2 of the newest segment: skipped with an alarm. */
	mkdir_tmp(dir, sizeof(dir), "corrupt");
	T_REQUIRE((ob = open_dir(dir, &small)) != NULL);
	for (int n = 1; n <= 3; n++)
		append_n(ob, n);
	outbox_close(ob);
	T_REQUIRE(file_read(dir, SEG1, buf, sizeof(buf)) == 3 * REC);
	buf[REC + 100] ^= 0x20;
	file_write(dir, SEG1, buf, 3 * REC);
	T_REQUIRE((ob = open_dir(dir, &small)) != NULL);
	check_pending(ob, (int[]){ 1, 3 }, 2, "corrupt newest");
	outbox_stats(ob, &st);
	T_CHECK(st.corrupt == 1 && st.torn_tails == 0 && file_size(dir, SEG1) == 3 * REC);
	append_n(ob, 4);
	outbox_close(ob);
	rm_dir(dir);

	/* The same in a sealed segment: refused, naming file and offset; or salvaged. */
	mkdir_tmp(dir, sizeof(dir), "corrupt");
	T_REQUIRE((ob = open_dir(dir, &small)) != NULL);
	for (int n = 1; n <= 6; n++)
		append_n(ob, n);
	outbox_close(ob);
	T_CHECK(file_exists(dir, "00000000000000000004.seg"));
	T_REQUIRE(file_read(dir, SEG1, buf, sizeof(buf)) == 3 * REC);
	buf[REC + 100] ^= 0x20;
	file_write(dir, SEG1, buf, 3 * REC);
	T_CHECK(outbox_open(dir, &small, err, sizeof(err)) == NULL);
	T_CHECKF(strstr(err, SEG1) != NULL && strstr(err, "offset 160 ") != NULL,
	    "err: %s", err);
	salvage.salvage = 1;
	T_REQUIRE((ob = open_dir(dir, &salvage)) != NULL);
	check_pending(ob, (int[]){ 1, 3, 4, 5, 6 }, 5, "salvaged");
	outbox_stats(ob, &st);
	T_CHECK(st.corrupt == 1);
	outbox_close(ob);
	rm_dir(dir);
}

static void
test_roll(void)
{
	char		 dir[64];
	struct outbox	*ob;
	struct outbox_stats st;
	uint64_t	 seq;
	char		 id[OUTBOX_ID_LEN + 1];

	mkdir_tmp(dir, sizeof(dir), "roll");
	T_REQUIRE((ob = open_dir(dir, &small)) != NULL);
	for (int n = 1; n <= 9; n++)
		append_n(ob, n);
	T_CHECK(outbox_sync(ob) == 0);
	T_CHECK(file_size(dir, SEG1) == 3 * REC);
	T_CHECK(file_size(dir, "00000000000000000004.seg") == 3 * REC);
	T_CHECK(file_size(dir, "00000000000000000007.seg") == 3 * REC);

	/* Mark 4 fits in segment 7 (504); mark 5 rolls to a new segment 10. */
	T_CHECK(outbox_mark_done(ob, 4) == 0);
	T_CHECK(file_size(dir, "00000000000000000007.seg") == 3 * REC + MARK);
	T_CHECK(outbox_mark_done(ob, 5) == 0);
	T_CHECK(outbox_mark_done(ob, 6) == 0);
	T_CHECK(file_size(dir, "00000000000000000010.seg") == 2 * MARK);
	/* Segment 4 is all done but segment 1 before it is not: both stay. */
	T_CHECK(file_exists(dir, SEG1) && file_exists(dir, "00000000000000000004.seg"));
	outbox_stats(ob, &st);
	T_CHECK(st.segments == 4 && st.pending == 6);
	T_CHECK(outbox_mark_done(ob, 1) == 0);
	T_CHECK(outbox_mark_done(ob, 3) == 0);
	T_CHECK(file_exists(dir, SEG1));
	T_CHECK(outbox_mark_done(ob, 2) == 0);
	T_CHECK(!file_exists(dir, SEG1) && !file_exists(dir, "00000000000000000004.seg"));
	T_CHECK(file_exists(dir, "00000000000000000007.seg"));
	outbox_stats(ob, &st);
	T_CHECK(st.segments == 2 && st.segments_deleted == 2 && st.pending == 3);
	T_CHECK(st.bytes == 3 * REC + MARK + 5 * MARK);
	/* Marking an already deleted record is an unknown seq. */
	T_CHECK(outbox_mark_done(ob, 1) == -1 && errno == ENOENT);
	outbox_close(ob);

	T_REQUIRE((ob = open_dir(dir, &small)) != NULL);
	check_pending(ob, (int[]){ 7, 8, 9 }, 3, "after deletion");
	for (int n = 7; n <= 9; n++)
		T_CHECK(outbox_mark_done(ob, (uint64_t)n) == 0);
	T_CHECK(!file_exists(dir, "00000000000000000007.seg"));
	outbox_close(ob);

	/* Everything done and deleted but the newest segment: seqs are not reused. */
	T_REQUIRE((ob = open_dir(dir, &small)) != NULL);
	check_pending(ob, NULL, 0, "all done");
	make_id(id, 10);
	T_CHECK(outbox_append(ob, id, "s01", "x", 1, &seq) == 0 && seq == 10);
	outbox_stats(ob, &st);
	T_CHECK(st.segments == 1);
	outbox_close(ob);
	rm_dir(dir);

	/*
	 * Marks roll into a segment named 7 holding marks only; once 1..6 are deleted
	 * it is all that is left, and its name alone carries the next seq.
	 */
	mkdir_tmp(dir, sizeof(dir), "roll");
	T_REQUIRE((ob = open_dir(dir, &small)) != NULL);
	for (int n = 1; n <= 3; n++)
		append_n(ob, n);
	for (int n = 4; n <= 6; n++)
		append_n(ob, n);
	for (int n = 1; n <= 6; n++)	/* mark 1 fits in segment 4 (504), 2 rolls */
		T_CHECK(outbox_mark_done(ob, (uint64_t)n) == 0);
	T_CHECK(file_exists(dir, "00000000000000000007.seg"));
	outbox_close(ob);
	T_REQUIRE((ob = open_dir(dir, &small)) != NULL);
	append_n(ob, 7);
	outbox_close(ob);
	rm_dir(dir);

	/*
	 * A segment of done marks alone named like the next seq, then a roll: the new
	 * segment cannot take the same name, so it is 22 and so is the passage's seq
	 * (found by the kill test: the record once kept 21 while the caller got 22).
	 * 20 empty records of 61 bytes: segments 1 and 9 hold eight (488), 17 four;
	 * marks 1..11 fill 17 to 508, mark 12 rolls to 21, which 12..20 fill to 216;
	 * a 361-byte record does not fit, so 21 rolls to 22.
	 */
	mkdir_tmp(dir, sizeof(dir), "roll");
	T_REQUIRE((ob = open_dir(dir, &small)) != NULL);
	for (int n = 1; n <= 20; n++) {
		make_id(id, n);
		T_CHECK(outbox_append(ob, id, "", NULL, 0, &seq) == 0 && seq == (uint64_t)n);
	}
	for (int n = 1; n <= 20; n++)
		T_CHECK(outbox_mark_done(ob, (uint64_t)n) == 0);
	T_CHECK(file_size(dir, "00000000000000000021.seg") == 9 * MARK);
	{
		char	 p[300];

		memset(p, 'p', sizeof(p));
		make_id(id, 22);
		T_CHECK(outbox_append(ob, id, "", p, sizeof(p), &seq) == 0 && seq == 22);
	}
	T_CHECK(file_size(dir, "00000000000000000022.seg") == 361);
	outbox_close(ob);
	T_REQUIRE((ob = open_dir(dir, &small)) != NULL);
	{
		struct seen s = { 0 };

		T_CHECK(outbox_pending(ob, 0, collect, &s) == 0);
		T_CHECKF(s.n == 1 && s.seq[0] == 22, "%d pending, first %llu", s.n,
		    (unsigned long long)s.seq[0]);
	}
	outbox_close(ob);
	rm_dir(dir);
}

static void
test_full(void)
{
	char		 dir[64], err[256], id[OUTBOX_ID_LEN + 1];
	struct outbox	*ob;
	struct outbox_stats st;
	struct outbox_opts o = { .max_pending = 2 };
	struct outbox_opts tiny = { .segment_bytes = 512, .max_bytes = 1024 };
	uint64_t	 seq;

	mkdir_tmp(dir, sizeof(dir), "full");
	T_REQUIRE((ob = open_dir(dir, &o)) != NULL);
	append_n(ob, 1);
	append_n(ob, 2);
	make_id(id, 3);
	errno = 0;
	T_CHECK(outbox_append(ob, id, "s01", "x", 1, &seq) == -1 && errno == ENOSPC);
	T_CHECK(outbox_append(ob, id, "s01", "x", 1, &seq) == -1 && errno == ENOSPC);
	outbox_stats(ob, &st);
	T_CHECK(st.full == 2 && st.pending == 2);
	T_CHECK(outbox_mark_done(ob, 1) == 0);
	append_n(ob, 3);
	outbox_close(ob);
	rm_dir(dir);

	/*
	 * By bytes: six records (960) leave no room for a 65-byte seventh in 1024;
	 * marking 1..3 done deletes segment 1 (480 bytes) and makes room.
	 */
	mkdir_tmp(dir, sizeof(dir), "full");
	T_REQUIRE((ob = open_dir(dir, &tiny)) != NULL);
	for (int n = 1; n <= 6; n++)
		append_n(ob, n);
	make_id(id, 7);
	errno = 0;
	T_CHECK(outbox_append(ob, id, "s01", "x", 1, &seq) == -1 && errno == ENOSPC);
	for (int n = 1; n <= 3; n++)
		T_CHECK(outbox_mark_done(ob, (uint64_t)n) == 0);
	T_CHECK(!file_exists(dir, SEG1));
	outbox_stats(ob, &st);
	T_CHECK(st.bytes == 3 * REC + MARK + 2 * MARK && st.full == 1);
	append_n(ob, 7);
	outbox_close(ob);
	rm_dir(dir);

	/* Limits that cannot hold two segments are refused. */
	o.segment_bytes = 1024;
	o.max_bytes = 2000;
	T_CHECK(outbox_open("outbox-never", &o, err, sizeof(err)) == NULL);
	T_CHECKF(strstr(err, "max_bytes") != NULL, "err: %s", err);
	T_CHECK(access("outbox-never", F_OK) == -1);
}

/* Appends id n again; returns 1 when refused as held (with its seq in *seq). */
static int
held_n(struct outbox *ob, int n, uint64_t *seq)
{
	char	 id[OUTBOX_ID_LEN + 1], p[96];

	make_id(id, n);
	make_payload(p, n);
	*seq = 0;
	if (outbox_append(ob, id, "s01", p, sizeof(p), seq) == 0)
		return 0;
	return errno == EEXIST;
}

/*
 * An event_id already in the outbox is refused (EEXIST, the held seq), pending or
 * done, across a reopen, until its segment is deleted; many ids, so the hash table
 * grows and deleting from it never loses one still held.
 */
static void
test_dedupe(void)
{
	struct outbox_opts o = { .segment_bytes = 10 * REC, .max_bytes = 1 << 20 };
	struct outbox_stats st;
	struct outbox	*ob;
	char		 dir[64];
	uint64_t	 seq;
	int		 i, lost = 0, gone = 0;

	mkdir_tmp(dir, sizeof(dir), "dedupe");
	T_REQUIRE((ob = open_dir(dir, &o)) != NULL);
	append_n(ob, 1);
	append_n(ob, 2);
	T_CHECK(held_n(ob, 2, &seq) == 1 && seq == 2);
	T_CHECK(outbox_mark_done(ob, 2) == 0);
	T_CHECK(held_n(ob, 2, &seq) == 1 && seq == 2);	/* done, still on disk */
	T_CHECK(outbox_sync(ob) == 0);
	outbox_close(ob);

	T_REQUIRE((ob = open_dir(dir, &o)) != NULL);
	T_CHECK(held_n(ob, 1, &seq) == 1 && seq == 1);	/* recovered index */
	T_CHECK(held_n(ob, 2, &seq) == 1 && seq == 2);
	outbox_stats(ob, &st);
	T_CHECK(st.duplicates == 2 && st.appended == 0);
	/* Two thousand more, every one refused a second time. */
	for (i = 3; i <= 2000; i++) {
		char id[OUTBOX_ID_LEN + 1], p[96];

		make_id(id, i);
		make_payload(p, i);
		T_REQUIRE(outbox_append(ob, id, "s01", p, sizeof(p), &seq) == 0);
	}
	for (i = 1; i <= 2000; i++)
		lost += !held_n(ob, i, &seq);
	T_CHECKF(lost == 0, "%d ids not held", lost);
	/* The first half done: their segments go, the rest stays held. */
	for (i = 1; i <= 1000; i++)
		outbox_mark_done(ob, (uint64_t)i);
	outbox_stats(ob, &st);
	T_CHECK(st.segments_deleted > 50);
	for (i = 1001; i <= 2000; i++)
		lost += !held_n(ob, i, &seq);
	T_CHECKF(lost == 0, "%d pending ids no longer held after deletions", lost);
	/* An id whose segment was deleted is forgotten: the journal is what keeps
	 * a replay from reaching that far back. */
	for (i = 1; i <= 900; i++)
		gone += !held_n(ob, i, &seq);
	T_CHECKF(gone > 800, "%d ids of deleted segments appended again", gone);
	outbox_close(ob);
	rm_dir(dir);
}

int
main(void)
{
	gk_log_init("test_outbox");
	test_dedupe();
	test_basics();
	test_torn_tail();
	test_corrupt();
	test_roll();
	test_full();
	return T_DONE();
}
