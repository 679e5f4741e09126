package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
)

// scimCall sends a SCIM request with token ("" for none) and returns the
// status and the decoded JSON body (nil when empty).
func (e *env) scimCall(token, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+"/scim/v2"+path, rd)
	require.NoError(e.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	var out map[string]any
	if len(b) > 0 {
		require.NoError(e.t, json.Unmarshal(b, &out), "%s %s: %s", method, path, b)
	}
	return resp.StatusCode, out
}

// scimToken creates a SCIM token for scope's organisation.
func (e *env) scimToken(scope gw.Scope, name string) string {
	e.t.Helper()
	_, token, err := e.orgs.CreateSCIMToken(context.Background(), scope, name)
	require.NoError(e.t, err)
	return token
}

// memberRole is userID's role in orgID, "" when not a member.
func (e *env) memberRole(userID, orgID string) gw.Role {
	e.t.Helper()
	s, _, err := e.orgs.MemberScope(context.Background(), userID, orgID)
	if gw.ErrorCode(err) == gw.ENOTFOUND {
		return ""
	}
	require.NoError(e.t, err)
	return s.Role
}

func getStatus(t *testing.T, c *http.Client, u string) int {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

const userSchema = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`
const groupSchema = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]`
const patchSchema = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// TestSCIMProvisioningSequence plays what Okta and Entra ID send: look the
// user up, create it, update it, push a group that makes it an admin,
// change the group's members, deactivate, reactivate and delete it; and
// checks the membership, role and sessions after each step.
func TestSCIMProvisioningSequence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	owner := e.user("owner@acme.example")
	acme, ownerScope := e.org(owner.ID, "Acme")
	token := e.scimToken(ownerScope, "okta")

	// Discovery documents come from the library.
	status, spc := e.scimCall(token, "GET", "/ServiceProviderConfig", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, true, spc["patch"].(map[string]any)["supported"])
	status, rts := e.scimCall(token, "GET", "/ResourceTypes", "")
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, 2, rts["totalResults"])
	status, _ = e.scimCall(token, "GET", "/Schemas", "")
	require.Equal(t, http.StatusOK, status)

	// Okta first looks the user up by userName.
	status, list := e.scimCall(token, "GET", "/Users?filter="+url.QueryEscape(`userName eq "alice@acme.example"`), "")
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, 0, list["totalResults"])

	// Alice has an account already (signed up herself), and a session.
	alice := e.user("alice@acme.example")
	aliceClient := e.login(alice.Email)
	require.Equal(t, http.StatusNotFound, getStatus(t, aliceClient, e.srv.URL+"/o/"+acme.Slug+"/"))

	status, created := e.scimCall(token, "POST", "/Users", `{`+userSchema+`,"userName":"alice@acme.example",
		"externalId":"00u1","name":{"givenName":"Alice","familyName":"Liddell"},
		"emails":[{"primary":true,"value":"alice@acme.example","type":"work"}],"active":true}`)
	require.Equal(t, http.StatusCreated, status, "%v", created)
	require.Equal(t, alice.ID, created["id"], "the existing account is provisioned, not a new one")
	require.Equal(t, "00u1", created["externalId"])
	require.Contains(t, created["meta"].(map[string]any)["location"], "/scim/v2/Users/"+alice.ID)
	require.Equal(t, gw.RoleMember, e.memberRole(alice.ID, acme.ID), "a user without groups is a member")
	require.Equal(t, http.StatusOK, getStatus(t, aliceClient, e.srv.URL+"/o/"+acme.Slug+"/"))

	// A user without an account gets one: no password, address verified.
	status, bobRes := e.scimCall(token, "POST", "/Users", `{`+userSchema+`,"userName":"bob@acme.example","active":true}`)
	require.Equal(t, http.StatusCreated, status, "%v", bobRes)
	bobID := bobRes["id"].(string)
	bob, err := e.accounts.User(ctx, bobID)
	require.NoError(t, err)
	require.True(t, bob.EmailVerified)
	hasPassword, err := e.accounts.HasPassword(ctx, bobID)
	require.NoError(t, err)
	require.False(t, hasPassword)

	// The same userName again: 409.
	status, _ = e.scimCall(token, "POST", "/Users", `{`+userSchema+`,"userName":"alice@acme.example","active":true}`)
	require.Equal(t, http.StatusConflict, status)

	// Replace (PUT) changes attributes.
	status, put := e.scimCall(token, "PUT", "/Users/"+alice.ID, `{`+userSchema+`,"userName":"alice@acme.example",
		"externalId":"00u1","name":{"givenName":"Alicia","familyName":"Liddell"},"active":true}`)
	require.Equal(t, http.StatusOK, status, "%v", put)
	status, got := e.scimCall(token, "GET", "/Users/"+alice.ID, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "Alicia", got["name"].(map[string]any)["givenName"])

	// A group named like a role makes its members that role.
	status, grp := e.scimCall(token, "POST", "/Groups", `{`+groupSchema+`,"displayName":"Groundwork Admins",
		"members":[{"value":"`+alice.ID+`"}]}`)
	require.Equal(t, http.StatusCreated, status, "%v", grp)
	groupID := grp["id"].(string)
	require.Equal(t, gw.RoleAdmin, e.memberRole(alice.ID, acme.ID))
	require.Equal(t, gw.RoleMember, e.memberRole(bobID, acme.ID))
	_, got = e.scimCall(token, "GET", "/Users/"+alice.ID, "")
	require.Len(t, got["groups"], 1)

	// Okta's group push: remove Alice, add Bob (PATCH on members).
	status, _ = e.scimCall(token, "PATCH", "/Groups/"+groupID, `{`+patchSchema+`,"Operations":[
		{"op":"remove","path":"members[value eq \"`+alice.ID+`\"]"},
		{"op":"add","path":"members","value":[{"value":"`+bobID+`"}]}]}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, gw.RoleMember, e.memberRole(alice.ID, acme.ID))
	require.Equal(t, gw.RoleAdmin, e.memberRole(bobID, acme.ID))

	// A viewers group: Alice alone in it is a viewer; in both, the stronger wins.
	status, viewers := e.scimCall(token, "POST", "/Groups", `{`+groupSchema+`,"displayName":"viewer",
		"members":[{"value":"`+alice.ID+`"},{"value":"`+bobID+`"}]}`)
	require.Equal(t, http.StatusCreated, status, "%v", viewers)
	require.Equal(t, gw.RoleViewer, e.memberRole(alice.ID, acme.ID))
	require.Equal(t, gw.RoleAdmin, e.memberRole(bobID, acme.ID))

	// Entra ID style: replace members of the group (no path, value object).
	status, _ = e.scimCall(token, "PATCH", "/Groups/"+groupID, `{`+patchSchema+`,"Operations":[
		{"op":"Replace","value":{"members":[{"value":"`+alice.ID+`"}]}}]}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, gw.RoleAdmin, e.memberRole(alice.ID, acme.ID))
	require.Equal(t, gw.RoleViewer, e.memberRole(bobID, acme.ID))

	// Deactivate (Okta: replace with a value object): the membership goes,
	// and with it Alice's sessions, since she belongs nowhere else.
	status, deact := e.scimCall(token, "PATCH", "/Users/"+alice.ID, `{`+patchSchema+`,"Operations":[
		{"op":"replace","value":{"active":false}}]}`)
	require.Equal(t, http.StatusOK, status, "%v", deact)
	require.Equal(t, false, deact["active"])
	require.Equal(t, gw.Role(""), e.memberRole(alice.ID, acme.ID))
	sessions, err := e.accounts.Sessions(ctx, alice.ID)
	require.NoError(t, err)
	require.Empty(t, sessions, "deprovisioning ended her sessions")
	require.Equal(t, http.StatusSeeOther, getStatus(t, aliceClient, e.srv.URL+"/o/"+acme.Slug+"/"), "sent to log in")

	// Reactivate (Entra ID: a path): a member again, with her groups' role.
	status, _ = e.scimCall(token, "PATCH", "/Users/"+alice.ID, `{`+patchSchema+`,"Operations":[
		{"op":"Replace","path":"active","value":true}]}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, gw.RoleAdmin, e.memberRole(alice.ID, acme.ID))

	// The owner cannot be deprovisioned through SCIM.
	status, _ = e.scimCall(token, "POST", "/Users", `{`+userSchema+`,"userName":"owner@acme.example","active":true}`)
	require.Equal(t, http.StatusCreated, status)
	require.Equal(t, gw.RoleOwner, e.memberRole(owner.ID, acme.ID), "SCIM never changes an owner's role")
	status, _ = e.scimCall(token, "PATCH", "/Users/"+owner.ID, `{`+patchSchema+`,"Operations":[
		{"op":"replace","path":"active","value":false}]}`)
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, gw.RoleOwner, e.memberRole(owner.ID, acme.ID))

	// Delete: gone from SCIM and from the organisation; the account stays.
	status, _ = e.scimCall(token, "DELETE", "/Users/"+bobID, "")
	require.Equal(t, http.StatusNoContent, status)
	status, _ = e.scimCall(token, "GET", "/Users/"+bobID, "")
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, gw.Role(""), e.memberRole(bobID, acme.ID))
	_, err = e.accounts.User(ctx, bobID)
	require.NoError(t, err)
	_, got = e.scimCall(token, "GET", "/Groups/"+viewers["id"].(string), "")
	require.Len(t, got["members"], 1, "Bob left the group with his deletion")

	// Deleting a group gives its members the role of their other groups.
	status, _ = e.scimCall(token, "DELETE", "/Groups/"+groupID, "")
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, gw.RoleViewer, e.memberRole(alice.ID, acme.ID))

	// Every membership change is in the organisation's audit log.
	events, err := e.deps.Audit.List(ctx, ownerScope, audit.ListParams{Limit: 200})
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, ev := range events.Entries {
		seen[ev.Action] = true
	}
	for _, a := range []string{audit.ActionSCIMTokenCreated, audit.ActionMemberProvisioned,
		audit.ActionMemberDeprovisioned, audit.ActionMemberRoleChanged} {
		require.True(t, seen[a], "audit log has %s", a)
	}
}

// TestSCIMRefusesBadTokensAndOtherOrganisations checks 401 for a missing,
// malformed, unknown, revoked token and for an API key, and 404 for
// another organisation's users and groups, whatever the method.
func TestSCIMRefusesBadTokensAndOtherOrganisations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	owner := e.user("owner@acme.example")
	_, acmeScope := e.org(owner.ID, "Acme")
	acmeToken := e.scimToken(acmeScope, "okta")
	other := e.user("owner@other.example")
	_, otherScope := e.org(other.ID, "Other")
	otherToken := e.scimToken(otherScope, "entra")
	_, apiKey := e.apiKey(acmeScope.OrgID, "ci", gw.RoleAdmin)

	status, u := e.scimCall(acmeToken, "POST", "/Users", `{`+userSchema+`,"userName":"secret.user@acme.example","active":true}`)
	require.Equal(t, http.StatusCreated, status)
	userID := u["id"].(string)
	status, g := e.scimCall(acmeToken, "POST", "/Groups", `{`+groupSchema+`,"displayName":"admins","members":[{"value":"`+userID+`"}]}`)
	require.Equal(t, http.StatusCreated, status)
	groupID := g["id"].(string)

	for _, tok := range []string{"", "nonsense", "gwscim_aaaaaaaa_" + strings.Repeat("A", 43), apiKey} {
		status, _ := e.scimCall(tok, "GET", "/Users", "")
		require.Equal(t, http.StatusUnauthorized, status, "token %q", tok)
	}

	// Another organisation's token sees none of acme's resources.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/Users/" + userID, ""},
		{"PUT", "/Users/" + userID, `{` + userSchema + `,"userName":"x@other.example","active":false}`},
		{"PATCH", "/Users/" + userID, `{` + patchSchema + `,"Operations":[{"op":"replace","path":"active","value":false}]}`},
		{"DELETE", "/Users/" + userID, ""},
		{"GET", "/Groups/" + groupID, ""},
		{"PUT", "/Groups/" + groupID, `{` + groupSchema + `,"displayName":"viewers"}`},
		{"PATCH", "/Groups/" + groupID, `{` + patchSchema + `,"Operations":[{"op":"remove","path":"members"}]}`},
		{"DELETE", "/Groups/" + groupID, ""},
	} {
		status, body := e.scimCall(otherToken, c.method, c.path, c.body)
		require.Equal(t, http.StatusNotFound, status, "%s %s: %v", c.method, c.path, body)
	}
	status, list := e.scimCall(otherToken, "GET", "/Users", "")
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, 0, list["totalResults"])
	status, list = e.scimCall(otherToken, "GET", "/Groups?filter="+url.QueryEscape(`displayName eq "admins"`), "")
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, 0, list["totalResults"])
	// Nor can it put acme's user in its own group.
	status, _ = e.scimCall(otherToken, "POST", "/Groups", `{`+groupSchema+`,"displayName":"admins","members":[{"value":"`+userID+`"}]}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, gw.RoleAdmin, e.memberRole(userID, acmeScope.OrgID), "acme's member untouched")

	// Revoked: refused from the next request on.
	tokens, err := e.orgs.SCIMTokens(ctx, acmeScope)
	require.NoError(t, err)
	require.Len(t, tokens, 1)
	require.NotNil(t, tokens[0].LastUsedAt)
	require.NoError(t, e.orgs.RevokeSCIMToken(ctx, acmeScope, tokens[0].ID))
	status, _ = e.scimCall(acmeToken, "GET", "/Users", "")
	require.Equal(t, http.StatusUnauthorized, status)
}

// TestSCIMFilterAndPagination lists users with startIndex and count and
// with filters on userName, externalId and active.
func TestSCIMFilterAndPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	_, scope := e.org(owner.ID, "Acme")
	token := e.scimToken(scope, "okta")
	for i := 1; i <= 5; i++ {
		status, _ := e.scimCall(token, "POST", "/Users", fmt.Sprintf(`{`+userSchema+`,"userName":"user%d@acme.example",
			"externalId":"ext-%d","active":%t}`, i, i, i != 3))
		require.Equal(t, http.StatusCreated, status)
	}

	status, list := e.scimCall(token, "GET", "/Users?startIndex=2&count=2", "")
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, 5, list["totalResults"])
	require.EqualValues(t, 2, list["startIndex"])
	require.EqualValues(t, 2, list["itemsPerPage"])
	res := list["Resources"].([]any)
	require.Len(t, res, 2)
	require.Equal(t, "user2@acme.example", res[0].(map[string]any)["userName"])
	require.Equal(t, "user3@acme.example", res[1].(map[string]any)["userName"])

	_, list = e.scimCall(token, "GET", "/Users?startIndex=5&count=10", "")
	require.Len(t, list["Resources"], 1)
	_, list = e.scimCall(token, "GET", "/Users?startIndex=9", "")
	require.EqualValues(t, 5, list["totalResults"])
	require.Empty(t, list["Resources"])

	for filter, want := range map[string]int{
		`userName eq "USER4@acme.example"`:  1, // userName is case-insensitive
		`externalId eq "ext-2"`:             1,
		`active eq false`:                   1,
		`userName sw "user"`:                5,
		`userName eq "nobody@acme.example"`: 0,
	} {
		status, list := e.scimCall(token, "GET", "/Users?filter="+url.QueryEscape(filter), "")
		require.Equal(t, http.StatusOK, status, filter)
		require.EqualValues(t, want, list["totalResults"], filter)
	}
	status, _ = e.scimCall(token, "GET", "/Users?filter="+url.QueryEscape(`userName eq`), "")
	require.Equal(t, http.StatusBadRequest, status)
}

// TestSCIMTokenPage lets owners create (shown once) and revoke SCIM tokens,
// and no one else.
func TestSCIMTokenPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, ownerScope := e.org(owner.ID, "Acme")
	admin := e.user("admin@acme.example")
	e.join(ownerScope, admin, gw.RoleAdmin)
	c := e.login(owner.Email)

	resp, err := c.PostForm(e.srv.URL+"/o/"+acme.Slug+"/scim/tokens", url.Values{"name": {"Okta"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	pageBody := func() string {
		resp, err := c.Get(e.srv.URL + "/o/" + acme.Slug + "/scim")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	first := pageBody()
	require.Contains(t, first, e.srv.URL+"/scim/v2")
	i := strings.Index(first, `id="new-scim-token">`)
	require.Positive(t, i, "the new token is shown")
	token := first[i+len(`id="new-scim-token">`):]
	token = token[:strings.Index(token, "<")]
	require.True(t, strings.HasPrefix(token, "gwscim_"))
	require.NotContains(t, pageBody(), token, "shown once")
	status, _ := e.scimCall(token, "GET", "/Users", "")
	require.Equal(t, http.StatusOK, status)

	tokens, err := e.orgs.SCIMTokens(context.Background(), ownerScope)
	require.NoError(t, err)
	resp, err = c.PostForm(e.srv.URL+"/o/"+acme.Slug+"/scim/tokens/"+tokens[0].ID+"/revoke", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	status, _ = e.scimCall(token, "GET", "/Users", "")
	require.Equal(t, http.StatusUnauthorized, status)

	require.Equal(t, http.StatusForbidden, getStatus(t, e.login(admin.Email), e.srv.URL+"/o/"+acme.Slug+"/scim"), "owners only")
}

// TestSCIMDeprovisioningLeavesOtherOrganisations deactivates a user who
// also belongs to another organisation: its membership there and its
// sessions stay, and this organisation is closed to it at once.
func TestSCIMDeprovisioningLeavesOtherOrganisations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	owner := e.user("owner@acme.example")
	acme, ownerScope := e.org(owner.ID, "Acme")
	token := e.scimToken(ownerScope, "okta")
	carol := e.user("carol@acme.example")
	otherOwner := e.user("owner@other.example")
	other, otherScope := e.org(otherOwner.ID, "Other")
	e.join(otherScope, carol, gw.RoleAdmin)
	carolClient := e.login(carol.Email)

	status, _ := e.scimCall(token, "POST", "/Users", `{`+userSchema+`,"userName":"carol@acme.example","active":true}`)
	require.Equal(t, http.StatusCreated, status)
	require.Equal(t, http.StatusOK, getStatus(t, carolClient, e.srv.URL+"/o/"+acme.Slug+"/"))

	status, _ = e.scimCall(token, "PUT", "/Users/"+carol.ID, `{`+userSchema+`,"userName":"carol@acme.example","active":false}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, gw.Role(""), e.memberRole(carol.ID, acme.ID))
	require.Equal(t, gw.RoleAdmin, e.memberRole(carol.ID, other.ID), "the other organisation's membership is untouched")
	require.Equal(t, http.StatusNotFound, getStatus(t, carolClient, e.srv.URL+"/o/"+acme.Slug+"/"), "closed at once")
	require.Equal(t, http.StatusOK, getStatus(t, carolClient, e.srv.URL+"/o/"+other.Slug+"/"), "her session goes on elsewhere")
	sessions, err := e.accounts.Sessions(ctx, carol.ID)
	require.NoError(t, err)
	require.Len(t, sessions, 1)
}

// TestSCIMRateLimited: SCIM requests count against their token's api-key
// budget, and failed authentications against the client IP's api-auth-ip
// budget, as API requests do.
func TestSCIMRateLimited(t *testing.T) {
	t.Parallel()
	apiLimit, authLimit := ratelimit.Limit{Count: 2, Period: time.Hour}, ratelimit.Limit{Count: 2, Period: time.Hour}
	opt, _ := limits(ratelimit.Policies{ratelimit.APIKey: apiLimit, ratelimit.APIAuthIP: authLimit})
	e := newEnv(t, opt)
	owner := e.user("owner@acme.example")
	_, scope := e.org(owner.ID, "Acme")
	token, token2 := e.scimToken(scope, "okta"), e.scimToken(scope, "entra")
	bearer := func(k string) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }

	for range 2 {
		require.Equal(t, http.StatusOK, do(t, nil, e.srv.URL, "/scim/v2/Users", nil, bearer(token)).status)
	}
	requireLimited(t, do(t, nil, e.srv.URL, "/scim/v2/Users", nil, bearer(token)), ratelimit.APIKey, apiLimit)
	require.Equal(t, http.StatusOK, do(t, nil, e.srv.URL, "/scim/v2/Groups", nil, bearer(token2)).status, "another token has its own budget")

	require.Equal(t, http.StatusUnauthorized, do(t, nil, e.srv.URL, "/scim/v2/Users", nil, bearer("gwscim_nope")).status)
	require.Equal(t, http.StatusUnauthorized, do(t, nil, e.srv.URL, "/scim/v2/Users", nil, nil).status)
	requireLimited(t, do(t, nil, e.srv.URL, "/scim/v2/Users", nil, bearer("gwscim_other")), ratelimit.APIAuthIP, authLimit)
}
