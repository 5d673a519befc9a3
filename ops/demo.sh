#!/usr/bin/env bash
# The README's first command: installs what is missing, builds (dev preset), starts
# mosquitto, Redis, PostgreSQL and Apache Kafka on 127.0.0.1 with their state in
# .state/, applies the database migrations, then sends sample gate traffic (the golden
# plate reads in schemas/examples and a set of built-in plates) through all four
# servers with the daemons' own adapters (ecogatectl selftest).
#
# The servers keep running afterwards, so you can look around:
#   eval "$(bash ops/servers.sh env)"        # addresses as ECOGATE_* variables
#   mosquitto_sub -p 21883 -t 'ecogate/#' -v  # watch the edge
#   bash ops/servers.sh stop all              # when done
set -euo pipefail
cd "$(dirname "$0")/.."

bash ops/install-deps.sh
echo "== build (preset dev)"
cmake --preset dev >/dev/null
cmake --build --preset dev
ctl=build/dev/services/ecogatectl/ecogatectl

echo "== start servers"
bash ops/servers.sh start all
eval "$(bash ops/servers.sh env)"
export ECOGATE_SQL_DIR=$PWD/schemas/sql

echo "== migrate the database"
"$ctl" migrate

echo "== sample gate traffic: golden plate reads"
ECOGATE_SAMPLES=$PWD/schemas/examples/plate-read.v1 "$ctl" selftest
echo "== sample gate traffic: built-in plates"
"$ctl" selftest

cat <<MSG

The servers are still running (state in ${ECOGATE_STATE_DIR}):
  MQTT      ${ECOGATE_MQTT_URL}
  Redis     ${ECOGATE_REDIS_HOST}:${ECOGATE_REDIS_PORT}
  Postgres  ${ECOGATE_PG_CONNINFO}
  Kafka     ${ECOGATE_KAFKA_BROKERS}
Stop them with: bash ops/servers.sh stop all
MSG
