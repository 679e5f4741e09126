package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/doctor"
	"github.com/groundwork-dev/groundwork/internal/observe"
	"github.com/groundwork-dev/groundwork/internal/ops"
)

// TestOperatorConsoleAccess walks the operator rules: a member of an
// organisation is not an operator (404); a granted operator without
// two-factor is sent to set it up; with two-factor on but a session that
// never proved it, 403; signed in through the second factor, the console
// and the readiness report open, and each view is audited with its request
// ID; revoked, 404 again.
func TestOperatorConsoleAccess(t *testing.T) {
	t.Parallel()
	requests := observe.NewRequests(nil)
	e := newEnv(t, func(d *Deps) {
		d.Requests = requests
		d.OpsSnapshot = func(context.Context) ops.Snapshot {
			return ops.Snapshot{SlowSQLErr: "pg_stat_statements is not installed", SchemaVersion: 31}
		}
		d.Readiness = func(context.Context) doctor.Report {
			return doctor.Run(doctor.Inputs{Now: time.Now()}, doctor.Checks())
		}
	})
	ctx := context.Background()
	u := e.user("ops@example.com")

	c := e.login(u.Email)
	r := do(t, c, e.srv.URL, "/ops", nil, nil)
	require.Equal(t, http.StatusNotFound, r.status, "not an operator yet")

	_, err := e.operators.Grant(ctx, u.Email, "test")
	require.NoError(t, err)
	r = do(t, c, e.srv.URL, "/ops", nil, nil)
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, "/account/two-factor", r.header.Get("Location"), "an operator without two-factor sets it up first")

	secret, _, err := e.accounts.BeginTwoFactor(ctx, u.ID)
	require.NoError(t, err)
	enable, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	_, err = e.accounts.EnableTwoFactor(ctx, u.ID, secret, enable)
	require.NoError(t, err)
	r = do(t, c, e.srv.URL, "/ops", nil, nil)
	require.Equal(t, http.StatusForbidden, r.status, "this session signed in with the password alone")
	require.Contains(t, r.body, "log in again")

	// Sign in again through the second factor (a code of the next step:
	// the one used to enable is spent).
	c = e.client()
	r = do(t, c, e.srv.URL, "/login", url.Values{"email": {u.Email}, "password": {testPassword}, "next": {"/ops"}}, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	require.NoError(t, err)
	r = do(t, c, e.srv.URL, "/login/two-factor", url.Values{"code": {code}, "next": {"/ops"}}, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, "/ops", r.header.Get("Location"))

	r = do(t, c, e.srv.URL, "/ops?window=1h", nil, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	for _, want := range []string{"This instance only", "Last 1h", "POST /login/two-factor", "pg_stat_statements is not installed", "Schema version 31", "<svg"} {
		require.Contains(t, r.body, want)
	}
	opsRequestID := r.header.Get("X-Request-ID")
	require.NotEmpty(t, opsRequestID)

	r = do(t, c, e.srv.URL, "/ops/readiness", nil, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, "backups.recent")
	r = do(t, c, e.srv.URL, "/ops/readiness?format=json", nil, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	var rep doctor.Report
	require.NoError(t, json.Unmarshal([]byte(r.body), &rep))
	require.Equal(t, len(doctor.Checks()), len(rep.Results))

	r = do(t, c, e.srv.URL, "/ops/jobs/", nil, nil)
	require.Equal(t, http.StatusNotFound, r.status, "no River UI in this test's server")

	events, err := e.operators.Events(ctx, u.ID, 20)
	require.NoError(t, err)
	var views []string
	var opsEvent audit.Entry
	for _, ev := range events {
		views = append(views, ev.Action+" "+ev.TargetID)
		if ev.TargetID == "GET /ops" && ev.RequestID == opsRequestID {
			opsEvent = ev
		}
	}
	require.Contains(t, views, "operator.viewed GET /ops/readiness")
	require.Contains(t, views, "operator.granted "+u.ID)
	require.Equal(t, u.ID, opsEvent.Actor.UserID, "the /ops view is audited with its request ID: %v", views)
	for _, v := range views {
		require.False(t, strings.HasSuffix(v, "GET /orgs"), "only console requests are audited")
	}

	require.NoError(t, e.operators.Revoke(ctx, u.Email, "test"))
	r = do(t, c, e.srv.URL, "/ops", nil, nil)
	require.Equal(t, http.StatusNotFound, r.status, "revoked: closed at the next request")
}

// TestAuditedOperatorRequests: page views and changes are audited, the
// River UI's polling and assets are not.
func TestAuditedOperatorRequests(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]bool{
		"GET /ops": true, "GET /ops/readiness": true, "GET /ops/jobs/": true, "GET /ops/jobs/jobs": true,
		"GET /ops/jobs/api/jobs": false, "GET /ops/jobs/assets/index-1.js": false,
		"POST /ops/jobs/api/jobs/retry": true, "DELETE /ops/jobs/api/jobs/1": true,
	} {
		method, p, _ := strings.Cut(path, " ")
		r, err := http.NewRequest(method, "http://x"+p, nil)
		require.NoError(t, err)
		require.Equal(t, want, audited(r), path)
	}
}
