package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/groundwork-dev/groundwork/internal/errtrack"
)

// Error reporting (Deps.Errors). recoverPanics puts a reportState in each
// request's context; what runs below it notes in there the request as the
// handler saw it (its context carries the caller's scope, r.Pattern the
// route), so that a panic caught above the mux is reported with the route,
// organisation and user, and a 5xx is reported exactly once.

type reportStateKey struct{}

// reportState is one request's error-reporting state. It is used by the
// request's own goroutine only.
type reportState struct {
	errors *errtrack.Reporter
	// req is the innermost request noted: the mux's (r.Pattern), then the
	// route handler's (scope), then the one a 5xx error was written for.
	req *http.Request
	// reported says a 5xx error was already reported for this request.
	reported bool
}

// withReportState returns r with a fresh reportState in its context.
func withReportState(r *http.Request, reporter *errtrack.Reporter) (*http.Request, *reportState) {
	st := &reportState{errors: reporter}
	return r.WithContext(context.WithValue(r.Context(), reportStateKey{}, st)), st
}

func reportStateFrom(ctx context.Context) *reportState {
	st, _ := ctx.Value(reportStateKey{}).(*reportState)
	return st
}

// noteRequest records r as the request the handler sees, for reporting a
// panic with its route and scope.
func noteRequest(r *http.Request) {
	if st := reportStateFrom(r.Context()); st != nil {
		st.req = r
	}
}

// notingRequest is a route's innermost handler wrapper: it notes the
// request, with the scope the access wrappers put in its context, before
// the handler runs.
func notingRequest(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noteRequest(r)
		h.ServeHTTP(w, r)
	})
}

// reportError reports err, which r is answered with a 5xx for, to error
// tracking. It is called where the 5xx is logged (serveError), so the
// event's stack trace shows the failing handler.
func reportError(r *http.Request, err error) {
	st := reportStateFrom(r.Context())
	if st == nil {
		return
	}
	st.req, st.reported = r, true
	st.errors.CaptureRequestError(r, err)
}

// heldBack notes that a 5xx error of r was not reported because the same
// error was reported moments ago (serveError's throttle), so that
// reportStatus does not report the response instead.
func heldBack(r *http.Request) {
	if st := reportStateFrom(r.Context()); st != nil {
		st.reported = true
	}
}

// reportPanic reports the panic value v of the request outer (as
// recoverPanics saw it, with the request ID in its context).
func (st *reportState) reportPanic(outer *http.Request, v any, stack []byte) {
	if st == nil {
		return
	}
	st.errors.CapturePanic(st.request(outer), v, stack)
}

// reportStatus reports a 5xx response that no error was reported for, such
// as one a handler wrote itself. A 503 without an error is a readiness
// answer (/readyz), not a failure, and is not reported.
func (st *reportState) reportStatus(outer *http.Request, status int) {
	if st == nil || st.reported || status < 500 || status == http.StatusServiceUnavailable {
		return
	}
	r := st.request(outer)
	st.errors.CaptureRequestError(r, fmt.Errorf("%s %s answered %d %s", r.Method, routeOf(r), status, http.StatusText(status)))
}

// request is the innermost request noted, or outer.
func (st *reportState) request(outer *http.Request) *http.Request {
	if st.req != nil {
		return st.req
	}
	return outer
}

func routeOf(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}
