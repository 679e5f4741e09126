package billing

import (
	"errors"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// barrier holds requests until n have arrived, so that n concurrent calls
// are all inside Stripe at once. Code that serialises them never lets the
// n-th arrive while the first waits: after a fallback delay the first goes
// on alone, and the test fails on what follows instead of hanging.
type barrier struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, all: make(chan struct{})} }

// wait blocks until n requests have arrived (or the fallback delay passed).
func (b *barrier) wait() {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(10 * time.Second):
	}
}

// openSessions returns the organisation's Checkout Sessions still open in
// the fake.
func (s *scenario) openSessions() []*stripe.CheckoutSession {
	var open []*stripe.CheckoutSession
	for _, cs := range s.fake.CheckoutSessions(s.org) {
		if cs.Status == stripe.CheckoutSessionStatusOpen {
			open = append(open, cs)
		}
	}
	return open
}

// requireNoLockWhileStripeAnswers makes every request through g check that
// another transaction can lock the organisation's billing row at once
// (NOWAIT) and that the database has no transaction left open while Stripe
// answers. It returns the requests checked so far (as route names them).
func (s *scenario) requireNoLockWhileStripeAnswers(g *gatedStripe) func() map[string]bool {
	t := s.t
	var mu sync.Mutex
	checked := map[string]bool{}
	g.set(func(w http.ResponseWriter, r *http.Request) bool {
		err := postgres.InOrgTx(s.ctx, s.db.Runtime, s.org, func(tx pgx.Tx) error {
			var org string
			return tx.QueryRow(s.ctx, `SELECT org_id::text FROM billing_accounts WHERE org_id = $1 FOR UPDATE NOWAIT`, s.org).Scan(&org)
		})
		// assert, not require: this runs on the server's goroutine.
		assert.NoError(t, err, "the billing row is free while Stripe answers %s %s", r.Method, r.URL.Path)
		var open int
		assert.NoError(t, s.db.Owner.QueryRow(s.ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state LIKE 'idle in transaction%'`).Scan(&open))
		assert.Zero(t, open, "no transaction open while Stripe answers %s %s", r.Method, r.URL.Path)
		mu.Lock()
		checked[route(r)] = true
		mu.Unlock()
		return false
	})
	return func() map[string]bool {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(checked)
	}
}

// route is a request's method and path with object IDs as {id}.
func route(r *http.Request) string {
	parts := strings.Split(r.URL.Path, "/")
	for i, p := range parts {
		if strings.Contains(p, "_") {
			parts[i] = "{id}"
		}
	}
	return r.Method + " " + strings.Join(parts, "/")
}

// sessionOf is the Checkout Session ID at the end of a checkout URL.
func sessionOf(url string) string { return url[strings.LastIndex(url, "/")+1:] }

// Item 8 of issue 11: while Stripe answers any request of a checkout (the
// customer fetched or created, the previous session fetched and expired,
// the sync, the new session created), the organisation's billing row is
// not locked and no transaction is open: a slow Stripe stalls nothing else.
func TestCheckoutHoldsNoLockWhileStripeAnswers(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.checkout(PlanPro, CheckoutInput{}) // a customer and an open session
	g, _, svc := s.gated()
	checked := s.requireNoLockWhileStripeAnswers(g)
	_, err := svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanPro})
	require.NoError(t, err)
	// A customer deleted in Stripe: the next checkout creates another.
	s.cus = s.account().CustomerID
	s.deleteCustomer()
	s.skip()
	u, err := svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanBusiness, Email: "owner@acme.test"})
	require.NoError(t, err)
	g.set(nil)
	for _, call := range []string{"GET /v1/customers/{id}", "POST /v1/customers", "GET /v1/checkout/sessions/{id}",
		"POST /v1/checkout/sessions/{id}/expire", "POST /v1/checkout/sessions"} {
		require.True(t, checked()[call], "%s checked (checked: %v)", call, checked())
	}
	require.Len(t, s.openSessions(), 1)
	require.Equal(t, sessionOf(u), s.account().CheckoutSessionID)
}

// Two checkouts of one organisation at once (two tabs, a double click),
// both inside Stripe together: one session stays open, stored, and both
// callers get its URL (or the later one a conflict to retry); the
// loser's session is expired.
func TestConcurrentCheckoutsLeaveOneOpenSession(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.checkout(PlanPro, CheckoutInput{}) // a previous session both expire
	g, _, svc := s.gated()
	b := newBarrier(2)
	g.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/checkout/sessions" {
			b.wait()
		}
		return false
	})
	urls := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { urls[i], errs[i] = svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanPro}) })
	}
	wg.Wait()
	g.set(nil)

	open := s.openSessions()
	require.Len(t, open, 1, "one payable session")
	require.Len(t, s.fake.CheckoutSessions(s.org), 3, "the previous session and one per checkout")
	require.Equal(t, open[0].ID, s.account().CheckoutSessionID)
	won := 0
	for i := range 2 {
		if errs[i] != nil {
			require.Equal(t, gw.ECONFLICT, gw.ErrorCode(errs[i]), "%v", errs[i])
			continue
		}
		won++
		require.Equal(t, open[0].URL, urls[i])
	}
	require.Positive(t, won)
}

// A previous session that Stripe expired already (its 24 hours, another
// tab) does not break a new checkout, even when it expires between the
// checkout's read and its expire request (Stripe answers 400 then); one
// that completed in that moment is noticed and the checkout refused.
func TestCheckoutAfterThePreviousSessionExpired(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	first := s.checkout(PlanPro, CheckoutInput{})
	_, err := s.fake.Client().V1CheckoutSessions.Expire(s.ctx, first, nil)
	require.NoError(t, err)
	second := s.checkout(PlanPro, CheckoutInput{})
	require.NotEqual(t, first, second)

	// Expired by someone else just before our expire request.
	g, _, svc := s.gated()
	g.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/checkout/sessions/"+second+"/expire" {
			_, err := s.fake.Client().V1CheckoutSessions.Expire(s.ctx, second, nil)
			assert.NoError(t, err)
		}
		return false
	})
	u, err := svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanPro})
	require.NoError(t, err)
	third := sessionOf(u)
	require.Equal(t, []string{third}, ids(s.openSessions()))
	require.Equal(t, third, s.account().CheckoutSessionID)

	// Paid just before our expire request: the subscription is live.
	g.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/checkout/sessions/"+third+"/expire" {
			_, err := s.fake.CompleteCheckout(third)
			assert.NoError(t, err)
		}
		return false
	})
	_, err = svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanBusiness})
	require.True(t, errors.Is(err, ErrLiveSubscription), "%v", err)
	require.Empty(t, s.openSessions())
	s.sub, s.cus = s.account().SubscriptionID, s.account().CustomerID
	s.requireTruth()
	s.entitled(PlanPro, AccessFull)
}

// ids are the sessions' IDs.
func ids(sessions []*stripe.CheckoutSession) []string {
	out := make([]string, len(sessions))
	for i, cs := range sessions {
		out[i] = cs.ID
	}
	return out
}

// Two checkouts creating the organisation's customer at once (both inside
// Stripe together): one customer is stored and recorded, both use it; the
// other stays unused in Stripe. The same when they replace a customer
// Stripe deleted.
func TestConcurrentEnsureCustomerStoresOne(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	g, _, svc := s.gated()
	race := func() string {
		b := newBarrier(2)
		g.set(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPost && r.URL.Path == "/v1/customers" {
				b.wait()
			}
			return false
		})
		got := make([]string, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				var err error
				got[i], err = svc.ensureCustomer(s.ctx, s.org, CheckoutInput{Email: "owner@acme.test"})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		g.set(nil)
		require.Equal(t, got[0], got[1], "both use one customer")
		require.Equal(t, got[0], s.account().CustomerID)
		return got[0]
	}
	recorded := func() []string {
		rows, err := s.db.Owner.Query(s.ctx, `SELECT customer_id FROM stripe_customers
			WHERE org_ref = $1 AND deleted_at IS NULL`, s.org)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}

	first := race()
	require.Equal(t, 2, s.fake.CustomerCount(), "the loser's customer stays unused")
	require.Equal(t, []string{first}, recorded())

	s.cus = first
	s.deleteCustomer()
	second := race()
	require.NotEqual(t, first, second)
	require.Equal(t, []string{second}, recorded())
	require.True(t, s.fake.CustomerDeleted(first))
	u, err := svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanPro})
	require.NoError(t, err)
	require.Equal(t, second, s.fake.CheckoutSession(sessionOf(u)).Customer.ID)
}
