-- groundwork: backward-compatible
-- Operators: platform staff who may open the operator console (/ops), kept
-- apart from organisation roles. "groundwork operator grant EMAIL" adds a
-- row, "revoke" removes it (internal/operator). The runtime role reads the
-- table to authorise /ops; grants and revocations are audited in the
-- user's account audit chain (internal/audit).
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- A new table nothing reads yet: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (30);

CREATE TABLE operators (
    user_id    uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by text        NOT NULL DEFAULT ''
);

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 30;
DROP TABLE operators;
