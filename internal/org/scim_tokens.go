package org

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// scimTokenTag starts every SCIM token: gwscim_<prefix>_<secret>, made and
// hashed like an API key (newSecretKey).
const scimTokenTag = "gwscim_"

func errInvalidSCIMToken() error { return gw.Errorf(gw.EUNAUTHORIZED, "Invalid SCIM token.") }

// SCIMToken describes an organisation's SCIM provisioning token. The token
// itself is shown only once, when it is created.
type SCIMToken struct {
	ID             string
	Name           string
	Prefix         string // the random part after "gwscim_", to recognise the token
	CreatedAt      time.Time
	LastUsedAt     *time.Time // updated at most once a minute
	RevokedAt      *time.Time
	CreatedBy      string // the creating user's ID; "" once their account is deleted
	CreatedByEmail string
}

// SCIMScope is the caller of the SCIM provisioning methods: an
// organisation's identity provider, authenticated by one of its SCIM
// tokens. Only AuthenticateSCIMToken makes one.
type SCIMScope struct {
	OrgID   string
	TokenID string
}

// auditScope is the scope audit events of a SCIM request are recorded
// under: the organisation, with no user or API key as actor (the values
// name the token).
func (sc SCIMScope) auditScope() gw.Scope { return gw.Scope{OrgID: sc.OrgID} }

// CreateSCIMToken creates a SCIM token for the scope's organisation and
// returns it with the token itself, which is shown only this once. It
// returns ENOTFOUND, EFORBIDDEN (authz.SCIMManage: owners) and EINVALID
// (bad name).
func (s *Service) CreateSCIMToken(ctx context.Context, scope gw.Scope, name string) (SCIMToken, string, error) {
	if err := authz.Require(scope, authz.SCIMManage); err != nil {
		return SCIMToken{}, "", err
	}
	name, err := checkName(name, "Name")
	if err != nil {
		return SCIMToken{}, "", err
	}
	token, prefix, hash := newSecretKey(scimTokenTag)
	t := SCIMToken{ID: gw.NewID(), Name: name, Prefix: prefix, CreatedAt: s.now(), CreatedBy: scope.UserID}
	err = postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if _, err := orgByRef(ctx, tx, scope.OrgID); err != nil {
			return err
		}
		if err := requireNow(ctx, tx, scope, authz.SCIMManage); err != nil {
			return err
		}
		var createdBy *string
		if scope.UserID != "" {
			createdBy = &scope.UserID
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scim_tokens (org_id, id, name, prefix, token_hash, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, scope.OrgID, t.ID, t.Name, t.Prefix, hash[:], createdBy, t.CreatedAt); err != nil {
			return fmt.Errorf("insert SCIM token: %w", err)
		}
		return record(ctx, tx, scope, audit.ActionSCIMTokenCreated, audit.TargetSCIMToken, t.ID,
			nil, map[string]any{"name": t.Name, "prefix": t.Prefix})
	})
	if err != nil {
		return SCIMToken{}, "", err
	}
	return t, token, nil
}

// SCIMTokens lists the SCIM tokens of the scope's organisation: live ones
// first, newest first. It returns ENOTFOUND and EFORBIDDEN
// (authz.SCIMManage).
func (s *Service) SCIMTokens(ctx context.Context, scope gw.Scope) ([]SCIMToken, error) {
	if err := authz.Require(scope, authz.SCIMManage); err != nil {
		return nil, err
	}
	var list []SCIMToken
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT t.id, t.name, t.prefix, t.created_at, t.last_used_at, t.revoked_at,
				coalesce(t.created_by::text, ''), coalesce(u.email, '')
			FROM scim_tokens t LEFT JOIN users u ON u.id = t.created_by
			WHERE t.org_id = $1 ORDER BY t.revoked_at IS NOT NULL, t.created_at DESC, t.id DESC`, scope.OrgID)
		var err error
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (SCIMToken, error) {
			var t SCIMToken
			err := row.Scan(&t.ID, &t.Name, &t.Prefix, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt, &t.CreatedBy, &t.CreatedByEmail)
			return t, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list SCIM tokens: %w", err)
	}
	return list, nil
}

// RevokeSCIMToken revokes the scope's organisation's SCIM token id; the
// next request with it is refused. Revoking it twice is not an error. It
// returns ENOTFOUND (no such token in this organisation) and EFORBIDDEN
// (authz.SCIMManage).
func (s *Service) RevokeSCIMToken(ctx context.Context, scope gw.Scope, id string) error {
	if err := authz.Require(scope, authz.SCIMManage); err != nil {
		return err
	}
	if !gw.ValidID(id) {
		return notFound("SCIM token")
	}
	return postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if err := requireNow(ctx, tx, scope, authz.SCIMManage); err != nil {
			return err
		}
		var name, prefix string
		var revokedAt *time.Time
		err := tx.QueryRow(ctx, `SELECT name, prefix, revoked_at FROM scim_tokens WHERE org_id = $1 AND id = $2 FOR UPDATE`,
			scope.OrgID, id).Scan(&name, &prefix, &revokedAt)
		if err != nil {
			return noRows(err, notFound("SCIM token"))
		}
		if revokedAt != nil {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE scim_tokens SET revoked_at = $3 WHERE org_id = $1 AND id = $2`,
			scope.OrgID, id, s.now()); err != nil {
			return err
		}
		return record(ctx, tx, scope, audit.ActionSCIMTokenRevoked, audit.TargetSCIMToken, id,
			map[string]any{"name": name, "prefix": prefix}, nil)
	})
}

// AuthenticateSCIMToken returns the SCIM scope of a live SCIM token: its
// organisation. Unlike API keys it is not cached, so a revocation holds
// from the next request on. It returns EUNAUTHORIZED "Invalid SCIM token."
// for a malformed, unknown or revoked token.
func (s *Service) AuthenticateSCIMToken(ctx context.Context, token string) (SCIMScope, error) {
	hash, ok := secretKeyHash(scimTokenTag, token)
	if !ok {
		return SCIMScope{}, errInvalidSCIMToken()
	}
	var (
		sc       SCIMScope
		lastUsed *time.Time
		found    bool
	)
	err := readBatch(ctx, s.pool, postgres.TxOptions{SecretHash: hash[:]},
		`SELECT id, org_id, last_used_at FROM scim_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, []any{hash[:]},
		func(rows pgx.Rows) error {
			found = true
			return rows.Scan(&sc.TokenID, &sc.OrgID, &lastUsed)
		})
	if err != nil {
		return SCIMScope{}, fmt.Errorf("look up SCIM token: %w", err)
	}
	if !found {
		return SCIMScope{}, errInvalidSCIMToken()
	}
	now := s.now()
	if lastUsed == nil || now.Sub(*lastUsed) >= time.Minute {
		err := postgres.InOrgTx(ctx, s.pool, sc.OrgID, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE scim_tokens SET last_used_at = $3 WHERE org_id = $1 AND id = $2`,
				sc.OrgID, sc.TokenID, now)
			return err
		})
		if err != nil { // the request may go on; the next one retries
			s.logger.WarnContext(ctx, "record SCIM token use", "scim_token_id", sc.TokenID, "org_id", sc.OrgID, "error", err)
		}
	}
	return sc, nil
}
