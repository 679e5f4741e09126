package org

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// fullPlan is an Entitlements whose plan has no seat left.
type fullPlan struct{ seatRecorder }

func (*fullPlan) CheckSeatsTx(context.Context, pgx.Tx, string, int) error {
	return gw.Errorf(gw.EFORBIDDEN, "The plan has no seat left.")
}

// TestSCIMProvisioningNeedsASeat: an active provisioned user takes a seat
// of the plan, refused when it is full (nothing is kept then); an
// inactive one does not.
func TestSCIMProvisioningNeedsASeat(t *testing.T) {
	t.Parallel()
	b := setup(t)
	plan := &fullPlan{}
	b.svc = NewService(b.db.Runtime, b.outbox, b.clock, Config{BaseURL: "https://app.example.com/", Entitlements: plan},
		slog.New(slog.DiscardHandler))
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	_, token, err := b.svc.CreateSCIMToken(ctx, owner, "okta")
	require.NoError(t, err)
	sc, err := b.svc.AuthenticateSCIMToken(ctx, token)
	require.NoError(t, err)
	require.Equal(t, o.ID, sc.OrgID)

	ada := b.user(t, "ada@example.com")
	_, _, err = b.svc.SCIMCreateUser(ctx, sc, ada, SCIMUserInput{UserName: "ada@example.com", Active: true})
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	users, err := b.svc.SCIMUsers(ctx, sc)
	require.NoError(t, err)
	require.Empty(t, users, "the refused user is not kept")

	u, _, err := b.svc.SCIMCreateUser(ctx, sc, ada, SCIMUserInput{UserName: "ada@example.com", Active: false})
	require.NoError(t, err)
	require.False(t, u.Active)
	require.Equal(t, gw.Role(""), u.Role, "inactive: no membership, no seat")
	require.Empty(t, plan.changed)
}
