package billing

import (
	"context"
	"errors"
	"fmt"
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
	// SyncedAt is when the account was last synced from Stripe; zero
	// before the first sync.
	SyncedAt time.Time
	// disputes are the organisation's disputes after a sync (nil when not
	// loaded); the changed ones are stored with the account.
	disputes []disputeRow
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
	if h.customerDeleted && h.customerID != "" {
		if err := markCustomerDeleted(ctx, tx, h.customerID, orgID); err != nil {
			return Entitlements{}, err
		}
	}
	if h.customerID != "" && !h.customerDeleted {
		// First contact: the account row names the customer.
		if err := insertCustomerAccount(ctx, tx, orgID, h.customerID); err != nil {
			return Entitlements{}, err
		}
	}
	// The lock serialises every sync of the organisation, and the Stripe
	// fetches happen under it: a fetch can never be stored over a later one.
	prev, err := loadAccount(ctx, tx, orgID, true)
	if err != nil {
		return Entitlements{}, err
	}
	h = withoutOtherCustomer(prev, h)
	if !hasBilling(prev, h) {
		return s.compute(prev), nil // no account: free plan
	}
	cur, outbox, err := s.fetchOnly(ctx, tx, prev, h)
	if err != nil {
		return Entitlements{}, err
	}
	if err := storeAccount(ctx, tx, cur); err != nil {
		return Entitlements{}, err
	}
	if err := s.recordCustomer(ctx, tx, prev, cur); err != nil {
		return Entitlements{}, err
	}
	if err := s.writeOutbox(ctx, tx, orgID, outbox); err != nil {
		return Entitlements{}, err
	}
	if err := storeDisputes(ctx, tx, cur); err != nil {
		return Entitlements{}, err
	}
	return s.compute(cur), nil
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

// fetchOnly re-fetches from Stripe everything the account and the hint
// refer to and returns the new account state and the side effects it calls
// for, storing nothing: the reads are fetch's, the decisions nextAccount's.
func (s *Syncer) fetchOnly(ctx context.Context, tx pgx.Tx, prev Account, h syncHint) (Account, []outboxRow, error) {
	customerID := accountCustomer(prev, h)
	f, err := s.fetch(ctx, tx, prev, customerID, h)
	if err != nil {
		return prev, nil, err
	}
	cur, outbox := nextAccount(prev, customerID, h, f)
	cur, outbox = withPlans(s.cfg.Catalog, prev, cur, f, outbox)
	return cur, outbox, nil
}
