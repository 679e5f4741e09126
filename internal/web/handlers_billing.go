package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// billingOffMessage is what the billing routes answer when Stripe is not
// configured (Deps.Billing is nil).
const billingOffMessage = "Billing is not configured on this server."

// billingHandler is a billing route's handler, given the configured
// service; like handlerFunc, it returns its error for errorHandler.
type billingHandler func(w http.ResponseWriter, r *http.Request, b *billing.Service) error

// withBilling runs h when billing is configured, and otherwise answers 404
// saying so.
func (s *server) withBilling(h billingHandler) http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if s.d.Billing == nil {
			return gw.Errorf(gw.ENOTFOUND, billingOffMessage)
		}
		return h(w, r, s.d.Billing)
	})
}

// billingBanner is the billing notice on every page of an organisation: a
// failed payment in its grace period, or read-only access.
type billingBanner struct {
	// Grace: a payment failed; full access until GraceEndsAt (zero when
	// the failure has not been recorded yet).
	Grace       bool
	GraceEndsAt time.Time
	// NotFinalised: the grace is for an invoice Stripe cannot finalise
	// (the billing address is incomplete), not for a failed payment.
	NotFinalised bool
	// ReadOnly: the organisation is read-only, for Reason.
	ReadOnly bool
	Reason   string
}

// bannerOf returns the banner the entitlements call for; never nil, so a
// page that computed it is not asked again (see render).
func bannerOf(e billing.Entitlements) *billingBanner {
	switch e.Access {
	case billing.AccessBanner:
		return &billingBanner{Grace: true, GraceEndsAt: e.GraceEndsAt, NotFinalised: e.InvoiceNotFinalised}
	case billing.AccessReadOnly:
		return &billingBanner{ReadOnly: true, Reason: e.Reason}
	}
	return &billingBanner{}
}

// loadBanner fetches the current organisation's entitlements for the
// banner. A failure is logged and shows no banner: it must not fail the page.
func (s *server) loadBanner(r *http.Request) *billingBanner {
	ctx := r.Context()
	e, err := s.d.Billing.Entitlements(ctx, gw.ScopeFrom(ctx))
	if err != nil {
		s.d.Logger.LogAttrs(ctx, slog.LevelWarn, "billing banner unavailable",
			slog.String("error", err.Error()), slog.String("org_id", gw.ScopeFrom(ctx).OrgID))
		return &billingBanner{}
	}
	return bannerOf(e)
}

// billingPageData is the data of billing.html.
type billingPageData struct {
	billing.Overview
	// Problem is the message of a refused action, shown on top.
	Problem string
	// Checkouts are the paid plans and intervals to subscribe to (no
	// subscription yet).
	Checkouts []checkoutOption
	// Upgrades and Downgrades are the plans a live subscription may move to.
	Upgrades, Downgrades []billing.Plan
	// SwitchInterval is the other billing interval the current plan is sold
	// in ("" for none): monthly ↔ yearly, through the change preview.
	SwitchInterval billing.Interval
}

func (billingPageData) template() string { return "billing.html" }

// checkoutOption is one paid plan and billing interval.
type checkoutOption struct {
	Plan     billing.Plan
	Interval billing.Interval
}

func newBillingPageData(ov billing.Overview, problem string) billingPageData {
	d := billingPageData{Overview: ov, Problem: problem}
	cur := -1
	for i, p := range ov.Plans {
		if p.ID == ov.Plan.ID {
			cur = i
		}
	}
	for i, p := range ov.Plans {
		if p.Free() {
			continue
		}
		if !ov.Live {
			for _, iv := range p.Intervals() {
				d.Checkouts = append(d.Checkouts, checkoutOption{Plan: p, Interval: iv})
			}
			continue
		}
		if i == cur && ov.Interval != "" {
			for _, iv := range p.Intervals() {
				if iv != ov.Interval {
					d.SwitchInterval = iv
				}
			}
		}
		switch {
		case i > cur:
			d.Upgrades = append(d.Upgrades, p)
		case i < cur:
			d.Downgrades = append(d.Downgrades, p)
		}
	}
	return d
}

// billingPage renders the billing page with status; problem, if set, is
// the message of the action that was refused.
func (s *server) billingPage(w http.ResponseWriter, r *http.Request, b *billing.Service, status int, problem string) error {
	ov, err := b.Overview(r.Context(), gw.ScopeFrom(r.Context()))
	if err != nil {
		return err
	}
	s.render(w, r, status, page{Title: "Billing", Banner: bannerOf(ov.Entitlements),
		Data: newBillingPageData(ov, problem)})
	return nil
}

// billingRefused answers a billing action that failed with err: a client
// error is shown on the billing page with its status; anything else (not
// found, internal, Stripe unavailable) is returned, for errorHandler.
func (s *server) billingRefused(w http.ResponseWriter, r *http.Request, b *billing.Service, err error) error {
	code := gw.ErrorCode(err)
	status := httpStatus(code)
	if code == gw.ENOTFOUND || status >= 500 {
		return err
	}
	return s.billingPage(w, r, b, status, gw.ErrorMessage(err))
}

func (s *server) pageBilling() http.Handler {
	return s.withBilling(func(w http.ResponseWriter, r *http.Request, b *billing.Service) error {
		return s.billingPage(w, r, b, http.StatusOK, "")
	})
}

func (s *server) postBillingCheckout() http.Handler {
	return s.withBilling(func(w http.ResponseWriter, r *http.Request, b *billing.Service) error {
		f, err := parseForm(r, "plan", "interval", "trial")
		if err != nil {
			return err
		}
		ctx := r.Context()
		scope := gw.ScopeFrom(ctx)
		u, o := userFrom(ctx), orgFrom(ctx)
		in := billing.CheckoutInput{Plan: billing.PlanID(f.Get("plan")),
			Interval: billing.Interval(f.Get("interval")), Email: u.Email, OrgName: o.Name, Trial: f.Get("trial") == "true"}
		if p, ok := b.Catalog().Plan(in.Plan); ok && p.PerSeat {
			// A per-seat plan is bought for every member (then kept in sync).
			members, err := s.d.Orgs.Members(ctx, scope)
			if err != nil {
				return err
			}
			in.Seats = len(members)
		}
		url, err := b.StartCheckout(ctx, scope, in)
		if errors.Is(err, billing.ErrLiveSubscription) {
			// Already subscribed: payment methods and invoices are managed
			// in the Customer Portal, plan changes on the billing page.
			portal, perr := b.PortalURL(ctx, scope)
			if perr == nil {
				http.Redirect(w, r, portal, http.StatusSeeOther)
				return nil
			}
			s.d.Logger.LogAttrs(ctx, slog.LevelWarn, "billing portal unavailable after checkout refusal",
				slog.String("error", perr.Error()), slog.String("org_id", scope.OrgID))
		}
		if err != nil {
			return s.billingRefused(w, r, b, err)
		}
		http.Redirect(w, r, url, http.StatusSeeOther)
		return nil
	})
}

func (s *server) pageBillingSuccess() http.Handler {
	return s.withBilling(func(w http.ResponseWriter, r *http.Request, b *billing.Service) error {
		outcome, err := b.FinishCheckoutOutcome(r.Context(), gw.ScopeFrom(r.Context()), r.URL.Query().Get("session_id"))
		if err != nil {
			return s.billingRefused(w, r, b, err)
		}
		if outcome == billing.CheckoutProcessing {
			s.flash(r, "Thank you: your payment is processing. The plan starts once your bank confirms it, which can take a few days; this page will show it.")
		} else {
			s.flash(r, "Thank you: your subscription is set up.")
		}
		redirect(w, r, orgPath(r, "/billing"))
		return nil
	})
}

func (s *server) postBillingPortal() http.Handler {
	return s.withBilling(func(w http.ResponseWriter, r *http.Request, b *billing.Service) error {
		url, err := b.PortalURL(r.Context(), gw.ScopeFrom(r.Context()))
		if err != nil {
			return s.billingRefused(w, r, b, err)
		}
		http.Redirect(w, r, url, http.StatusSeeOther)
		return nil
	})
}

func (s *server) pageBillingChange() http.Handler {
	return s.withBilling(func(w http.ResponseWriter, r *http.Request, b *billing.Service) error {
		q := r.URL.Query()
		p, err := b.PreviewChangeTo(r.Context(), gw.ScopeFrom(r.Context()), billing.PlanID(q.Get("plan")), billing.Interval(q.Get("interval")))
		if err != nil {
			return s.billingRefused(w, r, b, err)
		}
		s.render(w, r, http.StatusOK, page{Title: "Change plan", Data: billingChangePage{p}})
		return nil
	})
}

func (s *server) postBillingChange() http.Handler {
	return s.withBilling(func(w http.ResponseWriter, r *http.Request, b *billing.Service) error {
		f, err := parseForm(r, "plan", "interval", "proration_date")
		if err != nil {
			return err
		}
		var date time.Time
		if v := f.Get("proration_date"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return s.billingRefused(w, r, b, gw.Errorf(gw.EINVALID, "The price preview is invalid: preview the change again."))
			}
			date = time.Unix(n, 0).UTC()
		}
		to, iv := billing.PlanID(f.Get("plan")), billing.Interval(f.Get("interval"))
		if err := b.ChangePlanTo(r.Context(), gw.ScopeFrom(r.Context()), to, iv, date); err != nil {
			return s.billingRefused(w, r, b, err)
		}
		name := string(to)
		if p, ok := b.Catalog().Plan(to); ok {
			name = p.Name
		}
		switch iv {
		case billing.IntervalYear:
			name += ", billed yearly,"
		case billing.IntervalMonth:
			name += ", billed monthly,"
		}
		switch e, err := b.Entitlements(r.Context(), gw.ScopeFrom(r.Context())); {
		case date.IsZero():
			s.flash(r, "The change to "+name+" is scheduled for the end of the billing period.")
		case err == nil && e.Plan == to && e.PendingPlan == "":
			s.flash(r, "You are now on the "+name+" plan.")
		default: // the prorated invoice is not paid yet
			s.flash(r, "The change to "+name+" is requested: it applies once its invoice is paid.")
		}
		redirect(w, r, orgPath(r, "/billing"))
		return nil
	})
}

// billingAction is a one-click billing POST: on success it flashes done and
// returns to the billing page; a refusal is shown there.
func (s *server) billingAction(done string, act func(b *billing.Service, r *http.Request, scope gw.Scope) error) http.Handler {
	return s.withBilling(func(w http.ResponseWriter, r *http.Request, b *billing.Service) error {
		if err := r.ParseForm(); err != nil {
			return err
		}
		if err := act(b, r, gw.ScopeFrom(r.Context())); err != nil {
			return s.billingRefused(w, r, b, err)
		}
		s.flash(r, done)
		redirect(w, r, orgPath(r, "/billing"))
		return nil
	})
}

func (s *server) postBillingCancel() http.Handler {
	return s.billingAction("The subscription will end at the end of the billing period.",
		func(b *billing.Service, r *http.Request, scope gw.Scope) error { return b.Cancel(r.Context(), scope) })
}

func (s *server) postBillingReactivate() http.Handler {
	return s.billingAction("The subscription is reactivated.",
		func(b *billing.Service, r *http.Request, scope gw.Scope) error {
			return b.Reactivate(r.Context(), scope)
		})
}

// postBillingKeepPlan drops a scheduled downgrade: the subscription renews
// on the plan it has.
func (s *server) postBillingKeepPlan() http.Handler {
	return s.billingAction("You keep your current plan: the scheduled change is canceled.",
		func(b *billing.Service, r *http.Request, scope gw.Scope) error { return b.KeepPlan(r.Context(), scope) })
}

// postBillingResume resumes a paused subscription (a trial that ended
// without a payment method): Stripe invoices a new period at once.
func (s *server) postBillingResume() http.Handler {
	return s.billingAction("The subscription is resumed: a new billing period starts now.",
		func(b *billing.Service, r *http.Request, scope gw.Scope) error { return b.Resume(r.Context(), scope) })
}

// billingChangePage is the data of billing-change.html: the preview of a plan change, asking to confirm it.
type billingChangePage struct {
	billing.ChangePreview
}

func (billingChangePage) template() string { return "billing-change.html" }
