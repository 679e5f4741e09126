package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/errtrack/errtracktest"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/observe"
)

// Routes of the cancellation tests.
const (
	blockingRoute = "GET /o/{org}/blocking"
	brokenRoute   = "GET /o/{org}/broken"
)

// cancelServer is the middleware stack of NewServer, with metrics and
// error tracking, around two routes: one that waits for its client to go
// away and then fails as a database call does (an error wrapping
// context.Canceled), and one that fails with a real internal error.
type cancelServer struct {
	h        http.Handler
	started  chan struct{} // closed once the blocking handler runs
	finished chan struct{} // receives once per request the stack has answered
	ingest   *errtracktest.Ingest
	reporter *errtrack.Reporter
	logs     *logBuffer
	reg      *prometheus.Registry
}

func newCancelServer(t *testing.T) *cancelServer {
	t.Helper()
	in := errtracktest.New(t)
	rep, err := errtrack.New(in.DSN(), reportEnv, reportRelease, nil)
	require.NoError(t, err)
	logger, logs := testLogger()
	reg := prometheus.NewRegistry()
	cs := &cancelServer{started: make(chan struct{}), finished: make(chan struct{}, 4),
		ingest: in, reporter: rep, logs: logs, reg: reg}
	s := newServer(Deps{Logger: logger, Errors: rep, Metrics: observe.NewHTTPMetrics(reg)})
	mux := http.NewServeMux()
	rt := &router{mux: mux, s: s}
	asMember(rt, blockingRoute, s.errorHandler(func(_ http.ResponseWriter, r *http.Request) error {
		close(cs.started)
		<-r.Context().Done() // the client went away
		return fmt.Errorf("look up API key: %w", r.Context().Err())
	}))
	asMember(rt, brokenRoute, s.errorHandler(func(http.ResponseWriter, *http.Request) error {
		return errors.New("the database is on fire")
	}))
	var patterns []string
	for _, r := range rt.routes {
		patterns = append(patterns, r.Pattern)
	}
	stack := s.wrap(s.answerUnmatched(mux), patterns)
	cs.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { cs.finished <- struct{}{} }()
		stack.ServeHTTP(w, r)
	})
	return cs
}

// waitFinished waits for the server to have answered a request (the
// deadline is a failure timeout).
func (cs *cancelServer) waitFinished(t *testing.T) {
	t.Helper()
	select {
	case <-cs.finished:
	case <-time.After(ioTimeout):
		t.Fatal("the server did not finish the request")
	}
}

// accessLogs returns the access log lines of route.
func accessLogs(t *testing.T, logs *logBuffer, route string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range logs.withMsg(t, "request") {
		if l["route"] == route {
			out = append(out, l)
		}
	}
	return out
}

// TestCancelledRequest proves item 17 over a real connection: a client
// that disconnects while its handler waits (here, as on a database call)
// makes the handler fail with an error wrapping context.Canceled, and that
// is not an internal error: no "internal error" line nor any ERROR line is
// logged, nothing reaches error tracking, the access log records status 499
// and groundwork_http_requests_cancelled_total counts it under its route.
// A real internal error on the same server afterwards is logged and
// reported, so the silence is not the reporter's.
func TestCancelledRequest(t *testing.T) {
	t.Parallel()
	cs := newCancelServer(t)
	srv := httptest.NewServer(cs.h)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/o/acme/blocking", nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	<-cs.started
	cancel() // the client goes away while the handler waits
	require.ErrorIs(t, <-done, context.Canceled)
	cs.waitFinished(t)

	lines := accessLogs(t, cs.logs, blockingRoute)
	require.Len(t, lines, 1)
	require.Equal(t, float64(observe.StatusClientClosedRequest), lines[0]["status"])
	require.Equal(t, "GET", lines[0]["method"])
	require.Empty(t, cs.logs.withMsg(t, "internal error"))
	for _, l := range cs.logs.lines(t) {
		require.NotEqual(t, "ERROR", l["level"], "log line: %v", l)
	}
	require.Equal(t, 1.0, metricValue(t, cs.reg, "groundwork_http_requests_cancelled_total", map[string]string{"route": blockingRoute}))
	require.Equal(t, 1.0, metricValue(t, cs.reg, "groundwork_http_request_duration_seconds",
		map[string]string{"route": blockingRoute, "status_class": "4xx"}))
	require.True(t, cs.reporter.Flush(ioTimeout))
	require.Empty(t, cs.ingest.Events(t), "a cancelled request is not reported")

	// The control: a real internal error is logged and reported.
	resp, err := srv.Client().Get(srv.URL + "/o/acme/broken")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	cs.waitFinished(t)
	require.Len(t, cs.logs.withMsg(t, "internal error"), 1)
	evs := cs.ingest.WaitEvents(t, 1)
	require.Len(t, evs, 1)
	require.Equal(t, "the database is on fire", evs[0].Top().Value)
	require.Equal(t, 1.0, metricValue(t, cs.reg, "groundwork_http_requests_cancelled_total", map[string]string{"route": blockingRoute}))
}

// TestCancelledError_ClientStillThere proves the 499 is kept for clients
// that went away: an error wrapping context.Canceled while the request's
// own context is live (some inner operation was cancelled, the client still
// waits) is an internal error — answered 500, logged and reported — not
// hidden as a disconnect.
func TestCancelledError_ClientStillThere(t *testing.T) {
	t.Parallel()
	rs := newReportingServer(t, func(rt *router, s *server) {
		asMember(rt, "GET /o/{org}/inner-cancel", s.errorHandler(func(http.ResponseWriter, *http.Request) error {
			return fmt.Errorf("refresh cache: %w", context.Canceled)
		}))
	})
	w := serve(rs.h, httptest.NewRequest(http.MethodGet, "/o/acme/inner-cancel", nil))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Equal(t, gw.EINTERNAL, decodeError(t, w).Code)
	require.Len(t, rs.logs.withMsg(t, "internal error"), 1)
	require.Len(t, rs.events(t), 1)
}

// TestCancelledAPIRequest proves item 17 on a real API route: a request to
// GET /api/v1/contacts whose client has gone away (its context cancelled)
// fails looking up its API key in PostgreSQL with context.Canceled — the
// "look up API key: context canceled" once logged as an internal error —
// and is answered 499, logged as such by the access log, counted as
// cancelled, with no "internal error" line and no error report. The same
// request from a client that waits is served 200.
func TestCancelledAPIRequest(t *testing.T) {
	t.Parallel()
	in := errtracktest.New(t)
	rep, err := errtrack.New(in.DSN(), reportEnv, reportRelease, nil)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(d *Deps) { d.Errors, d.Metrics = rep, observe.NewHTTPMetrics(reg) })
	owner := e.user("owner@example.com")
	o, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(o.ID, "cancel", gw.RoleMember)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/contacts", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	w := serve(e.srv.Config.Handler, r)
	require.Equal(t, observe.StatusClientClosedRequest, w.Code)

	const route = "GET /api/v1/contacts"
	lines := accessLogs(t, e.logs, route)
	require.Len(t, lines, 1)
	require.Equal(t, float64(observe.StatusClientClosedRequest), lines[0]["status"])
	require.Empty(t, e.logs.withMsg(t, "internal error"))
	for _, l := range e.logs.lines(t) {
		require.NotEqual(t, "ERROR", l["level"], "log line: %v", l)
	}
	require.Equal(t, 1.0, metricValue(t, reg, "groundwork_http_requests_cancelled_total", map[string]string{"route": route}))
	require.True(t, rep.Flush(ioTimeout))
	require.Empty(t, in.Events(t))

	// The key works for a client that waits.
	r = httptest.NewRequest(http.MethodGet, "/api/v1/contacts", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	require.Equal(t, http.StatusOK, serve(e.srv.Config.Handler, r).Code)
}
