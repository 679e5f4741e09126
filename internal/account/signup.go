package account

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/mail"
)

// SignUp creates an unverified account and emails a verification link.
//
// The address is trimmed and lower-cased. A malformed address or a weak
// password (shorter than 8 or longer than 256 characters, a common password,
// or one containing the address) is EINVALID, with Fields "email" and
// "password". If the address already has an account, SignUp reveals nothing:
// it answers as for a new account (with a User that is stored nowhere) and
// emails the address that someone tried to sign up with it. The emails are
// queued in the transaction and sent after it by a worker (Service.email),
// so their failures never reach the caller; ResendVerification helps a user
// whose email did not arrive.
func (s *Service) SignUp(ctx context.Context, email, password string) (User, error) {
	email = normalizeEmail(email)
	if err := invalidFields("email", emailProblem(email), "password", passwordProblem(password, email)); err != nil {
		return User{}, err
	}
	// Hash before looking: a taken address costs as much as a free one.
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return User{}, err
	}
	now := s.now()
	u := User{ID: gw.NewID(), Email: email, CreatedAt: now}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		inserted, err := insertUser(ctx, tx, u, hash, nil)
		if err != nil {
			return err
		}
		if !inserted {
			return s.email(ctx, tx, s.signUpAttemptEmail(email))
		}
		token, err := issueToken(ctx, tx, u.ID, purposeVerifyEmail, email, s.cfg.VerifyTTL, now)
		if err != nil {
			return err
		}
		return s.email(ctx, tx, s.verifyEmail(email, token))
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// CreateVerifiedUser creates an account whose address counts as verified,
// for the admin command line. Errors: EINVALID (Fields "email",
// "password", as for SignUp), ECONFLICT if the address has an account.
func (s *Service) CreateVerifiedUser(ctx context.Context, email, password string) (User, error) {
	email = normalizeEmail(email)
	if err := invalidFields("email", emailProblem(email), "password", passwordProblem(password, email)); err != nil {
		return User{}, err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return User{}, err
	}
	now := s.now()
	u := User{ID: gw.NewID(), Email: email, EmailVerified: true, CreatedAt: now}
	inserted, err := insertUser(ctx, s.pool, u, hash, &now)
	if err != nil {
		return User{}, err
	}
	if !inserted {
		return User{}, gw.Errorf(gw.ECONFLICT, "An account with the email address %s already exists.", email)
	}
	return u, nil
}

// VerifyEmail uses a verification token from a sign-up email and marks the
// address verified. A token for an address the account no longer has is
// refused. Errors: EINVALID "This link is invalid or has expired." for an
// unknown, used or expired token.
func (s *Service) VerifyEmail(ctx context.Context, token string) (User, error) {
	hash, ok := parseToken(token)
	if !ok {
		return User{}, errInvalidLink()
	}
	var u User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		t, err := useToken(ctx, tx, hash, purposeVerifyEmail, now)
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
		if err := markEmailVerified(ctx, tx, row.ID, now); err != nil {
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

// ResendVerification emails a new verification link to an account that is
// not verified yet. It returns nil, and sends nothing, for an unknown,
// verified or disabled address, so that it reveals nothing.
func (s *Service) ResendVerification(ctx context.Context, email string) error {
	return s.mailToken(ctx, email, purposeVerifyEmail, s.cfg.VerifyTTL,
		func(u userRow) bool { return !u.EmailVerified && !u.Disabled }, s.verifyEmail)
}

// mailToken issues a token for p (valid for ttl) to the account with
// email when want(account) says so, and emails it, composed by compose. An
// invalid or unknown address, or an account want refuses, gets nothing and
// no error, so that the caller learns nothing. The email is queued in the
// transaction that issues the token and sent by a worker after it commits:
// neither path waits for SMTP.
func (s *Service) mailToken(ctx context.Context, email string, p purpose, ttl time.Duration,
	want func(userRow) bool, compose func(to, token string) mail.Message) error {
	email = normalizeEmail(email)
	if emailProblem(email) != "" {
		return nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := getUserByEmail(ctx, tx, email)
		if err != nil || !want(row) {
			return err
		}
		token, err := issueToken(ctx, tx, row.ID, p, row.Email, ttl, s.now())
		if err != nil {
			return err
		}
		return s.email(ctx, tx, compose(email, token))
	})
	if gw.ErrorCode(err) == gw.ENOTFOUND {
		return nil
	}
	return err
}
