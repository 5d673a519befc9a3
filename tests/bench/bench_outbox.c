/*
 * How fast the verifier's outbox takes passages on this machine's disk: appends per
 * second with one fdatasync per append (every decision waits for its own sync) and
 * with group commit of 16 and 64 appends per sync, plus the cost of marking done and
 * of reopening (recovery scan) a backlog. Printed figures, never assertions.
 *
 *	bench_outbox [DIR [COUNT]]	DIR defaults to a new folder in the current one
 *					(the build dir), COUNT to 2000 appends per run
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "gatekit/log.h"
#include "gatekit/util.h"
#include "outbox.h"

static void
rm_dir(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	char		 path[4096];

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

/* Appends count passages syncing every group appends; returns 0 or -1. */
static int
run(const char *dir, int count, int group)
{
	char		 err[512], id[GK_ID_LEN], payload[700];
	struct outbox	*ob;
	uint64_t	 seq;
	int64_t		 t0, t1, t2, t3;

	rm_dir(dir);
	if ((ob = outbox_open(dir, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_outbox: %s\n", err);
		return -1;
	}
	/* About the size of a passage-decision JSON. */
	memset(payload, 'x', sizeof(payload));
	t0 = gk_mono_ms();
	for (int i = 0; i < count; i++) {
		if (gk_id_new(id) == -1 ||
		    outbox_append(ob, id, "plant-01", payload, sizeof(payload), &seq) == -1 ||
		    ((i + 1) % group == 0 && outbox_sync(ob) == -1)) {
			fprintf(stderr, "bench_outbox: append %d failed\n", i);
			outbox_close(ob);
			return -1;
		}
	}
	outbox_sync(ob);
	t1 = gk_mono_ms();
	outbox_close(ob);
	if ((ob = outbox_open(dir, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_outbox: %s\n", err);
		return -1;
	}
	t2 = gk_mono_ms();
	for (uint64_t s = 1; s <= (uint64_t)count; s++)
		outbox_mark_done(ob, s);
	outbox_sync(ob);
	t3 = gk_mono_ms();
	outbox_close(ob);
	printf("group %3d: %6d appends in %6lld ms = %8.0f appends/s (%.3f ms per sync); "
	    "reopen %lld ms; mark done %8.0f/s\n", group, count, (long long)(t1 - t0),
	    t1 > t0 ? count * 1000.0 / (double)(t1 - t0) : 0.0,
	    (double)(t1 - t0) / ((count + group - 1) / group), (long long)(t2 - t1),
	    t3 > t2 ? count * 1000.0 / (double)(t3 - t2) : 0.0);
	return 0;
}

int
main(int argc, char *argv[])
{
	char	 tmpl[] = "bench-outbox-XXXXXX";
	char	*dir = argc > 1 ? argv[1] : NULL;
	int	 count = argc > 2 ? atoi(argv[2]) : 2000;
	int	 rc = 0;

	gk_log_init("bench_outbox");
	gk_log_set_level(GK_LOG_WARN);
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL) {
		perror("bench_outbox: mkdtemp");
		return 1;
	}
	if (count <= 0)
		count = 2000;
	printf("outbox in %s, %d appends of 700 bytes per run\n", dir, count);
	if (run(dir, count, 1) == -1 || run(dir, count, 16) == -1 ||
	    run(dir, count, 64) == -1)
		rc = 1;
	rm_dir(dir);
	return rc;
}
