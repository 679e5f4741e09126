package org

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// API keys look like gw_<prefix>_<secret>: an 8-character random prefix
// (lowercase base32), shown in lists to recognise the key, and 32 random
// bytes in base64url. The database keeps only the SHA-256 of the whole key.
const (
	apiKeyTag         = "gw_"
	apiKeyPrefixLen   = 8
	apiKeySecretBytes = 32
)

func errInvalidAPIKey() error { return gw.Errorf(gw.EUNAUTHORIZED, "Invalid API key.") }

// CreateAPIKey creates an API key for the scope's organisation with role
// (admin, member or viewer, no stronger than the creator's) and returns it
// with the key itself, which is shown only this once. It returns ENOTFOUND,
// EFORBIDDEN (authz.APIKeysManage, role too strong) and EINVALID (bad name
// or role).
func (s *Service) CreateAPIKey(ctx context.Context, scope gw.Scope, name string, role gw.Role) (APIKey, string, error) {
	if err := authz.Require(scope, authz.APIKeysManage); err != nil {
		return APIKey{}, "", err
	}
	if err := checkGrantable(scope.Role, role); err != nil {
		return APIKey{}, "", err
	}
	return s.createAPIKey(ctx, scope, name, role)
}

// CreateAPIKeyAsAdmin creates an API key for organisation orgID without a
// scope, for the trusted admin command line. It returns ENOTFOUND (no such
// organisation) and EINVALID (bad name, or role not admin, member or viewer).
func (s *Service) CreateAPIKeyAsAdmin(ctx context.Context, orgID, name string, role gw.Role) (APIKey, string, error) {
	if err := checkGrantable(gw.RoleOwner, role); err != nil {
		return APIKey{}, "", err
	}
	if !gw.ValidID(orgID) {
		return APIKey{}, "", notFound("Organisation")
	}
	return s.createAPIKey(ctx, gw.Scope{OrgID: orgID}, name, role)
}

// createAPIKey creates the key in the scope's organisation; the scope's
// signed-in user, if any, is recorded as its creator, and must still be
// allowed to create it (requireGranter).
func (s *Service) createAPIKey(ctx context.Context, scope gw.Scope, name string, role gw.Role) (APIKey, string, error) {
	name, err := checkName(name, "Name")
	if err != nil {
		return APIKey{}, "", err
	}
	key, prefix, hash := newAPIKey()
	k := APIKey{ID: gw.NewID(), Name: name, Prefix: prefix, Role: role, CreatedAt: s.now(), CreatedBy: scope.UserID}
	err = postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if _, err := orgByRef(ctx, tx, scope.OrgID); err != nil {
			return err
		}
		if err := requireGranter(ctx, tx, scope, authz.APIKeysManage, role); err != nil {
			return err
		}
		if err := insertAPIKey(ctx, tx, scope.OrgID, k, hash[:], scope.UserID); err != nil {
			return fmt.Errorf("insert API key: %w", err)
		}
		return record(ctx, tx, scope, audit.ActionAPIKeyCreated, audit.TargetAPIKey, k.ID,
			nil, map[string]any{"name": k.Name, "role": k.Role, "prefix": k.Prefix})
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return k, key, nil
}

// APIKeys lists the API keys of the scope's organisation: live ones first,
// newest first. It returns ENOTFOUND and EFORBIDDEN (authz.APIKeysManage).
func (s *Service) APIKeys(ctx context.Context, scope gw.Scope) ([]APIKey, error) {
	if err := authz.Require(scope, authz.APIKeysManage); err != nil {
		return nil, err
	}
	var list []APIKey
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		var err error
		list, err = listAPIKeys(ctx, tx, scope.OrgID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return list, nil
}

// RevokeAPIKey revokes the scope's organisation's API key id, at once in
// this process; revoking it twice is not an error. It returns ENOTFOUND (no
// such key in this organisation) and EFORBIDDEN (authz.APIKeysManage).
func (s *Service) RevokeAPIKey(ctx context.Context, scope gw.Scope, id string) error {
	if err := authz.Require(scope, authz.APIKeysManage); err != nil {
		return err
	}
	if !gw.ValidID(id) {
		return notFound("API key")
	}
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		k, err := apiKeyForUpdate(ctx, tx, scope.OrgID, id)
		if err != nil || k.RevokedAt != nil {
			return err
		}
		if err := revokeAPIKey(ctx, tx, scope.OrgID, id, s.now()); err != nil {
			return err
		}
		return record(ctx, tx, scope, audit.ActionAPIKeyRevoked, audit.TargetAPIKey, id,
			map[string]any{"name": k.Name, "role": k.Role, "prefix": k.Prefix}, nil)
	})
	if err != nil {
		return err
	}
	s.keys.forget(func(k gw.Scope) bool { return k.APIKeyID == id })
	return nil
}

// AuthenticateAPIKey returns the scope of a live API key: its organisation
// and role, with the key as actor. It costs at most one round trip to the
// database (none while the key is cached), plus one a minute to record
// when the key was last used. It returns EUNAUTHORIZED "Invalid API key."
// for a malformed, unknown or revoked key.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string) (gw.Scope, error) {
	hash, ok := apiKeyHash(key)
	if !ok {
		return gw.Scope{}, errInvalidAPIKey()
	}
	now := s.now()
	if scope, ok := s.keys.get(hash, now); ok {
		return scope, nil
	}
	gen := s.keys.generation()
	var (
		scope    gw.Scope
		lastUsed *time.Time
		found    bool
	)
	err := readBatch(ctx, s.pool, postgres.TxOptions{SecretHash: hash[:]}, keyLookupSQL, []any{hash[:]},
		func(rows pgx.Rows) error {
			found = true
			return rows.Scan(&scope.APIKeyID, &scope.OrgID, &scope.Role, &lastUsed)
		})
	if err != nil {
		return gw.Scope{}, fmt.Errorf("look up API key: %w", err)
	}
	if !found {
		return gw.Scope{}, errInvalidAPIKey()
	}
	if lastUsed == nil || now.Sub(*lastUsed) >= time.Minute {
		err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
			return touchAPIKey(ctx, tx, scope.OrgID, scope.APIKeyID, now)
		})
		if err != nil { // the request may go on; the next one retries
			s.logger.WarnContext(ctx, "record API key use", "api_key_id", scope.APIKeyID,
				"org_id", scope.OrgID, "error", err)
		}
	}
	s.keys.put(hash, scope, now, gen)
	return scope, nil
}

// newAPIKey returns a fresh API key, its prefix and its SHA-256.
func newAPIKey() (key, prefix string, hash [32]byte) { return newSecretKey(apiKeyTag) }

// apiKeyHash returns the SHA-256 of key if it is well-formed.
func apiKeyHash(key string) ([32]byte, bool) { return secretKeyHash(apiKeyTag, key) }

// newSecretKey returns a fresh key shaped like an API key but starting with
// tag, its prefix and its SHA-256 (API keys, SCIM tokens).
func newSecretKey(tag string) (key, prefix string, hash [32]byte) {
	prefix = strings.ToLower(rand.Text()[:apiKeyPrefixLen])
	secret := make([]byte, apiKeySecretBytes)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails
	key = tag + prefix + "_" + base64.RawURLEncoding.EncodeToString(secret)
	return key, prefix, sha256.Sum256([]byte(key))
}

// secretKeyHash returns the SHA-256 of key if it is a well-formed key
// starting with tag.
func secretKeyHash(tag, key string) ([32]byte, bool) {
	rest, ok := strings.CutPrefix(key, tag)
	if !ok || len(rest) <= apiKeyPrefixLen || rest[apiKeyPrefixLen] != '_' {
		return [32]byte{}, false
	}
	for _, c := range rest[:apiKeyPrefixLen] {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return [32]byte{}, false
		}
	}
	secret, err := base64.RawURLEncoding.DecodeString(rest[apiKeyPrefixLen+1:])
	if err != nil || len(secret) != apiKeySecretBytes {
		return [32]byte{}, false
	}
	return sha256.Sum256([]byte(key)), true
}

// maxCachedKeys bounds the API key cache; past it, expired entries are
// swept, and if that is not enough the cache starts over.
const maxCachedKeys = 10_000

// keyCache remembers, for a short TTL, the scope of API keys that were
// found live, keyed by the key's hash. Revocation in this process forgets
// entries at once; the generation counter keeps a lookup that raced with a
// revocation from caching what it read before it.
type keyCache struct {
	ttl     time.Duration // <= 0 disables the cache
	mu      sync.Mutex
	gen     uint64
	entries map[[32]byte]cachedKey
}

type cachedKey struct {
	scope   gw.Scope
	expires time.Time
}

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, entries: make(map[[32]byte]cachedKey)}
}

func (c *keyCache) get(hash [32]byte, now time.Time) (gw.Scope, bool) {
	if c.ttl <= 0 {
		return gw.Scope{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok {
		return gw.Scope{}, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, hash)
		return gw.Scope{}, false
	}
	return e.scope, true
}

// generation returns the counter that forget advances; pass it to put.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches scope under hash unless something was forgotten since gen.
func (c *keyCache) put(hash [32]byte, scope gw.Scope, now time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= maxCachedKeys {
		for h, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, h)
			}
		}
		if len(c.entries) >= maxCachedKeys {
			clear(c.entries)
		}
	}
	c.entries[hash] = cachedKey{scope: scope, expires: now.Add(c.ttl)}
}

// forget drops the entries whose scope matches and advances the generation.
func (c *keyCache) forget(match func(gw.Scope) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.entries {
		if match(e.scope) {
			delete(c.entries, h)
		}
	}
}
