package account

import "context"

// ConfirmPassword checks the password of a signed-in user again, before an
// action destructive enough to ask for it (deleting an organisation, say):
// whoever sits at an unlocked browser cannot do it with the session alone.
// Errors: ENOTFOUND for an unknown user; EINVALID with Fields "password"
// for a wrong password; EUNAVAILABLE when no hashing slot comes free.
func (s *Service) ConfirmPassword(ctx context.Context, userID, password string) error {
	_, err := s.confirmedUser(ctx, userID, password)
	return err
}

// confirmedUser is the user userID, once password proved to be theirs;
// errors as ConfirmPassword's.
func (s *Service) confirmedUser(ctx context.Context, userID, password string) (userRow, error) {
	row, err := getUserByID(ctx, s.pool, userID, false)
	if err != nil {
		return userRow{}, err
	}
	return row, s.requirePassword(ctx, row, password)
}

// requirePassword returns EINVALID with Fields "password" unless password
// is row's (EUNAVAILABLE when no hashing slot comes free).
func (s *Service) requirePassword(ctx context.Context, row userRow, password string) error {
	match, _, err := s.checkPassword(ctx, password, row.PasswordHash)
	if err != nil {
		return err
	}
	if !match {
		return invalidFields("password", "The password is not correct.")
	}
	return nil
}
