-- groundwork: backward-compatible
-- Billing, plans from a catalogue (internal/billing/plans.json, docs/billing.md):
--   * plan_id / plan_interval: the plan and interval the catalogue resolved
--     from every item of the subscription (by price ID, lookup key, price
--     metadata or product), so an add-on item listed first or a new price of
--     a plan (price increase, grandfathered or per-currency price) keeps the
--     plan. '' in rows synced before: their price_id is looked up as before.
--   * pending_plan_id / scheduled_plan_id: the same for a pending upgrade and
--     a scheduled downgrade.
--   * subscribed_before: the organisation has had a subscription: the billing
--     page offers trials only to those that never had one.
--   * granted_plan_id / granted_until / granted_by: a plan an operator granted
--     (groundwork billing grant-plan, audited), in force until granted_until
--     (NULL: until revoked); the organisation gets the better of it and its
--     subscription.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Only adds columns with constant defaults: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (19);

ALTER TABLE billing_accounts ADD COLUMN plan_id text NOT NULL DEFAULT '';
ALTER TABLE billing_accounts ADD COLUMN plan_interval text NOT NULL DEFAULT '';
ALTER TABLE billing_accounts ADD COLUMN pending_plan_id text NOT NULL DEFAULT '';
ALTER TABLE billing_accounts ADD COLUMN scheduled_plan_id text NOT NULL DEFAULT '';
ALTER TABLE billing_accounts ADD COLUMN subscribed_before boolean NOT NULL DEFAULT false;
ALTER TABLE billing_accounts ADD COLUMN granted_plan_id text NOT NULL DEFAULT '';
ALTER TABLE billing_accounts ADD COLUMN granted_until timestamptz;
ALTER TABLE billing_accounts ADD COLUMN granted_by text NOT NULL DEFAULT '';
-- Every organisation with a subscription on record has had one (a handful
-- of rows per customer: one short UPDATE).
UPDATE billing_accounts SET subscribed_before = true WHERE subscription_id <> '';

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 19;
ALTER TABLE billing_accounts DROP COLUMN granted_by;
ALTER TABLE billing_accounts DROP COLUMN granted_until;
ALTER TABLE billing_accounts DROP COLUMN granted_plan_id;
ALTER TABLE billing_accounts DROP COLUMN subscribed_before;
ALTER TABLE billing_accounts DROP COLUMN scheduled_plan_id;
ALTER TABLE billing_accounts DROP COLUMN pending_plan_id;
ALTER TABLE billing_accounts DROP COLUMN plan_interval;
ALTER TABLE billing_accounts DROP COLUMN plan_id;
