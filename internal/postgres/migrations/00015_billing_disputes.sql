-- groundwork: backward-compatible
-- Billing, disputes per ID (internal/billing/dispute.go, docs/billing.md):
--   * billing_disputes: every dispute on an organisation's payments, keyed
--     by Stripe's ID, so that a later dispute (an inquiry on another charge)
--     cannot hide an earlier one that still restricts the organisation
--     (billing_accounts kept only the newest). billing_accounts' dispute_*
--     columns keep the dispute that governs the entitlements (an open one
--     with funds withdrawn, else a lost one not cleared, else the newest),
--     so the previous release reads what it always read. lost_at: when the
--     dispute was first seen lost; cleared_at/cleared_by: a lost dispute's
--     effect ended, by a later paid invoice ("invoice:<id>") or by an
--     operator ("operator:<who>", audited). Tenant-owned, with row-level
--     security on app.org_id, org_id leading the key.
-- The runtime role's privileges come from the schema's default privileges.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Only adds a table: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (15);

CREATE TABLE billing_disputes (
    org_id          uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    dispute_id      text        NOT NULL CHECK (dispute_id <> ''),  -- Stripe's du_...
    status          text        NOT NULL DEFAULT '',                -- billing.DisputeStatus
    funds_withdrawn boolean     NOT NULL DEFAULT false,
    amount          bigint      NOT NULL DEFAULT 0 CHECK (amount >= 0), -- minor units
    currency        text        NOT NULL DEFAULT '',
    created         timestamptz NOT NULL,                            -- when Stripe created it
    lost_at         timestamptz,
    cleared_at      timestamptz,
    cleared_by      text        NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, dispute_id)
);
ALTER TABLE billing_disputes ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_disputes FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_disputes_tenant ON billing_disputes
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 15;
DROP TABLE billing_disputes;
