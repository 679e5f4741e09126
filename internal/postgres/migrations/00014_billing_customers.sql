-- groundwork: backward-compatible
-- Billing, third step (internal/billing, docs/billing.md):
--   * stripe_customers: every Stripe customer the application created or
--     adopted, with its organisation (org_ref). Webhook events are resolved
--     to their organisation through it: billing_accounts, under row-level
--     security, cannot be searched by customer, and a customer deleted in
--     Stripe no longer returns the metadata naming its organisation. It is
--     global, like stripe_events and for the same reason (the organisation
--     is what is being looked up), and its column is org_ref, not org_id,
--     for the same reason too: every org_id table is a tenant table under
--     row-level security. No foreign key: an event of a deleted organisation
--     must still resolve to it (and be skipped as such). deleted_at: Stripe
--     deleted the customer; its late events change nothing, and the
--     organisation may subscribe again with a new customer. Rows are written
--     by every sync, so organisations that subscribed before this migration
--     are mapped on their next sync (the daily sweep syncs them all).
--   * billing_state: one row the processes share: the Customer Portal
--     configuration created for them (its ID and a fingerprint of its
--     parameters, so that one is created per set of parameters, not per
--     process), and the reconciler's backfill cursor (every event created
--     before it that Stripe had not delivered has been listed).
-- The runtime role's privileges come from the schema's default privileges.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Only adds tables: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (14);

CREATE TABLE stripe_customers (
    customer_id text        PRIMARY KEY CHECK (customer_id <> ''),  -- Stripe's cus_...
    org_ref     uuid        NOT NULL,                               -- the organisation (see above)
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz                                         -- when the deletion was noticed
);

CREATE TABLE billing_state (
    id                        boolean     PRIMARY KEY DEFAULT true CHECK (id),  -- one row
    portal_configuration_id   text        NOT NULL DEFAULT '',
    portal_configuration_hash text        NOT NULL DEFAULT '',
    events_backfilled_until   timestamptz,
    updated_at                timestamptz NOT NULL DEFAULT now()
);
INSERT INTO billing_state DEFAULT VALUES;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 14;
DROP TABLE billing_state;
DROP TABLE stripe_customers;
