#!/usr/bin/env bash
# The README's first command: a gate at work on this machine.
#
# Installs what is missing, builds (dev preset), starts mosquitto, Redis, PostgreSQL
# and Apache Kafka on 127.0.0.1 with their state in .state/, applies the database
# migrations and checks all four servers answer (ecogatectl selftest). Then it runs a
# plant gate: the sample vehicle registry (ops/sample/registry.csv) is imported with
# `ecogatectl registry import` (audited, published to Kafka, fed into Redis by the
# verifier), the verifier and one barrier-actuator per lane (in-1 entry, out-1 exit)
# run against simulated barriers behind Modbus TCP (tests/sim/modbus_barrier), and
# the sample traffic (ops/sample/gate-traffic.json) is played by ops/demo_gate.py:
# each vehicle's plate reads, the decision with its reasons and LED text, the
# barrier's states, an orange alert set half way, and at the end the passages read
# back from Kafka. Then the camera path: on lane in-2 camera-capture replays a folder
# that demo_gate.py fills with one sample vehicle frame at a time
# (ops/sample/frames/, made by tools/lpr/gen_frames.py), each vehicle triggers the
# lane (trigger.v1), darknet-lpr reads the burst's frames with the models in models/
# and the verifier decides: expected plate, reads and decision per frame, and a
# summary line (misreads are shown, not failures). The ledger-writer appends every passage and operator action to the
# site's verifiable ledger in PostgreSQL; the demo ends by verifying that ledger
# (`ecogatectl ledger verify`) and proving one passage offline against the site's
# public key (`ledger prove` + `ledger check-proof`), as an inspector would.
#
# Everything keeps running afterwards, so you can look around:
#   eval "$(bash ops/servers.sh env)"                 # addresses as ECOGATE_* variables
#   mosquitto_sub -p 21883 -t 'ecogate/v1/demo/#' -v  # watch the gate
#   tail -f .state/demo/verifier.log                  # the daemons' logs
#   bash ops/demo.sh stop                             # stop daemons and servers
set -euo pipefail
cd "$(dirname "$0")/.."

# Daemons of the demo: name, pid file under $demo; stopped by "stop" and before a rerun.
demo_stop() {
	local d=$1 pf pid
	for pf in "$d"/*.pid; do
		[ -f "$pf" ] || continue
		pid=$(cat "$pf")
		if kill "$pid" 2>/dev/null; then
			for _ in $(seq 1 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$pf"
	done
}

state=${ECOGATE_STATE_DIR:-$PWD/.state}
demo=$state/demo
if [ "${1:-}" = stop ]; then
	demo_stop "$demo"
	bash ops/servers.sh stop all
	exit 0
fi

bash ops/install-deps.sh
echo "== build (preset dev)"
cmake --preset dev >/dev/null
cmake --build --preset dev
bin=$PWD/build/dev
ctl=$bin/services/ecogatectl/ecogatectl

echo "== start servers"
bash ops/servers.sh start all
eval "$(bash ops/servers.sh env)"
export ECOGATE_SQL_DIR=$PWD/schemas/sql
export ECOGATE_SITE=demo

echo "== migrate the database"
"$ctl" migrate

echo "== the four servers answer (ecogatectl selftest)"
"$ctl" selftest

echo "== start the gate: verifier, barrier-actuators, simulated barriers, ledger-writer"
demo_stop "$demo"
mkdir -p "$demo"
bash ops/servers.sh kafka-topic ecogate.passage.v1 3 >/dev/null
bash ops/servers.sh kafka-topic ecogate.registry.v1 1 compact >/dev/null
bash ops/servers.sh kafka-topic ecogate.audit.v1 1 >/dev/null
bash ops/servers.sh kafka-topic ecogate.evidence.v1 1 >/dev/null
# The site's checkpoint signing key (Ed25519); its public half is the inspector's.
if [ ! -f "$demo/ledger-key.pem" ]; then
	(umask 077; openssl genpkey -algorithm ed25519 -out "$demo/ledger-key.pem")
fi
openssl pkey -in "$demo/ledger-key.pem" -pubout -out "$demo/ledger-key.pub.pem"
ECOGATE_LEDGER_KEY_FILE=$demo/ledger-key.pem ECOGATE_CHECKPOINT_INTERVAL=2s \
    "$bin/services/ledger-writer/ledger-writer" \
    -f services/ledger-writer/ledger-writer.conf >"$demo/ledger-writer.log" 2>&1 &
echo $! >"$demo/ledger-writer.pid"
# The shipped configuration, with the state paths moved into the demo folder.
sed "s#/var/lib/ecogate/verifier#$demo/verifier#g" services/verifier/verifier.conf \
    >"$demo/verifier.conf"
mkdir -p "$demo/verifier"
ECOGATE_MQTT_PERSIST_DIR=$demo/verifier/mqtt \
    "$bin/services/verifier/verifier" -f "$demo/verifier.conf" \
    >"$demo/verifier.log" 2>&1 &
echo $! >"$demo/verifier.pid"

sim_ports=
port=25020
for lane in in-1 out-1; do
	"$bin/tests/modbus_barrier" --port "$port" --travel-ms 800 \
	    >"$demo/sim-$lane.log" 2>&1 &
	echo $! >"$demo/sim-$lane.pid"
	ECOGATE_LANE=$lane ECOGATE_MODBUS_TARGET=tcp://127.0.0.1:$port \
	ECOGATE_PULSE=200ms ECOGATE_DISPLAY=log \
	    "$bin/services/barrier-actuator/barrier-actuator" \
	    -f services/barrier-actuator/barrier-actuator.conf \
	    >"$demo/barrier-$lane.log" 2>&1 &
	echo $! >"$demo/barrier-$lane.pid"
	sim_ports=${sim_ports:+$sim_ports,}$lane=$port
	port=$((port + 1))
done

# The camera lane: camera-capture replays a folder whose one file is the vehicle in
# front of the camera (demo_gate.py swaps it), darknet-lpr reads its frames with
# models/. Where darknet is not installed there is no darknet-lpr, and no camera path.
# darknet-lpr publishes reads down to confidence 0.01 here (shipped default 0.3) so
# that the early models' uncertain reads reach the verifier, which sends reads below
# the policy's review_below_confidence (0.7) to review: the safety net shows.
cam_lane=in-2
camera=
lpr=$bin/services/darknet-lpr/darknet-lpr
if [ -x "$lpr" ]; then
	camera=$demo/camera-$cam_lane
	mkdir -p "$camera"
	frames=(ops/sample/frames/*.jpg)
	cp "${frames[0]}" "$camera/lane.jpg"
	ECOGATE_READ_MIN_CONFIDENCE=0.01 \
	    "$lpr" -f services/darknet-lpr/darknet-lpr.conf >"$demo/darknet-lpr.log" 2>&1 &
	echo $! >"$demo/darknet-lpr.pid"
	ECOGATE_LANE=$cam_lane ECOGATE_CAMERA=cam-$cam_lane \
	ECOGATE_SOURCE_URL=dir:$camera ECOGATE_SOURCE_INTERVAL=100ms \
	    "$bin/services/camera-capture/camera-capture" \
	    -f services/camera-capture/camera-capture.conf \
	    >"$demo/camera-$cam_lane.log" 2>&1 &
	echo $! >"$demo/camera-$cam_lane.pid"
else
	echo "demo: no $lpr (Debian package darknet missing?): no camera path" >&2
fi

# Each daemon says it is up on its retained status topic (device-status.v1).
wait_online() {	# wait_online SERVICE INSTANCE
	local t=ecogate/v1/demo/status/$1/$2
	for _ in $(seq 1 100); do
		mosquitto_sub -p "$ECOGATE_MQTT_PORT" -t "$t" -C 1 -W 1 2>/dev/null |
		    grep -q '"state":"online"' && return 0
		sleep 0.2
	done
	echo "demo: $1 $2 did not come online; see $demo/*.log" >&2
	return 1
}
wait_online verifier 1
wait_online barrier-actuator in-1
wait_online barrier-actuator out-1
wait_online ledger-writer 1
if [ -n "$camera" ]; then
	wait_online darknet-lpr 1
	wait_online camera-capture "cam-$cam_lane"
fi

echo "== import the sample vehicle registry"
"$ctl" registry import ops/sample/registry.csv --operator demo \
    --reason "演示：导入样例车辆登记" || [ $? -eq 65 ]
# The verifier takes the registry from Kafka into Redis: wait until the last
# vehicle of the file is there.
for _ in $(seq 1 100); do
	[ -n "$(redis-cli -p "$ECOGATE_REDIS_PORT" --raw GET \
	    'ecogate:registry:沪L09217|yellow')" ] && break
	sleep 0.2
done
cam_args=()
if [ -n "$camera" ]; then
	# Some of the sample frames' vehicles are registered, so a right read decides.
	"$ctl" registry import ops/sample/frames/registry.csv --operator demo \
	    --reason "演示：导入摄像机样例车辆登记" || [ $? -eq 65 ]
	for _ in $(seq 1 100); do
		[ -n "$(redis-cli -p "$ECOGATE_REDIS_PORT" --raw GET \
		    'ecogate:registry:辽LF85366|green')" ] && break
		sleep 0.2
	done
	cam_args=(--camera ops/sample/frames)
fi

echo "== sample gate traffic"
ECOGATECTL=$ctl DEMO_SIM_PORTS=$sim_ports DEMO_STATE=$demo \
DEMO_CAMERA_LANE=$cam_lane DEMO_CAMERA_DIR=$camera \
DEMO_LPR_LOG=$demo/darknet-lpr.log \
    /usr/bin/python3 ops/demo_gate.py ops/sample/gate-traffic.json "${cam_args[@]}"

echo "== the ledger: verify it, then prove the last passage offline"
last=$(tail -n 1 "$demo/passages.txt")
# The passage reaches the ledger through Kafka and is covered by the next signed
# checkpoint (every 2 s here): prove says 75 (EX_TEMPFAIL) until then.
for _ in $(seq 1 60); do
	rc=0
	"$ctl" ledger prove "$last" -o "$demo/proof.json" 2>"$demo/prove.err" || rc=$?
	[ "$rc" -ne 75 ] && [ "$rc" -ne 66 ] && break
	sleep 0.5
done
[ "$rc" -eq 0 ] || { cat "$demo/prove.err" >&2; exit 1; }
"$ctl" ledger verify --pubkey "$demo/ledger-key.pub.pem"
echo "proof of passage $last written to $demo/proof.json ($(wc -c <"$demo/proof.json") bytes);"
echo "an inspector checks it with the site's public key alone, no database:"
"$ctl" ledger check-proof "$demo/proof.json" --pubkey "$demo/ledger-key.pub.pem"

cat <<MSG

The gate and its servers are still running (state in ${ECOGATE_STATE_DIR}):
  MQTT      ${ECOGATE_MQTT_URL}      watch: mosquitto_sub -p ${ECOGATE_MQTT_PORT} -t 'ecogate/v1/demo/#' -v
  Redis     ${ECOGATE_REDIS_HOST}:${ECOGATE_REDIS_PORT}
  Postgres  ${ECOGATE_PG_CONNINFO}
  Kafka     ${ECOGATE_KAFKA_BROKERS}    passages: kcat -b ${ECOGATE_KAFKA_BROKERS} -C -t ecogate.passage.v1 -e
  logs      $demo/*.log
Stop everything with: bash ops/demo.sh stop
MSG
