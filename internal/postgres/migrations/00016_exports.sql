-- groundwork: backward-compatible
-- exports: an organisation's data exports (internal/exports). A row is one
-- request: which tables, in which format and packaging, its progress (rows
-- written of the estimate), the files it wrote to the blob store and when
-- they expire. Tenant-owned: org_id leads the key and every index, and
-- row-level security limits every query to the organisation in app.org_id.
--
-- exports_one_active keeps at most one queued or running export per
-- organisation: a second request is a unique violation (ECONFLICT).
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE exports (
    org_id         uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    id             uuid        NOT NULL,
    requested_by   text        NOT NULL DEFAULT '',
    format         text        NOT NULL CHECK (format IN ('csv', 'jsonl')),
    packaging      text        NOT NULL CHECK (packaging IN ('gzip', 'zip')),
    tables         text[]      NOT NULL CHECK (cardinality(tables) > 0),
    status         text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
    rows_written   bigint      NOT NULL DEFAULT 0 CHECK (rows_written >= 0),
    rows_estimated bigint      NOT NULL DEFAULT 0 CHECK (rows_estimated >= 0),
    files          jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(files) = 'array'),
    error          text        NOT NULL DEFAULT '',
    attempts       integer     NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    started_at     timestamptz,
    finished_at    timestamptz,
    expires_at     timestamptz,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX exports_one_active ON exports (org_id) WHERE status IN ('queued', 'running');
CREATE INDEX exports_expiry ON exports (org_id, expires_at) WHERE status = 'succeeded';

ALTER TABLE exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE exports FORCE ROW LEVEL SECURITY;
CREATE POLICY exports_tenant ON exports
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());
REVOKE TRUNCATE ON exports FROM groundwork_app;

INSERT INTO schema_compat (version) VALUES (16);

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 16;
DROP TABLE exports;
