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

// userMemberships returns userID's memberships by organisation ID, the
// order in which lockOrgs locks them; tx must see userID's memberships
// (app.user_id).
func userMemberships(ctx context.Context, tx pgx.Tx, userID string) ([]Membership, error) {
	rows, _ := tx.Query(ctx, `SELECT `+orgColumns+`, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id
		WHERE m.user_id = $1 ORDER BY o.id`, userID)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Membership, error) {
		var m Membership
		var err error
		m.Org, err = scanOrg(row, &m.Role)
		return m, err
	})
}

// lockOrgs locks the organisations ids, as lockOrg locks one, in the order
// of their IDs, so that two transactions locking several cannot deadlock.
// It returns how many it locked: fewer when some no longer exist.
func lockOrgs(ctx context.Context, tx pgx.Tx, ids []string) (int, error) {
	// With ORDER BY, rows are locked in the order sorted (PostgreSQL's
	// LockRows runs above the Sort).
	rows, _ := tx.Query(ctx, `SELECT o.id FROM orgs o WHERE o.id = ANY($1::uuid[]) ORDER BY o.id FOR NO KEY UPDATE`, ids)
	locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return len(locked), err
}

// setUser makes userID's own memberships visible for the rest of tx.
func setUser(ctx context.Context, tx pgx.Tx, userID string) error {
	_, err := tx.Exec(ctx, `SELECT set_config('app.user_id', $1, true)`, userID)
	return err
}

// lockGranter locks userID's row so that it cannot be deleted until tx
// ends (FOR KEY SHARE, what the foreign key of a new API key or invitation
// takes anyway), and then orgID (FOR SHARE: against changes of membership,
// which take FOR NO KEY UPDATE, but not against other grants). Users are
// locked before organisations everywhere.
func lockGranter(ctx context.Context, tx pgx.Tx, orgID, userID string) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM users WHERE id = $1 FOR KEY SHARE`, userID).Scan(&id)
	if err != nil {
		return noRows(err, notFound("Organisation"))
	}
	_, err = scanOrg(tx.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs o WHERE o.id = $1 FOR SHARE`, orgID))
	return noRows(err, notFound("Organisation"))
}

// --- invitations ---

// invitationColumns are the columns scanInvitation reads, from invitations
// aliased i joined with orgs aliased o.
const invitationColumns = `i.id, i.org_id, i.email, i.role, i.expires_at, i.created_at, i.accepted_at, i.revoked_at, o.name,
	coalesce(i.invited_by::text, ''), coalesce((SELECT u.email FROM users u WHERE u.id = i.invited_by), '')`

func scanInvitation(row pgx.Row) (Invitation, error) {
	var i Invitation
	err := row.Scan(&i.ID, &i.OrgID, &i.Email, &i.Role, &i.ExpiresAt, &i.CreatedAt, &i.AcceptedAt, &i.RevokedAt, &i.OrgName,
		&i.InvitedBy, &i.InvitedByEmail)
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

// apiKeyColumns are the columns scanAPIKey reads, from api_keys aliased k.
const apiKeyColumns = `k.id, k.name, k.prefix, k.role, k.created_at, k.last_used_at, k.revoked_at,
	coalesce(k.created_by::text, ''), coalesce((SELECT u.email FROM users u WHERE u.id = k.created_by), '')`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Role, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt,
		&k.CreatedBy, &k.CreatedByEmail)
	return k, err
}

func insertAPIKey(ctx context.Context, tx pgx.Tx, orgID string, k APIKey, keyHash []byte, createdBy string) error {
	_, err := tx.Exec(ctx, `INSERT INTO api_keys (org_id, id, name, role, prefix, key_hash, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, '')::uuid, $8)`,
		orgID, k.ID, k.Name, k.Role, k.Prefix, keyHash, createdBy, k.CreatedAt)
	return err
}

func listAPIKeys(ctx context.Context, tx pgx.Tx, orgID string) ([]APIKey, error) {
	rows, _ := tx.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k WHERE k.org_id = $1
		ORDER BY k.revoked_at IS NOT NULL, k.created_at DESC, k.id`, orgID)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) { return scanAPIKey(row) })
}

// apiKeyForUpdate returns orgID's key id, locked, or ENOTFOUND.
func apiKeyForUpdate(ctx context.Context, tx pgx.Tx, orgID, id string) (APIKey, error) {
	k, err := scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k
		WHERE k.org_id = $1 AND k.id = $2 FOR UPDATE OF k`, orgID, id))
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

// --- delegations: the API keys and invitations a member created ---

// countDelegations counts orgID's live API keys and pending invitations at
// now that userID created with one of roles.
func countDelegations(ctx context.Context, tx pgx.Tx, orgID, userID string, roles []string, now time.Time) (Delegations, error) {
	var d Delegations
	err := tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM api_keys WHERE org_id = $1 AND created_by = $2 AND role = ANY($3) AND revoked_at IS NULL),
		(SELECT count(*) FROM invitations WHERE org_id = $1 AND invited_by = $2 AND role = ANY($3)
			AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $4)`,
		orgID, userID, roles, now).Scan(&d.APIKeys, &d.Invitations)
	return d, err
}

// revokeAPIKeysCreatedBy revokes orgID's live API keys that userID created
// with one of roles, and returns them as they were.
func revokeAPIKeysCreatedBy(ctx context.Context, tx pgx.Tx, orgID, userID string, roles []string, now time.Time) ([]APIKey, error) {
	rows, _ := tx.Query(ctx, `UPDATE api_keys k SET revoked_at = $4
		WHERE k.org_id = $1 AND k.created_by = $2 AND k.role = ANY($3) AND k.revoked_at IS NULL
		RETURNING k.id, k.name, k.prefix, k.role`, orgID, userID, roles, now)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Role)
		return k, err
	})
}

// revokeInvitationsBy revokes orgID's pending invitations at now that
// userID sent with one of roles, and returns them as they were.
func revokeInvitationsBy(ctx context.Context, tx pgx.Tx, orgID, userID string, roles []string, now time.Time) ([]Invitation, error) {
	rows, _ := tx.Query(ctx, `UPDATE invitations i SET revoked_at = $4
		WHERE i.org_id = $1 AND i.invited_by = $2 AND i.role = ANY($3)
			AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $4
		RETURNING i.id, i.email, i.role`, orgID, userID, roles, now)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Invitation, error) {
		var i Invitation
		err := row.Scan(&i.ID, &i.Email, &i.Role)
		return i, err
	})
}

// lockDelegations locks every API key and invitation of orgID that userID
// created, whatever its state: the rows that deleting the user will update
// (ON DELETE SET NULL), locked before the audit chain is.
func lockDelegations(ctx context.Context, tx pgx.Tx, orgID, userID string) error {
	if _, err := tx.Exec(ctx, `SELECT FROM api_keys WHERE org_id = $1 AND created_by = $2 FOR UPDATE`,
		orgID, userID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SELECT FROM invitations WHERE org_id = $1 AND invited_by = $2 FOR UPDATE`, orgID, userID)
	return err
}
