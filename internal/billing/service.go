package billing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// ServiceConfig configures a Service.
type ServiceConfig struct {
	// Syncer re-fetches and stores Stripe's truth; the Service shares its
	// pool, Stripe client, catalog and policy.
	Syncer *Syncer
	// BaseURL is the application's public URL; Checkout and the Customer
	// Portal return to it.
	BaseURL string
	// PortalConfiguration is a Stripe Customer Portal configuration ID
	// (STRIPE_PORTAL_CONFIGURATION). Empty: the Service creates one, the
	// first time it is needed, with PortalConfigurationParams.
	PortalConfiguration string
	// PriceCacheTTL is how long the plans' prices fetched from Stripe are
	// used (default DefaultPriceCacheTTL).
	PriceCacheTTL time.Duration
	// NoPromotionCodes hides the promotion code field of Checkout
	// (GROUNDWORK_BILLING_PROMOTION_CODES=false); by default customers may
	// enter the codes created in Stripe.
	NoPromotionCodes bool
	// OnSyncError, if set, is told when the sync right after a change made
	// in Stripe fails (the change stands; its sync job repeats the sync).
	OnSyncError func(ctx context.Context, err error)
}

// Service is what the billing page does: it shows an organisation's plan,
// starts checkouts, opens the Customer Portal, and changes, cancels and
// reactivates subscriptions. Every change is made in Stripe, then recorded
// (its audit event, and a sync job to follow it) in a transaction of its
// own, then synced at once so that the page shows the result; a sync that
// fails then is the job's to repeat, and the change stands (act).
type Service struct {
	cfg    ServiceConfig
	syncer *Syncer
	stripe *stripe.Client

	portalMu sync.Mutex
	portalID string

	prices *priceBook
}

// NewService returns a Service.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Syncer == nil {
		return nil, errors.New("billing: Service needs a Syncer")
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("billing: Service needs the application's base URL")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.PriceCacheTTL <= 0 {
		cfg.PriceCacheTTL = DefaultPriceCacheTTL
	}
	clock := cfg.Syncer.cfg.Clock
	if clock == nil {
		clock = gw.SystemClock{}
	}
	return &Service{cfg: cfg, syncer: cfg.Syncer, stripe: cfg.Syncer.cfg.Stripe, portalID: cfg.PortalConfiguration,
		prices: &priceBook{stripe: cfg.Syncer.cfg.Stripe, cat: cfg.Syncer.cfg.Catalog, clock: clock, ttl: cfg.PriceCacheTTL}}, nil
}

// Catalog returns the plans.
func (s *Service) Catalog() *Catalog { return s.syncer.cfg.Catalog }

// Entitlements returns what the organisation may do now (for banners and
// checks); it needs no permission beyond being in the organisation's scope.
func (s *Service) Entitlements(ctx context.Context, scope gw.Scope) (Entitlements, error) {
	if scope.OrgID == "" {
		return Entitlements{}, gw.Errorf(gw.ENOTFOUND, "Organisation not found.")
	}
	return s.syncer.Entitlements(ctx, scope.OrgID)
}

// Invoice is what the billing page shows of an invoice: Stripe's amounts,
// never recomputed.
type Invoice struct {
	ID, Number string
	Status     stripe.InvoiceStatus
	Currency   string
	Subtotal   int64
	Tax        int64
	Total      int64
	AmountDue  int64
	// TaxNote explains a zero or missing tax: reverse charge, not
	// collecting, location needed; "" for ordinary tax.
	TaxNote     string
	HostedURL   string
	PeriodEnd   time.Time
	NextAttempt time.Time
}

// Overview is the billing page: the stored account, the entitlements it
// gives, and what Stripe says about invoices and tax.
type Overview struct {
	Account      Account
	Entitlements Entitlements
	// Plan and Interval are the subscribed plan (the free plan without a
	// subscription); PendingPlan an upgrade awaiting payment; ScheduledPlan
	// a downgrade at Account.ScheduledChangeAt.
	Plan          Plan
	Interval      Interval
	PendingPlan   *Plan
	ScheduledPlan *Plan
	// Processing is the plan whose first payment is processing (an
	// incomplete subscription, e.g. paid by direct debit): Plan stays the
	// free plan until it is confirmed, and no plan change applies.
	Processing *Plan
	// Plans are every plan, for the upgrade and downgrade actions.
	Plans []Plan
	// Live says a subscription exists that is not canceled: plan changes,
	// cancel and reactivate apply; checkout does not.
	Live bool
	// TrialEligible says the organisation never had a subscription: the
	// plans' trials (Plan.TrialDays) are offered.
	TrialEligible bool
	// Prices are the prices the plans are sold at, from Stripe (cached);
	// PricesUnavailable says Stripe could not be reached and none were
	// fetched before: the plan cards show no amounts.
	Prices            map[PlanID]map[Interval]PlanPrice
	PricesUnavailable bool
	// NextInvoice is the upcoming renewal; LatestInvoice the last one issued.
	NextInvoice, LatestInvoice *Invoice
	// TaxProblem says what the customer must fix when Stripe cannot
	// determine their tax location; "" when tax is fine.
	TaxProblem string
	// StripeError is set when Stripe could not be reached: the stored
	// state is shown without the invoices.
	StripeError string
}

// TaxLocationProblem is the message shown when Stripe cannot determine the
// customer's tax location.
const TaxLocationProblem = "Stripe cannot determine your tax location from your billing address. " +
	"Open the billing portal and enter a complete billing address (country, and postal code in the US and Canada); " +
	"until then plan changes are refused and invoices cannot be finalised."

// Overview returns the organisation's billing page.
func (s *Service) Overview(ctx context.Context, scope gw.Scope) (Overview, error) {
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return Overview{}, err
	}
	a, err := s.syncer.Account(ctx, scope.OrgID)
	if err != nil {
		return Overview{}, err
	}
	cat := s.Catalog()
	o := Overview{Account: a, Entitlements: s.syncer.compute(a), Plans: cat.Plans(), Plan: cat.Free(),
		Live: a.SubscriptionID != "" && subLive(a.Snapshot.Status), TrialEligible: !a.SubscribedBefore && a.SubscriptionID == ""}
	if p, ok := cat.snapshotPlan(a.Snapshot.Plan, a.Snapshot.PriceID); ok && o.Live {
		o.Plan, o.Interval = p, a.Snapshot.Interval
		if o.Interval == "" {
			_, o.Interval, _ = cat.ByPrice(a.Snapshot.PriceID)
		}
		if a.Snapshot.Status == stripe.SubscriptionStatusIncomplete {
			o.Plan, o.Interval, o.Processing = cat.Free(), "", &p
		}
	}
	if p, ok := cat.snapshotPlan(a.Snapshot.PendingPlan, a.Snapshot.PendingPriceID); ok && o.Live && a.Snapshot.PendingPriceID != "" {
		o.PendingPlan = &p
	}
	if p, ok := cat.snapshotPlan(a.ScheduledPlan, a.ScheduledPriceID); ok && o.Live && a.ScheduledPriceID != "" {
		o.ScheduledPlan = &p
	}
	var ok bool
	o.Prices, ok = s.Prices(ctx)
	o.PricesUnavailable = !ok
	if a.CustomerID == "" {
		return o, nil
	}
	var errs []error
	cp := &stripe.CustomerRetrieveParams{}
	cp.AddExpand("tax")
	if c, err := s.stripe.V1Customers.Retrieve(ctx, a.CustomerID, cp); err != nil {
		errs = append(errs, err)
	} else if c.Tax != nil && (c.Tax.AutomaticTax == stripe.CustomerTaxAutomaticTaxUnrecognizedLocation ||
		c.Tax.AutomaticTax == stripe.CustomerTaxAutomaticTaxFailed) {
		o.TaxProblem = TaxLocationProblem
	}
	if a.LatestInvoiceID != "" {
		if inv, err := s.stripe.V1Invoices.Retrieve(ctx, a.LatestInvoiceID, nil); err != nil {
			errs = append(errs, err)
		} else {
			o.LatestInvoice = invoiceOf(inv)
			if inv.AutomaticTax != nil && inv.AutomaticTax.Status == stripe.InvoiceAutomaticTaxStatusRequiresLocationInputs {
				o.TaxProblem = TaxLocationProblem
			}
		}
	}
	if o.Live && !a.Snapshot.CancelAtPeriodEnd {
		p := &stripe.InvoiceCreatePreviewParams{Customer: stripe.String(a.CustomerID), Subscription: stripe.String(a.SubscriptionID)}
		if inv, err := s.stripe.V1Invoices.CreatePreview(ctx, p); err != nil {
			if !isTaxLocationError(err) {
				errs = append(errs, err)
			}
		} else {
			o.NextInvoice = invoiceOf(inv)
		}
	}
	if len(errs) > 0 {
		o.StripeError = "Stripe could not be reached; invoices are not shown and the plan is as last synchronised."
	}
	return o, nil
}

func invoiceOf(inv *stripe.Invoice) *Invoice {
	out := &Invoice{ID: inv.ID, Number: inv.Number, Status: inv.Status, Currency: string(inv.Currency),
		Subtotal: inv.Subtotal, Total: inv.Total, AmountDue: inv.AmountDue, HostedURL: inv.HostedInvoiceURL}
	if inv.PeriodEnd > 0 {
		out.PeriodEnd = time.Unix(inv.PeriodEnd, 0).UTC()
	}
	if inv.NextPaymentAttempt > 0 {
		out.NextAttempt = time.Unix(inv.NextPaymentAttempt, 0).UTC()
	}
	for _, t := range inv.TotalTaxes {
		if t == nil {
			continue
		}
		out.Tax += t.Amount
		switch t.TaxabilityReason {
		case stripe.InvoiceTotalTaxTaxabilityReasonReverseCharge:
			out.TaxNote = "Reverse charge: the customer accounts for VAT."
		case stripe.InvoiceTotalTaxTaxabilityReasonNotCollecting:
			out.TaxNote = "No tax collected in the customer's location."
		case stripe.InvoiceTotalTaxTaxabilityReasonCustomerExempt:
			out.TaxNote = "The customer is exempt from tax."
		}
	}
	if inv.AutomaticTax != nil && inv.AutomaticTax.Status == stripe.InvoiceAutomaticTaxStatusRequiresLocationInputs {
		out.TaxNote = "Tax pending: the billing address is incomplete."
	}
	return out
}

// isTaxLocationError reports whether err is Stripe refusing a request
// because the customer's tax location is not recognised.
func isTaxLocationError(err error) bool {
	var se *stripe.Error
	return errors.As(err, &se) && se.Code == stripe.ErrorCodeCustomerTaxLocationInvalid
}

// stripeError turns a Stripe API error into a kernel error the page can
// show: the tax location problem as EINVALID with what to fix, anything
// else as EUNAVAILABLE (Stripe is outside our control; nothing was lost).
func stripeError(what string, err error) error {
	if isTaxLocationError(err) {
		return fmt.Errorf("%w (%w)", gw.Errorf(gw.EINVALID, "%s", TaxLocationProblem), err)
	}
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.Type == stripe.ErrorTypeCard {
		return fmt.Errorf("%w (%w)", gw.Errorf(gw.EINVALID, "Stripe declined: %s", se.Msg), err)
	}
	return fmt.Errorf("billing: %s: %w (%w)", what, gw.Errorf(gw.EUNAVAILABLE, "Stripe is unavailable; please try again in a minute."), err)
}

// act runs a billing action on organisation orgID: fn reads the stored
// account, makes the change in Stripe and returns its audit event and the
// subscription it changed. Once Stripe made the change it is a fact: the
// audit event and a coalesced sync job are committed in a transaction of
// their own, then the account is synced at once, holding no transaction
// across Stripe's answers. A sync that fails now does not undo the change
// or fail the action: the job (and the webhooks Stripe sends) repeat it.
// fn's errors are returned as they are (stripeError maps Stripe's).
func (s *Service) act(ctx context.Context, orgID string, fn func(a Account) (*audit.Event, string, error)) error {
	a, err := s.syncer.Account(ctx, orgID)
	if err != nil {
		return err
	}
	ev, subID, err := fn(a)
	if err != nil {
		return err
	}
	h := syncHint{subscriptionID: subID}
	err = postgres.InOrgTx(ctx, s.syncer.cfg.Pool, orgID, func(tx pgx.Tx) error {
		if ev != nil {
			if err := audit.Record(ctx, tx, *ev); err != nil {
				return err
			}
		}
		return s.syncer.enqueueSync(ctx, tx, orgID, h)
	})
	if err != nil {
		return fmt.Errorf("billing: record the change made in Stripe: %w", err)
	}
	if _, err := s.syncer.sync(ctx, orgID, h); err != nil && s.cfg.OnSyncError != nil {
		s.cfg.OnSyncError(ctx, fmt.Errorf("billing: sync of %s after a change (the sync job repeats it): %w", orgID, err))
	}
	return nil
}

// PriceOf is the price of plan in interval iv as the plan cards show it,
// e.g. "30.00 EUR / month" (per seat for a per-seat plan); "" when Stripe's
// prices are not known.
func (o Overview) PriceOf(plan PlanID, iv Interval) string {
	p, ok := o.Prices[plan][iv]
	if !ok {
		return ""
	}
	for _, pl := range o.Plans {
		if pl.ID == plan && pl.PerSeat {
			return FormatAmount(p.UnitAmount, p.Currency) + " per seat / " + string(iv)
		}
	}
	return p.Label()
}
