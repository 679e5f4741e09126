-- groundwork: backward-compatible
-- exports.read_from: where the export read its data (internal/exports,
-- docs/exports.md "Read replica"): '' before it ran, 'replica', or
-- 'primary' with why ('primary: replica lagging 42s', 'primary: replica
-- unavailable') when DATABASE_REPLICA_URL is set; 'primary' alone without
-- a replica.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Only adds a column with a constant default: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (27);

ALTER TABLE exports ADD COLUMN read_from text NOT NULL DEFAULT '';

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 27;
ALTER TABLE exports DROP COLUMN read_from;
