package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// These tests stall the mail relay (mailtest's Hold) and check that no
// request waits for it: emails leave through the outbox, sent by a job
// after the request's transaction commits.

// answerTimeout is how long a request may take before the test concludes
// that it is waiting for the stalled relay, which never answers until the
// test releases it. It bounds a wait for an event; nothing is timed.
const answerTimeout = 30 * time.Second

// asyncResponse is the outcome of a request made in the background.
type asyncResponse struct {
	status int
	err    error
}

// send makes req with c in the background; the channel receives its
// outcome.
func send(c *http.Client, req *http.Request) <-chan asyncResponse {
	ch := make(chan asyncResponse, 1)
	go func() {
		resp, err := c.Do(req)
		if err != nil {
			ch <- asyncResponse{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ch <- asyncResponse{status: resp.StatusCode}
	}()
	return ch
}

// postForm builds a form POST to the server.
func (e *env) postForm(path string, form url.Values) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// answered waits for a background request's answer and returns its status;
// the test fails if none comes while the relay is held.
func answered(t *testing.T, what string, ch <-chan asyncResponse) int {
	t.Helper()
	select {
	case r := <-ch:
		require.NoError(t, r.err, what)
		return r.status
	case <-time.After(answerTimeout):
		t.Fatalf("%s got no answer while the mail relay was stalled: it waits for SMTP", what)
		return 0
	}
}

func TestAccountEmailsDoNotWaitForTheMailRelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.user("known@example.com")
	_, err := e.accounts.SignUp(ctx, "unverified@example.com", testPassword)
	require.NoError(t, err)
	e.mail.WaitFor(t, "unverified@example.com", "Verify your email address")

	release := e.mail.Hold(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, r := range []struct{ path, email string }{
		{"/forgot-password", "known@example.com"},
		{"/verify-email", "unverified@example.com"},
		{"/forgot-password", "unknown@example.com"},
		{"/verify-email", "unknown@example.com"},
	} {
		what := fmt.Sprintf("POST %s for %s", r.path, r.email)
		status := answered(t, what, send(client, e.postForm(r.path, url.Values{"email": {r.email}})))
		require.Equal(t, http.StatusOK, status, what)
	}
	// The requests were answered; the worker has reached the relay, which
	// still holds both emails unanswered.
	e.mail.WaitHeld(t, 2)
	require.Equal(t, 2, e.mail.Held())

	release()
	reset := e.mail.WaitFor(t, "known@example.com", "Reset your password")
	require.Contains(t, reset.Text, e.srv.URL+"/reset-password?token=")
	verify := e.mail.WaitFor(t, "unverified@example.com", "Verify your email address")
	require.Contains(t, verify.Text, e.srv.URL+"/verify-email?token=")
	for _, m := range e.mail.Messages() {
		require.NotContains(t, m.To, "unknown@example.com", "no email for an address without an account")
	}
}

func TestInvitationsAndOtherOrgsAreServedWhileTheMailRelayStalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@example.com")
	acme, _ := e.org(owner.ID, "Acme")
	other := e.user("other@example.com")
	beta, _ := e.org(other.ID, "Beta")
	_, key := e.apiKey(beta.ID, "reader", gw.RoleMember)
	c := e.login("owner@example.com")

	release := e.mail.Hold(t)
	// More invitations at once than the test pool has connections (8): an
	// invitation that held its transaction open while the relay stalls
	// would take every connection.
	const n = 12
	var pending []<-chan asyncResponse
	for i := range n {
		pending = append(pending, send(c, e.postForm("/o/"+acme.Slug+"/invitations",
			url.Values{"email": {fmt.Sprintf("invitee%d@example.com", i)}, "role": {"member"}})))
	}
	for i, ch := range pending {
		status := answered(t, fmt.Sprintf("invitation %d", i), ch)
		require.Equal(t, http.StatusSeeOther, status, "invitation %d", i)
	}
	e.mail.WaitHeld(t, 1) // the relay is stalled with invitations on it

	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/contacts", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	require.Equal(t, http.StatusOK, answered(t, "another organisation's API read", send(http.DefaultClient, req)))
	require.Positive(t, e.mail.Held(), "the relay was stalled all along")

	release()
	for i := range n {
		msg := e.mail.WaitFor(t, fmt.Sprintf("invitee%d@example.com", i), "Invitation to join Acme")
		require.Contains(t, msg.Text, e.srv.URL+"/invitations/")
	}
}
