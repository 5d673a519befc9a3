#!/usr/bin/env bash
# Integration check of ops/servers.sh against the real servers, in a state folder and
# on ports of its own (so it never disturbs the shared "servers" fixture): start all
# four, leave data in each (a message queued for an offline persistent MQTT session,
# a Redis key, a PostgreSQL row, Kafka records), restart all four, and check that every
# server really restarted (new pid) and that the data is still there. Stops all at the
# end, also on failure.
#
# Environment: ECOGATE_OPS and the ECOGATE_* port and state variables of servers.sh.
set -eu

ops=${ECOGATE_OPS:?}
failures=0
trap '"$ops/servers.sh" stop all >/dev/null 2>&1 || true' EXIT

check()
{
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: expected [$3], got [$2]"
		failures=$((failures + 1))
	fi
}

state=$ECOGATE_STATE_DIR
rm -rf "$state"
"$ops/servers.sh" start all
eval "$("$ops/servers.sh" env)"
mq="-h 127.0.0.1 -p $ECOGATE_MQTT_PORT -V mqttv5"
topic=ops/it/$$

# pids NAME: the pid of the running server, from its pid file.
pids()
{
	local pg=$state/postgres
	[ -L "$pg/base" ] && pg=$(readlink "$pg/base")
	printf '%s %s %s %s\n' "$(cat "$state/mosquitto/mosquitto.pid")" \
	    "$(cat "$state/redis/redis.pid")" "$(head -n 1 "$pg/data/postmaster.pid")" \
	    "$(cat "$state/kafka/kafka.pid")"
}

# A persistent session (clean start off, an hour of session expiry) that subscribes
# and leaves; the broker must queue what is published to it meanwhile.
# shellcheck disable=SC2086 # mq is a list of options
mosquitto_sub $mq -i "ops-it-$$" -c -x 3600 -q 1 -t "$topic" -E
# shellcheck disable=SC2086
mosquitto_pub $mq -q 1 -t "$topic" -m queued-before-restart
redis-cli -p "$ECOGATE_REDIS_PORT" set "ops:it:$$" kept >/dev/null
psql -X -q "$ECOGATE_PG_CONNINFO" -v ON_ERROR_STOP=1 \
    -c "CREATE TABLE ops_it (v text); INSERT INTO ops_it VALUES ('kept')"
"$ops/servers.sh" kafka-topic ops.it.restart 2
"$ops/servers.sh" kafka-topic ops.it.registry 1 compact
printf 'one\ntwo\n' | kcat -b "$ECOGATE_KAFKA_BROKERS" -P -t ops.it.restart -p 1
check "kafka records before restart" \
    "$(kcat -b "$ECOGATE_KAFKA_BROKERS" -C -t ops.it.restart -p 1 -o beginning -e -q | tr '\n' ' ')" \
    "one two "
check "kafka topic has 2 partitions" \
    "$(kcat -b "$ECOGATE_KAFKA_BROKERS" -L -t ops.it.restart | grep -c 'partition [0-9]*, leader 1')" 2

before=$(pids)
"$ops/servers.sh" restart all
after=$(pids)
for i in 1 2 3 4; do
	check "server $i has a new pid" \
	    "$([ "$(echo "$before" | cut -d' ' -f$i)" != "$(echo "$after" | cut -d' ' -f$i)" ] && echo new || echo same)" new
done

"$ops/servers.sh" status all
# shellcheck disable=SC2086
check "mqtt: queued message delivered after restart" \
    "$(mosquitto_sub $mq -i "ops-it-$$" -c -x 3600 -q 1 -t "$topic" -C 1 -W 10 || true)" \
    queued-before-restart
check "redis: key kept" "$(redis-cli -p "$ECOGATE_REDIS_PORT" get "ops:it:$$")" kept
check "postgres: row kept" "$(psql -X -q -t -A "$ECOGATE_PG_CONNINFO" -c 'SELECT v FROM ops_it')" kept
check "kafka: records kept" \
    "$(kcat -b "$ECOGATE_KAFKA_BROKERS" -C -t ops.it.restart -p 1 -o beginning -e -q | tr '\n' ' ')" \
    "one two "

"$ops/servers.sh" stop all
rc=0; "$ops/servers.sh" status all >/dev/null 2>&1 || rc=$?
check "status after stop fails" "$rc" 1

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
