// Package idempotency gives the API's creates Stripe's Idempotency-Key
// semantics: a client that retries a create with the same key and the same
// body within 24 hours gets the resource the first request created, with
// no second write; the same key with another body is refused.
//
// The web layer looks the key up before the create (Find) and puts it in
// the request's context (WithKey); the module that creates the resource
// calls RecordTx in its own transaction, so the key and the resource
// commit together. A server killed after the commit but before answering
// leaves the key recorded, and the client's retry is answered with the
// resource instead of creating it twice. Two requests with one key at the
// same moment: the second one's RecordTx fails with ECONFLICT (409), as
// Stripe answers a key still in flight.
//
// Unlike Stripe, no response body is stored (it would hold decrypted
// fields): a replay renders the resource as it is now.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// TTL is how long a key is remembered, as Stripe does ("at least 24 hours").
const TTL = 24 * time.Hour

// MaxKeyLen is the longest key accepted, in bytes (Stripe's limit).
const MaxKeyLen = 255

// Key is one use of an Idempotency-Key: by whom, in which organisation, and
// the hash of the request it came with (RequestHash).
type Key struct {
	OrgID  string
	Caller string // "key <api key id>" or "user <user id>" (CallerOf)
	Value  string // the header's value
	Hash   string // RequestHash of the request
}

// CallerOf names the actor of scope for a Key: keys are per caller, so one
// API key cannot replay (or block) another's.
func CallerOf(scope gw.Scope) string {
	if scope.Actor.APIKeyID != "" {
		return "key " + scope.Actor.APIKeyID
	}
	return "user " + scope.Actor.UserID
}

// RequestHash fingerprints a request: method, path and body.
func RequestHash(method, path string, body []byte) string {
	h := NewRequestHasher(method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// NewRequestHasher returns a hash that RequestHash would give once the
// request's body is written to it: for bodies too large to hold (an
// upload), hashed as they stream. Its Sum, hex-encoded, is the Key's Hash.
func NewRequestHasher(method, path string) hash.Hash {
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\x00"))
	return h
}

// CheckValue refuses a key that is empty, longer than MaxKeyLen or not
// printable ASCII (EINVALID naming the header).
func CheckValue(v string) error {
	if v == "" || len(v) > MaxKeyLen || strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return &gw.Error{Code: gw.EINVALID, Message: "The Idempotency-Key header must be 1–255 printable ASCII characters.",
			Fields: map[string]string{"Idempotency-Key": "Must be 1–255 printable ASCII characters."}}
	}
	return nil
}

type keyCtx struct{}

// WithKey returns ctx carrying k, for RecordTx.
func WithKey(ctx context.Context, k Key) context.Context {
	return context.WithValue(ctx, keyCtx{}, k)
}

// streamedKey is a Key whose Hash is known only once its body was read.
type streamedKey struct {
	key  Key
	hash func() string
}

// WithStreamedKey returns ctx carrying k for RecordTx, k's Hash being
// hash() at the time RecordTx runs: for a create that streams its body
// (an upload) and records the key once it has read it all.
func WithStreamedKey(ctx context.Context, k Key, hash func() string) context.Context {
	return context.WithValue(ctx, keyCtx{}, streamedKey{key: k, hash: hash})
}

// RecordTx records, in tx (a transaction of k's organisation), that the
// request in ctx created resourceID, when ctx carries a Key; otherwise it
// does nothing. It also forgets the organisation's keys older than TTL.
// Errors: ECONFLICT when another request recorded the same key meanwhile.
func RecordTx(ctx context.Context, tx pgx.Tx, resourceID string) error {
	var k Key
	switch v := ctx.Value(keyCtx{}).(type) {
	case Key:
		k = v
	case streamedKey:
		k = v.key
		k.Hash = v.hash()
	default:
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys
		WHERE org_id = $1 AND created_at < now() - make_interval(secs => $2)`, k.OrgID, TTL.Seconds()); err != nil {
		return postgres.Translate(err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (org_id, caller, key, request_hash, resource_id)
		VALUES ($1, $2, $3, $4, $5)`, k.OrgID, k.Caller, k.Value, k.Hash, resourceID)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == pgerrcode.UniqueViolation {
		return gw.Errorf(gw.ECONFLICT, "Another request with this Idempotency-Key was being processed; retry to get its result.")
	}
	return postgres.Translate(err)
}

// Store looks keys up.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool (the runtime role).
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Find returns the resource that an earlier request with k's key created,
// or "" when the key is new (or older than TTL). Errors: EINVALID when the
// key was used with another request (method, path or body).
func (s *Store) Find(ctx context.Context, k Key) (string, error) {
	hash, resourceID, err := s.Lookup(ctx, k)
	if err != nil || resourceID == "" {
		return "", err
	}
	if hash != k.Hash {
		return "", ErrReused()
	}
	return resourceID, nil
}

// Lookup returns the request hash and the resource of an earlier request
// with k's key (k.Hash is not looked at), or "", "" when the key is new (or
// older than TTL): for a create that can hash its request only by reading
// a body too large to hold, and does so only when the key was used.
func (s *Store) Lookup(ctx context.Context, k Key) (hash, resourceID string, err error) {
	err = postgres.InOrgTx(ctx, s.pool, k.OrgID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT request_hash, resource_id FROM idempotency_keys
			WHERE org_id = $1 AND caller = $2 AND key = $3 AND created_at >= now() - make_interval(secs => $4)`,
			k.OrgID, k.Caller, k.Value, TTL.Seconds()).Scan(&hash, &resourceID)
	})
	if errors.Is(err, pgx.ErrNoRows) || gw.ErrorCode(err) == gw.ENOTFOUND {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	return hash, resourceID, nil
}

// ErrReused is the error of a key used with another request: EINVALID
// naming the header.
func ErrReused() error {
	return &gw.Error{Code: gw.EINVALID, Message: "This Idempotency-Key was already used with another request; use a new key for a new request.",
		Fields: map[string]string{"Idempotency-Key": "Already used with another request."}}
}
