-- groundwork: backward-compatible
-- export_schedules: an organisation's scheduled export (internal/exports),
-- at most one: daily, or weekly on a weekday, at an hour of its time zone.
-- next_run_at is when it is next due; the periodic export_schedules job
-- requests the due ones' exports (as a member would, the same way) and
-- moves next_run_at on. Tenant-owned: org_id is the key, and row-level
-- security limits every query to the organisation in app.org_id.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

INSERT INTO schema_compat (version) VALUES (23);

CREATE TABLE export_schedules (
    org_id         uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    frequency      text        NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    weekday        integer     NOT NULL DEFAULT 0 CHECK (weekday BETWEEN 0 AND 6),
    hour           integer     NOT NULL CHECK (hour BETWEEN 0 AND 23),
    timezone       text        NOT NULL DEFAULT 'UTC',
    format         text        NOT NULL CHECK (format IN ('csv', 'jsonl')),
    packaging      text        NOT NULL CHECK (packaging IN ('gzip', 'zip')),
    tables         text[]      NOT NULL CHECK (cardinality(tables) > 0),
    created_by     text        NOT NULL DEFAULT '',
    next_run_at    timestamptz NOT NULL,
    last_export_id uuid,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (org_id)
);

ALTER TABLE export_schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE export_schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY export_schedules_tenant ON export_schedules
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());
REVOKE TRUNCATE ON export_schedules FROM groundwork_app;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 23;
DROP TABLE export_schedules;
