/*
 * libmodbus behind modbus_io.h: connection, bounded waits, reconnect with backoff.
 * Every libmodbus type and errno convention stays in this file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modbus.h>

#include "gatekit/log.h"
#include "gatekit/util.h"
#include "modbus_io.h"

struct modbus_io {
	struct modbus_io_cfg	 cfg;
	modbus_t		*ctx;
	int			 connected;
	int64_t			 next_try_ms;	/* no connect attempt before this */
	int64_t			 backoff_ms;	/* the next wait after a failed connect */
	uint64_t		 rnd;		/* jitter state */
	char			 name[MODBUS_IO_HOST_LEN + 16];	/* for logs */
	struct modbus_io_stats	 st;
};

void
modbus_io_cfg_default(struct modbus_io_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = MODBUS_IO_TCP;
	gk_strlcpy(cfg->host, "127.0.0.1", sizeof(cfg->host));
	cfg->port = 502;
	cfg->baud = 9600;
	cfg->parity = 'N';
	cfg->data_bits = 8;
	cfg->stop_bits = 1;
	cfg->unit_id = 1;
	cfg->response_timeout_ms = 200;
	cfg->backoff_min_ms = 250;
	cfg->backoff_max_ms = 10000;
}

/* Parses a decimal int in [min, max] from the whole of s. */
static int
parse_int(const char *s, int min, int max, int *v)
{
	char *end;
	long l;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	l = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || l < min || l > max)
		return -1;
	*v = (int)l;
	return 0;
}

static int
parse_tcp(struct modbus_io_cfg *cfg, const char *s, char *err, size_t errlen)
{
	const char *colon, *host = s;
	size_t hlen;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':') {
			gk_errf(err, errlen, "modbus target: bad IPv6 address in '%s'", s);
			return -1;
		}
		host = s + 1;
		hlen = (size_t)(rb - host);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			gk_errf(err, errlen, "modbus target: no port in 'tcp://%s'", s);
			return -1;
		}
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(cfg->host)) {
		gk_errf(err, errlen, "modbus target: host empty or longer than %zu bytes",
		    sizeof(cfg->host) - 1);
		return -1;
	}
	if (parse_int(colon + 1, 1, 65535, &cfg->port) == -1) {
		gk_errf(err, errlen, "modbus target: bad port '%s'", colon + 1);
		return -1;
	}
	memcpy(cfg->host, host, hlen);
	cfg->host[hlen] = '\0';
	cfg->mode = MODBUS_IO_TCP;
	return 0;
}

static int
parse_rtu(struct modbus_io_cfg *cfg, const char *s, char *err, size_t errlen)
{
	char buf[MODBUS_IO_HOST_LEN + 32], *dev, *baud, *frame;
	int bits, baudv;

	if (gk_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf)) {
		gk_errf(err, errlen, "modbus target: rtu target too long");
		return -1;
	}
	dev = buf;
	if ((baud = strchr(dev, ',')) != NULL)
		*baud++ = '\0';
	frame = baud != NULL ? strchr(baud, ',') : NULL;
	if (frame != NULL)
		*frame++ = '\0';
	if (*dev == '\0' || strlen(dev) >= sizeof(cfg->device)) {
		gk_errf(err, errlen, "modbus target: rtu device empty or too long");
		return -1;
	}
	if (baud != NULL && parse_int(baud, 50, 4000000, &baudv) == -1) {
		gk_errf(err, errlen, "modbus target: bad baud rate '%s'", baud);
		return -1;
	}
	if (frame != NULL) {
		if (strlen(frame) != 3 || frame[0] < '5' || frame[0] > '8' ||
		    strchr("NEO", frame[1]) == NULL || frame[1] == '\0' ||
		    (frame[2] != '1' && frame[2] != '2')) {
			gk_errf(err, errlen, "modbus target: bad frame '%s' (like 8N1)",
			    frame);
			return -1;
		}
		bits = frame[0] - '0';
		cfg->data_bits = bits;
		cfg->parity = frame[1];
		cfg->stop_bits = frame[2] - '0';
	}
	if (baud != NULL)
		cfg->baud = baudv;
	gk_strlcpy(cfg->device, dev, sizeof(cfg->device));
	cfg->mode = MODBUS_IO_RTU;
	return 0;
}

int
modbus_io_cfg_parse(struct modbus_io_cfg *cfg, const char *target, char *err,
    size_t errlen)
{
	if (strncmp(target, "tcp://", 6) == 0)
		return parse_tcp(cfg, target + 6, err, errlen);
	if (strncmp(target, "rtu:", 4) == 0)
		return parse_rtu(cfg, target + 4, err, errlen);
	gk_errf(err, errlen, "modbus target '%s': want tcp://HOST:PORT or "
	    "rtu:DEVICE[,BAUD[,8N1]]", target);
	return -1;
}

struct modbus_io *
modbus_io_new(const struct modbus_io_cfg *cfg, char *err, size_t errlen)
{
	struct modbus_io *io;
	char port[16];
	int64_t to;

	if (cfg->unit_id < 0 || cfg->unit_id > 247 || cfg->response_timeout_ms <= 0 ||
	    cfg->response_timeout_ms > 60000 || cfg->backoff_min_ms <= 0 ||
	    cfg->backoff_max_ms < cfg->backoff_min_ms) {
		gk_errf(err, errlen, "modbus: unit id 0-247, timeout 1-60000 ms and "
		    "backoff min <= max required");
		return NULL;
	}
	if ((io = calloc(1, sizeof(*io))) == NULL) {
		gk_errf(err, errlen, "modbus: out of memory");
		return NULL;
	}
	io->cfg = *cfg;
	if (cfg->mode == MODBUS_IO_TCP) {
		snprintf(port, sizeof(port), "%d", cfg->port);
		io->ctx = modbus_new_tcp_pi(cfg->host, port);
		snprintf(io->name, sizeof(io->name), "%s:%d", cfg->host, cfg->port);
	} else if (cfg->mode == MODBUS_IO_RTU) {
		io->ctx = modbus_new_rtu(cfg->device, cfg->baud, cfg->parity,
		    cfg->data_bits, cfg->stop_bits);
		snprintf(io->name, sizeof(io->name), "%s", cfg->device);
	} else {
		gk_errf(err, errlen, "modbus: unknown mode %d", (int)cfg->mode);
		goto fail;
	}
	if (io->ctx == NULL) {
		gk_errf(err, errlen, "modbus %s: %s", io->name, modbus_strerror(errno));
		goto fail;
	}
	to = cfg->response_timeout_ms;
	if (modbus_set_slave(io->ctx, cfg->unit_id) == -1 ||
	    modbus_set_response_timeout(io->ctx, (uint32_t)(to / 1000),
	    (uint32_t)(to % 1000) * 1000) == -1 ||
	    modbus_set_byte_timeout(io->ctx, (uint32_t)(to / 1000),
	    (uint32_t)(to % 1000) * 1000) == -1) {
		gk_errf(err, errlen, "modbus %s: %s", io->name, modbus_strerror(errno));
		goto fail;
	}
	io->backoff_ms = cfg->backoff_min_ms;
	io->rnd = (uint64_t)gk_mono_ms() ^ (uint64_t)(uintptr_t)io ^ 0x9e3779b97f4a7c15ULL;
	return io;
fail:
	if (io->ctx != NULL)
		modbus_free(io->ctx);
	free(io);
	return NULL;
}

void
modbus_io_free(struct modbus_io *io)
{
	if (io == NULL)
		return;
	if (io->connected)
		modbus_close(io->ctx);
	modbus_free(io->ctx);
	free(io);
}

/* A wait between backoff/2 and backoff, so many actuators restarted together do not
 * reconnect in step. */
static int64_t
jitter(struct modbus_io *io, int64_t ms)
{
	io->rnd ^= io->rnd << 13;
	io->rnd ^= io->rnd >> 7;
	io->rnd ^= io->rnd << 17;
	return ms / 2 + (int64_t)(io->rnd % (uint64_t)(ms / 2 + 1));
}

/* Connects when not connected and the backoff allows. Returns 0 or -1 with err. */
static int
ensure(struct modbus_io *io, char *err, size_t errlen)
{
	int64_t now;

	if (io->connected)
		return 0;
	now = gk_mono_ms();
	if (now < io->next_try_ms) {
		gk_errf(err, errlen, "modbus %s: not connected, next try in %lld ms",
		    io->name, (long long)(io->next_try_ms - now));
		return -1;
	}
	if (modbus_connect(io->ctx) == -1) {
		gk_errf(err, errlen, "modbus %s: connect: %s", io->name,
		    modbus_strerror(errno));
		io->st.connect_fails++;
		io->next_try_ms = now + jitter(io, io->backoff_ms);
		io->backoff_ms = io->backoff_ms * 2 > io->cfg.backoff_max_ms ?
		    io->cfg.backoff_max_ms : io->backoff_ms * 2;
		return -1;
	}
	io->connected = 1;
	io->backoff_ms = io->cfg.backoff_min_ms;
	io->st.connects++;
	gk_log(GK_LOG_INFO, "modbus.connected", "target=%s", io->name);
	return 0;
}

/* Records a failed request; drops the link unless the module answered with an
 * exception (it is alive, the request was wrong). Returns -1. */
static int
failed(struct modbus_io *io, const char *what, char *err, size_t errlen)
{
	int e = errno;

	io->st.errors++;
	gk_errf(err, errlen, "modbus %s: %s: %s", io->name, what, modbus_strerror(e));
	if (e >= EMBXILFUN && e <= EMBXGTAR)
		return -1;
	modbus_close(io->ctx);
	io->connected = 0;
	/* The first reconnect is immediate: most errors are a restarted module. */
	io->next_try_ms = 0;
	gk_log(GK_LOG_WARN, "modbus.disconnected", "target=%s what=%s error=%s",
	    io->name, what, modbus_strerror(e));
	return -1;
}

static int
bits_args_ok(int addr, int n, char *err, size_t errlen)
{
	if (addr < 0 || addr > 65535 || n < 1 || n > MODBUS_IO_MAX_BITS ||
	    addr + n > 65536) {
		gk_errf(err, errlen, "modbus: bad range addr %d n %d", addr, n);
		return 0;
	}
	return 1;
}

int
modbus_io_read_inputs(struct modbus_io *io, int addr, int n, uint8_t *bits,
    char *err, size_t errlen)
{
	if (!bits_args_ok(addr, n, err, errlen) || ensure(io, err, errlen) == -1)
		return -1;
	io->st.requests++;
	if (modbus_read_input_bits(io->ctx, addr, n, bits) != n)
		return failed(io, "read inputs", err, errlen);
	return 0;
}

int
modbus_io_read_coils(struct modbus_io *io, int addr, int n, uint8_t *bits,
    char *err, size_t errlen)
{
	if (!bits_args_ok(addr, n, err, errlen) || ensure(io, err, errlen) == -1)
		return -1;
	io->st.requests++;
	if (modbus_read_bits(io->ctx, addr, n, bits) != n)
		return failed(io, "read coils", err, errlen);
	return 0;
}

int
modbus_io_read_input_regs(struct modbus_io *io, int addr, int n, uint16_t *regs,
    char *err, size_t errlen)
{
	if (addr < 0 || addr > 65535 || n < 1 || n > 125 || addr + n > 65536) {
		gk_errf(err, errlen, "modbus: bad register range addr %d n %d", addr, n);
		return -1;
	}
	if (ensure(io, err, errlen) == -1)
		return -1;
	io->st.requests++;
	if (modbus_read_input_registers(io->ctx, addr, n, regs) != n)
		return failed(io, "read input registers", err, errlen);
	return 0;
}

int
modbus_io_write_coil(struct modbus_io *io, int addr, int on, char *err, size_t errlen)
{
	if (!bits_args_ok(addr, 1, err, errlen) || ensure(io, err, errlen) == -1)
		return -1;
	io->st.requests++;
	if (modbus_write_bit(io->ctx, addr, on ? 1 : 0) != 1)
		return failed(io, "write coil", err, errlen);
	return 0;
}

int
modbus_io_connected(const struct modbus_io *io)
{
	return io->connected;
}

void
modbus_io_stats(const struct modbus_io *io, struct modbus_io_stats *st)
{
	*st = io->st;
}
