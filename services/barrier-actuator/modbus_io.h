/*
 * The relay/IO module that drives a barrier, spoken to over Modbus TCP or Modbus RTU
 * through libmodbus, behind an opaque handle so no libmodbus type leaks into the
 * daemon. libmodbus is blocking: every call here waits at most the response timeout
 * (default 200 ms), so the daemon polls the inputs on a loop timer and a dead module
 * costs one timeout per poll, never a hung loop. A failed call closes the connection;
 * the next call reconnects, but no sooner than a capped exponential backoff with jitter
 * allows, so a dead module is not hammered. A Modbus exception answer (illegal address
 * and the like) is an error of the request, not of the link, and keeps the connection.
 *
 * Not thread-safe: one loop thread owns the handle.
 */
#ifndef MODBUS_IO_H
#define MODBUS_IO_H

#include <stddef.h>
#include <stdint.h>

#define MODBUS_IO_HOST_LEN	256
#define MODBUS_IO_MAX_BITS	2000	/* Modbus limit for one read of bits */

enum modbus_io_mode {
	MODBUS_IO_TCP = 1,
	MODBUS_IO_RTU,
};

struct modbus_io_cfg {
	enum modbus_io_mode	 mode;
	char			 host[MODBUS_IO_HOST_LEN];	/* TCP: address or name */
	int			 port;				/* TCP: default 502 */
	char			 device[MODBUS_IO_HOST_LEN];	/* RTU: /dev/ttyUSB0 */
	int			 baud;				/* RTU: default 9600 */
	char			 parity;			/* RTU: 'N', 'E' or 'O' */
	int			 data_bits;			/* RTU: 5-8, default 8 */
	int			 stop_bits;			/* RTU: 1 or 2 */
	int			 unit_id;			/* slave/unit id, default 1 */
	int64_t			 response_timeout_ms;		/* default 200 */
	int64_t			 backoff_min_ms;		/* default 250 */
	int64_t			 backoff_max_ms;		/* default 10000 */
};

struct modbus_io_stats {
	uint64_t	requests;	/* reads and writes attempted on a connection */
	uint64_t	errors;		/* requests that failed */
	uint64_t	connects;	/* successful connects */
	uint64_t	connect_fails;
};

struct modbus_io;

/* Fills cfg with defaults: TCP 127.0.0.1:502, unit 1, RTU 9600 8N1, 200 ms timeout,
 * backoff 250 ms to 10 s. */
void	modbus_io_cfg_default(struct modbus_io_cfg *cfg);

/*
 * Parses a target into cfg (other fields kept): "tcp://HOST:PORT" (IPv6 as
 * "tcp://[::1]:502") or "rtu:DEVICE[,BAUD[,8N1]]" such as "rtu:/dev/ttyUSB0,19200,8E1".
 * Returns 0, or -1 with the reason in err (over-long names are rejected).
 */
int	modbus_io_cfg_parse(struct modbus_io_cfg *cfg, const char *target, char *err,
	    size_t errlen);

/* Returns a handle (not yet connected; the first call connects), or NULL with the
 * reason in err when cfg is invalid. Owned by the caller: modbus_io_free(). */
struct modbus_io *modbus_io_new(const struct modbus_io_cfg *cfg, char *err,
	    size_t errlen);
void	modbus_io_free(struct modbus_io *io);

/*
 * Reads n (1-MODBUS_IO_MAX_BITS) discrete inputs from addr into bits[0..n-1] (0 or
 * 1). Returns 0, or -1 with the reason (modbus_strerror's text, or "backing off")
 * in err.
 */
int	modbus_io_read_inputs(struct modbus_io *io, int addr, int n, uint8_t *bits,
	    char *err, size_t errlen);

/* Reads n coils from addr into bits, like modbus_io_read_inputs. */
int	modbus_io_read_coils(struct modbus_io *io, int addr, int n, uint8_t *bits,
	    char *err, size_t errlen);

/* Reads n (1-125) input registers from addr into regs. Returns 0 or -1 with err. */
int	modbus_io_read_input_regs(struct modbus_io *io, int addr, int n, uint16_t *regs,
	    char *err, size_t errlen);

/* Sets coil addr on (on != 0) or off. A pulse is two calls, the off from a timer.
 * Returns 0, or -1 with the reason in err. */
int	modbus_io_write_coil(struct modbus_io *io, int addr, int on, char *err,
	    size_t errlen);

/* 1 while a connection is open, else 0. */
int	modbus_io_connected(const struct modbus_io *io);

/* Copies the counters. */
void	modbus_io_stats(const struct modbus_io *io, struct modbus_io_stats *st);

#endif
