package account

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Account events go to the user's own audit chain (audit.Event.AccountID),
// in the transaction of the change. The user is the actor of what they do
// to their own account; the admin command line acts as the system.

// recordAccount appends action on userID's account, done by the user, to
// their audit chain in tx.
func recordAccount(ctx context.Context, tx pgx.Tx, userID, action string, before, after any) error {
	return audit.Record(ctx, tx, audit.Event{AccountID: userID, Actor: gw.Actor{UserID: userID}, Action: action,
		TargetType: audit.TargetUser, TargetID: userID, Before: before, After: after})
}

// auditTwoFactor records that userID turned two-factor authentication on
// or off.
func auditTwoFactor(ctx context.Context, tx pgx.Tx, userID string, on bool) error {
	action := audit.ActionTwoFactorDisabled
	if on {
		action = audit.ActionTwoFactorEnabled
	}
	return recordAccount(ctx, tx, userID, action, map[string]any{"two_factor": !on}, map[string]any{"two_factor": on})
}

// auditSignIn records a sign-in of userID, with the session token, from a
// new device: an IP and user agent (both as RecordSession keeps them) that
// neither another of the user's indexed sessions nor an earlier sign-in in
// the user's audit chain came from. The index forgets ended sessions, the
// audit chain does not, so a device stays known after its sessions end.
func auditSignIn(ctx context.Context, tx pgx.Tx, userID, tokenHash, ip, userAgent string) error {
	var indexed bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM user_sessions
		WHERE user_id = $1 AND ip = $2 AND user_agent = $3 AND token_hash <> $4)`, userID, ip, userAgent, tokenHash).Scan(&indexed)
	if err != nil {
		return fmt.Errorf("look up sessions: %w", err)
	}
	if indexed {
		return nil
	}
	known, err := audit.SignedInBefore(ctx, tx, userID, ip, userAgent)
	if err != nil || known {
		return err
	}
	return audit.Record(ctx, tx, audit.Event{AccountID: userID, Actor: gw.Actor{UserID: userID},
		Action: audit.ActionSignInNewDevice, TargetType: audit.TargetUser, TargetID: userID,
		IP: ip, UserAgent: userAgent})
}
