package contacts

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// auditLog lists the audit events of scope's organisation, newest first,
// as its admins see them.
func (b *testBundle) auditLog(t *testing.T, scope gw.Scope) []audit.Entry {
	t.Helper()
	svc := audit.NewService(b.db.Runtime)
	scope.Role = gw.RoleAdmin
	p, err := svc.List(context.Background(), scope, audit.ListParams{Limit: 200})
	require.NoError(t, err)
	return p.Entries
}

func TestContactChangesAreAudited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	scope := b.member
	ptr := func(s string) *string { return &s }

	c := b.create(t, scope, "Ada", func(in *Input) {
		in.Email, in.Phone, in.Tags = ptr("ada@example.com"), ptr(""), &[]string{"vip"}
	})
	log := b.auditLog(t, scope)
	require.Len(t, log, 1)
	e := log[0]
	require.Equal(t, audit.ActionContactCreated, e.Action)
	require.Equal(t, audit.TargetContact, e.TargetType)
	require.Equal(t, c.ID, e.TargetID)
	require.Equal(t, scope.Actor, e.Actor)
	require.Nil(t, e.Before)
	require.JSONEq(t, `{"name":"Ada","email":"[redacted]","phone":"","company":"","tags":["vip"],"custom":{}}`, string(e.After))
	require.NotContains(t, string(e.After), "ada@example.com", "email is personal data, encrypted at rest")

	// An update records the changed fields only, before and after.
	_, err := b.svc.Update(ctx, scope, c.ID, Input{Name: ptr("Ada Lovelace"), Email: ptr("ada@lovelace.example"), Company: ptr("")})
	require.NoError(t, err)
	log = b.auditLog(t, scope)
	require.Len(t, log, 2)
	require.Equal(t, audit.ActionContactUpdated, log[0].Action)
	require.JSONEq(t, `{"name":"Ada","email":"[redacted]"}`, string(log[0].Before))
	require.JSONEq(t, `{"name":"Ada Lovelace","email":"[redacted]"}`, string(log[0].After))

	// Changing nothing records nothing.
	_, err = b.svc.Update(ctx, scope, c.ID, Input{Name: ptr("Ada Lovelace")})
	require.NoError(t, err)
	_, err = b.svc.Update(ctx, scope, c.ID, Input{})
	require.NoError(t, err)
	require.Len(t, b.auditLog(t, scope), 2)

	// Failures record nothing.
	_, err = b.svc.Update(ctx, scope, gw.NewID(), Input{Name: ptr("Ghost")})
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	_, err = b.svc.Update(ctx, scope, c.ID, Input{Email: ptr("not an email")})
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(b.svc.Delete(ctx, scope, gw.NewID())))
	viewer := gw.Scope{Actor: gw.Actor{UserID: gw.NewID()}, OrgID: scope.OrgID, Role: gw.RoleViewer}
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(b.svc.Delete(ctx, viewer, c.ID)))
	require.Len(t, b.auditLog(t, scope), 2)

	// A delete records the values it removed.
	key := gw.Scope{Actor: gw.Actor{APIKeyID: gw.NewID()}, OrgID: scope.OrgID, Role: gw.RoleMember}
	require.NoError(t, b.svc.Delete(ctx, key, c.ID))
	log = b.auditLog(t, scope)
	require.Len(t, log, 3)
	require.Equal(t, audit.ActionContactDeleted, log[0].Action)
	require.Equal(t, key.Actor, log[0].Actor, "an API key is an actor too")
	require.JSONEq(t, `{"name":"Ada Lovelace","email":"[redacted]","phone":"","company":"","tags":["vip"],"custom":{}}`, string(log[0].Before))
	require.Nil(t, log[0].After)

	sealed, err := audit.NewSealer(b.db.Runtime).SealAll(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, sealed)
	rep, err := audit.NewService(b.db.Runtime).Verify(ctx, audit.VerifyOptions{OrgID: scope.OrgID})
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.EqualValues(t, 3, rep.Events)
}
