package stripefake

import (
	"net/http"

	"github.com/stripe/stripe-go/v85"
)

// expireSession is POST /v1/checkout/sessions/{id}/expire: an open session
// becomes expired (it can no longer be completed) and
// checkout.session.expired is emitted; any other status is a 400, as in
// Stripe.
func (s *Server) expireSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.sessions[r.PathValue("id")]
	if cs == nil {
		writeErrParam(w, 404, "invalid_request_error", "resource_missing", "session", "No such checkout.session: '"+r.PathValue("id")+"'")
		return
	}
	if cs.Status != stripe.CheckoutSessionStatusOpen {
		writeErr(w, 400, "invalid_request_error", "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \""+string(cs.Status)+"\".")
		return
	}
	cs.Status = stripe.CheckoutSessionStatusExpired
	cs.URL = ""
	s.emit("checkout.session.expired", "checkout.session", cs, nil)
	writeJSON(w, 200, s.render("checkout.session", cs, formList(r.Form, "expand")))
}
