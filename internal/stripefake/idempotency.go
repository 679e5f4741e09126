package stripefake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"
)

// Idempotent requests, as documented at
// https://docs.stripe.com/api/idempotent_requests:
//
//   - "Stripe's idempotency works by saving the resulting status code and
//     body of the first request made for any given idempotency key,
//     regardless of whether it succeeds or fails. Subsequent requests with
//     the same key return the same result, including 500 errors." A POST
//     with a key seen before is answered with the saved response (and
//     Idempotent-Replayed: true), whatever changed in the account since.
//   - "You can remove keys from the system automatically after they're at
//     least 24 hours old. We generate a new request if a key is reused after
//     the original is pruned." The fake prunes a key IdempotencyKeyTTL after
//     its first use, by its own clock (Advance).
//   - "The idempotency layer compares incoming parameters to those of the
//     original request and errors if they're not the same": another method,
//     path or form with a saved key is 400 idempotency_error.
//   - "We save results only after the execution of an endpoint begins. If
//     incoming parameters fail validation, or the request conflicts with
//     another one that's executing concurrently, we don't save the
//     idempotent result": an invalid_request_error (the fake's 4xx
//     refusals) is not saved, and a request arriving while another with the
//     same key runs is 409 idempotency_error, not saved either.
//   - "Sending idempotency keys in GET and DELETE requests has no effect":
//     only POSTs are considered.

// IdempotencyKeyTTL is how long the fake keeps an idempotency key's first
// result: Stripe prunes keys once they are at least 24 hours old.
const IdempotencyKeyTTL = 24 * time.Hour

// idemEntry is an idempotency key's first request and, once it finished,
// its response.
type idemEntry struct {
	method, path, form string
	at                 time.Time // the fake's clock at the first use
	running            bool
	status             int
	header             http.Header
	body               []byte
}

// serveIdempotent serves a POST carrying an Idempotency-Key (see above).
func (s *Server) serveIdempotent(w http.ResponseWriter, r *http.Request, key string, form url.Values) {
	enc := form.Encode()
	s.mu.Lock()
	e, seen := s.idem[key]
	if seen && !e.running && !s.now.Before(e.at.Add(IdempotencyKeyTTL)) {
		delete(s.idem, key) // pruned: the key starts afresh
		seen = false
	}
	if seen {
		saved := *e
		s.mu.Unlock()
		switch {
		case saved.running:
			writeErr(w, http.StatusConflict, "idempotency_error",
				"There is currently another in-progress request using this Stripe-Idempotency-Key. Please try again later.")
		case saved.method != r.Method || saved.path != r.URL.Path || saved.form != enc:
			writeErr(w, http.StatusBadRequest, "idempotency_error",
				"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '"+key+"' if you meant to execute a different request.")
		default:
			for k, v := range saved.header {
				w.Header()[k] = v
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(saved.status)
			_, _ = w.Write(saved.body)
		}
		return
	}
	e = &idemEntry{method: r.Method, path: r.URL.Path, form: enc, at: s.now, running: true}
	s.idem[key] = e
	s.mu.Unlock()

	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, r)

	s.mu.Lock()
	if savedResult(rec.Code, rec.Body.Bytes()) {
		e.running, e.status, e.header, e.body = false, rec.Code, rec.Header().Clone(), rec.Body.Bytes()
	} else {
		delete(s.idem, key)
	}
	s.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// savedResult reports whether a response is kept for its idempotency key:
// every success, card error and server error, but not a refused request
// (invalid_request_error or idempotency_error), which never began executing.
func savedResult(status int, body []byte) bool {
	if status < 400 || status >= 500 {
		return true
	}
	var e struct {
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return true
	}
	return e.Error.Type != "invalid_request_error" && e.Error.Type != "idempotency_error"
}
