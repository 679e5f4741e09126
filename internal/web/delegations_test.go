package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// apiStatus is the status of GET /api/v1/contacts with key.
func (e *env) apiStatus(t *testing.T, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/contacts", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestMembersPageConfirmsRevokingDelegations proves, through the pages,
// that demoting an admin who created an admin API key first shows what it
// will revoke, with a form that confirms it (members.html did not show
// it: the action could never be confirmed); confirming demotes them and
// the key stops working on the API at once, while their member key goes
// on working; removing them asks the same way, then revokes that one too.
func TestMembersPageConfirmsRevokingDelegations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	owner := e.user("owner@acme.example")
	admin := e.user("admin@acme.example")
	o, ownerScope := e.org(owner.ID, "Acme")
	adminScope := e.join(ownerScope, admin, gw.RoleAdmin)
	_, adminKey, err := e.orgs.CreateAPIKey(ctx, adminScope, "admin key", gw.RoleAdmin)
	require.NoError(t, err)
	_, memberKey, err := e.orgs.CreateAPIKey(ctx, adminScope, "member key", gw.RoleMember)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, e.apiStatus(t, adminKey))

	c := e.login(owner.Email)
	action := "/o/" + o.Slug + "/members/" + admin.ID + "/role"
	status, _, body := post(t, c, e.srv.URL+action, url.Values{"role": {"member"}})
	require.Equal(t, http.StatusOK, status, "asks first")
	body = html.UnescapeString(body)
	require.Contains(t, body, "This will also revoke 1 API key created by admin@acme.example.")
	require.Contains(t, body, `action="`+action+`"`)
	require.Contains(t, body, `name="confirm" value="yes"`)
	require.Contains(t, body, `name="role" value="member"`)
	require.Equal(t, gw.RoleAdmin, e.scope(admin.ID, o.ID).Role, "nothing changed yet")
	require.Equal(t, http.StatusOK, e.apiStatus(t, adminKey))

	status, _, _ = post(t, c, e.srv.URL+action, url.Values{"role": {"member"}, "confirm": {"yes"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, gw.RoleMember, e.scope(admin.ID, o.ID).Role)
	require.Equal(t, http.StatusUnauthorized, e.apiStatus(t, adminKey), "the admin key is revoked")
	require.Equal(t, http.StatusOK, e.apiStatus(t, memberKey), "the member key stays")

	remove := "/o/" + o.Slug + "/members/" + admin.ID + "/remove"
	status, _, body = post(t, c, e.srv.URL+remove, nil)
	require.Equal(t, http.StatusOK, status, "asks first")
	body = html.UnescapeString(body)
	require.Contains(t, body, "This will also revoke 1 API key created by admin@acme.example.")
	require.Contains(t, body, `action="`+remove+`"`)
	require.Equal(t, http.StatusOK, e.apiStatus(t, memberKey), "nothing changed yet")
	status, _, _ = post(t, c, e.srv.URL+remove, url.Values{"confirm": {"yes"}})
	require.Equal(t, http.StatusSeeOther, status)
	_, _, err = e.orgs.MemberScope(ctx, admin.ID, o.ID)
	require.Error(t, err, "removed")
	require.Equal(t, http.StatusUnauthorized, e.apiStatus(t, memberKey), "the member key is revoked")
}
