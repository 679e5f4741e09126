package account

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// RequestPasswordReset emails a password reset link to the address, if it
// belongs to an account that is not disabled; a new link replaces older
// ones. It returns nil whether or not the address has an account, so that
// it reveals nothing; the email is sent after the request by a worker, so
// neither answer waits for SMTP (mailToken).
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	return s.mailToken(ctx, email, purposeResetPassword, s.cfg.ResetTTL,
		func(u userRow) bool { return !u.Disabled }, s.resetEmail)
}

// ResetPassword uses a reset token to set a new password. It signs out
// every session of the user, makes other reset links unusable, and marks
// the address verified (the link proved it). Errors: EINVALID "This link
// is invalid or has expired." for an unknown, used or expired token, or one
// sent to an address the account no longer has; EINVALID with Fields
// "password" for a weak password (the token stays usable).
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) (User, error) {
	hash, ok := parseToken(token)
	if !ok {
		return User{}, errInvalidLink()
	}
	t, err := findToken(ctx, s.pool, hash, purposeResetPassword, s.now())
	if gw.ErrorCode(err) == gw.ENOTFOUND {
		return User{}, errInvalidLink()
	}
	if err != nil {
		return User{}, err
	}
	row, err := getUserByID(ctx, s.pool, t.UserID, false)
	if err != nil {
		return User{}, err
	}
	if err := invalidFields("password", passwordProblem(newPassword, row.Email)); err != nil {
		return User{}, err
	}
	newHash, err := s.hashPassword(ctx, newPassword)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		t, err := useToken(ctx, tx, hash, purposeResetPassword, now)
		if err != nil {
			return err
		}
		row, err := getUserByID(ctx, tx, t.UserID, true)
		if err != nil {
			return err
		}
		if !strings.EqualFold(row.Email, t.Email) {
			return errInvalidLink()
		}
		if _, err := replacePasswordHash(ctx, tx, row.ID, row.PasswordHash, newHash, now); err != nil {
			return err
		}
		if err := markEmailVerified(ctx, tx, row.ID, now); err != nil {
			return err
		}
		if err := expireTokens(ctx, tx, row.ID, now, purposeResetPassword); err != nil {
			return err
		}
		if _, _, err := deleteSessions(ctx, tx, row.ID, "", "", now); err != nil {
			return err
		}
		if err := recordAccount(ctx, tx, row.ID, audit.ActionPasswordReset, nil, nil); err != nil {
			return err
		}
		u = row.User
		u.EmailVerified = true
		return nil
	})
	if gw.ErrorCode(err) == gw.ENOTFOUND {
		return User{}, errInvalidLink()
	}
	return u, err
}

// ChangePassword sets a new password for a signed-in user who knows the
// current one, signs out every session of the user (the caller's too: it
// should then start a fresh session, with a new token, via RecordSession),
// makes reset links unusable, and emails the user a notice. Errors:
// ENOTFOUND for an unknown user; EINVALID with Fields "current_password"
// when the current password is wrong, or "new_password" for a weak new one;
// ECONFLICT if the password changed meanwhile.
func (s *Service) ChangePassword(ctx context.Context, userID, current, newPassword string) error {
	row, err := getUserByID(ctx, s.pool, userID, false)
	if err != nil {
		return err
	}
	match, _, err := s.checkPassword(ctx, current, row.PasswordHash)
	if err != nil {
		return err
	}
	if !match {
		return invalidFields("current_password", "Your current password is not correct.")
	}
	if err := invalidFields("new_password", passwordProblem(newPassword, row.Email)); err != nil {
		return err
	}
	newHash, err := s.hashPassword(ctx, newPassword)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		replaced, err := replacePasswordHash(ctx, tx, row.ID, row.PasswordHash, newHash, now)
		if err != nil {
			return err
		}
		if !replaced {
			return gw.Errorf(gw.ECONFLICT, "Your password was changed meanwhile; try again.")
		}
		if err := expireTokens(ctx, tx, row.ID, now, purposeResetPassword); err != nil {
			return err
		}
		if _, _, err = deleteSessions(ctx, tx, row.ID, "", "", now); err != nil {
			return err
		}
		if err := recordAccount(ctx, tx, row.ID, audit.ActionPasswordChanged, nil, nil); err != nil {
			return err
		}
		return s.email(ctx, tx, s.passwordChangedEmail(row.Email))
	})
}
