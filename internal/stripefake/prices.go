package stripefake

import (
	"net/http"
	"slices"

	"github.com/stripe/stripe-go/v85"
)

// ---- prices ----

// maxLookupKeys is how many lookup_keys GET /v1/prices takes: "You can
// specify up to 10 lookup_keys" (https://docs.stripe.com/api/prices/list).
const maxLookupKeys = 10

// listPrices is GET /v1/prices with the filters lookup_keys (at most 10),
// active, product, currency and limit; newest first, as Stripe lists.
func (s *Server) listPrices(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := r.Form
	keys := formList(f, "lookup_keys")
	if len(keys) > maxLookupKeys {
		writeErrParam(w, 400, "invalid_request_error", "", "lookup_keys", "Invalid array: lookup_keys must have at most 10 elements.")
		return
	}
	limit, ok := formInt(f, "limit")
	if !ok || limit <= 0 || limit > 100 {
		limit = 10
	}
	out := []map[string]any{}
	more := false
	for i := len(s.priceOrder) - 1; i >= 0; i-- {
		p := s.prices[s.priceOrder[i]]
		switch {
		case len(keys) > 0 && (p.LookupKey == "" || !slices.Contains(keys, p.LookupKey)),
			f.Get("active") != "" && (f.Get("active") == "true") == p.Inactive,
			f.Get("product") != "" && f.Get("product") != p.Product,
			f.Get("currency") != "" && f.Get("currency") != p.Currency:
			continue
		}
		if int64(len(out)) == limit {
			more = true
			break
		}
		out = append(out, s.render("price", s.stripePrice(p), nil))
	}
	writeJSON(w, 200, map[string]any{"object": "list", "url": "/v1/prices", "has_more": more, "data": out})
}

// getPrice is GET /v1/prices/{id}.
func (s *Server) getPrice(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.prices[r.PathValue("id")]
	if !ok {
		writeErrParam(w, 404, "invalid_request_error", "resource_missing", "id", "No such price: '"+r.PathValue("id")+"'")
		return
	}
	writeJSON(w, 200, s.render("price", s.stripePrice(p), nil))
}

// SetUnavailable makes every API request fail with 503 api_error while
// down is true, as during a Stripe outage; the requests are still recorded.
func (s *Server) SetUnavailable(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Price returns the Stripe price id as the API renders it (nil if unknown).
func (s *Server) Price(id string) *stripe.Price {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.prices[id]
	if !ok {
		return nil
	}
	return s.stripePrice(p)
}
