package org

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// seatRecorder is an Entitlements that allows everything and records the
// organisations whose members changed, with the member count its
// transaction sees.
type seatRecorder struct {
	mu      sync.Mutex
	changed []string
}

func (r *seatRecorder) CheckSeatsTx(context.Context, pgx.Tx, string, int) error { return nil }
func (r *seatRecorder) CheckDeleteTx(context.Context, pgx.Tx, string) error     { return nil }
func (r *seatRecorder) SeatsChangedTx(ctx context.Context, tx pgx.Tx, orgID string) error {
	n, err := seatsUsed(ctx, tx, orgID, false, "", gw.SystemClock{}.Now())
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changed = append(r.changed, orgID+":"+strings.Repeat("x", n))
	return nil
}

// TestMemberChangesTellTheSeats: accepting an invitation, removing a
// member and leaving tell the entitlements (billing: a per-seat plan's
// quantity) in the transaction of the change, which sees the new count.
func TestMemberChangesTellTheSeats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := &seatRecorder{}
	b.svc = NewService(b.db.Runtime, b.outbox, b.clock, Config{BaseURL: "https://app.example.com/", Entitlements: rec},
		slog.New(slog.DiscardHandler))
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	removed := b.member(t, o.ID, gw.RoleViewer)
	leaver := b.member(t, o.ID, gw.RoleViewer)
	invitee := b.user(t, "invitee@example.com")

	_, err := b.svc.Invite(ctx, owner, "invitee@example.com", gw.RoleMember)
	require.NoError(t, err)
	link := b.mail.last(t, "invitee@example.com").Text
	token := strings.Fields(link[strings.Index(link, "/invitations/")+len("/invitations/"):])[0]
	_, err = b.svc.AcceptInvitation(ctx, invitee, "invitee@example.com", token)
	require.NoError(t, err)
	require.NoError(t, b.svc.RemoveMember(ctx, owner, removed.UserID))
	require.NoError(t, b.svc.Leave(ctx, leaver))

	require.Equal(t, []string{o.ID + ":xxxx", o.ID + ":xxx", o.ID + ":xx"}, rec.changed)
}
