package web

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSCIMPages: listing, creating (shown once) and revoking SCIM tokens,
// by owners only.
func TestSCIMPages(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, scimScenarios())
}

// newSCIMTokenRE finds the SCIM token shown once after it is created.
var newSCIMTokenRE = regexp.MustCompile(`id="new-scim-token">(gwscim_[^<]+)<`)

func scimScenarios() []scenario {
	return []scenario{
		{name: "SCIM page", as: "owner", path: "/o/{org}/scim",
			setup: func(t *testing.T, fx *pageFixture) {
				_, _, err := fx.e.orgs.CreateSCIMToken(t.Context(), fx.scopes["owner"], "okta-prod")
				require.NoError(t, err)
			},
			wantStatus: http.StatusOK, wantText: []string{"SCIM provisioning", "okta-prod", "/scim/v2", "Create a SCIM token"},
			notText: []string{`id="new-scim-token"`}},
		{name: "SCIM page is forbidden to admins", as: "admin", path: "/o/{org}/scim",
			wantStatus: http.StatusForbidden, wantText: forbidden("admin")},
		{name: "create a SCIM token", as: "owner", method: http.MethodPost, path: "/o/{org}/scim/tokens",
			form:       url.Values{"name": {"entra"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/scim",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/scim")
				require.Contains(t, body, "Your new SCIM token.")
				m := newSCIMTokenRE.FindStringSubmatch(body)
				require.NotNil(t, m, "the token is shown")
				status, _ := fx.e.scimCall(m[1], http.MethodGet, "/Users", "")
				require.Equal(t, http.StatusOK, status, "the new token works")
				require.NotContains(t, fx.follow(t, "owner", "/o/{org}/scim"), m[1], "and is shown only once")
			}},
		{name: "create a SCIM token without a name", as: "owner", method: http.MethodPost, path: "/o/{org}/scim/tokens",
			form: url.Values{"name": {""}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="name-error">Name is required.`}, notText: []string{"Your new SCIM token."}},
		{name: "create a SCIM token is forbidden to admins", as: "admin", method: http.MethodPost, path: "/o/{org}/scim/tokens",
			form: url.Values{"name": {"mine"}}, wantStatus: http.StatusForbidden, wantText: forbidden("admin")},
		{name: "revoke a SCIM token", as: "owner", method: http.MethodPost, path: "/o/{org}/scim/tokens/{tok}/revoke",
			setup: func(t *testing.T, fx *pageFixture) {
				tok, _, err := fx.e.orgs.CreateSCIMToken(t.Context(), fx.scopes["owner"], "leaked")
				require.NoError(t, err)
				fx.vars["tok"] = tok.ID
			},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/scim",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/scim")
				require.Contains(t, body, "SCIM token revoked.")
				require.Contains(t, body, "revoked</td>")
			}},
		{name: "revoke a SCIM token that does not exist", as: "owner", method: http.MethodPost,
			path: "/o/{org}/scim/tokens/{missing}/revoke", wantStatus: http.StatusNotFound, wantText: []string{notFoundHint}},
	}
}
