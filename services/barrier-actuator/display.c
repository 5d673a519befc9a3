/*
 * Lane display drivers (see display.h): the checks every text passes before any
 * driver sees it, the log driver, and the line-oriented TCP text driver.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatekit/log.h"
#include "gatekit/util.h"
#include "display.h"

#define TCP_TIMEOUT_MS		500	/* connect and write, each */
#define TCP_BACKOFF_MIN_MS	200
#define TCP_BACKOFF_MAX_MS	5000
#define TEXT_MAX		(DISPLAY_LINES_MAX * (DISPLAY_LINE_MAX + 1) + 2)

struct display {
	const struct display_driver	*drv;
	void				*st;
};

int
display_line_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp, min;
	int i, len;

	while (*p != '\0') {
		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			len = 2, cp = *p & 0x1f, min = 0x80;
		} else if ((*p & 0xf0) == 0xe0) {
			len = 3, cp = *p & 0x0f, min = 0x800;
		} else if ((*p & 0xf8) == 0xf0) {
			len = 4, cp = *p & 0x07, min = 0x10000;
		} else
			return 0;
		for (i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates and beyond U+10FFFF are not UTF-8. */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		if (cp >= 0x80 && cp <= 0x9f)	/* C1 controls */
			return 0;
		p += len;
	}
	return 1;
}

/*
 * Joins lines into buf, each followed by sep; an empty line becomes one space so it
 * cannot end a TCP message early. Returns the length, or -1 when a line is bad.
 */
static int
join(char *buf, size_t size, const char *const lines[], size_t n, char sep,
    char *why, size_t whylen)
{
	size_t i, len, off = 0;

	for (i = 0; i < n; i++) {
		if (lines[i] == NULL || (len = strlen(lines[i])) >= DISPLAY_LINE_MAX) {
			gk_errf(why, whylen, "line %zu missing or longer than %d bytes",
			    i + 1, DISPLAY_LINE_MAX - 1);
			return -1;
		}
		if (!display_line_ok(lines[i])) {
			gk_errf(why, whylen, "line %zu is not UTF-8 text without control "
			    "characters", i + 1);
			return -1;
		}
		if (len == 0) {
			buf[off++] = ' ';
		} else {
			memcpy(buf + off, lines[i], len);
			off += len;
		}
		buf[off++] = sep;
	}
	(void)size;	/* TEXT_MAX covers DISPLAY_LINES_MAX full lines */
	buf[off] = '\0';
	return (int)off;
}

/* The log driver: no state, the text becomes one log event. */
static void *
log_open(const char *arg, char *err, size_t errlen)
{
	static int token;

	if (arg != NULL && *arg != '\0') {
		gk_errf(err, errlen, "display: the log driver takes no argument");
		return NULL;
	}
	return &token;
}

static int
log_show(void *st, const char *const lines[], size_t n)
{
	char text[TEXT_MAX], why[128];
	int len;

	(void)st;
	if ((len = join(text, sizeof(text), lines, n, '\n', why, sizeof(why))) == -1) {
		gk_log(GK_LOG_WARN, "display.error", "driver=log error=%s", why);
		return -1;
	}
	if (len > 0)
		text[len - 1] = '\0';	/* no trailing separator */
	gk_log(GK_LOG_INFO, "display.show", "driver=log n=%zu text=%s", n, text);
	return 0;
}

static void
log_close(void *st)
{
	(void)st;
}

const struct display_driver display_log_driver = {
	"log", log_open, log_show, log_close,
};

/* The TCP text driver. */
struct tcp_display {
	char	host[256];
	char	port[8];
	int	fd;
	int64_t	next_try_ms;
	int64_t	backoff_ms;
};

static void *
tcp_open(const char *arg, char *err, size_t errlen)
{
	struct tcp_display *t;
	const char *colon, *host = arg;
	size_t hlen;
	char *end;
	long port;

	if (*arg == '[') {
		const char *rb = strchr(arg, ']');

		if (rb == NULL || rb[1] != ':') {
			gk_errf(err, errlen, "display tcp://%s: bad IPv6 address", arg);
			return NULL;
		}
		host = arg + 1;
		hlen = (size_t)(rb - host);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(arg, ':')) == NULL) {
			gk_errf(err, errlen, "display tcp://%s: no port", arg);
			return NULL;
		}
		hlen = (size_t)(colon - arg);
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    port < 1 || port > 65535) {
		gk_errf(err, errlen, "display tcp://%s: bad port", arg);
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		gk_errf(err, errlen, "display: out of memory");
		return NULL;
	}
	if (hlen == 0 || hlen >= sizeof(t->host)) {
		gk_errf(err, errlen, "display tcp://%s: host empty or too long", arg);
		free(t);
		return NULL;
	}
	memcpy(t->host, host, hlen);
	t->host[hlen] = '\0';
	snprintf(t->port, sizeof(t->port), "%ld", port);
	t->fd = -1;
	t->backoff_ms = TCP_BACKOFF_MIN_MS;
	return t;
}

static void
tcp_drop(struct tcp_display *t)
{
	if (t->fd != -1) {
		close(t->fd);
		t->fd = -1;
	}
}

/* Waits up to TCP_TIMEOUT_MS for events on fd. Returns revents, 0 on timeout. */
static short
wait_fd(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t deadline = gk_mono_ms() + TCP_TIMEOUT_MS, left;
	int r;

	while ((left = deadline - gk_mono_ms()) > 0) {
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return pfd.revents;
		if (r == 0 || errno != EINTR)
			return r == 0 ? 0 : POLLERR;
	}
	return 0;
}

/* A non-blocking connect bounded by TCP_TIMEOUT_MS, so a board that is off cannot
 * stall the loop for the kernel's minutes. Returns the fd, or -1 with why. */
static int
tcp_connect(struct tcp_display *t, char *why, size_t whylen)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, e, soerr;
	socklen_t sl;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(t->host, t->port, &hints, &res)) != 0) {
		gk_errf(why, whylen, "resolve: %s", gai_strerror(e));
		return -1;
	}
	gk_errf(why, whylen, "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			gk_errf(why, whylen, "socket: %s", strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			if (wait_fd(fd, POLLOUT) == 0) {
				gk_errf(why, whylen, "connect: timed out");
				goto next;
			}
			soerr = 0;
			sl = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
			    soerr == 0)
				break;
			errno = soerr;
		}
		gk_errf(why, whylen, "connect: %s", strerror(errno));
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/*
 * Returns 1 when the board has closed the connection. A write to such a socket would
 * still succeed once (the kernel learns of the close only from the reply RST), and
 * the text would be lost, so check before writing. Whatever the board sent is
 * drained and ignored.
 */
static int
peer_closed(int fd)
{
	char buf[256];
	ssize_t r;

	for (;;) {
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0)
			continue;
		if (r == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno != EAGAIN && errno != EWOULDBLOCK;
	}
}

static int
send_all(int fd, const char *buf, size_t len, char *why, size_t whylen)
{
	ssize_t w;

	while (len > 0) {
		w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w > 0) {
			buf += w;
			len -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT) & POLLOUT)
				continue;
			gk_errf(why, whylen, "write: timed out");
			return -1;
		}
		gk_errf(why, whylen, "write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int
tcp_show(void *st, const char *const lines[], size_t n)
{
	struct tcp_display *t = st;
	char text[TEXT_MAX], why[160];
	int len, attempt;
	int64_t now;

	if ((len = join(text, sizeof(text), lines, n, '\n', why, sizeof(why))) == -1)
		goto fail;
	text[len++] = '\n';	/* the empty line that ends the message */
	text[len] = '\0';
	if (t->fd != -1 && peer_closed(t->fd)) {
		gk_log(GK_LOG_INFO, "display.disconnected", "host=%s port=%s", t->host,
		    t->port);
		tcp_drop(t);
	}
	/* Two attempts: a connection that broke under us is made again at once. */
	for (attempt = 0; attempt < 2; attempt++) {
		if (t->fd == -1) {
			now = gk_mono_ms();
			if (now < t->next_try_ms) {
				gk_errf(why, sizeof(why), "not connected, next try in %lld ms",
				    (long long)(t->next_try_ms - now));
				goto fail;
			}
			if ((t->fd = tcp_connect(t, why, sizeof(why))) == -1) {
				t->next_try_ms = now + t->backoff_ms;
				t->backoff_ms = t->backoff_ms * 2 > TCP_BACKOFF_MAX_MS ?
				    TCP_BACKOFF_MAX_MS : t->backoff_ms * 2;
				goto fail;
			}
			t->backoff_ms = TCP_BACKOFF_MIN_MS;
			gk_log(GK_LOG_INFO, "display.connected", "host=%s port=%s",
			    t->host, t->port);
		}
		if (send_all(t->fd, text, (size_t)len, why, sizeof(why)) == 0)
			return 0;
		tcp_drop(t);
	}
fail:
	gk_log(GK_LOG_WARN, "display.error", "driver=tcp host=%s port=%s error=%s",
	    t->host, t->port, why);
	return -1;
}

static void
tcp_close(void *st)
{
	struct tcp_display *t = st;

	if (t == NULL)
		return;
	tcp_drop(t);
	free(t);
}

const struct display_driver display_tcp_driver = {
	"tcp", tcp_open, tcp_show, tcp_close,
};

struct display *
display_open(const char *spec, char *err, size_t errlen)
{
	const struct display_driver *drv;
	struct display *d;
	const char *arg;

	if (strcmp(spec, "log") == 0) {
		drv = &display_log_driver;
		arg = "";
	} else if (strncmp(spec, "tcp://", 6) == 0) {
		drv = &display_tcp_driver;
		arg = spec + 6;
	} else {
		gk_errf(err, errlen, "display '%s': want \"log\" or \"tcp://HOST:PORT\"",
		    spec);
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		gk_errf(err, errlen, "display: out of memory");
		return NULL;
	}
	d->drv = drv;
	if ((d->st = drv->open(arg, err, errlen)) == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

int
display_show(struct display *d, const char *const lines[], size_t n)
{
	if (n > DISPLAY_LINES_MAX) {
		gk_log(GK_LOG_WARN, "display.error", "driver=%s error=%s", d->drv->name,
		    "too many lines");
		return -1;
	}
	return d->drv->show(d->st, lines, n);
}

const char *
display_driver_name(const struct display *d)
{
	return d->drv->name;
}

void
display_close(struct display *d)
{
	if (d == NULL)
		return;
	d->drv->close(d->st);
	free(d);
}
