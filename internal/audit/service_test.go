package audit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestListFiltersAndPaginates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org, other := gw.NewID(), gw.NewID()
	alice, key := gw.NewID(), gw.NewID()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	events := []Event{
		{Actor: gw.Actor{UserID: alice}, Action: ActionContactCreated, Time: t0},
		{Actor: gw.Actor{APIKeyID: key}, Action: ActionContactUpdated, Time: t0.Add(time.Hour)},
		{Actor: gw.Actor{UserID: alice}, Action: ActionContactDeleted, Time: t0.Add(2 * time.Hour)},
		{Actor: gw.Actor{UserID: alice}, Action: ActionMemberRoleChanged, Time: t0.Add(3 * time.Hour)},
		{Actor: gw.Actor{APIKeyID: key}, Action: ActionContactCreated, Time: t0.Add(4 * time.Hour)},
	}
	for _, e := range events {
		e.OrgID, e.TargetType, e.TargetID = org, TargetContact, gw.NewID()
		b.record(ctx, e)
	}
	b.record(ctx, Event{OrgID: other, Actor: gw.Actor{UserID: alice}, Action: ActionContactCreated, TargetType: TargetContact})
	scope := gw.Scope{Actor: gw.Actor{UserID: alice}, OrgID: org, Role: gw.RoleAdmin}

	actions := func(p ListParams) []string {
		t.Helper()
		page, err := b.svc.List(ctx, scope, p)
		require.NoError(t, err)
		var out []string
		for _, e := range page.Entries {
			require.Equal(t, org, e.OrgID, "only the scope's organisation")
			out = append(out, e.Action)
		}
		return out
	}
	require.Equal(t, []string{ActionContactCreated, ActionMemberRoleChanged, ActionContactDeleted, ActionContactUpdated, ActionContactCreated},
		actions(ListParams{}), "newest first")
	require.Equal(t, []string{ActionContactCreated, ActionContactUpdated}, actions(ListParams{Actor: key}))
	require.Equal(t, []string{ActionMemberRoleChanged, ActionContactDeleted, ActionContactCreated}, actions(ListParams{Actor: alice}))
	require.Equal(t, []string{ActionContactCreated, ActionContactCreated}, actions(ListParams{Action: ActionContactCreated}))
	require.Equal(t, []string{ActionContactCreated, ActionContactDeleted, ActionContactUpdated, ActionContactCreated}, actions(ListParams{Action: "contact.*"}))
	require.Equal(t, []string{ActionMemberRoleChanged, ActionContactDeleted, ActionContactUpdated},
		actions(ListParams{Since: t0.Add(time.Hour), Until: t0.Add(4 * time.Hour)}), "since inclusive, until exclusive")
	require.Equal(t, []string{ActionContactCreated}, actions(ListParams{Actor: alice, Action: "contact.*", Until: t0.Add(time.Hour)}))
	require.Empty(t, actions(ListParams{Actor: gw.NewID()}))

	// Pages of two, following the cursor, see every event once.
	var seen []string
	cursor := ""
	for pages := 1; ; pages++ {
		page, err := b.svc.List(ctx, scope, ListParams{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Entries), 2)
		for _, e := range page.Entries {
			seen = append(seen, e.ID)
		}
		if page.NextCursor == "" {
			require.Equal(t, 3, pages)
			break
		}
		cursor = page.NextCursor
		// An event recorded meanwhile does not shift the pages.
		if pages == 1 {
			b.record(ctx, Event{OrgID: org, Action: ActionContactCreated, TargetType: TargetContact})
		}
	}
	require.Len(t, seen, 5)
	for i := 1; i < len(seen); i++ {
		require.Greater(t, seen[i-1], seen[i], "ids descend across pages")
	}

	// Bad parameters name their field.
	for field, p := range map[string]ListParams{
		"actor":  {Actor: "alice"},
		"cursor": {Cursor: "not a cursor!"},
		"action": {Action: string(make([]byte, 101))},
	} {
		_, err := b.svc.List(ctx, scope, p)
		require.Equal(t, gw.EINVALID, gw.ErrorCode(err), field)
		require.Contains(t, err.(*gw.Error).Fields, field)
	}
}

func TestListNeedsAuditRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org := gw.NewID()
	b.record(ctx, contactEvent(org, 1))
	for _, role := range []gw.Role{gw.RoleMember, gw.RoleViewer} {
		_, err := b.svc.List(ctx, gw.Scope{OrgID: org, Role: role}, ListParams{})
		require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err), role)
	}
	for _, role := range []gw.Role{gw.RoleAdmin, gw.RoleOwner} {
		page, err := b.svc.List(ctx, gw.Scope{OrgID: org, Role: role}, ListParams{})
		require.NoError(t, err)
		require.Len(t, page.Entries, 1, role)
	}
	_, err := b.svc.List(ctx, gw.Scope{Role: gw.RoleAdmin}, ListParams{})
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err), "no organisation")
}
