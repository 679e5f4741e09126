package stripefake

import (
	"net/http"
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
	if _, ok := s.prices[st.price]; !ok {
		writeErrParam(w, 400, "invalid_request_error", "resource_missing", "line_items[0][price]", "No such price: '"+st.price+"'")
		return
	}
	if q, ok := formInt(f, "line_items[0][quantity]"); ok {
		if q < 1 {
			writeErrParam(w, 400, "invalid_request_error", "", "line_items[0][quantity]", "Quantity must be at least 1.")
			return
		}
		st.quantity = q
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

// CheckoutSessionParams is what a checkout session was created with that the
// session object itself does not show.
type CheckoutSessionParams struct {
	Price                 string            // line_items[0][price]
	Quantity              int64             // line_items[0][quantity] (default 1)
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
	return CheckoutSessionParams{Price: st.price, Quantity: st.quantity, TrialPeriodDays: st.trialDays,
		SubscriptionMetadata: md, CustomerUpdateAddress: st.customerUpdateAddress, CustomerUpdateName: st.customerUpdateName}
}
