package stripefake

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"

	"github.com/stripe/stripe-go/v85"
)

// The hosted Customer Portal page: where a portal session's URL leads. A
// browser (a developer running GROUNDWORK_STRIPE=fake, or a page test)
// sees the customer's subscriptions, can cancel one at the period end or
// take the cancellation back, and returns to the app by the session's
// return_url. Like the hosted Checkout page it is not part of the API: its
// requests are not recorded and need no API key; the change itself is made
// through the fake's own POST /v1/subscriptions/{id}, so it emits the same
// customer.subscription.updated event a portal change emits in Stripe.

// portalPrefix is the path of the hosted portal pages.
const portalPrefix = "/portal/"

var portalPage = template.Must(template.New("portal").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Customer portal (stripefake)</title>` + hostedStyle + `</head>
<body><main>
<h1>Customer portal</h1>
<p class="note">The built-in fake Stripe's portal: no real payment method or invoice lives here.</p>
{{range .Subs}}
<form method="post">
<p>{{.Price}}: {{.Status}}{{if .CancelAtPeriodEnd}}, cancels at the end of the period{{end}}</p>
<input type="hidden" name="subscription" value="{{.ID}}">
{{if .CancelAtPeriodEnd}}<button type="submit" name="action" value="renew" id="renew-{{.ID}}">Don't cancel</button>
{{else}}<button type="submit" name="action" value="cancel" id="cancel-{{.ID}}" class="secondary">Cancel at the end of the period</button>{{end}}
</form>
{{else}}<p>No subscription.</p>{{end}}
<p><a id="return" href="{{.Return}}">Return to the app</a></p>
</main></body></html>
`))

// portalSub is one subscription as the portal page lists it.
type portalSub struct {
	ID, Price, Status string
	CancelAtPeriodEnd bool
}

// servePortal answers the hosted portal page of a session.
func (s *Server) servePortal(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, portalPrefix)
	s.mu.Lock()
	ps := s.portalSessions[id]
	var subs []portalSub
	if ps != nil {
		for _, sid := range s.sortedSubIDs() {
			sub := s.subs[sid]
			if sub.Customer == nil || sub.Customer.ID != ps.Customer || sub.Status == stripe.SubscriptionStatusCanceled {
				continue
			}
			price := ""
			if sub.Items != nil && len(sub.Items.Data) > 0 && sub.Items.Data[0].Price != nil {
				price = sub.Items.Data[0].Price.ID
			}
			subs = append(subs, portalSub{ID: sub.ID, Price: price, Status: string(sub.Status), CancelAtPeriodEnd: sub.CancelAtPeriodEnd})
		}
	}
	s.mu.Unlock()
	if ps == nil {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		sort.Slice(subs, func(i, j int) bool { return subs[i].ID < subs[j].ID })
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = portalPage.Execute(w, map[string]any{"Subs": subs, "Return": ps.ReturnURL})
	case http.MethodPost:
		sid := r.FormValue("subscription")
		owned := false
		for _, sub := range subs {
			owned = owned || sub.ID == sid
		}
		if !owned {
			http.Error(w, "no such subscription of this customer", http.StatusNotFound)
			return
		}
		// The change goes through the API handler, as the portal's own
		// change would: same validation, same event.
		form := url.Values{"cancel_at_period_end": {"false"}}
		if r.FormValue("action") == "cancel" {
			form.Set("cancel_at_period_end", "true")
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/subscriptions/"+sid, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer sk_test_portal")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			http.Error(w, rec.Body.String(), rec.Code)
			return
		}
		http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// Serve serves the fake on a loopback port outside tests (the in-process
// fake Stripe of GROUNDWORK_STRIPE=fake) until Close; URL then answers its
// address.
func (s *Server) Serve() *Server {
	s.ts = httptest.NewServer(s)
	return s
}

// Close stops serving what Serve started.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}
