#!/bin/sh
# `ecogatectl selftest` runs against live plants after an outage, so it must leave
# nothing the gate reads: no vehicle in the PostgreSQL registry (its inserts roll
# back), no plate read on a plant's site (its samples travel under site "selftest").
# Environment: ECOGATECTL, PSQL, ECOGATE_PG_CONNINFO, ECOGATE_MQTT_PORT.
set -u
q() { "$PSQL" "$ECOGATE_PG_CONNINFO" -XAtq -c "$1"; }
fail=0
before=$(q "SELECT count(*) FROM vehicle") || exit 1
# Anything published on another site's plate topic meanwhile would show up here.
mosquitto_sub -p "$ECOGATE_MQTT_PORT" -V mqttv5 -t 'ecogate/v1/+/lane/+/plate' \
    -F '%t' -W 30 >"${TMPDIR:-/tmp}/selftest_clean.$$" 2>/dev/null &
sub=$!
W="${TMPDIR:-/tmp}/selftest_clean.$$"
# Wait (deadline 10 s) until the witness subscription is live: a probe comes back.
i=0
until grep -q '^ecogate/v1/probe/' "$W" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -le 100 ] || { echo "FAIL: witness subscription not live"; exit 1; }
	mosquitto_pub -p "$ECOGATE_MQTT_PORT" -t ecogate/v1/probe/lane/p/plate -m probe
	sleep 0.1
done
"$ECOGATECTL" selftest >/dev/null 2>&1 || { echo "FAIL: selftest failed"; fail=1; }
kill "$sub" 2>/dev/null; wait "$sub" 2>/dev/null
after=$(q "SELECT count(*) FROM vehicle")
[ "$before" = "$after" ] || { echo "FAIL: registry had $before vehicles, now $after"; fail=1; }
[ "$(q "SELECT count(*) FROM vehicle WHERE fleet_name = 'ecogatectl selftest' AND
    created_at > now() - interval '10 minutes'")" = 0 ] ||
    { echo "FAIL: selftest vehicles left in the registry"; fail=1; }
if grep -v -e '^ecogate/v1/selftest/' -e '^ecogate/v1/probe/' "$W" | grep -q .; then
	echo "FAIL: selftest published on a plant's site:"; cat "$W"
	fail=1
fi
rm -f "$W"
[ "$fail" = 0 ] && echo "selftest left the registry and the plants' topics alone"
exit "$fail"
