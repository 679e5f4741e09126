-- groundwork: backward-compatible
-- pg_stat_statements, for the operator console's slow SQL (/ops), where the
-- server has it and the migrating role may create it. The embedded cluster
-- preloads the library and its setup creates the extension as superuser
-- (internal/postgres/local_setup.go); on a managed database an admin may
-- need to create it. Where it is unavailable, or the role lacks the right,
-- this migration does nothing and /ops says so.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

INSERT INTO schema_compat (version) VALUES (31);

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_stat_statements')
       AND NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_stat_statements') THEN
        BEGIN
            CREATE EXTENSION pg_stat_statements;
        EXCEPTION WHEN insufficient_privilege OR feature_not_supported OR undefined_file THEN
            RAISE NOTICE 'pg_stat_statements not created: %', SQLERRM;
        END;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 31;
