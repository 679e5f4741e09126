-- A planted hazard for lint_test.go: an index built on an existing table
-- (created by an earlier migration) without CONCURRENTLY blocks every write
-- to the table while it builds. It sets both timeouts, so that
-- require-concurrent-index-creation is what the linter must object to.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
CREATE INDEX contacts_name_idx ON contacts (org_id, name);

-- +goose Down
-- Not linted: the Down section is cut off first.
DROP INDEX contacts_name_idx;
