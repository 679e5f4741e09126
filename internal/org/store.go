package org

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// This file holds the package's SQL. Every function runs inside a
// transaction (or batch) whose row-level-security settings the caller chose.

// readBatch runs one read-only query under the row-level-security settings
// opts in a single round trip: a pgx batch is one implicit transaction, so
// the set_config(..., true) queued before the query holds for it. It is the
// hot-path sibling of postgres.InTx, which costs four round trips. each is
// called for every row.
func readBatch(ctx context.Context, pool *pgxpool.Pool, opts postgres.TxOptions, sql string, args []any, each func(pgx.Rows) error) error {
	rows, err := postgres.Reader(pool, opts).Query(ctx, sql, args...)
	if err != nil {
		return postgres.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return postgres.Translate(rows.Err())
}

// setOrg makes orgID's tenant rows visible for the rest of tx.
func setOrg(ctx context.Context, tx pgx.Tx, orgID string) error {
	_, err := tx.Exec(ctx, `SELECT set_config('app.org_id', $1, true)`, orgID)
	return err
}

// orgColumns are the columns scanOrg reads, from orgs aliased o.
const orgColumns = `o.id, o.slug, o.name, o.require_2fa, o.created_at`

func scanOrg(row pgx.Row, more ...any) (Org, error) {
	var o Org
	err := row.Scan(append([]any{&o.ID, &o.Slug, &o.Name, &o.Require2FA, &o.CreatedAt}, more...)...)
	return o, err
}

// noRows turns pgx.ErrNoRows into err and passes other errors through.
func noRows(err, replacement error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return replacement
	}
	return err
}

// --- orgs ---

// insertOrg inserts o unless its slug is taken, and reports whether it did.
func insertOrg(ctx context.Context, tx pgx.Tx, o Org) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO orgs (id, slug, name, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4) ON CONFLICT (slug) DO NOTHING`, o.ID, o.Slug, o.Name, o.CreatedAt)
	return tag.RowsAffected() == 1, err
}

// orgByRef returns the organisation whose id (a canonical UUID) or slug is ref.
func orgByRef(ctx context.Context, tx pgx.Tx, ref string) (Org, error) {
	col := "o.slug"
	if gw.ValidID(ref) {
		col = "o.id"
	}
	o, err := scanOrg(tx.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs o WHERE `+col+` = $1`, ref))
	return o, noRows(err, notFound("Organisation"))
}

// lockOrg returns orgID's organisation, locked until tx ends. Changes to
// memberships take it first, so that "the last owner" checks cannot race.
func lockOrg(ctx context.Context, tx pgx.Tx, orgID string) (Org, error) {
	o, err := scanOrg(tx.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs o WHERE o.id = $1 FOR NO KEY UPDATE`, orgID))
	return o, noRows(err, notFound("Organisation"))
}

func updateOrgName(ctx context.Context, tx pgx.Tx, orgID, name string, now time.Time) error {
	return expectRow(tx.Exec(ctx, `UPDATE orgs SET name = $2, updated_at = $3 WHERE id = $1`, orgID, name, now))
}

func updateRequire2FA(ctx context.Context, tx pgx.Tx, orgID string, on bool, now time.Time) error {
	return expectRow(tx.Exec(ctx, `UPDATE orgs SET require_2fa = $2, updated_at = $3 WHERE id = $1`, orgID, on, now))
}

// deleteOrg deletes the organisation; its tenant rows go with it (ON DELETE CASCADE).
func deleteOrg(ctx context.Context, tx pgx.Tx, orgID string) error {
	return expectRow(tx.Exec(ctx, `DELETE FROM orgs WHERE id = $1`, orgID))
}

// expectRow turns "no row affected" into ENOTFOUND.
func expectRow(tag interface{ RowsAffected() int64 }, err error) error {
	if err == nil && tag.RowsAffected() == 0 {
		return notFound("Organisation")
	}
	return err
}

// --- memberships ---

func insertMembership(ctx context.Context, tx pgx.Tx, orgID, userID string, role gw.Role, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
		orgID, userID, role, now)
	return err
}

// insertMembershipIfNew adds userID to orgID unless they already belong to it.
func insertMembershipIfNew(ctx context.Context, tx pgx.Tx, orgID, userID string, role gw.Role, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, user_id) DO NOTHING`, orgID, userID, role, now)
	return err
}

// memberRole returns userID's role in orgID, ENOTFOUND if not a member.
func memberRole(ctx context.Context, tx pgx.Tx, orgID, userID string) (gw.Role, error) {
	var role gw.Role
	err := tx.QueryRow(ctx, `SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID).Scan(&role)
	return role, noRows(err, notFound("Member"))
}

func ownerCount(ctx context.Context, tx pgx.Tx, orgID string) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'`, orgID).Scan(&n)
	return n, err
}

func setRole(ctx context.Context, tx pgx.Tx, orgID, userID string, role gw.Role) error {
	tag, err := tx.Exec(ctx, `UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2`, orgID, userID, role)
	if err == nil && tag.RowsAffected() == 0 {
		return notFound("Member")
	}
	return err
}

func deleteMembership(ctx context.Context, tx pgx.Tx, orgID, userID string) error {
	tag, err := tx.Exec(ctx, `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID)
	if err == nil && tag.RowsAffected() == 0 {
		return notFound("Member")
	}
	return err
}

func listMembers(ctx context.Context, tx pgx.Tx, orgID string) ([]Member, error) {
	rows, _ := tx.Query(ctx, `SELECT m.user_id, u.email, m.role, u.totp_enabled_at IS NOT NULL, m.created_at
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = $1 ORDER BY lower(u.email)`, orgID)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Member, error) {
		var m Member
		err := row.Scan(&m.UserID, &m.Email, &m.Role, &m.TwoFactor, &m.JoinedAt)
		return m, err
	})
}

// isMemberEmail reports whether a member of orgID has the address email.
func isMemberEmail(ctx context.Context, tx pgx.Tx, orgID, email string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = $1 AND lower(u.email) = lower($2))`, orgID, email).Scan(&ok)
	return ok, err
}

// userHas2FA reports whether userID has two-factor authentication enabled.
func userHas2FA(ctx context.Context, tx pgx.Tx, userID string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM users WHERE id = $1 AND totp_enabled_at IS NOT NULL)`,
		userID).Scan(&ok)
	return ok, err
}

// ownedOrgs returns the organisations userID owns; tx must see userID's
// memberships (app.user_id).
func ownedOrgs(ctx context.Context, tx pgx.Tx, userID string) ([]Org, error) {
	rows, _ := tx.Query(ctx, `SELECT `+orgColumns+` FROM memberships m JOIN orgs o ON o.id = m.org_id
		WHERE m.user_id = $1 AND m.role = 'owner' ORDER BY o.name, o.id`, userID)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Org, error) { return scanOrg(row) })
}

// --- invitations ---

const invitationColumns = `i.id, i.org_id, i.email, i.role, i.expires_at, i.created_at, i.accepted_at, i.revoked_at, o.name`

func scanInvitation(row pgx.Row) (Invitation, error) {
	var i Invitation
	err := row.Scan(&i.ID, &i.OrgID, &i.Email, &i.Role, &i.ExpiresAt, &i.CreatedAt, &i.AcceptedAt, &i.RevokedAt, &i.OrgName)
	return i, err
}

// inviteContext returns the organisation's name and the inviting user's
// email ("" when userID is "" or unknown).
func inviteContext(ctx context.Context, tx pgx.Tx, orgID, userID string) (orgName, inviter string, err error) {
	err = tx.QueryRow(ctx, `SELECT o.name, coalesce((SELECT email FROM users WHERE id = NULLIF($2, '')::uuid), '')
		FROM orgs o WHERE o.id = $1`, orgID, userID).Scan(&orgName, &inviter)
	return orgName, inviter, noRows(err, notFound("Organisation"))
}

// revokePendingInvitations revokes orgID's pending invitations of email.
func revokePendingInvitations(ctx context.Context, tx pgx.Tx, orgID, email string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE invitations SET revoked_at = $3
		WHERE org_id = $1 AND lower(email) = lower($2) AND accepted_at IS NULL AND revoked_at IS NULL`,
		orgID, email, now)
	return err
}

func insertInvitation(ctx context.Context, tx pgx.Tx, inv Invitation, tokenHash []byte, invitedBy string) error {
	_, err := tx.Exec(ctx, `INSERT INTO invitations (org_id, id, email, role, token_hash, invited_by, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')::uuid, $7, $8)`,
		inv.OrgID, inv.ID, inv.Email, inv.Role, tokenHash, invitedBy, inv.ExpiresAt, inv.CreatedAt)
	return err
}

func pendingInvitations(ctx context.Context, tx pgx.Tx, orgID string, now time.Time) ([]Invitation, error) {
	rows, _ := tx.Query(ctx, `SELECT `+invitationColumns+` FROM invitations i JOIN orgs o ON o.id = i.org_id
		WHERE i.org_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2
		ORDER BY i.created_at DESC, i.id`, orgID, now)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Invitation, error) { return scanInvitation(row) })
}

// invitationForUpdate returns orgID's invitation id, locked.
func invitationForUpdate(ctx context.Context, tx pgx.Tx, orgID, id string) (Invitation, error) {
	inv, err := scanInvitation(tx.QueryRow(ctx, `SELECT `+invitationColumns+`
		FROM invitations i JOIN orgs o ON o.id = i.org_id
		WHERE i.org_id = $1 AND i.id = $2 FOR UPDATE OF i`, orgID, id))
	return inv, noRows(err, notFound("Invitation"))
}

// invitationByHash returns the invitation whose token hashes to tokenHash,
// locked when lock is true; tx must have app.secret_hash set to tokenHash.
func invitationByHash(ctx context.Context, tx pgx.Tx, tokenHash []byte, lock bool) (Invitation, error) {
	sql := `SELECT ` + invitationColumns + ` FROM invitations i JOIN orgs o ON o.id = i.org_id
		WHERE i.token_hash = $1`
	if lock {
		sql += ` FOR UPDATE OF i`
	}
	return scanInvitation(tx.QueryRow(ctx, sql, tokenHash))
}

func setInvitationRevoked(ctx context.Context, tx pgx.Tx, orgID, id string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE invitations SET revoked_at = $3 WHERE org_id = $1 AND id = $2`, orgID, id, now)
	return err
}

func setInvitationAccepted(ctx context.Context, tx pgx.Tx, orgID, id string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE invitations SET accepted_at = $3 WHERE org_id = $1 AND id = $2`, orgID, id, now)
	return err
}

// --- API keys ---

const apiKeyColumns = `id, name, prefix, role, created_at, last_used_at, revoked_at`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Role, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	return k, err
}

func insertAPIKey(ctx context.Context, tx pgx.Tx, orgID string, k APIKey, keyHash []byte, createdBy string) error {
	_, err := tx.Exec(ctx, `INSERT INTO api_keys (org_id, id, name, role, prefix, key_hash, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, '')::uuid, $8)`,
		orgID, k.ID, k.Name, k.Role, k.Prefix, keyHash, createdBy, k.CreatedAt)
	return err
}

func listAPIKeys(ctx context.Context, tx pgx.Tx, orgID string) ([]APIKey, error) {
	rows, _ := tx.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE org_id = $1
		ORDER BY revoked_at IS NOT NULL, created_at DESC, id`, orgID)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) { return scanAPIKey(row) })
}

// apiKeyForUpdate returns orgID's key id, locked, or ENOTFOUND.
func apiKeyForUpdate(ctx context.Context, tx pgx.Tx, orgID, id string) (APIKey, error) {
	k, err := scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id))
	return k, noRows(err, notFound("API key"))
}

// revokeAPIKey revokes orgID's key id unless it already is. ENOTFOUND when
// the organisation has no such key.
func revokeAPIKey(ctx context.Context, tx pgx.Tx, orgID, id string, now time.Time) error {
	var found bool
	err := tx.QueryRow(ctx, `WITH k AS (SELECT id FROM api_keys WHERE org_id = $1 AND id = $2),
		u AS (UPDATE api_keys SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL)
		SELECT EXISTS (SELECT FROM k)`, orgID, id, now).Scan(&found)
	if err == nil && !found {
		return notFound("API key")
	}
	return err
}

// keyLookupSQL finds a live API key by the hash of the whole key; it needs
// app.secret_hash set to that hash.
const keyLookupSQL = `SELECT id, org_id, role, last_used_at FROM api_keys
	WHERE key_hash = $1 AND revoked_at IS NULL`

// touchAPIKey records that the key was used at now, unless it already was
// within the last minute.
func touchAPIKey(ctx context.Context, tx pgx.Tx, orgID, id string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE api_keys SET last_used_at = $3
		WHERE org_id = $1 AND id = $2 AND (last_used_at IS NULL OR last_used_at <= $3::timestamptz - interval '1 minute')`,
		orgID, id, now)
	return err
}

// seatsUsed counts orgID's members and, with pending, its pending
// invitations at now other than those of email.
func seatsUsed(ctx context.Context, tx pgx.Tx, orgID string, pending bool, email string, now time.Time) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM memberships WHERE org_id = $1)
		+ CASE WHEN $2 THEN (SELECT count(*) FROM invitations WHERE org_id = $1 AND lower(email) <> lower($3)
			AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $4) ELSE 0 END`,
		orgID, pending, email, now).Scan(&n)
	return n, err
}
