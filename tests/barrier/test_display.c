/*
 * The lane display drivers: the log driver's event captured through gk_log_set_fd,
 * the TCP text driver against a listener socket of this test (exact bytes on the
 * wire, and the next text delivered after the listener went away and came back), and
 * the checks that keep a bad line off the board.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "t.h"
#include "gatekit/log.h"
#include "gatekit/util.h"
#include "display.h"

static int logpipe[2];

/* Reads whatever the log pipe holds into buf (NUL-terminated). */
static void
log_drain(char *buf, size_t size)
{
	size_t have = 0;
	ssize_t r;

	while (have < size - 1 &&
	    (r = read(logpipe[0], buf + have, size - 1 - have)) > 0)
		have += (size_t)r;
	buf[have] = '\0';
}

static int
listen_on(int port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(fd, 4) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Accepts one connection within 5 s. Returns the fd or -1. */
static int
accept_one(int lfd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };

	if (poll(&pfd, 1, 5000) != 1)
		return -1;
	return accept(lfd, NULL, NULL);
}

/* Reads one message (up to and including the empty line) within 5 s. */
static int
read_msg(int fd, char *buf, size_t size)
{
	long long deadline = t_now_ms() + 5000;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t have = 0;
	ssize_t r;

	while (t_now_ms() < deadline && have < size - 1) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		/* One byte at a time: never read into the next message. */
		if ((r = read(fd, buf + have, 1)) <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if (have >= 2 && buf[have - 1] == '\n' && buf[have - 2] == '\n')
			return 0;
	}
	return -1;
}

static void
test_line_ok(void)
{
	T_CHECK(display_line_ok("沪A12345 国五 允许通行") == 1);
	T_CHECK(display_line_ok("") == 1);
	T_CHECK(display_line_ok("a\nb") == 0);
	T_CHECK(display_line_ok("tab\there") == 0);
	T_CHECK(display_line_ok("del\x7f") == 0);
	T_CHECK(display_line_ok("\xff") == 0);
	T_CHECK(display_line_ok("\xc0\xaf") == 0);		/* overlong '/' */
	T_CHECK(display_line_ok("\xed\xa0\x80") == 0);		/* surrogate */
	T_CHECK(display_line_ok("\xe6\xb2") == 0);		/* cut short */
	T_CHECK(display_line_ok("\xf4\x90\x80\x80") == 0);	/* > U+10FFFF */
	T_CHECK(display_line_ok("\xc2\x85") == 0);		/* C1 NEL */
	T_CHECK(display_line_ok("\xf0\x9f\x9a\x9b") == 1);	/* U+1F69B truck */
}

static void
test_open_specs(void)
{
	struct display *d;
	char err[256];

	T_CHECK(display_open("lcd", err, sizeof(err)) == NULL);
	T_CHECK(strstr(err, "tcp://HOST:PORT") != NULL);
	T_CHECK(display_open("tcp://10.0.0.9", err, sizeof(err)) == NULL);
	T_CHECK(display_open("tcp://10.0.0.9:0", err, sizeof(err)) == NULL);
	T_CHECK(display_open("tcp://:4000", err, sizeof(err)) == NULL);
	T_CHECK(display_open("tcp://[::1:4000", err, sizeof(err)) == NULL);
	T_REQUIRE((d = display_open("tcp://[::1]:4000", err, sizeof(err))) != NULL);
	T_STREQ(display_driver_name(d), "tcp");
	display_close(d);
	display_close(NULL);
}

static void
test_log_driver(void)
{
	const char *lines[] = { "沪A12345", "国五 柴油", "允许通行" };
	const char *bad[] = { "ok", "bad\r" };
	const char *many[DISPLAY_LINES_MAX + 1];
	struct display *d;
	char err[256], buf[4096];
	size_t i;

	T_REQUIRE((d = display_open("log", err, sizeof(err))) != NULL);
	T_STREQ(display_driver_name(d), "log");
	T_CHECK(display_show(d, lines, 3) == 0);
	log_drain(buf, sizeof(buf));
	T_CHECKF(strstr(buf, "\"event\":\"display.show\"") != NULL, "%s", buf);
	T_CHECKF(strstr(buf, "\"n\":3") != NULL, "%s", buf);
	T_CHECKF(strstr(buf, "\"text\":\"沪A12345\\n国五 柴油\\n允许通行\"") != NULL,
	    "%s", buf);

	T_CHECK(display_show(d, bad, 2) == -1);
	log_drain(buf, sizeof(buf));
	T_CHECKF(strstr(buf, "display.error") != NULL && strstr(buf, "line 2") != NULL,
	    "%s", buf);
	T_CHECK(strstr(buf, "display.show") == NULL);
	for (i = 0; i < GK_NELEM(many); i++)
		many[i] = "x";
	T_CHECK(display_show(d, many, GK_NELEM(many)) == -1);
	log_drain(buf, sizeof(buf));
	T_CHECK(strstr(buf, "too many lines") != NULL);
	display_close(d);
}

static void
test_tcp_driver(void)
{
	const char *l1[] = { "沪A12345", "禁止通行" };
	const char *l2[] = { "", "请等待" };
	const char *l3[] = { "沪B54321", "允许通行" };
	char spec[64], err[256], buf[1024], logbuf[8192], *p;
	struct display *d;
	long long deadline;
	int lfd = -1, cfd, port = 0, i, r = -1;

	for (i = 0; i < 20 && lfd == -1; i++) {
		port = 15000 + (int)(random() % 1000);
		lfd = listen_on(port);
	}
	T_REQUIRE(lfd != -1);
	snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
	T_REQUIRE((d = display_open(spec, err, sizeof(err))) != NULL);

	T_CHECK(display_show(d, l1, 2) == 0);
	T_REQUIRE((cfd = accept_one(lfd)) != -1);
	T_CHECK(read_msg(cfd, buf, sizeof(buf)) == 0);
	T_STREQ(buf, "沪A12345\n禁止通行\n\n");
	/* Same connection; an empty line goes as a space. */
	T_CHECK(display_show(d, l2, 2) == 0);
	T_CHECK(read_msg(cfd, buf, sizeof(buf)) == 0);
	T_STREQ(buf, " \n请等待\n\n");

	/* The board goes away: shows fail, nothing is written anywhere. */
	close(cfd);
	close(lfd);
	T_CHECK(display_show(d, l3, 2) == -1);
	/* It comes back on the same port: the next show gets through. */
	T_REQUIRE((lfd = listen_on(port)) != -1);
	deadline = t_now_ms() + 8000;
	while (t_now_ms() < deadline && (r = display_show(d, l3, 2)) == -1)
		poll(NULL, 0, 50);
	T_CHECK(r == 0);
	T_REQUIRE((cfd = accept_one(lfd)) != -1);
	T_CHECK(read_msg(cfd, buf, sizeof(buf)) == 0);
	T_STREQ(buf, "沪B54321\n允许通行\n\n");
	log_drain(logbuf, sizeof(logbuf));
	T_CHECK(strstr(logbuf, "display.disconnected") != NULL);
	T_CHECK(strstr(logbuf, "display.error") != NULL);
	p = strstr(logbuf, "display.connected");
	T_CHECK(p != NULL && strstr(p + 1, "display.connected") != NULL);
	close(cfd);
	close(lfd);
	display_close(d);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned int)getpid() ^ (unsigned int)t_now_ms());
	T_REQUIRE(pipe(logpipe) == 0);
	fcntl(logpipe[0], F_SETFL, O_NONBLOCK);
	gk_log_set_fd(logpipe[1]);
	test_line_ok();
	test_open_specs();
	test_log_driver();
	test_tcp_driver();
	return T_DONE();
}
