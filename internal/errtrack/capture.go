package errtrack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/getsentry/sentry-go"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// unmatchedRoute is the route tag of a request no route matched.
const unmatchedRoute = "unmatched"

// Job identifies a failed River job for CaptureJobError and CaptureJobPanic.
type Job struct {
	ID          int64
	Kind        string
	Queue       string
	Attempt     int // the attempt that failed, counting from 1
	MaxAttempts int
	// OrgID, UserID and RequestID tie the job to a tenant, a user and the
	// request that enqueued it, when known (by convention, the job's
	// arguments carry them as org_id, user_id and request_id). Empty ones
	// fall back to what the context carries.
	OrgID     string
	UserID    string
	RequestID string
}

// Final reports whether the failed attempt was the last one: River discards
// the job instead of retrying it.
func (j Job) Final() bool { return j.Attempt >= j.MaxAttempts }

// CaptureError reports err, a failure that did not fail a request or a job
// (for example the rate limiter's backend being down: requests are let
// through), tagged with what ctx carries (request ID, organisation, user).
func (rep *Reporter) CaptureError(ctx context.Context, err error) {
	if rep == nil || err == nil {
		return
	}
	ev := rep.client.EventFromException(err, sentry.LevelError)
	trimOwnFrames(ev)
	tags, userID := contextTags(ctx)
	rep.capture(ev, tags, userID)
}

// CaptureRequestError reports err, which made the request r fail with a 5xx
// response. r should be the request as the failing handler saw it, so that
// its context carries the request ID and the caller's scope, and r.Pattern
// the route.
func (rep *Reporter) CaptureRequestError(r *http.Request, err error) {
	if rep == nil || err == nil {
		return
	}
	ev := rep.client.EventFromException(err, sentry.LevelError)
	trimOwnFrames(ev)
	tags, userID := describeRequest(ev, r)
	tags["error_code"] = gw.ErrorCode(err)
	if n := repeatsFrom(r.Context()); n > 0 {
		ev.Contexts = map[string]sentry.Context{"repeats": {"held_back": n}}
	}
	rep.capture(ev, tags, userID)
}

type repeatsKey struct{}

// WithRepeats returns ctx noting that n failures like the one about to be
// reported were held back since the last report (see observe.Throttle);
// CaptureRequestError puts the count on the event, as repeats.held_back.
func WithRepeats(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, repeatsKey{}, n)
}

func repeatsFrom(ctx context.Context) int {
	n, _ := ctx.Value(repeatsKey{}).(int)
	return n
}

// CapturePanic reports the panic value v of the request r, with the stack
// from debug.Stack. Called from the deferred function that recovered the
// panic, the event's stack trace is the panicking goroutine's, up to the
// panic.
func (rep *Reporter) CapturePanic(r *http.Request, v any, stack []byte) {
	if rep == nil {
		return
	}
	ev := rep.client.EventFromException(panicError(v), sentry.LevelFatal)
	markPanic(ev, v)
	ev.Contexts = map[string]sentry.Context{"panic": {"stack": string(stack)}}
	tags, userID := describeRequest(ev, r)
	rep.capture(ev, tags, userID)
}

// CaptureJobError reports err, returned by an attempt of job. Every failed
// attempt is reported: at level warning while River will retry the job, at
// level error on the final attempt (tag final=true), so that alerts can
// follow final failures without hiding the first one.
func (rep *Reporter) CaptureJobError(ctx context.Context, job Job, err error) {
	if rep == nil || err == nil {
		return
	}
	ev := rep.client.EventFromException(err, jobLevel(job))
	dropStacktraces(ev) // the capturing goroutine's stack is River's, not the job's
	ev.Transaction = job.Kind
	ev.Contexts = map[string]sentry.Context{"job": jobContext(job)}
	tags, userID := jobTags(ctx, job)
	rep.capture(ev, tags, userID)
}

// CaptureJobPanic reports the panic value v of an attempt of job, with the
// stack trace River recorded. Attempts are reported as by CaptureJobError.
func (rep *Reporter) CaptureJobPanic(ctx context.Context, job Job, v any, trace string) {
	if rep == nil {
		return
	}
	ev := rep.client.EventFromException(panicError(v), jobLevel(job))
	dropStacktraces(ev)
	markPanic(ev, v)
	ev.Transaction = job.Kind
	ev.Contexts = map[string]sentry.Context{"job": jobContext(job), "panic": {"stack": trace}}
	tags, userID := jobTags(ctx, job)
	rep.capture(ev, tags, userID)
}

// capture sends ev through a hub of its own, tagged with tags (empty values
// left out), the release and the environment, and with userID as the user.
func (rep *Reporter) capture(ev *sentry.Event, tags map[string]string, userID string) {
	hub := sentry.NewHub(rep.client, sentry.NewScope())
	scope := hub.Scope()
	// The event's release and environment fields are what Sentry filters
	// on; the tags of the same name make them visible on every view.
	tags["release"] = rep.opts.Release
	tags["environment"] = rep.opts.Environment
	for k, v := range tags {
		if v != "" {
			scope.SetTag(k, v)
		}
	}
	if userID != "" {
		scope.SetUser(sentry.User{ID: userID})
	}
	hub.CaptureEvent(ev)
}

// describeRequest sets ev's transaction (the route pattern) and request
// interface from r, and returns the event's tags and user ID.
func describeRequest(ev *sentry.Event, r *http.Request) (map[string]string, string) {
	tags, userID := contextTags(r.Context())
	route := r.Pattern
	if route == "" {
		route = unmatchedRoute
	}
	ev.Transaction = route
	ev.Request = requestInterface(r)
	tags["route"] = route
	tags["method"] = r.Method
	return tags, userID
}

// contextTags returns the request ID and scope (organisation, user or API
// key) carried by ctx as tags, and the user ID. Never the email.
func contextTags(ctx context.Context) (map[string]string, string) {
	s := gw.ScopeFrom(ctx)
	return map[string]string{
		"request_id": gw.RequestID(ctx),
		"org_id":     s.OrgID,
		"user_id":    s.UserID,
		"api_key_id": s.APIKeyID,
	}, s.UserID
}

func jobTags(ctx context.Context, job Job) (map[string]string, string) {
	tags, userID := contextTags(ctx)
	for k, v := range map[string]string{"org_id": job.OrgID, "user_id": job.UserID, "request_id": job.RequestID} {
		if v != "" {
			tags[k] = v
		}
	}
	if job.UserID != "" {
		userID = job.UserID
	}
	tags["job_id"] = strconv.FormatInt(job.ID, 10)
	tags["job_kind"] = job.Kind
	tags["queue"] = job.Queue
	tags["attempt"] = strconv.Itoa(job.Attempt)
	tags["max_attempts"] = strconv.Itoa(job.MaxAttempts)
	tags["final"] = strconv.FormatBool(job.Final())
	return tags, userID
}

func jobContext(job Job) sentry.Context {
	return sentry.Context{
		"id":           job.ID,
		"kind":         job.Kind,
		"queue":        job.Queue,
		"attempt":      job.Attempt,
		"max_attempts": job.MaxAttempts,
	}
}

func jobLevel(job Job) sentry.Level {
	if job.Final() {
		return sentry.LevelError
	}
	return sentry.LevelWarning
}

// panicError is the panic value v as an error.
func panicError(v any) error {
	if err, ok := v.(error); ok {
		return err
	}
	return errors.New(fmt.Sprint(v))
}

// markPanic marks the outermost exception of ev as an unhandled panic; a
// panic value that is not an error gets the type "panic" rather than the
// type of the error made from it.
func markPanic(ev *sentry.Event, v any) {
	if len(ev.Exception) == 0 {
		return
	}
	top := &ev.Exception[len(ev.Exception)-1]
	if _, ok := v.(error); !ok {
		top.Type = "panic"
	}
	top.Mechanism = &sentry.Mechanism{Type: "panic", Handled: sentry.Pointer(false), ExceptionID: len(ev.Exception) - 1}
}

// ownPackage is this package's import path, whose frames are trimmed from
// captured stack traces.
var ownPackage = reflect.TypeFor[Reporter]().PkgPath()

// trimOwnFrames drops this package's frames from the end (the innermost
// calls) of ev's stack traces, so that they end where the error was reported.
func trimOwnFrames(ev *sentry.Event) {
	for i := range ev.Exception {
		st := ev.Exception[i].Stacktrace
		if st == nil {
			continue
		}
		n := len(st.Frames)
		for n > 0 && st.Frames[n-1].Module == ownPackage {
			n--
		}
		st.Frames = st.Frames[:n]
	}
}

// dropStacktraces removes the stack traces sentry-go attached at capture.
func dropStacktraces(ev *sentry.Event) {
	for i := range ev.Exception {
		ev.Exception[i].Stacktrace = nil
	}
}

// requestInterface describes r to Sentry: method, URL without query string
// (and with secret path values such as {token} redacted), and a few harmless
// headers. Cookies, authorization, forwarded IPs, query strings and bodies
// are never included.
func requestInterface(r *http.Request) *sentry.Request {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := scheme + "://" + r.Host + redactPathValues(r)
	headers := map[string]string{}
	for _, k := range []string{"User-Agent", "Accept", "Content-Type", "Content-Length"} {
		if v := r.Header.Get(k); v != "" {
			headers[k] = v
		}
	}
	return &sentry.Request{URL: u, Method: r.Method, Headers: headers}
}

// wildcardRE matches the wildcards of a ServeMux pattern: {name} and {name...}.
var wildcardRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?:\.\.\.)?\}`)

// redactPathValues returns r's escaped path with the values of wildcards
// whose name says they are secret (such as {token}) replaced by [redacted].
func redactPathValues(r *http.Request) string {
	path := r.URL.EscapedPath()
	for _, m := range wildcardRE.FindAllStringSubmatch(r.Pattern, -1) {
		if !sensitiveName(m[1]) {
			continue
		}
		if v := r.PathValue(m[1]); v != "" {
			path = strings.ReplaceAll(path, url.PathEscape(v), redacted)
			path = strings.ReplaceAll(path, v, redacted)
		}
	}
	return path
}
