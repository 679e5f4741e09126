package observe

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRequestsWindows records requests at injected times and checks what
// each window sees: counts, rates, percentiles, errors, 429s and routes.
func TestRequestsWindows(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	r := NewRequests(func() time.Time { return now })

	// Two hours ago: only the 24 h window sees it.
	now = now.Add(-2 * time.Hour)
	r.Record("GET", "GET /old", 200, 10*time.Millisecond, "old", "")
	now = now.Add(2 * time.Hour)

	// Ten minutes ago: the 1 h and 24 h windows.
	now = now.Add(-10 * time.Minute)
	r.Record("GET", "GET /orgs", 500, 2*time.Second, "slow-error", "")
	now = now.Add(10 * time.Minute)

	// Now: 98 fast requests, one 429 and one slow one.
	for range 98 {
		r.Record("GET", "GET /orgs", 200, 4*time.Millisecond, "fast", "")
	}
	r.Record("POST", "POST /login", 429, time.Millisecond, "limited", "")
	r.Record("GET", "GET /o/{org}/contacts", 200, 400*time.Millisecond, "slowest-now", "")

	five := r.Summary(Windows[0])
	require.EqualValues(t, 100, five.Overall.Requests)
	require.InDelta(t, 100.0/300, five.Overall.RPS, 1e-9)
	require.EqualValues(t, 0, five.Overall.Errors)
	require.EqualValues(t, 1, five.Overall.RateLimited)
	require.Equal(t, 5.0, five.Overall.P50, "the median is in the (3, 5] ms bucket")
	require.Equal(t, 5.0, five.Overall.P95)
	require.Equal(t, 5.0, five.Overall.P99, "99 of 100 are at most 5 ms")
	require.Len(t, five.Points, 300, "one point a second")
	require.EqualValues(t, 100, five.Points[299].Requests)
	require.Equal(t, "GET /o/{org}/contacts", five.Routes[0].Route, "slowest p95 first")
	require.Len(t, five.Routes, 3)

	hour := r.Summary(Windows[1])
	require.EqualValues(t, 101, hour.Overall.Requests)
	require.EqualValues(t, 1, hour.Overall.Errors)
	require.InDelta(t, 1.0/101, hour.Overall.ErrorRate, 1e-9)
	require.Len(t, hour.Points, 60)

	day := r.Summary(Windows[2])
	require.EqualValues(t, 102, day.Overall.Requests)
	require.Len(t, day.Points, 288)

	slow := r.Slowest(2, time.Hour)
	require.Len(t, slow, 2)
	require.Equal(t, "slow-error", slow[0].RequestID)
	require.Equal(t, "slowest-now", slow[1].RequestID)
	require.Equal(t, []string{"slow-error"}, requestIDs(r.Errors()))

	// A day later everything has rolled out of every window.
	now = now.Add(25 * time.Hour)
	require.Zero(t, r.Summary(Windows[2]).Overall.Requests)
	require.Empty(t, r.Summary(Windows[2]).Routes)
	require.Empty(t, r.Slowest(5, time.Hour))
}

func requestIDs(s []RequestSample) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.RequestID)
	}
	return out
}

// BenchmarkRequestsRecord measures Record on a known route: no allocation.
func BenchmarkRequestsRecord(b *testing.B) {
	r := NewRequests(nil)
	r.Record("GET", "GET /orgs", 200, time.Millisecond, "x", "")
	b.ReportAllocs()
	for b.Loop() {
		r.Record("GET", "GET /orgs", 200, time.Millisecond, "x", "")
	}
}

// TestRequestsTotals counts every request and the 5xx answers among them;
// 4xx answers are not server errors.
func TestRequestsTotals(t *testing.T) {
	t.Parallel()
	r := NewRequests(nil)
	n, errs := r.Totals()
	require.Zero(t, n)
	require.Zero(t, errs)
	for _, status := range []int{200, 404, 500, 503, 302} {
		r.Record("GET", "GET /x", status, time.Millisecond, "req", "")
	}
	n, errs = r.Totals()
	require.EqualValues(t, 5, n)
	require.EqualValues(t, 2, errs)
	var none *Requests
	n, errs = none.Totals()
	require.Zero(t, n+errs)
}
