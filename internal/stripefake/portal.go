package stripefake

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/stripe/stripe-go/v85"
)

// ---- customer portal ----

func formBool(f url.Values, key string) bool { return f.Get(key) == "true" }

func formMetadata(f url.Values, prefix string) map[string]string {
	m := map[string]string{}
	for k, v := range f {
		if strings.HasPrefix(k, prefix+"[") && strings.HasSuffix(k, "]") {
			m[k[len(prefix)+1:len(k)-1]] = v[0]
		}
	}
	return m
}

func (s *Server) createPortalConfiguration(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := r.Form
	const su = "features[subscription_update]"
	const sc = "features[subscription_cancel]"
	upd := &stripe.BillingPortalConfigurationFeaturesSubscriptionUpdate{
		Enabled:               formBool(f, su+"[enabled]"),
		ProrationBehavior:     stripe.BillingPortalConfigurationFeaturesSubscriptionUpdateProrationBehavior(f.Get(su + "[proration_behavior]")),
		BillingCycleAnchor:    stripe.BillingPortalConfigurationFeaturesSubscriptionUpdateBillingCycleAnchor(f.Get(su + "[billing_cycle_anchor]")),
		TrialUpdateBehavior:   stripe.BillingPortalConfigurationFeaturesSubscriptionUpdateTrialUpdateBehavior(f.Get(su + "[trial_update_behavior]")),
		DefaultAllowedUpdates: []stripe.BillingPortalConfigurationFeaturesSubscriptionUpdateDefaultAllowedUpdate{},
	}
	if upd.ProrationBehavior == "" {
		upd.ProrationBehavior = "none" // Stripe's default on creation
	}
	if upd.BillingCycleAnchor == "" {
		upd.BillingCycleAnchor = "unchanged"
	}
	if upd.TrialUpdateBehavior == "" {
		upd.TrialUpdateBehavior = "end_trial"
	}
	for _, a := range formList(f, su+"[default_allowed_updates]") {
		switch a {
		case "price", "quantity", "promotion_code":
		default:
			writeErr(w, 400, "invalid_request_error", "Invalid features[subscription_update][default_allowed_updates]: must be one of price, quantity, or promotion_code")
			return
		}
		upd.DefaultAllowedUpdates = append(upd.DefaultAllowedUpdates, stripe.BillingPortalConfigurationFeaturesSubscriptionUpdateDefaultAllowedUpdate(a))
	}
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s[products][%d]", su, i)
		prod := f.Get(k + "[product]")
		prices := formList(f, k+"[prices]")
		if prod == "" && len(prices) == 0 {
			break
		}
		for _, id := range prices {
			p, ok := s.prices[id]
			if !ok {
				writeErr(w, 400, "invalid_request_error", "No such price: '"+id+"'")
				return
			}
			if p.Product != prod {
				writeErr(w, 400, "invalid_request_error", fmt.Sprintf("The price %s does not belong to the product %s.", id, prod))
				return
			}
		}
		upd.Products = append(upd.Products, &stripe.BillingPortalConfigurationFeaturesSubscriptionUpdateProduct{Product: prod, Prices: prices})
	}
	cancel := &stripe.BillingPortalConfigurationFeaturesSubscriptionCancel{
		Enabled:           formBool(f, sc+"[enabled]"),
		Mode:              stripe.BillingPortalConfigurationFeaturesSubscriptionCancelMode(f.Get(sc + "[mode]")),
		ProrationBehavior: stripe.BillingPortalConfigurationFeaturesSubscriptionCancelProrationBehavior(f.Get(sc + "[proration_behavior]")),
		CancellationReason: &stripe.BillingPortalConfigurationFeaturesSubscriptionCancelCancellationReason{
			Enabled: formBool(f, sc+"[cancellation_reason][enabled]"), Options: []stripe.BillingPortalConfigurationFeaturesSubscriptionCancelCancellationReasonOption{}},
	}
	if cancel.Mode == "" {
		cancel.Mode = "at_period_end"
	}
	if cancel.ProrationBehavior == "" {
		cancel.ProrationBehavior = "none"
	}
	cu := &stripe.BillingPortalConfigurationFeaturesCustomerUpdate{Enabled: formBool(f, "features[customer_update][enabled]"),
		AllowedUpdates: []stripe.BillingPortalConfigurationFeaturesCustomerUpdateAllowedUpdate{}}
	for _, a := range formList(f, "features[customer_update][allowed_updates]") {
		cu.AllowedUpdates = append(cu.AllowedUpdates, stripe.BillingPortalConfigurationFeaturesCustomerUpdateAllowedUpdate(a))
	}
	c := &stripe.BillingPortalConfiguration{ID: s.newID("bpc"), Object: "billing_portal.configuration", Active: true,
		Created: s.unix(), Updated: s.unix(), DefaultReturnURL: f.Get("default_return_url"), Name: f.Get("name"),
		BusinessProfile: &stripe.BillingPortalConfigurationBusinessProfile{Headline: f.Get("business_profile[headline]"),
			PrivacyPolicyURL: f.Get("business_profile[privacy_policy_url]"), TermsOfServiceURL: f.Get("business_profile[terms_of_service_url]")},
		Features: &stripe.BillingPortalConfigurationFeatures{
			CustomerUpdate:      cu,
			InvoiceHistory:      &stripe.BillingPortalConfigurationFeaturesInvoiceHistory{Enabled: formBool(f, "features[invoice_history][enabled]")},
			PaymentMethodUpdate: &stripe.BillingPortalConfigurationFeaturesPaymentMethodUpdate{Enabled: formBool(f, "features[payment_method_update][enabled]")},
			SubscriptionCancel:  cancel,
			SubscriptionUpdate:  upd,
		},
		LoginPage: &stripe.BillingPortalConfigurationLoginPage{},
		Metadata:  formMetadata(f, "metadata"),
	}
	s.portalConfigs[c.ID] = c
	s.emit("billing_portal.configuration.created", "billing_portal.configuration", c, nil)
	writeJSON(w, 200, s.render("billing_portal.configuration", c, formList(f, "expand")))
}

// defaultPortalConfiguration returns the account's default configuration,
// creating an empty one (all features off) the first time.
func (s *Server) defaultPortalConfiguration() *stripe.BillingPortalConfiguration {
	for _, c := range s.portalConfigs {
		if c.IsDefault {
			return c
		}
	}
	c := &stripe.BillingPortalConfiguration{ID: s.newID("bpc"), Object: "billing_portal.configuration", Active: true,
		IsDefault: true, Created: s.unix(), Updated: s.unix(),
		BusinessProfile: &stripe.BillingPortalConfigurationBusinessProfile{},
		Features: &stripe.BillingPortalConfigurationFeatures{
			CustomerUpdate:      &stripe.BillingPortalConfigurationFeaturesCustomerUpdate{},
			InvoiceHistory:      &stripe.BillingPortalConfigurationFeaturesInvoiceHistory{Enabled: true},
			PaymentMethodUpdate: &stripe.BillingPortalConfigurationFeaturesPaymentMethodUpdate{Enabled: true},
			SubscriptionCancel:  &stripe.BillingPortalConfigurationFeaturesSubscriptionCancel{Mode: "at_period_end", ProrationBehavior: "none"},
			SubscriptionUpdate:  &stripe.BillingPortalConfigurationFeaturesSubscriptionUpdate{ProrationBehavior: "none"},
		},
		LoginPage: &stripe.BillingPortalConfigurationLoginPage{}, Metadata: map[string]string{}}
	s.portalConfigs[c.ID] = c
	return c
}

func (s *Server) createPortalSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := r.Form
	cus := f.Get("customer")
	if cus == "" {
		writeErrParam(w, 400, "invalid_request_error", "parameter_missing", "customer", "Missing required param: customer.")
		return
	}
	if s.liveCustomer(cus) == nil {
		noSuchCustomer(w, "customer", cus)
		return
	}
	var conf *stripe.BillingPortalConfiguration
	if id := f.Get("configuration"); id != "" {
		conf = s.portalConfigs[id]
		if conf == nil {
			writeErrParam(w, 400, "invalid_request_error", "resource_missing", "configuration", "No such configuration: '"+id+"'")
			return
		}
		if !conf.Active {
			writeErr(w, 400, "invalid_request_error", "The configuration "+id+" is not active.")
			return
		}
	} else {
		conf = s.defaultPortalConfiguration()
	}
	ret := f.Get("return_url")
	if ret == "" {
		ret = conf.DefaultReturnURL
	}
	if ret == "" {
		writeErrParam(w, 400, "invalid_request_error", "parameter_missing", "return_url",
			"You must provide a return_url or set a default return URL on the portal configuration.")
		return
	}
	ps := &stripe.BillingPortalSession{ID: s.newID("bps"), Object: "billing_portal.session", Created: s.unix(),
		Customer: cus, ReturnURL: ret, Locale: f.Get("locale"), Configuration: &stripe.BillingPortalConfiguration{ID: conf.ID}}
	ps.URL = s.URL() + "/portal/" + ps.ID
	s.portalSessions[ps.ID] = ps
	writeJSON(w, 200, s.render("billing_portal.session", ps, formList(f, "expand")))
}

// PortalConfiguration returns a copy of the stored customer portal
// configuration (nil if unknown).
func (s *Server) PortalConfiguration(id string) *stripe.BillingPortalConfiguration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.portalConfigs[id])
}

// PortalSession returns a copy of the stored customer portal session (nil if
// unknown); its Configuration holds only the ID.
func (s *Server) PortalSession(id string) *stripe.BillingPortalSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.portalSessions[id])
}
