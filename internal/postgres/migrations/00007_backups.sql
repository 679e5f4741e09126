-- backup_rehearsals: the outcome of each automatic restore rehearsal
-- ("groundwork backup rehearse" and its weekly job, internal/backup): which
-- backup was restored into a scratch database, how long the restore and the
-- checks took (the measured recovery time), how many tables were checked
-- against the backup's manifest, and what went wrong. Global, not
-- tenant-owned: a rehearsal covers the whole database. The runtime role may
-- append and read; UPDATE, DELETE and TRUNCATE (from the default privileges)
-- are revoked.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE backup_rehearsals (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    backup_id        text        NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_ms      bigint      NOT NULL CHECK (duration_ms >= 0),
    backup_bytes     bigint      NOT NULL CHECK (backup_bytes >= 0),
    tables_checked   integer     NOT NULL CHECK (tables_checked >= 0),
    mismatches       integer     NOT NULL CHECK (mismatches >= 0),
    migrations       text[]      NOT NULL DEFAULT '{}',
    ok               boolean     NOT NULL,
    error            text        NOT NULL DEFAULT ''
);

CREATE INDEX backup_rehearsals_started_at ON backup_rehearsals (started_at);

REVOKE UPDATE, DELETE, TRUNCATE ON backup_rehearsals FROM groundwork_app;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DROP TABLE backup_rehearsals;
