#!/usr/bin/env bash
# Integration test of the barrier-actuator daemon: the built binary against the
# fixture's mosquitto and the simulated barrier (tests/sim/modbus_barrier, a Modbus
# TCP relay module with a motor). It checks what a lane depends on, each with a
# deadline and against values written here by hand:
#   - an open command moves the retained state closed -> opening -> open, pulses the
#     open coil exactly once (the simulator prints one "pulse coil=0" per rising edge)
#     and is answered "done" on its MQTT 5 response topic with its correlation data;
#   - an expired command is answered "rejected-expired" and pulses nothing;
#   - commands breaking barrier-command.v1 are answered "rejected-invalid" (when
#     they carry a usable cmd_id), logged, and pulse nothing; garbage is survived;
#   - the decision's display lines reach the display (log driver: display.show);
#   - a vehicle on the loop (the simulator's control coil 8) is published as a
#     trigger, occupied and then free;
#   - the simulator killed -> state fault modbus.no_answer and an active alarm; the
#     simulator back -> the alarm cleared, the state closed, and a new open done;
#   - every state, response, alarm and trigger the actuator published is valid
#     against its JSON Schema (python3-jsonschema, tests/schemas/validate_msg.py);
#   - SIGTERM -> exit 0 (with ASan's leak check when built with the sanitizers).
#
# Usage: barrier_actuator_it.sh ACTUATOR SIMULATOR   (environment: the servers
# fixture's, ECOGATE_MQTT_PORT and ECOGATE_SOURCE_DIR in particular)
set -u

ACT=$1
SIM=$2
PORT=${ECOGATE_MQTT_PORT:?ECOGATE_MQTT_PORT not set}
SRC=${ECOGATE_SOURCE_DIR:?ECOGATE_SOURCE_DIR not set}
WORK=$(mktemp -d /tmp/barrier_it.XXXXXX)
SITE=it
LANE=bit-$$
PFX=ecogate/v1/$SITE
T_CMD=$PFX/lane/$LANE/barrier/cmd
T_STATE=$PFX/lane/$LANE/barrier/state
T_RESP=$PFX/lane/$LANE/barrier/resp/it
T_DEC=$PFX/lane/$LANE/decision
T_STATUS=$PFX/status/barrier-actuator/$LANE
SIM_PID=
ACT_PID=
SUB_PID=
SIM_PORT=
SIM_LOG=
NSIM=0
PASS=0
FAIL=0

cleanup() {
	[ -n "$ACT_PID" ] && kill "$ACT_PID" 2>/dev/null && wait "$ACT_PID" 2>/dev/null
	[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
	[ -n "$SUB_PID" ] && kill "$SUB_PID" 2>/dev/null && wait "$SUB_PID" 2>/dev/null
	# Leave no retained messages of this run's lane behind.
	mosquitto_pub -p "$PORT" -r -n -t "$T_STATE" 2>/dev/null
	mosquitto_pub -p "$PORT" -r -n -t "$T_STATUS" 2>/dev/null
	if [ "$FAIL" -ne 0 ]; then
		echo "--- actuator log (tail)"; tail -n 40 "$WORK/act.log"
		echo "--- mqtt"; cat "$WORK/mqtt.log"
		echo "--- simulator"; cat "$WORK"/sim.*.log
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

check() {	# check NAME CONDITION-EXIT-STATUS
	if [ "$2" -eq 0 ]; then
		PASS=$((PASS + 1)); echo "ok: $1"
	else
		FAIL=$((FAIL + 1)); echo "FAIL: $1"
	fi
}

# wait_grep FILE SECONDS COUNT STRING...: waits until FILE holds at least COUNT
# lines that each contain every STRING (fixed strings); 0 when it did in time.
wait_grep() {
	local file=$1 secs=$2 want=$3 end
	shift 3
	end=$(($(date +%s%N) / 1000000 + secs * 1000))
	while :; do
		[ "$(count_lines "$file" "$@")" -ge "$want" ] && return 0
		[ $(($(date +%s%N) / 1000000)) -ge "$end" ] && return 1
		sleep 0.05
	done
}

# count_lines FILE STRING...: lines of FILE containing every STRING.
count_lines() {
	local file=$1 out p
	shift
	[ -f "$file" ] || { echo 0; return; }
	out=$(cat "$file")
	for p in "$@"; do
		out=$(printf '%s\n' "$out" | grep -F -- "$p")
	done
	if [ -z "$out" ]; then echo 0; else printf '%s\n' "$out" | wc -l; fi
}

# start_sim [PORT]: starts the simulator on PORT, or on a free port in 16000-16999
# (it exits 2 when the port is taken: try another). Sets SIM_PID and SIM_PORT.
start_sim() {
	local p
	for _ in $(seq 1 30); do
		p=${1:-$((16000 + RANDOM % 1000))}
		NSIM=$((NSIM + 1))
		SIM_LOG=$WORK/sim.$NSIM.log
		"$SIM" --port "$p" --travel-ms 600 >"$SIM_LOG" 2>&1 &
		SIM_PID=$!
		while kill -0 "$SIM_PID" 2>/dev/null; do
			if grep -q "listening port=$p\$" "$SIM_LOG"; then
				SIM_PORT=$p
				return 0
			fi
			sleep 0.02
		done
		wait "$SIM_PID"
		[ $? -eq 2 ] && [ -z "${1:-}" ] && continue
		SIM_PID=
		return 1
	done
	return 1
}

cmd_json() {	# cmd_json CMD_ID ACTION TS EXPIRES_MS
	printf '{"schema":"ecogate.barrier-command.v1","cmd_id":"%s","site":"%s","lane":"%s","action":"%s","reason":{"code":"decision.allow"},"who":{"kind":"service","id":"verifier"},"ts":"%s","expires_ms":%s}' \
	    "$1" "$SITE" "$LANE" "$2" "$3" "$4"
}

send_cmd() {	# send_cmd CORRELATION PAYLOAD
	mosquitto_pub -p "$PORT" -V mqttv5 -q 1 -t "$T_CMD" \
	    -D publish response-topic "$T_RESP" -D publish correlation-data "$1" \
	    -D publish message-expiry-interval 5 -m "$2"
}

now_ts() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

# set_loop 0|1: writes the simulator's loop control coil (Modbus function 5, write
# single coil) with a few lines of Python on a raw socket, so the test does not
# depend on the Modbus library under test. 0 when the simulator echoed the write.
set_loop() {
	/usr/bin/python3 - "$SIM_PORT" "$1" <<'PY'
import socket, struct, sys
port, on = int(sys.argv[1]), sys.argv[2] == "1"
pdu = struct.pack(">BHH", 5, 8, 0xFF00 if on else 0)
req = struct.pack(">HHHB", 7, 0, len(pdu) + 1, 1) + pdu
with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
    s.sendall(req)
    rsp = s.recv(64)
sys.exit(0 if rsp[7:] == pdu else 1)
PY
}

# validate_topic SCHEMA TOPIC-SUFFIX: writes the payload of every message the
# subscriber saw on $PFX/TOPIC-SUFFIX to its own file and validates them all.
validate_topic() {
	local schema=$1 topic=$PFX/$2 dir=$WORK/v.$1 n=0 line
	mkdir -p "$dir"
	while IFS= read -r line; do
		case $line in "$topic "*) ;; *) continue ;; esac
		n=$((n + 1))
		printf '%s\n' "{${line#*\{}" >"$dir/$n.json"
	done <"$WORK/mqtt.log"
	[ "$n" -gt 0 ] || { echo "no message on $topic"; return 1; }
	/usr/bin/python3 "$SRC/tests/schemas/validate_msg.py" \
	    "$SRC/schemas/$schema.schema.json" "$dir"/*.json >"$dir.out" ||
	    { cat "$dir.out"; return 1; }
	echo "$n messages on $topic valid against $schema"
}

start_sim || { echo "FAIL: simulator would not start"; exit 1; }
echo "simulator on port $SIM_PORT"
SIM1_LOG=$SIM_LOG

# One subscriber records everything of the site: topic, retain flag, correlation.
mosquitto_sub -p "$PORT" -V mqttv5 -q 1 -F '%t %r %D %p' -t "$PFX/#" \
    >"$WORK/mqtt.log" 2>&1 &
SUB_PID=$!
# The subscription is made asynchronously: wait until a probe comes through.
for _ in $(seq 1 50); do
	mosquitto_pub -p "$PORT" -q 1 -t "$PFX/probe" -m probe
	wait_grep "$WORK/mqtt.log" 0 1 "$PFX/probe " && break
	sleep 0.1
done

ECOGATE_SITE=$SITE ECOGATE_LANE=$LANE ECOGATE_MQTT_URL=tcp://127.0.0.1:$PORT \
ECOGATE_MQTT_CLIENT_ID=barrier-it-$$ \
ECOGATE_MODBUS_TARGET=tcp://127.0.0.1:$SIM_PORT ECOGATE_PULSE=150ms \
ECOGATE_TRAVEL_TIMEOUT=3s ECOGATE_POLL_INTERVAL=50ms ECOGATE_DISPLAY=log \
ECOGATE_AUTO_CLOSE=no \
    "$ACT" >"$WORK/act.log" 2>&1 &
ACT_PID=$!

# 1. At start the actuator reads the inputs and says closed.
wait_grep "$WORK/mqtt.log" 10 1 "$T_STATE " "\"state\":\"closed\""
check "state closed after start" $?

# 2. Open: opening then open, one pulse, answer done with the correlation data.
ID1=0190a1b2-c3d4-7e5f-8a9b-000000000001
send_cmd corr-open-1 "$(cmd_json $ID1 open "$(now_ts)" 5000)"
wait_grep "$WORK/mqtt.log" 10 1 "$T_RESP " "corr-open-1" "\"cmd_id\":\"$ID1\"" "\"result\":\"done\""
check "open answered done with correlation data" $?
l_opening=$(grep -n -F "$T_STATE" "$WORK/mqtt.log" | grep -F '"state":"opening"' |
    grep -F "$ID1" | head -1 | cut -d: -f1)
l_open=$(grep -n -F "$T_STATE" "$WORK/mqtt.log" | grep -F '"state":"open"' |
    grep -F "$ID1" | head -1 | cut -d: -f1)
[ -n "$l_opening" ] && [ -n "$l_open" ] && [ "$l_opening" -lt "$l_open" ]
check "state opening before open (lines ${l_opening:-none} < ${l_open:-none})" $?
[ "$(grep -c '^pulse coil=0$' "$SIM1_LOG")" -eq 1 ]
check "simulator saw exactly one open pulse" $?
grep -q '^up$' "$SIM1_LOG"
check "simulator's barrier is up" $?

mosquitto_sub -p "$PORT" -V mqttv5 -C 1 -W 5 -F '%r %p' -t "$T_STATE" \
    >"$WORK/retained.log" 2>&1
grep -q '^1 .*"state":"open"' "$WORK/retained.log"
check "a new subscriber gets the retained state open" $?

# 3. An expired command: answered rejected-expired, no pulse.
ID2=0190a1b2-c3d4-7e5f-8a9b-000000000002
OLD=$(date -u -d '-30 seconds' +%Y-%m-%dT%H:%M:%S.000Z)
send_cmd corr-exp-2 "$(cmd_json $ID2 close "$OLD" 1000)"
wait_grep "$WORK/mqtt.log" 10 1 "$T_RESP " "corr-exp-2" "\"cmd_id\":\"$ID2\"" "\"result\":\"rejected-expired\""
check "expired command answered rejected-expired" $?
[ "$(grep -c '^pulse coil=' "$SIM1_LOG")" -eq 1 ]
check "expired command pulsed nothing" $?

# 4. Bad input: not JSON, and a command with a valid id but an unknown action.
mosquitto_pub -p "$PORT" -V mqttv5 -q 1 -t "$T_CMD" -m 'not json {'
ID3=0190a1b2-c3d4-7e5f-8a9b-000000000003
send_cmd corr-bad-3 "$(cmd_json $ID3 fly "$(now_ts)" 5000)"
wait_grep "$WORK/mqtt.log" 10 1 "$T_RESP " "corr-bad-3" "\"cmd_id\":\"$ID3\"" "\"result\":\"rejected-invalid\""
check "invalid command answered rejected-invalid" $?
# Each breaks one rule of barrier-command.v1; each is answered, none pulses.
n=10
for bad in \
    's/"action":"open"/"action":"open","extra":1/' \
    's/"site":"it"/"site":"other"/' \
    's/"kind":"service"/"kind":"operator"/' \
    's/"expires_ms":5000/"expires_ms":0/' \
    's/"expires_ms":5000/"expires_ms":"5000"/' \
    's/"ts":"[^"]*"/"ts":"yesterday"/' \
    's/"code":"decision.allow"/"code":"Decision"/'; do
	n=$((n + 1))
	id=0190a1b2-c3d4-7e5f-8a9b-0000000000$n
	send_cmd "corr-bad-$n" "$(cmd_json $id open "$(now_ts)" 5000 | sed "$bad")"
	wait_grep "$WORK/mqtt.log" 10 1 "$T_RESP " "corr-bad-$n" "\"cmd_id\":\"$id\"" \
	    "\"result\":\"rejected-invalid\""
	check "rejected-invalid: $bad" $?
done
wait_grep "$WORK/act.log" 5 9 '"event":"barrier.cmd_invalid"'
check "all nine bad commands logged as barrier.cmd_invalid" $?
[ "$(grep -c '^pulse coil=' "$SIM1_LOG")" -eq 1 ]
check "bad commands pulsed nothing" $?

# 5. The decision's display lines go to the display.
mosquitto_pub -p "$PORT" -V mqttv5 -q 1 -t "$T_DEC" \
    -m '{"display":{"lines":["沪A12345","国六 柴油","请通行"]}}'
wait_grep "$WORK/act.log" 10 1 '"event":"display.show"' '沪A12345\n国六 柴油\n请通行'
check "decision lines shown on the display" $?

# 5b. A vehicle drives onto the loop and leaves it: two triggers.
set_loop 1
check "loop coil set on the simulator" $?
wait_grep "$WORK/mqtt.log" 10 1 "$PFX/lane/$LANE/trigger " '"source":"loop"' '"occupied":true'
check "loop occupied published as a trigger" $?
set_loop 0
wait_grep "$WORK/mqtt.log" 10 1 "$PFX/lane/$LANE/trigger " '"source":"loop"' '"occupied":false'
check "loop free published as a trigger" $?

# 6. The IO module dies: fault modbus.no_answer and an alarm.
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
wait_grep "$WORK/mqtt.log" 10 1 "$T_STATE " "\"state\":\"fault\"" "\"code\":\"modbus.no_answer\""
check "state fault modbus.no_answer when the simulator is gone" $?
wait_grep "$WORK/mqtt.log" 10 1 "$PFX/alarm " "\"code\":\"modbus.no_answer\"" "\"active\":true"
check "alarm raised" $?
ID4=0190a1b2-c3d4-7e5f-8a9b-000000000004
send_cmd corr-fault-4 "$(cmd_json $ID4 open "$(now_ts)" 5000)"
wait_grep "$WORK/mqtt.log" 10 1 "$T_RESP " "corr-fault-4" "\"cmd_id\":\"$ID4\"" "\"result\":\"fault\""
check "command during the fault answered fault" $?

# 7. The IO module is back (its barrier starts closed): alarm cleared, closed, and
# an open works again.
if start_sim "$SIM_PORT"; then
	wait_grep "$WORK/mqtt.log" 15 1 "$PFX/alarm " "\"code\":\"modbus.no_answer\"" "\"active\":false"
	check "alarm cleared after the simulator came back" $?
	wait_grep "$WORK/mqtt.log" 10 2 "$T_STATE " "\"state\":\"closed\""
	check "state closed again after recovery" $?
	ID5=0190a1b2-c3d4-7e5f-8a9b-000000000005
	send_cmd corr-open-5 "$(cmd_json $ID5 open "$(now_ts)" 5000)"
	wait_grep "$WORK/mqtt.log" 10 1 "$T_RESP " "corr-open-5" "\"cmd_id\":\"$ID5\"" "\"result\":\"done\""
	check "open after recovery answered done" $?
else
	check "simulator restarted on port $SIM_PORT" 1
fi

# 8. What the actuator said is what its schemas promise.
validate_topic barrier-state.v1 "lane/$LANE/barrier/state"
check "barrier states schema-valid" $?
validate_topic barrier-response.v1 "lane/$LANE/barrier/resp/it"
check "barrier responses schema-valid" $?
validate_topic alarm.v1 alarm
check "alarms schema-valid" $?
validate_topic trigger.v1 "lane/$LANE/trigger"
check "triggers schema-valid" $?

# 9. SIGTERM: a clean stop.
kill -0 "$ACT_PID" 2>/dev/null
check "actuator still running after bad input and a fault" $?
kill -TERM "$ACT_PID"
rc=
for _ in $(seq 1 200); do
	kill -0 "$ACT_PID" 2>/dev/null || { wait "$ACT_PID"; rc=$?; break; }
	sleep 0.05
done
ACT_PID=
[ "$rc" = 0 ]
check "exit 0 on SIGTERM (rc ${rc:-still running})" $?
grep -q '"event":"svc.stop"' "$WORK/act.log"
check "svc.stop logged" $?

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
