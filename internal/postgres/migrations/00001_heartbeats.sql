-- Heartbeats: one row a minute, written by the maintenance queue. They prove
-- that the job system runs, and give point-in-time recovery rehearsals a
-- clock to check the recovery point against. Old rows are pruned.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
CREATE TABLE heartbeats (
    id         uuid        PRIMARY KEY,
    written_at timestamptz NOT NULL DEFAULT now(),
    instance   text        NOT NULL
);
CREATE INDEX heartbeats_written_at_idx ON heartbeats (written_at);

-- +goose Down
SET LOCAL lock_timeout = '5s';
DROP TABLE heartbeats;
