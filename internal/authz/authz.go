// Package authz is the one table of what each role may do in an
// organisation. It is a leaf: every module may import it to check a
// caller's scope, and it imports only the kernel.
package authz

import "github.com/groundwork-dev/groundwork/internal/gw"

// Permission is one thing a role may be allowed to do in an organisation.
type Permission string

// Permissions checked by Services. Add one here, then grant it in policy.
const (
	OrgRead        Permission = "org.read"        // see the organisation and its members
	OrgManage      Permission = "org.manage"      // rename, require two-factor
	OrgDelete      Permission = "org.delete"      // delete the organisation
	MembersManage  Permission = "members.manage"  // invite, revoke invitations, change roles, remove members
	OwnershipGrant Permission = "ownership.grant" // make someone an owner, transfer ownership
	APIKeysManage  Permission = "apikeys.manage"  // create, list and revoke API keys
	ContactsRead   Permission = "contacts.read"   // list and view contacts
	ContactsWrite  Permission = "contacts.write"  // create, edit and delete contacts
	AuditRead      Permission = "audit.read"      // read the audit log
	BillingManage  Permission = "billing.manage"  // see and change the plan and payment details
	ExportsManage  Permission = "exports.manage"  // request, follow, cancel and download data exports
	ContactsImport Permission = "contacts.import" // import contacts from CSV files and read their reports
	SSOManage      Permission = "sso.manage"      // configure single sign-on: the connection, domains, enforcement
	SCIMManage     Permission = "scim.manage"     // create, list and revoke SCIM provisioning tokens
)

// roleTable is the one table of what each role may do.
var roleTable = map[gw.Role][]Permission{
	gw.RoleOwner: {OrgRead, OrgManage, OrgDelete, MembersManage, OwnershipGrant,
		APIKeysManage, ContactsRead, ContactsWrite, AuditRead, BillingManage, ExportsManage, ContactsImport, SSOManage,
		SCIMManage},
	gw.RoleAdmin: {OrgRead, OrgManage, MembersManage, APIKeysManage,
		ContactsRead, ContactsWrite, AuditRead, ExportsManage, ContactsImport},
	gw.RoleMember: {OrgRead, ContactsRead, ContactsWrite},
	gw.RoleViewer: {OrgRead, ContactsRead},
}

// Can reports whether role may do p.
func Can(role gw.Role, p Permission) bool {
	for _, q := range roleTable[role] {
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
