#!/bin/sh
# Integration test of the ledger's tables (schemas/sql/0003_ledger.sql) on the
# fixture's real PostgreSQL, migrated by `ecogatectl migrate`: what the database
# itself guarantees, whatever the code above it does.
#   - the writer role may INSERT and SELECT, never UPDATE, DELETE or TRUNCATE;
#   - even a superuser's UPDATE, DELETE and TRUNCATE are refused by the triggers, on
#     the partitioned table and on a month partition addressed directly;
#   - an event_id is recorded once per site (the writer's idempotency), a seq too;
#   - no ledger table and no month within the retention period can be dropped, while
#     a month older than the retention can;
#   - retention below 24 months is refused; viewers read and cannot write.
# Each run uses its own site id, since ledger rows can never be removed.
#
# Environment: PSQL, ECOGATE_PG_CONNINFO (a superuser's connection).
set -u

PSQL=${PSQL:?}
SITE="lt$$-$(date +%s)"
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run SQL: runs SQL in one transaction; output in $out, status in $rc.
run() {
	out=$("$PSQL" "$ECOGATE_PG_CONNINFO" -XAtq -v ON_ERROR_STOP=1 -1 -c "$1" 2>&1)
	rc=$?
}

# refused DESCRIPTION PATTERN SQL: SQL must fail with an error matching PATTERN.
refused() {
	run "$3"
	if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -qE -- "$2"; then ok; else
		bad "$1: want an error matching '$2', got rc $rc: $out"; fi
}

# works DESCRIPTION SQL [WANT]: SQL must succeed (and print WANT when given).
works() {
	run "$2"
	if [ "$rc" -ne 0 ]; then bad "$1: $out"
	elif [ $# -ge 3 ] && [ "$out" != "$3" ]; then bad "$1: want '$3', got '$out'"
	else ok; fi
}

H32="'\\x$(printf '%064d' 0)'::bytea"
TILE="decode(repeat('00', 8192), 'hex')"
PEM="-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----"
rec() {	# rec SEQ EVENT_ID: one record's two inserts, as the writer makes them
	echo "SELECT ledger_partition(now());
	INSERT INTO ledger_index (site, seq, event_id, recorded_at)
	    VALUES ('$SITE', $1, '$2', now());
	INSERT INTO ledger_record (site, seq, event_id, kind, ledger, event_ts, lane,
	    plate, body, leaf_hash) VALUES ('$SITE', $1, '$2', 'passage', 'transport',
	    now(), 'in-1', '沪A12345', '{\"seq\":$1}', $H32);"
}
# col TABLE: an assignment that changes nothing, for an UPDATE of TABLE.
col() { if [ "$1" = evidence ]; then echo "size = size"; else echo "site = site"; fi; }
E0=01937a4e-0000-7000-8000-000000000000
E1=01937a4e-0000-7000-8000-000000000001

# 1. The site's log, as the migration owner (superuser) creates it.
works "create log" "INSERT INTO ledger_log (site, origin) VALUES ('$SITE', 'ecogate/$SITE')"
refused "retention below 24 months" "ledger_log_retention_months_check" \
    "INSERT INTO ledger_log (site, origin, retention_months)
     VALUES ('${SITE}x', 'x', 12)"

# 2. The writer appends.
W="SET ROLE ecogate_ledger_writer;"
works "writer inserts a key" "$W INSERT INTO ledger_key (site, key_id, sig_alg,
    public_key) VALUES ('$SITE', '0a1b2c3d', 'ed25519', '$PEM')"
works "writer inserts records" "$W $(rec 0 $E0) $(rec 1 $E1)"
works "writer inserts a tile" "$W INSERT INTO ledger_tile VALUES ('$SITE', 0, 0, $TILE)"
works "writer inserts a checkpoint" "$W INSERT INTO ledger_checkpoint VALUES
    ('$SITE', 2, $H32, now(), '0a1b2c3d', 'ecogate/$SITE
2
AAAA
')"
works "writer inserts evidence" "$W INSERT INTO evidence (sha256, media_type, size,
    content) VALUES (sha256('jpeg$SITE'::bytea), 'image/jpeg', 3, 'abc'::bytea)
    ON CONFLICT DO NOTHING"
works "writer keeps its offsets" "$W INSERT INTO ledger_offset VALUES ('$SITE', 't', 0,
    10) ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = 11;
    UPDATE ledger_offset SET next_offset = 12 WHERE consumer = '$SITE'"
works "records readable" "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM
    ledger_record WHERE site = '$SITE'" "0,1"

# 3. The same event again, or the same seq again, is refused.
refused "duplicate event_id" "ledger_index_site_event_id_key" \
    "$W $(rec 2 $E0)"
refused "duplicate seq" "ledger_index_pkey" \
    "$W $(rec 1 01937a4e-0000-7000-8000-000000000009)"
works "idempotent insert changes nothing" "$W INSERT INTO ledger_index VALUES
    ('$SITE', 0, '$E0', now()) ON CONFLICT DO NOTHING RETURNING seq" ""

# 4. The writer cannot change or remove anything.
for t in ledger_record ledger_index ledger_tile ledger_checkpoint evidence \
    ledger_key ledger_log; do
	refused "writer UPDATE $t" "permission denied" "$W UPDATE $t SET $(col "$t")"
	refused "writer DELETE $t" "permission denied" "$W DELETE FROM $t"
	refused "writer TRUNCATE $t" "permission denied" "$W TRUNCATE $t"
done

# 5. Nor can a superuser, through the triggers.
part=$("$PSQL" "$ECOGATE_PG_CONNINFO" -XAtq -c "SELECT ledger_partition(now())")
for t in ledger_record "$part" ledger_index ledger_tile ledger_checkpoint evidence \
    ledger_key ledger_log; do
	refused "superuser UPDATE $t" "append-only" \
	    "UPDATE $t SET $(col "$t") WHERE $( [ "$t" = evidence ] && echo true ||
	    echo "site = '$SITE'")"
	refused "superuser DELETE $t" "append-only" \
	    "DELETE FROM $t WHERE $( [ "$t" = evidence ] && echo true ||
	    echo "site = '$SITE'")"
	refused "superuser TRUNCATE $t" "append-only" "TRUNCATE $t CASCADE"
done
works "records still there" "SELECT count(*) FROM ledger_record WHERE site = '$SITE'" 2

# 6. Retention: no ledger table, no recent month may be dropped; an old month may.
for t in ledger_tile ledger_checkpoint evidence ledger_index; do
	refused "DROP $t" "cannot be dropped" "DROP TABLE $t CASCADE"
done
refused "DROP this month's partition" "within the retention period" "DROP TABLE $part"
refused "DETACH then DROP this month" "within the retention period" \
    "ALTER TABLE ledger_record DETACH PARTITION $part; DROP TABLE $part"
old=$("$PSQL" "$ECOGATE_PG_CONNINFO" -XAtq -c \
    "SELECT ledger_partition(now() - interval '30 months')")
works "DROP a month older than the retention" "DROP TABLE $old"
refused "writer cannot DROP" "must be owner" "$W DROP TABLE $part"

# 7. Viewers read only.
V="SET ROLE ecogate_viewer;"
works "viewer reads" "$V SELECT count(*) FROM ledger_record WHERE site = '$SITE'" 2
refused "viewer cannot insert" "permission denied" "$V $(rec 5 $E1)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
