-- groundwork: backward-compatible
-- contacts.custom_keys: the names of a contact's custom fields in the order
-- they were entered. custom is jsonb, which stores an object's keys sorted
-- (by length, then bytes), so the order a user typed is kept beside it.
-- NULL (rows written before this migration, or by a release that does not
-- know the column) reads as "sorted by name"; a name not in the list is
-- shown after those in it, sorted. Adding a nullable column without a
-- default changes only the catalogue: no rewrite, a brief lock.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

INSERT INTO schema_compat (version) VALUES (40);

ALTER TABLE contacts ADD COLUMN custom_keys text[];

-- +goose Down
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DELETE FROM schema_compat WHERE version = 40;

ALTER TABLE contacts DROP COLUMN custom_keys;
