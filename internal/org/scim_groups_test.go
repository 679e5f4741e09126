package org

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestSCIMGroupRole(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]gw.Role{
		"admin":               gw.RoleAdmin,
		"Admins":              gw.RoleAdmin,
		"Groundwork Admins":   gw.RoleAdmin,
		"acme-member":         gw.RoleMember,
		"Members":             gw.RoleMember,
		"groundwork_viewers":  gw.RoleViewer,
		" VIEWER ":            gw.RoleViewer,
		"owner":               "", // SCIM never makes owners
		"Owners":              "",
		"Administrators":      "",
		"admin team":          "",
		"":                    "",
		"Engineering":         "",
		"groundwork.adminss":  "",
		"members-of-the-club": "",
	} {
		require.Equal(t, want, SCIMGroupRole(name), "%q", name)
	}
}

func TestRoleOfSCIMGroups(t *testing.T) {
	t.Parallel()
	tests := []struct {
		groups []string
		want   gw.Role
	}{
		{nil, gw.RoleMember},                                // no group: member
		{[]string{"Engineering"}, gw.RoleMember},            // unmapped groups only: member
		{[]string{"viewers"}, gw.RoleViewer},                // a viewers group alone lowers the default
		{[]string{"viewers", "Engineering"}, gw.RoleViewer}, // unmapped groups do not count
		{[]string{"viewers", "members"}, gw.RoleMember},     // the strongest wins
		{[]string{"members", "Admins", "viewer"}, gw.RoleAdmin},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, RoleOfSCIMGroups(tt.groups), "%v", tt.groups)
	}
}
