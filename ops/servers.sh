#!/usr/bin/env bash
# Starts and stops the real servers ecogate talks to, as private instances on
# loopback: mosquitto (MQTT), Redis, PostgreSQL 15 and Apache Kafka (KRaft, one node).
# Used by the CTest "servers" fixture, the README demo, CI and developers at a shell.
#
#   ops/servers.sh start|stop|restart|status|env [all|mosquitto|redis|postgres|kafka]
#   ops/servers.sh kafka-topic NAME [PARTITIONS] [compact]
#
# Each server lives in $ECOGATE_STATE_DIR/<name>/ (config, data, log, pid file) and
# binds 127.0.0.1 only, on its own port, so it neither needs nor disturbs the system
# services the Debian packages may have started. Data survives stop/restart (tests
# restart servers mid-run and expect persistent MQTT sessions, Redis keys, PostgreSQL
# rows and Kafka records to be there afterwards). Remove the state folder to reset.
#
# Environment (all optional):
#   ECOGATE_STATE_DIR  <repo>/.state     ECOGATE_CACHE_DIR  <repo>/.cache (Kafka jars)
#   ECOGATE_MQTT_PORT  21883             ECOGATE_REDIS_PORT 26379
#   ECOGATE_PG_PORT    25432             ECOGATE_KAFKA_PORT 29092
#   ECOGATE_KAFKA_CONTROLLER_PORT 29093
#   ECOGATE_KAFKA_JVM_OPTS   the broker JVM options (heap, GC, JIT; see below)
#
# Kafka runs with auto.create.topics.enable=false: a topic must be created on purpose
# (kafka-topic below), so a typo in a topic name fails loudly and the compacted
# registry topic never springs into being as an ordinary one.
#
# Everything here is for tests and development on one machine: no passwords, trust
# authentication, anonymous MQTT. Never expose these ports.
set -eu

ECOGATE_REPO=$(cd "$(dirname "$0")/.." && pwd)
export ECOGATE_REPO
# shellcheck source=ops/lib/kafka-libs.sh
. "$ECOGATE_REPO/ops/lib/kafka-libs.sh"

STATE=${ECOGATE_STATE_DIR:-$ECOGATE_REPO/.state}
MQTT_PORT=${ECOGATE_MQTT_PORT:-21883}
REDIS_PORT=${ECOGATE_REDIS_PORT:-26379}
PG_PORT=${ECOGATE_PG_PORT:-25432}
KAFKA_PORT=${ECOGATE_KAFKA_PORT:-29092}
KAFKA_CONTROLLER_PORT=${ECOGATE_KAFKA_CONTROLLER_PORT:-29093}
PG_BIN=${ECOGATE_PG_BIN:-/usr/lib/postgresql/15/bin}
# The broker's JVM: a small heap, and only the quick C1 JIT, which halves the CPU the
# broker burns while starting (it matters when tests load every core) and is plenty
# for test volumes. Override for benchmarks, e.g. "-Xms1g -Xmx1g -XX:+UseG1GC".
KAFKA_JVM_OPTS=${ECOGATE_KAFKA_JVM_OPTS:--Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
ALL="mosquitto redis postgres kafka"

# Readiness and shutdown deadlines, seconds.
START_DEADLINE=30
KAFKA_START_DEADLINE=150
STOP_DEADLINE=20
KAFKA_STOP_DEADLINE=40

IS_ROOT=0
if [ "$(id -u)" -eq 0 ]; then
	IS_ROOT=1
fi

say()
{
	printf 'servers: %s\n' "$*"
}

# fail SERVER MESSAGE [LOG]: prints the error (and the tail of LOG) and exits.
fail()
{
	printf 'servers: %s: error: %s\n' "$1" "$2" >&2
	if [ $# -ge 3 ] && [ -f "$3" ]; then
		printf 'servers: %s: last lines of %s:\n' "$1" "$3" >&2
		tail -n 25 "$3" | sed 's/^/    /' >&2
	fi
	exit 1
}

need()
{
	command -v "$2" >/dev/null 2>&1 ||
	    fail "$1" "'$2' not found; run ops/install-deps.sh"
}

# Milliseconds since the epoch, for deadlines.
now_ms()
{
	date +%s%3N
}

# listening PORT: succeeds when some socket listens on TCP PORT (any address). Read
# from /proc rather than by connecting: a connect to a port nobody listens on can, when
# the port lies in the ephemeral range, pick that very port as its source and connect
# to itself, and the leftover TIME_WAIT then keeps the server from binding it.
listening()
{
	local hex
	hex=$(printf ':%04X' "$1")
	# Fields: sl local_address rem_address st ...; st 0A is LISTEN.
	awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
	    END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# pid_of PIDFILE MARKER: prints the pid in PIDFILE when that process is alive and its
# command line contains MARKER (a reused pid of some other program does not count);
# otherwise removes the stale file and fails.
pid_of()
{
	local pid
	[ -f "$1" ] || return 1
	pid=$(head -n 1 "$1" 2>/dev/null || true)
	case $pid in
	'' | *[!0-9]*) rm -f "$1"; return 1 ;;
	esac
	if kill -0 "$pid" 2>/dev/null &&
	    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"; then
		printf '%s\n' "$pid"
		return 0
	fi
	rm -f "$1"
	return 1
}

# clean_exec CMD...: runs CMD with no descriptors but 0, 1 and 2. A test that restarts a
# server through us may hold sockets (to that very server) without close-on-exec; a
# server that inherited one would keep the client's connection half alive.
# shellcheck disable=SC2016 # expanded by the inner shell
CLOSE_FDS='for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done'
clean_exec()
{
	bash -c "$CLOSE_FDS"'; exec "$@"' clean_exec "$@"
}

# spawn PIDFILE LOG CMD...: runs CMD detached (own session, stdin from /dev/null, output
# appended to LOG) and writes its pid to PIDFILE. Detaching matters: CTest waits for
# every holder of the test's output pipe, so a server must not keep it open.
spawn()
{
	local pidfile=$1 log=$2
	shift 2
	rm -f "$pidfile"
	printf -- '--- %s: started by ops/servers.sh\n' "$(date '+%Y-%m-%dT%H:%M:%S')" >>"$log"
	# The inner shell writes its own pid and then becomes CMD, so the pid is CMD's
	# whether or not setsid had to fork.
	# shellcheck disable=SC2016 # expanded by the inner shell
	setsid bash -c "$CLOSE_FDS"'; echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
	    </dev/null >>"$log" 2>&1 &
	# Wait (briefly) for the pid file, so callers can watch the process.
	local tries=50
	while [ ! -s "$pidfile" ] && [ $tries -gt 0 ]; do
		sleep 0.02
		tries=$((tries - 1))
	done
	return 0
}

# wait_ready SERVER PIDFILE MARKER LOG DEADLINE CHECK...: polls CHECK until it succeeds,
# failing early (with the log) when the process dies and late when DEADLINE passes.
wait_ready()
{
	local server=$1 pidfile=$2 marker=$3 log=$4 deadline=$5 end
	shift 5
	end=$(($(now_ms) + deadline * 1000))
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		if ! pid_of "$pidfile" "$marker" >/dev/null; then
			fail "$server" "exited during startup" "$log"
		fi
		if [ "$(now_ms)" -ge "$end" ]; then
			fail "$server" "not ready after ${deadline}s (still running, pid $(cat "$pidfile"))" "$log"
		fi
		sleep 0.1
	done
}

# stop_pid SERVER PIDFILE MARKER SIGNAL DEADLINE: sends SIGNAL, waits for the process to
# go, and sends KILL once DEADLINE passes. A server that is not running is fine.
stop_pid()
{
	local server=$1 pidfile=$2 marker=$3 sig=$4 deadline=$5 pid end
	if ! pid=$(pid_of "$pidfile" "$marker"); then
		say "$server: not running"
		return 0
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	end=$(($(now_ms) + deadline * 1000))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(now_ms)" -ge "$end" ]; then
			say "$server: still running ${deadline}s after SIG$sig; sending KILL to $pid"
			kill -KILL "$pid" 2>/dev/null || true
			# A killed process goes at once; wait for the kernel to reap it.
			sleep 0.2
			break
		fi
		sleep 0.1
	done
	rm -f "$pidfile"
	say "$server: stopped"
}

# port_free SERVER PORT: fails when some other program already listens on PORT.
port_free()
{
	if listening "$2"; then
		fail "$1" "port $2 on 127.0.0.1 is taken by another program; choose another with the ECOGATE_*_PORT variables"
	fi
}

# ---------------------------------------------------------------- mosquitto

MQ_DIR=$STATE/mosquitto

mosquitto_check()
{
	# A real round trip: the broker answers a subscription with its retained
	# $SYS version message.
	listening "$MQTT_PORT" || return 1
	# shellcheck disable=SC2016 # a topic name, not an expansion
	mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -i "ecogate-ops-probe-$$" \
	    -t '$SYS/broker/version' -C 1 -W 2 >/dev/null 2>&1
}

mosquitto_start()
{
	need mosquitto mosquitto
	need mosquitto mosquitto_sub
	mkdir -p "$MQ_DIR/data"
	if pid_of "$MQ_DIR/mosquitto.pid" mosquitto >/dev/null; then
		wait_ready mosquitto "$MQ_DIR/mosquitto.pid" mosquitto "$MQ_DIR/mosquitto.log" \
		    "$START_DEADLINE" mosquitto_check
		say "mosquitto: already running on 127.0.0.1:$MQTT_PORT"
		return 0
	fi
	port_free mosquitto "$MQTT_PORT"
	{
		echo "# Written by ops/servers.sh on every start; edits are lost."
		echo "# Test/dev broker: anonymous clients on a loopback-only listener."
		echo "per_listener_settings false"
		echo "allow_anonymous true"
		echo "listener $MQTT_PORT 127.0.0.1"
		# Run as whoever started us: as root, stay root, so the state folder
		# needs no chown.
		if [ "$IS_ROOT" -eq 1 ]; then
			echo "user root"
		fi
		echo "# Persistent sessions and retained messages survive a restart."
		echo "persistence true"
		echo "persistence_location $MQ_DIR/data/"
		echo "autosave_interval 5"
		echo "# Offline persistent sessions keep this many QoS 1 messages."
		echo "max_queued_messages 100000"
		echo "# Small gate messages go out at once, not after a delayed ACK."
		echo "set_tcp_nodelay true"
		echo "log_dest file $MQ_DIR/mosquitto.log"
		echo "log_type error"
		echo "log_type warning"
		echo "log_type notice"
		echo "log_type information"
		echo "connection_messages true"
		echo "log_timestamp_format %Y-%m-%dT%H:%M:%S"
	} >"$MQ_DIR/mosquitto.conf"
	spawn "$MQ_DIR/mosquitto.pid" "$MQ_DIR/mosquitto.log" \
	    mosquitto -c "$MQ_DIR/mosquitto.conf"
	wait_ready mosquitto "$MQ_DIR/mosquitto.pid" mosquitto "$MQ_DIR/mosquitto.log" \
	    "$START_DEADLINE" mosquitto_check
	say "mosquitto: ready on 127.0.0.1:$MQTT_PORT (log $MQ_DIR/mosquitto.log)"
}

mosquitto_stop()
{
	# SIGTERM: mosquitto writes its persistence file on the way out.
	stop_pid mosquitto "$MQ_DIR/mosquitto.pid" mosquitto TERM "$STOP_DEADLINE"
}

# ---------------------------------------------------------------- redis

RD_DIR=$STATE/redis

redis_check()
{
	listening "$REDIS_PORT" || return 1
	[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

redis_start()
{
	need redis redis-server
	need redis redis-cli
	mkdir -p "$RD_DIR/data"
	if pid_of "$RD_DIR/redis.pid" redis-server >/dev/null; then
		wait_ready redis "$RD_DIR/redis.pid" redis-server "$RD_DIR/redis.log" \
		    "$START_DEADLINE" redis_check
		say "redis: already running on 127.0.0.1:$REDIS_PORT"
		return 0
	fi
	port_free redis "$REDIS_PORT"
	cat >"$RD_DIR/redis.conf" <<-EOF
	# Written by ops/servers.sh on every start; edits are lost.
	bind 127.0.0.1
	port $REDIS_PORT
	daemonize no
	dir $RD_DIR/data
	logfile ""
	# Keys survive a restart: append-only file plus the default snapshots.
	appendonly yes
	appendfsync everysec
	EOF
	spawn "$RD_DIR/redis.pid" "$RD_DIR/redis.log" redis-server "$RD_DIR/redis.conf"
	wait_ready redis "$RD_DIR/redis.pid" redis-server "$RD_DIR/redis.log" \
	    "$START_DEADLINE" redis_check
	say "redis: ready on 127.0.0.1:$REDIS_PORT (log $RD_DIR/redis.log)"
}

redis_stop()
{
	# SIGTERM: Redis flushes the append-only file and exits.
	stop_pid redis "$RD_DIR/redis.pid" redis-server TERM "$STOP_DEADLINE"
}

# ---------------------------------------------------------------- postgres
#
# PostgreSQL refuses to run as root. As root we run it as the "postgres" user, whose
# cluster must then live where that user can reach it: in $STATE/postgres when every
# folder on the way is traversable, otherwise (a state folder under /root, say) in
# /tmp/ecogate-pg-<port>-<hash of the state folder>, linked from $STATE/postgres/base.
# As a normal user the cluster is in $STATE/postgres and runs as that user.

PG_DIR=$STATE/postgres

# pg_as CMD...: runs CMD as the user that owns the cluster. PG_AS is the same as a
# command prefix, for clean_exec.
PG_AS=
if [ "$IS_ROOT" -eq 1 ]; then
	PG_AS="runuser -u postgres --"
fi
pg_as()
{
	# shellcheck disable=SC2086 # PG_AS is a word list
	$PG_AS "$@"
}

# Prints the folder that holds the cluster (data/, server.log), creating it.
pg_base()
{
	local base hash
	mkdir -p "$PG_DIR"
	if [ "$IS_ROOT" -ne 1 ]; then
		printf '%s\n' "$PG_DIR"
		return 0
	fi
	getent passwd postgres >/dev/null ||
	    fail postgres "user 'postgres' does not exist; install the postgresql package"
	if [ -L "$PG_DIR/base" ]; then
		base=$(readlink "$PG_DIR/base")
	else
		chown postgres: "$PG_DIR"
		# test -w fails when any folder on the way cannot be searched.
		if runuser -u postgres -- test -w "$PG_DIR" 2>/dev/null; then
			printf '%s\n' "$PG_DIR"
			return 0
		fi
		hash=$(printf '%s' "$STATE" | sha256sum | cut -c1-12)
		base=/tmp/ecogate-pg-$PG_PORT-$hash
	fi
	if [ ! -d "$base" ]; then
		mkdir -m 700 "$base"
		chown postgres: "$base"
		ln -sfn "$base" "$PG_DIR/base"
		cat >"$PG_DIR/NOTE" <<-EOF
		The user postgres cannot reach $PG_DIR, so the cluster lives in
		$base (linked as base). Remove both to reset.
		EOF
	fi
	# Someone else's folder at a guessable /tmp path is not ours to use.
	[ "$(stat -c %U "$base")" = postgres ] ||
	    fail postgres "$base exists but is not owned by postgres; remove it"
	printf '%s\n' "$base"
}

pg_check()
{
	listening "$PG_PORT" || return 1
	pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -U postgres
}

postgres_start()
{
	local base data log
	[ -x "$PG_BIN/pg_ctl" ] || fail postgres "$PG_BIN/pg_ctl not found; run ops/install-deps.sh"
	need postgres pg_isready
	need postgres psql
	base=$(pg_base)
	data=$base/data
	log=$base/server.log
	if pg_as "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		wait_ready postgres "$data/postmaster.pid" postgres "$log" "$START_DEADLINE" pg_check
		say "postgres: already running on 127.0.0.1:$PG_PORT"
		pg_create_db
		return 0
	fi
	port_free postgres "$PG_PORT"
	if [ ! -f "$data/PG_VERSION" ]; then
		rm -rf "$data"
		say "postgres: initdb $data"
		# Trust authentication: test/dev clusters on loopback only.
		if ! pg_as "$PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 \
		    --locale=C >"$base/initdb.log" 2>&1; then
			fail postgres "initdb failed" "$base/initdb.log"
		fi
		echo "include_if_exists = 'ecogate.conf'" >>"$data/postgresql.conf"
	fi
	# Trust on loopback TCP (test/dev use only), except the role ecogate_pwtest
	# that tests password authentication (it_db). Rewritten on every start.
	cat >"$data/pg_hba.conf" <<-EOF
	# Written by ops/servers.sh on every start; edits are lost.
	host all ecogate_pwtest 127.0.0.1/32 scram-sha-256
	host all all 127.0.0.1/32 trust
	EOF
	if [ "$IS_ROOT" -eq 1 ]; then
		chown postgres: "$data/pg_hba.conf"
	fi
	cat >"$data/ecogate.conf" <<-EOF
	# Written by ops/servers.sh on every start; edits are lost.
	listen_addresses = '127.0.0.1'
	port = $PG_PORT
	# TCP only: no socket folder to find or share with the system cluster.
	unix_socket_directories = ''
	max_connections = 100
	shared_buffers = 64MB
	# The ledger's durability is under test: keep fsync on.
	fsync = on
	synchronous_commit = on
	logging_collector = off
	log_line_prefix = '%m [%p] %d '
	EOF
	if [ "$IS_ROOT" -eq 1 ]; then
		chown postgres: "$data/ecogate.conf"
	fi
	# pg_ctl -w waits until the server accepts connections (or fails).
	# shellcheck disable=SC2086 # PG_AS is a word list
	if ! clean_exec $PG_AS "$PG_BIN/pg_ctl" -D "$data" -l "$log" -w \
	    -t "$START_DEADLINE" start </dev/null >"$base/pg_ctl.log" 2>&1; then
		cat "$base/pg_ctl.log" >&2
		fail postgres "pg_ctl start failed" "$log"
	fi
	wait_ready postgres "$data/postmaster.pid" postgres "$log" "$START_DEADLINE" pg_check
	pg_create_db
	say "postgres: ready on 127.0.0.1:$PG_PORT (log $log)"
}

# Creates the database "ecogate" the first time.
pg_create_db()
{
	local have
	have=$(psql -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
	    -c "SELECT 1 FROM pg_database WHERE datname = 'ecogate'") ||
	    fail postgres "cannot query 127.0.0.1:$PG_PORT"
	if [ "$have" != 1 ]; then
		psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
		    -c "CREATE DATABASE ecogate" >/dev/null ||
		    fail postgres "CREATE DATABASE ecogate failed"
		say "postgres: created database ecogate"
	fi
}

postgres_stop()
{
	local base data
	if [ ! -d "$PG_DIR" ]; then
		say "postgres: not running"
		return 0
	fi
	if [ -L "$PG_DIR/base" ]; then
		base=$(readlink "$PG_DIR/base")
	else
		base=$PG_DIR
	fi
	data=$base/data
	if ! pid_of "$data/postmaster.pid" postgres >/dev/null; then
		say "postgres: not running"
		return 0
	fi
	# Fast shutdown: roll back open transactions, checkpoint, exit.
	if pg_as "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t "$STOP_DEADLINE" stop \
	    >/dev/null 2>&1; then
		say "postgres: stopped"
		return 0
	fi
	say "postgres: fast shutdown did not finish in ${STOP_DEADLINE}s"
	stop_pid postgres "$data/postmaster.pid" postgres QUIT 5
}

postgres_log()
{
	if [ -L "$PG_DIR/base" ]; then
		printf '%s\n' "$(readlink "$PG_DIR/base")/server.log"
	else
		printf '%s\n' "$PG_DIR/server.log"
	fi
}

# ---------------------------------------------------------------- kafka

KF_DIR=$STATE/kafka
KAFKA_MARKER=kafka.Kafka

# kafka_java CLASS ARGS...: runs a Kafka tool class with quiet logging.
kafka_java()
{
	java -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
	    -Dlog4j2.configurationFile="$ECOGATE_REPO/ops/kafka/log4j2.xml" \
	    -Decogate.kafka.loglevel=warn \
	    -cp "$(ecogate_kafka_libs_dir)/*" "$@"
}

kafka_check()
{
	# The broker answers a metadata request and lists itself: it has caught up with
	# the controller and is unfenced. The port test first saves kcat's wait for a
	# broker that is not listening yet (and see listening above).
	listening "$KAFKA_PORT" || return 1
	kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 2 2>/dev/null | grep -q 'broker 1 at'
}

kafka_start()
{
	local id log
	need kafka java
	need kafka kcat
	log=$KF_DIR/server.log
	mkdir -p "$KF_DIR"
	if pid_of "$KF_DIR/kafka.pid" "$KAFKA_MARKER" >/dev/null; then
		wait_ready kafka "$KF_DIR/kafka.pid" "$KAFKA_MARKER" "$log" \
		    "$KAFKA_START_DEADLINE" kafka_check
		say "kafka: already running on 127.0.0.1:$KAFKA_PORT"
		return 0
	fi
	if ! ecogate_kafka_libs_ok; then
		say "kafka: fetching the broker jars (first run)"
		ecogate_kafka_fetch || fail kafka "no broker jars in $(ecogate_kafka_libs_dir)"
	fi
	port_free kafka "$KAFKA_PORT"
	port_free kafka "$KAFKA_CONTROLLER_PORT"
	cat >"$KF_DIR/server.properties" <<-EOF
	# Written by ops/servers.sh on every start; edits are lost.
	# One node in KRaft combined mode: broker and controller in one process.
	process.roles=broker,controller
	node.id=1
	controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
	listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
	advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
	controller.listener.names=CONTROLLER
	inter.broker.listener.name=PLAINTEXT
	listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
	log.dirs=$KF_DIR/data
	num.partitions=1
	default.replication.factor=1
	min.insync.replicas=1
	offsets.topic.replication.factor=1
	offsets.topic.num.partitions=4
	transaction.state.log.replication.factor=1
	transaction.state.log.min.isr=1
	transaction.state.log.num.partitions=4
	share.coordinator.state.topic.replication.factor=1
	share.coordinator.state.topic.min.isr=1
	group.initial.rebalance.delay.ms=0
	# Topics are created on purpose (ops/servers.sh kafka-topic), never by accident.
	auto.create.topics.enable=false
	EOF
	if [ ! -f "$KF_DIR/data/meta.properties" ]; then
		# A cluster id is 16 random bytes in URL-safe base64 without padding.
		# Passed as --cluster-id=ID: an id may start with '-', which the tool
		# would take for an option after a separate -t.
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		rm -rf "$KF_DIR/data"
		say "kafka: formatting storage (cluster id $id)"
		if ! kafka_java kafka.tools.StorageTool format --cluster-id="$id" \
		    -c "$KF_DIR/server.properties" >"$KF_DIR/format.log" 2>&1; then
			fail kafka "formatting $KF_DIR/data failed" "$KF_DIR/format.log"
		fi
	fi
	# shellcheck disable=SC2086 # KAFKA_JVM_OPTS is a word list
	spawn "$KF_DIR/kafka.pid" "$log" \
	    java $KAFKA_JVM_OPTS -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
	    -Dlog4j2.configurationFile="$ECOGATE_REPO/ops/kafka/log4j2.xml" \
	    -cp "$(ecogate_kafka_libs_dir)/*" kafka.Kafka "$KF_DIR/server.properties"
	wait_ready kafka "$KF_DIR/kafka.pid" "$KAFKA_MARKER" "$log" \
	    "$KAFKA_START_DEADLINE" kafka_check
	say "kafka: ready on 127.0.0.1:$KAFKA_PORT (log $log)"
}

kafka_stop()
{
	# SIGTERM: controlled shutdown, logs flushed and closed cleanly.
	stop_pid kafka "$KF_DIR/kafka.pid" "$KAFKA_MARKER" TERM "$KAFKA_STOP_DEADLINE"
}

# kafka-topic NAME [PARTITIONS] [compact]: creates a topic unless it exists.
kafka_topic()
{
	local name=${1:-} parts=${2:-1} compact=${3:-} out
	local cfg=
	[ -n "$name" ] || fail kafka "usage: servers.sh kafka-topic NAME [PARTITIONS] [compact]"
	case $parts in
	'' | *[!0-9]* | 0) fail kafka "partitions must be a positive number, not '$parts'" ;;
	esac
	case $compact in
	'') ;;
	compact) cfg=cleanup.policy=compact ;;
	*) fail kafka "third argument must be 'compact', not '$compact'" ;;
	esac
	kafka_check || fail kafka "no broker answering on 127.0.0.1:$KAFKA_PORT; run: ops/servers.sh start kafka"
	if ! out=$(kafka_java org.apache.kafka.tools.TopicCommand \
	    --bootstrap-server "127.0.0.1:$KAFKA_PORT" --create --if-not-exists \
	    --topic "$name" --partitions "$parts" --replication-factor 1 \
	    ${cfg:+--config "$cfg"} 2>&1); then
		printf '%s\n' "$out" >&2
		fail kafka "creating topic $name failed"
	fi
	say "kafka: topic $name (partitions $parts${cfg:+, $cfg})"
}

# ---------------------------------------------------------------- commands

# status_one NAME: prints the state of one server; fails when it is not answering.
status_one()
{
	case $1 in
	mosquitto)
		if mosquitto_check; then
			say "mosquitto: up on 127.0.0.1:$MQTT_PORT"
			return 0
		fi ;;
	redis)
		if redis_check; then
			say "redis: up on 127.0.0.1:$REDIS_PORT"
			return 0
		fi ;;
	postgres)
		if pg_check; then
			say "postgres: up on 127.0.0.1:$PG_PORT"
			return 0
		fi ;;
	kafka)
		if kafka_check; then
			say "kafka: up on 127.0.0.1:$KAFKA_PORT"
			return 0
		fi ;;
	esac
	say "$1: DOWN (port $(port_of "$1"))"
	return 1
}

port_of()
{
	case $1 in
	mosquitto) echo "$MQTT_PORT" ;;
	redis) echo "$REDIS_PORT" ;;
	postgres) echo "$PG_PORT" ;;
	kafka) echo "$KAFKA_PORT" ;;
	esac
}

print_env()
{
	printf 'export ECOGATE_STATE_DIR=%q\n' "$STATE"
	cat <<-EOF
	export ECOGATE_MQTT_PORT=$MQTT_PORT
	export ECOGATE_MQTT_URL=tcp://127.0.0.1:$MQTT_PORT
	export ECOGATE_REDIS_HOST=127.0.0.1
	export ECOGATE_REDIS_PORT=$REDIS_PORT
	export ECOGATE_PG_PORT=$PG_PORT
	export ECOGATE_PG_CONNINFO='host=127.0.0.1 port=$PG_PORT dbname=ecogate user=postgres'
	export ECOGATE_KAFKA_PORT=$KAFKA_PORT
	export ECOGATE_KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT
	export ECOGATE_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
	EOF
}

# run_all ACTION NAMES...: runs ACTION for each server at once (they are independent)
# and exits when any of them failed. Each writes its own messages. Never call this in
# a condition (if, ||): that would switch off set -e inside the actions.
run_all()
{
	local action=$1 name pid rc=0 pids=
	shift
	if [ $# -eq 1 ]; then
		"${1}_$action"
		return 0
	fi
	for name in "$@"; do
		("${name}_$action") &
		pids="$pids $!"
	done
	for pid in $pids; do
		wait "$pid" || rc=1
	done
	if [ $rc -ne 0 ]; then
		echo "servers: $action failed for some of: $* (state in $STATE)" >&2
		exit 1
	fi
}

usage()
{
	cat >&2 <<-EOF
	usage: ops/servers.sh start|stop|restart|status|env [all|mosquitto|redis|postgres|kafka]...
	       ops/servers.sh kafka-topic NAME [PARTITIONS] [compact]
	EOF
	exit 2
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift

if [ "$cmd" = kafka-topic ]; then
	kafka_topic "$@"
	exit 0
fi

names=
[ $# -eq 0 ] && set -- all
for arg in "$@"; do
	case $arg in
	all) names="$names $ALL" ;;
	mosquitto | redis | postgres | kafka) names="$names $arg" ;;
	*) echo "servers: unknown server '$arg'" >&2; usage ;;
	esac
done
# shellcheck disable=SC2086 # names is a word list
set -- $names

case $cmd in
start)
	mkdir -p "$STATE"
	t0=$(now_ms)
	run_all start "$@"
	t=$(($(now_ms) - t0))
	say "started $* in $((t / 1000)).$((t % 1000 / 100))s"
	;;
stop)
	run_all stop "$@"
	;;
restart)
	run_all stop "$@"
	run_all start "$@"
	;;
status)
	rc=0
	for name in "$@"; do
		status_one "$name" || rc=1
	done
	exit $rc
	;;
env)
	print_env
	;;
*)
	usage
	;;
esac
