#!/bin/sh
# Integration test of `ecogatectl policy` and `ecogatectl barrier open` against the
# fixture's real PostgreSQL (migrated, so 0002_policy.sql is in), Kafka and mosquitto.
# Independent readers judge the results: psql for the rows, mosquitto_sub for the MQTT
# messages (retained flag, message expiry), kcat for the audit topic, and
# tests/schemas/validate_msg.py (python3-jsonschema) for the schemas. Each run uses a
# site of its own, so rows, retained messages and audit events of older runs never
# count; the site's retained policy is cleared at the end.
#
# Environment (set by tests/policy/tests.cmake): ECOGATECTL, KCAT, PSQL, MOSQ_SUB,
# MOSQ_PUB, ECOGATE_PG_CONNINFO, ECOGATE_KAFKA_BROKERS, ECOGATE_MQTT_PORT,
# ECOGATE_SOURCE_DIR.
set -u

SRC=${ECOGATE_SOURCE_DIR:?}
CTL=${ECOGATECTL:?}
PORT=${ECOGATE_MQTT_PORT:?}
export ECOGATE_MQTT_URL="tcp://127.0.0.1:$PORT"
SITE="itp$$-$(date +%s)"
export ECOGATE_SITE="$SITE"
PTOPIC="ecogate/v1/$SITE/config/policy"
LANE=in-9
CTOPIC="ecogate/v1/$SITE/lane/$LANE/barrier/cmd"
EX=$SRC/schemas/examples/policy.v1
TMP=$(mktemp -d)
pass=0
fail=0

cleanup() {
	"$MOSQ_PUB" -p "$PORT" -h 127.0.0.1 -t "$PTOPIC" -r -n 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() {
	pass=$((pass + 1))
}

bad() {
	fail=$((fail + 1))
	echo "FAIL: $*" >&2
}

check() {
	if [ "$2" = "$3" ]; then ok; else bad "$1: want '$2', got '$3'"; fi
}

# has DESCRIPTION FILE TEXT: FILE contains TEXT.
has() {
	if grep -qF -- "$3" "$2"; then ok; else
		bad "$1: no '$3' in:"
		sed 's/^/    /' "$2" >&2
	fi
}

q() {
	"$PSQL" "$ECOGATE_PG_CONNINFO" -XAtq -v ON_ERROR_STOP=1 -c "$1"
}

# ctl ARGS...: stdout in $TMP/out, stderr in $TMP/err, exit status in $rc.
ctl() {
	"$CTL" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# The retained policy of the site as "RETAINFLAG<TAB>PAYLOAD" (empty: none).
retained() {
	"$MOSQ_SUB" -p "$PORT" -h 127.0.0.1 -t "$PTOPIC" -C 1 -W 5 -F '%r	%p' \
	    2>/dev/null
}

# Audit events of this run's site as JSON lines (key = site).
audits() {
	"$KCAT" -b "$ECOGATE_KAFKA_BROKERS" -C -t ecogate.audit.v1 -e -q \
	    -f '%k\t%s\n' 2>/dev/null | awk -F '\t' -v s="$SITE" '$1 == s { print $2 }'
}

# valid SCHEMA FILE: FILE is valid against schemas/SCHEMA.schema.json.
valid() {
	if /usr/bin/python3 "$SRC/tests/schemas/validate_msg.py" \
	    "$SRC/schemas/$1.schema.json" "$2" >"$TMP/valid" 2>&1; then ok; else
		bad "$2 not valid against $1:"; sed 's/^/    /' "$TMP/valid" >&2; fi
}

rows() {
	q "SELECT count(*) FROM policy_version WHERE site = '$SITE'"
}

# 1. Nothing stored yet: the built-in default.
ctl policy show
check "show default rc" 0 "$rc"
has "show default level" "$TMP/out" "alert level        无预警 (none)"
has "show default version" "$TMP/out" "version            default"
has "show default red row" "$TMP/out" "  red            6            5            6"
ctl policy show --json
printf '%s\n' "$(cat "$TMP/out")" >"$TMP/default.json"
valid policy.v1 "$TMP/default.json"

# 2. Load a valid example: row, retained message, audit event.
ver=$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$EX/valid-strict-orange.json")
ctl policy load "$EX/valid-strict-orange.json" --operator it.policy --reason "冬季方案"
check "load rc" 0 "$rc"
check "load row" "$ver|orange|it.policy|冬季方案" "$(q "SELECT version, alert_level,
    set_by, reason FROM policy_version WHERE site = '$SITE'")"
retained >"$TMP/ret"
check "retained flag" 1 "$(cut -f1 "$TMP/ret")"
cut -f2- "$TMP/ret" >"$TMP/ret.json"
has "retained version" "$TMP/ret.json" "\"version\":\"$ver\""
valid policy.v1 "$TMP/ret.json"
ev=$(sed -n 's/.*audit event \([0-9a-f-]*\)$/\1/p' "$TMP/out")
audits >"$TMP/audits"
grep -F "\"event_id\":\"$ev\"" "$TMP/audits" >"$TMP/a1.json"
check "audit event on Kafka" 1 "$(wc -l <"$TMP/a1.json" | tr -d ' ')"
has "audit action" "$TMP/a1.json" '"action":"policy.load"'
has "audit actor" "$TMP/a1.json" '"actor":{"kind":"operator","id":"it.policy"}'
has "audit reason" "$TMP/a1.json" '"reason":"冬季方案"'
valid audit.v1 "$TMP/a1.json"

# 3. The same document again: nothing changes.
ctl policy load "$EX/valid-strict-orange.json" --operator it.policy --reason again
check "reload rc" 0 "$rc"
has "reload says unchanged" "$TMP/out" "already in force"
check "reload rows" 1 "$(rows)"

# 4. Invalid documents: exit 65, field named, nothing stored or published.
ctl policy load "$EX/invalid-stage-7.json" --operator it.policy --reason bad
check "invalid rc (EX_DATAERR)" 65 "$rc"
has "invalid names the field" "$TMP/err" "min_stage"
ctl policy load "$EX/invalid-alert-level.json" --operator it.policy --reason bad
check "invalid level rc" 65 "$rc"
has "invalid level names the field" "$TMP/err" "alert_level"
sed 's/"review_below_confidence": [0-9.]*/"review_below_confidence": 0.5/' \
    "$EX/valid-strict-orange.json" >"$TMP/same-version.json"
if cmp -s "$TMP/same-version.json" "$EX/valid-strict-orange.json"; then
	bad "test set-up: same-version.json did not change"; fi
ctl policy load "$TMP/same-version.json" --operator it.policy --reason bad
check "same version, other content rc" 65 "$rc"
has "same version refused" "$TMP/err" "other content"
check "rows after refusals" 1 "$(rows)"
has "retained unchanged" "$TMP/ret.json" "\"version\":\"$ver\""
retained | cut -f2- >"$TMP/ret2.json"
if cmp -s "$TMP/ret.json" "$TMP/ret2.json"; then ok; else
	bad "retained policy changed by a refused load"; fi
ctl policy load "$TMP/nonexistent.json" --operator it.policy --reason bad
check "missing file rc (EX_NOINPUT)" 66 "$rc"
ctl policy load "$EX/valid-default.json" --reason "no operator"
check "load without --operator rc (EX_USAGE)" 64 "$rc"

# 5. set-alert 红: a new version from the current one, published, audited.
ctl policy set-alert 红 --operator it.policy --reason "市局发布红色预警"
check "set-alert rc" 0 "$rc"
check "set-alert rows" 2 "$(rows)"
check "set-alert newest" "red|it.policy" "$(q "SELECT alert_level, set_by FROM
    policy_version WHERE site = '$SITE' ORDER BY seq DESC LIMIT 1")"
v2=$(q "SELECT version FROM policy_version WHERE site = '$SITE' ORDER BY seq DESC LIMIT 1")
case "$v2" in *-red) ok ;; *) bad "set-alert version '$v2' does not end in -red" ;; esac
check "set-alert keeps the table" 1 "$(q "SELECT count(*) FROM policy_version a,
    policy_version b WHERE a.site = '$SITE' AND b.site = a.site AND a.version = '$ver'
    AND b.version = '$v2' AND a.document->'min_stage' = b.document->'min_stage'")"
retained | cut -f2- >"$TMP/ret3.json"
has "retained red" "$TMP/ret3.json" '"alert_level":"red"'
has "retained new version" "$TMP/ret3.json" "\"version\":\"$v2\""
has "retained alert reason" "$TMP/ret3.json" '"alert_reason":"市局发布红色预警"'
ev=$(sed -n 's/.*audit event \([0-9a-f-]*\)$/\1/p' "$TMP/out")
audits | grep -F "\"event_id\":\"$ev\"" >"$TMP/a2.json"
has "set-alert audit" "$TMP/a2.json" '"action":"policy.set_alert"'
has "set-alert audit previous" "$TMP/a2.json" "\"previous_version\":\"$ver\""
valid audit.v1 "$TMP/a2.json"
ctl policy show
has "show red" "$TMP/out" "alert level        红色预警 (red)"
ctl policy set-alert purple --operator it.policy --reason x
check "set-alert bad level rc" 64 "$rc"

# 6. Kafka away: no audit event, so no change at all.
ctl policy set-alert orange --operator it.policy --reason "kafka away" \
    --brokers 127.0.0.1:1
check "kafka away rc (EX_UNAVAILABLE)" 69 "$rc"
has "kafka away says why" "$TMP/err" "no audit event"
check "kafka away rows" 2 "$(rows)"

# 7. MQTT away: stored and audited, not published, said so; publish repairs it.
ctl policy set-alert yellow --operator it.policy --reason "mqtt away" \
    --mqtt tcp://127.0.0.1:1
check "mqtt away rc" 69 "$rc"
has "mqtt away says so" "$TMP/err" "NOT published"
check "mqtt away rows" 3 "$(rows)"
retained | cut -f2- >"$TMP/ret4.json"
has "retained still red" "$TMP/ret4.json" '"alert_level":"red"'
ctl policy publish
check "publish rc" 0 "$rc"
retained | cut -f2- >"$TMP/ret5.json"
has "retained yellow after publish" "$TMP/ret5.json" '"alert_level":"yellow"'

# 8. barrier open: command on MQTT (schema, expiry), audit event.
"$MOSQ_SUB" -V 5 -p "$PORT" -h 127.0.0.1 -t "$CTOPIC" -q 1 -W 60 \
    -F '%E	%p' >"$TMP/cmd" 2>/dev/null &
sub=$!
# Subscribed once a probe of ours comes back (deadline 10 s).
i=0
while ! grep -q 'probe$' "$TMP/cmd" 2>/dev/null && [ $i -lt 100 ]; do
	"$MOSQ_PUB" -p "$PORT" -h 127.0.0.1 -t "$CTOPIC" -m probe 2>/dev/null
	i=$((i + 1))
	sleep 0.1
done
ctl barrier open --lane "$LANE" --operator op.zhang --reason "应急运输车辆，已核验审批单"
check "barrier rc" 0 "$rc"
# The command arrives within 10 s, or the check below fails.
i=0
while ! grep -qv 'probe$' "$TMP/cmd" 2>/dev/null && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
kill "$sub" 2>/dev/null
wait "$sub" 2>/dev/null
grep -v 'probe$' "$TMP/cmd" >"$TMP/cmdline"
check "one command seen" 1 "$(wc -l <"$TMP/cmdline" | tr -d ' ')"
exp=$(cut -f1 "$TMP/cmdline")
if [ -n "$exp" ] && [ "$exp" -ge 1 ] && [ "$exp" -le 10 ]; then ok; else
	bad "message expiry '$exp' not within 1..10 s"; fi
cut -f2- "$TMP/cmdline" >"$TMP/cmd.json"
valid barrier-command.v1 "$TMP/cmd.json"
has "command action" "$TMP/cmd.json" '"action":"open"'
has "command who" "$TMP/cmd.json" '"who":{"kind":"operator","id":"op.zhang"}'
has "command reason" "$TMP/cmd.json" '"code":"manual.release"'
has "command expires" "$TMP/cmd.json" '"expires_ms":10000'
cmd_id=$(sed -n 's/.*"cmd_id":"\([0-9a-f-]*\)".*/\1/p' "$TMP/cmd.json")
ev=$(sed -n 's/.*audit event \([0-9a-f-]*\)$/\1/p' "$TMP/out")
audits | grep -F "\"event_id\":\"$ev\"" >"$TMP/a3.json"
has "barrier audit" "$TMP/a3.json" '"action":"barrier.open"'
has "barrier audit cmd_id" "$TMP/a3.json" "\"cmd_id\":\"$cmd_id\""
has "barrier audit target" "$TMP/a3.json" "\"target\":\"lane/$LANE\""
valid audit.v1 "$TMP/a3.json"
ctl barrier open --lane "IN/9" --operator op.zhang --reason x
check "barrier bad lane rc" 64 "$rc"
ctl barrier open --lane "$LANE" --operator op.zhang --reason x --brokers 127.0.0.1:1
check "barrier kafka away rc" 69 "$rc"
has "barrier kafka away: not sent" "$TMP/err" "not sent"

# 9. barrier open --wait: a stand-in actuator (mosquitto_sub + mosquitto_pub) answers
# on the command's response topic with its correlation data; the tool prints it.
WTOPIC="ecogate/v1/$SITE/lane/in-8/barrier/cmd"
"$MOSQ_SUB" -V 5 -p "$PORT" -h 127.0.0.1 -t "$WTOPIC" -q 1 -W 60 \
    -F '%R	%D	%p' >"$TMP/wcmd" 2>/dev/null &
sub=$!
i=0
while ! grep -q 'probe$' "$TMP/wcmd" 2>/dev/null && [ $i -lt 100 ]; do
	"$MOSQ_PUB" -p "$PORT" -h 127.0.0.1 -t "$WTOPIC" -m probe 2>/dev/null
	i=$((i + 1))
	sleep 0.1
done
"$CTL" barrier open --lane in-8 --operator op.zhang --reason "等待应答" --wait \
    >"$TMP/wout" 2>"$TMP/werr" &
ctlpid=$!
i=0
while ! grep -qv 'probe$' "$TMP/wcmd" 2>/dev/null && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
kill "$sub" 2>/dev/null
wait "$sub" 2>/dev/null
grep -v 'probe$' "$TMP/wcmd" | head -n 1 >"$TMP/wline"
rtopic=$(cut -f1 "$TMP/wline")
corr=$(cut -f2 "$TMP/wline")
wid=$(sed -n 's/.*"cmd_id":"\([0-9a-f-]*\)".*/\1/p' "$TMP/wline")
check "correlation data is the cmd_id" "$wid" "$corr"
# The broker's ACL (deploy/mosquitto/acl) lets the actuator answer only under
# barrier/resp/: any other response topic would never get an answer in production.
case "$rtopic" in "ecogate/v1/$SITE/lane/in-8/barrier/resp/"*) ok ;;
*) bad "response topic '$rtopic'" ;; esac
# An answer with other correlation data is not ours and must be ignored.
"$MOSQ_PUB" -V 5 -p "$PORT" -h 127.0.0.1 -t "$rtopic" -q 1 \
    -D publish correlation-data "someone-else" -m '{"result":"other"}'
"$MOSQ_PUB" -V 5 -p "$PORT" -h 127.0.0.1 -t "$rtopic" -q 1 \
    -D publish correlation-data "$corr" -m '{"result":"done"}'
wait "$ctlpid"
check "barrier --wait rc" 0 "$?"
has "barrier --wait answer" "$TMP/wout" 'answer: {"result":"done"}'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
