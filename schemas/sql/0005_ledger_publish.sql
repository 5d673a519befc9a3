-- 0005_ledger_publish: how far the ledger-writer's records have reached Kafka's
-- analytics topic (ecogate.ledger.v1), per site. The writer produces each record
-- after its transaction committed and moves next_seq once Kafka acknowledged it; at
-- start it produces again from next_seq, so a writer killed between its commit and
-- Kafka's acknowledgement still delivers every record at least once (consumers
-- de-duplicate by seq). Not a ledger table: it is updated.
--
-- Applied by `ecogatectl migrate` inside one transaction; never edit this file once
-- released: add a new migration.

CREATE TABLE ledger_publish (
	site		text PRIMARY KEY REFERENCES ledger_log,
	next_seq	bigint NOT NULL CHECK (next_seq >= 0),
	updated_at	timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON ledger_publish TO ecogate_ledger_writer;
GRANT SELECT ON ledger_publish TO ecogate_viewer;
