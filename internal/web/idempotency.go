package web

import (
	"bytes"
	"io"
	"net/http"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/idempotency"
)

// idempotencyHeader is the request header of an idempotent create, as
// Stripe names it; idempotentReplayedHeader marks a replayed answer.
const (
	idempotencyHeader        = "Idempotency-Key"
	idempotentReplayedHeader = "Idempotent-Replayed"
)

// idempotentCreate gives the API create next Stripe's Idempotency-Key
// semantics (package idempotency): without the header, next runs as
// usual; with a key new to the caller, next runs with the key in its
// context, and the module records it with the resource it creates; with a
// key the caller used for the same request within 24 hours, replay answers
// with the resource that request created (201, Idempotent-Replayed: true),
// writing nothing; with a key used for another request, 422.
func (s *server) idempotentCreate(next http.Handler, replay func(w http.ResponseWriter, r *http.Request, id string) error) http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		value, sent := r.Header[http.CanonicalHeaderKey(idempotencyHeader)]
		if !sent || s.d.Idempotency == nil {
			next.ServeHTTP(w, r)
			return nil
		}
		if len(value) > 1 {
			value = []string{""} // two keys: refused as a malformed one
		}
		if err := idempotency.CheckValue(value[0]); err != nil {
			return err
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return jsonError(err) // over the body limit: 413
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		scope := gw.ScopeFrom(r.Context())
		key := idempotency.Key{OrgID: scope.OrgID, Caller: idempotency.CallerOf(scope), Value: value[0],
			Hash: idempotency.RequestHash(r.Method, r.URL.Path, body)}
		id, err := s.d.Idempotency.Find(r.Context(), key)
		if err != nil {
			return err
		}
		if id != "" {
			w.Header().Set(idempotentReplayedHeader, "true")
			return replay(w, r, id)
		}
		next.ServeHTTP(w, r.WithContext(idempotency.WithKey(r.Context(), key)))
		return nil
	})
}
