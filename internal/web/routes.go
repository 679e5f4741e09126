package web

import (
	"net/http"

	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
)

// Access says who may call a route. Every route declares one, and the
// tenant-isolation test calls every route as each kind of caller.
type Access string

// Kinds of access.
const (
	AccessOps  Access = "ops"  // anyone; operational endpoints without a session
	AccessPage Access = "page" // anyone; a page or form with the session loaded
	AccessUser Access = "user" // a signed-in user
	AccessOrg  Access = "org"  // a member of the organisation {org} in the path, with Perm
	AccessAPI  Access = "api"  // an API key of an organisation, with Perm
	// AccessSCIM is an organisation's identity provider, with one of the
	// organisation's SCIM tokens; the organisation is the token's.
	AccessSCIM Access = "scim"
	// AccessOperator is platform staff: a signed-in operator with
	// two-factor on and a session that proved it; audited.
	AccessOperator Access = "operator"
)

// Route is one registered route.
type Route struct {
	// Pattern is the ServeMux pattern, e.g. "GET /o/{org}/contacts".
	Pattern string
	// Access says who may call it.
	Access Access
	// Perm is the permission AccessOrg and AccessAPI routes require.
	Perm authz.Permission
}

// addRoutes registers every route of the application on mux and returns
// them, in registration order. It is the one place that lists routes.
func addRoutes(mux *http.ServeMux, s *server) []Route {
	rt := &router{mux: mux, s: s, deprecations: apiDeprecations}

	// Operations.
	rt.ops("GET /healthz", s.handleHealthz())
	rt.ops("GET /readyz", s.handleReadyz())
	rt.ops("GET /version", handleVersion(s.d.Version, s.d.SchemaVersion, s.d.Deployments))
	rt.ops("GET /metrics", s.handleMetrics())
	rt.ops("GET /static/", s.handleStatic())
	rt.ops("POST /webhooks/stripe", s.postStripeWebhook()) // authenticated by its Stripe signature

	// Accounts.
	rt.page("GET /{$}", s.pageHome())
	rt.page("GET /signup", s.pageSignup())
	rt.page("POST /signup", s.limit(s.postSignup(), perClientIP(ratelimit.SignupIP)))
	rt.page("GET /verify-email", s.pageVerifyEmail())
	rt.page("POST /verify-email", s.limit(s.postResendVerification(), perClientIP(ratelimit.EmailIP), perFormEmail(ratelimit.EmailAddress)))
	rt.page("GET /login", s.pageLogin())
	rt.page("POST /login", s.limitFailures(s.postLogin(), perClientIP(ratelimit.LoginIP), s.perDevice(ratelimit.LoginDevice),
		s.perUnknownDeviceAccountIP(ratelimit.LoginAccountIP), s.perUnknownDeviceAccount(ratelimit.LoginAccount)))
	rt.page("POST /login/oidc/{provider}", s.limit(s.postSSOStart(), perClientIP(ratelimit.LoginIP)))
	rt.page("GET /login/oidc/{provider}/callback", s.pageSSOCallback())
	rt.page("GET /login/oidc/link", s.pageSSOLink())
	rt.page("POST /login/oidc/link", s.limitFailures(s.postSSOLink(), perClientIP(ratelimit.LoginIP), s.perPendingLink(ratelimit.LoginAccount)))
	rt.page("GET /login/sso", s.pageLoginSSO())
	rt.page("POST /login/sso", s.limit(s.postLoginSSO(), perClientIP(ratelimit.LoginIP)))
	rt.page("GET /login/sso/callback", s.pageOrgSSOCallback())
	rt.page("GET /login/two-factor", s.pageLoginTwoFactor())
	rt.page("POST /login/two-factor", s.limitFailures(s.postLoginTwoFactor(), s.perPendingUser(ratelimit.TwoFactor)))
	rt.page("POST /login/passkey/options", s.limit(s.postPasskeySignInOptions(), perClientIP(ratelimit.LoginIP)))
	rt.page("POST /login/passkey", s.limitFailures(s.postPasskeySignIn(), perClientIP(ratelimit.LoginIP)))
	rt.page("POST /login/two-factor/passkey/options", s.postPasskeySecondFactorOptions())
	rt.page("POST /login/two-factor/passkey", s.limitFailures(s.postPasskeySecondFactor(), s.perPendingUser(ratelimit.TwoFactor)))
	rt.page("POST /logout", s.postLogout())
	rt.page("GET /forgot-password", s.pageForgotPassword())
	rt.page("POST /forgot-password", s.limit(s.postForgotPassword(), perClientIP(ratelimit.EmailIP), perFormEmail(ratelimit.EmailAddress)))
	rt.page("GET /reset-password", s.pageResetPassword())
	rt.page("POST /reset-password", s.postResetPassword())
	rt.page("GET /confirm-email", s.pageConfirmEmail())
	rt.user("GET /account", s.pageAccount())
	rt.user("POST /account/password", s.limitFailures(s.postChangePassword(), perUser(ratelimit.PasswordUser), perClientIP(ratelimit.PasswordIP)))
	rt.user("POST /account/email", s.limitFailures(s.postChangeEmail(), perUser(ratelimit.PasswordUser), perClientIP(ratelimit.PasswordIP)))
	rt.user("POST /account/sessions/{id}/revoke", s.postRevokeSession())
	rt.user("POST /account/sessions/revoke-others", s.postRevokeOtherSessions())
	rt.user("POST /account/delete", s.limitFailures(s.postDeleteAccount(), perUser(ratelimit.PasswordUser), perClientIP(ratelimit.PasswordIP)))
	rt.user("POST /account/identities/{id}/unlink", s.postUnlinkIdentity())
	rt.user("POST /account/providers/{provider}/link", s.postLinkProvider())
	rt.user("POST /account/passkeys/options", s.postPasskeyRegisterOptions())
	rt.user("POST /account/passkeys", s.postPasskeyRegister())
	rt.user("POST /account/passkeys/{id}/rename", s.postPasskeyRename())
	rt.user("POST /account/passkeys/{id}/remove", s.limitFailures(s.postPasskeyRemove(), perUser(ratelimit.PasswordUser), perClientIP(ratelimit.PasswordIP)))
	rt.user("GET /account/two-factor", s.pageTwoFactor())
	rt.user("POST /account/two-factor", s.postEnableTwoFactor())
	rt.user("GET /account/two-factor/recovery-codes.txt", s.getRecoveryCodesFile())
	rt.user("POST /account/two-factor/disable", s.limitFailures(s.postDisableTwoFactor(), perUser(ratelimit.PasswordUser), perClientIP(ratelimit.PasswordIP)))

	// Organisations.
	rt.user("GET /orgs", s.pageOrgs())
	rt.user("POST /orgs", s.postOrg())
	rt.page("GET /invitations/{token}", s.pageInvitation())
	rt.user("POST /invitations/{token}", s.postAcceptInvitation())
	rt.org("GET /o/{org}/{$}", authz.OrgRead, s.pageDashboard())
	rt.org("GET /o/{org}/members", authz.OrgRead, s.pageMembers())
	rt.org("POST /o/{org}/invitations", authz.MembersManage, s.postInvite())
	rt.org("POST /o/{org}/invitations/{id}/revoke", authz.MembersManage, s.postRevokeInvitation())
	rt.org("POST /o/{org}/members/{user}/role", authz.MembersManage, s.postChangeRole())
	rt.org("POST /o/{org}/members/{user}/remove", authz.MembersManage, s.postRemoveMember())
	rt.org("POST /o/{org}/transfer", authz.OwnershipGrant, s.postTransferOwnership())
	rt.org("POST /o/{org}/leave", authz.OrgRead, s.postLeave())
	rt.org("GET /o/{org}/api-keys", authz.APIKeysManage, s.pageAPIKeys())
	rt.org("POST /o/{org}/api-keys", authz.APIKeysManage, s.postAPIKey())
	rt.org("POST /o/{org}/api-keys/{id}/revoke", authz.APIKeysManage, s.postRevokeAPIKey())
	rt.org("GET /o/{org}/settings", authz.OrgManage, s.pageOrgSettings())
	rt.org("POST /o/{org}/settings", authz.OrgManage, s.postOrgSettings())
	rt.org("GET /o/{org}/sso", authz.SSOManage, s.pageOrgSSO())
	rt.org("POST /o/{org}/sso", authz.SSOManage, s.postOrgSSO())
	rt.org("POST /o/{org}/sso/remove", authz.SSOManage, s.postRemoveOrgSSO())
	rt.org("POST /o/{org}/sso/domains", authz.SSOManage, s.postAddSSODomain())
	rt.org("POST /o/{org}/sso/domains/{id}/verify", authz.SSOManage, s.postVerifySSODomain())
	rt.org("POST /o/{org}/sso/domains/{id}/remove", authz.SSOManage, s.postRemoveSSODomain())
	rt.org("POST /o/{org}/delete", authz.OrgDelete, s.limitFailures(s.postDeleteOrg(), perUser(ratelimit.PasswordUser), perClientIP(ratelimit.PasswordIP)))

	// Billing (Stripe).
	rt.org("GET /o/{org}/billing", authz.BillingManage, s.pageBilling())
	rt.org("POST /o/{org}/billing/checkout", authz.BillingManage, s.postBillingCheckout())
	rt.org("GET /o/{org}/billing/success", authz.BillingManage, s.pageBillingSuccess())
	rt.org("POST /o/{org}/billing/portal", authz.BillingManage, s.postBillingPortal())
	rt.org("GET /o/{org}/billing/change", authz.BillingManage, s.pageBillingChange())
	rt.org("POST /o/{org}/billing/change", authz.BillingManage, s.postBillingChange())
	rt.org("POST /o/{org}/billing/cancel", authz.BillingManage, s.postBillingCancel())
	rt.org("POST /o/{org}/billing/reactivate", authz.BillingManage, s.postBillingReactivate())
	rt.org("POST /o/{org}/billing/keep-plan", authz.BillingManage, s.postBillingKeepPlan())
	rt.org("POST /o/{org}/billing/resume", authz.BillingManage, s.postBillingResume())

	// Contacts: the example product module.
	rt.org("GET /o/{org}/contacts", authz.ContactsRead, s.limit(s.pageContacts(), perCallerSearch(ratelimit.Search), perOrgSearch(ratelimit.SearchOrg)))
	rt.org("GET /o/{org}/contacts/new", authz.ContactsWrite, s.pageNewContact())
	rt.org("POST /o/{org}/contacts", authz.ContactsWrite, s.postContact())
	rt.org("GET /o/{org}/contacts/{id}", authz.ContactsRead, s.pageContactView())
	rt.org("GET /o/{org}/contacts/{id}/edit", authz.ContactsWrite, s.pageContactEdit())
	rt.org("POST /o/{org}/contacts/{id}", authz.ContactsWrite, s.postContactUpdate())
	rt.org("POST /o/{org}/contacts/{id}/delete", authz.ContactsWrite, s.postContactDelete())

	// JSON API, authenticated by API key.
	rt.ops("GET /api/v1/openapi.json", handleOpenAPI())
	rt.ops("GET /api/docs", s.handleAPIDocs()) // the reference page: Redoc renders openapi.json
	rt.api("GET /api/v1/contacts", authz.ContactsRead, s.limit(s.apiListContacts(), perCallerSearch(ratelimit.Search), perOrgSearch(ratelimit.SearchOrg)))
	rt.api("POST /api/v1/contacts", authz.ContactsWrite, s.idempotentCreate(s.apiCreateContact(), s.replayContactCreate))
	rt.api("GET /api/v1/contacts/{id}", authz.ContactsRead, s.apiGetContact())
	rt.api("PATCH /api/v1/contacts/{id}", authz.ContactsWrite, s.apiUpdateContact())
	rt.api("DELETE /api/v1/contacts/{id}", authz.ContactsWrite, s.apiDeleteContact())

	// Audit log.
	rt.org("GET /o/{org}/audit", authz.AuditRead, s.pageAudit())
	rt.api("GET /api/v1/audit-events", authz.AuditRead, s.apiListAuditEvents())

	// Data exports: requested, followed and cancelled by owners and admins;
	// downloaded through a link whose signature authorises it.
	rt.org("GET /o/{org}/exports", authz.ExportsManage, s.pageExports())
	rt.org("POST /o/{org}/exports", authz.ExportsManage, s.postExport())
	rt.org("POST /o/{org}/exports/{id}/cancel", authz.ExportsManage, s.postCancelExport())
	rt.org("POST /o/{org}/exports/schedule", authz.ExportsManage, s.postExportSchedule())
	rt.api("GET /api/v1/exports", authz.ExportsManage, s.apiListExports())
	rt.api("POST /api/v1/exports", authz.ExportsManage, s.idempotentCreate(s.apiCreateExport(), s.replayExportCreate))
	rt.api("GET /api/v1/exports/{id}", authz.ExportsManage, s.apiGetExport())
	rt.api("POST /api/v1/exports/{id}/cancel", authz.ExportsManage, s.apiCancelExport())
	rt.api("GET /api/v1/export-schedule", authz.ExportsManage, s.apiGetExportSchedule())
	rt.api("PUT /api/v1/export-schedule", authz.ExportsManage, s.apiSetExportSchedule())
	rt.api("DELETE /api/v1/export-schedule", authz.ExportsManage, s.apiDeleteExportSchedule())
	rt.page("GET /downloads/{token}", s.getExportDownload())

	// CSV imports of contacts, by owners and admins; the uploads stream
	// (uploadRoutes take files past the body limit).
	rt.org("GET /o/{org}/imports", authz.ContactsImport, s.pageImports())
	rt.org("POST /o/{org}/imports", authz.ContactsImport, s.postImport())
	rt.org("GET /o/{org}/imports/{id}", authz.ContactsImport, s.pageImport())
	rt.api("GET /api/v1/imports", authz.ContactsImport, s.apiListImports())
	rt.api("POST /api/v1/imports", authz.ContactsImport, s.idempotentUpload(s.apiCreateImport(), s.replayImportCreate))
	rt.api("GET /api/v1/imports/{id}", authz.ContactsImport, s.apiGetImport())

	// SCIM 2.0 provisioning, by an organisation's identity provider with a
	// SCIM token (github.com/elimity-com/scim serves the protocol).
	scimHandler := s.handleSCIM()
	for _, p := range []string{
		"GET /scim/v2/ServiceProviderConfig", "GET /scim/v2/Schemas", "GET /scim/v2/Schemas/{id}",
		"GET /scim/v2/ResourceTypes", "GET /scim/v2/ResourceTypes/{id}",
		"GET /scim/v2/Users", "POST /scim/v2/Users", "GET /scim/v2/Users/{id}", "PUT /scim/v2/Users/{id}",
		"PATCH /scim/v2/Users/{id}", "DELETE /scim/v2/Users/{id}",
		"GET /scim/v2/Groups", "POST /scim/v2/Groups", "GET /scim/v2/Groups/{id}", "PUT /scim/v2/Groups/{id}",
		"PATCH /scim/v2/Groups/{id}", "DELETE /scim/v2/Groups/{id}",
	} {
		rt.scim(p, scimHandler)
	}
	rt.org("GET /o/{org}/scim", authz.SCIMManage, s.pageSCIM())
	rt.org("POST /o/{org}/scim/tokens", authz.SCIMManage, s.postSCIMToken())
	rt.org("POST /o/{org}/scim/tokens/{id}/revoke", authz.SCIMManage, s.postRevokeSCIMToken())

	// Operator console: platform staff only (operator grant), with
	// two-factor; every page view and action audited.
	rt.operator("GET /ops", s.pageOps())
	rt.operator("GET /ops/readiness", s.pageReadiness())
	rt.operator("GET /ops/jobs", http.RedirectHandler(jobsUIPrefix+"/", http.StatusSeeOther))
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		rt.operator(m+" "+jobsUIPrefix+"/", s.handleJobsUI())
	}

	return rt.routes
}

// Routes returns every route NewServer(d) serves, in registration order.
// Handlers are built but not called, so a zero Deps will do.
func Routes(d Deps) []Route {
	return addRoutes(http.NewServeMux(), newServer(d))
}

// router registers routes with their access rule applied.
type router struct {
	mux    *http.ServeMux
	s      *server
	routes []Route
	// deprecations are the deprecated API operations (apiDeprecations).
	deprecations map[string]deprecation
}

func (rt *router) add(r Route, h http.Handler) {
	rt.mux.Handle(r.Pattern, h)
	rt.routes = append(rt.routes, r)
}

// ops registers an operational route: no session, no authentication.
func (rt *router) ops(pattern string, h http.Handler) {
	rt.add(Route{Pattern: pattern, Access: AccessOps}, h)
}

// page registers a page anyone may see, with the session loaded.
func (rt *router) page(pattern string, h http.Handler) {
	h = notingRequest(h) // for error reports: the request with its scope
	rt.add(Route{Pattern: pattern, Access: AccessPage}, rt.s.withSession(h))
}

// user registers a page for signed-in users.
func (rt *router) user(pattern string, h http.Handler) {
	h = notingRequest(h) // for error reports: the request with its scope
	rt.add(Route{Pattern: pattern, Access: AccessUser}, rt.s.withSession(rt.s.requireUser(h)))
}

// org registers a page of the organisation {org}, for members with perm.
func (rt *router) org(pattern string, perm authz.Permission, h http.Handler) {
	h = notingRequest(h) // for error reports: the request with its scope
	rt.add(Route{Pattern: pattern, Access: AccessOrg, Perm: perm}, rt.s.withSession(rt.s.inOrg(perm, h)))
}

// operator registers a page of the operator console (requireOperator).
func (rt *router) operator(pattern string, h http.Handler) {
	h = notingRequest(h) // for error reports: the request with its scope
	rt.add(Route{Pattern: pattern, Access: AccessOperator}, rt.s.withSession(rt.s.requireOperator(h)))
}

// scim registers a SCIM route: a request with a live SCIM token runs for
// its organisation; it counts against the token's budget like an API key
// (api-key), and a failed authentication against its client IP's
// api-auth-ip limit, as api does.
func (rt *router) scim(pattern string, h http.Handler) {
	h = notingRequest(h) // for error reports: the request with its scope
	h = rt.s.limit(rt.s.withSCIMToken(h), perAPIKey(ratelimit.APIKey))
	rt.add(Route{Pattern: pattern, Access: AccessSCIM}, rt.s.limitFailuresAfter(h, perClientIP(ratelimit.APIAuthIP)))
}

// api registers a JSON API route for API keys with perm; every request
// counts against its key's api-key rate limit, and a failed authentication
// (401: a missing, unknown or revoked key) against its client IP's
// api-auth-ip limit.
//
// Once a client IP's api-auth-ip budget is spent, every request from it is
// refused with 429 until the budget comes back, a valid key's too: the
// budget is checked before the key. Letting valid keys through would make
// the 429 itself the answer to "is this key valid?" (a guess that is not
// refused is a hit), so guessing would go on at full speed; the same reason
// makes log-in refuse the right password once its budget is spent. A client
// that shares its IP with a flood of bad keys waits too; the budget is
// generous enough (60/min by default) that a client that merely retries a
// revoked key does not lock out its neighbours for long.
func (rt *router) api(pattern string, perm authz.Permission, h http.Handler) {
	h = rt.s.withSpecCheck(h)           // parameters and body against openapi.json
	h = rt.s.withQueryCheck(pattern, h) // after the key: a caller without one learns nothing
	h = notingRequest(h)                // for error reports: the request with its scope
	h = rt.s.limit(rt.s.withAPIKey(perm, h), perAPIKey(ratelimit.APIKey))
	h = rt.s.limitFailuresAfter(h, perClientIP(ratelimit.APIAuthIP))
	if d, ok := rt.deprecations[pattern]; ok {
		h = withDeprecation(d, h) // on every answer, a 401 or 429 too
	}
	rt.add(Route{Pattern: pattern, Access: AccessAPI, Perm: perm}, h)
}
