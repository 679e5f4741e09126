package account

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// RequestEmailChange starts moving a signed-in user's account to a new
// address: it emails a confirmation link to the new address (to
// ConfirmEmailPath, valid for Config.VerifyTTL, replacing older ones) and a
// notice to the current one. If the new address already has an account, that
// address gets a notice instead of a link, and the caller is told nothing.
// Errors: ENOTFOUND for an unknown user; EINVALID with Fields "email" (a
// malformed address, or the current one) or "password" (wrong password).
func (s *Service) RequestEmailChange(ctx context.Context, userID, password, newEmail string) error {
	row, err := getUserByID(ctx, s.pool, userID, false)
	if err != nil {
		return err
	}
	newEmail = normalizeEmail(newEmail)
	problem := emailProblem(newEmail)
	if problem == "" && newEmail == row.Email {
		problem = "That is already your email address."
	}
	if err := invalidFields("email", problem); err != nil {
		return err
	}
	if err := s.requirePassword(ctx, row, password); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := getUserByEmail(ctx, tx, newEmail)
		switch {
		case err == nil: // taken: no token
			err = s.email(ctx, tx, s.emailTakenEmail(newEmail))
		case gw.ErrorCode(err) == gw.ENOTFOUND:
			var token string
			if token, err = issueToken(ctx, tx, row.ID, purposeChangeEmail, newEmail, s.cfg.VerifyTTL, s.now()); err == nil {
				err = s.email(ctx, tx, s.confirmEmailChangeEmail(newEmail, token))
			}
		}
		if err != nil {
			return err
		}
		return s.email(ctx, tx, s.emailChangeNoticeEmail(row.Email, newEmail))
	})
}

// ConfirmEmailChange uses a token from RequestEmailChange: the account
// takes the new address, verified, and every other link sent to the old
// address stops working. Errors: EINVALID "This link is invalid or has
// expired." for an unknown, used or expired token; ECONFLICT if another
// account took the address meanwhile.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) (User, error) {
	hash, ok := parseToken(token)
	if !ok {
		return User{}, errInvalidLink()
	}
	var u User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		t, err := useToken(ctx, tx, hash, purposeChangeEmail, now)
		if gw.ErrorCode(err) == gw.ENOTFOUND {
			return errInvalidLink()
		}
		if err != nil {
			return err
		}
		row, err := getUserByID(ctx, tx, t.UserID, true)
		if err != nil {
			return err
		}
		if err := setEmail(ctx, tx, row.ID, t.Email, now); err != nil {
			if gw.ErrorCode(err) == gw.ECONFLICT {
				return gw.Errorf(gw.ECONFLICT, "The email address %s is now used by another account.", t.Email)
			}
			return err
		}
		if err := expireTokens(ctx, tx, row.ID, now, purposeVerifyEmail, purposeResetPassword, purposeChangeEmail); err != nil {
			return err
		}
		if err := recordAccount(ctx, tx, row.ID, audit.ActionEmailChanged,
			map[string]any{"email": row.Email}, map[string]any{"email": t.Email}); err != nil {
			return err
		}
		u = row.User
		u.Email = t.Email
		u.EmailVerified = true
		return nil
	})
	return u, err
}
