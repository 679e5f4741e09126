-- groundwork: backward-compatible
-- What runs in production: every start of serve or worker records its
-- version, commit, build time, host and start time (internal/maintenance,
-- Store.RecordStart); `groundwork releases` and /version list them.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- A new table nothing reads yet: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (17);

CREATE TABLE deployments (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role       text        NOT NULL CHECK (role IN ('serve', 'worker')),
    version    text        NOT NULL,
    commit     text        NOT NULL,
    build_time text        NOT NULL,
    host       text        NOT NULL,
    pid        integer     NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployments_started_idx ON deployments (started_at DESC);

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 17;
DROP TABLE deployments;
