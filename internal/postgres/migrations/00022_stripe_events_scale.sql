-- groundwork: backward-compatible
-- The Stripe event ledger at scale (internal/billing, docs/billing.md):
--   * stripe_events_failed_invoice_idx: the invoice.payment_failed events of
--     one invoice, by the invoice's ID in the payload. A sync looks up when
--     an invoice first failed (firstRecordedFailure) with exactly this
--     expression and predicate; without the index that is a scan of the
--     whole ledger on every first failure. Partial: only payment failures.
--   * stripe_events_processed_idx: processed rows by when they were
--     processed, for the retention job (billing.PruneLedgerArgs), which
--     deletes processed rows older than the retention in small batches and
--     keeps every unprocessed (waiting or failing) one.
-- +goose NO TRANSACTION
-- +goose Up
SET lock_timeout = '5s';
SET statement_timeout = '0';  -- an index build on a big table takes as long as it takes
CREATE INDEX CONCURRENTLY IF NOT EXISTS stripe_events_failed_invoice_idx
    ON stripe_events ((payload #>> '{data,object,id}'), created) WHERE type = 'invoice.payment_failed';
CREATE INDEX CONCURRENTLY IF NOT EXISTS stripe_events_processed_idx
    ON stripe_events (processed_at) WHERE processed_at IS NOT NULL;
INSERT INTO schema_compat (version) VALUES (22);

-- +goose Down
DELETE FROM schema_compat WHERE version = 22;
DROP INDEX CONCURRENTLY IF EXISTS stripe_events_processed_idx;
DROP INDEX CONCURRENTLY IF EXISTS stripe_events_failed_invoice_idx;
