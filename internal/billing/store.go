package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v85"
)

// The SQL of the module: one function per statement. The statements on an
// organisation's billing rows (billing_accounts, billing_outbox) take a
// pgx.Tx scoped to that organisation (postgres.InOrgTx); they name org_id
// although row-level security already limits them to it, so that
// PostgreSQL uses the primary key. The statements on the global tables
// (stripe_events, the list of orgs), which have no row-level security, take
// a querier: the pool, or the transaction they must be part of. Every
// error is wrapped with what was being done; pgx.ErrNoRows is turned into
// what it means (no account, no row to deliver) where it is expected.

// querier runs SQL: a pgx.Tx, or the runtime-role pool.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// nullTime is t for a nullable timestamptz column: NULL when zero.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// utc is a nullable timestamptz column as a time: zero for NULL.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// --- billing_accounts ---

// insertAccount creates orgID's billing account, without a customer,
// unless it has one.
func insertAccount(ctx context.Context, tx pgx.Tx, orgID string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO billing_accounts (org_id) VALUES ($1) ON CONFLICT (org_id) DO NOTHING`, orgID); err != nil {
		return fmt.Errorf("billing: create account of %s: %w", orgID, err)
	}
	return nil
}

// insertCustomerAccount creates orgID's billing account naming its Stripe
// customer, unless it has one (whose customer it leaves as it is).
func insertCustomerAccount(ctx context.Context, tx pgx.Tx, orgID, customerID string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO billing_accounts (org_id, stripe_customer_id) VALUES ($1, $2)
		ON CONFLICT (org_id) DO NOTHING`, orgID, customerID); err != nil {
		return fmt.Errorf("create billing account of %s: %w", orgID, err)
	}
	return nil
}

// loadAccount returns orgID's billing account, locked until tx ends if
// lock; the zero Account (with OrgID set) when it has none.
func loadAccount(ctx context.Context, tx pgx.Tx, orgID string, lock bool) (Account, error) {
	q := `SELECT coalesce(stripe_customer_id, ''), subscription_id, status, price_id, pending_price_id,
		current_period_end, cancel_at_period_end, first_payment_failed_at, latest_invoice_id, latest_invoice_status,
		dispute_id, dispute_status, dispute_funds_withdrawn, dispute_amount, dispute_currency, synced_at,
		scheduled_price_id, scheduled_change_at, checkout_session_id, cancel_at, finalization_failed_at,
		plan_id, plan_interval, pending_plan_id, scheduled_plan_id, subscribed_before,
		granted_plan_id, granted_until, granted_by, sync_version
		FROM billing_accounts WHERE org_id = $1`
	if lock {
		q += " FOR UPDATE"
	}
	a := Account{OrgID: orgID}
	var status, invStatus, dispStatus string
	var periodEnd, firstFailed, synced, scheduled, cancelAt, finalizationFailed, grantedUntil *time.Time
	err := tx.QueryRow(ctx, q, orgID).Scan(&a.CustomerID, &a.SubscriptionID, &status, &a.Snapshot.PriceID,
		&a.Snapshot.PendingPriceID, &periodEnd, &a.Snapshot.CancelAtPeriodEnd, &firstFailed, &a.LatestInvoiceID,
		&invStatus, &a.DisputeID, &dispStatus, &a.Dispute.FundsWithdrawn, &a.DisputeAmount, &a.DisputeCurrency, &synced,
		&a.ScheduledPriceID, &scheduled, &a.CheckoutSessionID, &cancelAt, &finalizationFailed,
		&a.Snapshot.Plan, &a.Snapshot.Interval, &a.Snapshot.PendingPlan, &a.ScheduledPlan, &a.SubscribedBefore,
		&a.Grant.Plan, &grantedUntil, &a.Grant.By, &a.version)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, nil
	}
	if err != nil {
		return a, fmt.Errorf("load billing account of %s: %w", orgID, err)
	}
	a.Snapshot.Status = stripe.SubscriptionStatus(status)
	a.Snapshot.LatestInvoiceStatus = stripe.InvoiceStatus(invStatus)
	a.Dispute.Status = DisputeStatus(dispStatus)
	a.Snapshot.CurrentPeriodEnd = utc(periodEnd)
	a.Snapshot.FirstPaymentFailedAt = utc(firstFailed)
	a.SyncedAt = utc(synced)
	a.ScheduledChangeAt = utc(scheduled)
	a.Snapshot.CancelAt = utc(cancelAt)
	a.Snapshot.FinalizationFailedAt = utc(finalizationFailed)
	a.Grant.Until = utc(grantedUntil)
	return a, nil
}

// storeAccount stores what a sync fetched into a's existing row, raises its
// version and marks it synced at a.SyncedAt (when its fetch began; an
// operator's change keeps the last sync's). The checkout session is left
// as it is.
func storeAccount(ctx context.Context, tx pgx.Tx, a Account) error {
	_, err := tx.Exec(ctx, `UPDATE billing_accounts SET
		stripe_customer_id = NULLIF($2, ''), subscription_id = $3, status = $4, price_id = $5, pending_price_id = $6,
		current_period_end = $7, cancel_at_period_end = $8, first_payment_failed_at = $9,
		latest_invoice_id = $10, latest_invoice_status = $11,
		dispute_id = $12, dispute_status = $13, dispute_funds_withdrawn = $14, dispute_amount = $15, dispute_currency = $16,
		scheduled_price_id = $17, scheduled_change_at = $18,
		cancel_at = $19, finalization_failed_at = $20,
		plan_id = $21, plan_interval = $22, pending_plan_id = $23, scheduled_plan_id = $24,
		subscribed_before = subscribed_before OR $3 <> '',
		synced_at = $25, updated_at = now(), sync_version = sync_version + 1
		WHERE org_id = $1`,
		a.OrgID, a.CustomerID, a.SubscriptionID, string(a.Snapshot.Status), a.Snapshot.PriceID, a.Snapshot.PendingPriceID,
		nullTime(a.Snapshot.CurrentPeriodEnd), a.Snapshot.CancelAtPeriodEnd, nullTime(a.Snapshot.FirstPaymentFailedAt),
		a.LatestInvoiceID, string(a.Snapshot.LatestInvoiceStatus),
		a.DisputeID, string(a.Dispute.Status), a.Dispute.FundsWithdrawn, a.DisputeAmount, a.DisputeCurrency,
		a.ScheduledPriceID, nullTime(a.ScheduledChangeAt),
		nullTime(a.Snapshot.CancelAt), nullTime(a.Snapshot.FinalizationFailedAt),
		string(a.Snapshot.Plan), string(a.Snapshot.Interval), string(a.Snapshot.PendingPlan), string(a.ScheduledPlan), nullTime(a.SyncedAt))
	if err != nil {
		return fmt.Errorf("store billing account of %s: %w", a.OrgID, err)
	}
	return nil
}

// txTime returns the database's time at the start of tx (now()).
func txTime(ctx context.Context, tx pgx.Tx) (time.Time, error) {
	var t time.Time
	if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("billing: read the time: %w", err)
	}
	return t.UTC(), nil
}

// setCustomer stores orgID's Stripe customer and raises the account's
// version (a sync that read the account before must not store over it).
func setCustomer(ctx context.Context, tx pgx.Tx, orgID, customerID string) error {
	if _, err := tx.Exec(ctx, `UPDATE billing_accounts SET stripe_customer_id = $2, sync_version = sync_version + 1
		WHERE org_id = $1`, orgID, customerID); err != nil {
		return fmt.Errorf("billing: store customer of %s: %w", orgID, err)
	}
	return nil
}

// swapCheckoutSession stores next as orgID's latest Checkout Session if the
// stored one is still prev (compare and set); otherwise it stores nothing
// and returns the stored one, another checkout's.
func swapCheckoutSession(ctx context.Context, tx pgx.Tx, orgID, prev, next string) (current string, swapped bool, err error) {
	tag, err := tx.Exec(ctx, `UPDATE billing_accounts SET checkout_session_id = $3
		WHERE org_id = $1 AND checkout_session_id = $2`, orgID, prev, next)
	if err != nil {
		return "", false, fmt.Errorf("billing: store checkout session of %s: %w", orgID, err)
	}
	if tag.RowsAffected() == 1 {
		return next, true, nil
	}
	if err := tx.QueryRow(ctx, `SELECT checkout_session_id FROM billing_accounts WHERE org_id = $1`, orgID).Scan(&current); err != nil {
		return "", false, fmt.Errorf("billing: read checkout session of %s: %w", orgID, err)
	}
	return current, false, nil
}

// orgReconcileState is what the reconciler needs of an organisation: its
// live subscription's period ended (due), it has outbox rows left unsent.
type orgReconcileState struct {
	orgID       string
	due, unsent bool
}

// reconcileStates returns the state of those of orgs that are due or have
// unsent outbox rows at now, in one round trip: a batch, which pgx runs in
// one implicit transaction, setting app.org_id (set_config(..., true), as
// InOrgTx does) before each organisation's query, so row-level security
// shows each query its own organisation's rows only.
func reconcileStates(ctx context.Context, pool *pgxpool.Pool, orgs []string, now time.Time) ([]orgReconcileState, error) {
	b := &pgx.Batch{}
	for _, org := range orgs {
		b.Queue(`SELECT set_config('app.org_id', $1, true)`, org)
		b.Queue(`SELECT EXISTS (SELECT 1 FROM billing_accounts WHERE org_id = $1
			AND subscription_id <> '' AND status NOT IN ('canceled', 'incomplete_expired')
			AND current_period_end <= $2),
			EXISTS (SELECT 1 FROM billing_outbox WHERE org_id = $1 AND sent_at IS NULL)`, org, now)
	}
	res := pool.SendBatch(ctx, b)
	var out []orgReconcileState
	for _, org := range orgs {
		if _, err := res.Exec(); err != nil {
			_ = res.Close()
			return nil, fmt.Errorf("billing: read reconcile state: %w", err)
		}
		st := orgReconcileState{orgID: org}
		if err := res.QueryRow().Scan(&st.due, &st.unsent); err != nil {
			_ = res.Close()
			return nil, fmt.Errorf("billing: read reconcile state of %s: %w", org, err)
		}
		if st.due || st.unsent {
			out = append(out, st)
		}
	}
	if err := res.Close(); err != nil {
		return nil, fmt.Errorf("billing: read reconcile state: %w", err)
	}
	return out, nil
}

// --- billing_outbox ---

// insertOutbox adds o to orgID's outbox unless its key is there already,
// and reports whether it did.
func insertOutbox(ctx context.Context, tx pgx.Tx, orgID string, o outboxRow) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO billing_outbox (org_id, key, kind, payload)
		VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (org_id, key) DO NOTHING`,
		orgID, o.key, o.kind, string(o.payload))
	if err != nil {
		return false, fmt.Errorf("billing outbox %s: %w", o.key, err)
	}
	return tag.RowsAffected() == 1, nil
}

// unsentOutbox returns the keys of orgID's unsent outbox rows, oldest
// first, at most 1000.
func unsentOutbox(ctx context.Context, tx pgx.Tx, orgID string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT key FROM billing_outbox WHERE org_id = $1 AND sent_at IS NULL
		ORDER BY created_at, key LIMIT 1000`, orgID)
	if err != nil {
		return nil, fmt.Errorf("billing: list outbox of %s: %w", orgID, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("billing: list outbox of %s: %w", orgID, err)
	}
	return keys, nil
}

// lockUnsentOutbox returns outbox row key of orgID, locked until tx ends;
// ok is false when it was sent meanwhile or another transaction holds it
// (SKIP LOCKED).
func lockUnsentOutbox(ctx context.Context, tx pgx.Tx, orgID, key string) (kind string, payload []byte, ok bool, err error) {
	err = tx.QueryRow(ctx, `SELECT kind, payload FROM billing_outbox
		WHERE org_id = $1 AND key = $2 AND sent_at IS NULL FOR UPDATE SKIP LOCKED`, orgID, key).Scan(&kind, &payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("lock outbox row: %w", err)
	}
	return kind, payload, true, nil
}

// markOutboxSent marks outbox row key of orgID sent now.
func markOutboxSent(ctx context.Context, tx pgx.Tx, orgID, key string) error {
	if _, err := tx.Exec(ctx, `UPDATE billing_outbox SET sent_at = now() WHERE org_id = $1 AND key = $2`, orgID, key); err != nil {
		return fmt.Errorf("mark outbox row sent: %w", err)
	}
	return nil
}

// --- orgs ---

// orgExists reports whether organisation orgID exists (orgs has no
// row-level security).
func orgExists(ctx context.Context, db querier, orgID string) (bool, error) {
	var exists bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM orgs WHERE id = $1)`, orgID).Scan(&exists); err != nil {
		return false, fmt.Errorf("billing: look up organisation %s: %w", orgID, err)
	}
	return exists, nil
}

// orgIDs returns the ID of every organisation, in order.
func orgIDs(ctx context.Context, db querier) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT id::text FROM orgs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("billing: list organisations: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("billing: list organisations: %w", err)
	}
	return ids, nil
}

// --- billing_disputes (every dispute of the organisation) ---

// loadDisputes returns orgID's disputes, oldest first.
func loadDisputes(ctx context.Context, tx pgx.Tx, orgID string) ([]disputeRow, error) {
	rows, err := tx.Query(ctx, `SELECT dispute_id, status, funds_withdrawn, amount, currency, created,
		lost_at, cleared_at, cleared_by FROM billing_disputes WHERE org_id = $1 ORDER BY created, dispute_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("billing: load disputes of %s: %w", orgID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (disputeRow, error) {
		var r disputeRow
		var status string
		var lost, cleared *time.Time
		err := row.Scan(&r.ID, &status, &r.State.FundsWithdrawn, &r.Amount, &r.Currency, &r.Created, &lost, &cleared, &r.ClearedBy)
		r.State.Status, r.Created, r.LostAt, r.ClearedAt = DisputeStatus(status), r.Created.UTC(), utc(lost), utc(cleared)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("billing: load disputes of %s: %w", orgID, err)
	}
	return out, nil
}

// upsertDispute stores dispute row r of orgID.
func upsertDispute(ctx context.Context, tx pgx.Tx, orgID string, r disputeRow) error {
	if _, err := tx.Exec(ctx, `INSERT INTO billing_disputes (org_id, dispute_id, status, funds_withdrawn, amount, currency,
		created, lost_at, cleared_at, cleared_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (org_id, dispute_id) DO UPDATE SET status = EXCLUDED.status, funds_withdrawn = EXCLUDED.funds_withdrawn,
		amount = EXCLUDED.amount, currency = EXCLUDED.currency, lost_at = EXCLUDED.lost_at, cleared_at = EXCLUDED.cleared_at,
		cleared_by = EXCLUDED.cleared_by, updated_at = now()`,
		orgID, r.ID, string(r.State.Status), r.State.FundsWithdrawn, r.Amount, r.Currency, r.Created,
		nullTime(r.LostAt), nullTime(r.ClearedAt), r.ClearedBy); err != nil {
		return fmt.Errorf("billing: store dispute %s of %s: %w", r.ID, orgID, err)
	}
	return nil
}

// --- billing_state (shared by every process) ---

// portalConfigurationOf returns the Customer Portal configuration created
// for every process and the fingerprint of its parameters; "" for none.
func portalConfigurationOf(ctx context.Context, db querier) (id, hash string, err error) {
	if err := db.QueryRow(ctx, `SELECT portal_configuration_id, portal_configuration_hash FROM billing_state`).
		Scan(&id, &hash); err != nil {
		return "", "", fmt.Errorf("billing: portal configuration: %w", err)
	}
	return id, hash, nil
}

// setPortalConfiguration records id as the Customer Portal configuration
// of the parameters whose fingerprint is hash.
func setPortalConfiguration(ctx context.Context, db querier, id, hash string) error {
	if _, err := db.Exec(ctx, `UPDATE billing_state SET portal_configuration_id = $1, portal_configuration_hash = $2,
		updated_at = now()`, id, hash); err != nil {
		return fmt.Errorf("billing: record portal configuration: %w", err)
	}
	return nil
}

// --- stripe_customers (which organisation a Stripe customer is) ---

// mapCustomer records that Stripe customer customerID is organisation
// orgID's, unless it is recorded already (the first organisation stays).
func mapCustomer(ctx context.Context, db querier, customerID, orgID string) error {
	if _, err := db.Exec(ctx, `INSERT INTO stripe_customers (customer_id, org_ref) VALUES ($1, $2)
		ON CONFLICT (customer_id) DO NOTHING`, customerID, orgID); err != nil {
		return fmt.Errorf("billing: record customer %s of %s: %w", customerID, orgID, err)
	}
	return nil
}

// customerOrgOf returns the organisation Stripe customer customerID was
// recorded for and whether it was deleted; "" when it was not recorded.
func customerOrgOf(ctx context.Context, db querier, customerID string) (orgID string, deleted bool, err error) {
	err = db.QueryRow(ctx, `SELECT org_ref::text, deleted_at IS NOT NULL FROM stripe_customers WHERE customer_id = $1`,
		customerID).Scan(&orgID, &deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("billing: look up customer %s: %w", customerID, err)
	}
	return orgID, deleted, nil
}

// markCustomerDeleted records that Stripe deleted customer customerID, of
// organisation orgID (recorded with it if it was not yet).
func markCustomerDeleted(ctx context.Context, db querier, customerID, orgID string) error {
	if _, err := db.Exec(ctx, `INSERT INTO stripe_customers (customer_id, org_ref, deleted_at) VALUES ($1, $2, now())
		ON CONFLICT (customer_id) DO UPDATE SET deleted_at = coalesce(stripe_customers.deleted_at, EXCLUDED.deleted_at)`,
		customerID, orgID); err != nil {
		return fmt.Errorf("billing: record deletion of customer %s: %w", customerID, err)
	}
	return nil
}

// --- stripe_events (the webhook ledger) ---

// insertEvent records ev, whose JSON is payload, in the ledger unless it is
// there already, and reports whether it did.
func insertEvent(ctx context.Context, db querier, ev *stripe.Event, payload []byte) (bool, error) {
	tag, err := db.Exec(ctx, `INSERT INTO stripe_events (id, type, api_version, created, payload)
		VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (id) DO NOTHING`,
		ev.ID, string(ev.Type), ev.APIVersion, time.Unix(ev.Created, 0).UTC(), string(payload))
	if err != nil {
		return false, fmt.Errorf("billing: record Stripe event %s: %w", ev.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// loadEvent returns recorded event eventID's payload and the organisation
// it was resolved to before (nil if none).
func loadEvent(ctx context.Context, db querier, eventID string) (payload []byte, orgRef *string, err error) {
	err = db.QueryRow(ctx, `SELECT payload, org_ref::text FROM stripe_events WHERE id = $1`, eventID).Scan(&payload, &orgRef)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("billing: no recorded Stripe event %s", eventID)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("billing: load Stripe event %s: %w", eventID, err)
	}
	return payload, orgRef, nil
}

// markEventProcessed marks event eventID processed for organisation orgID.
func markEventProcessed(ctx context.Context, db querier, eventID, orgID string) error {
	_, err := db.Exec(ctx, `UPDATE stripe_events SET processed_at = now(), attempts = attempts + 1,
		last_error = '', org_ref = $2 WHERE id = $1`, eventID, orgID)
	if err != nil {
		return fmt.Errorf("billing: mark Stripe event %s processed: %w", eventID, err)
	}
	return nil
}

// markEventSkipped marks event eventID processed without a sync, recording
// why (ErrUnresolvedOrg, ErrDeletedOrg) as its last error.
func markEventSkipped(ctx context.Context, db querier, eventID string, why error) error {
	_, err := db.Exec(ctx, `UPDATE stripe_events SET processed_at = now(), attempts = attempts + 1,
		last_error = $2 WHERE id = $1`, eventID, why.Error())
	if err != nil {
		return fmt.Errorf("billing: mark Stripe event %s skipped: %w", eventID, err)
	}
	return nil
}

// recordEventFailure counts a failed attempt at event eventID, with msg as
// its last error, and records orgID ("": keep the recorded one) as its
// organisation.
func recordEventFailure(ctx context.Context, db querier, eventID, orgID, msg string) error {
	var ref *string
	if orgID != "" {
		ref = &orgID
	}
	_, err := db.Exec(ctx, `UPDATE stripe_events SET attempts = attempts + 1, last_error = $2,
		org_ref = coalesce($3::uuid, org_ref) WHERE id = $1`, eventID, msg, ref)
	if err != nil {
		return fmt.Errorf("billing: record failure of Stripe event %s: %w", eventID, err)
	}
	return nil
}

// setEventHint records that event eventID concerns organisation orgID and
// is processed by the coalesced sync of hint key (SyncHintArgs.key).
func setEventHint(ctx context.Context, db querier, eventID, orgID string, key []byte) error {
	if _, err := db.Exec(ctx, `UPDATE stripe_events SET org_ref = $2, sync_hint = $3::jsonb WHERE id = $1`,
		eventID, orgID, string(key)); err != nil {
		return fmt.Errorf("billing: record sync of Stripe event %s: %w", eventID, err)
	}
	return nil
}

// coveredEvents returns the IDs of orgID's unprocessed events waiting for
// the coalesced sync of hint key, at most 1000 (through the partial index
// of unprocessed rows).
func coveredEvents(ctx context.Context, db querier, orgID string, key []byte) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT id FROM stripe_events WHERE processed_at IS NULL AND org_ref = $1
		AND sync_hint = $2::jsonb ORDER BY created, id LIMIT 1000`, orgID, string(key))
	if err != nil {
		return nil, fmt.Errorf("billing: events of the sync of %s: %w", orgID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("billing: events of the sync of %s: %w", orgID, err)
	}
	return ids, nil
}

// markEventsProcessed marks events ids processed for organisation orgID.
func markEventsProcessed(ctx context.Context, db querier, ids []string, orgID string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.Exec(ctx, `UPDATE stripe_events SET processed_at = now(), attempts = attempts + 1,
		last_error = '', org_ref = $2 WHERE id = ANY($1) AND processed_at IS NULL`, ids, orgID)
	if err != nil {
		return fmt.Errorf("billing: mark Stripe events processed: %w", err)
	}
	return nil
}

// pruneProcessedEvents deletes at most limit ledger rows processed before
// cutoff (through stripe_events_processed_idx) and returns how many.
func pruneProcessedEvents(ctx context.Context, db querier, cutoff time.Time, limit int) (int64, error) {
	tag, err := db.Exec(ctx, `DELETE FROM stripe_events WHERE id IN (SELECT id FROM stripe_events
		WHERE processed_at IS NOT NULL AND processed_at < $1 LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// firstFailureSQL is firstRecordedFailure's query.
const firstFailureSQL = `SELECT min(created) FROM stripe_events
	WHERE type = 'invoice.payment_failed' AND payload #>> '{data,object,id}' = $1`

// firstRecordedFailure returns when the earliest invoice.payment_failed
// event recorded for invoiceID was created; nil if none was.
//
// The expression and the predicate are those of the partial index
// stripe_events_failed_invoice_idx (migration 00022): an index lookup,
// whatever the size of the ledger.
func firstRecordedFailure(ctx context.Context, db querier, invoiceID string) (*time.Time, error) {
	var at *time.Time
	if err := db.QueryRow(ctx, firstFailureSQL, invoiceID).Scan(&at); err != nil {
		return nil, fmt.Errorf("billing: first failure of %s: %w", invoiceID, err)
	}
	return at, nil
}

// backfillCursor returns the start of the reconciler's last complete
// backfill; nil before the first.
func backfillCursor(ctx context.Context, db querier) (*time.Time, error) {
	var at *time.Time
	if err := db.QueryRow(ctx, `SELECT events_backfilled_until FROM billing_state`).Scan(&at); err != nil {
		return nil, fmt.Errorf("billing: backfill cursor: %w", err)
	}
	if at != nil {
		u := at.UTC()
		at = &u
	}
	return at, nil
}

// setBackfillCursor records at as the start of the last complete backfill
// (never moving it back: a slower run that started earlier ends later).
func setBackfillCursor(ctx context.Context, db querier, at time.Time) error {
	if _, err := db.Exec(ctx, `UPDATE billing_state SET events_backfilled_until = greatest(events_backfilled_until, $1),
		updated_at = now()`, at); err != nil {
		return fmt.Errorf("billing: set backfill cursor: %w", err)
	}
	return nil
}

// pendingEvents returns the IDs of the unprocessed events the reconciler
// processes, oldest first, at most 1000: those that failed, those received
// more than after ago, and fresh.
func pendingEvents(ctx context.Context, db querier, after time.Duration, fresh []string) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT id FROM stripe_events
		WHERE processed_at IS NULL AND (attempts > 0 OR received_at < now() - $1::interval OR id = ANY($2))
		ORDER BY created, id LIMIT 1000`, fmt.Sprintf("%d seconds", int(after.Seconds())), fresh)
	if err != nil {
		return nil, fmt.Errorf("billing: unprocessed events: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("billing: unprocessed events: %w", err)
	}
	return ids, nil
}

// ledgerEvents returns at most limit ledger rows, newest first; only the
// unprocessed ones if unprocessed.
func ledgerEvents(ctx context.Context, db querier, unprocessed bool, limit int) ([]LedgerEvent, error) {
	rows, err := db.Query(ctx, `SELECT id, type, created, received_at, processed_at, attempts, last_error,
		coalesce(org_ref::text, '') FROM stripe_events
		WHERE NOT $1 OR processed_at IS NULL ORDER BY created DESC, id DESC LIMIT $2`, unprocessed, limit)
	if err != nil {
		return nil, fmt.Errorf("billing: list ledger: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (LedgerEvent, error) {
		var e LedgerEvent
		err := row.Scan(&e.ID, &e.Type, &e.Created, &e.ReceivedAt, &e.ProcessedAt, &e.Attempts, &e.LastError, &e.OrgID)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("billing: list ledger: %w", err)
	}
	return out, nil
}

// ledgerStats returns how many events are unprocessed, how many of those
// failed at least once, and the age in seconds of the oldest (0 if none).
func ledgerStats(ctx context.Context, db querier) (unprocessed, failed int64, age float64, err error) {
	err = db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE attempts > 0),
		coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8
		FROM stripe_events WHERE processed_at IS NULL`).Scan(&unprocessed, &failed, &age)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("billing: ledger stats: %w", err)
	}
	return unprocessed, failed, age, nil
}
