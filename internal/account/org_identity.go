package account

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// SignInWithOrgIdentity signs in with an identity vouched for by an
// organisation's own identity provider for an address in a domain that
// organisation verified (internal/orgsso checks both before calling):
// the account the identity is linked to; else the account with its email
// address, to which the identity is linked now (the organisation controls
// the domain's mailboxes, so it could take the account over by a password
// reset anyway: asking for the password would add nothing); else a new
// account with that address, verified, without a password. Errors:
// EINVALID when the identity has no subject or no usable email address;
// EFORBIDDEN for a disabled account.
func (s *Service) SignInWithOrgIdentity(ctx context.Context, id ExternalIdentity) (IdentitySignIn, error) {
	if id.Provider == "" || id.Subject == "" {
		return IdentitySignIn{}, gw.Errorf(gw.EINVALID, "The identity provider sent no user ID.")
	}
	email := normalizeEmail(id.Email)
	if email == "" || emailProblem(email) != "" {
		return IdentitySignIn{}, gw.Errorf(gw.EINVALID, "The identity provider sent no usable email address.")
	}
	now := s.now()
	var out IdentitySignIn
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		userID, err := identityUser(ctx, tx, id.Provider, id.Subject, now)
		switch {
		case err == nil:
		case gw.ErrorCode(err) != gw.ENOTFOUND:
			return err
		default:
			existing, err := getUserByEmail(ctx, tx, email)
			switch {
			case err == nil:
				userID = existing.ID
			case gw.ErrorCode(err) != gw.ENOTFOUND:
				return err
			default:
				u := User{ID: gw.NewID(), Email: email, EmailVerified: true, CreatedAt: now}
				inserted, err := insertUser(ctx, tx, u, noPassword, &now)
				if err != nil {
					return err
				}
				if !inserted { // signed up meanwhile: the next attempt links it
					return gw.Errorf(gw.ECONFLICT, "Your account was being created meanwhile. Try again.")
				}
				userID, out.Created = u.ID, true
			}
			if err := s.linkIdentityTx(ctx, tx, userID, id, now); err != nil {
				return err
			}
		}
		row, err := getUserByID(ctx, tx, userID, false)
		if err != nil {
			return err
		}
		if row.Disabled {
			return errDisabled()
		}
		out.User = row.User
		return nil
	})
	if err != nil {
		return IdentitySignIn{}, err
	}
	return out, nil
}
