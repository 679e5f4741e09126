// Package org holds organisations (the tenants), their memberships and
// roles, invitations and API keys. What each role may do is the leaf
// package authz's table; the plan's limits (seats, deleting a subscribed
// organisation) reach this package through its Entitlements interface.
package org
