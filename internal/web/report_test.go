package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/errtrack/errtracktest"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

const (
	reportAPIKey  = "gw_abcdefgh_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
	reportEmail   = "mallory@example.com"
	reportOrgID   = "0190a0b0-0000-7000-8000-0000000000aa"
	reportUserID  = "0190a0b0-0000-7000-8000-0000000000bb"
	reportRelease = "v9.8.7"
	reportEnv     = "production"
	reportToken   = "pathT0kenS3cret"
)

// reportSecrets must reach the ingest nowhere.
var reportSecrets = []string{reportAPIKey, reportEmail, "hunter2", "token=secret", "cookie-secret", reportToken}

// reportingServer is the middleware stack of NewServer around test routes,
// reporting to a stand-in Sentry ingest.
type reportingServer struct {
	h        http.Handler
	ingest   *errtracktest.Ingest
	reporter *errtrack.Reporter
	logs     *logBuffer
	clock    *gwtest.Clock
}

// newReportingServer registers the test routes (through the router, as
// routes.go does) behind wrap(), with Deps.Errors reporting to a fresh
// ingest. asMember stands for inOrg: it puts a member's scope in the
// context below the mux.
func newReportingServer(t *testing.T, register func(rt *router, s *server)) *reportingServer {
	t.Helper()
	in := errtracktest.New(t)
	rep, err := errtrack.New(in.DSN(), reportEnv, reportRelease, nil)
	require.NoError(t, err)
	logger, logs := testLogger()
	// httptest's requests come from 192.0.2.1, trusted here so that the
	// tests choose the request IDs they look for.
	clock := gwtest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s := newServer(Deps{Logger: logger, Errors: rep, Clock: clock,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}})
	mux := http.NewServeMux()
	rt := &router{mux: mux, s: s}
	register(rt, s)
	var patterns []string
	for _, r := range rt.routes {
		patterns = append(patterns, r.Pattern)
	}
	return &reportingServer{h: s.wrap(s.answerUnmatched(mux), patterns), ingest: in, reporter: rep, logs: logs, clock: clock}
}

// asMember registers pattern like router.org: the access wrapper puts the
// member's scope in the context, then notingRequest, then h.
func asMember(rt *router, pattern string, h http.Handler) {
	h = notingRequest(h)
	rt.add(Route{Pattern: pattern, Access: AccessOrg}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := gw.WithScope(r.Context(), gw.Scope{Actor: gw.Actor{UserID: reportUserID}, OrgID: reportOrgID, Role: gw.RoleMember})
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
}

// secretRequest carries a cookie, a bearer API key, a query token, a form
// password and a secret path value.
func secretRequest(method, path string) *http.Request {
	r := httptest.NewRequest(method, path+"?token=secret", strings.NewReader("password=hunter2&email="+reportEmail))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Cookie", "gw_session=cookie-secret")
	r.Header.Set("Authorization", "Bearer "+reportAPIKey)
	return r
}

// events flushes the reporter and returns every event the ingest got.
func (rs *reportingServer) events(t *testing.T) []errtracktest.Event {
	t.Helper()
	require.True(t, rs.reporter.Flush(5*time.Second))
	evs := rs.ingest.Events(t)
	raw := strings.Join(rs.ingest.Raw(), "\n")
	for _, s := range reportSecrets {
		require.NotContains(t, raw, s)
	}
	require.Empty(t, rs.ingest.Problems())
	return evs
}

func requireRequestTags(t *testing.T, ev errtracktest.Event, requestID, route string) {
	t.Helper()
	require.Subset(t, ev.Tags, map[string]string{
		"request_id":  requestID,
		"org_id":      reportOrgID,
		"user_id":     reportUserID,
		"route":       route,
		"release":     reportRelease,
		"environment": reportEnv,
	})
	require.Equal(t, reportRelease, ev.Release)
	require.Equal(t, reportEnv, ev.Environment)
	require.Equal(t, map[string]any{"id": reportUserID}, ev.User)
}

func TestReportPanic(t *testing.T) {
	t.Parallel()
	rs := newReportingServer(t, func(rt *router, _ *server) {
		asMember(rt, "POST /o/{org}/boom/{token}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			w.Header().Set("Set-Cookie", "session=leak")
			panic(fmt.Sprintf("boom for %s with %s", reportEmail, reportAPIKey))
		}))
	})

	r := secretRequest(http.MethodPost, "/o/acme/boom/"+reportToken)
	r.Header.Set(requestIDHeader, "panic-report-1")
	w := serve(rs.h, r)

	// One 500 answer, one log line, one event.
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Empty(t, w.Header().Get("Set-Cookie"))
	require.Equal(t, errorDetail{Code: gw.EINTERNAL, Message: internalMessage, RequestID: "panic-report-1"}, decodeError(t, w))
	require.Len(t, rs.logs.withMsg(t, "panic"), 1)
	require.Empty(t, rs.logs.withMsg(t, "internal error"))

	evs := rs.events(t)
	require.Len(t, evs, 1)
	ev := evs[0]
	require.Equal(t, "fatal", ev.Level)
	requireRequestTags(t, ev, "panic-report-1", "POST /o/{org}/boom/{token}")
	require.Equal(t, "panic", ev.Top().Type)
	require.Equal(t, "boom for [email] with [api-key]", ev.Top().Value)
	require.Equal(t, "http://example.com/o/acme/boom/[redacted]", ev.Request["url"])
	require.Contains(t, string(ev.Raw), `"function":"TestReportPanic`, "the stack trace reaches the panicking handler")
}

func TestReportPanicBeforeTheMux(t *testing.T) {
	t.Parallel()
	in := errtracktest.New(t)
	rep, err := errtrack.New(in.DSN(), reportEnv, reportRelease, nil)
	require.NoError(t, err)
	h := wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("early") }), Deps{Errors: rep}, nil)

	w := serve(h, httptest.NewRequest(http.MethodGet, "/x", nil))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.True(t, rep.Flush(5*time.Second))
	ev := in.WaitEvents(t, 1)[0]
	require.Equal(t, w.Header().Get(requestIDHeader), ev.Tags["request_id"])
	require.Equal(t, "unmatched", ev.Tags["route"])
	require.Equal(t, "early", ev.Top().Value)
}

func TestReport5xx(t *testing.T) {
	t.Parallel()
	failure := fmt.Errorf("charge %s: %w", reportEmail, fmt.Errorf("stripe: key %s rejected: password=hunter2", reportAPIKey))
	rs := newReportingServer(t, func(rt *router, s *server) {
		asMember(rt, "POST /o/{org}/fail", s.errorHandler(func(http.ResponseWriter, *http.Request) error {
			return failure
		}))
		asMember(rt, "GET /o/{org}/unavailable", s.errorHandler(func(http.ResponseWriter, *http.Request) error {
			return gw.Errorf(gw.EUNAVAILABLE, "The database is unavailable.")
		}))
		asMember(rt, "GET /o/{org}/missing", s.errorHandler(func(http.ResponseWriter, *http.Request) error {
			return gw.Errorf(gw.ENOTFOUND, "Not found.")
		}))
	})

	fail := func(name, accept string) {
		t.Helper()
		r := secretRequest(http.MethodPost, "/o/acme/fail")
		r.Header.Set("Accept", accept)
		r.Header.Set(requestIDHeader, "fail-"+name)
		w := serve(rs.h, r)
		require.Equal(t, http.StatusInternalServerError, w.Code)
		require.NotContains(t, w.Body.String(), reportEmail)
	}
	fail("json", "application/json")
	// The same failure again within the window: answered, not logged or
	// reported again (an outage would otherwise log every request).
	fail("held", "text/html")
	fail("held", "application/json")
	rs.clock.Advance(errorLogWindow)
	fail("html", "text/html")
	w := serve(rs.h, httptest.NewRequest(http.MethodGet, "/o/acme/unavailable", nil))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	w = serve(rs.h, httptest.NewRequest(http.MethodGet, "/o/acme/missing", nil))
	require.Equal(t, http.StatusNotFound, w.Code, "4xx are not reported")
	logged := rs.logs.withMsg(t, "internal error")
	require.Len(t, logged, 3, "each distinct 5xx logged once a window")
	require.Equal(t, "fail-html", logged[1]["request_id"])
	require.Equal(t, float64(2), logged[1]["repeated"], "the line after the window counts the repeats held back")

	evs := rs.events(t)
	require.Len(t, evs, 3, "each distinct 5xx reported once a window, 4xx never")
	for _, ev := range evs {
		require.NotEqual(t, "fail-held", ev.Tags["request_id"])
	}
	byRequest := map[string]errtracktest.Event{}
	for _, ev := range evs {
		byRequest[ev.Tags["request_id"]] = ev
	}
	for _, id := range []string{"fail-json", "fail-html"} {
		ev := byRequest[id]
		require.Equal(t, "error", ev.Level, id)
		requireRequestTags(t, ev, id, "POST /o/{org}/fail")
		require.Equal(t, gw.EINTERNAL, ev.Tags["error_code"])
		require.Equal(t, "charge [email]: stripe: key [api-key] rejected: password=[redacted]", ev.Top().Value)
		require.Contains(t, string(ev.Raw), `"function":"TestReport5xx`, "the stack trace shows the failing handler")
	}
	require.Equal(t, map[string]any{"held_back": float64(2)}, byRequest["fail-html"].Contexts["repeats"])
	var unavailable errtracktest.Event
	for _, ev := range evs {
		if ev.Tags["route"] == "GET /o/{org}/unavailable" {
			unavailable = ev
		}
	}
	require.Equal(t, gw.EUNAVAILABLE, unavailable.Tags["error_code"])
}

func TestReportStatusWithoutError(t *testing.T) {
	t.Parallel()
	rs := newReportingServer(t, func(rt *router, _ *server) {
		asMember(rt, "GET /o/{org}/gateway", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "upstream broke", http.StatusBadGateway)
		}))
		rt.ops("GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		}))
		rt.ops("GET /fine", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}))
	})

	r := httptest.NewRequest(http.MethodGet, "/o/acme/gateway", nil)
	r.Header.Set(requestIDHeader, "gateway-1")
	require.Equal(t, http.StatusBadGateway, serve(rs.h, r).Code)
	require.Equal(t, http.StatusServiceUnavailable, serve(rs.h, httptest.NewRequest(http.MethodGet, "/readyz", nil)).Code)
	require.Equal(t, http.StatusOK, serve(rs.h, httptest.NewRequest(http.MethodGet, "/fine", nil)).Code)
	require.Equal(t, http.StatusNotFound, serve(rs.h, httptest.NewRequest(http.MethodGet, "/nowhere", nil)).Code)

	evs := rs.events(t)
	require.Len(t, evs, 1, "only the 502: a readiness 503 is an answer, not a failure")
	requireRequestTags(t, evs[0], "gateway-1", "GET /o/{org}/gateway")
	require.Equal(t, "GET GET /o/{org}/gateway answered 502 Bad Gateway", evs[0].Top().Value)
}

func TestNoReporterNoReportState(t *testing.T) {
	t.Parallel()
	var seen *reportState
	s := newServer(Deps{})
	h := s.wrap(s.errorHandler(func(_ http.ResponseWriter, r *http.Request) error {
		seen = reportStateFrom(r.Context())
		return errors.New("x")
	}), nil)
	w := serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Nil(t, seen, "no per-request state without error tracking")
	reportError(httptest.NewRequest(http.MethodGet, "/", nil).WithContext(context.Background()), errors.New("no-op"))
}
