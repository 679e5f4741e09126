-- Audit log: an append-only, tamper-evident record of destructive and
-- security-relevant actions, written by internal/audit in the same
-- transaction as the change it records.
--
-- Each table holds hash chains: every row carries a sequence number in its
-- chain, the hash of the previous row (prev_hash, 32 zero bytes for the
-- first) and its own SHA-256 over its content and prev_hash (the format is
-- documented in internal/audit/hash.go). Appends to a chain are serialised
-- by a transaction-scoped advisory lock on the chain's id, and the primary
-- key (chain, seq) refuses a fork outright.
--
--   * audit_events: one chain per organisation. Tenant-owned: org_id leads
--     the key and every index, and row-level security limits it to
--     app.org_id. There is no foreign key to orgs: an organisation's log
--     outlives it, ending with its org.deleted event.
--   * account_audit_events: one chain per user, for actions on an account
--     that belong to no organisation (sign-ins from a new device, password,
--     email and two-factor changes, deletion). Global, like users; no
--     foreign key, so that it outlives the account.
--   * audit_chains: the organisations that have a chain. Row-level security
--     hides audit_events rows from a query that does not name the
--     organisation, so "groundwork audit verify" finds the chains here,
--     those of deleted organisations included. It holds ids only.
--
-- The runtime role may append and read, never change or remove: UPDATE,
-- DELETE and TRUNCATE, granted by the schema's default privileges, are
-- revoked below.
--
-- Pages of an organisation's events are a backward scan of (org_id, id);
-- the filters (actor, action, time) filter that scan.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE audit_events (
    org_id           uuid        NOT NULL,
    seq              bigint      NOT NULL CHECK (seq > 0),
    id               uuid        NOT NULL,                -- UUIDv7
    occurred_at      timestamptz NOT NULL,
    actor_user_id    uuid,                                -- NULL for an API key or the system (admin CLI)
    actor_api_key_id uuid,
    action           text        NOT NULL CHECK (action <> ''),
    target_type      text        NOT NULL CHECK (target_type <> ''),
    target_id        text        NOT NULL DEFAULT '',
    ip               text        NOT NULL DEFAULT '',
    user_agent       text        NOT NULL DEFAULT '',
    request_id       text        NOT NULL DEFAULT '',
    before           jsonb,                               -- updates and deletes; secrets redacted
    after            jsonb,                               -- creates and updates; secrets redacted
    prev_hash        bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash             bytea       NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (org_id, seq)
);
CREATE UNIQUE INDEX audit_events_id_key ON audit_events (org_id, id);
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_tenant ON audit_events
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());

CREATE TABLE account_audit_events (
    user_id          uuid        NOT NULL,                -- the account whose chain this is
    seq              bigint      NOT NULL CHECK (seq > 0),
    id               uuid        NOT NULL,
    occurred_at      timestamptz NOT NULL,
    actor_user_id    uuid,
    actor_api_key_id uuid,
    action           text        NOT NULL CHECK (action <> ''),
    target_type      text        NOT NULL CHECK (target_type <> ''),
    target_id        text        NOT NULL DEFAULT '',
    ip               text        NOT NULL DEFAULT '',
    user_agent       text        NOT NULL DEFAULT '',
    request_id       text        NOT NULL DEFAULT '',
    before           jsonb,
    after            jsonb,
    prev_hash        bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash             bytea       NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (user_id, seq)
);

CREATE TABLE audit_chains (
    chain_id   uuid        PRIMARY KEY,                   -- an organisation's id
    started_at timestamptz NOT NULL DEFAULT now()
);

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'groundwork_app') THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, account_audit_events, audit_chains FROM groundwork_app;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
SET LOCAL lock_timeout = '5s';
DROP TABLE audit_chains;
DROP TABLE account_audit_events;
DROP TABLE audit_events;
