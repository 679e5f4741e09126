-- groundwork: backward-compatible
-- imports: an organisation's CSV imports of contacts (internal/imports). A
-- row is one uploaded file: how its rows are treated (all_or_nothing or
-- skip_invalid), its progress (bytes read of the file, the last line whose
-- rows are committed, so that a retry resumes after it), its counts and the
-- report of its rejected rows (line numbers and messages, the first 1,000).
-- The file itself waits in the blob store as a temporary object until the
-- job has read it. Tenant-owned: org_id leads the key and every index, and
-- row-level security limits every query to the organisation in app.org_id.
--
-- imports_one_active keeps at most one queued or running import per
-- organisation: a second upload is a unique violation (ECONFLICT).
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

INSERT INTO schema_compat (version) VALUES (21);

CREATE TABLE imports (
    org_id           uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    id               uuid        NOT NULL,
    actor_user_id    text        NOT NULL DEFAULT '',
    actor_api_key_id text        NOT NULL DEFAULT '',
    mode             text        NOT NULL CHECK (mode IN ('all_or_nothing', 'skip_invalid')),
    file_name        text        NOT NULL DEFAULT '',
    bytes            bigint      NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    status           text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    bytes_read       bigint      NOT NULL DEFAULT 0 CHECK (bytes_read >= 0),
    lines_done       bigint      NOT NULL DEFAULT 0 CHECK (lines_done >= 0),
    rows_total       bigint      NOT NULL DEFAULT 0 CHECK (rows_total >= 0),
    rows_imported    bigint      NOT NULL DEFAULT 0 CHECK (rows_imported >= 0),
    rows_rejected    bigint      NOT NULL DEFAULT 0 CHECK (rows_rejected >= 0),
    rejected         jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(rejected) = 'array'),
    error            text        NOT NULL DEFAULT '',
    attempts         integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX imports_one_active ON imports (org_id) WHERE status IN ('queued', 'running');

ALTER TABLE imports ENABLE ROW LEVEL SECURITY;
ALTER TABLE imports FORCE ROW LEVEL SECURITY;
CREATE POLICY imports_tenant ON imports
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());
REVOKE TRUNCATE ON imports FROM groundwork_app;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 21;
DROP TABLE imports;
