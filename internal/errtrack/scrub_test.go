package errtrack

import (
	"encoding/json"
	"testing"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/require"
)

const testAPIKey = "gw_abcdefgh_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"

func TestScrubString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		in   string
		want string
	}{
		{"plain error unchanged", "insert contact: connection refused", "insert contact: connection refused"},
		{"go error chain with sensitive word unchanged", "rotate token: dial tcp 10.0.0.1:5432: i/o timeout", "rotate token: dial tcp 10.0.0.1:5432: i/o timeout"},
		{"email", "no user bob.smith+x@example.co.uk here", "no user [email] here"},
		{"url-encoded email", "email=bob%40example.com", "email=[email]"},
		{"api key", "bad key " + testAPIKey + " given", "bad key [api-key] given"},
		{"bearer token", "Authorization: Bearer gw_abcdefgh_secretsecret", "Authorization: Bearer [redacted]"},
		{"bearer opaque", "header bearer abc.def-ghi", "header Bearer [redacted]"},
		{"form password", "decode form: password=hunter2&email=a@b.io", "decode form: password=[redacted]&email=[email]"},
		{"query string", `Get "https://api.example.com/v1/x?token=secret&page=2": EOF`, `Get "https://api.example.com/v1/x?[redacted]": EOF`},
		{"relative query string", "redirect to /reset-password?token=abc123", "redirect to /reset-password?[redacted]"},
		{"query without secret names", "/contacts?page=2&q=acme", "/contacts?[redacted]"},
		{"url credentials", "connect postgres://app:s3cret@db:5432/gw", "connect postgres://[redacted]@db:5432/gw"},
		{"json secret", `body {"email":"x@y.com","password": "hunter2","api_key":"k"}`, `body {"email":"[email]","password": "[redacted]","api_key":"[redacted]"}`},
		{"go struct", "{Email:a@b.co Password:hunter2 Name:Bob}", "{Email:[email] Password:[redacted] Name:Bob}"},
		{"logfmt secret", `session_id="abc def" user=1`, `session_id=[redacted] user=1`},
		{"cookie header value", "Cookie: gw_session=abc123; theme=dark", "Cookie: gw_session=[redacted]; theme=dark"},
		{"jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nat_ure", "token [redacted]"},
		{"totp", "totp_code=123456", "totp_code=[redacted]"},
		{"short gw_ names kept", "cookie name gw_session", "cookie name gw_session"},
		{"ip address kept", "dial 127.0.0.1:8080", "dial 127.0.0.1:8080"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ScrubString(tt.in))
		})
	}
}

func TestScrubEvent(t *testing.T) {
	t.Parallel()
	ev := &sentry.Event{
		Message:     "login failed for bob@example.com",
		Transaction: "POST /login",
		Fingerprint: []string{"{{ default }}", "bob@example.com"},
		Exception: []sentry.Exception{{
			Type:  "*errors.errorString",
			Value: "authenticate " + testAPIKey + " for alice@example.com: password=hunter2",
			Stacktrace: &sentry.Stacktrace{Frames: []sentry.Frame{
				{Function: "handler", Vars: map[string]any{"password": "hunter2"}},
			}},
		}},
		Tags:     map[string]string{"request_id": "carol@example.com", "org_id": "0190"},
		Contexts: map[string]sentry.Context{"panic": {"stack": "main.go:1 token=abc", "password": "hunter2", "nested": map[string]any{"list": []any{"dave@example.com"}}}},
		Breadcrumbs: []*sentry.Breadcrumb{{
			Message: "GET /invitations?token=secret",
			Data:    map[string]any{"url": "/x?token=secret", "Authorization": "Bearer gw_abcdefgh_zzzzzzzz"},
		}},
		User: sentry.User{ID: "u1", Email: "erin@example.com", IPAddress: "10.1.2.3", Username: "erin", Name: "Erin", Data: map[string]string{"phone": "1"}},
		Request: &sentry.Request{
			URL:         "https://user:pw@app.example.com/reset?token=abc#frag",
			Method:      "POST",
			Data:        "password=hunter2",
			QueryString: "token=abc",
			Cookies:     "gw_session=abc",
			Env:         map[string]string{"REMOTE_ADDR": "10.1.2.3"},
			Headers: map[string]string{
				"Authorization":    "Bearer " + testAPIKey,
				"Cookie":           "gw_session=abc",
				"X-Api-Key":        testAPIKey,
				"X-Forwarded-For":  "10.1.2.3",
				"Stripe-Signature": "t=1,v1=abc",
				"User-Agent":       "curl/8 (frank@example.com)",
				"Content-Type":     "application/x-www-form-urlencoded",
			},
		},
	}
	got := Scrub(ev)
	require.Same(t, ev, got)

	b, err := json.Marshal(got)
	require.NoError(t, err)
	out := string(b)
	for _, secret := range []string{
		"bob@example.com", "alice@example.com", "carol@example.com", "dave@example.com", "erin@example.com",
		"frank@example.com", testAPIKey, "hunter2", "token=abc", "token=secret", "gw_session=abc", "10.1.2.3",
		"user:pw", "Stripe-Signature", "zzzzzzzz", "Erin",
	} {
		require.NotContains(t, out, secret)
	}

	require.Equal(t, "https://app.example.com/reset", got.Request.URL)
	require.Empty(t, got.Request.Data)
	require.Empty(t, got.Request.QueryString)
	require.Empty(t, got.Request.Cookies)
	require.Nil(t, got.Request.Env)
	require.Equal(t, map[string]string{
		"User-Agent":   "curl/8 ([email])",
		"Content-Type": "application/x-www-form-urlencoded",
	}, got.Request.Headers)
	require.Equal(t, sentry.User{ID: "u1"}, got.User)
	require.Equal(t, "0190", got.Tags["org_id"])
	require.Equal(t, "[redacted]", got.Contexts["panic"]["password"])
	require.Equal(t, "main.go:1 token=[redacted]", got.Contexts["panic"]["stack"])
	require.Nil(t, got.Exception[0].Stacktrace.Frames[0].Vars)
	require.Equal(t, "POST /login", got.Transaction, "route patterns survive")
	require.Equal(t, "[redacted]", got.Breadcrumbs[0].Data["Authorization"])

	require.Nil(t, Scrub(nil))
	require.Nil(t, ScrubBreadcrumb(nil))
}

func TestSensitiveName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"token": true, "Authorization": true, "X-Api-Key": true, "Cookie": true, "password": true,
		"new_password": true, "Stripe-Signature": true, "csrf_token": true,
		"id": false, "org": false, "user": false, "Content-Type": false, "User-Agent": false, "email": false,
	} {
		require.Equal(t, want, sensitiveName(name), name)
	}
}
