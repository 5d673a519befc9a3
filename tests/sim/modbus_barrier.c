/*
 * modbus_barrier: a barrier and its relay/IO module, simulated behind a Modbus TCP
 * server (libmodbus), so the barrier-actuator's tests and the end-to-end tests can
 * drive real Modbus traffic and watch a motor that takes time to move.
 *
 * Usage:
 *	modbus_barrier [--port N] [--bind ADDR] [--travel-ms MS] [--stuck]
 *	    [--start closed|open] [--stamp]
 *
 *	--port N	TCP port (default 15020); --bind ADDR: default 127.0.0.1
 *	--travel-ms MS	time for a full rise or fall (default 1500)
 *	--stuck		the barrier never reaches the top: an open stalls half way
 *	--start S	initial position, closed (default) or open
 *	--stamp		end each pulse line with " t_us=N", N the CLOCK_MONOTONIC time
 *			of the write in microseconds (for tests/bench: the same clock in
 *			every process, so a benchmark can time command -> coil)
 *
 * Modbus map (addresses from 0; any unit id is answered):
 *	coil 0		open: a 0->1 write starts the rise (the actuator pulses it)
 *	coil 1		close: a 0->1 write starts the fall
 *	coil 8		control channel, the loop detector: write 1 = a vehicle stands on
 *			the loop, 0 = loop free (tests set occupancy through this)
 *	coil 9		fault injection: 1 = up and down inputs both on
 *	input 0, 1, 2	barrier up, barrier down, loop occupied
 *	input reg 0	open pulses seen (0->1 writes of coil 0)
 *	input reg 1	close pulses seen
 *	input reg 2	close pulses seen while the loop was occupied (must stay 0)
 *	input reg 3	position in per mille, 0 = down, 1000 = up
 *
 * Prints "modbus_barrier.listening port=N" on stdout once it accepts connections,
 * then one line per pulse and per end position reached. Runs until SIGTERM or
 * SIGINT (exit 0). Exit 2 when the port cannot be bound (the caller picks another
 * port), 1 on other errors.
 */
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#define COIL_OPEN	0
#define COIL_CLOSE	1
#define COIL_LOOP	8
#define COIL_FAULT	9
#define IN_UP		0
#define IN_DOWN		1
#define IN_LOOP		2
#define REG_OPENS	0
#define REG_CLOSES	1
#define REG_VIOLATIONS	2
#define REG_POS		3
#define MAX_CLIENTS	16

static volatile sig_atomic_t stop;
static int stamp;	/* --stamp */

struct motor {
	int64_t	travel_ms;
	int64_t	pos;		/* 0 (down) .. travel_ms (up) */
	int	dir;		/* +1 rising, -1 falling, 0 still */
	int	stuck;
	int64_t	last_ms;
};

static void
on_signal(int signo)
{
	(void)signo;
	stop = 1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line per pulse: "pulse coil=N", stamped with --stamp. */
static void
print_pulse(int coil)
{
	struct timespec ts;

	if (!stamp) {
		printf("pulse coil=%d\n", coil);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("pulse coil=%d t_us=%lld\n", coil,
	    (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

static void
motor_run(struct motor *m, int64_t now)
{
	int64_t limit = m->stuck ? m->travel_ms / 2 : m->travel_ms;

	if (m->dir > 0 && m->pos < limit) {
		m->pos += now - m->last_ms;
		if (m->pos >= limit) {
			m->pos = limit;
			m->dir = 0;
			printf(m->stuck ? "stalled\n" : "up\n");
		}
	} else if (m->dir < 0) {
		m->pos -= now - m->last_ms;
		if (m->pos <= 0) {
			m->pos = 0;
			m->dir = 0;
			printf("down\n");
		}
	}
	m->last_ms = now;
}

/* Mirrors the motor and the control coils into the inputs the module reports. */
static void
publish(const struct motor *m, modbus_mapping_t *map)
{
	int both = map->tab_bits[COIL_FAULT] != 0;

	map->tab_input_bits[IN_UP] = both || m->pos >= m->travel_ms;
	map->tab_input_bits[IN_DOWN] = both || m->pos <= 0;
	map->tab_input_bits[IN_LOOP] = map->tab_bits[COIL_LOOP] != 0;
	map->tab_input_registers[REG_POS] = (uint16_t)(m->pos * 1000 / m->travel_ms);
}

static void
usage(void)
{
	fprintf(stderr, "usage: modbus_barrier [--port N] [--bind ADDR] "
	    "[--travel-ms MS] [--stuck] [--start closed|open] [--stamp]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "travel-ms", required_argument, NULL, 't' },
		{ "stuck", no_argument, NULL, 's' },
		{ "start", required_argument, NULL, 'S' },
		{ "stamp", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct motor m = { .travel_ms = 1500 };
	struct pollfd pfd[MAX_CLIENTS + 1];
	uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
	modbus_mapping_t *map = NULL;
	modbus_t *ctx = NULL;
	const char *bind_addr = "127.0.0.1";
	struct sigaction sa;
	int port = 15020, lfd = -1, nfd = 0, i, c, rc, ret = 1;
	uint8_t open_was, close_was;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			port = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || port < 1 || port > 65535)
				usage();
			break;
		case 'b':
			bind_addr = optarg;
			break;
		case 't':
			m.travel_ms = strtol(optarg, &end, 10);
			if (*end != '\0' || m.travel_ms < 10 || m.travel_ms > 600000)
				usage();
			break;
		case 's':
			m.stuck = 1;
			break;
		case 'T':
			stamp = 1;
			break;
		case 'S':
			if (strcmp(optarg, "open") == 0)
				m.pos = -1;	/* set below, once travel_ms is final */
			else if (strcmp(optarg, "closed") != 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (m.pos == -1)
		m.pos = m.travel_ms;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((ctx = modbus_new_tcp(bind_addr, port)) == NULL ||
	    (map = modbus_mapping_new(16, 16, 0, 16)) == NULL) {
		fprintf(stderr, "modbus_barrier: %s\n", modbus_strerror(errno));
		goto done;
	}
	if ((lfd = modbus_tcp_listen(ctx, 8)) == -1) {
		fprintf(stderr, "modbus_barrier: listen %s:%d: %s\n", bind_addr, port,
		    modbus_strerror(errno));
		ret = errno == EADDRINUSE ? 2 : 1;
		goto done;
	}
	m.last_ms = now_ms();
	publish(&m, map);
	printf("modbus_barrier.listening port=%d\n", port);
	fflush(stdout);

	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	nfd = 1;
	while (!stop) {
		rc = poll(pfd, (nfds_t)nfd, 10);
		motor_run(&m, now_ms());
		publish(&m, map);
		if (rc <= 0)
			goto flush;
		if (pfd[0].revents & POLLIN) {
			int s = accept(lfd, NULL, NULL);

			if (s != -1 && nfd <= MAX_CLIENTS) {
				pfd[nfd].fd = s;
				pfd[nfd].events = POLLIN;
				pfd[nfd].revents = 0;
				nfd++;
			} else if (s != -1)
				close(s);
		}
		for (i = 1; i < nfd; i++) {
			if (pfd[i].revents == 0)
				continue;
			modbus_set_socket(ctx, pfd[i].fd);
			rc = modbus_receive(ctx, query);
			if (rc > 0) {
				open_was = map->tab_bits[COIL_OPEN];
				close_was = map->tab_bits[COIL_CLOSE];
				modbus_reply(ctx, query, rc, map);
				if (!open_was && map->tab_bits[COIL_OPEN]) {
					map->tab_input_registers[REG_OPENS]++;
					m.dir = 1;
					print_pulse(COIL_OPEN);
				}
				if (!close_was && map->tab_bits[COIL_CLOSE]) {
					map->tab_input_registers[REG_CLOSES]++;
					if (map->tab_bits[COIL_LOOP])
						map->tab_input_registers[REG_VIOLATIONS]++;
					m.dir = -1;
					print_pulse(COIL_CLOSE);
				}
				publish(&m, map);
			} else if (rc == -1) {
				close(pfd[i].fd);
				pfd[i] = pfd[--nfd];
				i--;
			}
		}
flush:
		fflush(stdout);
	}
	ret = 0;
done:
	for (i = 1; lfd != -1 && i < nfd; i++)
		close(pfd[i].fd);
	if (lfd != -1)
		close(lfd);
	modbus_mapping_free(map);
	if (ctx != NULL)
		modbus_free(ctx);
	return ret;
}
