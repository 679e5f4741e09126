-- The audit log of an organisation is sealed after commit (internal/audit,
-- docs/security.md "Audit log"). A write records its event in its own
-- transaction, as before, but unsealed: seq, prev_hash and hash are NULL,
-- and the event's id is queued in audit_unsealed. The sealer (a River job
-- every few seconds) takes the chain's advisory lock, numbers the queued
-- events after the chain's head in id order, hashes them and sets the
-- three columns, once. Writes of one organisation no longer wait for each
-- other's commit.
--
--   * The primary key moves from (org_id, seq) to (org_id, id), which was
--     already unique; audit_events_seq_key (00024) keeps positions unique.
--   * seq, prev_hash and hash are NULL until sealed, all three together.
--   * The runtime role may set those three columns and nothing else
--     (column privileges), and only while they are NULL: the trigger
--     refuses to change a sealed event. Content stays immutable, and
--     UPDATE of any other column, DELETE and TRUNCATE stay revoked.
--   * audit_unsealed holds ids only (like audit_chains, and named like it:
--     chain_id, not org_id), so it is not under row-level security: the
--     sealer reads it across organisations.
--     Removing a row from it leaves its event unsealed, which verify
--     reports.
-- Account chains (account_audit_events) are unchanged: they are written
-- under a per-user lock, as a user's own actions come one at a time.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY USING INDEX audit_events_id_key;
-- The only client of these columns is the application, and the release
-- before this one cannot record on this schema anyway (it reads a chain's
-- head under its lock): the release notes say so.
-- squawk-ignore ban-drop-not-null
ALTER TABLE audit_events ALTER COLUMN seq DROP NOT NULL,
                         -- squawk-ignore ban-drop-not-null
                         ALTER COLUMN prev_hash DROP NOT NULL,
                         -- squawk-ignore ban-drop-not-null
                         ALTER COLUMN hash DROP NOT NULL;
-- NOT VALID and never validated in this transaction: every existing row
-- had all three columns NOT NULL, so it holds for them; new rows are
-- checked.
ALTER TABLE audit_events ADD CONSTRAINT audit_events_sealed_together
    CHECK ((seq IS NULL) = (hash IS NULL) AND (hash IS NULL) = (prev_hash IS NULL)) NOT VALID;

CREATE TABLE audit_unsealed (
    chain_id uuid NOT NULL,  -- an organisation's id
    id       uuid NOT NULL,  -- its event's id
    PRIMARY KEY (chain_id, id)
);

-- +goose StatementBegin
CREATE FUNCTION audit_seal_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.hash IS NOT NULL THEN
        RAISE EXCEPTION 'audit event % is sealed', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.hash IS NULL OR NEW.seq IS NULL OR NEW.prev_hash IS NULL THEN
        RAISE EXCEPTION 'audit event % may only be sealed', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_seal_once BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_seal_once();

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'groundwork_app') THEN
        GRANT UPDATE (seq, prev_hash, hash) ON audit_events TO groundwork_app;
        REVOKE UPDATE, TRUNCATE ON audit_unsealed FROM groundwork_app;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
SET LOCAL lock_timeout = '5s';
-- Down needs every event sealed (run "groundwork audit seal" first): the
-- columns become NOT NULL again.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'groundwork_app') THEN
        REVOKE UPDATE (seq, prev_hash, hash) ON audit_events FROM groundwork_app;
    END IF;
END
$$;
-- +goose StatementEnd
DROP TRIGGER audit_events_seal_once ON audit_events;
DROP FUNCTION audit_seal_once();
DROP TABLE audit_unsealed;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_sealed_together;
ALTER TABLE audit_events ALTER COLUMN seq SET NOT NULL,
                         ALTER COLUMN prev_hash SET NOT NULL,
                         ALTER COLUMN hash SET NOT NULL;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
CREATE UNIQUE INDEX audit_events_id_key ON audit_events (org_id, id);
ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (org_id, seq);
