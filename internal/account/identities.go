package account

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// noPassword is the password hash of an account made through an identity
// provider: no password matches it (checkPassword). A password reset sets
// a real one.
const noPassword = ""

// ExternalIdentity is a person as an OpenID Connect provider vouches for
// them, from a verified ID token (internal/sso).
type ExternalIdentity struct {
	Provider      string // the configured provider's name, e.g. "google"
	Subject       string // the provider's stable user ID (the sub claim)
	Email         string
	EmailVerified bool // the provider says it verified Email (email_verified)
}

// Identity is an identity provider's account linked to a user.
type Identity struct {
	ID         string
	Provider   string
	Subject    string
	Email      string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// IdentitySignIn is the outcome of SignInWithIdentity: either User, to be
// signed in (its second factor still asked when User.TwoFactor is set), or
// LinkTo, an existing account with the identity's verified email address
// that the identity may be linked to only once its owner confirms
// (LinkIdentity).
type IdentitySignIn struct {
	User    User
	Created bool   // the account was created just now
	LinkTo  string // the ID of the account to confirm a link to; User is then empty
}

// SignInWithIdentity signs in with a provider's identity: the account it
// is linked to; else, when the provider verified its email address and an
// account has it, LinkTo that account (nothing is linked yet); else a new
// account with that address, verified, without a password, and the
// identity linked to it. Errors: EINVALID when the identity has no subject
// or no usable email address; EFORBIDDEN for a disabled account or, when
// the identity is not linked yet, an address the provider has not
// verified (it could belong to anyone).
func (s *Service) SignInWithIdentity(ctx context.Context, id ExternalIdentity) (IdentitySignIn, error) {
	if id.Provider == "" || id.Subject == "" {
		return IdentitySignIn{}, gw.Errorf(gw.EINVALID, "The identity provider sent no user ID.")
	}
	now := s.now()
	var out IdentitySignIn
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		userID, err := identityUser(ctx, tx, id.Provider, id.Subject, now)
		if err != nil && gw.ErrorCode(err) != gw.ENOTFOUND {
			return err
		}
		if err == nil {
			row, err := getUserByID(ctx, tx, userID, false)
			if err != nil {
				return err
			}
			if row.Disabled {
				return errDisabled()
			}
			out.User = row.User
			return nil
		}
		email := normalizeEmail(id.Email)
		if email == "" || emailProblem(email) != "" {
			return gw.Errorf(gw.EINVALID, "The identity provider sent no usable email address.")
		}
		if !id.EmailVerified {
			return gw.Errorf(gw.EFORBIDDEN, "Your identity provider has not verified the address %s, so it cannot sign you in here.", email)
		}
		existing, err := getUserByEmail(ctx, tx, email)
		if err == nil {
			out.LinkTo = existing.ID
			return nil
		}
		if gw.ErrorCode(err) != gw.ENOTFOUND {
			return err
		}
		u := User{ID: gw.NewID(), Email: email, EmailVerified: true, CreatedAt: now}
		inserted, err := insertUser(ctx, tx, u, noPassword, &now)
		if err != nil {
			return err
		}
		if !inserted { // signed up meanwhile
			existing, err := getUserByEmail(ctx, tx, email)
			if err != nil {
				return err
			}
			out.LinkTo = existing.ID
			return nil
		}
		if err := s.linkIdentityTx(ctx, tx, u.ID, id, now); err != nil {
			return err
		}
		out.User, out.Created = u, true
		return nil
	})
	if err != nil {
		return IdentitySignIn{}, err
	}
	return out, nil
}

// LinkIdentity links id to userID's account once its owner confirmed with
// their password, and returns the user to sign in. Errors: EINVALID with
// Fields "password" for a wrong password, also for an account without
// one; EFORBIDDEN for a disabled account or an identity whose email
// address is not the account's verified one; ECONFLICT when the identity
// is linked to an account already.
func (s *Service) LinkIdentity(ctx context.Context, userID, password string, id ExternalIdentity) (User, error) {
	row, err := getUserByID(ctx, s.pool, userID, false)
	if err != nil {
		return User{}, err
	}
	match, _, err := s.checkPassword(ctx, password, row.PasswordHash)
	if err != nil {
		return User{}, err
	}
	if !match {
		return User{}, invalidFields("password", "Your password is not correct.")
	}
	if row.Disabled {
		return User{}, errDisabled()
	}
	if !id.EmailVerified || normalizeEmail(id.Email) != row.Email || !row.EmailVerified {
		return User{}, gw.Errorf(gw.EFORBIDDEN, "This identity's verified email address is not your account's.")
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		return s.linkIdentityTx(ctx, tx, userID, id, s.now())
	})
	if err != nil {
		return User{}, err
	}
	return row.User, nil
}

// LinkIdentitySignedIn links id to userID's account for a user who is
// signed in and has just signed in to the provider too (a flow they
// started from their account page): both sides are proven, so neither a
// password nor a matching email address is asked. Errors: ENOTFOUND;
// EFORBIDDEN for a disabled account; ECONFLICT when the identity is linked
// to an account already.
func (s *Service) LinkIdentitySignedIn(ctx context.Context, userID string, id ExternalIdentity) error {
	if id.Provider == "" || id.Subject == "" {
		return gw.Errorf(gw.EINVALID, "The identity provider sent no user ID.")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := getUserByID(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if row.Disabled {
			return errDisabled()
		}
		return s.linkIdentityTx(ctx, tx, userID, id, s.now())
	})
}

// linkIdentityTx inserts the link of id to userID and records it in the
// user's audit chain. ECONFLICT when id is linked already.
func (s *Service) linkIdentityTx(ctx context.Context, tx pgx.Tx, userID string, id ExternalIdentity, now time.Time) error {
	tag, err := tx.Exec(ctx, `INSERT INTO user_identities (id, user_id, provider, subject, email, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (provider, subject) DO NOTHING`,
		gw.NewID(), userID, id.Provider, id.Subject, normalizeEmail(id.Email), now)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return gw.Errorf(gw.ECONFLICT, "This %s account is linked to another account already.", id.Provider)
	}
	return recordAccount(ctx, tx, userID, audit.ActionIdentityLinked, nil,
		map[string]any{"provider": id.Provider, "subject": id.Subject})
}

// Identities lists the identities linked to userID's account, oldest
// first.
func (s *Service) Identities(ctx context.Context, userID string) ([]Identity, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text, provider, subject, email, created_at, last_used_at
		FROM user_identities WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Identity, error) {
		var i Identity
		err := row.Scan(&i.ID, &i.Provider, &i.Subject, &i.Email, &i.CreatedAt, &i.LastUsedAt)
		return i, err
	})
	return out, postgres.Translate(err)
}

// HasPassword reports whether userID's account has a password (an account
// made through an identity provider has none until a password reset).
// Errors: ENOTFOUND.
func (s *Service) HasPassword(ctx context.Context, userID string) (bool, error) {
	row, err := getUserByID(ctx, s.pool, userID, false)
	return row.PasswordHash != noPassword, err
}

// UnlinkIdentity removes the identity identityID from userID's account,
// while another way to sign in remains: a password, another identity or a
// passkey.
// Errors: ENOTFOUND (also for another user's identity); ECONFLICT when it
// is the last way to sign in.
func (s *Service) UnlinkIdentity(ctx context.Context, userID, identityID string) error {
	if !gw.ValidID(identityID) {
		return gw.Errorf(gw.ENOTFOUND, "Linked sign-in not found.")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := getUserByID(ctx, tx, userID, true) // serialises unlinks of one user
		if err != nil {
			return err
		}
		var provider, subject string
		var others int
		err = tx.QueryRow(ctx, `SELECT provider, subject,
			(SELECT count(*) FROM user_identities o WHERE o.user_id = i.user_id AND o.id <> i.id) +
			(SELECT count(*) FROM webauthn_credentials c WHERE c.user_id = i.user_id)
			FROM user_identities i WHERE id = $1 AND user_id = $2`, identityID, userID).Scan(&provider, &subject, &others)
		if err != nil {
			return notFoundAs(postgres.Translate(err), "Linked sign-in not found.")
		}
		if row.PasswordHash == noPassword && others == 0 {
			return gw.Errorf(gw.ECONFLICT, "This is your only way to sign in. Set a password (through \"Forgot your password?\"), link another sign-in or add a passkey first.")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM user_identities WHERE id = $1`, identityID); err != nil {
			return postgres.Translate(err)
		}
		return recordAccount(ctx, tx, userID, audit.ActionIdentityUnlinked,
			map[string]any{"provider": provider, "subject": subject}, nil)
	})
}

// identityUser returns the user (provider, subject) is linked to, noting
// the use. ENOTFOUND when it is linked to none.
func identityUser(ctx context.Context, tx pgx.Tx, provider, subject string, now time.Time) (string, error) {
	var userID string
	err := tx.QueryRow(ctx, `UPDATE user_identities SET last_used_at = $3
		WHERE provider = $1 AND subject = $2 RETURNING user_id::text`, provider, subject, now).Scan(&userID)
	return userID, postgres.Translate(err)
}
