package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
)

// limitRule counts a request against a rate-limit policy, by the key that
// key returns; "" means the rule does not apply to the request. An error
// (an unreadable form) fails the request.
type limitRule struct {
	policy ratelimit.Policy
	key    func(r *http.Request) (string, error)
}

// perClientIP counts by the client's IP (clientIPKey).
func perClientIP(p ratelimit.Policy) limitRule {
	return limitRule{p, func(r *http.Request) (string, error) { return clientIPKey(r), nil }}
}

// clientIPKey is the client's IP (gw.ClientFrom) as a rate-limit key; IPv6
// clients by their /64, since one host usually holds a whole /64.
func clientIPKey(r *http.Request) string {
	ip := gw.ClientFrom(r.Context()).IP
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() {
		pfx, _ := a.Prefix(64)
		return pfx.String()
	}
	return ip
}

// perFormEmail counts by the posted email field, trimmed and lowercased as
// the account module normalises it. It parses the form (under the body
// limit); the handler then reads the parsed form.
func perFormEmail(p ratelimit.Policy) limitRule {
	return limitRule{p, formEmail}
}

// formEmail is the posted email field, trimmed and lowercased.
func formEmail(r *http.Request) (string, error) {
	f, err := parseForm(r, "email")
	if err != nil {
		return "", err
	}
	return strings.ToLower(f.Get("email")), nil
}

// The log-in rules below split failures by whether the browser holds a
// device token of the posted account (see ratelimit.LoginDevice and
// account.NewDeviceToken): a known device is counted by its token alone, an
// unknown one by the account and its IP, and by the account.

// perUnknownDeviceAccount counts by the posted email, unless the browser
// holds a device token of that account.
func (s *server) perUnknownDeviceAccount(p ratelimit.Policy) limitRule {
	return limitRule{p, func(r *http.Request) (string, error) {
		email, err := formEmail(r)
		if err != nil || email == "" || s.deviceID(r, email) != "" {
			return "", err
		}
		return email, nil
	}}
}

// perUnknownDeviceAccountIP counts by the posted email and the client's IP
// together, unless the browser holds a device token of that account.
func (s *server) perUnknownDeviceAccountIP(p ratelimit.Policy) limitRule {
	return limitRule{p, func(r *http.Request) (string, error) {
		email, err := formEmail(r)
		if err != nil || email == "" || s.deviceID(r, email) != "" {
			return "", err
		}
		return email + " " + clientIPKey(r), nil
	}}
}

// perDevice counts by the device token the browser holds for the posted
// account; it does not apply to a browser without one.
func (s *server) perDevice(p ratelimit.Policy) limitRule {
	return limitRule{p, func(r *http.Request) (string, error) {
		email, err := formEmail(r)
		if err != nil || email == "" {
			return "", err
		}
		return s.deviceID(r, email), nil
	}}
}

// perUser counts by the signed-in user; the route must require one.
func perUser(p ratelimit.Policy) limitRule {
	return limitRule{p, func(r *http.Request) (string, error) {
		if u := userFrom(r.Context()); u != nil {
			return u.ID, nil
		}
		return "", nil
	}}
}

// perPendingUser counts by the user who passed the password step and owes
// the second factor (from the session; the route must load it).
func (s *server) perPendingUser(p ratelimit.Policy) limitRule {
	return limitRule{p, func(r *http.Request) (string, error) {
		return s.d.Sessions.GetString(r.Context(), sessionPending2F), nil
	}}
}

// perAPIKey counts by the bearer token, identified by the first 16 bytes of
// its SHA-256: stable, and not the secret. Unknown keys count too (before
// authentication, so that guessing is limited as well).
func perAPIKey(p ratelimit.Policy) limitRule {
	return limitRule{p, func(r *http.Request) (string, error) {
		key, ok := bearerToken(r)
		if !ok {
			return "", nil
		}
		sum := sha256.Sum256([]byte(key))
		return hex.EncodeToString(sum[:16]), nil
	}}
}

// perCallerSearch counts searches (a non-empty ?q=) by the caller of the
// scope: the signed-in user or the API key. The route must set the scope
// first.
func perCallerSearch(p ratelimit.Policy) limitRule {
	return limitRule{p, func(r *http.Request) (string, error) {
		if r.URL.Query().Get("q") == "" {
			return "", nil
		}
		a := gw.ScopeFrom(r.Context()).Actor
		switch {
		case a.APIKeyID != "":
			return "key " + a.APIKeyID, nil
		case a.UserID != "":
			return "user " + a.UserID, nil
		}
		return "", nil
	}}
}

// perOrgSearch counts searches (a non-empty ?q=) by the organisation of the
// caller's scope; the route must set the scope first.
func perOrgSearch(p ratelimit.Policy) limitRule {
	return limitRule{p, func(r *http.Request) (string, error) {
		if r.URL.Query().Get("q") == "" {
			return "", nil
		}
		return gw.ScopeFrom(r.Context()).OrgID, nil
	}}
}

// limit lets a request through to next when every rule's budget allows it,
// and counts it against each; otherwise it answers 429 (see reject). Its
// RateLimit-Policy and RateLimit headers describe each rule's budget.
func (s *server) limit(next http.Handler, rules ...limitRule) http.Handler {
	return s.limited(next, countAll, rules)
}

// limitFailures is limit for attempts of which only failures count, such as
// log-ins: the request is counted before next runs (so that concurrent
// attempts cannot overrun the budget) and given back unless it failed: next
// answered 401 Unauthorized, or called countFailure (a wrong password on a
// form that answers 422). The headers are sent only with a 429.
func (s *server) limitFailures(next http.Handler, rules ...limitRule) http.Handler {
	return s.limited(next, countFailures, rules)
}

// limitFailuresAfter is limitFailures for requests that arrive many at a time
// from one client, such as API calls from behind one NAT or load balancer:
// next runs while each rule's budget has an event left (a peek that counts
// nothing), and a failure (401, or countFailure) is counted once next has
// answered. Requests in flight therefore never spend the budget; in exchange
// a burst of concurrent failures may overrun it by the burst's size, which is
// harmless where a failure cannot guess anything (API keys are random 256-bit
// secrets: the limit only bounds the work bogus keys cause).
func (s *server) limitFailuresAfter(next http.Handler, rules ...limitRule) http.Handler {
	return s.limited(next, countFailuresAfter, rules)
}

// failureMark records that a request limitFailures counts has failed.
type failureMark struct{ failed bool }

type failureMarkKey struct{}

// countFailure tells limitFailures, around the handler of r, that r failed
// and its events are to be kept, when its status alone does not say so. It
// does nothing on a route without limitFailures. The handler runs on the
// request's goroutine, before limitFailures reads the mark.
func countFailure(r *http.Request) {
	if m, ok := r.Context().Value(failureMarkKey{}).(*failureMark); ok {
		m.failed = true
	}
}

// countWrongPassword calls countFailure when err is the account module's
// answer to a wrong password: EINVALID with a message on field, the name
// the Service method documents for it ("password" or "current_password").
func countWrongPassword(r *http.Request, err error, field string) {
	if e, ok := errors.AsType[*gw.Error](err); ok && e.Code == gw.EINVALID && e.Fields[field] != "" {
		countFailure(r)
	}
}

// counted is one event a request was counted for.
type counted struct {
	policy ratelimit.Policy
	key    string
}

// countMode says which requests limited counts, and when.
type countMode int

const (
	countAll           countMode = iota // every request, before next (limit)
	countFailures                       // failures: counted before next, given back unless it failed (limitFailures)
	countFailuresAfter                  // failures: a peek before next, counted once it failed (limitFailuresAfter)
)

func (s *server) limited(next http.Handler, mode countMode, rules []limitRule) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.d.RateLimiter == nil {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		var mark *failureMark
		if mode != countAll {
			mark = &failureMark{}
			r = r.WithContext(context.WithValue(ctx, failureMarkKey{}, mark))
		}
		ask := s.d.RateLimiter.Allow
		if mode == countFailuresAfter {
			ask = s.d.RateLimiter.Peek
		}
		var taken []counted // counted, or only peeked at (countFailuresAfter)
		giveBack := func() {
			if mode != countFailuresAfter {
				s.refund(ctx, taken)
			}
		}
		for _, rule := range rules {
			key, err := rule.key(r)
			if err != nil {
				giveBack()
				s.serveError(w, r, err)
				return
			}
			if key == "" {
				continue
			}
			d, err := ask(ctx, rule.policy, key)
			if err != nil {
				s.rateLimitFailed(ctx, err) // fail open
				continue
			}
			if d.Limit.Unlimited() {
				continue
			}
			if !d.Allowed {
				giveBack()
				addRateLimitHeaders(w.Header(), d)
				s.reject(w, r, d)
				return
			}
			if mode == countAll {
				addRateLimitHeaders(w.Header(), d)
			}
			taken = append(taken, counted{rule.policy, key})
		}
		if mode == countAll || len(taken) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rec := recorderFor(w)
		next.ServeHTTP(rec, r)
		failed := rec.statusOr(http.StatusOK) == http.StatusUnauthorized || mark.failed
		switch {
		case mode == countFailures && !failed:
			s.refund(ctx, taken)
		case mode == countFailuresAfter && failed:
			ctx := context.WithoutCancel(ctx)
			for _, c := range taken {
				if err := s.d.RateLimiter.Count(ctx, c.policy, c.key); err != nil {
					s.rateLimitFailed(ctx, err)
				}
			}
		}
	})
}

// refund gives back the events of taken, even if the request was canceled.
func (s *server) refund(ctx context.Context, taken []counted) {
	ctx = context.WithoutCancel(ctx)
	for _, c := range taken {
		if err := s.d.RateLimiter.Refund(ctx, c.policy, c.key); err != nil {
			s.rateLimitFailed(ctx, err)
		}
	}
}

// rateLimitFailed logs a rate-limit backend failure and reports it to
// OnError; the request goes on (fail open). The Limiter has counted it in
// groundwork_ratelimit_errors_total.
func (s *server) rateLimitFailed(ctx context.Context, err error) {
	s.d.Logger.LogAttrs(ctx, slog.LevelError, "rate limit unavailable, request let through",
		slog.String("error", err.Error()))
	if s.d.OnError != nil {
		s.d.OnError(ctx, err)
	}
}

// reject answers 429 Too Many Requests for the exhausted budget d, with
// Retry-After, as an HTML page or a JSON error to match the caller, and logs
// it (the Limiter counted it in groundwork_ratelimit_rejected_total).
func (s *server) reject(w http.ResponseWriter, r *http.Request, d ratelimit.Decision) {
	secs := d.RetryAfterSeconds()
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.d.Logger.LogAttrs(r.Context(), slog.LevelWarn, "rate limited",
		slog.String("policy", string(d.Policy)),
		slog.String("client_ip", gw.ClientFrom(r.Context()).IP),
		slog.Int("retry_after_s", secs),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	)
	s.serveError(w, r, gw.Errorf(gw.ERATELIMIT, "%s: try again in %s.", tooMany(d.Policy), humanSeconds(secs)))
}

// tooMany says what a policy's caller did too often.
func tooMany(p ratelimit.Policy) string {
	switch p {
	case ratelimit.LoginIP, ratelimit.LoginAccountIP, ratelimit.LoginAccount, ratelimit.LoginDevice:
		return "Too many failed log-in attempts"
	case ratelimit.PasswordUser, ratelimit.PasswordIP:
		return "Too many wrong passwords"
	case ratelimit.SignupIP:
		return "Too many sign-ups from your network"
	case ratelimit.EmailAddress, ratelimit.EmailIP:
		return "Too many emails requested"
	case ratelimit.TwoFactor:
		return "Too many wrong codes"
	case ratelimit.APIKey:
		return "Too many requests with this API key"
	case ratelimit.APIAuthIP:
		return "Too many requests with a missing or invalid API key from your network"
	case ratelimit.Search:
		return "Too many searches"
	case ratelimit.SearchOrg:
		return "Too many searches in this organisation"
	default:
		return "Too many requests"
	}
}

// humanSeconds writes a wait in seconds, minutes or hours, rounded up.
func humanSeconds(secs int) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case secs < 120:
		return plural(secs, "second")
	case secs < 2*3600:
		return plural(int(math.Ceil(float64(secs)/60)), "minute")
	default:
		return plural(int(math.Ceil(float64(secs)/3600)), "hour")
	}
}

// addRateLimitHeaders adds d's budget in the IETF RateLimit header fields
// (draft-ietf-httpapi-ratelimit-headers): RateLimit-Policy gives the quota
// q per window w seconds, RateLimit the remaining r and the seconds t until
// it is back (when rejected, until the next request is allowed, as in
// Retry-After). Several policies on one request add one list member each.
func addRateLimitHeaders(h http.Header, d ratelimit.Decision) {
	name := `"` + string(d.Policy) + `"`
	window := int(math.Ceil(d.Limit.Period.Seconds()))
	h.Add("RateLimit-Policy", name+";q="+strconv.Itoa(d.Limit.Count)+";w="+strconv.Itoa(window))
	remaining, t := d.Remaining, d.ResetAfterSeconds()
	if !d.Allowed {
		remaining, t = 0, d.RetryAfterSeconds()
	}
	h.Add("RateLimit", name+";r="+strconv.Itoa(remaining)+";t="+strconv.Itoa(t))
}
