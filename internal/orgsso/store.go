package orgsso

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// This file holds the package's SQL. Every function runs inside a
// transaction (or batch) whose row-level-security settings the caller chose.

const connectionColumns = `org_id, issuer, client_id, client_secret, require_sso, jit, default_role,
	coalesce(break_glass_user_id::text, ''), updated_at`

// getConnection returns orgID's connection and its encrypted secret.
func getConnection(ctx context.Context, q pgx.Tx, orgID string) (Connection, []byte, error) {
	var c Connection
	var secret []byte
	err := q.QueryRow(ctx, `SELECT `+connectionColumns+` FROM org_sso_connections WHERE org_id = $1`, orgID).
		Scan(&c.OrgID, &c.Issuer, &c.ClientID, &secret, &c.RequireSSO, &c.JIT, &c.DefaultRole, &c.BreakGlassUserID, &c.UpdatedAt)
	if err != nil {
		return Connection{}, nil, postgres.Translate(err)
	}
	c.HasSecret = len(secret) > 0
	return c, secret, nil
}

func upsertConnection(ctx context.Context, tx pgx.Tx, c Connection, secret []byte, now time.Time) error {
	var breakGlass *string
	if c.BreakGlassUserID != "" {
		breakGlass = &c.BreakGlassUserID
	}
	_, err := tx.Exec(ctx, `INSERT INTO org_sso_connections (org_id, issuer, client_id, client_secret, require_sso, jit,
			default_role, break_glass_user_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (org_id) DO UPDATE SET issuer = $2, client_id = $3, client_secret = $4, require_sso = $5,
			jit = $6, default_role = $7, break_glass_user_id = $8, updated_at = $9`,
		c.OrgID, c.Issuer, c.ClientID, secret, c.RequireSSO, c.JIT, c.DefaultRole, breakGlass, now)
	return postgres.Translate(err)
}

func deleteConnection(ctx context.Context, tx pgx.Tx, orgID string) error {
	_, err := tx.Exec(ctx, `DELETE FROM org_sso_connections WHERE org_id = $1`, orgID)
	return postgres.Translate(err)
}

const domainColumns = `id, domain, token, verified_at, created_at`

func scanDomain(row pgx.Row) (Domain, error) {
	var d Domain
	err := row.Scan(&d.ID, &d.Domain, &d.Token, &d.VerifiedAt, &d.CreatedAt)
	return d, err
}

func listDomains(ctx context.Context, tx pgx.Tx, orgID string) ([]Domain, error) {
	rows, err := tx.Query(ctx, `SELECT `+domainColumns+` FROM org_sso_domains WHERE org_id = $1 ORDER BY domain`, orgID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Domain, error) { return scanDomain(r) })
	return list, postgres.Translate(err)
}

func getDomain(ctx context.Context, tx pgx.Tx, orgID, id string) (Domain, error) {
	d, err := scanDomain(tx.QueryRow(ctx, `SELECT `+domainColumns+` FROM org_sso_domains WHERE org_id = $1 AND id = $2`, orgID, id))
	return d, postgres.Translate(err)
}

func insertDomain(ctx context.Context, tx pgx.Tx, orgID string, d Domain) error {
	_, err := tx.Exec(ctx, `INSERT INTO org_sso_domains (org_id, id, domain, domain_hash, token, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, orgID, d.ID, d.Domain, domainHash(d.Domain), d.Token, d.CreatedAt)
	return postgres.Translate(err)
}

// setDomainVerified marks a domain verified; ECONFLICT when another
// organisation's row verified the same domain (org_sso_domains_verified_key).
func setDomainVerified(ctx context.Context, tx pgx.Tx, orgID, id string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE org_sso_domains SET verified_at = $3 WHERE org_id = $1 AND id = $2`, orgID, id, now)
	return postgres.Translate(err)
}

func deleteDomain(ctx context.Context, tx pgx.Tx, orgID, id string) error {
	_, err := tx.Exec(ctx, `DELETE FROM org_sso_domains WHERE org_id = $1 AND id = $2`, orgID, id)
	return postgres.Translate(err)
}

// verifiedDomainOrg returns the organisation that verified domain, seeing
// only that row (app.secret_hash), in one round trip.
func verifiedDomainOrg(ctx context.Context, pool *pgxpool.Pool, domain string) (string, error) {
	hash := domainHash(domain)
	var orgID string
	err := queryOne(ctx, postgres.Reader(pool, postgres.TxOptions{SecretHash: hash}),
		`SELECT org_id FROM org_sso_domains WHERE domain_hash = $1 AND verified_at IS NOT NULL`, []any{hash}, &orgID)
	if err != nil {
		return "", postgres.Translate(err)
	}
	return orgID, nil
}

// enforcement returns, in one round trip, whether orgID requires single
// sign-on for addresses of domain (required), and its break-glass user
// while that user is still an owner.
func enforcement(ctx context.Context, pool *pgxpool.Pool, orgID, domain string) (required bool, breakGlass string, err error) {
	err = queryOne(ctx, postgres.Reader(pool, postgres.TxOptions{OrgID: orgID}),
		`SELECT coalesce(m.user_id::text, '') FROM org_sso_connections c
		JOIN org_sso_domains d ON d.org_id = c.org_id
		LEFT JOIN memberships m ON m.org_id = c.org_id AND m.user_id = c.break_glass_user_id AND m.role = 'owner'
		WHERE c.org_id = $1 AND c.require_sso AND d.domain_hash = $2 AND d.verified_at IS NOT NULL`,
		[]any{orgID, domainHash(domain)}, &breakGlass)
	switch gw.ErrorCode(postgres.Translate(err)) {
	case "":
		return true, breakGlass, nil
	case gw.ENOTFOUND:
		return false, "", nil
	default:
		return false, "", postgres.Translate(err)
	}
}

// queryOne scans the first row of a query into dest; ENOTFOUND without one.
func queryOne(ctx context.Context, q postgres.Queryer, sql string, args []any, dest ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return postgres.Translate(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return postgres.Translate(err)
		}
		return gw.Errorf(gw.ENOTFOUND, "not found")
	}
	return postgres.Translate(rows.Scan(dest...))
}

// isNotFound reports whether err is ENOTFOUND.
func isNotFound(err error) bool { return gw.ErrorCode(err) == gw.ENOTFOUND }
