/*
 * The gate decision path end to end, over loopback MQTT, against a running verifier
 * (and, in barrier mode, a barrier-actuator and tests/sim/modbus_barrier): how many
 * plate reads per second the daemon turns into decisions, how long a read takes to
 * become a decision, and how long a decision takes to become the coil write that
 * raises the barrier. ops/bench.sh starts the servers and the daemons, loads the
 * registry into Redis (plates 沪B00000.. yellow, stage 6: allowed under a red alert)
 * and runs this program once per figure. Figures are printed, never asserted.
 *
 *	bench_verifier -m rate|latency|barrier -u URL -s SITE -P POLICY.json [options]
 *
 *	-m rate		keep -w vehicles outstanding on -l lanes until -n vehicles are
 *			decided; prints reads and decisions per second
 *	-m latency	-c vehicles outstanding at a time, each on its own lane; for each,
 *			the time from publishing its first read to its decision arriving
 *	-m barrier	one vehicle at a time on lane -L (served by the actuator):
 *			read -> decision -> barrier/cmd -> coil 0 written, the coil time
 *			taken from the simulator's stamped output (-S FILE, modbus_barrier
 *			--stamp); the barrier is closed again by a close command between
 *			vehicles
 *	-r N		reads per vehicle, agreeing, published back to back (default 1)
 *	-W MS -E N -H MS  the policy's fusion window, early close reads and hold
 *			(default: the policy file's, else the verifier's 800 / 2 / 10000)
 *	-b N		first plate number (plates 沪B{N..}, must be in the registry)
 *	-p N		how many plates there are from -b on (rate mode cycles through them)
 *	-t LABEL	what the figure is called in the printed table
 *	-T TEXT		the target printed next to it
 *
 * Before measuring, the program publishes the policy (retained, with a version of its
 * own) and sends unregistered warm-up reads on lane "warm" until a decision made
 * under that version comes back, so no figure includes a policy change or a
 * connection being set up. Decisions under any other version are ignored.
 *
 * Times are CLOCK_MONOTONIC, taken on this program's loop thread: a publish is
 * stamped just before gk_bus_publish(), an arrival when the adapter hands it to the
 * loop (the same thread hop the daemons pay). The simulator stamps with the same
 * clock, which Linux shares between processes.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <gatekit/bus.h>
#include <gatekit/json.h>
#include <gatekit/log.h>
#include <gatekit/loop.h>
#include <gatekit/util.h>

#define LANES_MAX	32	/* the verifier keeps at most POLICY_LANES_MAX lanes */
#define TOPIC_MAX	256
#define READ_MAX	512
#define DEADLINE_MS	180000	/* a run that has not finished by then reports what it has */
#define STALL_MS	15000	/* ... and so does one where nothing was decided this long */

enum mode { M_RATE, M_LATENCY, M_BARRIER };
enum phase { P_WARM, P_RUN, P_DONE };
/* barrier mode, one vehicle: waiting for closed, then for the decision, open, closed */
enum bstep { B_WAIT_CLOSED, B_WAIT_OPEN, B_WAIT_DOWN };

struct lane {
	char		 id[33];
	int		 busy;		/* a vehicle is out, undecided */
	long		 plate;		/* its plate number */
	int64_t		 t_pub;		/* us: its first read was published */
};

struct bench {
	enum mode	 mode;
	const char	*url, *site, *policy_path, *label, *sim_log, *bar_lane;
	const char	*target;	/* printed next to the figure */
	int		 port;		/* the broker's, from the URL */
	int		 nlanes, reads, outstanding;
	long		 count, plate_base, nplates;
	long long	 window_ms, early_reads, hold_ms;

	struct gk_loop	*loop;
	struct gk_bus	*bus;
	enum phase	 phase;
	char		 version[64];
	char		 dec_filter[TOPIC_MAX], cmd_filter[TOPIC_MAX];
	char		 state_topic[TOPIC_MAX];
	int64_t		 t_start, t_end;	/* us */
	int		 failed;

	struct lane	 lanes[LANES_MAX];
	long		 sent;		/* vehicles published */
	long		 decided;	/* decisions under our policy for them */
	long		 allowed, cmds, stale, pub_failed;
	long		 next_plate;

	int64_t		*lat;		/* latency mode: read -> decision, us */
	long		 nlat;

	/* barrier mode */
	enum bstep	 bstep;
	char		 bstate[16];	/* last retained barrier state */
	int64_t		 t_dec, t_cmd;
	int64_t		*b_dec, *b_coil, *b_cmdcoil, *b_readcoil;
	long		 nb, pulses_seen;
	long		 sim_off;	/* bytes of the simulator log already read */
	long		 progress;	/* decided + nb when last looked at */
	int64_t		 progress_ms;	/* when that changed */
};

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_verifier -m rate|latency|barrier -u URL -s SITE "
	    "-P POLICY [-l LANES] [-n COUNT] [-r READS] [-w OUTSTANDING] [-c CONC]\n"
	    "    [-W WINDOW_MS] [-E EARLY_READS] [-H HOLD_MS] [-b PLATE0] [-p PLATES]\n"
	    "    [-L LANE -S SIMLOG] [-t LABEL] [-T TARGET]\n");
	exit(EX_USAGE);
}

static int
publish(struct bench *b, const char *topic, const char *doc, int retain)
{
	struct gk_bus_msg m;

	memset(&m, 0, sizeof(m));
	m.topic = topic;
	m.payload = doc;
	m.len = strlen(doc);
	m.qos = 1;
	m.retain = retain;
	if (gk_bus_publish(b->bus, &m, NULL) == -1) {
		b->pub_failed++;
		return -1;
	}
	return 0;
}

/* Publishes one plate read of plate (already formatted) on lane; 0 or -1. */
static int
publish_read(struct bench *b, const char *lane, const char *plate)
{
	char	 topic[TOPIC_MAX], doc[READ_MAX], id[GK_ID_LEN], ts[GK_TS_LEN];

	if (gk_id_new(id) == -1 || gk_ts_format(gk_wall_ms(), ts, sizeof(ts)) == -1 ||
	    gk_bus_topic(topic, sizeof(topic), "ecogate/v1/%s/lane/%s/plate", b->site,
	    lane) == -1)
		return -1;
	snprintf(doc, sizeof(doc), "{\"schema\":\"ecogate.plate-read.v1\","
	    "\"event_id\":\"%s\",\"site\":\"%s\",\"lane\":\"%s\",\"ts\":\"%s\","
	    "\"plate\":\"%s\",\"colour\":\"yellow\",\"confidence\":0.95,"
	    "\"source\":\"lpr\"}", id, b->site, lane, ts, plate);
	return publish(b, topic, doc, 0);
}

/*
 * Vehicle n's plate. Consecutive vehicles step 7919 plates apart (prime, so every
 * plate comes once per nplates vehicles when nplates is not a multiple of it):
 * plates one character apart count as the same vehicle still standing in the lane
 * during the policy's hold, and would be suppressed.
 */
static void
plate_name(const struct bench *b, long n, char *buf, size_t len)
{
	snprintf(buf, len, "沪B%05ld", b->plate_base + (n * 7919) % b->nplates);
}

/* Sends vehicle plate number n on lane ln: its reads, back to back. */
static int
send_vehicle(struct bench *b, struct lane *ln, long n)
{
	char	plate[32];
	int	i;

	plate_name(b, n, plate, sizeof(plate));
	ln->busy = 1;
	ln->plate = n;
	ln->t_pub = mono_us();
	for (i = 0; i < b->reads; i++)
		if (publish_read(b, ln->id, plate) == -1)
			return -1;
	b->sent++;
	return 0;
}

/* Rate and latency modes: put vehicles out, up to the limits. */
static void
pump(struct bench *b)
{
	int	i;

	if (b->phase != P_RUN)
		return;
	if (b->mode == M_RATE) {
		/* Lanes in turn; the verifier's lanes take them as they come. */
		while (b->sent < b->count && b->sent - b->decided < b->outstanding)
			if (send_vehicle(b, &b->lanes[b->sent % b->nlanes],
			    b->next_plate++) == -1)
				break;	/* buffer full: the tick tries again */
		return;
	}
	for (i = 0; i < b->nlanes && b->sent < b->count; i++)
		if (!b->lanes[i].busy &&
		    send_vehicle(b, &b->lanes[i], b->next_plate++) == -1)
			break;
}

/* The retained barrier state and the close command between barrier vehicles. */
static void
publish_close(struct bench *b)
{
	char	topic[TOPIC_MAX], doc[READ_MAX], id[GK_ID_LEN], ts[GK_TS_LEN];

	if (gk_id_new(id) == -1 || gk_ts_format(gk_wall_ms(), ts, sizeof(ts)) == -1 ||
	    gk_bus_topic(topic, sizeof(topic), "ecogate/v1/%s/lane/%s/barrier/cmd",
	    b->site, b->bar_lane) == -1)
		return;
	snprintf(doc, sizeof(doc), "{\"schema\":\"ecogate.barrier-command.v1\","
	    "\"cmd_id\":\"%s\",\"site\":\"%s\",\"lane\":\"%s\",\"action\":\"close\","
	    "\"reason\":{\"code\":\"bench.reset\"},\"who\":{\"kind\":\"service\","
	    "\"id\":\"bench\"},\"ts\":\"%s\",\"expires_ms\":10000}", id, b->site,
	    b->bar_lane, ts);
	publish(b, topic, doc, 0);
}

/*
 * Reads the simulator's output on from where we left off; for each new open pulse
 * ("pulse coil=0 t_us=N") returns its stamp. Returns the stamp, 0 when none yet.
 */
static int64_t
sim_pulse(struct bench *b)
{
	FILE		*fp;
	char		 line[256];
	long long	 t;
	int64_t		 found = 0;

	if ((fp = fopen(b->sim_log, "r")) == NULL)
		return 0;
	if (fseek(fp, b->sim_off, SEEK_SET) == 0)
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (strchr(line, '\n') == NULL)
				break;	/* a line still being written */
			b->sim_off += (long)strlen(line);
			if (sscanf(line, "pulse coil=0 t_us=%lld", &t) == 1) {
				b->pulses_seen++;
				found = (int64_t)t;
			}
		}
	fclose(fp);
	return found;
}

static void
barrier_next(struct bench *b)
{
	char	plate[32];

	if (b->phase != P_RUN || b->bstep != B_WAIT_CLOSED ||
	    strcmp(b->bstate, "closed") != 0 || b->lanes[0].busy)
		return;
	if (b->nb >= b->count) {
		b->phase = P_DONE;
		gk_loop_stop(b->loop, 0);
		return;
	}
	sim_pulse(b);	/* skip whatever came before this vehicle */
	plate_name(b, b->next_plate++, plate, sizeof(plate));
	b->lanes[0].busy = 1;
	b->t_dec = b->t_cmd = 0;
	b->lanes[0].t_pub = mono_us();
	b->sent++;
	if (publish_read(b, b->bar_lane, plate) == -1)
		b->lanes[0].busy = 0;
	else
		b->bstep = B_WAIT_OPEN;
}

static void
on_barrier_state(struct bench *b, const json_t *j)
{
	const char	*s;
	int64_t		 t;

	if (gk_json_get_str(j, "state", &s) != GK_JSON_OK)
		return;
	gk_strlcpy(b->bstate, s, sizeof(b->bstate));
	if (strcmp(s, "fault") == 0) {
		fprintf(stderr, "bench_verifier: barrier in fault\n");
		b->failed = 1;
		gk_loop_stop(b->loop, 1);
		return;
	}
	if (b->bstep == B_WAIT_OPEN && strcmp(s, "open") == 0 && b->t_dec != 0) {
		if ((t = sim_pulse(b)) == 0) {
			fprintf(stderr, "bench_verifier: barrier open but no stamped "
			    "pulse in %s (modbus_barrier --stamp?)\n", b->sim_log);
			b->failed = 1;
			gk_loop_stop(b->loop, 1);
			return;
		}
		b->b_dec[b->nb] = b->t_dec - b->lanes[0].t_pub;
		b->b_coil[b->nb] = t - b->t_dec;
		b->b_cmdcoil[b->nb] = b->t_cmd != 0 ? t - b->t_cmd : 0;
		b->b_readcoil[b->nb] = t - b->lanes[0].t_pub;
		b->nb++;
		b->decided++;
		b->lanes[0].busy = 0;
		b->bstep = B_WAIT_DOWN;
		publish_close(b);
	} else if (b->bstep == B_WAIT_DOWN && strcmp(s, "closed") == 0)
		b->bstep = B_WAIT_CLOSED;
	barrier_next(b);
}

static void
on_decision(struct bench *b, const char *lane, const json_t *j, int64_t now)
{
	const char	*ver, *res, *plate;
	char		 want[32];
	struct lane	*ln = NULL;
	int		 i;

	if (gk_json_get_str(j, "policy_version", &ver) != GK_JSON_OK ||
	    strcmp(ver, b->version) != 0) {
		b->stale++;
		return;
	}
	if (strcmp(lane, "warm") == 0) {
		if (b->phase == P_WARM) {
			b->phase = P_RUN;
			b->t_start = mono_us();
			if (b->mode == M_BARRIER)
				barrier_next(b);
			else
				pump(b);
		}
		return;
	}
	if (b->phase != P_RUN)
		return;
	if (gk_json_get_str(j, "result", &res) == GK_JSON_OK &&
	    strcmp(res, "allow") == 0)
		b->allowed++;
	for (i = 0; i < b->nlanes; i++)
		if (strcmp(b->lanes[i].id, lane) == 0)
			ln = &b->lanes[i];
	if (ln == NULL || !ln->busy)
		return;
	if (b->mode == M_BARRIER) {
		b->t_dec = now;
		return;
	}
	b->decided++;
	if (b->mode == M_LATENCY) {
		plate_name(b, ln->plate, want, sizeof(want));
		if (gk_json_get_str(j, "plate", &plate) != GK_JSON_OK ||
		    strcmp(plate, want) != 0) {
			fprintf(stderr, "bench_verifier: lane %s decided %s, sent %s\n",
			    lane, plate, want);
			b->failed = 1;
		}
		b->lat[b->nlat++] = now - ln->t_pub;
		ln->busy = 0;
	}
	if (b->decided >= b->count) {
		b->t_end = now;
		b->phase = P_DONE;
		/* A barrier command follows its decision: wait for the last ones. */
		if (b->mode != M_RATE || b->cmds >= b->allowed)
			gk_loop_stop(b->loop, 0);
		return;
	}
	pump(b);
}

static void
on_message(void *arg, const struct gk_bus_msg *m)
{
	struct bench	*b = arg;
	int64_t		 now = mono_us();
	json_t		*j;
	char		 lane[64], err[128];
	const char	*s, *e;

	if (strcmp(m->topic, b->state_topic) == 0) {
		if ((j = gk_json_parse(m->payload, m->len, 65536, err, sizeof(err))) !=
		    NULL) {
			on_barrier_state(b, j);
			json_decref(j);
		}
		return;
	}
	/* ecogate/v1/{site}/lane/{lane}/... */
	s = m->topic + strlen("ecogate/v1/") + strlen(b->site) + strlen("/lane/");
	if ((e = strchr(s, '/')) == NULL || (size_t)(e - s) >= sizeof(lane))
		return;
	memcpy(lane, s, (size_t)(e - s));
	lane[e - s] = '\0';
	if (gk_bus_topic_match(b->cmd_filter, m->topic)) {
		/* Our own close commands come back here too: opens only. */
		if ((b->phase == P_RUN || b->phase == P_DONE) &&
		    strcmp(lane, "warm") != 0 &&
		    strstr(m->payload, "\"action\":\"open\"") != NULL) {
			b->cmds++;
			if (b->mode == M_BARRIER && b->t_cmd == 0)
				b->t_cmd = now;
			if (b->phase == P_DONE && b->mode == M_RATE &&
			    b->cmds >= b->allowed)
				gk_loop_stop(b->loop, 0);
		}
		return;
	}
	if ((j = gk_json_parse(m->payload, m->len, 65536, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_verifier: bad decision: %s\n", err);
		return;
	}
	on_decision(b, lane, j, now);
	json_decref(j);
}

/* Every 500 ms while warming up: another unregistered read on lane "warm". */
static void
on_tick(struct gk_loop *l, uint64_t id, void *arg)
{
	struct bench	*b = arg;
	char		 plate[32];
	static int64_t	 last;

	(void)l;
	(void)id;
	if (b->phase == P_WARM && b->version[0] != '\0' &&
	    gk_mono_ms() - last >= 500) {
		last = gk_mono_ms();
		snprintf(plate, sizeof(plate), "沪C%05u", (unsigned)(mono_us() % 100000));
		publish_read(b, "warm", plate);
	}
	if (b->mode == M_BARRIER)
		barrier_next(b);
	else
		pump(b);
	/* Lost decisions never come: say how many instead of waiting for ever. */
	if (b->decided != b->progress || b->phase != P_RUN) {
		b->progress = b->decided;
		b->progress_ms = gk_mono_ms();
	} else if (gk_mono_ms() - b->progress_ms > STALL_MS) {
		fprintf(stderr, "bench_verifier: %s: nothing decided for %d s; %ld of "
		    "%ld vehicles sent were never decided (see the verifier's log)\n",
		    b->label, STALL_MS / 1000, b->sent - b->decided, b->sent);
		b->failed = 1;
		b->t_end = mono_us() - (int64_t)STALL_MS * 1000;
		gk_loop_stop(b->loop, 1);
	}
}

static void
on_deadline(struct gk_loop *l, uint64_t id, void *arg)
{
	struct bench *b = arg;

	(void)id;
	fprintf(stderr, "bench_verifier: %s: not finished after %d s (phase %s, %ld "
	    "sent, %ld decided)\n", b->label, DEADLINE_MS / 1000,
	    b->phase == P_WARM ? "warm-up" : "run", b->sent, b->decided);
	b->failed = 1;
	b->t_end = mono_us();
	gk_loop_stop(l, 1);
}

/*
 * Paho does not set TCP_NODELAY, and its sockets are not ours to reach: find this
 * process's TCP connections by peer port and set it on them. Without it this client's
 * own reads wait behind Nagle's algorithm (up to the peer's ~40 ms delayed ACK) after
 * it acknowledged a decision, and the figure would measure the bench, not the gate.
 * The daemons are measured as they are. Returns how many sockets were set.
 */
static int
nodelay_to(int port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, type, one = 1, n = 0;

	for (fd = 3; fd < 1024; fd++) {
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
		    type != SOCK_STREAM)
			continue;
		len = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
			continue;
		if ((ss.ss_family == AF_INET &&
		    ntohs(((struct sockaddr_in *)&ss)->sin_port) == port) ||
		    (ss.ss_family == AF_INET6 &&
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == port))
			n += setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one)) == 0;
	}
	return n;
}

/* Policy once connected: a publish buffered before the first connect would do, too,
 * but then the subscriptions could race it. */
static int	publish_policy(struct bench *);

static void
on_state(void *arg, int connected, const char *why)
{
	struct bench	*b = arg;

	(void)why;
	if (connected && b->port > 0 && nodelay_to(b->port) == 0)
		fprintf(stderr, "bench_verifier: no socket to port %d for TCP_NODELAY\n",
		    b->port);
	if (connected && b->version[0] == '\0' && publish_policy(b) == -1) {
		b->failed = 1;
		gk_loop_stop(b->loop, 1);
	}
}

static void
on_signal(struct gk_loop *l, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	gk_loop_stop(l, 1);
}

/* Publishes the policy file, with our version and fusion settings, retained. */
static int
publish_policy(struct bench *b)
{
	char	 err[256], topic[TOPIC_MAX], *doc;
	json_t	*j, *f;
	int	 rc;

	if ((j = gk_json_parse_file(b->policy_path, 1 << 20, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "bench_verifier: %s: %s\n", b->policy_path, err);
		return -1;
	}
	snprintf(b->version, sizeof(b->version), "bench-%ld-%lld", (long)getpid(),
	    (long long)gk_wall_ms());
	json_object_set_new(j, "version", json_string(b->version));
	if ((f = json_object_get(j, "fusion")) == NULL) {
		f = json_object();
		json_object_set_new(j, "fusion", f);
	}
	if (b->window_ms > 0)
		json_object_set_new(f, "window_ms", json_integer(b->window_ms));
	if (b->early_reads > 0)
		json_object_set_new(f, "early_close_reads", json_integer(b->early_reads));
	if (b->hold_ms >= 0)
		json_object_set_new(f, "hold_ms", json_integer(b->hold_ms));
	doc = gk_json_dump_compact(j);
	json_decref(j);
	if (doc == NULL || gk_bus_topic(topic, sizeof(topic),
	    "ecogate/v1/%s/config/policy", b->site) == -1) {
		free(doc);
		return -1;
	}
	rc = publish(b, topic, doc, 1);
	free(doc);
	return rc;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted v[n]. */
static double
pct_ms(const int64_t *v, long n, int p)
{
	long k = (n * p + 99) / 100;

	if (n == 0)
		return 0;
	if (k < 1)
		k = 1;
	return (double)v[k - 1] / 1000.0;
}

/* One row of the table: label, count, p50, p99, max, then the target. */
static void
row(const char *label, int64_t *v, long n, const char *target)
{
	qsort(v, (size_t)n, sizeof(*v), cmp64);
	printf("%-46s %6ld %9.3f %9.3f %9.3f   %s\n", label, n, pct_ms(v, n, 50),
	    pct_ms(v, n, 99), n > 0 ? (double)v[n - 1] / 1000.0 : 0.0, target);
}

static void
report(struct bench *b)
{
	double	secs;
	char	label[128];

	switch (b->mode) {
	case M_RATE:
		secs = (double)((b->t_end != 0 ? b->t_end : mono_us()) - b->t_start) /
		    1e6;
		if (secs <= 0)
			secs = 1e-6;
		printf("%-46s %6ld reads, %ld decisions (%ld allow, %ld barrier cmds) "
		    "in %.2f s\n", b->label, b->decided * b->reads, b->decided,
		    b->allowed, b->cmds, secs);
		printf("%-46s %9.0f reads/s  %9.0f decisions/s   target >= 50000 "
		    "reads/s (%s)\n", "", (double)(b->decided * b->reads) / secs,
		    (double)b->decided / secs,
		    (double)(b->decided * b->reads) / secs >= 50000 ? "met" : "NOT met");
		break;
	case M_LATENCY:
		row(b->label, b->lat, b->nlat, b->target);
		break;
	case M_BARRIER:
		snprintf(label, sizeof(label), "%s: read -> decision", b->label);
		row(label, b->b_dec, b->nb, b->target);
		snprintf(label, sizeof(label), "%s: decision -> coil 0", b->label);
		row(label, b->b_coil, b->nb, "");
		snprintf(label, sizeof(label), "%s: barrier/cmd -> coil 0", b->label);
		row(label, b->b_cmdcoil, b->nb, "");
		snprintf(label, sizeof(label), "%s: read -> coil 0", b->label);
		row(label, b->b_readcoil, b->nb, "");
		break;
	}
	if (b->pub_failed > 0 || b->stale > 0)
		printf("%-46s (%ld publishes refused, %ld decisions under other "
		    "policies ignored)\n", "", b->pub_failed, b->stale);
}

int
main(int argc, char *argv[])
{
	struct bench		 b;
	struct gk_bus_opts	 o;
	char			 cid[GK_BUS_CLIENT_ID_LEN], err[256], *end;
	int			 ch, i, conc = 1;

	memset(&b, 0, sizeof(b));
	b.mode = M_LATENCY;
	b.label = "bench";
	b.target = "";
	b.nlanes = 16;
	b.count = 1000;
	b.reads = 1;
	b.outstanding = 2000;
	b.nplates = 10000;
	b.hold_ms = -1;
	while ((ch = getopt(argc, argv, "m:u:s:P:l:n:r:w:c:W:E:H:b:p:L:S:t:T:")) != -1) {
		errno = 0;
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "rate") == 0)
				b.mode = M_RATE;
			else if (strcmp(optarg, "latency") == 0)
				b.mode = M_LATENCY;
			else if (strcmp(optarg, "barrier") == 0)
				b.mode = M_BARRIER;
			else
				usage();
			break;
		case 'u': b.url = optarg; break;
		case 's': b.site = optarg; break;
		case 'P': b.policy_path = optarg; break;
		case 'L': b.bar_lane = optarg; break;
		case 'S': b.sim_log = optarg; break;
		case 't': b.label = optarg; break;
		case 'T': b.target = optarg; break;
		case 'l': b.nlanes = (int)strtol(optarg, &end, 10); break;
		case 'n': b.count = strtol(optarg, &end, 10); break;
		case 'r': b.reads = (int)strtol(optarg, &end, 10); break;
		case 'w': b.outstanding = (int)strtol(optarg, &end, 10); break;
		case 'c': conc = (int)strtol(optarg, &end, 10); break;
		case 'W': b.window_ms = strtoll(optarg, &end, 10); break;
		case 'E': b.early_reads = strtoll(optarg, &end, 10); break;
		case 'H': b.hold_ms = strtoll(optarg, &end, 10); break;
		case 'b': b.plate_base = strtol(optarg, &end, 10); break;
		case 'p': b.nplates = strtol(optarg, &end, 10); break;
		default: usage();
		}
		if (strchr("musPLStT", ch) == NULL && (errno != 0 || *end != '\0'))
			usage();
	}
	if (optind != argc || b.url == NULL || b.site == NULL || b.policy_path == NULL ||
	    b.count < 1 || b.reads < 1 || b.reads > 32 || b.outstanding < 1 ||
	    b.nplates < 1 || b.plate_base < 0 || b.plate_base + b.nplates > 100000 ||
	    (b.mode == M_BARRIER && (b.bar_lane == NULL || b.sim_log == NULL)))
		usage();
	if ((end = strrchr(b.url, ':')) != NULL)
		b.port = atoi(end + 1);
	if (b.mode == M_LATENCY)
		b.nlanes = conc;
	if (b.mode == M_BARRIER)
		b.nlanes = 1;
	if (b.nlanes < 1 || b.nlanes > LANES_MAX)
		usage();
	for (i = 0; i < b.nlanes; i++)
		if (b.mode == M_BARRIER)
			gk_strlcpy(b.lanes[i].id, b.bar_lane, sizeof(b.lanes[i].id));
		else
			snprintf(b.lanes[i].id, sizeof(b.lanes[i].id), "b%02d", i + 1);
	b.lat = calloc((size_t)b.count, sizeof(*b.lat));
	b.b_dec = calloc((size_t)b.count, sizeof(int64_t));
	b.b_coil = calloc((size_t)b.count, sizeof(int64_t));
	b.b_cmdcoil = calloc((size_t)b.count, sizeof(int64_t));
	b.b_readcoil = calloc((size_t)b.count, sizeof(int64_t));
	if (b.lat == NULL || b.b_dec == NULL || b.b_coil == NULL ||
	    b.b_cmdcoil == NULL || b.b_readcoil == NULL) {
		perror("bench_verifier");
		return EX_OSERR;
	}

	gk_log_init("bench_verifier");
	if (getenv("ECOGATE_LOG_LEVEL") == NULL)
		gk_log_set_level(GK_LOG_WARN);	/* the table, not the chatter */
	if ((b.loop = gk_loop_new()) == NULL)
		return EX_OSERR;
	gk_loop_signal(b.loop, SIGINT, on_signal, &b);
	gk_loop_signal(b.loop, SIGTERM, on_signal, &b);
	snprintf(cid, sizeof(cid), "bench-%ld", (long)getpid());
	memset(&o, 0, sizeof(o));
	o.url = b.url;
	o.client_id = cid;
	o.clean_start = 1;	/* nothing from an earlier run */
	o.max_buffered = 100000;
	o.on_message = on_message;
	o.on_state = on_state;
	o.arg = &b;
	if ((b.bus = gk_bus_new(b.loop, &o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_verifier: %s\n", err);
		return EX_SOFTWARE;
	}
	/* gk_bus_topic() builds topic names, not filters: '+' is refused there. */
	snprintf(b.dec_filter, sizeof(b.dec_filter), "ecogate/v1/%s/lane/+/decision",
	    b.site);
	snprintf(b.cmd_filter, sizeof(b.cmd_filter), "ecogate/v1/%s/lane/+/barrier/cmd",
	    b.site);
	if (!gk_topic_id_valid(b.site) || gk_bus_subscribe(b.bus, b.dec_filter, 1) == -1 ||
	    gk_bus_subscribe(b.bus, b.cmd_filter, 1) == -1) {
		fprintf(stderr, "bench_verifier: bad site %s\n", b.site);
		return EX_USAGE;
	}
	if (b.mode == M_BARRIER) {
		if (gk_bus_topic(b.state_topic, sizeof(b.state_topic),
		    "ecogate/v1/%s/lane/%s/barrier/state", b.site, b.bar_lane) == -1 ||
		    gk_bus_subscribe(b.bus, b.state_topic, 1) == -1) {
			fprintf(stderr, "bench_verifier: bad lane %s\n", b.bar_lane);
			return EX_USAGE;
		}
	}
	if (gk_bus_start(b.bus) == -1)
		return EX_SOFTWARE;
	gk_loop_timer_add(b.loop, 10, 10, on_tick, &b);
	gk_loop_timer_add(b.loop, DEADLINE_MS, 0, on_deadline, &b);
	while (!gk_loop_done(b.loop))
		gk_loop_once(b.loop, -1);
	report(&b);
	gk_bus_free(b.bus);
	gk_loop_free(b.loop);
	free(b.lat);
	free(b.b_dec);
	free(b.b_coil);
	free(b.b_cmdcoil);
	free(b.b_readcoil);
	return b.failed ? 1 : 0;
}
