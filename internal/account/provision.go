package account

import (
	"context"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// ProvisionUser returns the account with email, creating it when there is
// none: without a password (an empty password hash, which no password matches)
// and with the address verified, because the organisation's identity
// provider asserted it (SCIM provisioning). An existing account is returned
// as it is. Errors: EINVALID (Fields "email") for a malformed address.
func (s *Service) ProvisionUser(ctx context.Context, email string) (User, error) {
	email = normalizeEmail(email)
	if err := invalidFields("email", emailProblem(email)); err != nil {
		return User{}, err
	}
	now := s.now()
	u := User{ID: gw.NewID(), Email: email, EmailVerified: true, CreatedAt: now}
	inserted, err := insertUser(ctx, s.pool, u, "", &now)
	if err != nil {
		return User{}, err
	}
	if inserted {
		return u, nil
	}
	return s.UserByEmail(ctx, email)
}
