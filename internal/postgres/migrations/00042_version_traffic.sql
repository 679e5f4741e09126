-- groundwork: backward-compatible
-- Each version's requests and server errors per minute, summed over every
-- serve instance (internal/maintenance, Store.AddTraffic), so that an
-- instance of a new version can compare its error rate in the ten minutes
-- after it started with the previous version's (internal/alert,
-- DeployWatch). version_alerts records which alert went out for which
-- version, so that several instances send it once between them.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- New tables nothing reads yet: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (42);

CREATE TABLE version_traffic (
    version  text        NOT NULL,
    minute   timestamptz NOT NULL,
    requests bigint      NOT NULL DEFAULT 0 CHECK (requests >= 0),
    errors   bigint      NOT NULL DEFAULT 0 CHECK (errors >= 0),
    PRIMARY KEY (version, minute)
);

CREATE TABLE version_alerts (
    version text        NOT NULL,
    alert   text        NOT NULL,
    sent_at timestamptz NOT NULL,
    PRIMARY KEY (version, alert)
);

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 42;
DROP TABLE version_alerts;
DROP TABLE version_traffic;
