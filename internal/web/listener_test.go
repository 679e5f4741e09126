package web

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/observe"
)

// ioTimeout bounds every read and write of these tests. It is a failure
// timeout only: nothing is expected to take anywhere near as long.
const ioTimeout = 10 * time.Second

// metricValue returns the value of the gauge or counter name whose labels
// include want, or fails the test if there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, want) {
				continue
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no metric %s%v", name, want)
	return 0
}

// hasLabels reports whether m carries every label of want.
func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// rawConn is a client's TCP connection to the server, reading responses
// with net/http's parser.
type rawConn struct {
	net.Conn
	rd *bufio.Reader
}

// dialRaw opens a TCP connection to addr.
func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(ioTimeout)))
	return &rawConn{Conn: c, rd: bufio.NewReader(c)}
}

// get sends a keep-alive GET / on c and returns the response, its body read.
func (c *rawConn) get(t *testing.T) (*http.Response, string) {
	t.Helper()
	_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: groundwork.test\r\n\r\n")
	require.NoError(t, err)
	return c.read(t)
}

// read reads one response from c, with its body.
func (c *rawConn) read(t *testing.T) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.rd, nil)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, string(b)
}

// requireBusy reads from c the answer to a connection over the limit: 503
// with Retry-After, Connection: close and the JSON "unavailable" error, and
// then the end of the connection.
func (c *rawConn) requireBusy(t *testing.T) {
	t.Helper()
	resp, body := c.read(t)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.True(t, resp.Close, "Connection: close")
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var e errorResponse
	require.NoError(t, json.Unmarshal([]byte(body), &e), "body: %s", body)
	require.Equal(t, "unavailable", e.Error.Code)
	_, err := c.rd.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closes a refused connection after its answer")
}

// TestLimitConnections proves the GROUNDWORK_MAX_CONNS cap (item 13): with
// a cap of N and N idle keep-alive connections open, a further connection is
// answered at once — before it sends anything — with 503, Retry-After: 1 and
// Connection: close, and then closed, instead of waiting unanswered in the
// accept queue; a refused connection that did send a request gets the same
// answer. The refusals are counted in groundwork_http_connections_rejected_total
// and do not take a slot; the "connection limit reached" warning is logged
// once per window, the next one counting the refusals held back. The idle
// connections are still served, and once one of them closes a new
// connection is served normally.
func TestLimitConnections(t *testing.T) {
	t.Parallel()
	const maxConns = 3
	logger, logs := testLogger()
	reg := prometheus.NewRegistry()
	metrics := observe.NewHTTPMetrics(reg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lim, ok := LimitConnections(ln, maxConns, metrics, logger).(*limitListener)
	require.True(t, ok)
	// The warning's throttle on a clock of the test's, to cross its window.
	clock := gwtest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	lim.warn = observe.NewThrottle(clock, errorLogWindow)

	srv := NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), logger)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lim) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-served, http.ErrServerClosed)
	})
	addr := ln.Addr().String()

	// N connections, each served one request (so it has been accepted and
	// counted) and then left idle, kept alive.
	idle := make([]*rawConn, maxConns)
	for i := range idle {
		idle[i] = dialRaw(t, addr)
		resp, body := idle[i].get(t)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "ok", body)
		require.False(t, resp.Close)
	}
	require.Equal(t, float64(maxConns), metricValue(t, reg, "groundwork_http_connections_open", nil))

	warnings := func() []map[string]any {
		return logs.withMsg(t, "connection limit reached: refusing connections with 503 (GROUNDWORK_MAX_CONNS)")
	}

	// The N+1th connection is answered without having sent a byte.
	dialRaw(t, addr).requireBusy(t)
	require.Len(t, warnings(), 1)
	w := warnings()[0]
	require.Equal(t, "WARN", w["level"])
	require.Equal(t, float64(maxConns), w["max_conns"])
	require.Equal(t, float64(0), w["refused_since_last_warning"])

	// More, one sending its request first: the same answer, no more
	// warnings within the window.
	c := dialRaw(t, addr)
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: groundwork.test\r\n\r\n")
	require.NoError(t, err)
	c.requireBusy(t)
	dialRaw(t, addr).requireBusy(t)
	require.Len(t, warnings(), 1, "the warning is throttled")

	// The next window's first refusal warns again, counting those held back.
	clock.Advance(errorLogWindow)
	dialRaw(t, addr).requireBusy(t)
	require.Len(t, warnings(), 2)
	require.Equal(t, float64(2), warnings()[1]["refused_since_last_warning"])

	require.Equal(t, float64(4), metricValue(t, reg, "groundwork_http_connections_rejected_total", nil))
	require.Equal(t, float64(maxConns), metricValue(t, reg, "groundwork_http_connections_open", nil),
		"refused connections take no slot")

	// The idle connections were left alone and are still served.
	for _, c := range idle {
		resp, body := c.get(t)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "ok", body)
	}

	// Closing one frees its slot once the server has seen it go (it reads
	// the EOF in a goroutine of its own; the deadline is a failure timeout).
	require.NoError(t, idle[0].Close())
	require.Eventually(t, func() bool { return lim.open.Load() == maxConns-1 }, ioTimeout, time.Millisecond)
	require.Equal(t, float64(maxConns-1), metricValue(t, reg, "groundwork_http_connections_open", nil))

	// A new connection is then served normally, and kept alive.
	fresh := dialRaw(t, addr)
	for range 2 {
		resp, body := fresh.get(t)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "ok", body)
		require.False(t, resp.Close)
	}
	require.Equal(t, float64(4), metricValue(t, reg, "groundwork_http_connections_rejected_total", nil))
	require.Len(t, warnings(), 2)

	// Full again: refused again.
	dialRaw(t, addr).requireBusy(t)
	require.Equal(t, float64(5), metricValue(t, reg, "groundwork_http_connections_rejected_total", nil))
}

// TestLimitConnections_SlotFreedOnce proves that closing a connection twice
// (net/http may, and so may a wrapper) frees its slot once: the count of
// open connections cannot go below the truth and let more than the cap in.
func TestLimitConnections_SlotFreedOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lim := LimitConnections(ln, 1, observe.NewHTTPMetrics(reg), nil)
	t.Cleanup(func() { _ = lim.Close() })

	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := lim.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	first := dialRaw(t, ln.Addr().String())
	sc := <-accepted
	require.NotNil(t, sc)
	dialRaw(t, ln.Addr().String()).requireBusy(t)

	require.NoError(t, sc.Close())
	require.Error(t, sc.Close())
	require.Equal(t, int64(0), lim.(*limitListener).open.Load())
	require.Equal(t, float64(0), metricValue(t, reg, "groundwork_http_connections_open", nil))
	_ = first.Close()

	second := dialRaw(t, ln.Addr().String())
	sc2 := <-accepted
	require.NotNil(t, sc2, "the freed slot is taken by the next connection")
	defer sc2.Close()
	dialRaw(t, ln.Addr().String()).requireBusy(t)
	_ = second.Close()
	require.Equal(t, float64(2), metricValue(t, reg, "groundwork_http_connections_rejected_total", nil))
}
