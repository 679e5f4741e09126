package orgsso

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// The Service is a crypto.Table: a key rotation counts and rewrites the
// connections' encrypted client secrets through it.
var _ crypto.Table = (*Service)(nil)

// KeyUsage counts the stored client secrets
// (org_sso_connections.client_secret) by key, over every organisation: one
// round trip each. For operators (groundwork keys status); no scope.
func (s *Service) KeyUsage(ctx context.Context) ([]crypto.KeyUsage, error) {
	sums := map[uint32]int64{}
	err := postgres.EachOrg(ctx, s.pool, func(orgID string) error {
		var prefix []byte
		err := queryOne(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: orgID}),
			`SELECT substr(client_secret, 2, 4) FROM org_sso_connections WHERE org_id = $1 AND client_secret IS NOT NULL`,
			[]any{orgID}, &prefix)
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return err
		}
		id, _ := crypto.BlindIndexKeyID(prefix) // the 4 bytes of the ID
		sums[id]++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("org_sso_connections key usage: %w", err)
	}
	out := make([]crypto.KeyUsage, 0, len(sums))
	for id, n := range sums {
		out = append(out, crypto.KeyUsage{Table: "org_sso_connections", Column: "client_secret",
			Kind: crypto.Encryption, KeyID: id, Rows: n})
	}
	return out, nil
}

// Reencrypt rewrites every client secret that is not under the primary
// encryption key, one organisation per transaction, and returns how many
// it rewrote (batch is not needed: an organisation has one secret). A
// secret that will not decrypt stops it with a *crypto.DecryptError.
func (s *Service) Reencrypt(ctx context.Context, _ int) (int, error) {
	total := 0
	primary := s.keys.PrimaryCiphertextPrefix()
	err := postgres.EachOrg(ctx, s.pool, func(orgID string) error {
		return postgres.InOrgTx(ctx, s.pool, orgID, func(tx pgx.Tx) error {
			var secret []byte
			err := tx.QueryRow(ctx, `SELECT client_secret FROM org_sso_connections WHERE org_id = $1 FOR UPDATE`, orgID).Scan(&secret)
			if err != nil {
				if isNotFound(postgres.Translate(err)) {
					return nil
				}
				return postgres.Translate(err)
			}
			if len(secret) == 0 || bytes.HasPrefix(secret, primary) {
				return nil
			}
			plain, err := s.keys.Decrypt(secret, secretAD(orgID))
			if err != nil {
				return err
			}
			if secret, err = s.keys.Encrypt(plain, secretAD(orgID)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE org_sso_connections SET client_secret = $2 WHERE org_id = $1`, orgID, secret); err != nil {
				return postgres.Translate(err)
			}
			total++
			return nil
		})
	})
	if err != nil {
		return total, fmt.Errorf("re-encrypt sso client secrets: %w", err)
	}
	return total, nil
}
