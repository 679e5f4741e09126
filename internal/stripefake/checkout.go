package stripefake

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// ---- checkout sessions ----

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := r.Form
	if f.Get("mode") != "subscription" {
		writeErr(w, 400, "invalid_request_error", "stripefake supports only mode=subscription")
		return
	}
	cus := f.Get("customer")
	if cus != "" && s.liveCustomer(cus) == nil {
		noSuchCustomer(w, "customer", cus)
		return
	}
	st := &sessionState{price: f.Get("line_items[0][price]"), quantity: 1,
		customerUpdateAddress: f.Get("customer_update[address]"), customerUpdateName: f.Get("customer_update[name]"),
		subscriptionMetadata: formMetadata(f, "subscription_data[metadata]")}
	if cus == "" && (st.customerUpdateAddress != "" || st.customerUpdateName != "" || f.Get("customer_update[shipping]") != "") {
		writeErrParam(w, 400, "invalid_request_error", "", "customer_update", "`customer_update` can only be used with `customer`.")
		return
	}
	// Several line items make a subscription with several items; their
	// recurring prices must share the interval and currency
	// (https://docs.stripe.com/payments/checkout/how-checkout-works: a
	// subscription's prices bill on one cycle, in one currency).
	for i := 0; ; i++ {
		k := fmt.Sprintf("line_items[%d]", i)
		price := f.Get(k + "[price]")
		if price == "" {
			if i == 0 || hasPrefix(f, k) {
				writeErrParam(w, 400, "invalid_request_error", "", k+"[price]", "Missing required param: "+k+"[price].")
				return
			}
			break
		}
		p, ok := s.prices[price]
		if !ok {
			writeErrParam(w, 400, "invalid_request_error", "resource_missing", k+"[price]", "No such price: '"+price+"'")
			return
		}
		if p.Inactive {
			writeErrParam(w, 400, "invalid_request_error", "", k+"[price]", "The price specified is inactive. This field only accepts active prices.")
			return
		}
		if first := s.prices[st.price]; i > 0 && (first.Interval != p.Interval || first.Currency != p.Currency) {
			writeErrParam(w, 400, "invalid_request_error", "", k+"[price]", "All prices on a subscription must have the same `recurring.interval` and `currency`.")
			return
		}
		q := int64(1)
		if v, ok := formInt(f, k+"[quantity]"); ok {
			if v < 1 {
				writeErrParam(w, 400, "invalid_request_error", "", k+"[quantity]", "Quantity must be at least 1.")
				return
			}
			q = v
		}
		st.lines = append(st.lines, sessionLine{price: price, qty: q})
	}
	st.quantity = st.lines[0].qty
	st.allowPromotionCodes = f.Get("allow_promotion_codes") == "true"
	if st.allowPromotionCodes && f.Get("discounts[0][coupon]") != "" || st.allowPromotionCodes && f.Get("discounts[0][promotion_code]") != "" {
		// https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-allow_promotion_codes
		writeErrParam(w, 400, "invalid_request_error", "", "allow_promotion_codes", "You may only specify one of these parameters: allow_promotion_codes, discounts.")
		return
	}
	if d, ok := formInt(f, "subscription_data[trial_period_days]"); ok {
		st.trialDays = d
	}
	st.trialEndBehavior = stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethodCreateInvoice
	if v, ok := f["subscription_data[trial_settings][end_behavior][missing_payment_method]"]; ok {
		b, valid := trialEndBehavior(v[0])
		if !valid {
			writeErrParam(w, 400, "invalid_request_error", "", "subscription_data[trial_settings][end_behavior][missing_payment_method]", "Invalid missing_payment_method: "+v[0])
			return
		}
		st.trialEndBehavior = b
	}
	autoTax := f.Get("automatic_tax[enabled]") == "true"
	if autoTax && cus != "" && s.customers[cus].taxStatus == stripe.CustomerTaxAutomaticTaxUnrecognizedLocation &&
		st.customerUpdateAddress != "auto" && f.Get("customer_update[shipping]") != "auto" {
		writeErrParam(w, 400, "invalid_request_error", string(stripe.ErrorCodeCustomerTaxLocationInvalid), "customer_update[address]",
			"Automatic tax calculation in Checkout requires a valid address on the Customer. Add a valid address to the Customer or set either `customer_update[address]` to 'auto' or `customer_update[shipping]` to 'auto' to save the address entered in Checkout to the Customer.")
		return
	}
	cs := &stripe.CheckoutSession{ID: s.newID("cs_test"), Object: "checkout.session", Created: s.unix(),
		ExpiresAt: s.now.Add(24 * time.Hour).Unix(), Mode: stripe.CheckoutSessionModeSubscription,
		Status: stripe.CheckoutSessionStatusOpen, PaymentStatus: stripe.CheckoutSessionPaymentStatusUnpaid,
		ClientReferenceID: f.Get("client_reference_id"), SuccessURL: f.Get("success_url"), CancelURL: f.Get("cancel_url"),
		AutomaticTax:             &stripe.CheckoutSessionAutomaticTax{Enabled: autoTax},
		TaxIDCollection:          &stripe.CheckoutSessionTaxIDCollection{Enabled: f.Get("tax_id_collection[enabled]") == "true"},
		BillingAddressCollection: stripe.CheckoutSessionBillingAddressCollection(f.Get("billing_address_collection")),
		Metadata:                 formMetadata(f, "metadata"),
		AllowPromotionCodes:      st.allowPromotionCodes,
		Currency:                 stripe.Currency(s.prices[st.price].Currency),
	}
	if autoTax {
		cs.AutomaticTax.Status = stripe.CheckoutSessionAutomaticTaxStatusRequiresLocationInputs
		if cus != "" && s.taxStatus(cus) == stripe.CustomerTaxAutomaticTaxSupported {
			cs.AutomaticTax.Status = stripe.CheckoutSessionAutomaticTaxStatusComplete
		}
	}
	if cus != "" {
		cs.Customer = &stripe.Customer{ID: cus}
	}
	cs.URL = s.hostedBase() + hostedPrefix + cs.ID
	s.sessions[cs.ID] = cs
	s.sessionSt[cs.ID] = st
	writeJSON(w, 200, s.render("checkout.session", cs, formList(f, "expand")))
}

// CheckoutSession returns a copy of the stored checkout session (nil if unknown).
func (s *Server) CheckoutSession(id string) *stripe.CheckoutSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.sessions[id])
}

// CheckoutSessions returns copies of the checkout sessions created with
// client_reference_id ref, oldest first.
func (s *Server) CheckoutSessions(ref string) []*stripe.CheckoutSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*stripe.CheckoutSession
	for _, cs := range s.sessions {
		if cs.ClientReferenceID == ref {
			out = append(out, clone(cs))
		}
	}
	slices.SortFunc(out, func(a, b *stripe.CheckoutSession) int {
		return cmp.Or(cmp.Compare(a.Created, b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// CheckoutSessionParams is what a checkout session was created with that the
// session object itself does not show.
type CheckoutSessionParams struct {
	Price                 string            // line_items[0][price]
	Quantity              int64             // line_items[0][quantity] (default 1)
	Prices                []string          // line_items[i][price], every line
	AllowPromotionCodes   bool              // allow_promotion_codes
	TrialPeriodDays       int64             // subscription_data[trial_period_days]
	SubscriptionMetadata  map[string]string // subscription_data[metadata]
	CustomerUpdateAddress string            // customer_update[address]
	CustomerUpdateName    string            // customer_update[name]
}

// CheckoutSessionParams returns the creation parameters of a checkout session
// not visible on the session object (zero value if unknown).
func (s *Server) CheckoutSessionParams(id string) CheckoutSessionParams {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sessionSt[id]
	if st == nil {
		return CheckoutSessionParams{}
	}
	md := map[string]string{}
	for k, v := range st.subscriptionMetadata {
		md[k] = v
	}
	var prices []string
	for _, l := range st.lines {
		prices = append(prices, l.price)
	}
	return CheckoutSessionParams{Price: st.price, Quantity: st.quantity, TrialPeriodDays: st.trialDays,
		Prices: prices, AllowPromotionCodes: st.allowPromotionCodes,
		SubscriptionMetadata: md, CustomerUpdateAddress: st.customerUpdateAddress, CustomerUpdateName: st.customerUpdateName}
}
