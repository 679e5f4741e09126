package org

import (
	"testing"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/stretchr/testify/require"
)

func TestPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role gw.Role
		perm Permission
		want bool
	}{
		{gw.RoleOwner, PermOrgDelete, true},
		{gw.RoleAdmin, PermOrgDelete, false},
		{gw.RoleAdmin, PermMembersManage, true},
		{gw.RoleAdmin, PermOwnershipGrant, false},
		{gw.RoleMember, PermContactsWrite, true},
		{gw.RoleMember, PermMembersManage, false},
		{gw.RoleViewer, PermContactsRead, true},
		{gw.RoleViewer, PermContactsWrite, false},
		{gw.Role("intruder"), PermContactsRead, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Can(tt.role, tt.perm), "%s %s", tt.role, tt.perm)
	}
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(Require(gw.Scope{Role: gw.RoleOwner}, PermContactsRead)))
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(Require(gw.Scope{OrgID: "o", Role: gw.RoleViewer}, PermContactsWrite)))
	require.NoError(t, Require(gw.Scope{OrgID: "o", Role: gw.RoleMember}, PermContactsWrite))
}
