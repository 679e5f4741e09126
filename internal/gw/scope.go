package gw

import "context"

// Role is a member's (or API key's) role in an organisation.
type Role string

// Roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
)

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	switch r {
	case RoleOwner, RoleAdmin, RoleMember, RoleViewer:
		return true
	}
	return false
}

// Actor is who is making a request: a signed-in user, or an API key.
type Actor struct {
	UserID   string // set for a signed-in user
	APIKeyID string // set for a request made with an API key
}

// Anonymous reports whether nobody is signed in.
func (a Actor) Anonymous() bool { return a.UserID == "" && a.APIKeyID == "" }

// Scope is the caller of a tenant-scoped Service method: the actor, the
// organisation it acts in, and its role there. Services check it on every
// call; an empty OrgID means the caller has no organisation.
type Scope struct {
	Actor
	OrgID string
	Role  Role
}

type scopeKey struct{}

// WithScope returns a copy of ctx carrying s.
func WithScope(ctx context.Context, s Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// ScopeFrom returns the Scope carried by ctx, or the zero (anonymous) Scope.
func ScopeFrom(ctx context.Context) Scope {
	s, _ := ctx.Value(scopeKey{}).(Scope)
	return s
}
