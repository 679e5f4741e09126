package account

import (
	"context"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// errBadCredentials is the one answer to a wrong address or password.
// ErrUnverified is what Authenticate answers, once the password matched,
// for an account whose email address is not verified yet (EFORBIDDEN): the
// log-in page then offers to send a new verification link.
var ErrUnverified = gw.Errorf(gw.EFORBIDDEN, "Verify your email address first; we sent you a link.")

func errBadCredentials() error {
	return gw.Errorf(gw.EUNAUTHORIZED, "Invalid email or password.")
}

// errDisabled refuses a disabled account, however it signs in.
func errDisabled() error { return gw.Errorf(gw.EFORBIDDEN, "This account is disabled.") }

// Authenticate checks an email address and password. An unknown address
// and a wrong password get the same EUNAUTHORIZED "Invalid email or
// password." after the same work (an unknown address is checked against a
// dummy hash). Only once the password matched: a disabled account is
// EFORBIDDEN "This account is disabled.", an unverified one EFORBIDDEN
// "Verify your email address first; we sent you a link.".
//
// A password hash made with older argon2id parameters is replaced with one
// made with the current parameters. When the returned User has TwoFactor
// set, the caller must also get a code checked by VerifySecondFactor before
// signing the user in.
func (s *Service) Authenticate(ctx context.Context, email, password string) (User, error) {
	row, err := getUserByEmail(ctx, s.pool, normalizeEmail(email))
	if gw.ErrorCode(err) == gw.ENOTFOUND {
		_, _, _ = s.checkPassword(ctx, password, s.dummyHash())
		return User{}, errBadCredentials()
	}
	if err != nil {
		return User{}, err
	}
	match, stale, err := s.checkPassword(ctx, password, row.PasswordHash)
	if err != nil {
		return User{}, err
	}
	if !match {
		return User{}, errBadCredentials()
	}
	if row.Disabled {
		return User{}, errDisabled()
	}
	if !row.EmailVerified {
		return User{}, ErrUnverified
	}
	if stale {
		s.rehash(ctx, row, password)
	}
	return row.User, nil
}

// rehash replaces a user's password hash with one made with the current
// parameters, unless the password changed meanwhile. A failure only delays
// the upgrade to the next sign-in, so it is logged, not returned.
func (s *Service) rehash(ctx context.Context, row userRow, password string) {
	hash, err := s.hashPassword(ctx, password)
	if err == nil {
		_, err = replacePasswordHash(ctx, s.pool, row.ID, row.PasswordHash, hash, s.now())
	}
	if err != nil {
		s.logger.WarnContext(ctx, "upgrade password hash", "user_id", row.ID, "error", err)
	}
}
