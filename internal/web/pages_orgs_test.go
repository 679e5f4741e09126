package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestOrgPages: the organisations list, creating, renaming and deleting an
// organisation, and invitations.
func TestOrgPages(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, orgScenarios())
}

// TestMemberPages: the members page, invitations, roles, removal,
// transfer of ownership and leaving.
func TestMemberPages(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, memberScenarios())
}

// TestAPIKeyPages: listing, creating and revoking API keys.
func TestAPIKeyPages(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, apiKeyScenarios())
}

// TestAuditPages: the organisation's audit log.
func TestAuditPages(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, auditScenarios())
}

// forbidden is what a role too weak for a page is shown.
func forbidden(role string) []string {
	return []string{"<h1>Forbidden</h1>", "Your role (" + role + ") may not do this.", `<a href="/">Back to the start</a>`}
}

// joinAs makes a new user, caller name, a member of Acme with role.
func joinAs(t *testing.T, fx *pageFixture, name string, role gw.Role) {
	t.Helper()
	u := fx.addUser(t, name, name+"@acme.example")
	fx.scopes[name] = fx.e.join(fx.scopes["owner"], u, role)
}

func orgScenarios() []scenario {
	return []scenario{
		{name: "organisations page", as: "member", path: "/orgs", wantStatus: http.StatusOK,
			wantText: []string{"Your organisations", `<a href="/o/{org}/contacts">Acme</a>`, "<td>member</td>"},
			notText:  []string{"Globex"}},
		{name: "organisations page sends an anonymous visitor to log in", path: "/orgs",
			wantStatus: http.StatusSeeOther, wantLocation: "/login?next=%2Forgs"},
		{name: "create an organisation", as: "member", method: http.MethodPost, path: "/orgs",
			form: url.Values{"name": {"Initech"}}, wantStatus: http.StatusSeeOther, wantLocation: "/o/*",
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				require.True(t, strings.HasSuffix(r.location, "/contacts"), r.location)
				body := fx.follow(t, "member", r.location)
				require.Contains(t, body, "Organisation Initech created.")
				require.Contains(t, fx.follow(t, "member", "/orgs"), "<td>owner</td>")
			}},
		{name: "create an organisation without a name", as: "member", method: http.MethodPost, path: "/orgs",
			form: url.Values{"name": {"  "}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="name-error">Name is required.`, "Acme"}},

		// The organisation's home.
		{name: "dashboard", as: "owner", path: "/o/{org}/", wantStatus: http.StatusOK,
			wantText: []string{"<h1>Acme</h1>", `<span class="num">4</span> members`, "Recent activity",
				"<code>invitation.accepted</code>", "Next steps", `href="/o/{org}/contacts/new">Add your first contact</a>`}},
		{name: "dashboard for a viewer", as: "viewer", path: "/o/{org}/", wantStatus: http.StatusOK,
			wantText: []string{"<h1>Acme</h1>", `<span class="num">4</span> members`},
			notText:  []string{"Recent activity", "Add your first contact"}},
		{name: "dashboard of another organisation is not found", as: "outsider", path: "/o/{org}/",
			wantStatus: http.StatusNotFound, notText: []string{"Acme"}},

		// Settings.
		{name: "settings page", as: "admin", path: "/o/{org}/settings", wantStatus: http.StatusOK,
			wantText: []string{"Settings of Acme", `name="name" type="text" value="Acme"`},
			notText:  []string{"Delete Acme"}},
		{name: "settings page offers the owner deletion", as: "owner", path: "/o/{org}/settings", wantStatus: http.StatusOK,
			wantText: []string{`action="/o/{org}/delete"`, "Delete Acme"}},
		{name: "settings page is forbidden to members", as: "member", path: "/o/{org}/settings",
			wantStatus: http.StatusForbidden, wantText: forbidden("member")},
		{name: "settings page of another organisation is not found", as: "outsider", path: "/o/{org}/settings",
			wantStatus: http.StatusNotFound, wantText: []string{notFoundHint}, notText: []string{"Acme"}},
		{name: "rename", as: "admin", method: http.MethodPost, path: "/o/{org}/settings",
			form: url.Values{"name": {"Acme Rockets"}}, wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/settings",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "admin", "/o/{org}/settings")
				require.Contains(t, body, "Settings saved.")
				require.Contains(t, body, "Settings of Acme Rockets")
			}},
		{name: "rename to nothing", as: "admin", method: http.MethodPost, path: "/o/{org}/settings",
			form: url.Values{"name": {""}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="name-error">Name is required.`}},
		{name: "require two-factor without having it", as: "admin", method: http.MethodPost, path: "/o/{org}/settings",
			form: url.Values{"name": {"Acme Rockets"}, "require_2fa": {"on"}}, wantStatus: http.StatusConflict,
			wantText: []string{"Turn on two-factor authentication for your own account first."}},
		{name: "rename is forbidden to viewers", as: "viewer", method: http.MethodPost, path: "/o/{org}/settings",
			form: url.Values{"name": {"Hijacked"}}, wantStatus: http.StatusForbidden, wantText: forbidden("viewer")},

		// Deleting.
		{name: "delete an organisation without typing its name", as: "owner", method: http.MethodPost, path: "/o/{doomed}/delete",
			setup: func(t *testing.T, fx *pageFixture) {
				o, _ := fx.e.org(fx.users["owner"].ID, "Doomed Corp")
				fx.vars["doomed"] = o.Slug
			},
			form:       url.Values{"confirm_name": {"Doomed"}, "password_delete": {testPassword}},
			wantStatus: http.StatusUnprocessableEntity,
			wantText:   []string{`id="confirm_name-error">Type the organisation&#39;s name, Doomed Corp, exactly.`, "<h1>Settings of Doomed Corp</h1>"}},
		{name: "delete an organisation with a wrong password", as: "owner", method: http.MethodPost, path: "/o/{doomed}/delete",
			form:       url.Values{"confirm_name": {"Doomed Corp"}, "password_delete": {"not my password"}},
			wantStatus: http.StatusUnprocessableEntity,
			wantText:   []string{`id="password_delete-error">The password is not correct.`}, notText: []string{"not my password"}},
		{name: "delete an organisation", as: "owner", method: http.MethodPost, path: "/o/{doomed}/delete",
			form:       url.Values{"confirm_name": {"Doomed Corp"}, "password_delete": {testPassword}},
			wantStatus: http.StatusSeeOther, wantLocation: "/orgs",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/orgs")
				require.Contains(t, body, "Organisation Doomed Corp deleted.")
				require.NotContains(t, body, ">Doomed Corp</a>")
			}},
		{name: "delete is forbidden to admins", as: "admin", method: http.MethodPost, path: "/o/{org}/delete",
			wantStatus: http.StatusForbidden, wantText: forbidden("admin")},

		// Invitations.
		{name: "invitation page", path: "/invitations/{invite}",
			setup: func(t *testing.T, fx *pageFixture) {
				_, err := fx.e.orgs.Invite(context.Background(), fx.scopes["owner"], "newbie@acme.example", gw.RoleMember)
				require.NoError(t, err)
				link := fx.mailLink(t, "newbie@acme.example", "")
				fx.vars["invite"] = strings.TrimPrefix(link.Path, "/invitations/")
			},
			wantStatus: http.StatusOK,
			wantText:   []string{"Join Acme Rockets", "newbie@acme.example", "Log in to accept", `href="/login?next=/invitations/{invite}"`}},
		{name: "invitation page with a bad token", path: "/invitations/forged", wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{"This invitation is invalid or has expired.", `<a href="/">Back to the start</a>`}},
		{name: "accepting needs a signed-in user", method: http.MethodPost, path: "/invitations/{invite}",
			wantStatus: http.StatusSeeOther, wantLocation: "/login"},
		{name: "accept an invitation sent to someone else", as: "outsider", method: http.MethodPost, path: "/invitations/{invite}",
			wantStatus: http.StatusForbidden, wantText: []string{"This invitation was sent to another address."}},
		{name: "accept an invitation", as: "newbie", method: http.MethodPost, path: "/invitations/{invite}",
			setup:      func(t *testing.T, fx *pageFixture) { fx.addUser(t, "newbie", "newbie@acme.example") },
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/contacts",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "newbie", "/o/{org}/contacts"), "Welcome to Acme Rockets.")
			}},
	}
}

func memberScenarios() []scenario {
	return []scenario{
		{name: "members page", as: "owner", path: "/o/{org}/members", wantStatus: http.StatusOK,
			wantText: []string{"Members of Acme", "owner@acme.example (you)", "admin@acme.example", "viewer@acme.example",
				"Invite someone", "Transfer ownership", `action="/o/{org}/members/{viewer_id}/role"`}},
		{name: "members page for a viewer", as: "viewer", path: "/o/{org}/members", wantStatus: http.StatusOK,
			wantText: []string{"Members of Acme", "owner@acme.example", "Leave Acme"},
			notText:  []string{"Invite someone", "/role\"", "/remove\"", "Transfer ownership"}},
		{name: "members page of another organisation", as: "outsider", path: "/o/{org}/members",
			wantStatus: http.StatusNotFound, wantText: []string{notFoundHint, "Organisation not found."},
			notText: []string{"admin@acme.example"}},
		{name: "members page sends an anonymous visitor to log in", path: "/o/{org}/members",
			wantStatus: http.StatusSeeOther, wantLocation: "/login?next=%2Fo%2F{org}%2Fmembers"},

		// Invitations.
		{name: "invite", as: "admin", method: http.MethodPost, path: "/o/{org}/invitations",
			form:       url.Values{"email": {"recruit@acme.example"}, "role": {"member"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/members",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "admin", "/o/{org}/members")
				require.Contains(t, body, "Invitation sent to recruit@acme.example.")
				require.Contains(t, body, "Pending invitations")
				fx.e.mail.WaitFor(t, "recruit@acme.example", "")
			}},
		{name: "invite an invalid address", as: "admin", method: http.MethodPost, path: "/o/{org}/invitations",
			form: url.Values{"email": {"recruit"}, "role": {"member"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="email-error">Enter a valid email address.`, `value="recruit"`}},
		{name: "invite with a role invitations cannot carry", as: "admin", method: http.MethodPost, path: "/o/{org}/invitations",
			form: url.Values{"email": {"boss@acme.example"}, "role": {"owner"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="role-error">Choose admin, member or viewer.`}},
		{name: "invite is forbidden to members", as: "member", method: http.MethodPost, path: "/o/{org}/invitations",
			form:       url.Values{"email": {"friend@acme.example"}, "role": {"member"}},
			wantStatus: http.StatusForbidden, wantText: forbidden("member")},
		{name: "revoke an invitation", as: "owner", method: http.MethodPost, path: "/o/{org}/invitations/{invitation}/revoke",
			setup: func(t *testing.T, fx *pageFixture) {
				inv, err := fx.e.orgs.Invite(context.Background(), fx.scopes["owner"], "unwanted@acme.example", gw.RoleViewer)
				require.NoError(t, err)
				fx.vars["invitation"] = inv.ID
			},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/members",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/members")
				require.Contains(t, body, "Invitation revoked.")
				require.NotContains(t, body, "unwanted@acme.example")
			}},
		{name: "revoke an invitation that does not exist", as: "owner", method: http.MethodPost,
			path: "/o/{org}/invitations/{missing}/revoke", wantStatus: http.StatusNotFound, wantText: []string{notFoundHint}},

		// Roles and removal.
		{name: "change a role", as: "owner", method: http.MethodPost, path: "/o/{org}/members/{promoted_id}/role",
			setup: func(t *testing.T, fx *pageFixture) { joinAs(t, fx, "promoted", gw.RoleViewer) },
			form:  url.Values{"role": {"admin"}}, wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/members",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "owner", "/o/{org}/members"), "Role changed.")
				require.Equal(t, gw.RoleAdmin, fx.e.scope(fx.users["promoted"].ID, fx.acme.ID).Role)
			}},
		{name: "change a role to one that does not exist", as: "owner", method: http.MethodPost,
			path: "/o/{org}/members/{promoted_id}/role", form: url.Values{"role": {"emperor"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/members",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "owner", "/o/{org}/members"), "Choose")
				require.Equal(t, gw.RoleAdmin, fx.e.scope(fx.users["promoted"].ID, fx.acme.ID).Role)
			}},
		{name: "change a role is forbidden to members", as: "member", method: http.MethodPost,
			path: "/o/{org}/members/{viewer_id}/role", form: url.Values{"role": {"owner"}},
			wantStatus: http.StatusForbidden, wantText: forbidden("member")},
		{name: "remove a member asks first", as: "admin", method: http.MethodPost, path: "/o/{org}/members/{removed_id}/remove",
			setup:      func(t *testing.T, fx *pageFixture) { joinAs(t, fx, "removed", gw.RoleMember) },
			wantStatus: http.StatusOK,
			wantText: []string{"Remove removed@acme.example from the organisation?", `name="confirm" value="yes"`,
				`action="/o/{org}/members/{removed_id}/remove"`}},
		{name: "remove a member", as: "admin", method: http.MethodPost, path: "/o/{org}/members/{removed_id}/remove",
			form: url.Values{"confirm": {"yes"}}, wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/members",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "admin", "/o/{org}/members")
				require.Contains(t, body, "Member removed.")
				require.NotContains(t, body, "removed@acme.example")
			}},
		{name: "remove a member who is not one", as: "admin", method: http.MethodPost,
			path: "/o/{org}/members/{outsider_id}/remove", wantStatus: http.StatusNotFound},
		{name: "remove is forbidden to viewers", as: "viewer", method: http.MethodPost,
			path: "/o/{org}/members/{member_id}/remove", wantStatus: http.StatusForbidden, wantText: forbidden("viewer")},

		// Ownership.
		{name: "transfer ownership", as: "owner", method: http.MethodPost, path: "/o/{handover}/transfer",
			setup: func(t *testing.T, fx *pageFixture) {
				o, scope := fx.e.org(fx.users["owner"].ID, "Handover Ltd")
				fx.vars["handover"] = o.Slug
				fx.e.join(scope, fx.addUser(t, "heir", "heir@acme.example"), gw.RoleAdmin)
				fx.vars["handover_id"] = o.ID
			},
			form:       url.Values{"user": {"{heir_id}"}, "confirm": {"yes"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{handover}/members",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "owner", "/o/{handover}/members"), "Ownership transferred.")
				require.Equal(t, gw.RoleOwner, fx.e.scope(fx.users["heir"].ID, fx.vars["handover_id"]).Role)
				require.Equal(t, gw.RoleAdmin, fx.e.scope(fx.users["owner"].ID, fx.vars["handover_id"]).Role)
			}},
		{name: "transfer ownership asks first", as: "owner", method: http.MethodPost, path: "/o/{org}/transfer",
			form: url.Values{"user": {"{admin_id}"}}, wantStatus: http.StatusOK,
			wantText: []string{"Make admin@acme.example the owner?", `name="user" value="{admin_id}"`, `name="confirm" value="yes"`},
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Equal(t, gw.RoleOwner, fx.e.scope(fx.users["owner"].ID, fx.acme.ID).Role, "nothing changed yet")
			}},
		{name: "transfer is forbidden to admins", as: "admin", method: http.MethodPost, path: "/o/{org}/transfer",
			form: url.Values{"user": {"{admin_id}"}}, wantStatus: http.StatusForbidden, wantText: forbidden("admin")},

		// Leaving.
		{name: "leave", as: "quitter", method: http.MethodPost, path: "/o/{org}/leave",
			setup:      func(t *testing.T, fx *pageFixture) { joinAs(t, fx, "quitter", gw.RoleMember) },
			wantStatus: http.StatusSeeOther, wantLocation: "/orgs",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "quitter", "/orgs")
				require.Contains(t, body, "You left the organisation.")
				require.NotContains(t, body, "/o/{org}/contacts")
			}},
		{name: "the last owner cannot leave", as: "owner", method: http.MethodPost, path: "/o/{org}/leave",
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/members",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "owner", "/o/{org}/members"), "You are the only owner of Acme")
			}},
	}
}

// newKeyRE finds the API key shown once after it is created.
var newKeyRE = regexp.MustCompile(`id="new-api-key">([^<]+)<`)

func apiKeyScenarios() []scenario {
	return []scenario{
		{name: "API keys page", as: "admin", path: "/o/{org}/api-keys",
			setup:      func(t *testing.T, fx *pageFixture) { fx.e.apiKey(fx.acme.ID, "nightly-export", gw.RoleViewer) },
			wantStatus: http.StatusOK, wantText: []string{"nightly-export", "<td>viewer</td>", "Create an API key", `<a href="/api/docs">`},
			notText: []string{`id="new-api-key"`}},
		{name: "API keys page is forbidden to members", as: "member", path: "/o/{org}/api-keys",
			wantStatus: http.StatusForbidden, wantText: forbidden("member"), notText: []string{"nightly-export"}},
		{name: "create an API key", as: "admin", method: http.MethodPost, path: "/o/{org}/api-keys",
			form:       url.Values{"name": {"deploy"}, "role": {"member"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/api-keys",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "admin", "/o/{org}/api-keys")
				for _, want := range []string{"Your new API key.", "deploy", "<td>member</td>", `data-copy="new-api-key"`} {
					require.Contains(t, body, want)
				}
				m := newKeyRE.FindStringSubmatch(body)
				require.NotNil(t, m, "the key is shown")
				req, err := http.NewRequest(http.MethodGet, fx.e.srv.URL+"/api/v1/contacts", nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+m[1])
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode, "the new key works")
				require.NotContains(t, fx.follow(t, "admin", "/o/{org}/api-keys"), m[1], "and is shown only once")
				require.NotContains(t, fx.follow(t, "admin", "/o/{org}/api-keys"), "Your new API key.", "a reload shows it no more")
			}},
		{name: "create an API key without a name", as: "admin", method: http.MethodPost, path: "/o/{org}/api-keys",
			form: url.Values{"name": {""}, "role": {"member"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="name-error">Name is required.`}, notText: []string{"Your new API key."}},
		{name: "create an owner API key", as: "admin", method: http.MethodPost, path: "/o/{org}/api-keys",
			form: url.Values{"name": {"root"}, "role": {"owner"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="role-error">Choose admin, member or viewer.`}},
		{name: "create is forbidden to viewers", as: "viewer", method: http.MethodPost, path: "/o/{org}/api-keys",
			form: url.Values{"name": {"mine"}, "role": {"viewer"}}, wantStatus: http.StatusForbidden, wantText: forbidden("viewer")},
		{name: "revoke an API key", as: "owner", method: http.MethodPost, path: "/o/{org}/api-keys/{key}/revoke",
			setup: func(t *testing.T, fx *pageFixture) {
				k, _ := fx.e.apiKey(fx.acme.ID, "leaked", gw.RoleMember)
				fx.vars["key"] = k.ID
			},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/api-keys",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/api-keys")
				require.Contains(t, body, "API key revoked.")
				require.Contains(t, body, "revoked</td>")
			}},
		{name: "revoke an API key that does not exist", as: "owner", method: http.MethodPost,
			path: "/o/{org}/api-keys/{missing}/revoke", wantStatus: http.StatusNotFound, wantText: []string{notFoundHint}},
	}
}

func auditScenarios() []scenario {
	return []scenario{
		{name: "audit log", as: "admin", path: "/o/{org}/audit",
			setup: func(t *testing.T, fx *pageFixture) {
				fx.e.contact(fx.scopes["owner"], "Zoe Audit", "zoe@acme.example")
			},
			wantStatus: http.StatusOK,
			wantText: []string{"Audit log", "<code>" + audit.ActionOrgCreated + "</code>", "<code>" + audit.ActionContactCreated + "</code>",
				"<code>" + audit.ActionInvitationAccepted + "</code>", "owner@acme.example",
				`<span class="muted">contact</span> <strong>Zoe Audit</strong>`, `<li><span class="muted">name:</span> Zoe Audit</li>`, `<li><span class="muted">email:</span> [redacted]</li>`},
			notText: []string{"zoe@acme.example", `{&#34;`, "Mozilla/5.0 (scenario test)"}},
		{name: "audit log filtered by action", as: "owner", path: "/o/{org}/audit?action=contact.created&since=2000-01-01T00:00",
			wantStatus: http.StatusOK, wantText: []string{"<code>" + audit.ActionContactCreated + "</code>"},
			notText: []string{"<code>" + audit.ActionOrgCreated + "</code>"}},
		{name: "audit log filtered to nothing", as: "owner", path: "/o/{org}/audit?action=org.deleted",
			wantStatus: http.StatusOK, wantText: []string{"No entries match these filters."}},
		{name: "audit log pages", as: "owner", path: "/o/{org}/audit?limit=1",
			wantStatus: http.StatusOK, wantText: []string{"Older entries", "/o/{org}/audit?cursor="}},
		{name: "audit log with a bad time", as: "owner", path: "/o/{org}/audit?since=yesterday",
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{"The query is invalid.", `<a href="/">Back to the start</a>`}},
		{name: "audit log is forbidden to members", as: "member", path: "/o/{org}/audit",
			wantStatus: http.StatusForbidden, wantText: forbidden("member"), notText: []string{audit.ActionOrgCreated}},
	}
}
