-- groundwork: backward-compatible
-- exports.heartbeat_at: when the attempt working a running export last said
-- it was alive (internal/exports, docs/exports.md "A worker that dies").
-- The export_recovery job gives an export whose heartbeat is older than
-- GROUNDWORK_EXPORT_STALE_AFTER to a new job. exports.attempts becomes the
-- attempt's fencing token: each attempt increments it, and every write of
-- an attempt (progress, heartbeat, success, failure) names it, so that a
-- superseded attempt still alive writes nothing.
-- exports.files_attempt: the attempt whose files the export kept, under
-- exports/<org>/<id>/<attempt>/ (0: files written before this migration,
-- directly under exports/<org>/<id>/).
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Only adds columns with constant defaults: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (43);

ALTER TABLE exports ADD COLUMN heartbeat_at timestamptz,
    ADD COLUMN files_attempt integer NOT NULL DEFAULT 0;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 43;
ALTER TABLE exports DROP COLUMN heartbeat_at, DROP COLUMN files_attempt;
