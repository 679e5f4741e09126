package web

import (
	"bytes"
	"encoding/hex"
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

// idempotentUpload is idempotentCreate for a create whose body is a file
// to stream (POST /api/v1/imports), never held in memory: the request's
// fingerprint covers its method, path, query (the import's mode and file
// name) and body, hashed as the body streams. With a key new to the
// caller, next runs with the key in its context, its hash completed once
// the module has read the body (idempotency.WithStreamedKey); with a key
// already used, the body is read through the hash only (to io.Discard) and
// the request is replayed (the resource it created, 202,
// Idempotent-Replayed: true) when it is the same one, or refused (422).
func (s *server) idempotentUpload(next http.Handler, replay func(w http.ResponseWriter, r *http.Request, id string) error) http.Handler {
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
		scope := gw.ScopeFrom(r.Context())
		key := idempotency.Key{OrgID: scope.OrgID, Caller: idempotency.CallerOf(scope), Value: value[0]}
		h := idempotency.NewRequestHasher(r.Method, r.URL.Path+"?"+r.URL.Query().Encode())
		sum := func() string { return hex.EncodeToString(h.Sum(nil)) }
		hash, id, err := s.d.Idempotency.Lookup(r.Context(), key)
		if err != nil {
			return err
		}
		if id != "" {
			allowSlowUpload(w)
			if _, err := io.Copy(h, r.Body); err != nil {
				return jsonError(err) // over the upload limit: 413
			}
			if sum() != hash {
				return idempotency.ErrReused()
			}
			w.Header().Set(idempotentReplayedHeader, "true")
			return replay(w, r, id)
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, h), r.Body}
		next.ServeHTTP(w, r.WithContext(idempotency.WithStreamedKey(r.Context(), key, sum)))
		return nil
	})
}
