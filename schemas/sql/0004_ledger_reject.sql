-- 0004_ledger_reject: messages the ledger-writer could not turn into a record.
--
-- A malformed passage or audit message (unknown schema, missing or malformed member,
-- not JSON), or an evidence image whose bytes do not hash to its key, is never
-- dropped: it is kept here, byte for byte, with where it was read and why it was
-- refused, in the same transaction that moves the writer's offset past it. An
-- operator fixes the producer and, if the fact matters, records it again (a new
-- event, with the reject's offset in its reason). Idempotent on (topic, partition,
-- offset), append-only like the ledger's tables.

CREATE TABLE ledger_reject (
	topic		text NOT NULL,
	partition	integer NOT NULL CHECK (partition >= 0),
	"offset"	bigint NOT NULL CHECK ("offset" >= 0),
	site		text,
	reason		text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 400),
	key		bytea,
	value		bytea,
	received_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (topic, partition, "offset")
);
COMMENT ON TABLE ledger_reject IS
    'Messages the ledger-writer refused, kept verbatim with the reason';

CREATE TRIGGER ledger_reject_frozen BEFORE UPDATE OR DELETE ON ledger_reject
    FOR EACH ROW EXECUTE FUNCTION ledger_frozen();
CREATE TRIGGER ledger_reject_no_truncate BEFORE TRUNCATE ON ledger_reject
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_frozen();

GRANT SELECT, INSERT ON ledger_reject TO ecogate_ledger_writer;
GRANT SELECT ON ledger_reject TO ecogate_viewer;
