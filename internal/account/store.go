package account

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// querier is what the store needs of a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ---- users

// userRow is a users row, secrets included.
type userRow struct {
	User
	PasswordHash string
	// TOTPSecretEnc is the TOTP secret encrypted (see totpSecretAD); nil
	// while two-factor is off. Decrypt it with decryptTOTPSecret, only when
	// a code is checked.
	TOTPSecretEnc []byte
}

const userColumns = `id::text, email, password_hash, email_verified_at IS NOT NULL,
	totp_enabled_at IS NOT NULL, disabled_at IS NOT NULL, created_at, totp_secret_enc`

func scanUser(row pgx.Row) (userRow, error) {
	var u userRow
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.EmailVerified,
		&u.TwoFactor, &u.Disabled, &u.CreatedAt, &u.TOTPSecretEnc)
	if err != nil {
		return userRow{}, notFoundAs(postgres.Translate(err), "User not found.")
	}
	return u, nil
}

// notFoundAs gives an ENOTFOUND error a specific message.
func notFoundAs(err error, msg string) error {
	if gw.ErrorCode(err) == gw.ENOTFOUND {
		return gw.Errorf(gw.ENOTFOUND, "%s", msg)
	}
	return err
}

// getUserByID loads a user, locking the row when lock is set.
func getUserByID(ctx context.Context, q querier, id string, lock bool) (userRow, error) {
	if !gw.ValidID(id) {
		return userRow{}, gw.Errorf(gw.ENOTFOUND, "User not found.")
	}
	sql := `SELECT ` + userColumns + ` FROM users WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	return scanUser(q.QueryRow(ctx, sql, id))
}

// getUserByEmail loads the user with a (normalised) email address.
func getUserByEmail(ctx context.Context, q querier, email string) (userRow, error) {
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = $1`, email))
}

// insertUser adds u unless its email address is taken, and reports whether
// it did. verifiedAt may be nil.
func insertUser(ctx context.Context, q querier, u User, hash string, verifiedAt *time.Time) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO users (id, email, password_hash, email_verified_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT ((lower(email))) DO NOTHING`,
		u.ID, u.Email, hash, verifiedAt, u.CreatedAt)
	if err != nil {
		return false, postgres.Translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// replacePasswordHash sets a new hash if the stored one is still old, and
// reports whether it did.
func replacePasswordHash(ctx context.Context, q querier, id, old, hash string, now time.Time) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE users SET password_hash = $3, updated_at = $4
		WHERE id = $1 AND password_hash = $2`, id, old, hash, now)
	return tag.RowsAffected() == 1, postgres.Translate(err)
}

// markEmailVerified records that the user proved they own their address.
func markEmailVerified(ctx context.Context, q querier, id string, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE users SET email_verified_at = coalesce(email_verified_at, $2), updated_at = $2
		WHERE id = $1`, id, now)
	return postgres.Translate(err)
}

// setEmail changes the user's address, verified by the change itself.
func setEmail(ctx context.Context, q querier, id, email string, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE users SET email = $2, email_verified_at = $3, updated_at = $3
		WHERE id = $1`, id, email, now)
	return postgres.Translate(err)
}

// setDisabled disables a user and reports whether the user exists.
func setDisabled(ctx context.Context, q querier, id string, now time.Time) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE users SET disabled_at = coalesce(disabled_at, $2), updated_at = $2
		WHERE id = $1`, id, now)
	return tag.RowsAffected() == 1, postgres.Translate(err)
}

// deleteUser deletes a user; tokens, recovery codes, session index rows
// and memberships go with it (ON DELETE CASCADE).
func deleteUser(ctx context.Context, q querier, id string) error {
	_, err := q.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	return postgres.Translate(err)
}

// ---- two-factor

// totpSecretAD binds an encrypted TOTP secret to its user:
// "users|totp_secret|<user_id>".
func totpSecretAD(userID string) crypto.AD {
	if u, err := uuid.Parse(userID); err == nil {
		userID = u.String()
	}
	return crypto.NewAD("users", "totp_secret", userID)
}

// decryptTOTPSecret returns the TOTP secret of row ("" while two-factor is
// off). A secret that will not decrypt is a *crypto.DecryptError naming
// the key (an internal error).
func decryptTOTPSecret(keys *crypto.Keyring, row userRow) (string, error) {
	return keys.Decrypt(row.TOTPSecretEnc, totpSecretAD(row.ID))
}

// enableTOTP stores a user's TOTP secret, encrypted with keys, and the step
// of the code that proved it, and reports whether two-factor was off until
// then.
func enableTOTP(ctx context.Context, q querier, keys *crypto.Keyring, id, secret string, step int64, now time.Time) (bool, error) {
	enc, err := keys.Encrypt(secret, totpSecretAD(id))
	if err != nil {
		return false, err
	}
	tag, err := q.Exec(ctx, `UPDATE users SET totp_secret_enc = $2, totp_last_step = $3, totp_enabled_at = $4, updated_at = $4
		WHERE id = $1 AND totp_enabled_at IS NULL`, id, enc, step, now)
	return tag.RowsAffected() == 1, postgres.Translate(err)
}

// disableTOTP forgets a user's TOTP secret and recovery codes.
func disableTOTP(ctx context.Context, q querier, id string, now time.Time) error {
	if _, err := q.Exec(ctx, `UPDATE users SET totp_secret_enc = NULL, totp_last_step = NULL, totp_enabled_at = NULL,
		updated_at = $2 WHERE id = $1`, id, now); err != nil {
		return postgres.Translate(err)
	}
	_, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, id)
	return postgres.Translate(err)
}

// advanceTOTPStep records that the code of a time step was used, and
// reports false if that step or a later one was used before (a replay).
func advanceTOTPStep(ctx context.Context, q querier, id string, step int64) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE users SET totp_last_step = $2
		WHERE id = $1 AND totp_enabled_at IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2)`, id, step)
	return tag.RowsAffected() == 1, postgres.Translate(err)
}

// replaceRecoveryCodes replaces a user's recovery codes with new hashes.
func replaceRecoveryCodes(ctx context.Context, q querier, id string, hashes [][]byte) error {
	if _, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, id); err != nil {
		return postgres.Translate(err)
	}
	_, err := q.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])`, id, hashes)
	return postgres.Translate(err)
}

// useRecoveryCode marks an unused recovery code used, and reports whether
// there was one.
func useRecoveryCode(ctx context.Context, q querier, id string, hash []byte, now time.Time) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE recovery_codes SET used_at = $3
		WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`, id, hash, now)
	return tag.RowsAffected() == 1, postgres.Translate(err)
}

// countRecoveryCodes counts a user's unused recovery codes.
func countRecoveryCodes(ctx context.Context, q querier, id string) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, id).Scan(&n)
	return n, postgres.Translate(err)
}

// ---- key rotation (see crypto.ReencryptWorker)

// countTOTPKeyUsage counts the encrypted TOTP secrets by key ID.
func countTOTPKeyUsage(ctx context.Context, q querier) ([]crypto.KeyUsage, error) {
	rows, err := q.Query(ctx, `SELECT substr(totp_secret_enc, 2, 4), count(*) FROM users
		WHERE totp_secret_enc IS NOT NULL GROUP BY 1`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	usage, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (crypto.KeyUsage, error) {
		u := crypto.KeyUsage{Table: "users", Column: "totp_secret_enc", Kind: crypto.Encryption}
		var prefix []byte
		err := row.Scan(&prefix, &u.Rows)
		u.KeyID, _ = crypto.BlindIndexKeyID(prefix) // the 4 bytes of the ID
		return u, err
	})
	return usage, postgres.Translate(err)
}

// reencryptTOTPBatch rewrites, under keys' primary key, up to limit TOTP
// secrets under another key, and returns how many it rewrote. The rows are
// locked meanwhile, so a concurrent change waits and is not lost; a secret
// that will not decrypt stops the batch, which then writes nothing.
func reencryptTOTPBatch(ctx context.Context, tx pgx.Tx, keys *crypto.Keyring, limit int) (int, error) {
	rows, err := tx.Query(ctx, `SELECT id::text, totp_secret_enc FROM users
		WHERE substr(totp_secret_enc, 1, 5) <> $1 ORDER BY id LIMIT $2 FOR UPDATE`,
		keys.PrimaryCiphertextPrefix(), limit)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (userRow, error) {
		var u userRow
		return u, row.Scan(&u.ID, &u.TOTPSecretEnc)
	})
	if err != nil || len(list) == 0 {
		return 0, postgres.Translate(err)
	}
	ids, secrets := make([]string, len(list)), make([][]byte, len(list))
	for i, u := range list {
		secret, err := decryptTOTPSecret(keys, u)
		if err != nil {
			return 0, err
		}
		if secrets[i], err = keys.Encrypt(secret, totpSecretAD(u.ID)); err != nil {
			return 0, err
		}
		ids[i] = u.ID
	}
	_, err = tx.Exec(ctx, `UPDATE users SET totp_secret_enc = u.enc
		FROM unnest($1::uuid[], $2::bytea[]) AS u(id, enc) WHERE users.id = u.id`, ids, secrets)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	return len(list), nil
}

// ---- email tokens

// tokenRow is an email token's owner and the address it was sent to.
type tokenRow struct {
	UserID string
	Email  string
}

func insertToken(ctx context.Context, q querier, hash []byte, userID string, p purpose, email string, expires, now time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, hash, userID, string(p), email, expires, now)
	return postgres.Translate(err)
}

// expireTokens makes a user's unused tokens of the given purposes unusable.
func expireTokens(ctx context.Context, q querier, userID string, now time.Time, ps ...purpose) error {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = string(p)
	}
	_, err := q.Exec(ctx, `UPDATE email_tokens SET used_at = $2
		WHERE user_id = $1 AND used_at IS NULL AND purpose = ANY($3)`, userID, now, names)
	return postgres.Translate(err)
}

// findToken returns a usable token without using it. Errors: ENOTFOUND.
func findToken(ctx context.Context, q querier, hash []byte, p purpose, now time.Time) (tokenRow, error) {
	var t tokenRow
	err := q.QueryRow(ctx, `SELECT user_id::text, email FROM email_tokens
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3`,
		hash, string(p), now).Scan(&t.UserID, &t.Email)
	return t, postgres.Translate(err)
}

// useToken marks a usable token used and returns it; of two concurrent
// uses only one succeeds. Errors: ENOTFOUND.
func useToken(ctx context.Context, q querier, hash []byte, p purpose, now time.Time) (tokenRow, error) {
	var t tokenRow
	err := q.QueryRow(ctx, `UPDATE email_tokens SET used_at = $3
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
		RETURNING user_id::text, email`, hash, string(p), now).Scan(&t.UserID, &t.Email)
	return t, postgres.Translate(err)
}

// ---- sessions

// upsertSession indexes the session whose token hashes to tokenHash.
func upsertSession(ctx context.Context, q querier, userID, tokenHash, ip, userAgent string, now time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO user_sessions (token_hash, user_id, created_at, last_seen_at, ip, user_agent)
		VALUES ($1, $2, $3, $3, $4, $5)
		ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id, last_seen_at = excluded.last_seen_at,
			ip = excluded.ip, user_agent = excluded.user_agent`, tokenHash, userID, now, ip, userAgent)
	return postgres.Translate(err)
}

// pruneSessions drops a user's index rows whose session has ended or was
// revoked. Rows younger than grace are kept: the session store may not have
// saved them yet.
func pruneSessions(ctx context.Context, q querier, userID string, now time.Time, grace time.Duration) error {
	_, err := q.Exec(ctx, `DELETE FROM user_sessions us WHERE us.user_id = $1 AND us.created_at < $3
		AND NOT EXISTS (SELECT FROM sessions s WHERE s.token_hash = us.token_hash
			AND s.expiry > $2 AND s.revoked_at IS NULL)`,
		userID, now, now.Add(-grace))
	return postgres.Translate(err)
}

// touchSession updates last_seen_at, at most once per interval per session.
func touchSession(ctx context.Context, q querier, tokenHash string, now time.Time, interval time.Duration) error {
	_, err := q.Exec(ctx, `UPDATE user_sessions SET last_seen_at = $2
		WHERE token_hash = $1 AND last_seen_at < $3`, tokenHash, now, now.Add(-interval))
	return postgres.Translate(err)
}

// listSessions lists a user's live sessions, most recently seen first.
func listSessions(ctx context.Context, q querier, userID string, now time.Time) ([]Session, error) {
	rows, err := q.Query(ctx, `SELECT us.token_hash, us.created_at, us.last_seen_at, us.ip, us.user_agent
		FROM user_sessions us JOIN sessions s ON s.token_hash = us.token_hash
		WHERE us.user_id = $1 AND s.expiry > $2 AND s.revoked_at IS NULL
		ORDER BY us.last_seen_at DESC, us.created_at DESC`, userID, now)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Session, error) {
		var s Session
		err := row.Scan(&s.ID, &s.CreatedAt, &s.LastSeenAt, &s.IP, &s.UserAgent)
		return s, err
	})
	return list, postgres.Translate(err)
}

// deleteSessions signs out a user's sessions: all of them, all but the one
// whose token hashes to keepHash, or only the one whose ID is onlyID. It
// removes them from the index and revokes them in the session store (a
// tombstone that a request in flight cannot overwrite, see SessionStore;
// also for a session indexed at log-in but not saved yet),
// and returns how many were still live and how many index rows matched.
func deleteSessions(ctx context.Context, q querier, userID, keepHash, onlyID string, now time.Time) (live, matched int, err error) {
	err = q.QueryRow(ctx, `WITH gone AS (
			DELETE FROM user_sessions WHERE user_id = $1
				AND ($2 = '' OR token_hash <> $2)
				AND ($3 = '' OR token_hash = $3)
			RETURNING token_hash
		), before AS (
			SELECT token_hash, expiry FROM sessions
			WHERE token_hash IN (SELECT token_hash FROM gone) AND revoked_at IS NULL
		), revoked AS (
			INSERT INTO sessions (token_hash, data, expiry, revoked_at)
			SELECT token_hash, '', now() + make_interval(secs => $5), now() FROM gone
			ON CONFLICT (token_hash) DO UPDATE SET data = '', expiry = excluded.expiry,
				revoked_at = coalesce(sessions.revoked_at, excluded.revoked_at)
		)
		SELECT (SELECT count(*) FROM before WHERE expiry > $4), (SELECT count(*) FROM gone)`,
		userID, keepHash, onlyID, now, tombstoneTTL.Seconds()).Scan(&live, &matched)
	return live, matched, postgres.Translate(err)
}

// deleteEndedSessions deletes every session whose expiry has passed
// (revoked ones an hour after their revocation), and the index rows (older
// than grace) that no live session backs.
func deleteEndedSessions(ctx context.Context, q querier, now time.Time, grace time.Duration) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM sessions WHERE expiry < $1`, now)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	_, err = q.Exec(ctx, `DELETE FROM user_sessions us WHERE us.created_at < $2
		AND NOT EXISTS (SELECT FROM sessions s WHERE s.token_hash = us.token_hash
			AND s.expiry > $1 AND s.revoked_at IS NULL)`, now, now.Add(-grace))
	return tag.RowsAffected(), postgres.Translate(err)
}
