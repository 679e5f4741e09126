package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// SecondFactorWindow is how long a sign-in that passed the password step
// may wait for its second factor: five minutes, as Django's and Devise's
// two-factor plugins allow, long enough to find the phone, too short for a
// stolen half-signed-in session to be of use later.
const SecondFactorWindow = 5 * time.Minute

// PasswordStamp returns a fingerprint of the user's current password (a
// SHA-256 of its stored hash, itself salted): it changes whenever the
// password is changed or reset. A sign-in waiting for its second factor
// keeps the stamp of the password it passed with, and is void when the
// stamp no longer matches. Errors: ENOTFOUND for an unknown user.
func (s *Service) PasswordStamp(ctx context.Context, userID string) (string, error) {
	u, err := getUserByID(ctx, s.pool, userID, false)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte("groundwork password stamp\x00" + u.PasswordHash))
	return hex.EncodeToString(sum[:16]), nil
}
