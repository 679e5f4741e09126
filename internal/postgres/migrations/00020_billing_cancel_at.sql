-- groundwork: backward-compatible
-- Billing, dunning (internal/billing/snapshot.go, docs/billing.md):
--   * cancel_at: the date Stripe cancels the subscription (a cancellation
--     set for a date in the Dashboard, or the period end of
--     cancel_at_period_end), as last fetched; the plan ends then.
--   * finalization_failed_at: when Stripe first failed to finalise the
--     subscription's latest invoice (Stripe Tax needs the customer's
--     location): nothing is charged meanwhile, so the grace period starts
--     once finalisation has failed for a while.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Only adds nullable columns: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (20);

ALTER TABLE billing_accounts ADD COLUMN cancel_at timestamptz;
ALTER TABLE billing_accounts ADD COLUMN finalization_failed_at timestamptz;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 20;
ALTER TABLE billing_accounts DROP COLUMN finalization_failed_at;
ALTER TABLE billing_accounts DROP COLUMN cancel_at;
