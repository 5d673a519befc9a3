/*
 * Integration test of the Redis adapter (libs/gatekit/src/kv.c) against the real
 * redis-server the fixture started: single and pipelined reads and writes, binary
 * values, expiry, bounded failure against a dead port and a silent server, a large
 * pipeline into a server that has gone away (no SIGPIPE), and reconnection after the
 * server is stopped and restarted.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatekit/kv.h"
#include "gatekit/log.h"
#include "t.h"

#define NKEYS	1000

static char prefix[32];

static int
redis_port(void)
{
	return atoi(t_env("ECOGATE_REDIS_PORT", "36379"));
}

static struct gk_kv *
open_kv(int port, int cmd_timeout_ms)
{
	struct gk_kv_opts o = {
		.host = "127.0.0.1",
		.port = port,
		.connect_timeout_ms = 500,
		.command_timeout_ms = cmd_timeout_ms,
		.backoff_min_ms = 50,
		.backoff_max_ms = 400,
	};

	return gk_kv_new(&o);
}

static const char *
key(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s%s", prefix, name);
	return buf;
}

/* A TCP port on loopback where nothing listens (bound, then released). */
static int
dead_port(void)
{
	struct sockaddr_in	sa;
	socklen_t		sl = sizeof(sa);
	int			fd, port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == -1) {
		close(fd);
		return -1;
	}
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* A listener that completes TCP handshakes (backlog) but never answers. */
static int
silent_server(int *port)
{
	struct sockaddr_in	sa;
	socklen_t		sl = sizeof(sa);
	int			fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
test_basic(struct gk_kv *kv)
{
	char	 k[128], *v = NULL;
	size_t	 len = 99;
	const char plate[] = "{\"plate\":\"沪A12345\",\"stage\":\"6\"}";

	T_REQUIRE(gk_kv_ping(kv) == 0);
	T_CHECK(gk_kv_connected(kv));

	key(k, sizeof(k), "reg:沪A12345");
	T_REQUIRE(gk_kv_set(kv, k, plate, strlen(plate), 0) == 0);
	T_CHECK(gk_kv_get(kv, k, &v, &len) == 1);
	T_CHECK(v != NULL && len == strlen(plate) && strcmp(v, plate) == 0);
	free(v);

	/* Overwrite, then delete: 1 the first time, 0 after. */
	T_CHECK(gk_kv_set(kv, k, "x", 1, 0) == 0);
	T_CHECK(gk_kv_get(kv, k, &v, &len) == 1 && len == 1 && v[0] == 'x');
	free(v);
	T_CHECK(gk_kv_del(kv, k) == 1);
	T_CHECK(gk_kv_del(kv, k) == 0);
	v = (char *)1;
	T_CHECK(gk_kv_get(kv, k, &v, &len) == 0);
	T_CHECK(v == NULL && len == 0);

	/* An empty value exists and is distinct from an absent key. */
	key(k, sizeof(k), "empty");
	T_CHECK(gk_kv_set(kv, k, "", 0, 0) == 0);
	T_CHECK(gk_kv_get(kv, k, &v, &len) == 1 && len == 0 && v != NULL &&
	    v[0] == '\0');
	free(v);
	gk_kv_del(kv, k);

	/* Bad keys are refused without a round trip. */
	T_CHECK(gk_kv_get(kv, "", &v, &len) == -1);
	T_CHECK(gk_kv_set(kv, NULL, "x", 1, 0) == -1);
	T_CHECK(gk_kv_errstr(kv)[0] != '\0');
}

static void
test_binary(struct gk_kv *kv)
{
	unsigned char	 bin[300];
	char		 k[128], *v = NULL;
	size_t		 len = 0, i;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 7 + 3);
	bin[0] = 0;
	bin[10] = 0;
	bin[sizeof(bin) - 1] = 0;
	key(k, sizeof(k), "bin");
	T_REQUIRE(gk_kv_set(kv, k, bin, sizeof(bin), 0) == 0);
	T_CHECK(gk_kv_get(kv, k, &v, &len) == 1);
	T_CHECKF(len == sizeof(bin), "len %zu", len);
	T_CHECK(v != NULL && memcmp(v, bin, sizeof(bin)) == 0);
	T_CHECK(v != NULL && v[len] == '\0');
	free(v);
	gk_kv_del(kv, k);
}

static void
test_pipeline(struct gk_kv *kv)
{
	static struct gk_kv_pair	 pairs[NKEYS];
	static char			 keys[NKEYS + 3][96], vals[NKEYS][48];
	static const char		*kp[NKEYS + 3];
	static struct gk_kv_val		 out[NKEYS + 3];
	size_t				 i, bad = 0;
	int				 n;

	for (i = 0; i < NKEYS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%sm:%zu", prefix, i);
		/* Values carry an embedded NUL to prove %b on the pipelined path. */
		n = snprintf(vals[i], sizeof(vals[i]), "v%zu", i * 31);
		vals[i][n] = '\0';
		vals[i][n + 1] = 'z';
		pairs[i].key = keys[i];
		pairs[i].val = vals[i];
		pairs[i].len = (size_t)n + 2;
		pairs[i].ttl_ms = i % 2 == 0 ? 0 : 600000;
		kp[i] = keys[i];
	}
	/* Absent keys mixed in: at the start, the middle and the end. */
	snprintf(keys[NKEYS], sizeof(keys[0]), "%smissing:a", prefix);
	snprintf(keys[NKEYS + 1], sizeof(keys[0]), "%smissing:b", prefix);
	snprintf(keys[NKEYS + 2], sizeof(keys[0]), "%smissing:c", prefix);
	kp[NKEYS] = kp[0];
	kp[0] = keys[NKEYS];
	kp[NKEYS + 1] = kp[500];
	kp[500] = keys[NKEYS + 1];
	kp[NKEYS + 2] = keys[NKEYS + 2];

	T_REQUIRE(gk_kv_mset(kv, pairs, NKEYS) == 0);
	n = gk_kv_mget(kv, kp, NKEYS + 3, out);
	T_CHECKF(n == NKEYS, "found %d", n);
	T_CHECK(!out[0].found && out[0].data == NULL);
	T_CHECK(!out[500].found && out[500].data == NULL);
	T_CHECK(!out[NKEYS + 2].found);
	for (i = 0; i < NKEYS + 3; i++) {
		size_t want;
		const char *wk = kp[i];

		if (strstr(wk, ":missing:") != NULL)
			continue;
		want = (size_t)atoi(strrchr(wk, ':') + 1);
		if (!out[i].found || out[i].len != pairs[want].len ||
		    memcmp(out[i].data, vals[want], pairs[want].len) != 0)
			bad++;
	}
	T_CHECKF(bad == 0, "%zu values differ", bad);
	gk_kv_vals_free(out, NKEYS + 3);
	T_CHECK(out[1].data == NULL && out[1].found == 0);

	for (i = 0; i < NKEYS; i++)
		if (gk_kv_del(kv, keys[i]) != 1)
			bad++;
	T_CHECKF(bad == 0, "%zu deletes failed", bad);
	T_CHECK(gk_kv_mget(kv, kp, 0, out) == 0);
}

static void
test_ttl(struct gk_kv *kv)
{
	char			 k[128], k2[128], *v = NULL;
	size_t			 len;
	long long		 t0, gone = -1, deadline;
	int			 r;
	struct gk_kv_pair	 p;

	key(k, sizeof(k), "ttl");
	key(k2, sizeof(k2), "ttl2");
	p.key = k2;
	p.val = "b";
	p.len = 1;
	p.ttl_ms = 300;
	t0 = t_now_ms();
	T_REQUIRE(gk_kv_set(kv, k, "a", 1, 300) == 0);
	T_REQUIRE(gk_kv_mset(kv, &p, 1) == 0);
	T_CHECK(gk_kv_get(kv, k, &v, &len) == 1);
	free(v);
	deadline = t0 + 5000;
	while (t_now_ms() < deadline) {
		r = gk_kv_get(kv, k, &v, &len);
		free(v);
		v = NULL;
		T_REQUIRE(r != -1);
		if (r == 0) {
			gone = t_now_ms() - t0;
			break;
		}
		usleep(10000);
	}
	T_CHECKF(gone >= 250 && gone < 5000, "expired after %lld ms", gone);
	/* The pipelined write got its own expiry too. */
	deadline = t_now_ms() + 2000;
	while ((r = gk_kv_get(kv, k2, &v, &len)) == 1 && t_now_ms() < deadline) {
		free(v);
		v = NULL;
		usleep(10000);
	}
	free(v);
	T_CHECK(r == 0);
}

static void
test_dead_port(void)
{
	struct gk_kv	*kv;
	char		*v = NULL;
	size_t		 len;
	long long	 t0, dt;
	int		 port = dead_port();

	T_REQUIRE(port > 0);
	T_REQUIRE((kv = open_kv(port, 500)) != NULL);
	t0 = t_now_ms();
	T_CHECK(gk_kv_get(kv, "k", &v, &len) == -1);
	dt = t_now_ms() - t0;
	T_CHECKF(dt < 1000, "failing connect took %lld ms", dt);
	T_CHECK(!gk_kv_connected(kv));
	T_CHECKF(strstr(gk_kv_errstr(kv), "connect") != NULL, "%s",
	    gk_kv_errstr(kv));
	/* Within the backoff, calls fail without trying. */
	t0 = t_now_ms();
	T_CHECK(gk_kv_ping(kv) == -1);
	T_CHECK(t_now_ms() - t0 < 20);
	T_CHECKF(strstr(gk_kv_errstr(kv), "next attempt") != NULL, "%s",
	    gk_kv_errstr(kv));
	gk_kv_free(kv);
}

static void
test_silent_server(void)
{
	struct gk_kv	*kv;
	char		*v = NULL;
	size_t		 len;
	long long	 t0, dt;
	int		 port = 0, lfd;

	T_REQUIRE((lfd = silent_server(&port)) != -1);
	T_REQUIRE((kv = open_kv(port, 300)) != NULL);
	t0 = t_now_ms();
	T_CHECK(gk_kv_get(kv, "k", &v, &len) == -1);
	dt = t_now_ms() - t0;
	T_CHECKF(dt >= 250 && dt < 2000, "silent server: %lld ms", dt);
	T_CHECKF(strstr(gk_kv_errstr(kv), "timed out") != NULL, "%s",
	    gk_kv_errstr(kv));
	T_CHECK(!gk_kv_connected(kv));
	gk_kv_free(kv);
	close(lfd);
}

/*
 * A server that answers one PING and then closes, as Redis does when it shuts down:
 * our socket sits in CLOSE_WAIT, the first segment of the next write is answered by a
 * reset, and a pipeline too large for one write(2) used to die of SIGPIPE (the
 * default action) on its second write. The call must fail and the process live.
 */
static void
test_gone_server(void)
{
	static char		 kbuf[64][32];
	struct gk_kv_pair	*pairs;
	struct gk_kv		*kv;
	char			 buf[256];
	char			*big;
	pid_t			 pid;
	int			 lfd, cfd, port = 0, st, i, n;
	const size_t		 vlen = 256 * 1024;

	T_REQUIRE((lfd = silent_server(&port)) != -1);
	if ((pid = fork()) == 0) {
		if ((cfd = accept(lfd, NULL, NULL)) == -1)
			_exit(1);
		n = (int)read(cfd, buf, sizeof(buf));	/* the PING, all of it */
		if (n <= 0 || write(cfd, "+PONG\r\n", 7) != 7)
			_exit(1);
		close(cfd);				/* FIN, nothing unread */
		_exit(0);
	}
	T_REQUIRE(pid > 0);
	close(lfd);
	T_REQUIRE((kv = open_kv(port, 2000)) != NULL);
	T_CHECKF(gk_kv_ping(kv) == 0, "%s", gk_kv_errstr(kv));
	T_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0);
	usleep(100 * 1000);	/* the FIN arrives: CLOSE_WAIT */

	/* 16 MB in one pipeline: far more than the socket buffers take at once. */
	T_REQUIRE((big = malloc(vlen)) != NULL);
	memset(big, 'x', vlen);
	T_REQUIRE((pairs = calloc(64, sizeof(*pairs))) != NULL);
	for (i = 0; i < 64; i++) {
		snprintf(kbuf[i], sizeof(kbuf[i]), "gone:%d", i);
		pairs[i].key = kbuf[i];
		pairs[i].val = big;
		pairs[i].len = vlen;
	}
	T_CHECK(gk_kv_mset(kv, pairs, 64) == -1);	/* and we are still here */
	T_CHECK(!gk_kv_connected(kv));
	T_CHECKF(gk_kv_errstr(kv)[0] != '\0', "%s", gk_kv_errstr(kv));
	free(pairs);
	free(big);
	gk_kv_free(kv);
}

/* Calls ping until it succeeds or the deadline passes; returns ms taken or -1. */
static long long
await_up(struct gk_kv *kv, long long within_ms)
{
	long long t0 = t_now_ms();

	while (t_now_ms() - t0 < within_ms) {
		if (gk_kv_ping(kv) == 0)
			return t_now_ms() - t0;
		usleep(20000);
	}
	return -1;
}

static void
test_reconnect(struct gk_kv *kv)
{
	char		 k[128], *v = NULL;
	size_t		 len;
	long long	 t0;
	int		 r;

	key(k, sizeof(k), "survivor");
	T_REQUIRE(gk_kv_set(kv, k, "1", 1, 0) == 0);

	/* Down: calls fail quickly, never hang. */
	T_REQUIRE(t_servers("stop", "redis") == 0);
	t0 = t_now_ms();
	T_CHECK(gk_kv_get(kv, k, &v, &len) == -1);
	T_CHECK(gk_kv_get(kv, k, &v, &len) == -1);
	T_CHECK(gk_kv_set(kv, k, "2", 1, 0) == -1);
	T_CHECKF(t_now_ms() - t0 < 2000, "calls while down took %lld ms",
	    t_now_ms() - t0);
	T_CHECK(!gk_kv_connected(kv));

	/* Up again: a call within the backoff cap finds it. */
	T_REQUIRE(t_servers("start", "redis") == 0);
	T_CHECKF(await_up(kv, 10000) >= 0, "no reconnect: %s", gk_kv_errstr(kv));
	T_CHECK(gk_kv_set(kv, k, "3", 1, 0) == 0);

	/* A restart under an established connection: the next call may see the broken
	 * connection, the one after reconnects. */
	T_REQUIRE(t_servers("restart", "redis") == 0);
	r = gk_kv_get(kv, k, &v, &len);
	free(v);
	v = NULL;
	if (r == -1)
		T_CHECK(!gk_kv_connected(kv));
	T_CHECKF(await_up(kv, 10000) >= 0, "no reconnect: %s", gk_kv_errstr(kv));
	T_CHECK(gk_kv_get(kv, k, &v, &len) >= 0);
	free(v);
	gk_kv_del(kv, k);
}

int
main(void)
{
	struct gk_kv		*kv;
	struct gk_kv_opts	 bad = { .port = 70000 };

	gk_log_init("it_kv");
	/* The default action, as a daemon has it: SIGPIPE would kill us. */
	signal(SIGPIPE, SIG_DFL);
	snprintf(prefix, sizeof(prefix), "it_kv:%d:", (int)getpid());

	T_CHECK(gk_kv_new(&bad) == NULL);
	T_REQUIRE((kv = open_kv(redis_port(), 2000)) != NULL);
	T_CHECK(!gk_kv_connected(kv));		/* lazy */
	test_basic(kv);
	test_binary(kv);
	test_pipeline(kv);
	test_ttl(kv);
	test_dead_port();
	test_silent_server();
	test_gone_server();
	test_reconnect(kv);
	gk_kv_free(kv);
	gk_kv_free(NULL);
	return T_DONE();
}
