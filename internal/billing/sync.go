package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// CustomerOrgMetadata is the Stripe customer metadata key holding the
// organisation's ID. The customer is created with it (one customer per
// organisation), and the worker reads it from the re-fetched customer to
// find which organisation an event concerns: billing_accounts is under
// row-level security, so it cannot be searched by customer ID.
const CustomerOrgMetadata = "org_id"

// Outbox kinds written by the Syncer.
const (
	OutboxPaymentFailedEmail    = "payment_failed_email"
	OutboxPaymentRecoveredEmail = "payment_recovered_email"
	OutboxDisputeAlert          = "dispute_funds_withdrawn_alert"
	OutboxDisputeLostAlert      = "dispute_lost_alert"
)

// SyncerConfig configures a Syncer.
type SyncerConfig struct {
	// Pool is the runtime-role pool.
	Pool *pgxpool.Pool
	// Stripe is the API client (its backend URL is STRIPE_API_BASE).
	Stripe *stripe.Client
	// Catalog maps prices to plans.
	Catalog *Catalog
	// Grace is the dunning grace policy.
	Grace GracePolicy
	// DisputeAllowWhileOpen and DisputeOnLost are the dispute policy.
	DisputeAllowWhileOpen bool
	DisputeOnLost         LostDisputePolicy
	// Clock tells the time; nil is the system clock. It is used to evaluate
	// entitlements and date previews, never as the time of a payment failure.
	Clock gw.Clock
	// Jobs, if set, enqueues the delivery of new outbox rows in the
	// transaction that writes them; without it they wait for the
	// reconciler's sweep.
	Jobs JobInserter
}

// Syncer brings an organisation's billing snapshot to Stripe's truth: it
// locks the organisation's billing_accounts row, re-fetches the subscription,
// its latest invoice and the latest dispute from Stripe, stores them,
// recomputes the entitlements and writes the side effects to the outbox.
// Whatever the event order, duplicates or concurrency, the stored state is
// what Stripe shows at the last sync.
type Syncer struct {
	cfg      SyncerConfig
	enforcer *Enforcer
}

// NewSyncer returns a Syncer.
func NewSyncer(cfg SyncerConfig) (*Syncer, error) {
	if cfg.Pool == nil || cfg.Stripe == nil || cfg.Catalog == nil {
		return nil, errors.New("billing: Syncer needs a pool, a Stripe client and a catalog")
	}
	if cfg.Clock == nil {
		cfg.Clock = gw.SystemClock{}
	}
	return &Syncer{cfg: cfg, enforcer: &Enforcer{Catalog: cfg.Catalog, Grace: cfg.Grace,
		DisputeAllowWhileOpen: cfg.DisputeAllowWhileOpen, DisputeOnLost: cfg.DisputeOnLost, Clock: cfg.Clock}}, nil
}

// Account is an organisation's stored billing state.
type Account struct {
	OrgID           string
	CustomerID      string
	SubscriptionID  string
	Snapshot        Snapshot
	LatestInvoiceID string
	DisputeID       string
	Dispute         DisputeState
	DisputeAmount   int64
	DisputeCurrency string
	// ScheduledPriceID is the price a downgrade switches to at
	// ScheduledChangeAt (a Stripe subscription schedule); "" if none.
	ScheduledPriceID  string
	ScheduledChangeAt time.Time
	// CheckoutSessionID is the organisation's latest Checkout Session.
	CheckoutSessionID string
	SyncedAt          time.Time
}

// syncHint names the Stripe objects an event concerns, on top of those the
// account already refers to.
type syncHint struct {
	customerID     string
	subscriptionID string
	invoiceID      string
	disputeID      string
	// failedEvent is an invoice.payment_failed event for invoiceID.
	failedEvent   bool
	failedAttempt int64
	eventTime     time.Time
}

// Sync re-fetches the organisation's subscription (and latest invoice and
// dispute) from Stripe and stores the snapshot. It is what the checkout
// success redirect and the reconciler run; an organisation without a
// billing account is left alone (free plan).
func (s *Syncer) Sync(ctx context.Context, orgID string) error {
	_, err := s.sync(ctx, orgID, syncHint{})
	return err
}

// SyncCheckout is Sync for the checkout success redirect: the session (which
// must belong to orgID) names the subscription before any webhook arrived.
func (s *Syncer) SyncCheckout(ctx context.Context, orgID, sessionID string) error {
	cs, err := s.cfg.Stripe.V1CheckoutSessions.Retrieve(ctx, sessionID, nil)
	if err != nil {
		return fmt.Errorf("billing: fetch checkout session %s: %w", sessionID, err)
	}
	if cs.ClientReferenceID != orgID {
		return fmt.Errorf("%w: session %s, organisation %s", errForeignSession, sessionID, orgID)
	}
	h := syncHint{}
	if cs.Customer != nil {
		h.customerID = cs.Customer.ID
	}
	if cs.Subscription != nil {
		h.subscriptionID = cs.Subscription.ID
	}
	_, err = s.sync(ctx, orgID, h)
	return err
}

// errForeignSession is returned for a checkout session of another organisation.
var errForeignSession = errors.New("billing: checkout session of another organisation")

// Account returns the organisation's stored billing state; the zero Account
// (with OrgID set) when it has none.
func (s *Syncer) Account(ctx context.Context, orgID string) (Account, error) {
	var a Account
	err := postgres.InOrgTx(ctx, s.cfg.Pool, orgID, func(tx pgx.Tx) error {
		var err error
		a, err = loadAccount(ctx, tx, orgID, false)
		return err
	})
	return a, err
}

// Entitlements returns what the organisation may do now, computed from its
// stored snapshot.
func (s *Syncer) Entitlements(ctx context.Context, orgID string) (Entitlements, error) {
	a, err := s.Account(ctx, orgID)
	if err != nil {
		return Entitlements{}, err
	}
	return s.compute(a), nil
}

func (s *Syncer) compute(a Account) Entitlements { return s.enforcer.Of(a) }

// Enforcer returns the Enforcer the Syncer computes entitlements with: the
// one the product modules enforce the plans with.
func (s *Syncer) Enforcer() *Enforcer { return s.enforcer }

func loadAccount(ctx context.Context, tx pgx.Tx, orgID string, lock bool) (Account, error) {
	q := `SELECT coalesce(stripe_customer_id, ''), subscription_id, status, price_id, pending_price_id,
		current_period_end, cancel_at_period_end, first_payment_failed_at, latest_invoice_id, latest_invoice_status,
		dispute_id, dispute_status, dispute_funds_withdrawn, dispute_amount, dispute_currency, synced_at,
		scheduled_price_id, scheduled_change_at, checkout_session_id
		FROM billing_accounts WHERE org_id = $1`
	if lock {
		q += " FOR UPDATE"
	}
	a := Account{OrgID: orgID}
	var status, invStatus, dispStatus string
	var periodEnd, firstFailed, synced, scheduled *time.Time
	err := tx.QueryRow(ctx, q, orgID).Scan(&a.CustomerID, &a.SubscriptionID, &status, &a.Snapshot.PriceID,
		&a.Snapshot.PendingPriceID, &periodEnd, &a.Snapshot.CancelAtPeriodEnd, &firstFailed, &a.LatestInvoiceID,
		&invStatus, &a.DisputeID, &dispStatus, &a.Dispute.FundsWithdrawn, &a.DisputeAmount, &a.DisputeCurrency, &synced,
		&a.ScheduledPriceID, &scheduled, &a.CheckoutSessionID)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, nil
	}
	if err != nil {
		return a, fmt.Errorf("load billing account of %s: %w", orgID, err)
	}
	a.Snapshot.Status = stripe.SubscriptionStatus(status)
	a.Snapshot.LatestInvoiceStatus = stripe.InvoiceStatus(invStatus)
	a.Dispute.Status = DisputeStatus(dispStatus)
	if periodEnd != nil {
		a.Snapshot.CurrentPeriodEnd = periodEnd.UTC()
	}
	if firstFailed != nil {
		a.Snapshot.FirstPaymentFailedAt = firstFailed.UTC()
	}
	if synced != nil {
		a.SyncedAt = synced.UTC()
	}
	if scheduled != nil {
		a.ScheduledChangeAt = scheduled.UTC()
	}
	return a, nil
}

// sync is the one synchronisation path: webhook job, redirect and reconciler.
func (s *Syncer) sync(ctx context.Context, orgID string, h syncHint) (Entitlements, error) {
	var ent Entitlements
	err := postgres.InOrgTx(ctx, s.cfg.Pool, orgID, func(tx pgx.Tx) error {
		var err error
		ent, err = s.syncTx(ctx, tx, orgID, h)
		return err
	})
	return ent, err
}

// syncTx is sync inside tx, a transaction scoped to orgID.
func (s *Syncer) syncTx(ctx context.Context, tx pgx.Tx, orgID string, h syncHint) (Entitlements, error) {
	if h.customerID != "" {
		// First contact: the account row names the customer.
		if _, err := tx.Exec(ctx, `INSERT INTO billing_accounts (org_id, stripe_customer_id) VALUES ($1, $2)
			ON CONFLICT (org_id) DO NOTHING`, orgID, h.customerID); err != nil {
			return Entitlements{}, fmt.Errorf("create billing account of %s: %w", orgID, err)
		}
	}
	// The lock serialises every sync of the organisation, and the Stripe
	// fetches happen under it: a fetch can never be stored over a later one.
	prev, err := loadAccount(ctx, tx, orgID, true)
	if err != nil {
		return Entitlements{}, err
	}
	if prev.CustomerID == "" && prev.SubscriptionID == "" && h.customerID == "" {
		return s.compute(prev), nil // no account: free plan
	}
	cur, outbox, err := s.fetchOnly(ctx, tx, prev, h)
	if err != nil {
		return Entitlements{}, err
	}
	if err := storeAccount(ctx, tx, cur); err != nil {
		return Entitlements{}, err
	}
	queued := false
	for _, o := range outbox {
		tag, err := tx.Exec(ctx, `INSERT INTO billing_outbox (org_id, key, kind, payload)
			VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (org_id, key) DO NOTHING`,
			orgID, o.key, o.kind, string(o.payload))
		if err != nil {
			return Entitlements{}, fmt.Errorf("billing outbox %s: %w", o.key, err)
		}
		queued = queued || tag.RowsAffected() == 1
	}
	if queued && s.cfg.Jobs != nil {
		if _, err := s.cfg.Jobs.InsertTx(ctx, tx, DeliverOutboxArgs{OrgID: orgID}, nil); err != nil {
			return Entitlements{}, fmt.Errorf("billing: enqueue outbox delivery: %w", err)
		}
	}
	// Audit last: it takes the organisation's chain lock until the commit.
	if err := auditDispute(ctx, tx, prev, cur); err != nil {
		return Entitlements{}, err
	}
	return s.compute(cur), nil
}

type outboxRow struct {
	key, kind string
	payload   []byte
}

func newOutbox(key, kind string, payload map[string]any) outboxRow {
	b, _ := json.Marshal(payload)
	return outboxRow{key: key, kind: kind, payload: b}
}

func subLive(st stripe.SubscriptionStatus) bool {
	switch st {
	case "", stripe.SubscriptionStatusCanceled, stripe.SubscriptionStatusIncompleteExpired:
		return false
	}
	return true
}

// better reports whether subscription a should be the organisation's
// subscription rather than b: a live one beats an ended one, then the newer.
func better(a, b *stripe.Subscription) bool {
	if b == nil {
		return true
	}
	if la, lb := subLive(a.Status), subLive(b.Status); la != lb {
		return la
	}
	if a.Created != b.Created {
		return a.Created > b.Created
	}
	return a.ID > b.ID
}

func customerOf(c *stripe.Customer) string {
	if c == nil {
		return ""
	}
	return c.ID
}

// fetchOnly re-fetches from Stripe everything the account and the hint
// refer to and returns the new account state and the side effects it calls
// for, storing nothing.
func (s *Syncer) fetchOnly(ctx context.Context, tx pgx.Tx, prev Account, h syncHint) (Account, []outboxRow, error) {
	sc := s.cfg.Stripe
	cur := prev
	if cur.CustomerID == "" {
		cur.CustomerID = h.customerID
	}
	if h.customerID != "" && h.customerID != cur.CustomerID {
		return cur, nil, fmt.Errorf("billing: event for customer %s, but organisation %s is customer %s", h.customerID, prev.OrgID, cur.CustomerID)
	}
	var outbox []outboxRow

	// The subscription: the stored one and the event's, whichever is live/newer.
	var sub *stripe.Subscription
	seen := map[string]bool{}
	for _, id := range []string{prev.SubscriptionID, h.subscriptionID} {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		p := &stripe.SubscriptionRetrieveParams{}
		p.AddExpand("latest_invoice")
		got, err := sc.V1Subscriptions.Retrieve(ctx, id, p)
		if err != nil {
			return cur, nil, fmt.Errorf("billing: fetch subscription %s: %w", id, err)
		}
		if customerOf(got.Customer) != cur.CustomerID {
			continue // not this organisation's
		}
		if better(got, sub) {
			sub = got
		}
	}
	var inv *stripe.Invoice
	if sub != nil {
		cur.SubscriptionID = sub.ID
		cur.Snapshot.Status = sub.Status
		cur.Snapshot.CancelAtPeriodEnd = sub.CancelAtPeriodEnd
		cur.Snapshot.PriceID, cur.Snapshot.CurrentPeriodEnd = "", time.Time{}
		if sub.Items != nil && len(sub.Items.Data) > 0 {
			it := sub.Items.Data[0]
			if it.Price != nil {
				cur.Snapshot.PriceID = it.Price.ID
			}
			if it.CurrentPeriodEnd > 0 {
				cur.Snapshot.CurrentPeriodEnd = time.Unix(it.CurrentPeriodEnd, 0).UTC()
			}
		}
		cur.Snapshot.PendingPriceID = ""
		if pu := sub.PendingUpdate; pu != nil && len(pu.SubscriptionItems) > 0 && pu.SubscriptionItems[0].Price != nil {
			cur.Snapshot.PendingPriceID = pu.SubscriptionItems[0].Price.ID
		}
		cur.ScheduledPriceID, cur.ScheduledChangeAt = "", time.Time{}
		if sub.Schedule != nil && sub.Schedule.ID != "" && subLive(sub.Status) {
			price, at, err := s.scheduledChange(ctx, sub.Schedule.ID, cur.Snapshot.CurrentPeriodEnd)
			if err != nil {
				return cur, nil, err
			}
			cur.ScheduledPriceID, cur.ScheduledChangeAt = price, at
		}
		inv = sub.LatestInvoice
		if inv != nil && inv.Status == "" && inv.ID != "" { // not expanded
			got, err := sc.V1Invoices.Retrieve(ctx, inv.ID, nil)
			if err != nil {
				return cur, nil, fmt.Errorf("billing: fetch invoice %s: %w", inv.ID, err)
			}
			inv = got
		}
	}
	cur.LatestInvoiceID, cur.Snapshot.LatestInvoiceStatus = "", ""
	if inv != nil {
		cur.LatestInvoiceID, cur.Snapshot.LatestInvoiceStatus = inv.ID, inv.Status
	}

	// Dunning. The first failure is stored once, from Stripe's times.
	failing := sub != nil && (sub.Status == stripe.SubscriptionStatusPastDue || sub.Status == stripe.SubscriptionStatusUnpaid)
	switch {
	case failing && prev.Snapshot.FirstPaymentFailedAt.IsZero():
		at, err := firstFailure(ctx, tx, inv, h)
		if err != nil {
			return cur, nil, err
		}
		cur.Snapshot.FirstPaymentFailedAt = at
	case !failing && !prev.Snapshot.FirstPaymentFailedAt.IsZero():
		cur.Snapshot.FirstPaymentFailedAt = time.Time{}
		if inv != nil && inv.Status == stripe.InvoiceStatusPaid {
			outbox = append(outbox, newOutbox("invoice:"+inv.ID+":"+OutboxPaymentRecoveredEmail,
				OutboxPaymentRecoveredEmail, map[string]any{"invoice_id": inv.ID}))
		}
	}
	// One email per failed attempt, only while the invoice is still unpaid.
	failedEmail := func(in *stripe.Invoice, attempt int64) {
		// An incomplete subscription's first payment is the customer's to
		// retry in Checkout: not dunning.
		if in == nil || in.Status != stripe.InvoiceStatusOpen || attempt <= 0 || !subLive(cur.Snapshot.Status) ||
			cur.Snapshot.Status == stripe.SubscriptionStatusIncomplete {
			return
		}
		key := fmt.Sprintf("invoice:%s:attempt:%d:%s", in.ID, attempt, OutboxPaymentFailedEmail)
		outbox = append(outbox, newOutbox(key, OutboxPaymentFailedEmail, map[string]any{
			"invoice_id": in.ID, "attempt": attempt, "amount_due": in.AmountDue, "currency": in.Currency,
			"hosted_invoice_url": in.HostedInvoiceURL, "next_payment_attempt": in.NextPaymentAttempt,
		}))
	}
	if inv != nil {
		failedEmail(inv, inv.AttemptCount)
	}
	if h.failedEvent && h.invoiceID != "" {
		evInv := inv
		if evInv == nil || evInv.ID != h.invoiceID {
			got, err := sc.V1Invoices.Retrieve(ctx, h.invoiceID, nil)
			if err != nil {
				return cur, nil, fmt.Errorf("billing: fetch invoice %s: %w", h.invoiceID, err)
			}
			evInv = got
		}
		if customerOf(evInv.Customer) == cur.CustomerID {
			failedEmail(evInv, h.failedAttempt)
		}
	}

	// The latest dispute: the stored one and the event's, the newer wins.
	var disp *stripe.Dispute
	seen = map[string]bool{}
	for _, id := range []string{prev.DisputeID, h.disputeID} {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		got, err := sc.V1Disputes.Retrieve(ctx, id, nil)
		if err != nil {
			return cur, nil, fmt.Errorf("billing: fetch dispute %s: %w", id, err)
		}
		if disp == nil || got.Created > disp.Created || (got.Created == disp.Created && got.ID > disp.ID) {
			disp = got
		}
	}
	if disp != nil {
		cur.DisputeID = disp.ID
		cur.Dispute = DisputeState{Status: disputeStatus(disp.Status), FundsWithdrawn: fundsWithdrawn(disp)}
		cur.DisputeAmount, cur.DisputeCurrency = disp.Amount, string(disp.Currency)
		switch cur.Dispute.Status {
		case DisputeOpen:
			if cur.Dispute.FundsWithdrawn {
				outbox = append(outbox, newOutbox("dispute:"+disp.ID+":"+OutboxDisputeAlert, OutboxDisputeAlert,
					map[string]any{"dispute_id": disp.ID, "amount": disp.Amount, "currency": disp.Currency}))
			}
		case DisputeLost:
			outbox = append(outbox, newOutbox("dispute:"+disp.ID+":"+OutboxDisputeLostAlert, OutboxDisputeLostAlert,
				map[string]any{"dispute_id": disp.ID, "amount": disp.Amount, "currency": disp.Currency}))
		}
	}
	return cur, outbox, nil
}

// firstFailure is when the current dunning cycle's first payment failed:
// the earliest invoice.payment_failed event recorded for the invoice (or the
// one being processed), else the invoice's finalisation. Never "now".
func firstFailure(ctx context.Context, tx pgx.Tx, inv *stripe.Invoice, h syncHint) (time.Time, error) {
	var at time.Time
	if h.failedEvent && !h.eventTime.IsZero() && (inv == nil || h.invoiceID == inv.ID) {
		at = h.eventTime
	}
	if inv == nil {
		return at, nil
	}
	var recorded *time.Time
	if err := tx.QueryRow(ctx, `SELECT min(created) FROM stripe_events
		WHERE type = 'invoice.payment_failed' AND payload #>> '{data,object,id}' = $1`, inv.ID).Scan(&recorded); err != nil {
		return at, fmt.Errorf("billing: first failure of %s: %w", inv.ID, err)
	}
	if recorded != nil && (at.IsZero() || recorded.Before(at)) {
		at = recorded.UTC()
	}
	if at.IsZero() {
		switch {
		case inv.StatusTransitions != nil && inv.StatusTransitions.FinalizedAt > 0:
			at = time.Unix(inv.StatusTransitions.FinalizedAt, 0).UTC()
		case inv.Created > 0:
			at = time.Unix(inv.Created, 0).UTC()
		}
	}
	return at, nil
}

func disputeStatus(st stripe.DisputeStatus) DisputeStatus {
	switch st {
	case stripe.DisputeStatusWarningNeedsResponse, stripe.DisputeStatusWarningUnderReview:
		return DisputeInquiry
	case stripe.DisputeStatusWarningClosed:
		return DisputeNone
	case stripe.DisputeStatusWon:
		return DisputeWon
	case stripe.DisputeStatusLost:
		return DisputeLost
	default: // needs_response, under_review, and any new open state
		return DisputeOpen
	}
}

func fundsWithdrawn(d *stripe.Dispute) bool {
	var net int64
	for _, bt := range d.BalanceTransactions {
		if bt != nil {
			net += bt.Amount
		}
	}
	return net < 0
}

func storeAccount(ctx context.Context, tx pgx.Tx, a Account) error {
	nullTime := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	_, err := tx.Exec(ctx, `UPDATE billing_accounts SET
		stripe_customer_id = NULLIF($2, ''), subscription_id = $3, status = $4, price_id = $5, pending_price_id = $6,
		current_period_end = $7, cancel_at_period_end = $8, first_payment_failed_at = $9,
		latest_invoice_id = $10, latest_invoice_status = $11,
		dispute_id = $12, dispute_status = $13, dispute_funds_withdrawn = $14, dispute_amount = $15, dispute_currency = $16,
		scheduled_price_id = $17, scheduled_change_at = $18,
		synced_at = now(), updated_at = now()
		WHERE org_id = $1`,
		a.OrgID, a.CustomerID, a.SubscriptionID, string(a.Snapshot.Status), a.Snapshot.PriceID, a.Snapshot.PendingPriceID,
		nullTime(a.Snapshot.CurrentPeriodEnd), a.Snapshot.CancelAtPeriodEnd, nullTime(a.Snapshot.FirstPaymentFailedAt),
		a.LatestInvoiceID, string(a.Snapshot.LatestInvoiceStatus),
		a.DisputeID, string(a.Dispute.Status), a.Dispute.FundsWithdrawn, a.DisputeAmount, a.DisputeCurrency,
		a.ScheduledPriceID, nullTime(a.ScheduledChangeAt))
	if err != nil {
		return fmt.Errorf("store billing account of %s: %w", a.OrgID, err)
	}
	return nil
}

// ---- events ----

// ErrUnresolvedOrg is recorded as last_error for an event whose organisation
// cannot be found (a customer not created by this application).
var ErrUnresolvedOrg = errors.New("billing: event concerns no known organisation")

// ErrDeletedOrg is recorded as last_error for an event of an organisation
// that was deleted since; the event is marked processed.
var ErrDeletedOrg = errors.New("billing: the organisation was deleted")

// ProcessEvent processes one recorded event: it finds the organisation the
// event concerns and syncs it. Processing an event again, or events out of
// order, leaves the same state. On failure it records attempts and
// last_error on the ledger row and returns the error (River retries).
func (s *Syncer) ProcessEvent(ctx context.Context, eventID string) error {
	var payload []byte
	var orgRef *string
	err := s.cfg.Pool.QueryRow(ctx, `SELECT payload, org_ref::text FROM stripe_events WHERE id = $1`, eventID).Scan(&payload, &orgRef)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("billing: no recorded Stripe event %s", eventID)
	}
	if err != nil {
		return fmt.Errorf("billing: load Stripe event %s: %w", eventID, err)
	}
	var ev stripe.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return s.recordFailure(ctx, eventID, "", fmt.Errorf("billing: decode Stripe event %s: %w", eventID, err))
	}
	orgID, h, err := s.resolve(ctx, &ev)
	if orgID == "" && orgRef != nil {
		orgID = *orgRef
	}
	if err != nil {
		return s.recordFailure(ctx, eventID, orgID, err)
	}
	if _, perr := uuid.Parse(orgID); orgID != "" && perr != nil {
		orgID = "" // metadata this application did not write
	}
	if orgID == "" {
		// Nothing of ours (or an event type that names no customer).
		_, err := s.cfg.Pool.Exec(ctx, `UPDATE stripe_events SET processed_at = now(), attempts = attempts + 1,
			last_error = $2 WHERE id = $1`, eventID, ErrUnresolvedOrg.Error())
		return err
	}
	var exists bool
	if err := s.cfg.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM orgs WHERE id = $1)`, orgID).Scan(&exists); err != nil {
		return s.recordFailure(ctx, eventID, orgID, fmt.Errorf("billing: look up organisation %s: %w", orgID, err))
	}
	if !exists {
		// Deleted (its billing rows with it): nothing to sync, nothing to retry.
		_, err := s.cfg.Pool.Exec(ctx, `UPDATE stripe_events SET processed_at = now(), attempts = attempts + 1,
			last_error = $2 WHERE id = $1`, eventID, ErrDeletedOrg.Error())
		return err
	}
	if _, err := s.sync(ctx, orgID, h); err != nil {
		return s.recordFailure(ctx, eventID, orgID, err)
	}
	_, err = s.cfg.Pool.Exec(ctx, `UPDATE stripe_events SET processed_at = now(), attempts = attempts + 1,
		last_error = '', org_ref = $2 WHERE id = $1`, eventID, orgID)
	if err != nil {
		return fmt.Errorf("billing: mark Stripe event %s processed: %w", eventID, err)
	}
	return nil
}

func (s *Syncer) recordFailure(ctx context.Context, eventID, orgID string, cause error) error {
	var ref *string
	if orgID != "" {
		ref = &orgID
	}
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	// A background context: the failure is recorded even when ctx ended.
	_, err := s.cfg.Pool.Exec(context.WithoutCancel(ctx), `UPDATE stripe_events SET attempts = attempts + 1, last_error = $2,
		org_ref = coalesce($3::uuid, org_ref) WHERE id = $1`, eventID, msg, ref)
	return errors.Join(cause, err)
}

// resolve finds the organisation and the Stripe objects an event concerns,
// from re-fetched objects: the event's payload gives only their IDs.
func (s *Syncer) resolve(ctx context.Context, ev *stripe.Event) (string, syncHint, error) {
	sc := s.cfg.Stripe
	h := syncHint{eventTime: time.Unix(ev.Created, 0).UTC()}
	var obj struct {
		ID           string `json:"id"`
		Object       string `json:"object"`
		AttemptCount int64  `json:"attempt_count"`
	}
	if ev.Data == nil || json.Unmarshal(ev.Data.Raw, &obj) != nil || obj.ID == "" {
		return "", h, nil
	}
	var orgID string
	switch obj.Object {
	case "subscription":
		h.subscriptionID = obj.ID
		sub, err := sc.V1Subscriptions.Retrieve(ctx, obj.ID, nil)
		if err != nil {
			return "", h, fmt.Errorf("billing: fetch subscription %s: %w", obj.ID, err)
		}
		h.customerID = customerOf(sub.Customer)
	case "invoice":
		h.invoiceID = obj.ID
		if ev.Type == stripe.EventTypeInvoicePaymentFailed {
			h.failedEvent, h.failedAttempt = true, obj.AttemptCount
		}
		inv, err := sc.V1Invoices.Retrieve(ctx, obj.ID, nil)
		if err != nil {
			return "", h, fmt.Errorf("billing: fetch invoice %s: %w", obj.ID, err)
		}
		h.customerID = customerOf(inv.Customer)
		if p := inv.Parent; p != nil && p.SubscriptionDetails != nil && p.SubscriptionDetails.Subscription != nil {
			h.subscriptionID = p.SubscriptionDetails.Subscription.ID
		}
	case "dispute":
		h.disputeID = obj.ID
		d, err := sc.V1Disputes.Retrieve(ctx, obj.ID, nil)
		if err != nil {
			return "", h, fmt.Errorf("billing: fetch dispute %s: %w", obj.ID, err)
		}
		if d.Charge != nil && d.Charge.ID != "" {
			ch, err := sc.V1Charges.Retrieve(ctx, d.Charge.ID, nil)
			if err != nil {
				return "", h, fmt.Errorf("billing: fetch charge %s: %w", d.Charge.ID, err)
			}
			h.customerID = customerOf(ch.Customer)
		}
	case "checkout.session":
		cs, err := sc.V1CheckoutSessions.Retrieve(ctx, obj.ID, nil)
		if err != nil {
			return "", h, fmt.Errorf("billing: fetch checkout session %s: %w", obj.ID, err)
		}
		h.customerID = customerOf(cs.Customer)
		if cs.Subscription != nil {
			h.subscriptionID = cs.Subscription.ID
		}
		orgID = cs.ClientReferenceID
	case "customer":
		h.customerID = obj.ID
	default:
		return "", h, nil
	}
	if h.customerID != "" {
		c, err := sc.V1Customers.Retrieve(ctx, h.customerID, nil)
		if err != nil {
			return "", h, fmt.Errorf("billing: fetch customer %s: %w", h.customerID, err)
		}
		if id := strings.TrimSpace(c.Metadata[CustomerOrgMetadata]); id != "" {
			orgID = id
		}
	}
	return orgID, h, nil
}

// ProcessEventWorker is the River worker of ProcessEventArgs.
type ProcessEventWorker struct {
	river.WorkerDefaults[ProcessEventArgs]
	Syncer *Syncer
}

// Work processes the event; an error makes River retry the job.
func (w *ProcessEventWorker) Work(ctx context.Context, job *river.Job[ProcessEventArgs]) error {
	return w.Syncer.ProcessEvent(ctx, job.Args.EventID)
}
