package account

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/crypto"
)

// The Service is a crypto.Table: a key rotation counts and rewrites the
// encrypted TOTP secrets through it.
var _ crypto.Table = (*Service)(nil)

// KeyUsage counts the stored TOTP secrets (users.totp_secret_enc) by key.
func (s *Service) KeyUsage(ctx context.Context) ([]crypto.KeyUsage, error) {
	usage, err := countTOTPKeyUsage(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("users key usage: %w", err)
	}
	return usage, nil
}

// Reencrypt rewrites every TOTP secret that is not under the primary
// encryption key, at most batch per transaction, and returns how many it
// rewrote. A secret that will not decrypt stops it with a
// *crypto.DecryptError; what it rewrote until then stays rewritten.
func (s *Service) Reencrypt(ctx context.Context, batch int) (int, error) {
	total := 0
	for {
		var n int
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			var err error
			n, err = reencryptTOTPBatch(ctx, tx, s.keys, batch)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("re-encrypt TOTP secrets: %w", err)
		}
		if n < batch {
			return total, nil
		}
	}
}
