package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Flows over several pages that a new user walks (issue 17): they carry
// state from one request to the next, so they are tests of their own
// rather than rows of a scenario table.

// TestInvitationSurvivesSignUp: someone invited who has no account signs
// up from the invitation, verifies the address and logs in, and lands on
// the invitation, not on an empty list of organisations.
func TestInvitationSurvivesSignUp(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	_, err := fx.e.orgs.Invite(context.Background(), fx.scopes["owner"], "fresh@acme.example", gw.RoleMember)
	require.NoError(t, err)
	invitation := fx.mailLink(t, "fresh@acme.example", "Invitation").Path
	require.True(t, strings.HasPrefix(invitation, "/invitations/"), invitation)

	fx.addVisitor("fresh")
	c := fx.client(t, "fresh")
	r := fx.request(t, c, http.MethodGet, invitation, nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `href="/signup?next=`+invitation+`"`)

	r = fx.request(t, c, http.MethodPost, "/signup", url.Values{"email": {"fresh@acme.example"},
		"password": {testPassword}, "next": {invitation}}, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)

	verify := fx.mailLink(t, "fresh@acme.example", "Verify your email address")
	r = fx.request(t, c, http.MethodGet, verify.RequestURI(), nil, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, "/login?next="+url.QueryEscape(invitation), r.location)

	// The log-in form of that page carries next; a form without it (the
	// plain /login page) still ends on the invitation.
	r = fx.request(t, c, http.MethodPost, "/login", url.Values{"email": {"fresh@acme.example"},
		"password": {testPassword}}, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, invitation, r.location)

	r = fx.request(t, c, http.MethodPost, invitation, url.Values{}, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, "/o/"+fx.acme.Slug+"/contacts", r.location)
}

// TestResendVerificationFromLogin: log-in refused for an unverified
// address offers a new link there; the resend page opened by itself asks
// for the address without claiming a link was bad.
func TestResendVerificationFromLogin(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	_, err := fx.e.accounts.SignUp(context.Background(), "late@acme.example", testPassword)
	require.NoError(t, err)
	fx.e.mail.WaitFor(t, "late@acme.example", "Verify your email address")

	c := fx.e.client()
	r := fx.request(t, c, http.MethodPost, "/login", url.Values{"email": {"late@acme.example"}, "password": {testPassword}}, nil)
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, r.body, "Verify your email address first")
	require.Contains(t, r.body, `<form method="post" action="/verify-email" class="card" id="resend-verification">`)
	require.Contains(t, r.body, `<input type="hidden" name="email" value="late@acme.example">`)

	r = fx.request(t, c, http.MethodPost, "/verify-email", url.Values{"email": {"late@acme.example"}}, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "Check your email")
	fx.e.mail.WaitFor(t, "late@acme.example", "Verify your email address")

	r = fx.request(t, c, http.MethodGet, "/verify-email?email=late%40acme.example", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.NotContains(t, r.body, "invalid or has expired")
	require.Contains(t, r.body, `value="late@acme.example"`)

	r = fx.request(t, c, http.MethodGet, "/login", nil, nil)
	require.Contains(t, r.body, `href="/verify-email"`, "the log-in page links to the resend page")
}
