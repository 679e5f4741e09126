package web

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/stretchr/testify/require"
)

// templateData are samples of each page template's own data type, empty
// and full: TestTemplatesExecuteWithTheirData runs every template with
// each, so that a template naming a field its data does not have (or
// calling a function with the wrong types) fails here rather than as a 500
// on the one path a scenario may miss.
func templateData() map[string][]any {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	full := contacts.Contact{ID: gw.NewID(), Name: "Ada", Email: "ada@example.com", Phone: "+1 555 0100",
		Company: "Engines", Tags: []string{"vip"}, Custom: map[string]any{"z": "1", "a": 2.0, "m": nil},
		CustomKeys: []string{"z", "a", "m"}, CreatedAt: at, UpdatedAt: at}
	return map[string][]any{
		"contacts.html": {
			contactsPage{Columns: sortColumns("")},
			contactsPage{Query: "a", Sort: "name", Contacts: []contacts.Contact{full, {ID: gw.NewID(), Name: "Bo"}},
				Next: "cursor", Columns: sortColumns("name")},
		},
		"contact.html":      {contactPage{}, contactPage{ID: full.ID}},
		"contact-view.html": {newContactViewPage(contacts.Contact{ID: gw.NewID(), Name: "Bo"}), newContactViewPage(full)},
		"scim.html": {
			scimPage{Endpoint: "/scim/v2"},
			scimPage{Endpoint: "https://app.example.com/scim/v2", NewToken: "gwscim_abcdefgh_secret", Tokens: []org.SCIMToken{
				{ID: gw.NewID(), Name: "okta", Prefix: "abcdefgh", CreatedAt: at, LastUsedAt: &at},
				{ID: gw.NewID(), Name: "old", Prefix: "zyxwvuts", CreatedAt: at, RevokedAt: &at},
			}},
		},
	}
}

// untypedTemplates are the templates templateData does not cover yet
// (issue 17: typed view data for every page).
var untypedTemplates = []string{
	"account.html", "api-keys.html", "audit.html", "billing-change.html", "billing.html", "check-email.html",
	"confirm.html", "dashboard.html", "error.html", "exports.html", "forgot.html", "home.html", "import.html",
	"imports.html", "invitation.html", "login-2fa.html", "login-link.html", "login.html", "members.html", "ops.html",
	"org-settings.html", "orgs.html", "readiness.html", "resend.html", "reset.html", "signup.html", "two-factor.html",
}

func TestTemplatesExecuteWithTheirData(t *testing.T) {
	t.Parallel()
	tmpls, err := parseTemplates()
	require.NoError(t, err)
	samples := templateData()
	for name := range tmpls {
		_, ok := samples[name]
		require.True(t, ok || slices.Contains(untypedTemplates, name), "%s has no sample data in templateData", name)
	}
	for name, datas := range samples {
		tmpl, ok := tmpls[name]
		require.True(t, ok, "no template %s", name)
		for _, role := range []gw.Role{gw.RoleOwner, gw.RoleViewer} {
			for i, d := range datas {
				p := page{Title: "T", User: &sessionUser{ID: gw.NewID(), Email: "u@example.com"},
					Org: &orgInfo{ID: gw.NewID(), Slug: "acme", Name: "Acme", Role: role}, Form: newForm(),
					Banner: &billingBanner{}, Data: d}
				var b strings.Builder
				require.NoError(t, tmpl.ExecuteTemplate(&b, "layout.html", p), "%s sample %d as %s", name, i, role)
			}
		}
	}
}
