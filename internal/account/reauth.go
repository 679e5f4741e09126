package account

import "context"

// ConfirmPassword checks the password of a signed-in user again, before an
// action destructive enough to ask for it (deleting an organisation, say):
// whoever sits at an unlocked browser cannot do it with the session alone.
// Errors: ENOTFOUND for an unknown user; EINVALID with Fields "password"
// for a wrong password; EUNAVAILABLE when no hashing slot comes free.
func (s *Service) ConfirmPassword(ctx context.Context, userID, password string) error {
	row, err := getUserByID(ctx, s.pool, userID, false)
	if err != nil {
		return err
	}
	match, _, err := s.checkPassword(ctx, password, row.PasswordHash)
	if err != nil {
		return err
	}
	if !match {
		return invalidFields("password", "The password is not correct.")
	}
	return nil
}
