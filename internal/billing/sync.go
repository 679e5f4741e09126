package billing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// CustomerOrgMetadata is the metadata key holding the organisation's ID on
// the Stripe customer and subscription the application creates. The worker
// finds the organisation an event concerns in its own record of customers
// (stripe_customers) first; the metadata, the Checkout Session's
// client_reference_id and, last, the customer's metadata are fallbacks for
// customers not recorded yet (created before that record existed). A
// deleted customer no longer returns its metadata.
const CustomerOrgMetadata = "org_id"

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
	// DisputeAllowWhileOpen keeps access while a dispute with funds
	// withdrawn is open; false (the default) makes the organisation
	// read-only until it is closed.
	DisputeAllowWhileOpen bool
	// DisputeOnLost is what a lost dispute does; "" is LostDisputeRestrict.
	DisputeOnLost LostDisputePolicy
	// Clock tells the time; nil is the system clock. It is used to evaluate
	// entitlements and date previews, never as the time of a payment failure.
	Clock gw.Clock
	// Jobs, if set, enqueues the delivery of new outbox rows in the
	// transaction that writes them (without it they wait for the
	// reconciler's sweep), and the coalesced syncs of webhook events and
	// of the Service's actions (without it events are synced one by one,
	// and an action's sync that fails waits for the webhooks).
	Jobs JobInserter
	// Debounce is how long a coalesced sync waits for more events of its
	// organisation; zero is DefaultSyncDebounce.
	Debounce time.Duration
}

// Syncer brings an organisation's billing snapshot to Stripe's truth: it
// re-fetches the subscription, its latest invoice and the disputes from
// Stripe, then locks the organisation's billing_accounts row, stores them
// (unless another write came in between: sync), recomputes the
// entitlements and writes the side effects to the outbox.
// Whatever the event order, duplicates or concurrency, the stored state is
// what Stripe shows at the last sync.
type Syncer struct {
	cfg      SyncerConfig
	enforcer *Enforcer
	// beforeStore, if set (tests), runs between a sync's fetch and its
	// store.
	beforeStore func(orgID string)
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
		DisputeAllowWhileOpen: cfg.DisputeAllowWhileOpen, DisputeOnLost: cfg.DisputeOnLost, Clock: cfg.Clock, Jobs: cfg.Jobs}}, nil
}

// Account is an organisation's stored billing state.
type Account struct {
	// OrgID is the organisation.
	OrgID string
	// CustomerID is its Stripe customer; "" before the first checkout.
	CustomerID string
	// SubscriptionID is its subscription, live or ended; "" for none.
	SubscriptionID string
	// Snapshot is what the entitlements are computed from.
	Snapshot Snapshot
	// LatestInvoiceID is the subscription's latest invoice; "" for none.
	LatestInvoiceID string
	// DisputeID is the latest dispute of the customer's payments; "" for
	// none.
	DisputeID string
	// Dispute is that dispute's state (without the policy, which the
	// Enforcer adds).
	Dispute DisputeState
	// DisputeAmount and DisputeCurrency are the disputed amount, in the
	// currency's minor unit.
	DisputeAmount   int64
	DisputeCurrency string
	// ScheduledPriceID is the price a downgrade switches to at
	// ScheduledChangeAt (a Stripe subscription schedule); "" if none.
	ScheduledPriceID  string
	ScheduledChangeAt time.Time
	// ScheduledPlan is the plan of ScheduledPriceID as the catalogue
	// resolved it at the sync (withPlans); "" if none.
	ScheduledPlan PlanID
	// CheckoutSessionID is the organisation's latest Checkout Session.
	CheckoutSessionID string
	// SubscribedBefore says the organisation has had a subscription (it is
	// never cleared): trials are offered only to those that never had one.
	SubscribedBefore bool
	// Grant is a plan an operator granted (GrantPlan); zero for none.
	Grant Grant
	// SyncedAt is when the fetch of the account's last sync from Stripe
	// began (the database's clock); zero before the first sync.
	SyncedAt time.Time
	// disputes are the organisation's disputes after a sync (nil when not
	// loaded); the changed ones are stored with the account.
	disputes []disputeRow
	// version is the account's sync_version when it was read: every write
	// of the snapshot raises it (storeIfCurrent).
	version int64
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
	// customerDeleted says Stripe deleted customerID (customer.deleted, or
	// the customer read back deleted).
	customerDeleted bool
	// checkCustomer re-fetches the account's customer to notice that Stripe
	// deleted it (the sweep, the reconciler and the sync command).
	checkCustomer bool
}

// Sync re-fetches the organisation's customer, subscription (and latest
// invoice and dispute) from Stripe and stores the snapshot; a customer
// deleted in Stripe is forgotten (the organisation is on the free plan and
// may subscribe again). It is what the reconciler, the daily sweep and
// `groundwork billing sync` run; an organisation without a billing account
// is left alone (free plan).
func (s *Syncer) Sync(ctx context.Context, orgID string) error {
	_, err := s.sync(ctx, orgID, syncHint{checkCustomer: true})
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

// maxSyncAttempts is how many times sync fetches from Stripe when, each
// time, another write of the account came in between its read and its
// store and did not make its fetch redundant (storeIfCurrent).
const maxSyncAttempts = 8

// errSyncOvertaken is returned when every attempt of a sync was overtaken by
// another write of the account; the caller (a job) retries later.
var errSyncOvertaken = errors.New("billing: the account changed during every attempt to sync it")

// sync is the one synchronisation path: webhook job, redirect, reconciler
// and the Service's actions. No transaction is open and no row is locked
// while Stripe is asked: it reads the account (its version, and the
// database's time as the fetch's start), fetches from Stripe, then locks the
// row and stores only if nothing was written meanwhile (storeIfCurrent).
// An older fetch is never stored over a newer one: when another write came
// in between, the sync fetches again (at most maxSyncAttempts times), or
// drops its result when that write was a sync whose fetch began after its
// own and its hint names nothing the account does not already refer to.
func (s *Syncer) sync(ctx context.Context, orgID string, h syncHint) (Entitlements, error) {
	for attempt := 1; ; attempt++ {
		ent, done, err := s.syncOnce(ctx, orgID, h)
		if err != nil || done {
			return ent, err
		}
		if attempt == maxSyncAttempts {
			return Entitlements{}, errSyncOvertaken
		}
		// Let the syncs that overtook this one finish before fetching again.
		backoff := time.Duration(attempt*attempt) * time.Duration(5+rand.IntN(20)) * time.Millisecond
		select {
		case <-ctx.Done():
			return Entitlements{}, ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// syncOnce is one attempt of sync; done is false when another write of the
// account overtook it and it must fetch again (nothing was stored).
func (s *Syncer) syncOnce(ctx context.Context, orgID string, h syncHint) (ent Entitlements, done bool, err error) {
	var prev Account
	var disputes []disputeRow
	var start time.Time
	err = postgres.InOrgTx(ctx, s.cfg.Pool, orgID, func(tx pgx.Tx) error {
		if err := s.recordHintCustomer(ctx, tx, orgID, h); err != nil {
			return err
		}
		var err error
		if start, err = txTime(ctx, tx); err != nil {
			return err
		}
		if prev, err = loadAccount(ctx, tx, orgID, false); err != nil {
			return err
		}
		disputes, err = loadDisputes(ctx, tx, orgID)
		return err
	})
	if err != nil {
		return Entitlements{}, false, err
	}
	h = withoutOtherCustomer(prev, h)
	if !hasBilling(prev, h) {
		return s.compute(prev), true, nil // no account: free plan
	}
	customerID := accountCustomer(prev, h)
	f, err := s.fetch(ctx, prev, customerID, h, disputes)
	if err != nil {
		return Entitlements{}, false, err
	}
	cur, outbox := nextAccount(prev, customerID, h, f)
	cur, outbox = withPlans(s.cfg.Catalog, prev, cur, f, outbox)
	cur.SyncedAt = start
	if s.beforeStore != nil {
		s.beforeStore(orgID)
	}
	err = postgres.InOrgTx(ctx, s.cfg.Pool, orgID, func(tx pgx.Tx) error {
		var err error
		ent, done, err = s.storeIfCurrent(ctx, tx, prev, cur, outbox, redundantHint(prev, disputes, h))
		return err
	})
	if err != nil {
		return Entitlements{}, false, err
	}
	return ent, done, nil
}

// storeIfCurrent locks the account and, if its version is still prev's,
// stores cur (a sync's result from prev, fetched from cur.SyncedAt on)
// with its outbox rows. Otherwise another write changed the account since
// prev was read: if it was a sync whose fetch began at or after cur's and
// cur's hint was redundant (redundantHint), that sync's state is at least
// as fresh and cur is dropped, but its outbox rows are written (each is
// something Stripe really did, keyed so it happens once); else done is
// false and nothing is written: the caller fetches again.
func (s *Syncer) storeIfCurrent(ctx context.Context, tx pgx.Tx, prev, cur Account, outbox []outboxRow, redundant bool) (Entitlements, bool, error) {
	locked, err := loadAccount(ctx, tx, prev.OrgID, true)
	if err != nil {
		return Entitlements{}, false, err
	}
	switch {
	case locked.version == prev.version:
		return s.compute(cur), true, s.store(ctx, tx, prev, cur, outbox)
	case redundant && !locked.SyncedAt.IsZero() && !locked.SyncedAt.Before(cur.SyncedAt):
		return s.compute(locked), true, s.writeOutbox(ctx, tx, prev.OrgID, outbox)
	}
	return Entitlements{}, false, nil
}

// redundantHint reports whether hint h names nothing beyond what account
// prev (with its stored disputes) refers to, so that any later sync of the
// account re-fetches everything h does: no deleted customer, no customer,
// subscription or dispute the account does not know.
func redundantHint(prev Account, disputes []disputeRow, h syncHint) bool {
	if h.customerDeleted || (h.customerID != "" && h.customerID != prev.CustomerID) ||
		(h.subscriptionID != "" && h.subscriptionID != prev.SubscriptionID) {
		return false
	}
	if h.disputeID == "" || h.disputeID == prev.DisputeID {
		return true
	}
	for _, d := range disputes {
		if d.ID == h.disputeID && (d.State.Status == DisputeOpen || d.State.Status == DisputeInquiry) {
			return true // a later sync re-fetches every open stored dispute
		}
	}
	return false
}

// recordHintCustomer records what the hint says of its customer before a
// sync reads the account: that Stripe deleted it, or (first contact) that
// it is the organisation's.
func (s *Syncer) recordHintCustomer(ctx context.Context, tx pgx.Tx, orgID string, h syncHint) error {
	if h.customerDeleted && h.customerID != "" {
		if err := markCustomerDeleted(ctx, tx, h.customerID, orgID); err != nil {
			return err
		}
	}
	if h.customerID != "" && !h.customerDeleted {
		// First contact: the account row names the customer.
		return insertCustomerAccount(ctx, tx, orgID, h.customerID)
	}
	return nil
}

// store writes cur, a sync's result from prev, in tx: the account (raising
// its version), the customer record, the outbox rows and the disputes.
func (s *Syncer) store(ctx context.Context, tx pgx.Tx, prev, cur Account, outbox []outboxRow) error {
	if err := storeAccount(ctx, tx, cur); err != nil {
		return err
	}
	if err := s.recordCustomer(ctx, tx, prev, cur); err != nil {
		return err
	}
	if err := s.writeOutbox(ctx, tx, cur.OrgID, outbox); err != nil {
		return err
	}
	return storeDisputes(ctx, tx, cur)
}

// recordCustomer records the account's customer after a sync from prev to
// cur: which organisation it is, or, when the sync forgot it, that Stripe
// deleted it.
func (s *Syncer) recordCustomer(ctx context.Context, tx pgx.Tx, prev, cur Account) error {
	if prev.CustomerID != "" && cur.CustomerID == "" {
		return markCustomerDeleted(ctx, tx, prev.CustomerID, cur.OrgID)
	}
	if cur.CustomerID != "" {
		return mapCustomer(ctx, tx, cur.CustomerID, cur.OrgID)
	}
	return nil
}

// writeOutbox adds rows to orgID's outbox (each key once) and, if any was
// new, enqueues their delivery in tx.
func (s *Syncer) writeOutbox(ctx context.Context, tx pgx.Tx, orgID string, rows []outboxRow) error {
	queued := false
	for _, o := range rows {
		added, err := insertOutbox(ctx, tx, orgID, o)
		if err != nil {
			return err
		}
		queued = queued || added
	}
	if queued && s.cfg.Jobs != nil {
		if _, err := s.cfg.Jobs.InsertTx(ctx, tx, DeliverOutboxArgs{OrgID: orgID}, nil); err != nil {
			return fmt.Errorf("billing: enqueue outbox delivery: %w", err)
		}
	}
	return nil
}
