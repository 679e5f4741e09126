package billing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
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
// the plan and returns its URL. The organisation gets one Stripe customer,
// created once (idempotency key and the stored ID) with its ID in the
// metadata; the session carries the organisation as client_reference_id,
// with automatic tax, tax ID collection and a required billing address.
//
// It refuses (ECONFLICT) while a subscription is live, checking Stripe and
// not only the stored snapshot: the previous session is re-fetched, and if
// it completed without a webhook yet, synced. A previous session still open
// is expired, so two tabs cannot both pay. It also refuses while an invoice
// is unpaid (pay it in the portal first).
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
	if err := s.ensureCustomer(ctx, orgID, in); err != nil {
		return "", err
	}
	var url string
	var hint syncHint
	var refused error
	err = s.inLockedAccount(ctx, orgID, func() syncHint { return hint }, func(tx pgx.Tx, a Account) (*audit.Event, error) {
		if a.CustomerID == "" {
			return nil, errors.New("billing: no customer after ensureCustomer")
		}
		hint.customerID = a.CustomerID
		// The previous session: completed (maybe without a webhook yet) or open.
		if a.CheckoutSessionID != "" {
			cs, err := s.stripe.V1CheckoutSessions.Retrieve(ctx, a.CheckoutSessionID, nil)
			if err != nil {
				return nil, stripeError("fetch checkout session", err)
			}
			switch {
			case cs.Status == stripe.CheckoutSessionStatusOpen:
				if _, err := s.stripe.V1CheckoutSessions.Expire(ctx, cs.ID, nil); err != nil {
					return nil, stripeError("expire checkout session", err)
				}
			case cs.Subscription != nil:
				hint.subscriptionID = cs.Subscription.ID
			}
		}
		cur, _, err := s.syncer.fetchOnly(ctx, tx, a, hint)
		if err != nil {
			return nil, stripeError("sync", err)
		}
		// A refusal still commits the sync: the page then shows what Stripe has.
		if cur.SubscriptionID != "" && subLive(cur.Snapshot.Status) {
			refused = fmt.Errorf("%w: %w", gw.Errorf(gw.ECONFLICT,
				"This organisation already has a subscription. Change the plan on the billing page or in the billing portal."), ErrLiveSubscription)
			return nil, nil
		}
		if in.TrialDays > 0 && (a.SubscribedBefore || cur.SubscriptionID != "") {
			// A trial is for an organisation's first subscription only.
			refused = fmt.Errorf("%w: %w", gw.Errorf(gw.ECONFLICT,
				"Trials are for a first subscription; this organisation has had one. Choose a plan without a trial."), ErrTrialUsed)
			return nil, nil
		}
		if cur.Snapshot.LatestInvoiceStatus == stripe.InvoiceStatusOpen {
			refused = gw.Errorf(gw.ECONFLICT, "An invoice is unpaid. Pay it in the billing portal before subscribing again.")
			return nil, nil
		}
		page := s.cfg.BaseURL + BillingPage(orgID)
		p := &stripe.CheckoutSessionCreateParams{
			Mode:                     stripe.String(string(stripe.CheckoutSessionModeSubscription)),
			Customer:                 stripe.String(a.CustomerID),
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
			return nil, stripeError("create checkout session", err)
		}
		if err := setCheckoutSession(ctx, tx, orgID, cs.ID); err != nil {
			return nil, err
		}
		url = cs.URL
		return nil, nil
	})
	if err != nil {
		return "", err
	}
	if refused != nil {
		return "", refused
	}
	return url, nil
}

// ensureCustomer creates the organisation's Stripe customer unless it has
// one that Stripe has not deleted, and commits its ID at once: whatever
// happens next, the organisation keeps this customer. A customer deleted in
// Stripe (in the Dashboard, say) is forgotten first, with everything of it,
// as when its customer.deleted event is processed.
//
// The idempotency key is this attempt's own (attemptKey): stripe-go resends
// it on its network retries, so a lost response still gives one customer.
// A key per organisation would be answered, for 24 hours, with the first
// customer even after Stripe deleted it, and refused (idempotency_error) to
// another owner whose email or organisation name differs. Should the
// commit fail after Stripe created the customer, the next attempt creates
// another: the first stays unused, which costs nothing.
func (s *Service) ensureCustomer(ctx context.Context, orgID string, in CheckoutInput) error {
	return postgres.InOrgTx(ctx, s.syncer.cfg.Pool, orgID, func(tx pgx.Tx) error {
		if err := insertAccount(ctx, tx, orgID); err != nil {
			return err
		}
		a, err := loadAccount(ctx, tx, orgID, true)
		if err != nil {
			return err
		}
		if a.CustomerID != "" {
			c, err := s.stripe.V1Customers.Retrieve(ctx, a.CustomerID, nil)
			if err != nil {
				return stripeError("fetch customer", err)
			}
			if !c.Deleted {
				return nil
			}
			if err := storeAccount(ctx, tx, withoutCustomer(a)); err != nil {
				return err
			}
			if err := markCustomerDeleted(ctx, tx, a.CustomerID, orgID); err != nil {
				return err
			}
		}
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
			return stripeError("create customer", err)
		}
		if err := setCustomer(ctx, tx, orgID, c.ID); err != nil {
			return err
		}
		return mapCustomer(ctx, tx, c.ID, orgID)
	})
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
