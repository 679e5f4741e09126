package observe

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// TestThrottle: each key is let through once per window, as told by the
// clock; the next one through counts the occurrences held back.
func TestThrottle(t *testing.T) {
	t.Parallel()
	clock := gwtest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	th := NewThrottle(clock, time.Minute)

	ok, n := th.Allow("db down")
	require.True(t, ok)
	require.Zero(t, n)
	for range 1000 {
		ok, _ = th.Allow("db down")
		require.False(t, ok, "the same key within the window is held back")
	}
	ok, n = th.Allow("another error")
	require.True(t, ok, "keys are throttled apart")
	require.Zero(t, n)

	clock.Advance(59 * time.Second)
	ok, _ = th.Allow("db down")
	require.False(t, ok)

	clock.Advance(time.Second)
	ok, n = th.Allow("db down")
	require.True(t, ok, "a window later")
	require.Equal(t, 1001, n, "with the count held back since")

	ok, _ = th.Allow("db down")
	require.False(t, ok)
	clock.Advance(2 * time.Minute)
	ok, n = th.Allow("db down")
	require.True(t, ok)
	require.Equal(t, 1, n)

	var none *Throttle
	ok, n = none.Allow("x")
	require.True(t, ok, "a nil Throttle lets everything through")
	require.Zero(t, n)
}

// TestThrottle_Bounded: a flood of distinct keys does not grow the
// Throttle past maxThrottleKeys; keys whose window ended are forgotten.
func TestThrottle_Bounded(t *testing.T) {
	t.Parallel()
	clock := gwtest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	th := NewThrottle(clock, time.Minute)
	for i := range 3 * maxThrottleKeys {
		ok, _ := th.Allow("key " + strconv.Itoa(i))
		require.True(t, ok)
	}
	require.LessOrEqual(t, len(th.keys), maxThrottleKeys)
	clock.Advance(time.Minute)
	ok, _ := th.Allow("fresh")
	require.True(t, ok)
	require.Len(t, th.keys, 1, "expired keys were forgotten to make room")
}

// TestHTTPMetrics_CancelledAndConnections: a request finished with 499 is
// counted as cancelled by route; connections are counted open and refused.
func TestHTTPMetrics_CancelledAndConnections(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewHTTPMetrics(reg)
	m.RequestStarted()
	m.RequestFinished("GET /api/v1/contacts", "GET", StatusClientClosedRequest, time.Millisecond)
	m.RequestStarted()
	m.RequestFinished("GET /api/v1/contacts", "GET", 200, time.Millisecond)
	cancelled := family(t, reg, "groundwork_http_requests_cancelled_total")
	require.NotNil(t, cancelled)
	require.Len(t, cancelled.GetMetric(), 1)
	require.Equal(t, map[string]string{"route": "GET /api/v1/contacts"}, labels(cancelled.GetMetric()[0]))
	require.Equal(t, 1.0, cancelled.GetMetric()[0].GetCounter().GetValue())

	m.ConnOpened()
	m.ConnOpened()
	m.ConnClosed()
	m.ConnRejected()
	require.Equal(t, 1.0, family(t, reg, "groundwork_http_connections_open").GetMetric()[0].GetGauge().GetValue())
	require.Equal(t, 1.0, family(t, reg, "groundwork_http_connections_rejected_total").GetMetric()[0].GetCounter().GetValue())

	var none *HTTPMetrics
	require.NotPanics(t, func() { none.ConnOpened(); none.ConnClosed(); none.ConnRejected() })
}
