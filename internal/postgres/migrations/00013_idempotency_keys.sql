-- groundwork: backward-compatible
-- Idempotency keys of API creates (internal/idempotency): which resource a
-- caller's Idempotency-Key created, and a hash of the request it came
-- with, for 24 hours. The row is written in the transaction that creates
-- the resource, so a retry after a lost response finds it even when the
-- server died right after committing. No response body is kept: a replay
-- renders the resource, so no decrypted field ever lands here.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- A new table nothing reads yet: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (13);

CREATE TABLE idempotency_keys (
    org_id       uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    caller       text        NOT NULL,  -- "key <api key id>" or "user <user id>"
    key          text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash text        NOT NULL,
    resource_id  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, caller, key)
);
CREATE INDEX idempotency_keys_age_idx ON idempotency_keys (org_id, created_at);
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_tenant ON idempotency_keys
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 13;
DROP TABLE idempotency_keys;
