package web

import (
	"net/http"
	"net/url"
	"testing"
)

// orgSSOScenarios call the pages of single sign-on per organisation; the
// whole flow (a real identity provider, DNS verification, enforcement) is
// TestOrgSSOFlow's.
func orgSSOScenarios() []scenario {
	return []scenario{
		{name: "continue with SSO asks for an email", path: "/login/sso", wantStatus: http.StatusOK,
			wantText: []string{`action="/login/sso"`, `name="email"`}},
		{name: "continue with SSO for an unknown domain", method: http.MethodPost, path: "/login/sso",
			form: url.Values{"email": {"ada@nobody-uses-sso.example"}}, wantStatus: http.StatusNotFound,
			wantText: []string{"No organisation uses single sign-on for"}},
		{name: "callback without a started flow", path: "/login/sso/callback?state=x&code=y", wantStatus: http.StatusUnauthorized},
		{name: "owner sees the settings", as: "owner", path: "/o/{org}/sso", wantStatus: http.StatusOK,
			wantText: []string{`action="/o/{org}/sso"`, `action="/o/{org}/sso/domains"`, "/login/sso/callback"}},
		{name: "an admin cannot see the settings", as: "admin", path: "/o/{org}/sso", wantStatus: http.StatusForbidden},
		{name: "save with an unreachable issuer", as: "owner", method: http.MethodPost, path: "/o/{org}/sso",
			form:       url.Values{"issuer": {"https://127.0.0.1:1"}, "client_id": {"c"}, "client_secret": {"s"}, "default_role": {"member"}},
			wantStatus: http.StatusUnprocessableEntity},
		{name: "remove when nothing is configured", as: "owner", method: http.MethodPost, path: "/o/{org}/sso/remove",
			wantStatus: http.StatusNotFound},
		{name: "add a domain", as: "owner", method: http.MethodPost, path: "/o/{org}/sso/domains",
			form: url.Values{"domain": {"acme-sso.example"}}, wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/sso*"},
		{name: "verify a domain that is not the organisation's", as: "owner", method: http.MethodPost,
			path: "/o/{org}/sso/domains/{missing}/verify", wantStatus: http.StatusNotFound},
		{name: "remove a domain that is not the organisation's", as: "owner", method: http.MethodPost,
			path: "/o/{org}/sso/domains/{missing}/remove", wantStatus: http.StatusNotFound},
	}
}

func TestOrgSSOPages(t *testing.T) {
	t.Parallel()
	newPageFixture(t, newEnv(t)).run(t, orgSSOScenarios())
}
