-- 0003_ledger: the electronic ledger (电子台账) as a verifiable append-only log per site.
--
-- Every record (a passage, an operator's action, an imported historical row) is stored
-- as the exact bytes that were hashed: its RFC 8785 canonical JSON (body) and the RFC
-- 9162 leaf hash of those bytes. seq numbers a site's records gaplessly from 0 and is
-- the leaf index of the site's Merkle tree. The tree's complete subtrees are kept as
-- full tiles of 256 hashes (ledger_tile), so inclusion and consistency proofs cost a
-- few index reads at any size; the partial right edge is recomputed from leaf hashes.
-- Signed checkpoints (tree size, root, time, key) are kept in ledger_checkpoint.
-- Evidence images are content-addressed by SHA-256 (evidence), referenced from records.
--
-- Append-only for real: triggers refuse UPDATE, DELETE and TRUNCATE on every ledger
-- table, for every role (a superuser must disable triggers first, which `ecogatectl
-- ledger verify` then catches by the hashes); the writer role may only INSERT and
-- SELECT; ledger_record is partitioned by month (ledger_partition() makes partitions,
-- each with its own TRUNCATE guard), and an event trigger refuses to drop a ledger
-- table or a partition younger than the retention period (ledger_log.retention_months,
-- at least 24: HJ 1321 asks for two years).
--
-- Applied by `ecogatectl migrate` inside one transaction, as a superuser (the event
-- trigger needs one); never edit this file once released: add a new migration.

DO $$
BEGIN
	IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		RAISE EXCEPTION 'migration 0003_ledger must run as a superuser: its '
		    'retention guard is an event trigger (current user: %)', current_user;
	END IF;
END
$$;

-- One log per site; its hash algorithm is fixed when it is created.
CREATE TABLE ledger_log (
	site		text PRIMARY KEY CHECK (site ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
	hash_alg	text NOT NULL DEFAULT 'sha256' CHECK (hash_alg IN ('sha256', 'sm3')),
	origin		text NOT NULL CHECK (char_length(origin) BETWEEN 1 AND 128),
	retention_months integer NOT NULL DEFAULT 24 CHECK (retention_months >= 24),
	created_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ledger_log IS
    'One verifiable log per site: hash algorithm, checkpoint origin, retention';

-- The public keys that sign a site's checkpoints; a key rotation adds a row.
CREATE TABLE ledger_key (
	site		text NOT NULL REFERENCES ledger_log,
	key_id		text NOT NULL CHECK (key_id ~ '^[0-9a-f]{8}$'),
	sig_alg		text NOT NULL CHECK (sig_alg IN ('ed25519', 'sm2')),
	public_key	text NOT NULL CHECK (public_key LIKE '-----BEGIN PUBLIC KEY-----%'),
	valid_from	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (site, key_id)
);

-- The records. body is the canonical JSON that was hashed, byte for byte; the other
-- columns are copies of body's fields for the inspectors' searches (time, lane,
-- plate) and are never trusted by verify.
CREATE TABLE ledger_record (
	site		text NOT NULL,
	seq		bigint NOT NULL CHECK (seq >= 0),
	recorded_at	timestamptz NOT NULL DEFAULT now(),
	event_id	uuid NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('passage', 'audit', 'import',
			    'alarm')),
	ledger		text CHECK (ledger IN ('transport', 'fleet', 'machinery')),
	event_ts	timestamptz NOT NULL,
	lane		text,
	plate		text,
	body		text NOT NULL,
	leaf_hash	bytea NOT NULL CHECK (octet_length(leaf_hash) = 32),
	PRIMARY KEY (site, seq, recorded_at)
) PARTITION BY RANGE (recorded_at);
CREATE INDEX ledger_record_time ON ledger_record (site, event_ts);
CREATE INDEX ledger_record_plate ON ledger_record (plate, event_ts);

-- One row per record, unpartitioned, so that seq and event_id are unique per site
-- across all partitions: a replayed event is refused here (idempotent inserts use ON
-- CONFLICT on this table), a second record at the same seq too.
CREATE TABLE ledger_index (
	site		text NOT NULL REFERENCES ledger_log,
	seq		bigint NOT NULL CHECK (seq >= 0),
	event_id	uuid NOT NULL,
	recorded_at	timestamptz NOT NULL,
	PRIMARY KEY (site, seq),
	UNIQUE (site, event_id)
);

-- Full tiles of the Merkle tree: tile (level, idx) holds the 256 hashes of the
-- complete subtrees of height 8*level at indexes idx*256 .. idx*256+255.
CREATE TABLE ledger_tile (
	site		text NOT NULL REFERENCES ledger_log,
	level		smallint NOT NULL CHECK (level BETWEEN 0 AND 7),
	idx		bigint NOT NULL CHECK (idx >= 0),
	hashes		bytea NOT NULL CHECK (octet_length(hashes) = 256 * 32),
	PRIMARY KEY (site, level, idx)
);

-- Signed checkpoints, as published (C2SP signed note text in note).
CREATE TABLE ledger_checkpoint (
	site		text NOT NULL REFERENCES ledger_log,
	tree_size	bigint NOT NULL CHECK (tree_size >= 0),
	root_hash	bytea NOT NULL CHECK (octet_length(root_hash) = 32),
	signed_at	timestamptz NOT NULL,
	key_id		text NOT NULL,
	note		text NOT NULL,
	PRIMARY KEY (site, tree_size),
	FOREIGN KEY (site, key_id) REFERENCES ledger_key
);

-- Evidence (photos, 随车清单 scans) by the SHA-256 of its bytes: a record names the
-- hash, so an image cannot be swapped without breaking the record's leaf.
CREATE TABLE evidence (
	sha256		bytea PRIMARY KEY CHECK (octet_length(sha256) = 32),
	media_type	text NOT NULL CHECK (char_length(media_type) BETWEEN 1 AND 64),
	size		integer NOT NULL CHECK (size >= 0),
	content		bytea NOT NULL CHECK (octet_length(content) = size),
	received_at	timestamptz NOT NULL DEFAULT now()
);

-- Where the ledger-writer stands in each Kafka partition, written in the same
-- transaction as the records: after a crash it resumes exactly there. Not a ledger
-- table: it is updated.
CREATE TABLE ledger_offset (
	consumer	text NOT NULL,
	topic		text NOT NULL,
	partition	integer NOT NULL CHECK (partition >= 0),
	next_offset	bigint NOT NULL CHECK (next_offset >= 0),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (consumer, topic, partition)
);

-- Append-only guard: no row of a ledger table changes or goes away, whoever asks.
CREATE FUNCTION ledger_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'ledger table %: % refused, the ledger is append-only',
	    TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
REVOKE ALL ON FUNCTION ledger_frozen() FROM PUBLIC;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['ledger_log', 'ledger_key', 'ledger_record',
	    'ledger_index', 'ledger_tile', 'ledger_checkpoint', 'evidence'] LOOP
		EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I '
		    'FOR EACH ROW EXECUTE FUNCTION ledger_frozen()', t || '_frozen', t);
		EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I '
		    'FOR EACH STATEMENT EXECUTE FUNCTION ledger_frozen()',
		    t || '_no_truncate', t);
	END LOOP;
END
$$;

-- The partition of ledger_record for the month of ts, created when missing with its
-- own TRUNCATE guard (a statement trigger on the parent does not cover a TRUNCATE of
-- the partition itself). Returns the partition's name. SECURITY DEFINER so the writer
-- role can make next month's partition without the right to create tables.
CREATE FUNCTION ledger_partition(ts timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	lo timestamptz := date_trunc('month', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
	hi timestamptz := lo + interval '1 month';
	name text := 'ledger_record_' || to_char(lo AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
	IF to_regclass(name) IS NULL THEN
		-- One maker at a time; the loser of a race finds the table made.
		PERFORM pg_advisory_xact_lock(hashtext('ecogate.ledger_partition'));
		IF to_regclass(name) IS NULL THEN
			EXECUTE format('CREATE TABLE %I PARTITION OF ledger_record '
			    'FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
			EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR '
			    'EACH STATEMENT EXECUTE FUNCTION ledger_frozen()',
			    name || '_no_truncate', name);
		END IF;
	END IF;
	RETURN name;
END
$$;
REVOKE ALL ON FUNCTION ledger_partition(timestamptz) FROM PUBLIC;

-- This month and the next exist from the start.
SELECT ledger_partition(now());
SELECT ledger_partition(now() + interval '1 month');

-- Retention guard: refuses to drop a ledger table, or a month of ledger_record that
-- is not older than the longest retention of any site (at least 24 months).
CREATE FUNCTION ledger_retention_guard() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
	o record;
	keep integer;
	month timestamptz;
BEGIN
	SELECT greatest(24, coalesce(max(retention_months), 24)) INTO keep FROM ledger_log;
	FOR o IN SELECT * FROM pg_event_trigger_dropped_objects()
	    WHERE object_type = 'table' AND schema_name = 'public' LOOP
		IF o.object_name IN ('ledger_log', 'ledger_key', 'ledger_record',
		    'ledger_index', 'ledger_tile', 'ledger_checkpoint', 'evidence') THEN
			RAISE EXCEPTION 'ledger table % cannot be dropped', o.object_name
			    USING ERRCODE = 'insufficient_privilege';
		END IF;
		IF o.object_name ~ '^ledger_record_[0-9]{4}_[0-9]{2}$' THEN
			month := to_timestamp(substr(o.object_name, 15), 'YYYY_MM');
			IF month + interval '1 month' > now() - make_interval(months => keep)
			    THEN
				RAISE EXCEPTION 'ledger partition % is within the retention '
				    'period of % months and cannot be dropped',
				    o.object_name, keep
				    USING ERRCODE = 'insufficient_privilege';
			END IF;
		END IF;
	END LOOP;
END
$$;
CREATE EVENT TRIGGER ledger_retention ON sql_drop
    EXECUTE FUNCTION ledger_retention_guard();

-- Roles (DESIGN §6): the writer appends and reads; viewers read; operators read (their
-- actions reach the ledger through Kafka, never directly); only the owner alters.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ecogate_ledger_writer') THEN
		CREATE ROLE ecogate_ledger_writer NOLOGIN;
	END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO ecogate_ledger_writer;
GRANT SELECT, INSERT ON ledger_log, ledger_key, ledger_record, ledger_index,
    ledger_tile, ledger_checkpoint, evidence TO ecogate_ledger_writer;
GRANT SELECT, INSERT, UPDATE ON ledger_offset TO ecogate_ledger_writer;
GRANT EXECUTE ON FUNCTION ledger_partition(timestamptz) TO ecogate_ledger_writer;
GRANT SELECT ON ledger_log, ledger_key, ledger_record, ledger_index, ledger_tile,
    ledger_checkpoint, evidence, ledger_offset TO ecogate_viewer;
