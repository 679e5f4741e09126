package stripefake

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/stripe/stripe-go/v85"
)

// ---- tax (Stripe Tax semantics) ----

// taxLocationMsg is the message of a customer_tax_location_invalid error.
const taxLocationMsg = "The customer's location isn't recognized. Update the customer's address with a valid country and postal code, or set `automatic_tax[enabled]` to false."

// SetTaxLocation sets what Stripe Tax knows about the customer's location
// (customer.tax.automatic_tax): supported (the default), not_collecting (a
// location where the account is not registered to collect tax),
// unrecognized_location (invoices need location inputs; item changes and
// previews fail with customer_tax_location_invalid) or failed. It emits
// customer.updated, as changing the address does.
func (s *Server) SetTaxLocation(customerID string, status stripe.CustomerTaxAutomaticTax) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[customerID]
	if c == nil {
		return fmt.Errorf("stripefake: no customer %q", customerID)
	}
	switch status {
	case stripe.CustomerTaxAutomaticTaxSupported, stripe.CustomerTaxAutomaticTaxNotCollecting,
		stripe.CustomerTaxAutomaticTaxUnrecognizedLocation, stripe.CustomerTaxAutomaticTaxFailed:
	default:
		return fmt.Errorf("stripefake: unknown tax location status %q", status)
	}
	s.setTaxStatus(c, status)
	return nil
}

func (s *Server) setTaxStatus(c *customerState, status stripe.CustomerTaxAutomaticTax) {
	prev := s.render("customer", c.obj, nil)
	c.taxStatus = status
	s.emit("customer.updated", "customer", c.obj, prev)
}

// SetTaxExempt sets the customer's tax_exempt (none, exempt or reverse) and
// emits customer.updated. Invoices with automatic tax then carry a zero tax
// entry with taxability_reason customer_exempt or reverse_charge.
func (s *Server) SetTaxExempt(customerID string, exempt stripe.CustomerTaxExempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[customerID]
	if c == nil {
		return fmt.Errorf("stripefake: no customer %q", customerID)
	}
	switch exempt {
	case stripe.CustomerTaxExemptNone, stripe.CustomerTaxExemptExempt, stripe.CustomerTaxExemptReverse:
	default:
		return fmt.Errorf("stripefake: unknown tax_exempt %q", exempt)
	}
	prev := s.render("customer", c.obj, nil)
	c.obj.TaxExempt = exempt
	s.emit("customer.updated", "customer", c.obj, prev)
	return nil
}

// taxStatus is the customer's customer.tax.automatic_tax.
func (s *Server) taxStatus(cus string) stripe.CustomerTaxAutomaticTax {
	if c := s.customers[cus]; c != nil && c.taxStatus != "" {
		return c.taxStatus
	}
	return stripe.CustomerTaxAutomaticTaxSupported
}

// taxLocationInvalid reports whether a request computing tax for the customer
// with automatic tax on must fail, and writes Stripe's error if so.
func (s *Server) taxLocationInvalid(w http.ResponseWriter, cus string, automaticTax bool) bool {
	if !automaticTax || s.taxStatus(cus) != stripe.CustomerTaxAutomaticTaxUnrecognizedLocation {
		return false
	}
	writeErrParam(w, 400, "invalid_request_error", string(stripe.ErrorCodeCustomerTaxLocationInvalid), "", taxLocationMsg)
	return true
}

func subAutomaticTax(sub *stripe.Subscription) bool {
	return sub != nil && sub.AutomaticTax != nil && sub.AutomaticTax.Enabled
}

// computeTax fills the invoice's automatic_tax, customer_tax_exempt and
// total_taxes and returns the tax amount (see the package doc, Tax).
func (s *Server) computeTax(inv *stripe.Invoice, automatic bool, cus string, subtotal int64) int64 {
	exempt := stripe.CustomerTaxExemptNone
	if c := s.customers[cus]; c != nil && c.obj.TaxExempt != "" {
		exempt = c.obj.TaxExempt
	}
	inv.CustomerTaxExempt = &exempt
	inv.AutomaticTax = &stripe.InvoiceAutomaticTax{Enabled: automatic}
	if !automatic {
		return 0
	}
	inv.AutomaticTax.Provider = "stripe"
	inv.AutomaticTax.Status = stripe.InvoiceAutomaticTaxStatusComplete
	entry := func(amount int64, taxable int64, reason stripe.InvoiceTotalTaxTaxabilityReason) {
		inv.TotalTaxes = []*stripe.InvoiceTotalTax{{Amount: amount, TaxableAmount: taxable,
			TaxBehavior: stripe.InvoiceTotalTaxTaxBehaviorExclusive, Type: stripe.InvoiceTotalTaxTypeTaxRateDetails,
			TaxRateDetails: &stripe.InvoiceTotalTaxTaxRateDetails{TaxRate: "txr_fake_" + string(reason)}, TaxabilityReason: reason}}
	}
	switch s.taxStatus(cus) {
	case stripe.CustomerTaxAutomaticTaxUnrecognizedLocation:
		inv.AutomaticTax.Status = stripe.InvoiceAutomaticTaxStatusRequiresLocationInputs
		return 0
	case stripe.CustomerTaxAutomaticTaxFailed:
		inv.AutomaticTax.Status = stripe.InvoiceAutomaticTaxStatusFailed
		return 0
	case stripe.CustomerTaxAutomaticTaxNotCollecting:
		if subtotal > 0 {
			entry(0, 0, stripe.InvoiceTotalTaxTaxabilityReasonNotCollecting)
		}
		return 0
	}
	switch exempt {
	case stripe.CustomerTaxExemptReverse:
		if subtotal > 0 {
			entry(0, 0, stripe.InvoiceTotalTaxTaxabilityReasonReverseCharge)
		}
		return 0
	case stripe.CustomerTaxExemptExempt:
		if subtotal > 0 {
			entry(0, 0, stripe.InvoiceTotalTaxTaxabilityReasonCustomerExempt)
		}
		return 0
	}
	tax := int64(0)
	if subtotal > 0 {
		tax = prorate(subtotal, s.opts.TaxBasisPoints, 10000)
	}
	if tax != 0 {
		entry(tax, subtotal, stripe.InvoiceTotalTaxTaxabilityReasonStandardRated)
	}
	return tax
}

// finalizationBlocked reports whether Stripe would refuse to finalize the
// invoice because automatic tax could not be computed.
func finalizationBlocked(inv *stripe.Invoice) bool {
	return inv.AutomaticTax != nil && inv.AutomaticTax.Enabled &&
		(inv.AutomaticTax.Status == stripe.InvoiceAutomaticTaxStatusRequiresLocationInputs ||
			inv.AutomaticTax.Status == stripe.InvoiceAutomaticTaxStatusFailed)
}

// renderExtras adds what the generic rendering cannot: includable fields
// (customer.tax, checkout.session.line_items) and nested references.
func (s *Server) renderExtras(kind string, obj any, m map[string]any, expand []string) {
	switch kind {
	case "customer":
		id, _ := m["id"].(string)
		if !slices.Contains(expand, "tax") || s.liveCustomer(id) == nil {
			return
		}
		status := s.taxStatus(id)
		var loc any
		switch status {
		case stripe.CustomerTaxAutomaticTaxSupported:
			loc = map[string]any{"country": "DE", "source": string(stripe.CustomerTaxLocationSourceBillingAddress), "state": nil}
		case stripe.CustomerTaxAutomaticTaxNotCollecting:
			loc = map[string]any{"country": "US", "source": string(stripe.CustomerTaxLocationSourceBillingAddress), "state": "CA"}
		}
		m["tax"] = map[string]any{"automatic_tax": string(status), "ip_address": nil, "location": loc, "provider": "stripe"}
	case "checkout.session":
		cs, _ := obj.(*stripe.CheckoutSession)
		st := s.sessionSt[cs.ID]
		if !slices.Contains(expand, "line_items") || st == nil {
			return
		}
		p := s.prices[st.price]
		amount := p.UnitAmount * st.quantity
		li := &stripe.LineItem{ID: "li_" + cs.ID, Object: "item", AmountSubtotal: amount, AmountTotal: amount,
			Currency: stripe.Currency(p.Currency), Description: p.Product, Price: s.stripePrice(p), Quantity: st.quantity,
			Metadata: map[string]string{}}
		m["line_items"] = map[string]any{"object": "list", "url": "/v1/checkout/sessions/" + cs.ID + "/line_items",
			"has_more": false, "data": []*stripe.LineItem{li}}
	case "subscription_schedule":
		// phases[].items[].price is a price ID unless expanded.
		phases, _ := m["phases"].([]any)
		for _, ph := range phases {
			pm, _ := ph.(map[string]any)
			items, _ := pm["items"].([]any)
			for _, it := range items {
				im, _ := it.(map[string]any)
				if pr, ok := im["price"].(map[string]any); ok && !slices.Contains(expand, "phases.items.price") {
					im["price"] = pr["id"]
				}
			}
		}
	}
}
