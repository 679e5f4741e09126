-- groundwork: backward-compatible
-- Billing, second step (internal/billing):
--   * checkout_session_id: the organisation's latest Checkout Session. A new
--     checkout expires the previous one if it is still open, so two browser
--     tabs can never both complete and create two subscriptions; one that
--     completed is synced before deciding whether a new one is allowed.
--   * scheduled_price_id / scheduled_change_at: a downgrade waiting for the
--     period end in a Stripe subscription schedule, as last fetched, so the
--     billing page can say what changes when.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Only adds columns with constant defaults: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (10);

ALTER TABLE billing_accounts ADD COLUMN checkout_session_id text NOT NULL DEFAULT '';
ALTER TABLE billing_accounts ADD COLUMN scheduled_price_id text NOT NULL DEFAULT '';
ALTER TABLE billing_accounts ADD COLUMN scheduled_change_at timestamptz;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 10;
ALTER TABLE billing_accounts DROP COLUMN scheduled_change_at;
ALTER TABLE billing_accounts DROP COLUMN scheduled_price_id;
ALTER TABLE billing_accounts DROP COLUMN checkout_session_id;
