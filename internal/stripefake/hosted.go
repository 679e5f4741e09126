package stripefake

import (
	"html/template"
	"net/http"
	"strings"
)

// The hosted Checkout page: where a Checkout Session's URL leads. A browser
// (a page test, or a developer running against the fake) sees the plan and
// two buttons; "Pay" completes the session as CompleteCheckout does and
// redirects to its success_url with {CHECKOUT_SESSION_ID} filled in,
// "Cancel" goes to its cancel_url. It is not part of the API: requests to
// it are not recorded, need no API key, and are not checked against
// stripe-mock.

// hostedPrefix is the path of the hosted Checkout pages.
const hostedPrefix = "/c/pay/"

var hostedPage = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout (stripefake)</title></head>
<body>
<h1>Checkout</h1>
<p id="price">{{.Price}} × {{.Quantity}}</p>
<form method="post"><button type="submit" name="outcome" value="pay" id="pay">Pay</button>
<button type="submit" name="outcome" value="cancel" id="cancel">Cancel</button></form>
</body></html>
`))

// serveHosted answers the hosted Checkout page of a session.
func (s *Server) serveHosted(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, hostedPrefix)
	s.mu.Lock()
	cs, st := s.sessions[id], s.sessionSt[id]
	s.mu.Unlock()
	if cs == nil || st == nil {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = hostedPage.Execute(w, map[string]any{"Price": st.price, "Quantity": st.quantity})
	case http.MethodPost:
		if r.FormValue("outcome") == "cancel" {
			http.Redirect(w, r, cs.CancelURL, http.StatusSeeOther)
			return
		}
		if _, err := s.CompleteCheckout(id); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		http.Redirect(w, r, strings.ReplaceAll(cs.SuccessURL, "{CHECKOUT_SESSION_ID}", id), http.StatusSeeOther)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// hostedBase is where the hosted pages are served: the fake's own URL once
// started, else a placeholder host. The caller holds s.mu.
func (s *Server) hostedBase() string {
	if s.ts == nil {
		return "https://checkout.stripe.test"
	}
	return s.ts.URL
}
