-- schema_compat: the migrations marked backward compatible, recorded by each
-- such migration itself (see postgres.CompatMarker and docs/migrations.md).
-- During a rolling deploy the database runs one migration ahead of the
-- previous release, which has never seen that migration's file: this table
-- is how the previous release learns it may keep serving ("serve" and
-- /readyz accept a schema exactly one version ahead only when that version
-- is listed here). The runtime role may only read it.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE schema_compat (
    version   bigint      PRIMARY KEY,
    marked_at timestamptz NOT NULL DEFAULT now()
);
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_compat FROM groundwork_app;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DROP TABLE schema_compat;
