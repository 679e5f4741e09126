package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// DisableUser stops a user from signing in and signs out all their
// sessions; the account and its data stay. Errors: ENOTFOUND.
func (s *Service) DisableUser(ctx context.Context, id string) error {
	if !gw.ValidID(id) {
		return gw.Errorf(gw.ENOTFOUND, "User not found.")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		found, err := setDisabled(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if !found {
			return gw.Errorf(gw.ENOTFOUND, "User not found.")
		}
		if _, _, err = deleteSessions(ctx, tx, id, "", "", now); err != nil {
			return err
		}
		// Done by an administrator: the actor is taken from ctx (none on
		// the command line: the system).
		return audit.Record(ctx, tx, audit.Event{AccountID: id, Action: audit.ActionUserDisabled,
			TargetType: audit.TargetUser, TargetID: id})
	})
}

// DeleteAccount deletes a user who knows their password, with their
// sessions, tokens, recovery codes and memberships, and emails them a
// notice. It refuses while the user is the only owner of an organisation,
// which must be handed over or deleted first. Errors: ENOTFOUND for an
// unknown user; EINVALID with Fields "password" for a wrong password;
// ECONFLICT "Transfer or delete these organisations first: A, B.".
func (s *Service) DeleteAccount(ctx context.Context, userID, password string) error {
	if s.cfg.OwnedOrgs == nil {
		return errors.New("delete account: account.Config.OwnedOrgs is not set")
	}
	row, err := getUserByID(ctx, s.pool, userID, false)
	if err != nil {
		return err
	}
	match, _, err := checkPassword(password, row.PasswordHash)
	if err != nil {
		return err
	}
	if !match {
		return invalidFields("password", "The password is not correct.")
	}
	names, err := s.cfg.OwnedOrgs.SolelyOwnedOrgs(ctx, row.ID)
	if err != nil {
		return fmt.Errorf("list solely owned organisations: %w", err)
	}
	if len(names) > 0 {
		return gw.Errorf(gw.ECONFLICT, "Transfer or delete these organisations first: %s.", strings.Join(names, ", "))
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, _, err := deleteSessions(ctx, tx, row.ID, "", "", s.now()); err != nil {
			return err
		}
		if err := deleteUser(ctx, tx, row.ID); err != nil {
			return err
		}
		// The user's audit chain outlives the account, ending here.
		return recordAccount(ctx, tx, row.ID, audit.ActionUserDeleted, nil, nil)
	})
	if err != nil {
		return err
	}
	s.sendQuietly(ctx, s.accountDeletedEmail(row.Email))
	return nil
}
