// Package org holds organisations (the tenants), memberships and roles,
// invitations, API keys, and the policy table saying what each role may do.
package org

import "github.com/groundwork-dev/groundwork/internal/gw"

// Permission is one thing a role may be allowed to do in an organisation.
type Permission string

// Permissions checked by Services. Add one here, then grant it in policy.
const (
	PermOrgRead        Permission = "org.read"        // see the organisation and its members
	PermOrgManage      Permission = "org.manage"      // rename, require two-factor
	PermOrgDelete      Permission = "org.delete"      // delete the organisation
	PermMembersManage  Permission = "members.manage"  // invite, revoke invitations, change roles, remove members
	PermOwnershipGrant Permission = "ownership.grant" // make someone an owner, transfer ownership
	PermAPIKeysManage  Permission = "apikeys.manage"  // create, list and revoke API keys
	PermContactsRead   Permission = "contacts.read"   // list and view contacts
	PermContactsWrite  Permission = "contacts.write"  // create, edit and delete contacts
	PermAuditRead      Permission = "audit.read"      // read the audit log
	PermBillingManage  Permission = "billing.manage"  // change the plan and payment details
)

// policy is the one table of what each role may do.
var policy = map[gw.Role][]Permission{
	gw.RoleOwner: {PermOrgRead, PermOrgManage, PermOrgDelete, PermMembersManage, PermOwnershipGrant,
		PermAPIKeysManage, PermContactsRead, PermContactsWrite, PermAuditRead, PermBillingManage},
	gw.RoleAdmin: {PermOrgRead, PermOrgManage, PermMembersManage, PermAPIKeysManage,
		PermContactsRead, PermContactsWrite, PermAuditRead},
	gw.RoleMember: {PermOrgRead, PermContactsRead, PermContactsWrite},
	gw.RoleViewer: {PermOrgRead, PermContactsRead},
}

// Can reports whether role may do p.
func Can(role gw.Role, p Permission) bool {
	for _, q := range policy[role] {
		if q == p {
			return true
		}
	}
	return false
}

// Require returns nil when s acts in an organisation with a role that may
// do p; ENOTFOUND when s has no organisation (nothing is revealed about any),
// and EFORBIDDEN when its role is too weak.
func Require(s gw.Scope, p Permission) error {
	if s.OrgID == "" {
		return gw.Errorf(gw.ENOTFOUND, "not found")
	}
	if !Can(s.Role, p) {
		return gw.Errorf(gw.EFORBIDDEN, "Your role (%s) may not do this.", s.Role)
	}
	return nil
}
