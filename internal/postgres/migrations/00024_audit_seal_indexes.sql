-- groundwork: backward-compatible
-- Indexes for sealing the audit log after commit (00025): events of an
-- organisation are numbered and hashed into its chain by the sealer, no
-- longer under a per-organisation lock in the writing transaction.
--   * audit_events_seq_key keeps a chain position unique once the primary
--     key moves to (org_id, id) in 00025;
--   * audit_events_unsealed_idx holds only the events not sealed yet (a
--     few seconds' worth), for the sealer and for verify's count of them.
-- Both are built concurrently, so the release before this one keeps
-- recording while they build.
-- +goose NO TRANSACTION
-- +goose Up
SET lock_timeout = '5s';
SET statement_timeout = '0';  -- an index build on a big table takes as long as it takes
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS audit_events_seq_key ON audit_events (org_id, seq);
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_events_unsealed_idx ON audit_events (org_id, id) WHERE hash IS NULL;
INSERT INTO schema_compat (version) VALUES (24);

-- +goose Down
DELETE FROM schema_compat WHERE version = 24;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_unsealed_idx;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_seq_key;
