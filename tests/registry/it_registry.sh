#!/bin/sh
# Integration test of `ecogatectl registry` against the fixture's real PostgreSQL
# (migrated) and Kafka. The database is checked with psql and the topic is read back
# with kcat, so nothing of ours judges our own output. Each ecogatectl call carries a
# reason unique to this run; it travels as a Kafka header, which tells this run's
# records apart from older ones on the (compacted, long-lived) topic.
#
# Environment (set by tests/registry/tests.cmake): ECOGATECTL, KCAT, PSQL,
# ECOGATE_PG_CONNINFO, ECOGATE_KAFKA_BROKERS, ECOGATE_SOURCE_DIR.
set -u

SRC=${ECOGATE_SOURCE_DIR:?}
CTL=${ECOGATECTL:?}
TOPIC=ecogate.registry.v1
RUN="it$$-$(date +%s)"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0

ok() {
	pass=$((pass + 1))
}

bad() {
	fail=$((fail + 1))
	echo "FAIL: $*" >&2
}

# check DESCRIPTION WANT GOT
check() {
	if [ "$2" = "$3" ]; then ok; else bad "$1: want '$2', got '$3'"; fi
}

# contains DESCRIPTION FILE TEXT: FILE has a line equal to TEXT.
contains() {
	if grep -qxF -- "$3" "$2"; then ok; else
		bad "$1: no line '$3' in:"
		sed 's/^/    /' "$2" >&2
	fi
}

# Audit events (ecogate.audit.v1) of this run with reason $1, one JSON per line.
audits() {
	"$KCAT" -b "$ECOGATE_KAFKA_BROKERS" -C -t ecogate.audit.v1 -e -q -f '%s\n' \
	    2>/dev/null | grep -F "\"reason\":\"$1\""
}

q() {
	"$PSQL" "$ECOGATE_PG_CONNINFO" -XAtq -v ON_ERROR_STOP=1 -c "$1"
}

# Records of this run with reason $1, as "KEY<TAB>SIZE<TAB>VALUE" (SIZE -1: tombstone).
records() {
	"$KCAT" -b "$ECOGATE_KAFKA_BROKERS" -C -t "$TOPIC" -e -q \
	    -f '%h\t%k\t%S\t%s\n' 2>/dev/null |
	    awk -F '\t' -v r="reason=$1" '{ n = split($1, h, ","); for (i = 1; i <= n;
	    i++) if (h[i] == r) { print $2 "\t" $3 "\t" $4; break } }'
}

# ctl REASON ARGS...: runs ecogatectl with the run's operator and reason; stdout in
# $TMP/out, stderr in $TMP/err, exit status in $rc.
ctl() {
	r=$1
	shift
	"$CTL" registry "$@" --operator it-registry --reason "$RUN-$r" \
	    >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

SAMPLE=$SRC/ops/sample/registry.csv
EN=$SRC/tests/registry/data/registry_en.csv
BAD=$SRC/tests/registry/data/registry_bad.csv

# Start from a registry without this test's vehicles.
plates=$(for f in "$SAMPLE" "$EN" "$BAD"; do
	tail -n +2 "$f" | cut -d, -f1 | grep '^[^ ]' | sed "s/.*/'&'/"; done |
    paste -sd, -)
q "DELETE FROM vehicle_list_entry WHERE plate IN ($plates);
   DELETE FROM vehicle WHERE plate IN ($plates)" || { echo "psql failed" >&2; exit 1; }

# 1. Import the sample registry: every row new, all published.
ctl import import "$SAMPLE"
check "import rc" 0 "$rc"
contains "import summary" "$TMP/out" \
    "imported 30 rows (30 changed, 0 unchanged), 0 bad rows; published 30 to $TOPIC"
check "vehicles in PostgreSQL" 30 "$(q "SELECT count(*) FROM vehicle WHERE plate IN ($plates)")"
check "沪B27716 row" "yellow|01|external|LFWSRXRJ4N1A00117|2022-03-02|Q11|B|6|manifest|F" \
    "$(q "SELECT plate_colour, plate_kind, category, vin, registered_on, vehicle_type,
    fuel_type, emission_stage, emission_source, use_nature FROM vehicle
    WHERE plate = '沪B27716'")"
check "沪D51803 yyyymmdd date, 国五" "2018-05-20|5|lookup" \
    "$(q "SELECT registered_on, emission_stage, emission_source FROM vehicle
    WHERE plate = '沪D51803'")"
check "NRMM row" "other|nrmm|310115NR003021|2015-06-01|装载机|3" \
    "$(q "SELECT plate_colour, category, nrmm_reg_code, nrmm_produced_on,
    nrmm_machine_type, emission_stage FROM vehicle WHERE plate = '沪EA3021'")"
check "large new-energy plate" "yellow_green|51|C|D" \
    "$(q "SELECT plate_colour, plate_kind, fuel_type, emission_stage FROM vehicle
    WHERE plate = '沪A12345D'")"
check "blacklist entry" "blacklist|import|it-registry|皖环执〔2026〕112号" \
    "$(q "SELECT list, source, created_by, approval_no FROM vehicle_list_entry
    WHERE plate = '皖B88231' AND plate_colour = 'yellow'")"
check "exemption entry" "exemption|livelihood" \
    "$(q "SELECT list, exemption_kind FROM vehicle_list_entry WHERE plate = '沪M36590'")"
check "whitelist entry" "whitelist" \
    "$(q "SELECT list FROM vehicle_list_entry WHERE plate = '沪A20F51'")"
v1=$(q "SELECT max(version) FROM vehicle WHERE plate IN ($plates)")

records "$RUN-import" >"$TMP/k1"
check "records on Kafka after import" 30 "$(wc -l <"$TMP/k1" | tr -d ' ')"
check "沪B27716 keyed plate|colour" 1 "$(grep -c '^沪B27716|yellow	' "$TMP/k1")"
grep '^沪B27716|yellow	' "$TMP/k1" | cut -f3 >"$TMP/v1"
for want in '"schema":"ecogate.vehicle.v1"' '"plate":"沪B27716"' '"colour":"yellow"' \
    '"registered":true' '"emission_stage":"6"' '"fuel":"B"' \
    '"registration_date":"2022-03-02"' '"fleet":"上海申通物流有限公司"' '"lists":[]'; do
	if grep -qF -- "$want" "$TMP/v1"; then ok; else bad "沪B27716 value lacks $want"; fi
done
if grep '^皖B88231|yellow	' "$TMP/k1" | grep -qF '"list":"blacklist"'; then ok; else
	bad "皖B88231 record does not carry its blacklist entry"; fi
# Every published value is valid against schemas/vehicle.v1.schema.json, judged by
# python3-jsonschema (tests/schemas/validate_msg.py).
mkdir "$TMP/rec"
n=0
cut -f3 "$TMP/k1" | while IFS= read -r line; do
	n=$((n + 1))
	printf '%s\n' "$line" >"$TMP/rec/$n.json"
done
if python3 "$SRC/tests/schemas/validate_msg.py" "$SRC/schemas/vehicle.v1.schema.json" \
    "$TMP"/rec/*.json >"$TMP/valid" 2>&1; then ok; else
	bad "records not valid against vehicle.v1:"; grep -v '^ok' "$TMP/valid" >&2; fi
check "records validated" 30 "$(grep -c '^ok' "$TMP/valid")"

# Every change is audited: one registry.import event with the file's digest and
# counts, valid against audit.v1.
audits "$RUN-import" >"$TMP/a1"
check "import audit events" 1 "$(wc -l <"$TMP/a1" | tr -d ' ')"
sha=$(sha256sum "$SAMPLE" | cut -d' ' -f1)
for want in '"action":"registry.import"' '"actor":{"kind":"operator","id":"it-registry"}' \
    "\"sha256\":\"$sha\"" '"rows":30' '"changed":30' '"bad":0' '"file":"registry.csv"'; do
	if grep -qF -- "$want" "$TMP/a1"; then ok; else bad "import audit lacks $want"; fi
done
cp "$TMP/a1" "$TMP/a1.json"
if python3 "$SRC/tests/schemas/validate_msg.py" "$SRC/schemas/audit.v1.schema.json" \
    "$TMP/a1.json" >"$TMP/valid" 2>&1; then ok; else
	bad "import audit not valid against audit.v1:"; cat "$TMP/valid" >&2; fi

# 2. The same file again: nothing changes, nothing is published.
ctl reimport import "$SAMPLE"
check "re-import rc" 0 "$rc"
contains "re-import summary" "$TMP/out" \
    "imported 30 rows (0 changed, 30 unchanged), 0 bad rows; published 0 to $TOPIC"
check "versions unchanged" "$v1" "$(q "SELECT max(version) FROM vehicle WHERE plate IN ($plates)")"
check "list entries not duplicated" 3 \
    "$(q "SELECT count(*) FROM vehicle_list_entry WHERE plate IN ($plates)")"
check "records on Kafka after re-import" 0 "$(records "$RUN-reimport" | wc -l | tr -d ' ')"
check "no audit event for an import that changed nothing" 0 \
    "$(audits "$RUN-reimport" | wc -l | tr -d ' ')"

# 3. One vehicle changed in a copy: exactly that one is written and published.
sed 's/^沪L09217,\(.*\),个体,陈志强,/沪L09217,\1,上海新车队,陈志强,/' "$SAMPLE" >"$TMP/changed.csv"
# Without Kafka there is no audit event, so the change must not happen at all.
"$CTL" registry import "$TMP/changed.csv" --operator it-registry --reason "$RUN-nokafka" \
    --brokers 127.0.0.1:1 >"$TMP/out" 2>"$TMP/err"
check "import without Kafka rc (EX_UNAVAILABLE)" 69 "$?"
contains "import without Kafka says so" "$TMP/err" \
    "registry import: no audit event, nothing was imported"
check "import without Kafka changed nothing" "个体" \
    "$(q "SELECT fleet_name FROM vehicle WHERE plate = '沪L09217'")"
# No operator, no change.
"$CTL" registry import "$TMP/changed.csv" >"$TMP/out" 2>"$TMP/err"
check "import without --operator rc (EX_USAGE)" 64 "$?"
check "import without --operator changed nothing" "个体" \
    "$(q "SELECT fleet_name FROM vehicle WHERE plate = '沪L09217'")"
ctl changed import "$TMP/changed.csv"
contains "changed summary" "$TMP/out" \
    "imported 30 rows (1 changed, 29 unchanged), 0 bad rows; published 1 to $TOPIC"
check "changed row" "上海新车队" "$(q "SELECT fleet_name FROM vehicle WHERE plate = '沪L09217'")"
check "changed record on Kafka" "沪L09217|yellow" "$(records "$RUN-changed" | cut -f1)"

# 4. Bad rows are reported with file, line and field; the good rows are applied.
ctl bad import "$BAD"
check "bad-rows rc (EX_DATAERR)" 65 "$rc"
contains "bad summary" "$TMP/out" \
    "imported 3 rows (3 changed, 0 unchanged), 4 bad rows; published 3 to $TOPIC"
contains "bad stage" "$TMP/err" "$BAD:3: field 排放阶段: 'Y' is not a stage (0-6, D, X)"
contains "bad VIN" "$TMP/err" \
    "$BAD:5: field 车辆识别代号(VIN): 'LZZ5ELND3NW71001' has 16 characters, a VIN has 17"
contains "bad date" "$TMP/err" \
    "$BAD:7: field 注册日期: '2021-13-01' is not a date (yyyy-mm-dd or yyyymmdd)"
if grep -q "^$BAD:4: field 号牌颜色: '紫' is not a plate colour" "$TMP/err"; then ok; else
	bad "bad colour not reported"; fi
check "good rows of the bad file" "沪J71001,沪J71005,沪J71007" \
    "$(q "SELECT string_agg(plate, ',' ORDER BY plate) FROM vehicle WHERE plate LIKE '沪J7100%'")"
check "bad-file records on Kafka" 3 "$(records "$RUN-bad" | wc -l | tr -d ' ')"

# 5. English header.
ctl en import "$EN"
check "english rc" 0 "$rc"
contains "english summary" "$TMP/out" \
    "imported 4 rows (4 changed, 0 unchanged), 0 bad rows; published 4 to $TOPIC"
check "english quoted fields" "Shanghai Test Haulage Co., Ltd|english header, quoted comma" \
    "$(q "SELECT fleet_name, note FROM vehicle WHERE plate = '沪R61001'")"
check "english exemption" "exemption|emergency_transport|2100-01-01" \
    "$(q "SELECT list, exemption_kind, (valid_to AT TIME ZONE current_setting('TimeZone'))::date
    FROM vehicle_list_entry WHERE plate = '沪R61004'")"

# 6. get: readable and JSON.
ctl get get 沪B27716 --json
check "get rc" 0 "$rc"
if grep -qF '"plate":"沪B27716"' "$TMP/out" && grep -qF '"vin":"LFWSRXRJ4N1A00117"' \
    "$TMP/out"; then ok; else bad "get --json: $(cat "$TMP/out")"; fi
ctl get get "沪b·27716" --colour 黄
contains "get human" "$TMP/out" "emission_stage     6"
ctl get get 沪B00000
check "get unknown rc (EX_NOINPUT)" 66 "$rc"

# 7. remove: the row goes, a tombstone follows.
cv=$(q "SELECT coalesce(max(version), 0) FROM registry_change")
"$CTL" registry remove 沪B27716 --colour yellow --operator it-registry \
    >"$TMP/out" 2>"$TMP/err"
check "remove without --reason rc (EX_USAGE)" 64 "$?"
check "remove without --reason kept the row" 1 \
    "$(q "SELECT count(*) FROM vehicle WHERE plate = '沪B27716'")"
ctl remove remove 沪B27716 --colour yellow
check "remove rc" 0 "$rc"
check "removed row" 0 "$(q "SELECT count(*) FROM vehicle WHERE plate = '沪B27716'")"
check "tombstone" "沪B27716|yellow	-1" "$(records "$RUN-remove" | cut -f1,2)"
check "registry_change delete" 1 "$(q "SELECT count(*) FROM registry_change WHERE
    plate = '沪B27716' AND op = 'delete' AND version > $cv")"
audits "$RUN-remove" >"$TMP/a2"
check "remove audit events" 1 "$(wc -l <"$TMP/a2" | tr -d ' ')"
for want in '"action":"registry.remove"' '"target":"vehicle/沪B27716|yellow"' \
    '"was_listed":false'; do
	if grep -qF -- "$want" "$TMP/a2"; then ok; else bad "remove audit lacks $want"; fi
done

# A blacklisted vehicle stays unless forced; forced, its entry ends (kept as history).
ctl remove-black remove 皖B88231
check "remove listed rc (EX_DATAERR)" 65 "$rc"
check "listed row kept" 1 "$(q "SELECT count(*) FROM vehicle WHERE plate = '皖B88231'")"
ctl remove-force remove 皖B88231 --force
check "remove --force rc" 0 "$rc"
check "forced: row gone, entry ended" "0|1|0" "$(q "SELECT
    (SELECT count(*) FROM vehicle WHERE plate = '皖B88231'),
    (SELECT count(*) FROM vehicle_list_entry WHERE plate = '皖B88231'),
    (SELECT count(*) FROM vehicle_list_entry WHERE plate = '皖B88231' AND
    (valid_to IS NULL OR valid_to > now()))")"
check "forced tombstone" "皖B88231|yellow	-1" "$(records "$RUN-remove-force" | cut -f1,2)"

# 8. publish: everything again (e.g. after Kafka was away during an import).
ctl publish publish 沪A63521
check "publish one rc" 0 "$rc"
check "published one" "沪A63521|yellow" "$(records "$RUN-publish" | cut -f1)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
