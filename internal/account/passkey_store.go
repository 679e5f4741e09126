package account

import (
	"context"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// SQL of webauthn_credentials (migration 00044).

// credentialsOf returns userID's credentials as go-webauthn verifies
// assertions with them.
func credentialsOf(ctx context.Context, q querier, userID string) ([]webauthn.Credential, error) {
	rows, err := q.Query(ctx, `SELECT credential_id, public_key, attestation_type, attestation_format,
		sign_count, flags, transports, aaguid FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webauthn.Credential, error) {
		var c webauthn.Credential
		var signCount int64
		var flags int16
		var ts []string
		var model *uuid.UUID
		err := row.Scan(&c.ID, &c.PublicKey, &c.AttestationType, &c.AttestationFormat, &signCount, &flags, &ts, &model)
		c.Authenticator.SignCount = uint32(signCount)
		c.Flags = webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(flags))
		for _, t := range ts {
			c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
		}
		if model != nil {
			c.Authenticator.AAGUID = model[:]
		}
		return c, err
	})
	return out, postgres.Translate(err)
}

// countCredentials counts userID's passkeys.
func countCredentials(ctx context.Context, q querier, userID string) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM webauthn_credentials WHERE user_id = $1`, userID).Scan(&n)
	return n, postgres.Translate(err)
}

// insertCredential stores cred as userID's passkey pk. ECONFLICT when the
// credential is registered already (to any account).
func insertCredential(ctx context.Context, tx pgx.Tx, userID string, pk Passkey, cred *webauthn.Credential) error {
	var model *string
	if pk.AAGUID != "" {
		model = &pk.AAGUID
	}
	tag, err := tx.Exec(ctx, `INSERT INTO webauthn_credentials (id, user_id, credential_id, public_key,
		attestation_type, attestation_format, sign_count, flags, transports, aaguid, name, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (credential_id) DO NOTHING`,
		pk.ID, userID, cred.ID, cred.PublicKey, cred.AttestationType, cred.AttestationFormat,
		int64(cred.Authenticator.SignCount), int16(cred.Flags.ProtocolValue()), pk.Transports, model, pk.Name, pk.CreatedAt)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return gw.Errorf(gw.ECONFLICT, "This passkey is registered already.")
	}
	return nil
}

// credentialOwner returns the ID of the user whose credential rawID is.
// ENOTFOUND for an unknown credential.
func credentialOwner(ctx context.Context, q querier, rawID []byte) (string, error) {
	var userID string
	err := q.QueryRow(ctx, `SELECT user_id::text FROM webauthn_credentials WHERE credential_id = $1`, rawID).Scan(&userID)
	return userID, postgres.Translate(err)
}

// advanceCredential stores the signature counter and flags of a verified
// assertion of cred, and when it was made, unless the stored counter is
// no longer below the new one (a concurrent assertion stored it first):
// ok is then false. Authenticators that keep no counter send 0 every
// time, which always passes.
func advanceCredential(ctx context.Context, q querier, cred *webauthn.Credential, now time.Time) (ok bool, err error) {
	count := int64(cred.Authenticator.SignCount)
	tag, err := q.Exec(ctx, `UPDATE webauthn_credentials SET sign_count = $2, flags = $3, last_used_at = $4
		WHERE credential_id = $1 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))`,
		cred.ID, count, int16(cred.Flags.ProtocolValue()), now)
	if err != nil {
		return false, postgres.Translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

const passkeyColumns = `id::text, name, transports, coalesce(aaguid::text, ''), created_at, last_used_at`

func scanPasskey(row pgx.Row) (Passkey, error) {
	var p Passkey
	err := row.Scan(&p.ID, &p.Name, &p.Transports, &p.AAGUID, &p.CreatedAt, &p.LastUsedAt)
	return p, postgres.Translate(err)
}

// listPasskeys returns userID's passkeys, oldest first.
func listPasskeys(ctx context.Context, q querier, userID string) ([]Passkey, error) {
	rows, err := q.Query(ctx, `SELECT `+passkeyColumns+` FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Passkey, error) { return scanPasskey(row) })
	return out, postgres.Translate(err)
}

// getPasskey returns userID's passkey id. ENOTFOUND also for another
// user's.
func getPasskey(ctx context.Context, q querier, userID, id string) (Passkey, error) {
	p, err := scanPasskey(q.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM webauthn_credentials WHERE id = $1 AND user_id = $2`, id, userID))
	return p, notFoundAs(err, "Passkey not found.")
}

// renamePasskey names userID's passkey id. ENOTFOUND also for another
// user's.
func renamePasskey(ctx context.Context, q querier, userID, id, name string) error {
	tag, err := q.Exec(ctx, `UPDATE webauthn_credentials SET name = $3 WHERE id = $1 AND user_id = $2`, id, userID, name)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return gw.Errorf(gw.ENOTFOUND, "Passkey not found.")
	}
	return nil
}

// deletePasskey deletes userID's passkey id and returns it. ENOTFOUND also
// for another user's.
func deletePasskey(ctx context.Context, q querier, userID, id string) (Passkey, error) {
	p, err := scanPasskey(q.QueryRow(ctx, `DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2
		RETURNING `+passkeyColumns, id, userID))
	return p, notFoundAs(err, "Passkey not found.")
}

// aaguid is an authenticator's AAGUID as a UUID string, "" when it sent
// none.
func aaguid(b []byte) string {
	u, err := uuid.FromBytes(b)
	if err != nil {
		return ""
	}
	return u.String()
}
