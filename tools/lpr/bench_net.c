/*
 * bench_net: per-input latency of a darknet network at batch 1 on one core, the way
 * darknet-lpr runs it (issue 5): load cfg (+ weights), predict a fixed pseudo-random
 * input a number of times, print median and p99 in milliseconds. Tooling only.
 *
 *	tools/lpr/bench_net models/plate-reader.cfg models/plate-reader.weights 200
 */
#include <darknet.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	network		*net;
	int		 i, n = argc > 3 ? atoi(argv[3]) : 100, sz;
	float		*x;
	double		*ms;
	struct timespec	 a, b;

	if (argc < 2 || n < 1) {
		fprintf(stderr, "usage: bench_net cfg [weights [runs]]\n");
		return 64;
	}
	net = load_network(argv[1], argc > 2 ? argv[2] : NULL, 0);
	set_batch_network(net, 1);
	sz = net->w * net->h * net->c;
	x = calloc(sz, sizeof(float));
	ms = calloc(n, sizeof(double));
	srand(1);
	for (i = 0; i < sz; i++)
		x[i] = (rand() % 256) / 255.f;
	network_predict(net, x);	/* warm caches and allocations */
	for (i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		network_predict(net, x);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms[i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	}
	qsort(ms, n, sizeof(double), cmp);
	printf("%s %dx%dx%d: median %.2f ms, p99 %.2f ms (%d runs)\n", argv[1], net->w,
	    net->h, net->c, ms[n / 2], ms[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], n);
	free(x);
	free(ms);
	free_network(net);
	return 0;
}
