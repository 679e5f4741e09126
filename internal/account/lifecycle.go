package account

import (
	"context"
	"errors"

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
// which must be handed over or deleted first. Memberships end, and the API
// keys and invitations the user created are revoked, in the transaction
// that deletes the user (Config.OwnedOrgs.LeaveAllTx). Errors: ENOTFOUND
// for an unknown user; EINVALID with Fields "password" for a wrong
// password; ECONFLICT "Transfer or delete these organisations first: A,
// B." (from Config.OwnedOrgs).
func (s *Service) DeleteAccount(ctx context.Context, userID, password string) error {
	if s.cfg.OwnedOrgs == nil {
		return errors.New("delete account: account.Config.OwnedOrgs is not set")
	}
	row, err := s.confirmedUser(ctx, userID, password)
	if err != nil {
		return err
	}
	var leftOrgs func()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// The user's row first, locked until the commit: then no
		// membership, API key or invitation of theirs can be added
		// meanwhile, and no co-owner can leave between the check that
		// an organisation keeps an owner and the deletion (LeaveAllTx
		// locks the organisations next: users before organisations).
		if _, err := getUserByID(ctx, tx, row.ID, true); err != nil {
			return err
		}
		done, err := s.cfg.OwnedOrgs.LeaveAllTx(ctx, tx, row.ID)
		if err != nil {
			return err
		}
		leftOrgs = done
		if _, _, err := deleteSessions(ctx, tx, row.ID, "", "", s.now()); err != nil {
			return err
		}
		if err := deleteUser(ctx, tx, row.ID); err != nil {
			return err
		}
		// The user's audit chain outlives the account, ending here.
		if err := recordAccount(ctx, tx, row.ID, audit.ActionUserDeleted, nil, nil); err != nil {
			return err
		}
		return s.email(ctx, tx, s.accountDeletedEmail(row.Email))
	})
	if err != nil {
		return err
	}
	leftOrgs()
	return nil
}
