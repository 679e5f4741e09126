package org

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/billing/billingtest"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// setupBilled is setup with a real billing.Enforcer enforcing the plans:
// free (3 seats) unless setPlan says otherwise.
func setupBilled(t testing.TB) *bundle {
	t.Helper()
	b := setup(t)
	enforcer := billingtest.Enforcer(t, b.clock)
	require.Equal(t, 3, enforcer.Catalog.Free().Limits.Seats)
	b.svc = NewService(b.db.Runtime, b.outbox, b.clock,
		Config{BaseURL: "https://app.example.com/", Entitlements: enforcer},
		slog.New(slog.NewTextHandler(t.Output(), nil)))
	return b
}

// setPlan stores orgID's subscription: status and price, e.g. "active" and
// "price_pm" for Pro, or "unpaid" for a read-only organisation.
func (b *bundle) setPlan(t testing.TB, orgID, status, priceID string) {
	t.Helper()
	billingtest.SetPlan(t, b.db.Runtime, orgID, status, priceID)
}

// requireRefused asserts that err is the plan's refusal, pointing to
// orgID's billing page.
func requireRefused(t *testing.T, orgID string, err error) {
	t.Helper()
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	require.Contains(t, gw.ErrorMessage(err), "/o/"+orgID+"/billing")
}

func TestInviteRefusedWhenSeatsAreFull(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	b.member(t, o.ID, gw.RoleMember)
	b.member(t, o.ID, gw.RoleMember)

	_, err := b.svc.Invite(ctx, owner, "fourth@example.com", gw.RoleMember)
	requireRefused(t, o.ID, err)
	require.Contains(t, gw.ErrorMessage(err), "3 seats")
	require.Empty(t, b.mail.messages(t), "no invitation email")
	list, err := b.svc.Invitations(ctx, owner)
	require.NoError(t, err)
	require.Empty(t, list)

	// Pro has room.
	b.setPlan(t, o.ID, "active", "price_pm")
	_, err = b.svc.Invite(ctx, owner, "fourth@example.com", gw.RoleMember)
	require.NoError(t, err)
}

func TestInviteCountsPendingInvitations(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	b.member(t, o.ID, gw.RoleMember)
	pending, err := b.svc.Invite(ctx, owner, "pending@example.com", gw.RoleMember)
	require.NoError(t, err)

	// Two members and a pending invitation take the three seats.
	_, err = b.svc.Invite(ctx, owner, "fourth@example.com", gw.RoleMember)
	requireRefused(t, o.ID, err)

	// Inviting the pending address again replaces its invitation: no new seat.
	_, err = b.svc.Invite(ctx, owner, "PENDING@example.com", gw.RoleViewer)
	require.NoError(t, err)
	list, err := b.svc.Invitations(ctx, owner)
	require.NoError(t, err)
	require.Len(t, list, 1)

	// Revoked and expired invitations free their seat.
	require.NoError(t, b.svc.RevokeInvitation(ctx, owner, list[0].ID))
	require.NotEqual(t, pending.ID, list[0].ID)
	_, err = b.svc.Invite(ctx, owner, "fourth@example.com", gw.RoleMember)
	require.NoError(t, err)
	b.clock.Advance(DefaultInviteTTL)
	_, err = b.svc.Invite(ctx, owner, "fifth@example.com", gw.RoleMember)
	require.NoError(t, err)
}

func TestInviteRefusedWhenReadOnly(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	b.setPlan(t, o.ID, "unpaid", "price_pm")

	_, err := b.svc.Invite(ctx, owner, "new@example.com", gw.RoleMember)
	requireRefused(t, o.ID, err)
	require.Contains(t, gw.ErrorMessage(err), "read-only")
}

func TestAcceptRefusedWhenSeatsAreFull(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	b.setPlan(t, o.ID, "active", "price_pm")
	_, err := b.svc.Invite(ctx, owner, "carol@example.com", gw.RoleMember)
	require.NoError(t, err)
	token := b.token(t, "carol@example.com")
	b.member(t, o.ID, gw.RoleMember)
	existing := b.member(t, o.ID, gw.RoleViewer)
	_, err = b.svc.Invite(ctx, owner, "again@example.com", gw.RoleViewer)
	require.NoError(t, err)
	againToken := b.token(t, "again@example.com")
	_, err = b.db.Owner.Exec(ctx, `UPDATE users SET email = 'again@example.com' WHERE id = $1`, existing.UserID)
	require.NoError(t, err)

	// A downgrade to free leaves three members: the invitation sent on Pro
	// cannot overflow the plan.
	b.setPlan(t, o.ID, "canceled", "price_pm")
	carol := b.user(t, "carol@example.com")
	_, err = b.svc.AcceptInvitation(ctx, carol, "carol@example.com", token)
	requireRefused(t, o.ID, err)
	_, _, err = b.svc.MemberScope(ctx, carol, o.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)

	// A member accepting another invitation takes no new seat.
	_, err = b.svc.AcceptInvitation(ctx, existing.UserID, "again@example.com", againToken)
	require.NoError(t, err)

	// Once a seat is free, the invitation still works.
	require.NoError(t, b.svc.RemoveMember(ctx, owner, existing.UserID))
	_, err = b.svc.AcceptInvitation(ctx, carol, "carol@example.com", token)
	require.NoError(t, err)
}

func TestConcurrentInvitesTakeTheLastSeatOnce(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	b.member(t, o.ID, gw.RoleMember)

	require.Equal(t, 1, raceForSeats(t, o.ID, 5, func(i int) error {
		_, err := b.svc.Invite(ctx, owner, fmt.Sprintf("user%d@example.com", i), gw.RoleMember)
		return err
	}))
	list, err := b.svc.Invitations(ctx, owner)
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func TestConcurrentAcceptsTakeTheLastSeatOnce(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	b.setPlan(t, o.ID, "active", "price_pm")
	const n = 4
	users, tokens := make([]string, n), make([]string, n)
	for i := range n {
		email := fmt.Sprintf("user%d@example.com", i)
		_, err := b.svc.Invite(ctx, owner, email, gw.RoleMember)
		require.NoError(t, err)
		tokens[i], users[i] = b.token(t, email), b.user(t, email)
	}
	b.member(t, o.ID, gw.RoleMember)
	b.setPlan(t, o.ID, "canceled", "price_pm") // free: one seat left

	require.Equal(t, 1, raceForSeats(t, o.ID, n, func(i int) error {
		_, err := b.svc.AcceptInvitation(ctx, users[i], fmt.Sprintf("user%d@example.com", i), tokens[i])
		return err
	}))
	members, err := b.svc.Members(ctx, owner)
	require.NoError(t, err)
	require.Len(t, members, 3)
}

func TestNoEntitlementSourceMeansNoSeatLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	b.member(t, o.ID, gw.RoleMember)
	b.member(t, o.ID, gw.RoleMember)
	b.setPlan(t, o.ID, "unpaid", "price_pm") // ignored without a source
	for i := range 3 {
		_, err := b.svc.Invite(ctx, owner, fmt.Sprintf("user%d@example.com", i), gw.RoleMember)
		require.NoError(t, err)
	}
}

// raceForSeats runs try(0..n-1) concurrently, requires every failure to be
// the seat refusal, and returns how many succeeded.
func raceForSeats(t *testing.T, orgID string, n int, try func(i int) error) int {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = try(i) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		requireRefused(t, orgID, err)
	}
	return ok
}

// An organisation whose subscription Stripe keeps charging cannot be
// deleted; once it is set to end (or has ended), it can.
func TestDeleteRefusedWhileSubscribed(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	b.setPlan(t, o.ID, "active", "price_pm")
	err := b.svc.Delete(ctx, owner)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err))
	require.Contains(t, gw.ErrorMessage(err), "/o/"+o.ID+"/billing")
	b.setPlan(t, o.ID, "canceled", "price_pm")
	require.NoError(t, b.svc.Delete(ctx, owner))
}
