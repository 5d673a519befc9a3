/*
 * The Modbus wrapper against the simulated barrier (tests/sim/modbus_barrier, path in
 * $MODBUS_BARRIER), started here as a child on a random port in 15000-15999: an open
 * pulse raises the barrier, a stuck barrier never reports up, a killed module gives
 * read errors and the wrapper reconnects once it is back. Every wait is a poll on a
 * condition with a deadline.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "t.h"
#include "modbus_io.h"

#define TRAVEL_MS	"300"

static const char *sim_path;

/*
 * Starts the simulator on port with up to two extra arguments and waits for its
 * "listening" line. Returns its pid, 0 when the port was taken, -1 on other failures.
 */
static pid_t
sim_start(int port, const char *a1, const char *a2)
{
	char portbuf[16], buf[256];
	struct pollfd pfd;
	size_t have = 0;
	long long deadline;
	int p[2], status;
	ssize_t r;
	pid_t pid;

	snprintf(portbuf, sizeof(portbuf), "%d", port);
	if (pipe(p) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execl(sim_path, sim_path, "--port", portbuf, "--travel-ms", TRAVEL_MS,
		    a1, a2, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	deadline = t_now_ms() + 10000;
	while (t_now_ms() < deadline && have < sizeof(buf) - 1) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((r = read(p[0], buf + have, sizeof(buf) - 1 - have)) <= 0)
			break;
		have += (size_t)r;
		buf[have] = '\0';
		if (strstr(buf, "modbus_barrier.listening") != NULL &&
		    strchr(buf, '\n') != NULL) {
			close(p[0]);	/* later lines go nowhere; the sim ignores EPIPE */
			return pid;
		}
	}
	close(p[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 2 ? 0 : -1;
}

/* Picks a random port in 15000-15999 until the simulator binds one. */
static pid_t
sim_start_any(int *port, const char *a1, const char *a2)
{
	pid_t pid;
	int i;

	for (i = 0; i < 20; i++) {
		*port = 15000 + (int)(random() % 1000);
		if ((pid = sim_start(*port, a1, a2)) != 0)
			return pid;
	}
	return -1;
}

static void
sim_kill(pid_t pid, int sig)
{
	long long deadline = t_now_ms() + 5000;
	int status;

	kill(pid, sig);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (t_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return;
		}
		poll(NULL, 0, 10);
	}
}

static struct modbus_io *
io_for(int port)
{
	struct modbus_io_cfg cfg;
	struct modbus_io *io;
	char err[256];

	modbus_io_cfg_default(&cfg);
	cfg.port = port;
	cfg.backoff_min_ms = 50;
	cfg.backoff_max_ms = 400;
	io = modbus_io_new(&cfg, err, sizeof(err));
	if (io == NULL)
		fprintf(stderr, "modbus_io_new: %s\n", err);
	return io;
}

static int
pulse(struct modbus_io *io, int coil)
{
	char err[256];

	if (modbus_io_write_coil(io, coil, 1, err, sizeof(err)) == -1 ||
	    modbus_io_write_coil(io, coil, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "pulse: %s\n", err);
		return -1;
	}
	return 0;
}

/* Polls the inputs until input idx reads want, up to ms. Returns 0 or -1. */
static int
wait_input(struct modbus_io *io, int idx, int want, long long ms)
{
	long long deadline = t_now_ms() + ms;
	uint8_t bits[3];
	char err[256];

	while (t_now_ms() < deadline) {
		if (modbus_io_read_inputs(io, 0, 3, bits, err, sizeof(err)) == 0 &&
		    bits[idx] == want)
			return 0;
		poll(NULL, 0, 20);
	}
	return -1;
}

static void
test_parse(void)
{
	struct modbus_io_cfg cfg;
	char err[256], big[400];

	modbus_io_cfg_default(&cfg);
	T_CHECK(cfg.mode == MODBUS_IO_TCP && cfg.port == 502 && cfg.unit_id == 1);
	T_CHECK(cfg.response_timeout_ms == 200);
	T_CHECK(modbus_io_cfg_parse(&cfg, "tcp://10.1.2.3:1502", err, sizeof(err)) == 0);
	T_STREQ(cfg.host, "10.1.2.3");
	T_CHECK(cfg.port == 1502 && cfg.mode == MODBUS_IO_TCP);
	T_CHECK(modbus_io_cfg_parse(&cfg, "tcp://[::1]:502", err, sizeof(err)) == 0);
	T_STREQ(cfg.host, "::1");
	T_CHECK(modbus_io_cfg_parse(&cfg, "tcp://relay", err, sizeof(err)) == -1);
	T_CHECK(strstr(err, "no port") != NULL);
	T_CHECK(modbus_io_cfg_parse(&cfg, "tcp://relay:0", err, sizeof(err)) == -1);
	T_CHECK(modbus_io_cfg_parse(&cfg, "tcp://relay:65536", err, sizeof(err)) == -1);
	T_CHECK(modbus_io_cfg_parse(&cfg, "tcp://:502", err, sizeof(err)) == -1);
	T_CHECK(modbus_io_cfg_parse(&cfg, "tcp://relay:50x", err, sizeof(err)) == -1);
	T_CHECK(modbus_io_cfg_parse(&cfg, "rtu:/dev/ttyUSB0,19200,8E1", err,
	    sizeof(err)) == 0);
	T_STREQ(cfg.device, "/dev/ttyUSB0");
	T_CHECK(cfg.mode == MODBUS_IO_RTU && cfg.baud == 19200);
	T_CHECK(cfg.data_bits == 8 && cfg.parity == 'E' && cfg.stop_bits == 1);
	modbus_io_cfg_default(&cfg);
	T_CHECK(modbus_io_cfg_parse(&cfg, "rtu:/dev/ttyS1", err, sizeof(err)) == 0);
	T_CHECK(cfg.baud == 9600 && cfg.parity == 'N' && cfg.stop_bits == 1);
	T_CHECK(modbus_io_cfg_parse(&cfg, "rtu:/dev/ttyS1,9600,8X1", err,
	    sizeof(err)) == -1);
	T_CHECK(modbus_io_cfg_parse(&cfg, "rtu:/dev/ttyS1,fast", err, sizeof(err)) == -1);
	T_CHECK(modbus_io_cfg_parse(&cfg, "rtu:", err, sizeof(err)) == -1);
	T_CHECK(modbus_io_cfg_parse(&cfg, "udp://relay:502", err, sizeof(err)) == -1);
	memset(big, 'a', sizeof(big));
	memcpy(big, "tcp://", 6);
	strcpy(big + sizeof(big) - 6, ":502");
	T_CHECK(modbus_io_cfg_parse(&cfg, big, err, sizeof(err)) == -1);
	cfg.unit_id = 300;
	T_CHECK(modbus_io_new(&cfg, err, sizeof(err)) == NULL);
}

static void
test_open_and_loop(void)
{
	struct modbus_io_stats st;
	struct modbus_io *io;
	uint16_t regs[4];
	uint8_t bits[3];
	char err[256];
	pid_t pid;
	int port;

	T_REQUIRE((pid = sim_start_any(&port, NULL, NULL)) > 0);
	T_REQUIRE((io = io_for(port)) != NULL);
	T_CHECK(modbus_io_connected(io) == 0);
	T_CHECKF(modbus_io_read_inputs(io, 0, 3, bits, err, sizeof(err)) == 0, "%s", err);
	T_CHECK(modbus_io_connected(io) == 1);
	T_CHECK(bits[0] == 0 && bits[1] == 1 && bits[2] == 0);	/* closed, loop free */

	T_CHECK(pulse(io, 0) == 0);
	T_CHECK(wait_input(io, 0, 1, 5000) == 0);	/* up */
	T_CHECK(modbus_io_read_inputs(io, 0, 3, bits, err, sizeof(err)) == 0);
	T_CHECK(bits[1] == 0);
	T_CHECK(modbus_io_read_input_regs(io, 0, 4, regs, err, sizeof(err)) == 0);
	T_CHECK(regs[0] == 1 && regs[1] == 0 && regs[3] == 1000);

	/* The control coil sets the loop detector. */
	T_CHECK(modbus_io_write_coil(io, 8, 1, err, sizeof(err)) == 0);
	T_CHECK(modbus_io_read_inputs(io, 0, 3, bits, err, sizeof(err)) == 0);
	T_CHECK(bits[2] == 1);
	T_CHECK(modbus_io_read_coils(io, 8, 1, bits, err, sizeof(err)) == 0);
	T_CHECK(bits[0] == 1);
	T_CHECK(modbus_io_write_coil(io, 8, 0, err, sizeof(err)) == 0);
	T_CHECK(pulse(io, 1) == 0);
	T_CHECK(wait_input(io, 1, 1, 5000) == 0);	/* down */
	T_CHECK(modbus_io_read_input_regs(io, 0, 4, regs, err, sizeof(err)) == 0);
	T_CHECK(regs[0] == 1 && regs[1] == 1 && regs[2] == 0 && regs[3] == 0);

	/* An exception answer is the request's fault: the link stays. */
	T_CHECK(modbus_io_read_inputs(io, 100, 3, bits, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "address") != NULL, "%s", err);
	T_CHECK(modbus_io_connected(io) == 1);
	T_CHECK(modbus_io_read_inputs(io, 65535, 2, bits, err, sizeof(err)) == -1);
	modbus_io_stats(io, &st);
	T_CHECK(st.connects == 1 && st.connect_fails == 0 && st.errors == 1);

	modbus_io_free(io);
	sim_kill(pid, SIGTERM);
}

static void
test_stuck(void)
{
	struct modbus_io *io;
	long long deadline;
	uint16_t regs[4];
	uint8_t bits[3];
	char err[256];
	int stalled = 0, i;
	pid_t pid;
	int port;

	T_REQUIRE((pid = sim_start_any(&port, "--stuck", NULL)) > 0);
	T_REQUIRE((io = io_for(port)) != NULL);
	T_CHECK(pulse(io, 0) == 0);
	/* Wait until the motor stalls half way, then it must stay not-up. */
	deadline = t_now_ms() + 5000;
	while (!stalled && t_now_ms() < deadline) {
		if (modbus_io_read_input_regs(io, 0, 4, regs, err, sizeof(err)) == 0 &&
		    regs[3] == 500)
			stalled = 1;
		else
			poll(NULL, 0, 20);
	}
	T_CHECK(stalled);
	for (i = 0; i < 5; i++) {
		T_CHECK(modbus_io_read_inputs(io, 0, 3, bits, err, sizeof(err)) == 0);
		T_CHECK(bits[0] == 0 && bits[1] == 0);
	}
	modbus_io_free(io);
	sim_kill(pid, SIGTERM);
}

static void
test_reconnect(void)
{
	struct modbus_io_stats st;
	struct modbus_io *io;
	uint8_t bits[3];
	char err[256];
	pid_t pid;
	int port, i;

	T_REQUIRE((pid = sim_start_any(&port, "--start", "open")) > 0);
	T_REQUIRE((io = io_for(port)) != NULL);
	T_CHECK(modbus_io_read_inputs(io, 0, 3, bits, err, sizeof(err)) == 0);
	T_CHECK(bits[0] == 1 && bits[1] == 0);

	sim_kill(pid, SIGKILL);
	T_CHECK(modbus_io_read_inputs(io, 0, 3, bits, err, sizeof(err)) == -1);
	T_CHECK(modbus_io_connected(io) == 0);
	T_CHECKF(strstr(err, "read inputs") != NULL, "%s", err);
	/* The immediate reconnect is refused; after that the backoff answers. */
	T_CHECK(modbus_io_read_inputs(io, 0, 3, bits, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "connect") != NULL, "%s", err);
	T_CHECK(modbus_io_write_coil(io, 0, 1, err, sizeof(err)) == -1);
	T_CHECKF(strstr(err, "next try") != NULL, "%s", err);

	/* Back on the same port: the wrapper finds it again within the deadline. */
	for (i = 0; i < 50; i++) {
		pid = sim_start(port, "--start", "open");
		if (pid != 0)
			break;
		poll(NULL, 0, 100);	/* the port is still held: try again shortly */
	}
	T_REQUIRE(pid > 0);
	T_CHECK(wait_input(io, 0, 1, 5000) == 0);
	T_CHECK(modbus_io_connected(io) == 1);
	modbus_io_stats(io, &st);
	T_CHECK(st.connects == 2);
	T_CHECK(st.connect_fails >= 1);
	modbus_io_free(io);
	sim_kill(pid, SIGTERM);
}

int
main(void)
{
	sim_path = t_env("MODBUS_BARRIER", NULL);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned int)getpid() ^ (unsigned int)t_now_ms());
	test_parse();
	T_REQUIRE(sim_path != NULL);
	test_open_and_loop();
	test_stuck();
	test_reconnect();
	return T_DONE();
}
