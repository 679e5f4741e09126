package contacts

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// The Service is a crypto.Table: a key rotation counts and rewrites the
// contacts' encrypted columns through it.
var _ crypto.Table = (*Service)(nil)

// KeyUsage counts the contacts' stored values (email_enc, phone_enc,
// email_bidx) by column and key, over every organisation. It is for
// operators (groundwork keys status), not tenants, so it takes no scope.
// Its cost grows with the number of organisations: one round trip each.
func (s *Service) KeyUsage(ctx context.Context) ([]crypto.KeyUsage, error) {
	sums := map[crypto.KeyUsage]int64{} // keyed with Rows zero
	err := postgres.EachOrg(ctx, s.pool, func(orgID string) error {
		usage, err := countKeyUsage(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: orgID}), orgID)
		for _, u := range usage {
			n := u.Rows
			u.Rows = 0
			sums[u] += n
		}
		return postgres.Translate(err)
	})
	if err != nil {
		return nil, fmt.Errorf("contacts key usage: %w", err)
	}
	out := make([]crypto.KeyUsage, 0, len(sums))
	for u, n := range sums {
		u.Rows = n
		out = append(out, u)
	}
	return out, nil
}

// Reencrypt rewrites every contact that has a value not under the primary
// keys of the Service's keyring, organisation by organisation, at most
// batch contacts per transaction, and returns how many it rewrote. A value
// that will not decrypt (its key is gone, or it was tampered with) stops it
// with a *crypto.DecryptError; what it rewrote until then stays rewritten.
func (s *Service) Reencrypt(ctx context.Context, batch int) (int, error) {
	total := 0
	err := postgres.EachOrg(ctx, s.pool, func(orgID string) error {
		for {
			var n int
			err := postgres.InOrgTx(ctx, s.pool, orgID, func(tx pgx.Tx) error {
				var err error
				n, err = reencryptBatch(ctx, tx, s.keys, orgID, batch)
				return err
			})
			total += n
			if err != nil || n < batch {
				return err
			}
		}
	})
	if err != nil {
		return total, fmt.Errorf("re-encrypt contacts: %w", err)
	}
	return total, nil
}
