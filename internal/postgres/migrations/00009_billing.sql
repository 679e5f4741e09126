-- groundwork: backward-compatible
-- Billing (internal/billing): Stripe is the source of truth, these tables
-- hold the application's snapshot of it, the ledger of webhook events, and
-- an outbox for side effects (docs/billing.md).
--
--   * billing_accounts: one row per organisation that has ever talked to
--     Stripe; an organisation without a row is on the free plan. Tenant-owned,
--     with row-level security on app.org_id. It keeps the subscription
--     snapshot the worker last fetched from Stripe, from which
--     billing.Catalog.Compute derives the entitlements, and the dispute flags.
--     first_payment_failed_at is stored once, on the first failure of a
--     dunning cycle, and cleared when payment recovers: the grace period is
--     counted from it, never from "now". stripe_customer_id is unique across
--     organisations (one Stripe customer per organisation), the one index
--     that does not lead with org_id: a customer id names its organisation.
--   * stripe_events: the webhook ledger, keyed by Stripe's event id, so a
--     redelivered event inserts nothing (ON CONFLICT DO NOTHING) and
--     enqueues no second job. It is global and has no row-level security:
--     an event is recorded after its signature is verified and before anyone
--     knows which organisation it concerns (that takes a Stripe fetch), and
--     the reconciler scans unprocessed rows of every organisation. The
--     organisation, once resolved, goes in org_ref; the column is not named
--     org_id because every org_id table is a tenant table under row-level
--     security (internal/web/tenancy_test.go checks them all).
--   * billing_outbox: side effects (emails) keyed on a natural key such as
--     "invoice:<id>:attempt:<n>:email", inserted with ON CONFLICT DO NOTHING
--     in the transaction that decides on them, so each happens once however
--     often an event is processed. Tenant-owned, like billing_accounts.
--
-- The runtime role's privileges come from the schema's default privileges.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Only adds tables: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (9);

CREATE TABLE billing_accounts (
    org_id                  uuid        PRIMARY KEY REFERENCES orgs ON DELETE CASCADE,
    stripe_customer_id      text        UNIQUE CHECK (stripe_customer_id <> ''),
    -- The subscription snapshot; all empty when there is no subscription.
    subscription_id         text        NOT NULL DEFAULT '',
    status                  text        NOT NULL DEFAULT '',   -- Stripe's subscription status
    price_id                text        NOT NULL DEFAULT '',   -- the price Stripe shows paid for
    pending_price_id        text        NOT NULL DEFAULT '',   -- pending_update (pending_if_incomplete): not granted
    current_period_end      timestamptz,
    cancel_at_period_end    boolean     NOT NULL DEFAULT false,
    first_payment_failed_at timestamptz,
    latest_invoice_id       text        NOT NULL DEFAULT '',
    latest_invoice_status   text        NOT NULL DEFAULT '',
    -- The latest dispute on the organisation's charges.
    dispute_id              text        NOT NULL DEFAULT '',
    dispute_status          text        NOT NULL DEFAULT '',   -- billing.DisputeStatus
    dispute_funds_withdrawn boolean     NOT NULL DEFAULT false,
    dispute_amount          bigint      NOT NULL DEFAULT 0 CHECK (dispute_amount >= 0), -- minor units
    dispute_currency        text        NOT NULL DEFAULT '',
    synced_at               timestamptz,                       -- last fetch from Stripe
    updated_at              timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE billing_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_accounts_tenant ON billing_accounts
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());

CREATE TABLE stripe_events (
    id           text        PRIMARY KEY CHECK (id <> ''),  -- Stripe's event id, evt_...
    type         text        NOT NULL,
    api_version  text        NOT NULL,
    created      timestamptz NOT NULL,                       -- when Stripe created the event
    payload      jsonb       NOT NULL,
    org_ref      uuid,                                       -- the organisation, once resolved (see above)
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   text        NOT NULL DEFAULT ''
);

CREATE TABLE billing_outbox (
    org_id     uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    key        text        NOT NULL CHECK (key <> ''),      -- natural key, e.g. invoice:<id>:attempt:<n>:email
    kind       text        NOT NULL CHECK (kind <> ''),
    payload    jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    PRIMARY KEY (org_id, key)
);
ALTER TABLE billing_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_outbox_tenant ON billing_outbox
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 9;
DROP TABLE billing_outbox;
DROP TABLE stripe_events;
DROP TABLE billing_accounts;
