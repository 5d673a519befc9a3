-- 0002_policy: the admission policy's history (`ecogatectl policy load|set-alert`).
--
-- Every policy a site ever had is one row, never updated or deleted: the current
-- policy of a site is its newest row (highest seq), and the row a decision names by
-- its policy version can always be found again (the ledger cites it). The document is
-- kept whole (jsonb); alert_level is copied out of it so "which level when" is one
-- indexed query. The same document is published retained on
-- ecogate/v1/{site}/config/policy, where the verifiers take it from.
--
-- A version names one document per site: (site, version) is the key, and the tool
-- refuses to store a version again with different content.
--
-- Applied by `ecogatectl migrate` inside one transaction; never edit this file once
-- released: change the schema in a new migration.

CREATE TABLE policy_version (
	seq		bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	site		text NOT NULL CHECK (site ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
	version		text NOT NULL CHECK (char_length(version) BETWEEN 1 AND 64),
	document	jsonb NOT NULL CHECK (jsonb_typeof(document) = 'object' AND
			    document->>'schema' = 'ecogate.policy.v1' AND
			    document->>'version' = version AND
			    document->>'alert_level' = alert_level),
	alert_level	text NOT NULL CHECK (alert_level IN
			    ('none', 'blue', 'yellow', 'orange', 'red')),
	set_by		text NOT NULL CHECK (char_length(set_by) BETWEEN 1 AND 64),
	reason		text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 200),
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (site, version)
);

-- "The current policy of site S": the newest row of S.
CREATE INDEX policy_version_site_seq ON policy_version (site, seq DESC);

COMMENT ON TABLE policy_version IS
    'Admission policy history, append-only; current = newest seq per site';

-- History is evidence: no row changes or goes away, whoever asks.
CREATE FUNCTION policy_version_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'policy_version is append-only (% refused)', TG_OP
	    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER policy_version_frozen BEFORE UPDATE OR DELETE ON policy_version
    FOR EACH ROW EXECUTE FUNCTION policy_version_frozen();
CREATE TRIGGER policy_version_no_truncate BEFORE TRUNCATE ON policy_version
    FOR EACH STATEMENT EXECUTE FUNCTION policy_version_frozen();

-- Roles (DESIGN §6; made by 0001): viewers read the history, operators add to it
-- (loading a policy, changing the alert level); admin has nothing more to do here,
-- since no one may rewrite it.
GRANT SELECT ON policy_version TO ecogate_viewer;
GRANT INSERT ON policy_version TO ecogate_operator;
