package org

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestJoinBySSO(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	ann := b.user(t, "ann@acme.example")

	_, err := b.svc.JoinBySSO(ctx, o.ID, ann, gw.RoleOwner)
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err), "never an owner just in time")

	joined, err := b.svc.JoinBySSO(ctx, o.ID, ann, gw.RoleViewer)
	require.NoError(t, err)
	require.True(t, joined)
	require.Equal(t, gw.RoleViewer, b.scope(t, ann, o.ID).Role)

	// A member keeps their role; the owner too.
	joined, err = b.svc.JoinBySSO(ctx, o.ID, ann, gw.RoleAdmin)
	require.NoError(t, err)
	require.False(t, joined)
	require.Equal(t, gw.RoleViewer, b.scope(t, ann, o.ID).Role)
	joined, err = b.svc.JoinBySSO(ctx, o.ID, owner.Actor.UserID, gw.RoleViewer)
	require.NoError(t, err)
	require.False(t, joined)
	require.Equal(t, gw.RoleOwner, b.scope(t, owner.Actor.UserID, o.ID).Role)

	var joins int
	for _, e := range b.auditLog(t, o.ID) {
		if e.Action == audit.ActionMemberJoinedBySSO {
			joins++
		}
	}
	require.Equal(t, 1, joins)
}
