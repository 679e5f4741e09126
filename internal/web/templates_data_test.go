package web

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/doctor"
	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/imports"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/orgsso"
	"github.com/stretchr/testify/require"
)

// templateData are samples of each page's view data, empty and full:
// TestTemplatesExecuteWithTheirData runs every template with each, so that
// a template naming a field its data does not have (or calling a function
// with the wrong types) fails here rather than as a 500 on the one path a
// scenario may miss. Each sample's template method picks the template, as
// render does.
func templateData(t *testing.T) []view {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	full := contacts.Contact{ID: gw.NewID(), Name: "Ada", Email: "ada@example.com", Phone: "+1 555 0100",
		Company: "Engines", Tags: []string{"vip"}, Custom: map[string]any{"z": "1", "a": 2.0, "m": nil},
		CustomKeys: []string{"z", "a", "m"}, CreatedAt: at, UpdatedAt: at}
	cat, err := billing.NewCatalog(billing.PriceIDs{})
	require.NoError(t, err)
	plans := cat.Plans()
	require.GreaterOrEqual(t, len(plans), 2, "the catalogue has a paid plan")
	paid := plans[1]
	invoice := &billing.Invoice{ID: "in_1", Number: "A-1", Currency: "eur", Total: 1999, AmountDue: 1999,
		HostedURL: "https://invoice.example/in_1", PeriodEnd: at, NextAttempt: at}
	entry := audit.Entry{ID: gw.NewID(), Action: "contact.created", TargetType: "contact", TargetID: full.ID, Time: at, UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", IP: "192.0.2.1"}
	row := auditRow{Entry: entry, ActorName: "ada@example.com", TargetName: "Ada",
		Changes: []fieldChange{{Field: "name", Before: "A", After: "Ada"}}, Device: "Firefox on Linux"}
	member := org.Member{UserID: gw.NewID(), Email: "bo@example.com", Role: gw.RoleMember}
	invitation := org.Invitation{ID: gw.NewID(), OrgName: "Acme", Email: "cy@example.com", Role: gw.RoleViewer}
	roles := []gw.Role{gw.RoleOwner, gw.RoleAdmin, gw.RoleMember, gw.RoleViewer}
	started := at
	return []view{
		homePage{}, signupPage{}, forgotPage{}, resetPage{}, resendPage{}, loginTwoFactorPage{}, orgSettingsPage{},
		checkEmailPage{}, checkEmailPage{Email: "ada@example.com"},
		loginPage{}, loginPage{Unverified: true},
		ssoLinkPage{}, ssoLinkPage{Provider: "Google", Email: "ada@example.com"},
		errorPage{}, errorPage{Status: 404, Message: "Not found.", Hint: notFoundHint},
		confirmPage{}, confirmPage{Action: "/o/acme/contacts/x/delete", Question: "Delete Ada?", Button: "Delete Ada", Cancel: "/o/acme/contacts/x"},
		invitationPage{}, invitationPage{Invitation: invitation, Token: "tok"},
		accountPage{}, accountPage{Sessions: []account.Session{{ID: gw.NewID(), UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
			CreatedAt: at, LastSeenAt: at, Current: true}}, Identities: []account.Identity{{Provider: "google", Email: "ada@example.com"}}, HasPassword: true},
		twoFactorPage{}, twoFactorPage{Secret: "JBSWY3DPEHPK3PXP", URL: "otpauth://totp/Groundwork:ada?secret=JBSWY3DPEHPK3PXP", QR: "data:image/png;base64,AA"},
		twoFactorPage{Enabled: true, RecoveryCodes: []string{"aaaa-bbbb", "cccc-dddd"}},
		orgsPage{}, orgsPage{Memberships: []org.Membership{{Org: org.Org{ID: gw.NewID(), Slug: "acme", Name: "Acme"}, Role: gw.RoleOwner}}},
		membersPage{Roles: roles}, membersPage{Members: []org.Member{member}, Invitations: []org.Invitation{invitation}, Roles: roles,
			Confirm: &revocationConfirm{Action: "/o/acme/members/x/remove", Kind: "remove", UserID: member.UserID, Email: member.Email}},
		apiKeysPage{Roles: roles}, apiKeysPage{Keys: []org.APIKey{{ID: gw.NewID(), Name: "CI", Role: gw.RoleViewer, CreatedAt: at}}, NewKey: "gw_live_x", Roles: roles},
		dashboardPage{}, dashboardPage{Members: 2, Invitations: 1, HasContacts: true, Plan: "pro", SeatLimit: 10, ContactLimit: 1000,
			Recent: []auditRow{row}, Steps: []nextStep{{"Invite your team", "/o/acme/members"}}},
		auditPage{}, auditPage{Entries: []auditRow{row, {Entry: entry, Before: "[1]", After: "[2]"}}, Actions: audit.OrgActions,
			Actors: []auditActor{{ID: member.UserID, Name: member.Email}}, Next: "/o/acme/audit?cursor=c"},
		contactsPage{Columns: sortColumns("")},
		contactsPage{Query: "a", Sort: "name", Contacts: []contacts.Contact{full, {ID: gw.NewID(), Name: "Bo"}},
			Next: "cursor", Columns: sortColumns("name")},
		contactPage{}, contactPage{ID: full.ID},
		newContactViewPage(contacts.Contact{ID: gw.NewID(), Name: "Bo"}), newContactViewPage(full),
		exportsPage{}, exportsPage{Exports: []exportRow{{Export: exports.Export{ID: gw.NewID(), Status: "succeeded", CreatedAt: at},
			Files: []exportFileJSON{{Name: "contacts.csv.gz", Rows: 3, Bytes: 99, URL: "/download"}}}},
			Tables: []string{"contacts"}, Schedule: &exports.Schedule{Frequency: "weekly", Timezone: "UTC", NextRunAt: at},
			Weekdays: []time.Weekday{time.Sunday, time.Monday}, Active: true},
		importsPage{}, importsPage{Imports: []imports.Import{{ID: gw.NewID(), FileName: "a.csv", Status: imports.StatusRunning, CreatedAt: at}},
			Columns: []string{"name", "email"}, Active: true, MaxMiB: 10},
		importPage{}, importPage{imports.Import{ID: gw.NewID(), FileName: "a.csv", Status: imports.StatusSucceeded, Bytes: 10, BytesRead: 10,
			RowsTotal: 2, RowsImported: 1, RowsRejected: 1, Rejected: []imports.Rejection{{Line: 3, Messages: []string{"name: required"}}},
			CreatedAt: at, StartedAt: &started, FinishedAt: &started}},
		billingPageData{}, billingPageData{Overview: billing.Overview{Plan: paid, Interval: billing.IntervalMonth, Plans: plans, Live: true,
			Prices: map[billing.PlanID]map[billing.Interval]billing.PlanPrice{paid.ID: {billing.IntervalMonth: {ID: "price_1", Plan: paid.ID,
				Interval: billing.IntervalMonth, UnitAmount: 3000, Currency: "eur"}}},
			NextInvoice: invoice, LatestInvoice: invoice, TaxProblem: "Add your address.", StripeError: "unreachable"},
			Problem: "Refused.", Checkouts: []checkoutOption{{Plan: paid, Interval: billing.IntervalYear}}, Upgrades: plans[1:],
			Downgrades: plans[:1], SwitchInterval: billing.IntervalYear},
		billingChangePage{}, billingChangePage{billing.ChangePreview{From: plans[0], To: paid, Interval: billing.IntervalMonth,
			FromInterval: billing.IntervalMonth, Upgrade: true, ProrationDate: at, EffectiveAt: at, Invoice: invoice}},
		opsPage{}, opsPage{Window: "1h", Recorded: true, Requests: chart{Title: "Requests", Line: "0,0 1,1", Max: "1", From: "a", To: "b"},
			Latency: chart{Empty: true}, Host: "h", LastBackup: &started, BackupErr: "x", JobsUI: true},
		readinessPage{}, readinessPage{doctor.Report{Generated: at, Pass: 1, Fail: 1, Results: []doctor.Result{
			{ID: "backups.recent", Title: "Backups", Status: doctor.Pass, Evidence: "ok"},
			{ID: "billing.ledger", Title: "Ledger", Status: "fail", Evidence: "no table", Fix: "migrate"}}}},
		orgSSOPage{}, orgSSOPage{Configured: true, RedirectURI: "https://app.example/login/sso/callback",
			Connection: orgsso.Connection{Issuer: "https://idp.example", ClientID: "c", HasSecret: true, RequireSSO: true,
				JIT: true, DefaultRole: gw.RoleMember, BreakGlassUserID: "u1"},
			Domains: []orgsso.Domain{{ID: gw.NewID(), Domain: "a.example", Token: "T"}, {ID: gw.NewID(), Domain: "b.example", Token: "U", VerifiedAt: &at}},
			Owners:  []org.Member{{UserID: "u1", Email: "o@a.example", Role: gw.RoleOwner}},
			Roles:   []string{"admin", "member", "viewer"}},
		loginSSOPage{},
		scimPage{Endpoint: "/scim/v2"},
		scimPage{Endpoint: "https://app.example.com/scim/v2", NewToken: "gwscim_abcdefgh_secret", Tokens: []org.SCIMToken{
			{ID: gw.NewID(), Name: "okta", Prefix: "abcdefgh", CreatedAt: at, LastUsedAt: &at},
			{ID: gw.NewID(), Name: "old", Prefix: "zyxwvuts", CreatedAt: at, RevokedAt: &at},
		}},
	}
}

// TestTemplatesExecuteWithTheirData executes every page template with
// every sample of its view data, as an owner and as a viewer; it fails when
// a template has no sample (a page added without one).
func TestTemplatesExecuteWithTheirData(t *testing.T) {
	t.Parallel()
	tmpls, err := parseTemplates()
	require.NoError(t, err)
	covered := map[string]bool{}
	for _, d := range templateData(t) {
		name := d.template()
		covered[name] = true
		tmpl, ok := tmpls[name]
		require.True(t, ok, "%T names the template %s, which does not exist", d, name)
		for _, role := range []gw.Role{gw.RoleOwner, gw.RoleViewer} {
			for _, anon := range []bool{false, anonymousPage(name)} {
				p := page{Title: "T", User: &sessionUser{ID: gw.NewID(), Email: "u@example.com"},
					Org: &orgInfo{ID: gw.NewID(), Slug: "acme", Name: "Acme", Role: role}, Form: newForm(),
					Banner: &billingBanner{}, Data: d}
				if anon {
					p.User, p.Org = nil, nil
				}
				var b strings.Builder
				require.NoError(t, tmpl.ExecuteTemplate(&b, "layout.html", p), "%s with %#v as %s (anonymous %v)", name, d, role, anon)
			}
		}
	}
	for name := range tmpls {
		require.True(t, covered[name], "%s has no sample view data in templateData", name)
	}
}

// anonymousPage says a template is also served to visitors who are not
// signed in (no user, no organisation), so it is executed that way too.
func anonymousPage(name string) bool {
	switch name {
	case "home.html", "signup.html", "forgot.html", "reset.html", "resend.html", "login-2fa.html", "check-email.html",
		"login.html", "login-link.html", "error.html", "invitation.html":
		return true
	}
	return false
}

// TestViewTypesNameOneTemplateEach: no two view types render the same
// template, so a template's data has exactly one type.
func TestViewTypesNameOneTemplateEach(t *testing.T) {
	t.Parallel()
	owner := map[string]reflect.Type{}
	for _, d := range templateData(t) {
		typ := reflect.TypeOf(d)
		if prev, ok := owner[d.template()]; ok {
			require.Equal(t, prev, typ, "%s is rendered with two view types", d.template())
		}
		owner[d.template()] = typ
	}
}
