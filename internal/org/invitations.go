package org

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	gwmail "github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// errInvitationInvalid is the one answer for an unusable invitation token,
// whatever the reason: nothing is revealed about other invitations.
func errInvitationInvalid() error {
	return gw.Errorf(gw.EINVALID, "This invitation is invalid or has expired.")
}

// Invite invites email to join the scope's organisation with role (admin,
// member or viewer, no stronger than the inviter's) and emails them a link
// to accept. Inviting an address again replaces its pending invitation. A
// pending invitation holds a seat: with Config.Entitlements set, members
// plus pending invitations (other than the one replaced) must stay within
// the plan's seats, and a read-only organisation cannot invite. It returns
// ENOTFOUND, EFORBIDDEN (authz.MembersManage, role too strong, no seat left,
// read-only organisation; the message points to the billing page),
// EINVALID (bad email or role) and ECONFLICT (already a member).
func (s *Service) Invite(ctx context.Context, scope gw.Scope, email string, role gw.Role) (Invitation, error) {
	if err := authz.Require(scope, authz.MembersManage); err != nil {
		return Invitation{}, err
	}
	email, err := checkEmail(email)
	if err != nil {
		return Invitation{}, err
	}
	if err := checkGrantable(scope.Role, role); err != nil {
		return Invitation{}, err
	}
	token, hash := newInvitationToken()
	now := s.now()
	inv := Invitation{ID: gw.NewID(), OrgID: scope.OrgID, Email: email, Role: role,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.InviteTTL)}
	err = postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		orgName, inviter, err := inviteContext(ctx, tx, scope.OrgID, scope.UserID)
		if err != nil {
			return err
		}
		if err := requireGranter(ctx, tx, scope, authz.MembersManage, role); err != nil {
			return err
		}
		inv.OrgName, inv.InvitedBy, inv.InvitedByEmail = orgName, scope.UserID, inviter
		member, err := isMemberEmail(ctx, tx, scope.OrgID, email)
		if err != nil {
			return fmt.Errorf("check membership: %w", err)
		}
		if member {
			return &gw.Error{Code: gw.ECONFLICT, Message: fmt.Sprintf("%s is already a member of %s.", email, orgName),
				Fields: map[string]string{"email": "Already a member."}}
		}
		if err := revokePendingInvitations(ctx, tx, scope.OrgID, email, now); err != nil {
			return fmt.Errorf("replace invitation: %w", err)
		}
		if err := s.checkSeat(ctx, tx, scope.OrgID, true, email); err != nil {
			return err
		}
		if err := insertInvitation(ctx, tx, inv, hash, scope.UserID); err != nil {
			return fmt.Errorf("insert invitation: %w", postgres.Translate(err))
		}
		// Queued in the transaction, sent by a worker after the commit
		// (mail.Outbox): the email exists if and only if the invitation
		// does, and no SMTP round trip holds this transaction, its pooled
		// connection or the seat lock; a relay that fails is retried.
		if err := s.outbox.Enqueue(ctx, tx, s.invitationMessage(inv, inviter, token)); err != nil {
			return fmt.Errorf("queue invitation email: %w", err)
		}
		// Recorded last, as every audit event (audit.Record).
		return record(ctx, tx, scope, audit.ActionInvitationCreated, audit.TargetInvitation, inv.ID, nil,
			map[string]any{"email": inv.Email, "role": inv.Role, "expires_at": inv.ExpiresAt})
	})
	if err != nil {
		return Invitation{}, err
	}
	return inv, nil
}

// invitationMessage is the email carrying the link to accept inv.
func (s *Service) invitationMessage(inv Invitation, inviter, token string) gwmail.Message {
	who := "You have been invited"
	if inviter != "" {
		who = inviter + " has invited you"
	}
	article := "a"
	if inv.Role == gw.RoleAdmin {
		article = "an"
	}
	text := fmt.Sprintf("%s to join %s as %s %s.\n\nAccept the invitation:\n%s\n\n"+
		"The link works once and expires on %s. If you did not expect this invitation, you can ignore this email.\n",
		who, inv.OrgName, article, inv.Role, s.cfg.BaseURL+"/invitations/"+token,
		inv.ExpiresAt.UTC().Format("2 January 2006 at 15:04 MST"))
	return gwmail.Message{To: inv.Email, Subject: "Invitation to join " + inv.OrgName, Text: text}
}

// Invitations lists the pending (not accepted, revoked or expired)
// invitations of the scope's organisation, newest first. It returns
// ENOTFOUND and EFORBIDDEN (authz.MembersManage).
func (s *Service) Invitations(ctx context.Context, scope gw.Scope) ([]Invitation, error) {
	if err := authz.Require(scope, authz.MembersManage); err != nil {
		return nil, err
	}
	var list []Invitation
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		var err error
		list, err = pendingInvitations(ctx, tx, scope.OrgID, s.now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	return list, nil
}

// RevokeInvitation revokes the scope's organisation's invitation id;
// revoking it twice is not an error. It returns ENOTFOUND (no such
// invitation in this organisation), EFORBIDDEN (authz.MembersManage) and
// ECONFLICT (already accepted).
func (s *Service) RevokeInvitation(ctx context.Context, scope gw.Scope, id string) error {
	if err := authz.Require(scope, authz.MembersManage); err != nil {
		return err
	}
	if !gw.ValidID(id) {
		return notFound("Invitation")
	}
	return postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		inv, err := invitationForUpdate(ctx, tx, scope.OrgID, id)
		switch {
		case err != nil:
			return err
		case inv.AcceptedAt != nil:
			return gw.Errorf(gw.ECONFLICT, "This invitation has already been accepted.")
		case inv.RevokedAt != nil:
			return nil
		}
		if err := setInvitationRevoked(ctx, tx, scope.OrgID, id, s.now()); err != nil {
			return err
		}
		return record(ctx, tx, scope, audit.ActionInvitationRevoked, audit.TargetInvitation, id,
			map[string]any{"email": inv.Email, "role": inv.Role}, nil)
	})
}

// InvitationByToken returns the invitation whose link carries token, for the
// page that offers to accept it. It returns EINVALID when the token is
// unknown, or its invitation expired, revoked or already accepted.
func (s *Service) InvitationByToken(ctx context.Context, token string) (Invitation, error) {
	hash, ok := invitationTokenHash(token)
	if !ok {
		return Invitation{}, errInvitationInvalid()
	}
	var inv Invitation
	err := postgres.InTx(ctx, s.pool, postgres.TxOptions{SecretHash: hash}, func(tx pgx.Tx) error {
		var err error
		inv, err = invitationByHash(ctx, tx, hash, false)
		return err
	})
	if err != nil {
		return Invitation{}, usableInvitationError(err)
	}
	if !usable(inv, s.now()) {
		return Invitation{}, errInvitationInvalid()
	}
	return inv, nil
}

// AcceptInvitation makes userID a member of the invitation's organisation
// with its role and uses the invitation up. userEmail must be the user's
// verified email address, and equal (ignoring case) to the invited one. A
// user who already belongs to the organisation keeps their role. With
// Config.Entitlements set, a new member needs a free seat on the plan now
// (an invitation sent before a downgrade cannot overflow it) and the
// organisation must not be read-only. It returns EINVALID (see
// InvitationByToken) and EFORBIDDEN (another address, no seat left,
// read-only organisation).
func (s *Service) AcceptInvitation(ctx context.Context, userID, userEmail, token string) (Org, error) {
	hash, ok := invitationTokenHash(token)
	if !ok {
		return Org{}, errInvitationInvalid()
	}
	if !gw.ValidID(userID) {
		return Org{}, gw.Errorf(gw.EINVALID, "Unknown user.")
	}
	now := s.now()
	var o Org
	err := postgres.InTx(ctx, s.pool, postgres.TxOptions{SecretHash: hash}, func(tx pgx.Tx) error {
		inv, err := invitationByHash(ctx, tx, hash, true)
		if err != nil {
			return usableInvitationError(err)
		}
		if !usable(inv, now) {
			return errInvitationInvalid()
		}
		if !strings.EqualFold(strings.TrimSpace(userEmail), inv.Email) {
			return gw.Errorf(gw.EFORBIDDEN, "This invitation was sent to another address.")
		}
		if err := setOrg(ctx, tx, inv.OrgID); err != nil {
			return err
		}
		switch _, err := memberRole(ctx, tx, inv.OrgID, userID); {
		case gw.ErrorCode(err) == gw.ENOTFOUND:
			if err := s.checkSeat(ctx, tx, inv.OrgID, false, ""); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("check membership: %w", err)
		}
		if err := insertMembershipIfNew(ctx, tx, inv.OrgID, userID, inv.Role, now); err != nil {
			return fmt.Errorf("insert membership: %w", err)
		}
		if err := s.seatsChanged(ctx, tx, inv.OrgID); err != nil {
			return err
		}
		if err := setInvitationAccepted(ctx, tx, inv.OrgID, inv.ID, now); err != nil {
			return fmt.Errorf("mark invitation accepted: %w", err)
		}
		if o, err = orgByRef(ctx, tx, inv.OrgID); err != nil {
			return err
		}
		return record(ctx, tx, gw.Scope{Actor: gw.Actor{UserID: userID}, OrgID: inv.OrgID},
			audit.ActionInvitationAccepted, audit.TargetInvitation, inv.ID,
			map[string]any{"email": inv.Email}, map[string]any{"user_id": userID, "role": inv.Role})
	})
	if err != nil {
		return Org{}, err
	}
	return o, nil
}

// usable reports whether inv can still be accepted at now.
func usable(inv Invitation, now time.Time) bool {
	return inv.AcceptedAt == nil && inv.RevokedAt == nil && now.Before(inv.ExpiresAt)
}

// usableInvitationError turns "no such invitation" into the invalid-token error.
func usableInvitationError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) || gw.ErrorCode(err) == gw.ENOTFOUND {
		return errInvitationInvalid()
	}
	return err
}

// invitationTokenBytes is the size of an invitation token's random part.
const invitationTokenBytes = 32

// newInvitationToken returns a fresh invitation token (base64url) and its
// SHA-256, which is all the database keeps.
func newInvitationToken() (token string, hash []byte) {
	b := make([]byte, invitationTokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	token = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

// invitationTokenHash returns the SHA-256 of token if it is well-formed.
func invitationTokenHash(token string) ([]byte, bool) {
	if b, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(b) != invitationTokenBytes {
		return nil, false
	}
	sum := sha256.Sum256([]byte(token))
	return sum[:], true
}

// now is the clock's time at the database's precision.
func (s *Service) now() time.Time { return s.clock.Now().Truncate(time.Microsecond) }
