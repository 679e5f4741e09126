package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/observe"
)

// requestIDHeader carries the request ID in requests and responses.
const requestIDHeader = "X-Request-ID"

// maxRequestIDLen is the longest inbound request ID that is kept.
const maxRequestIDLen = 128

// wrap puts h behind the middleware stack of a server built from d (see
// server.wrap), for tests of the stack around handlers of their own.
func wrap(h http.Handler, d Deps, patterns []string) http.Handler {
	return newServer(d).wrap(h, patterns)
}

// wrap puts h behind the middleware stack, outermost first: recover →
// request ID (a trusted proxy's, else made) → client IP (trusted proxies
// only) → access log + metrics → Connection: close while draining →
// security headers → body limit → cross-origin refusal → refusal of text
// PostgreSQL cannot store (NUL, not UTF-8) → h. Rate limits apply
// per route (routes.go, ratelimit.go). patterns are the
// registered route patterns; any other r.Pattern is labelled "unmatched".
func (s *server) wrap(h http.Handler, patterns []string) http.Handler {
	routes := make(map[string]bool, len(patterns))
	for _, p := range patterns {
		routes[p] = true
	}
	h = s.refuseUnstorableText(h)
	h = s.refuseCrossOrigin(h)
	h = s.limitBody(h)
	h = securityHeaders(s.d.Production, s.d.FormActionOrigins)(h)
	h = closeWhileDraining(s.d.Drain)(h)
	h = accessLog(s.d.Logger, s.d.Metrics, s.d.Requests, routes)(h)
	h = withClient(s.d.TrustedProxies)(h) // above the access log: it copies r, which would hide r.Pattern
	h = requestID(s.d.TrustedProxies)(h)
	h = s.recoverPanics(h)
	if s.d.TracerProvider != nil {
		// Outermost, so that every log line of the request carries its
		// trace and span IDs (observe.ContextHandler).
		h = otelhttp.NewHandler(h, "http.server", otelhttp.WithTracerProvider(s.d.TracerProvider),
			otelhttp.WithPropagators(propagation.TraceContext{}),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	}
	return h
}

// recoverPanics turns a panic below it into a 500 carrying the request ID
// (serveError's answer, with errPanicked), and logs the panic and its stack
// once at ERROR and reports it once to Deps.Errors (error tracking; nil
// reports nothing). A panic with http.ErrAbortHandler is re-panicked, as
// net/http expects. If the response had already started, the connection is
// aborted instead. It also reports a 5xx response that nothing below
// reported (see report.go).
func (s *server) recoverPanics(next http.Handler) http.Handler {
	logger, reporter := s.d.Logger, s.d.Errors
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorderFor(w)
		var st *reportState
		if reporter.Enabled() {
			r, st = withReportState(r, reporter)
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { // compared exactly, as net/http does
				panic(v)
			}
			// The request ID middleware runs below this one; it left the
			// ID in the response header.
			h := rec.Header()
			id := h.Get(requestIDHeader)
			if id == "" {
				id = gw.NewID()
			}
			ctx := gw.WithRequestID(r.Context(), id)
			stack := debug.Stack()
			logger.LogAttrs(ctx, slog.LevelError, "panic",
				slog.String("panic", fmt.Sprint(v)),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("stack", string(stack)),
			)
			st.reportPanic(r.WithContext(ctx), v, stack)
			if rec.wroteHeader {
				// Too late for a clean 500: make net/http drop the connection
				// so the client sees a truncated response, not a corrupt one.
				panic(http.ErrAbortHandler)
			}
			// Drop what the handler set (cookies, content headers) before
			// failing, but keep the security headers set above the handler.
			keepOnlySecurityHeaders(h)
			h.Set(requestIDHeader, id)
			s.serveError(rec, r.WithContext(ctx), errPanicked)
		}()
		next.ServeHTTP(rec, r)
		if st != nil && rec.statusOr(http.StatusOK) >= 500 {
			ctx := gw.WithRequestID(r.Context(), rec.Header().Get(requestIDHeader))
			st.reportStatus(r.WithContext(ctx), rec.status)
		}
	})
}

// requestID gives each request its ID: the X-Request-ID a trusted proxy
// sent (Deps.TrustedProxies, the peers whose X-Forwarded-For is believed),
// if well-formed, and otherwise a new one. It echoes the ID in the
// X-Request-ID response header and puts it in the request context
// (gw.WithRequestID), so that log lines and the audit log carry it. An
// inbound ID from anyone else is ignored: it would let any client write a
// value of its choice into the logs and the tamper-evident audit log, or
// pass itself off as another request (Rails and Heroku's router likewise
// take the ID from the platform's edge, not the client).
func requestID(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := ""
			if peer, ok := parseIP(r.RemoteAddr); ok && isTrusted(peer, trusted) {
				if inbound := r.Header.Get(requestIDHeader); validRequestID(inbound) {
					id = inbound
				}
			}
			if id == "" {
				id = gw.NewID()
			}
			w.Header().Set(requestIDHeader, id)
			next.ServeHTTP(w, r.WithContext(gw.WithRequestID(r.Context(), id)))
		})
	}
}

// closeWhileDraining sets Connection: close on every response while d
// drains, so that net/http closes each connection after its response and a
// keep-alive client opens a new one for its next request — through the load
// balancer, which by then routes elsewhere — instead of writing it on a
// connection the server is about to close.
func closeWhileDraining(d *Drain) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if d == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d.Draining() {
				w.Header().Set("Connection", "close")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// validRequestID reports whether id is 1 to 128 printable ASCII characters
// without spaces (0x21–0x7E).
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := range len(id) {
		if id[i] < 0x21 || id[i] > 0x7E {
			return false
		}
	}
	return true
}

// accessLog logs one INFO line "request" per request (method, route, status,
// duration_ms, bytes; request_id comes from the context) and records the
// request in metrics and in requests (the operator console's windows). route is the pattern the mux matched, read from
// r.Pattern after the mux ran, or "unmatched" if it is not one of routes.
func accessLog(logger *slog.Logger, metrics *observe.HTTPMetrics, requests *observe.Requests, routes map[string]bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			metrics.RequestStarted()
			rec := recorderFor(w)
			completed := false
			defer func() {
				elapsed := time.Since(start)
				status := rec.statusOr(http.StatusOK)
				if !completed && !rec.wroteHeader {
					status = http.StatusInternalServerError // panicking; recoverPanics answers 500
				}
				route := observe.UnmatchedRoute
				if routes[r.Pattern] {
					route = r.Pattern
				}
				metrics.RequestFinished(route, r.Method, status, elapsed)
				traceID := ""
				if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
					traceID = sc.TraceID().String()
				}
				requests.Record(r.Method, route, status, elapsed, gw.RequestID(r.Context()), traceID)
				logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("method", r.Method),
					slog.String("route", route),
					slog.Int("status", status),
					slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
					slog.Int64("bytes", rec.bytes),
				)
			}()
			next.ServeHTTP(rec, r)
			completed = true
		})
	}
}

// limitBody caps request bodies at Deps.MaxBodyBytes: a declared
// Content-Length over the cap gets 413 at once, and reading past the cap
// fails with a *http.MaxBytesError, which serveError answers with 413. It
// replaces r.Body in place (r must be this middleware stack's own copy) so
// that r.Pattern, set by the mux below, stays visible to the access log
// above. A cap of 0 or less disables it.
func (s *server) limitBody(next http.Handler) http.Handler {
	maxBytes := s.d.MaxBodyBytes
	if maxBytes <= 0 {
		return next
	}
	// The upload routes take files up to the imports' limit, with room for
	// the form's other fields.
	uploads := http.NewServeMux()
	for _, p := range uploadRoutes {
		uploads.Handle(p, http.NotFoundHandler())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == http.NoBody { // net/http's body of a request without one
			next.ServeHTTP(w, r)
			return
		}
		maxBytes := maxBytes
		if _, p := uploads.Handler(r); p != "" && s.d.Imports != nil {
			maxBytes = max(maxBytes, s.d.Imports.MaxBytes()+maxBytes)
		}
		if r.ContentLength > maxBytes {
			s.serveError(w, r, &http.MaxBytesError{Limit: maxBytes})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
		next.ServeHTTP(w, r)
	})
}

// refuseCrossOrigin refuses state-changing requests that a browser sends
// from another origin (CSRF) with 403, using Go's http.CrossOriginProtection
// (Fetch metadata and Origin checks). Requests without browser headers, such
// as API clients and webhooks, pass.
func (s *server) refuseCrossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveError(w, r, gw.Errorf(gw.EFORBIDDEN, "Cross-origin requests that change data are refused."))
	}))
	return cop.Handler(next)
}
