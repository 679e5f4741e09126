-- groundwork: backward-compatible
-- Billing, syncs outside the row lock (internal/billing/sync.go, docs/billing.md):
--   * billing_accounts.sync_version: raised by every write of the snapshot
--     (a sync's store, a checkout recording its customer, an operator
--     clearing a dispute). A sync reads the account and its version, fetches
--     from Stripe with no transaction open, then locks the row and stores
--     only if the version is still the one it read; otherwise another write
--     came in between and it fetches again, so an older fetch is never
--     stored over a newer one, and no row lock or connection is held across
--     Stripe round trips. The previous release does not raise it; it still
--     holds the row lock across its fetches, so a sync of the new release
--     that overlaps one of the old sees a version it read and stores after
--     it, which is what the old release did anyway.
--   * stripe_events.sync_hint: what an event asks a sync to re-fetch, once
--     the worker has resolved it to its organisation (org_ref); the event is
--     processed when the coalesced per-organisation sync job that covers
--     that hint succeeds. NULL until resolved, and for rows the previous
--     release processed.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Only adds columns: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (18);

ALTER TABLE billing_accounts ADD COLUMN sync_version bigint NOT NULL DEFAULT 0;
ALTER TABLE stripe_events ADD COLUMN sync_hint jsonb;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 18;
ALTER TABLE stripe_events DROP COLUMN sync_hint;
ALTER TABLE billing_accounts DROP COLUMN sync_version;
