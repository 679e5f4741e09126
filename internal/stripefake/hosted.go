package stripefake

import (
	"cmp"
	"fmt"
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
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout (stripefake)</title>` + hostedStyle + `</head>
<body><main>
<h1>Checkout</h1>
<p class="note">The built-in fake Stripe: no card is asked for and no money moves.</p>
<p id="price"><strong>{{.Amount}}</strong> / {{.Interval}}{{if gt .Quantity 1}} × {{.Quantity}}{{end}} <span class="muted">({{.Price}})</span></p>
<form method="post"><button type="submit" name="outcome" value="pay" id="pay">Pay</button>
<button type="submit" name="outcome" value="cancel" id="cancel" class="secondary">Cancel</button></form>
</main></body></html>
`))

// hostedStyle is the small stylesheet of the fake's hosted pages, readable
// on a phone.
const hostedStyle = `<style>
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1b1f2a; }
main { max-width: 28rem; margin: 2rem auto; padding: 1.5rem; background: #fff; border: 1px solid #d9dde5; border-radius: 8px; }
.note, .muted { color: #555d6e; }
button { font: inherit; padding: .55rem 1.1rem; border: 0; border-radius: 6px; background: #2456d6; color: #fff; cursor: pointer; }
button.secondary { background: #e9edf5; color: #1b1f2a; }
@media (max-width: 30rem) { main { margin: 0; border-radius: 0; border-width: 0 0 1px; } }
</style>`

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
		s.mu.Lock()
		pr := s.prices[st.price]
		s.mu.Unlock()
		_ = hostedPage.Execute(w, map[string]any{"Price": st.price, "Quantity": st.quantity,
			"Amount": formatMinor(pr.UnitAmount, pr.Currency), "Interval": cmp.Or(pr.Interval, "month")})
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

// formatMinor formats an amount in a currency's minor unit for the hosted
// pages: 2900 "eur" is "29.00 EUR" (two decimals, as every price the fake
// sells).
func formatMinor(amount int64, currency string) string {
	return fmt.Sprintf("%d.%02d %s", amount/100, amount%100, strings.ToUpper(cmp.Or(currency, "eur")))
}
