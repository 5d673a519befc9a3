#!/usr/bin/env bash
# Unit check of ops/servers.sh that needs no servers: the exports printed by `env`
# follow the port variables, bad arguments are refused with the usage status, and
# `status` reports servers that are not there as down (exit 1) instead of hanging.
set -eu

ops=${1:?usage: check_cli.sh OPS_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

check()
{
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: expected [$3], got [$2]"
		failures=$((failures + 1))
	fi
}

# Ports 1-5 below 1024: nothing of ours listens there and nobody else's Kafka or Redis.
export ECOGATE_STATE_DIR=$tmp/state ECOGATE_MQTT_PORT=1 ECOGATE_REDIS_PORT=2 \
    ECOGATE_PG_PORT=3 ECOGATE_KAFKA_PORT=4 ECOGATE_KAFKA_CONTROLLER_PORT=5

out=$(env -i PATH="$PATH" ECOGATE_MQTT_PORT=1883 ECOGATE_REDIS_PORT=6380 \
    ECOGATE_PG_PORT=5433 ECOGATE_KAFKA_PORT=9093 ECOGATE_STATE_DIR=/x/y \
    bash -c "eval \"\$('$ops/servers.sh' env)\" && printf '%s|%s|%s|%s|%s|%s\n' \
    \"\$ECOGATE_MQTT_URL\" \"\$ECOGATE_REDIS_HOST\" \"\$ECOGATE_REDIS_PORT\" \
    \"\$ECOGATE_PG_CONNINFO\" \"\$ECOGATE_KAFKA_BROKERS\" \"\$ECOGATE_STATE_DIR\"")
check "env exports" "$out" \
    "tcp://127.0.0.1:1883|127.0.0.1|6380|host=127.0.0.1 port=5433 dbname=ecogate user=postgres|127.0.0.1:9093|/x/y"

rc=0; "$ops/servers.sh" start nosuchserver >/dev/null 2>&1 || rc=$?
check "unknown server refused" "$rc" 2
rc=0; "$ops/servers.sh" frobnicate all >/dev/null 2>&1 || rc=$?
check "unknown command refused" "$rc" 2
rc=0; "$ops/servers.sh" >/dev/null 2>&1 || rc=$?
check "no command refused" "$rc" 2
rc=0; "$ops/servers.sh" kafka-topic t zero >/dev/null 2>&1 || rc=$?
check "bad partition count refused" "$rc" 1
rc=0; "$ops/servers.sh" kafka-topic t 1 compacted >/dev/null 2>&1 || rc=$?
check "bad cleanup policy refused" "$rc" 1

rc=0; out=$("$ops/servers.sh" status all 2>&1) || rc=$?
check "status of absent servers fails" "$rc" 1
check "status names every absent server" "$(printf '%s\n' "$out" | grep -c DOWN)" 4

rc=0; "$ops/servers.sh" stop all >/dev/null 2>&1 || rc=$?
check "stop of never-started servers succeeds" "$rc" 0

# A stale pid file (a dead pid, or a live process that is not the server) is ignored.
mkdir -p "$tmp/state/redis"
echo $$ >"$tmp/state/redis/redis.pid"
rc=0; out=$("$ops/servers.sh" stop redis 2>&1) || rc=$?
check "stale pid file: stop succeeds" "$rc" 0
check "stale pid file: reported not running" "$out" "servers: redis: not running"
check "stale pid file: removed" "$([ -e "$tmp/state/redis/redis.pid" ] && echo kept || echo removed)" removed
kill -0 $$ && check "stale pid file: our shell is untouched" alive alive

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
