/*
 * Percentiles for the benchmarks' latency figures: one nearest-rank helper so every
 * benchmark reports median and p99 the same way.
 */
#ifndef BENCH_PCT_H
#define BENCH_PCT_H

#include <stdlib.h>

static int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-quantile (0..1) of v[0..n-1], nearest rank; sorts v. 0 when n is 0. */
static inline double
bench_pct(double *v, int n, double p)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return v[(int)(p * (n - 1) + 0.5)];
}

#endif
