package billing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// CheckoutInput is what StartCheckout needs.
type CheckoutInput struct {
	Plan     PlanID
	Interval Interval
	// Email is the signed-in user's address, given to the Stripe customer
	// when it is created (Checkout asks for one otherwise).
	Email string
	// OrgName names the Stripe customer when it is created.
	OrgName string
	// TrialDays, when positive, starts the subscription with a trial
	// without asking for a card; at the trial's end without a payment
	// method Stripe cancels it (and the organisation is on the free plan).
	TrialDays int64
	// Trial starts the subscription with the plan's trial (Plan.TrialDays,
	// from the catalogue), as the billing page offers it.
	Trial bool
	// Seats is the organisation's member count: the quantity of a per-seat
	// plan (Plan.PerSeat; at least 1). Ignored for other plans.
	Seats int
}

// ErrTrialUsed is in the chain of StartCheckout's ECONFLICT error when a
// trial is asked for by an organisation that has had a subscription.
var ErrTrialUsed = errors.New("billing: the organisation has had a subscription")

// ErrLiveSubscription is in the chain of StartCheckout's ECONFLICT error
// when the organisation already has a subscription: the page sends the user
// to the Customer Portal or the plan change actions instead.
var ErrLiveSubscription = errors.New("billing: the organisation already has a subscription")

// StartCheckout creates a Stripe Checkout Session in subscription mode for
// the plan and returns its URL. The organisation gets one Stripe customer
// (ensureCustomer) with its ID in the metadata; the session carries the
// organisation as client_reference_id, with automatic tax, tax ID
// collection and a required billing address.
//
// It refuses (ECONFLICT) while a subscription is live, checking Stripe and
// not only the stored snapshot: the previous session is re-fetched, and if
// it completed without a webhook yet, synced. A previous session still open
// is expired, so two tabs cannot both pay. It also refuses while an invoice
// is unpaid (pay it in the portal first).
//
// No transaction is open and no row is locked while Stripe answers (issue
// 11, item 8): the account is read, Stripe is asked (the previous session,
// the sync, the new session), and a short transaction then stores the new
// session only if the stored one is still the one read at the start
// (swapCheckoutSession). When another checkout of the organisation stored
// its session first, ours is expired and the caller gets the other's URL
// while it is open, else ECONFLICT: exactly one session stays payable.
func (s *Service) StartCheckout(ctx context.Context, scope gw.Scope, in CheckoutInput) (string, error) {
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return "", err
	}
	plan, ok := s.Catalog().Plan(in.Plan)
	if !ok || plan.Free() {
		return "", &gw.Error{Code: gw.EINVALID, Message: "Choose a paid plan.", Fields: map[string]string{"plan": "Unknown or free plan."}}
	}
	if in.Interval == "" {
		in.Interval = IntervalMonth
	}
	if in.Interval != IntervalMonth && in.Interval != IntervalYear {
		return "", &gw.Error{Code: gw.EINVALID, Message: "Choose a monthly or yearly billing interval.", Fields: map[string]string{"interval": "Unknown interval."}}
	}
	if in.Trial {
		if plan.TrialDays <= 0 {
			return "", gw.Errorf(gw.EINVALID, "The %s plan has no trial.", plan.Name)
		}
		in.TrialDays = plan.TrialDays
	}
	price, err := s.sellingPrice(ctx, plan, in.Interval)
	if err != nil {
		return "", err
	}
	quantity := int64(1)
	if plan.PerSeat && in.Seats > 1 {
		quantity = int64(in.Seats)
	}
	orgID := scope.OrgID
	customerID, err := s.ensureCustomer(ctx, orgID, in)
	if err != nil {
		return "", err
	}
	a, err := s.syncer.Account(ctx, orgID)
	if err != nil {
		return "", err
	}
	// The previous session: completed (maybe without a webhook yet) or open.
	hint := syncHint{customerID: customerID}
	if a.CheckoutSessionID != "" {
		cs, err := s.closeCheckoutSession(ctx, a.CheckoutSessionID)
		if err != nil {
			return "", stripeError("expire checkout session", err)
		}
		if cs.Subscription != nil {
			hint.subscriptionID = cs.Subscription.ID
		}
	}
	// The sync of every other path (lock-free); a refusal keeps what it
	// stored: the page then shows what Stripe has.
	if _, err := s.syncer.sync(ctx, orgID, hint); err != nil {
		return "", stripeError("sync", err)
	}
	cur, err := s.syncer.Account(ctx, orgID)
	if err != nil {
		return "", err
	}
	if err := checkoutRefusal(cur, in); err != nil {
		return "", err
	}
	page := s.cfg.BaseURL + BillingPage(orgID)
	p := &stripe.CheckoutSessionCreateParams{
		Mode:                     stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		Customer:                 stripe.String(customerID),
		ClientReferenceID:        stripe.String(orgID),
		LineItems:                []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String(price), Quantity: stripe.Int64(quantity)}},
		AutomaticTax:             &stripe.CheckoutSessionCreateAutomaticTaxParams{Enabled: stripe.Bool(true)},
		TaxIDCollection:          &stripe.CheckoutSessionCreateTaxIDCollectionParams{Enabled: stripe.Bool(true)},
		BillingAddressCollection: stripe.String(string(stripe.CheckoutSessionBillingAddressCollectionRequired)),
		// Checkout saves the address and name it collects on the
		// customer, as automatic tax and tax ID collection require.
		CustomerUpdate: &stripe.CheckoutSessionCreateCustomerUpdateParams{
			Address: stripe.String("auto"), Name: stripe.String("auto")},
		SubscriptionData: &stripe.CheckoutSessionCreateSubscriptionDataParams{
			Metadata: map[string]string{CustomerOrgMetadata: orgID}},
		SuccessURL: stripe.String(page + "/success?session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:  stripe.String(page),
	}
	if !s.cfg.NoPromotionCodes {
		// Checkout shows a field for the promotion codes created in
		// Stripe (https://docs.stripe.com/payments/checkout/discounts#promotion-codes).
		p.AllowPromotionCodes = stripe.Bool(true)
	}
	if in.TrialDays > 0 {
		p.SubscriptionData.TrialPeriodDays = stripe.Int64(in.TrialDays)
		p.SubscriptionData.TrialSettings = &stripe.CheckoutSessionCreateSubscriptionDataTrialSettingsParams{
			EndBehavior: &stripe.CheckoutSessionCreateSubscriptionDataTrialSettingsEndBehaviorParams{
				MissingPaymentMethod: stripe.String("cancel")}}
		p.PaymentMethodCollection = stripe.String("if_required")
	}
	cs, err := s.stripe.V1CheckoutSessions.Create(ctx, p)
	if err != nil {
		return "", stripeError("create checkout session", err)
	}
	var winner string
	var stored bool
	err = postgres.InOrgTx(ctx, s.syncer.cfg.Pool, orgID, func(tx pgx.Tx) error {
		winner, stored, err = swapCheckoutSession(ctx, tx, orgID, a.CheckoutSessionID, cs.ID)
		return err
	})
	if err != nil {
		return "", err
	}
	if stored {
		return cs.URL, nil
	}
	// Another checkout of the organisation stored its session since a was
	// read: ours must not stay payable next to it.
	if _, err := s.closeCheckoutSession(ctx, cs.ID); err != nil {
		return "", stripeError("expire checkout session", err)
	}
	if winner != "" {
		w, err := s.stripe.V1CheckoutSessions.Retrieve(ctx, winner, nil)
		if err != nil {
			return "", stripeError("fetch checkout session", err)
		}
		if w.Status == stripe.CheckoutSessionStatusOpen {
			return w.URL, nil
		}
	}
	return "", gw.Errorf(gw.ECONFLICT, "Another checkout for this organisation was started at the same time. Please try again.")
}

// checkoutRefusal is why the organisation, whose account a sync has just
// brought to Stripe's truth, may not check out with in; nil if it may.
func checkoutRefusal(a Account, in CheckoutInput) error {
	if a.SubscriptionID != "" && subLive(a.Snapshot.Status) {
		return fmt.Errorf("%w: %w", gw.Errorf(gw.ECONFLICT,
			"This organisation already has a subscription. Change the plan on the billing page or in the billing portal."), ErrLiveSubscription)
	}
	if in.TrialDays > 0 && (a.SubscribedBefore || a.SubscriptionID != "") {
		// A trial is for an organisation's first subscription only.
		return fmt.Errorf("%w: %w", gw.Errorf(gw.ECONFLICT,
			"Trials are for a first subscription; this organisation has had one. Choose a plan without a trial."), ErrTrialUsed)
	}
	if a.Snapshot.LatestInvoiceStatus == stripe.InvoiceStatusOpen {
		return gw.Errorf(gw.ECONFLICT, "An invoice is unpaid. Pay it in the billing portal before subscribing again.")
	}
	return nil
}

// closeCheckoutSession makes sure Checkout Session id can no longer be
// paid: an open one is expired. It returns the session as Stripe last
// showed it (a completed one names its subscription). Stripe expires only
// open sessions and answers any other status with a 400
// (https://docs.stripe.com/api/checkout/sessions/expire), as the fake does:
// a session that expired (another checkout, its 24 hours) or completed
// since it was read is re-read, and only one still open is an error.
func (s *Service) closeCheckoutSession(ctx context.Context, id string) (*stripe.CheckoutSession, error) {
	cs, err := s.stripe.V1CheckoutSessions.Retrieve(ctx, id, nil)
	if err != nil || cs.Status != stripe.CheckoutSessionStatusOpen {
		return cs, err
	}
	expired, err := s.stripe.V1CheckoutSessions.Expire(ctx, id, nil)
	var se *stripe.Error
	if err == nil || !errors.As(err, &se) || se.HTTPStatusCode != http.StatusBadRequest {
		return expired, err
	}
	again, rerr := s.stripe.V1CheckoutSessions.Retrieve(ctx, id, nil)
	if rerr != nil || again.Status == stripe.CheckoutSessionStatusOpen {
		return nil, err
	}
	return again, nil
}

// ensureCustomer returns the organisation's Stripe customer, creating one
// unless it has one that Stripe has not deleted, and commits its ID at
// once: whatever happens next, the organisation keeps this customer. A
// customer deleted in Stripe (in the Dashboard, say) is forgotten, with
// everything of it, as when its customer.deleted event is processed.
//
// Stripe is asked with no transaction open; a short transaction then
// stores the new customer only if the account still has none or still the
// deleted one. When a concurrent checkout stored its customer first, that
// one is returned and ours stays unused, which costs nothing (a customer
// without subscriptions is never billed).
//
// The idempotency key is this attempt's own (attemptKey): stripe-go resends
// it on its network retries, so a lost response still gives one customer.
// A key per organisation would be answered, for 24 hours, with the first
// customer even after Stripe deleted it, and refused (idempotency_error) to
// another owner whose email or organisation name differs. Should the
// commit fail after Stripe created the customer, the next attempt creates
// another: the first stays unused.
func (s *Service) ensureCustomer(ctx context.Context, orgID string, in CheckoutInput) (string, error) {
	a, err := s.syncer.Account(ctx, orgID)
	if err != nil {
		return "", err
	}
	if a.CustomerID != "" {
		c, err := s.stripe.V1Customers.Retrieve(ctx, a.CustomerID, nil)
		if err != nil {
			return "", stripeError("fetch customer", err)
		}
		if !c.Deleted {
			return a.CustomerID, nil
		}
	}
	dead := a.CustomerID
	p := &stripe.CustomerCreateParams{Metadata: map[string]string{CustomerOrgMetadata: orgID}}
	if in.Email != "" {
		p.Email = stripe.String(in.Email)
	}
	if in.OrgName != "" {
		p.Name = stripe.String(in.OrgName)
	}
	p.SetIdempotencyKey(attemptKey("customer", orgID))
	c, err := s.stripe.V1Customers.Create(ctx, p)
	if err != nil {
		return "", stripeError("create customer", err)
	}
	customerID := c.ID
	err = postgres.InOrgTx(ctx, s.syncer.cfg.Pool, orgID, func(tx pgx.Tx) error {
		if err := insertAccount(ctx, tx, orgID); err != nil {
			return err
		}
		locked, err := loadAccount(ctx, tx, orgID, true)
		if err != nil {
			return err
		}
		if locked.CustomerID != "" && locked.CustomerID != dead {
			customerID = locked.CustomerID // a concurrent checkout's
			return nil
		}
		if locked.CustomerID != "" {
			if err := storeAccount(ctx, tx, withoutCustomer(locked)); err != nil {
				return err
			}
			if err := markCustomerDeleted(ctx, tx, dead, orgID); err != nil {
				return err
			}
		}
		if err := setCustomer(ctx, tx, orgID, c.ID); err != nil {
			return err
		}
		return mapCustomer(ctx, tx, c.ID, orgID)
	})
	if err != nil {
		return "", err
	}
	return customerID, nil
}

// FinishCheckout is the checkout success redirect: it runs the same
// synchronisation as the webhook path with the session's subscription, so
// a user who returns before the webhook sees the new plan, and the webhook
// that follows changes nothing and sends nothing twice.
func (s *Service) FinishCheckout(ctx context.Context, scope gw.Scope, sessionID string) error {
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return err
	}
	if sessionID == "" {
		return gw.Errorf(gw.EINVALID, "Missing checkout session.")
	}
	err := s.syncer.SyncCheckout(ctx, scope.OrgID, sessionID)
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode == 404 {
		return gw.Errorf(gw.ENOTFOUND, "Checkout session not found.")
	}
	if errors.Is(err, errForeignSession) {
		return gw.Errorf(gw.ENOTFOUND, "Checkout session not found.")
	}
	if err != nil {
		return stripeError("sync checkout", err)
	}
	return nil
}

// PortalConfigurationParams is the Customer Portal configuration the
// Service creates when STRIPE_PORTAL_CONFIGURATION is not set. It matches
// the application's rules: payment methods, billing details and invoices
// are managed in the portal; plan changes are not offered there (they go
// through the billing page, which previews prorations and grants an upgrade
// only once paid); cancellation takes effect at the period end without
// proration, as on the billing page.
func PortalConfigurationParams(returnURL string) *stripe.BillingPortalConfigurationCreateParams {
	return &stripe.BillingPortalConfigurationCreateParams{
		BusinessProfile: &stripe.BillingPortalConfigurationCreateBusinessProfileParams{
			Headline: stripe.String("Manage payment methods, billing details and invoices")},
		DefaultReturnURL: stripe.String(returnURL),
		Features: &stripe.BillingPortalConfigurationCreateFeaturesParams{
			PaymentMethodUpdate: &stripe.BillingPortalConfigurationCreateFeaturesPaymentMethodUpdateParams{Enabled: stripe.Bool(true)},
			InvoiceHistory:      &stripe.BillingPortalConfigurationCreateFeaturesInvoiceHistoryParams{Enabled: stripe.Bool(true)},
			CustomerUpdate: &stripe.BillingPortalConfigurationCreateFeaturesCustomerUpdateParams{Enabled: stripe.Bool(true),
				AllowedUpdates: stripe.StringSlice([]string{"address", "email", "name", "tax_id"})},
			SubscriptionCancel: &stripe.BillingPortalConfigurationCreateFeaturesSubscriptionCancelParams{Enabled: stripe.Bool(true),
				Mode: stripe.String("at_period_end"), ProrationBehavior: stripe.String("none")},
			SubscriptionUpdate: &stripe.BillingPortalConfigurationCreateFeaturesSubscriptionUpdateParams{Enabled: stripe.Bool(false)},
		},
	}
}

// PortalURL returns a Stripe Customer Portal session for the organisation's
// customer, returning to its billing page.
func (s *Service) PortalURL(ctx context.Context, scope gw.Scope) (string, error) {
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return "", err
	}
	a, err := s.syncer.Account(ctx, scope.OrgID)
	if err != nil {
		return "", err
	}
	if a.CustomerID == "" {
		return "", gw.Errorf(gw.ECONFLICT, "This organisation has no billing account yet: choose a plan first.")
	}
	page := s.cfg.BaseURL + BillingPage(scope.OrgID)
	conf, err := s.portalConfiguration(ctx)
	if err != nil {
		return "", err
	}
	ps, err := s.stripe.V1BillingPortalSessions.Create(ctx, &stripe.BillingPortalSessionCreateParams{
		Customer: stripe.String(a.CustomerID), ReturnURL: stripe.String(page), Configuration: stripe.String(conf)})
	if err != nil {
		return "", stripeError("create portal session", err)
	}
	return ps.URL, nil
}

// portalConfiguration returns the Customer Portal configuration: the one
// configured (STRIPE_PORTAL_CONFIGURATION), else the one created for every
// process and recorded in billing_state, else a new one. Its parameters are
// the same for every organisation (the default return URL is the
// application's; each portal session sets its own), and its idempotency
// key names their fingerprint: every process asks for the same thing, so
// Stripe answers all with one configuration, where a fixed key with
// per-organisation parameters was refused with idempotency_error for 24
// hours (https://docs.stripe.com/api/idempotent_requests: a key reused
// with other parameters is an error). Changed parameters (a new release)
// make a new configuration.
func (s *Service) portalConfiguration(ctx context.Context) (string, error) {
	s.portalMu.Lock()
	defer s.portalMu.Unlock()
	if s.portalID != "" {
		return s.portalID, nil
	}
	p := PortalConfigurationParams(s.cfg.BaseURL)
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("billing: encode portal configuration: %w", err)
	}
	sum := sha256.Sum256(b)
	hash := hex.EncodeToString(sum[:])
	id, stored, err := portalConfigurationOf(ctx, s.syncer.cfg.Pool)
	if err != nil {
		return "", err
	}
	if id != "" && stored == hash {
		s.portalID = id
		return id, nil
	}
	p.SetIdempotencyKey("groundwork-portal-configuration-" + hash[:32])
	conf, err := s.stripe.V1BillingPortalConfigurations.Create(ctx, p)
	if err != nil {
		return "", stripeError("create portal configuration", err)
	}
	if err := setPortalConfiguration(ctx, s.syncer.cfg.Pool, conf.ID, hash); err != nil {
		return "", err
	}
	s.portalID = conf.ID
	return conf.ID, nil
}
