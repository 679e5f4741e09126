-- groundwork: backward-compatible
-- The unprocessed rows of the Stripe event ledger: what the reconciler
-- retries and the billing metrics count on every scrape. The ledger keeps
-- every event, so without this partial index both would scan it whole; the
-- index holds only the few rows not yet processed.
-- +goose NO TRANSACTION
-- +goose Up
SET lock_timeout = '5s';
SET statement_timeout = '0';  -- an index build on a big table takes as long as it takes
CREATE INDEX CONCURRENTLY IF NOT EXISTS stripe_events_unprocessed_idx ON stripe_events (created, id) WHERE processed_at IS NULL;
INSERT INTO schema_compat (version) VALUES (11);

-- +goose Down
DELETE FROM schema_compat WHERE version = 11;
DROP INDEX CONCURRENTLY IF EXISTS stripe_events_unprocessed_idx;
