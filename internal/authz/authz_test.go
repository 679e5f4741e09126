package authz

import (
	"testing"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/stretchr/testify/require"
)

func TestRoleTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role gw.Role
		perm Permission
		want bool
	}{
		{gw.RoleOwner, OrgDelete, true},
		{gw.RoleAdmin, OrgDelete, false},
		{gw.RoleAdmin, MembersManage, true},
		{gw.RoleAdmin, OwnershipGrant, false},
		{gw.RoleMember, ContactsWrite, true},
		{gw.RoleMember, MembersManage, false},
		{gw.RoleViewer, ContactsRead, true},
		{gw.RoleViewer, ContactsWrite, false},
		{gw.Role("intruder"), ContactsRead, false},
		{gw.RoleOwner, ContactsImport, true},
		{gw.RoleAdmin, ContactsImport, true},
		{gw.RoleMember, ContactsImport, false},
		{gw.RoleViewer, ContactsImport, false},
		{gw.RoleOwner, SSOManage, true},
		{gw.RoleAdmin, SSOManage, false},
		{gw.RoleMember, SSOManage, false},
		{gw.RoleOwner, SCIMManage, true},
		{gw.RoleAdmin, SCIMManage, false},
		{gw.RoleMember, SCIMManage, false},
		{gw.RoleViewer, SCIMManage, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Can(tt.role, tt.perm), "%s %s", tt.role, tt.perm)
	}
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(Require(gw.Scope{Role: gw.RoleOwner}, ContactsRead)))
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(Require(gw.Scope{OrgID: "o", Role: gw.RoleViewer}, ContactsWrite)))
	require.NoError(t, Require(gw.Scope{OrgID: "o", Role: gw.RoleMember}, ContactsWrite))
}
