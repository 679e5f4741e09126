package stripefake

import (
	"fmt"
	"net/http"

	"github.com/stripe/stripe-go/v85"
)

// ---- customers ----

type customerState struct {
	obj      *stripe.Customer
	hasPM    bool // has a default payment method
	declines bool // automatic payment attempts fail
	// taxStatus is Stripe Tax's view of the customer's location
	// (customer.tax.automatic_tax); "" means supported.
	taxStatus stripe.CustomerTaxAutomaticTax
	// deleted: DELETE /v1/customers/{id} was called. The customer is kept
	// so that retrieving it answers the deleted stub, as Stripe does.
	deleted bool
}

// liveCustomer returns customer id unless it is unknown or deleted: Stripe
// answers "No such customer" when a deleted customer is used in a request.
// The caller holds s.mu.
func (s *Server) liveCustomer(id string) *customerState {
	c := s.customers[id]
	if c == nil || c.deleted {
		return nil
	}
	return c
}

// deletedCustomer is what Stripe returns for a deleted customer, retrieved
// or expanded: its ID and deleted=true, nothing else (no metadata).
// https://docs.stripe.com/api/customers/retrieve: "If it's for a deleted
// Customer, a subset of the customer's information is returned, including a
// deleted property that's set to true."
func deletedCustomer(id string) map[string]any {
	return map[string]any{"id": id, "object": "customer", "deleted": true}
}

func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := r.Form
	c := &stripe.Customer{ID: s.newID("cus"), Object: "customer", Created: s.unix(),
		Email: f.Get("email"), Name: f.Get("name"), Metadata: formMetadata(f, "metadata"),
		TaxExempt: stripe.CustomerTaxExemptNone}
	switch te := stripe.CustomerTaxExempt(f.Get("tax_exempt")); te {
	case "":
	case stripe.CustomerTaxExemptNone, stripe.CustomerTaxExemptExempt, stripe.CustomerTaxExemptReverse:
		c.TaxExempt = te
	default:
		writeErrParam(w, 400, "invalid_request_error", "", "tax_exempt", "Invalid tax_exempt: must be one of none, exempt, or reverse")
		return
	}
	s.customers[c.ID] = &customerState{obj: c}
	s.emit("customer.created", "customer", c, nil)
	writeJSON(w, 200, s.render("customer", c, formList(f, "expand")))
}

// deleteCustomer is DELETE /v1/customers/{id}, as documented at
// https://docs.stripe.com/api/customers/delete: "Permanently deletes a
// customer. It cannot be undone. Also immediately cancels any active
// subscriptions on the customer." Each live subscription ends at once
// (customer.subscription.deleted, its schedule canceled), then
// customer.deleted is emitted with the customer as it was. The answer is
// the deleted stub; deleting it again is 404, like any unknown customer.
func (s *Server) deleteCustomer(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	c := s.liveCustomer(id)
	if c == nil {
		writeErrParam(w, 404, "invalid_request_error", "resource_missing", "id", "No such customer: '"+id+"'")
		return
	}
	for _, subID := range s.sortedSubIDs() {
		sub := s.subs[subID]
		if customerIDOf(sub.Customer) != id {
			continue
		}
		switch sub.Status {
		case stripe.SubscriptionStatusCanceled, stripe.SubscriptionStatusIncompleteExpired:
			continue
		}
		s.endSub(sub, stripe.SubscriptionStatusCanceled, stripe.SubscriptionCancellationDetailsReasonCancellationRequested)
	}
	c.deleted = true
	s.emit("customer.deleted", "customer", c.obj, nil)
	writeJSON(w, 200, deletedCustomer(id))
}

// CustomerDeleted reports whether customer id was deleted.
func (s *Server) CustomerDeleted(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[id]
	return c != nil && c.deleted
}

// customerIDOf is the ID of a customer reference; "" for none.
func customerIDOf(c *stripe.Customer) string {
	if c == nil {
		return ""
	}
	return c.ID
}

// noSuchCustomer answers a request naming a customer that does not exist
// or was deleted.
func noSuchCustomer(w http.ResponseWriter, param, id string) {
	writeErrParam(w, 400, "invalid_request_error", "resource_missing", param, fmt.Sprintf("No such customer: '%s'", id))
}
