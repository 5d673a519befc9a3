/*
 * A tiny assertion header for ecogate's C tests. Each test file is one executable;
 * T_CHECK records a failure and goes on, T_REQUIRE stops the test at once, and
 * T_DONE() prints "N passed, N failed" and returns the exit status.
 * Helpers for integration tests read the server ports the fixture exported
 * (ECOGATE_MQTT_PORT, ...) and wait on conditions with a deadline.
 */
#ifndef ECOGATE_T_H
#define ECOGATE_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int t_pass, t_fail;

#define T_CHECK(cond) do {						\
	if (cond)							\
		t_pass++;						\
	else {								\
		t_fail++;						\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
	}								\
} while (0)

#define T_CHECKF(cond, ...) do {					\
	if (cond)							\
		t_pass++;						\
	else {								\
		t_fail++;						\
		fprintf(stderr, "%s:%d: check failed: %s: ",		\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

#define T_REQUIRE(cond) do {						\
	if (cond)							\
		t_pass++;						\
	else {								\
		fprintf(stderr, "%s:%d: required check failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		t_fail++;						\
		printf("%d passed, %d failed\n", t_pass, t_fail);	\
		exit(1);						\
	}								\
} while (0)

#define T_STREQ(a, b) T_CHECKF(strcmp((a), (b)) == 0,			\
	"\"%s\" != \"%s\"", (a), (b))

#define T_DONE() (printf("%d passed, %d failed\n", t_pass, t_fail),	\
	t_fail == 0 ? 0 : 1)

/* Monotonic milliseconds, for deadlines in tests. */
static inline long long
t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An environment variable the fixture exported, or the default. */
static inline const char *
t_env(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : def;
}

/* Runs "ops/servers.sh VERB NAME" with the fixture's environment. */
static inline int
t_servers(const char *verb, const char *name)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s/servers.sh %s %s",
	    t_env("ECOGATE_OPS", "ops"), verb, name);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
