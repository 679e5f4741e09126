package stripefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// Price is a recurring price known to the fake.
type Price struct {
	ID         string
	Product    string
	UnitAmount int64  // in the currency's minor unit
	Currency   string // default "eur"
	Interval   string // "month" (default) or "year"
	// LookupKey is the price's lookup_key (unique among prices, as in
	// Stripe); "" for none.
	LookupKey string
	// Metadata is the price's metadata.
	Metadata map[string]string
	// Inactive prices are listed only with active=false and cannot be
	// sold (Checkout refuses them), as in Stripe.
	Inactive bool
}

// Options configure a Server.
type Options struct {
	// Now is the initial clock value (default 2026-01-01T00:00:00Z).
	Now time.Time
	// Prices known to the fake; requests naming another price fail with 400.
	// Default: price_basic_monthly (1000), price_pro_monthly (3000),
	// price_basic_yearly (10000), price_pro_yearly (30000), all in eur.
	Prices []Price
	// RetriesExhausted is the subscription status ExhaustRetries leaves:
	// "canceled" (default) or "unpaid".
	RetriesExhausted string
	// TaxBasisPoints is the standard tax rate Stripe Tax applies to invoices
	// with automatic tax (e.g. 2000 = 20%); see the package doc, Tax.
	TaxBasisPoints int64
	// RetryInterval is next_payment_attempt after a failure (default 72h)
	// when RetrySchedule is empty.
	RetryInterval time.Duration
	// RetrySchedule, when set, is a Smart-Retries-like schedule: the
	// retries of a failed invoice happen this long after its first failed
	// attempt, one per entry, and the failure of the last one ends the
	// subscription as RetriesExhausted says (RunRetries). Stripe's default
	// is 8 tries within 2 weeks
	// (https://docs.stripe.com/billing/revenue-recovery/smart-retries);
	// DefaultRetrySchedule is such a schedule.
	RetrySchedule []time.Duration
	// APIVersion is the account's default API version, which events are
	// created in (default stripe.APIVersion); see SetAPIVersion.
	APIVersion string
	// PromotionCodes are the customer-facing codes a customer may enter in
	// a Checkout Session created with allow_promotion_codes=true
	// (CheckoutOutcome.PromotionCode), each a percentage off once.
	PromotionCodes []PromotionCode
}

// PromotionCode is a customer-facing promotion code of a coupon taking
// PercentOff percent off the first invoice (duration once).
type PromotionCode struct {
	Code       string
	PercentOff int64
}

// Request is one recorded API request.
type Request struct {
	Method         string
	Path           string
	Form           url.Values // body form for POST, query for GET/DELETE
	IdempotencyKey string
	StripeVersion  string
}

// sessionState is what a checkout session was created with beyond what the
// session object shows.
type sessionState struct {
	price, customerUpdateAddress, customerUpdateName string
	quantity, trialDays                              int64
	subscriptionMetadata                             map[string]string
	// trialEndBehavior is subscription_data[trial_settings][end_behavior][missing_payment_method].
	trialEndBehavior stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethod
	// lines are every line item (the first is price and quantity).
	lines []sessionLine
	// allowPromotionCodes is allow_promotion_codes; promotionCode the code
	// the customer entered (CheckoutOutcome.PromotionCode).
	allowPromotionCodes bool
}

// sessionLine is one line item of a checkout session.
type sessionLine struct {
	price string
	qty   int64
}

// Server is the fake. All methods are safe for concurrent use.
type Server struct {
	mu   sync.Mutex
	opts Options
	now  time.Time
	seq  map[string]int

	prices     map[string]Price
	priceOrder []string // price IDs in creation order
	down       bool     // SetUnavailable
	customers  map[string]*customerState
	sessions   map[string]*stripe.CheckoutSession
	sessionSt  map[string]*sessionState
	subs       map[string]*stripe.Subscription
	invoices   map[string]*stripe.Invoice
	charges    map[string]*stripe.Charge
	disputes   map[string]*stripe.Dispute
	// firstFailure is when each invoice first failed (RetrySchedule).
	firstFailure map[string]time.Time
	schedules    map[string]*stripe.SubscriptionSchedule
	// customer portal
	portalConfigs  map[string]*stripe.BillingPortalConfiguration
	portalSessions map[string]*stripe.BillingPortalSession
	// pending proration lines per subscription (create_prorations).
	pendingLines map[string][]*stripe.InvoiceLineItem
	// sub ID -> params of an update waiting for its invoice to be paid.
	pendingUpdates map[string]pendingUpdate
	// trialWarned: subscriptions whose trial_will_end was sent.
	trialWarned map[string]bool
	// asyncSessions: Checkout Sessions whose payment is processing (async.go).
	asyncSessions map[string]bool

	apiVersion string // the account's default API version (SetAPIVersion)
	events     []*stripe.Event
	endpoints  map[string]bool // webhook endpoint URLs (Deliver, MarkDelivered)
	delivered  map[string]bool // url + " " + event ID: acknowledged with 2xx
	abandoned  map[string]bool // url + " " + event ID: Stripe gave up (DeliverOptions.GiveUp)
	idem       map[string]*idemEntry
	requests   []Request

	handler http.Handler
	ts      *httptest.Server
}

type pendingUpdate struct {
	invoice string
	items   []itemChange
	// newPeriod: the update changes the billing interval, so applying it
	// starts a new period (restartPeriod).
	newPeriod bool
}

type itemChange struct {
	itemID string
	price  string
	qty    int64
}

// New returns a fake with the given options. Serve it with Start, or use it
// directly as an http.Handler.
func New(opts Options) *Server {
	if opts.Now.IsZero() {
		opts.Now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opts.RetriesExhausted == "" {
		opts.RetriesExhausted = "canceled"
	}
	if opts.RetryInterval == 0 {
		opts.RetryInterval = 72 * time.Hour
	}
	if opts.APIVersion == "" {
		opts.APIVersion = stripe.APIVersion
	}
	if opts.Prices == nil {
		opts.Prices = []Price{
			{ID: "price_basic_monthly", Product: "prod_basic", UnitAmount: 1000},
			{ID: "price_pro_monthly", Product: "prod_pro", UnitAmount: 3000},
			{ID: "price_basic_yearly", Product: "prod_basic", UnitAmount: 10000, Interval: "year"},
			{ID: "price_pro_yearly", Product: "prod_pro", UnitAmount: 30000, Interval: "year"},
		}
	}
	s := &Server{
		opts: opts, now: opts.Now.UTC().Truncate(time.Second), seq: map[string]int{},
		prices: map[string]Price{}, customers: map[string]*customerState{},
		sessions: map[string]*stripe.CheckoutSession{}, subs: map[string]*stripe.Subscription{},
		invoices: map[string]*stripe.Invoice{}, charges: map[string]*stripe.Charge{},
		disputes: map[string]*stripe.Dispute{}, firstFailure: map[string]time.Time{}, pendingLines: map[string][]*stripe.InvoiceLineItem{},
		pendingUpdates: map[string]pendingUpdate{}, sessionSt: map[string]*sessionState{},
		schedules: map[string]*stripe.SubscriptionSchedule{}, portalConfigs: map[string]*stripe.BillingPortalConfiguration{},
		portalSessions: map[string]*stripe.BillingPortalSession{},
		apiVersion:     opts.APIVersion, endpoints: map[string]bool{}, delivered: map[string]bool{},
		abandoned: map[string]bool{}, idem: map[string]*idemEntry{}, trialWarned: map[string]bool{},
		asyncSessions: map[string]bool{},
	}
	for _, p := range opts.Prices {
		if p.Currency == "" {
			p.Currency = "eur"
		}
		if p.Interval == "" {
			p.Interval = "month"
		}
		if p.LookupKey != "" {
			for _, q := range s.prices {
				if q.LookupKey == p.LookupKey {
					panic("stripefake: lookup key " + p.LookupKey + " on two prices")
				}
			}
		}
		s.prices[p.ID] = p
		s.priceOrder = append(s.priceOrder, p.ID)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/customers", s.createCustomer)
	mux.HandleFunc("GET /v1/customers/{id}", s.getter("customer"))
	mux.HandleFunc("DELETE /v1/customers/{id}", s.deleteCustomer)
	mux.HandleFunc("POST /v1/checkout/sessions", s.createSession)
	mux.HandleFunc("GET /v1/checkout/sessions/{id}", s.getter("checkout.session"))
	mux.HandleFunc("POST /v1/checkout/sessions/{id}/expire", s.expireSession)
	mux.HandleFunc("GET /v1/subscriptions/{id}", s.getter("subscription"))
	mux.HandleFunc("POST /v1/subscriptions/{id}", s.updateSubscription)
	mux.HandleFunc("DELETE /v1/subscriptions/{id}", s.cancelSubscription)
	mux.HandleFunc("POST /v1/subscriptions/{id}/resume", s.resumeSubscription)
	mux.HandleFunc("GET /v1/invoices/{id}", s.getter("invoice"))
	mux.HandleFunc("POST /v1/invoices/create_preview", s.createPreview)
	mux.HandleFunc("GET /v1/disputes/{id}", s.getter("dispute"))
	mux.HandleFunc("GET /v1/charges/{id}", s.getter("charge"))
	mux.HandleFunc("GET /v1/prices", s.listPrices)
	mux.HandleFunc("GET /v1/prices/{id}", s.getPrice)
	mux.HandleFunc("GET /v1/events", s.listEvents)
	mux.HandleFunc("GET /v1/events/{id}", s.getter("event"))
	mux.HandleFunc("POST /v1/subscription_schedules", s.createSchedule)
	mux.HandleFunc("GET /v1/subscription_schedules/{id}", s.getter("subscription_schedule"))
	mux.HandleFunc("POST /v1/subscription_schedules/{id}", s.updateSchedule)
	mux.HandleFunc("POST /v1/subscription_schedules/{id}/release", s.releaseScheduleHandler)
	mux.HandleFunc("POST /v1/billing_portal/configurations", s.createPortalConfiguration)
	mux.HandleFunc("GET /v1/billing_portal/configurations/{id}", s.getter("billing_portal.configuration"))
	mux.HandleFunc("POST /v1/billing_portal/sessions", s.createPortalSession)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "invalid_request_error", "Unrecognized request URL ("+r.Method+": "+r.URL.Path+") in stripefake.")
	})
	s.handler = mux
	return s
}

// Start serves the fake on a loopback httptest server closed at test cleanup.
func (s *Server) Start(t testing.TB) *Server {
	t.Helper()
	s.ts = httptest.NewServer(s)
	t.Cleanup(s.ts.Close)
	return s
}

// URL is the base URL to give stripe-go (BackendConfig.URL); empty before Start.
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL
}

// Client returns a stripe-go client talking to the started fake.
func (s *Server) Client() *stripe.Client {
	b := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(s.URL()),
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return stripe.NewClient("sk_test_fake", stripe.WithBackends(&stripe.Backends{API: b, Connect: b, Uploads: b, MeterEvents: b}))
}

// Now returns the fake's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Advance moves the clock forward by d.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
}

// Requests returns a copy of every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Events returns all events, oldest first.
func (s *Server) Events() []*stripe.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*stripe.Event(nil), s.events...)
}

// EventTypes returns the types of all events, oldest first.
func (s *Server) EventTypes() []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, string(e.Type))
	}
	return out
}

// ServeHTTP serves the fake API: it checks the API key, records the request
// and replays idempotent POSTs like Stripe (idempotency.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, hostedPrefix) {
		s.serveHosted(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, portalPrefix) {
		s.servePortal(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var form url.Values
	var err error
	if r.Method == http.MethodPost {
		form, err = url.ParseQuery(string(body))
	} else {
		form, err = url.ParseQuery(r.URL.RawQuery)
	}
	if err != nil {
		writeErr(w, 400, "invalid_request_error", "malformed form body")
		return
	}
	r.Form = form
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		writeErr(w, 401, "invalid_request_error", "You did not provide an API key.")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Form: form,
		IdempotencyKey: key, StripeVersion: r.Header.Get("Stripe-Version")})
	down := s.down
	s.mu.Unlock()
	if down {
		writeErr(w, http.StatusServiceUnavailable, "api_error", "stripefake: unavailable (SetUnavailable)")
		return
	}
	if r.Method == http.MethodPost && key != "" {
		s.serveIdempotent(w, r, key, form)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// ---- rendering ----

type refSpec struct{ path, kind string }

var refs = map[string][]refSpec{
	"checkout.session": {{"customer", "customer"}, {"subscription", "subscription"}, {"invoice", "invoice"}},
	"subscription":     {{"customer", "customer"}, {"latest_invoice", "invoice"}, {"schedule", "subscription_schedule"}},
	"subscription_schedule": {{"customer", "customer"}, {"subscription", "subscription"},
		{"released_subscription", "subscription"}},
	"billing_portal.session": {{"configuration", "billing_portal.configuration"}},
	"invoice":                {{"customer", "customer"}, {"parent.subscription_details.subscription", "subscription"}},
	"charge":                 {{"customer", "customer"}},
	"dispute":                {{"charge", "charge"}},
	"price":                  {{"product", "product"}},
}

func (s *Server) lookup(kind, id string) any {
	var v any
	switch kind {
	case "customer":
		if c := s.customers[id]; c != nil && c.deleted {
			return deletedCustomer(id)
		} else if c != nil {
			v = c.obj
		}
	case "checkout.session":
		v = s.sessions[id]
	case "subscription":
		v = s.subs[id]
	case "invoice":
		v = s.invoices[id]
	case "charge":
		v = s.charges[id]
	case "dispute":
		v = s.disputes[id]
	case "subscription_schedule":
		v = s.schedules[id]
	case "billing_portal.configuration":
		v = s.portalConfigs[id]
	case "billing_portal.session":
		v = s.portalSessions[id]
	case "event":
		for _, e := range s.events {
			if e.ID == id {
				return e
			}
		}
	}
	if v == nil || reflect.ValueOf(v).IsNil() {
		return nil
	}
	return v
}

// render turns a stored object into Stripe's JSON shape: references collapse
// to IDs unless named in expand (dotted paths, e.g. "latest_invoice").
func (s *Server) render(kind string, obj any, expand []string) map[string]any {
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	for _, r := range refs[kind] {
		parts := strings.Split(r.path, ".")
		parent := m
		for _, p := range parts[:len(parts)-1] {
			next, _ := parent[p].(map[string]any)
			if next == nil {
				parent = nil
				break
			}
			parent = next
		}
		if parent == nil {
			continue
		}
		leaf := parts[len(parts)-1]
		ref, _ := parent[leaf].(map[string]any)
		if ref == nil {
			continue
		}
		id, _ := ref["id"].(string)
		var sub []string
		expanded := false
		for _, e := range expand {
			if e == r.path {
				expanded = true
			} else if strings.HasPrefix(e, r.path+".") {
				expanded = true
				sub = append(sub, strings.TrimPrefix(e, r.path+"."))
			}
		}
		if full := s.lookup(r.kind, id); expanded && full != nil {
			parent[leaf] = s.render(r.kind, full, sub)
		} else {
			parent[leaf] = id
		}
	}
	s.renderExtras(kind, obj, m, expand)
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, typ, msg string) {
	writeErrParam(w, status, typ, "", "", msg)
}

// writeErrParam writes a Stripe error with an optional code and param
// (stripe-go exposes them as *stripe.Error Code and Param).
func writeErrParam(w http.ResponseWriter, status int, typ, code, param, msg string) {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
		e["doc_url"] = "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(code, "_", "-")
	}
	if param != "" {
		e["param"] = param
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func (s *Server) newID(prefix string) string {
	s.seq[prefix]++
	return fmt.Sprintf("%s_fake%06d", prefix, s.seq[prefix])
}

func (s *Server) unix() int64 { return s.now.Unix() }

func formList(f url.Values, prefix string) []string {
	var out []string
	for i := 0; ; i++ {
		v, ok := f[fmt.Sprintf("%s[%d]", prefix, i)]
		if !ok {
			break
		}
		out = append(out, v[0])
	}
	return append(out, f[prefix+"[]"]...)
}

func formInt(f url.Values, key string) (int64, bool) {
	v := f.Get(key)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

func (s *Server) getter(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		obj := s.lookup(kind, r.PathValue("id"))
		if obj == nil {
			writeErr(w, 404, "invalid_request_error", fmt.Sprintf("No such %s: '%s'", kind, r.PathValue("id")))
			return
		}
		if kind == "event" {
			writeJSON(w, 200, obj)
			return
		}
		writeJSON(w, 200, s.render(kind, obj, formList(r.Form, "expand")))
	}
}

// ---- state accessors for tests ----

// Subscription returns a copy of the stored subscription (nil if unknown).
func (s *Server) Subscription(id string) *stripe.Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.subs[id])
}

// Invoice returns a copy of the stored invoice (nil if unknown).
func (s *Server) Invoice(id string) *stripe.Invoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.invoices[id])
}

// Dispute returns a copy of the stored dispute (nil if unknown).
func (s *Server) Dispute(id string) *stripe.Dispute {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.disputes[id])
}

// Subscriptions returns the IDs of all subscriptions, sorted.
func (s *Server) Subscriptions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedSubIDs()
}

// sortedSubIDs returns the IDs of all subscriptions, sorted. The caller
// holds s.mu.
func (s *Server) sortedSubIDs() []string {
	var ids []string
	for id := range s.subs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// CustomerCount returns how many customers exist.
func (s *Server) CustomerCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.customers)
}

func clone[T any](v *T) *T {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	var out T
	_ = json.NewDecoder(bytes.NewReader(b)).Decode(&out)
	return &out
}
