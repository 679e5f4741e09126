package errtrack_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/errtrack/errtracktest"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

const (
	apiKey   = "gw_abcdefgh_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
	email    = "alice@example.com"
	orgID    = "0190a0b0-0000-7000-8000-000000000001"
	userID   = "0190a0b0-0000-7000-8000-000000000002"
	release  = "v1.2.3"
	env      = "production"
	inviteTk = "inv1t3T0k3nS3cr3t"
)

// secrets must appear nowhere in what reaches the ingest.
var secrets = []string{apiKey, email, "hunter2", "token=secret", "secret-cookie", "gw_session", inviteTk, "10.9.8.7"}

func newReporter(t *testing.T, in *errtracktest.Ingest) *errtrack.Reporter {
	t.Helper()
	rep, err := errtrack.New(in.DSN(), env, release, nil)
	require.NoError(t, err)
	require.True(t, rep.Enabled())
	return rep
}

// requireNoSecrets checks every byte the ingest received.
func requireNoSecrets(t *testing.T, in *errtracktest.Ingest) {
	t.Helper()
	raw := strings.Join(in.Raw(), "\n")
	require.NotEmpty(t, raw)
	for _, s := range secrets {
		require.NotContains(t, raw, s)
	}
}

// secretRequest is a request carrying every kind of secret: cookie, bearer
// API key, query token, form password, forwarded IP, and a secret path value.
func secretRequest() *http.Request {
	body := strings.NewReader("password=hunter2&email=" + email)
	r := httptest.NewRequest(http.MethodPost, "/invitations/"+inviteTk+"?token=secret", body)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Cookie", "gw_session=secret-cookie")
	r.Header.Set("Authorization", "Bearer "+apiKey)
	r.Header.Set("X-Forwarded-For", "10.9.8.7")
	r.Header.Set("User-Agent", "test-agent")
	return r
}

// withRequestContext routes r through a mux to h, with a request ID and a
// signed-in member's scope in the context, as the web middleware does.
func serveRouted(r *http.Request, h http.HandlerFunc) {
	mux := http.NewServeMux()
	mux.Handle("POST /invitations/{token}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ctx := gw.WithRequestID(r.Context(), "req-123")
		ctx = gw.WithScope(ctx, gw.Scope{Actor: gw.Actor{UserID: userID}, OrgID: orgID, Role: gw.RoleMember})
		h(w, r.WithContext(ctx))
	}))
	mux.ServeHTTP(httptest.NewRecorder(), r)
}

func TestOffWithoutDSN(t *testing.T) {
	t.Parallel()
	rep, err := errtrack.New("", env, release, nil)
	require.NoError(t, err)
	require.Nil(t, rep)
	require.False(t, rep.Enabled())
	// Every method is a no-op on the nil Reporter.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	rep.CaptureRequestError(r, errors.New("x"))
	rep.CapturePanic(r, "x", nil)
	rep.CaptureJobError(context.Background(), errtrack.Job{}, errors.New("x"))
	rep.CaptureJobPanic(context.Background(), errtrack.Job{}, "x", "")
	require.True(t, rep.Flush(time.Second))
	require.ErrorContains(t, rep.SendTest(context.Background()), "SENTRY_DSN is not set")
}

func TestInvalidDSN(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ dsn, want string }{
		{"ftp://key@sentry.example.com/1", "invalid scheme"},
		{"https://sentry.example.com/1", "empty username"},
		{"https://key@sentry.example.com/", "empty project id"},
		{"https://key:s3cretkey@/1", "empty host"},
		{"https://key:s3cretkey@host:port/1", "malformed URL"},
		{"not a dsn", "invalid scheme"},
	} {
		t.Run(tt.dsn, func(t *testing.T) {
			t.Parallel()
			_, err := errtrack.New(tt.dsn, env, release, nil)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "s3cretkey")
			require.ErrorContains(t, errtrack.ValidateDSN(tt.dsn), tt.want)
		})
	}
	require.NoError(t, errtrack.ValidateDSN("https://abc@o1.ingest.sentry.io/42"))
}

func TestCaptureRequestErrorIsTaggedAndScrubbed(t *testing.T) {
	t.Parallel()
	in := errtracktest.New(t)
	rep := newReporter(t, in)

	serveRouted(secretRequest(), func(_ http.ResponseWriter, r *http.Request) {
		err := fmt.Errorf("notify %s with key %s: %w", email, apiKey, errors.New("smtp: password=hunter2 rejected"))
		rep.CaptureRequestError(r, err)
	})
	require.True(t, rep.Flush(5*time.Second))

	evs := in.WaitEvents(t, 1)
	require.Len(t, evs, 1)
	ev := evs[0]
	require.Equal(t, "error", ev.Level)
	require.Equal(t, release, ev.Release)
	require.Equal(t, env, ev.Environment)
	require.Equal(t, "POST /invitations/{token}", ev.Transaction)
	require.Subset(t, ev.Tags, map[string]string{
		"request_id":  "req-123",
		"org_id":      orgID,
		"user_id":     userID,
		"route":       "POST /invitations/{token}",
		"method":      "POST",
		"release":     release,
		"environment": env,
		"error_code":  gw.EINTERNAL,
	})
	require.Equal(t, map[string]any{"id": userID}, ev.User)
	require.Equal(t, "http://example.com/invitations/[redacted]", ev.Request["url"])
	require.Equal(t, map[string]any{"User-Agent": "test-agent", "Content-Type": "application/x-www-form-urlencoded"}, ev.Request["headers"])
	require.Len(t, ev.Exception, 2, "the error chain")
	require.Equal(t, "notify [email] with key [api-key]: smtp: password=[redacted] rejected", ev.Top().Value)
	requireNoSecrets(t, in)
	require.Empty(t, in.Problems())
}

func TestCapturePanic(t *testing.T) {
	t.Parallel()
	in := errtracktest.New(t)
	rep := newReporter(t, in)

	serveRouted(secretRequest(), func(_ http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			rep.CapturePanic(r, v, debug.Stack())
		}()
		panic("kaboom for " + email)
	})
	require.True(t, rep.Flush(5*time.Second))

	ev := in.WaitEvents(t, 1)[0]
	require.Equal(t, "fatal", ev.Level)
	require.Subset(t, ev.Tags, map[string]string{"request_id": "req-123", "org_id": orgID, "user_id": userID, "route": "POST /invitations/{token}"})
	require.Len(t, ev.Exception, 1)
	require.Equal(t, "panic", ev.Top().Type)
	require.Equal(t, "kaboom for [email]", ev.Top().Value)
	require.Equal(t, false, ev.Top().Mechanism["handled"])
	require.Contains(t, ev.Contexts["panic"]["stack"], "TestCapturePanic")
	require.Contains(t, string(ev.Raw), `"function":"TestCapturePanic`, "the stack trace ends at the panic")
	requireNoSecrets(t, in)
}

func TestCaptureJobError(t *testing.T) {
	t.Parallel()
	in := errtracktest.New(t)
	rep := newReporter(t, in)
	ctx := context.Background()

	job := errtrack.Job{ID: 42, Kind: "export.csv", Queue: "exports", Attempt: 1, MaxAttempts: 3, OrgID: orgID, UserID: userID}
	rep.CaptureJobError(ctx, job, errors.New("upload for "+email+" failed"))
	job.Attempt = 3
	rep.CaptureJobPanic(ctx, job, "nil map", "goroutine 7 [running]:\nexport.(*Worker).Work()")
	require.True(t, rep.Flush(5*time.Second))

	evs := in.WaitEvents(t, 2)
	byAttempt := map[string]errtracktest.Event{}
	for _, ev := range evs {
		byAttempt[ev.Tags["attempt"]] = ev
	}
	first, last := byAttempt["1"], byAttempt["3"]
	require.Equal(t, "warning", first.Level)
	require.Subset(t, first.Tags, map[string]string{
		"job_id": "42", "job_kind": "export.csv", "queue": "exports", "attempt": "1", "max_attempts": "3",
		"final": "false", "org_id": orgID, "user_id": userID, "release": release, "environment": env,
	})
	require.Equal(t, "upload for [email] failed", first.Top().Value)
	require.Equal(t, "export.csv", first.Transaction)

	require.Equal(t, "error", last.Level)
	require.Equal(t, "true", last.Tags["final"])
	require.Equal(t, "panic", last.Top().Type)
	require.Contains(t, last.Contexts["panic"]["stack"], "export.(*Worker).Work")
	requireNoSecrets(t, in)
}

func TestSendTest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		status  int
		closed  bool
		wantErr string
	}{
		{name: "accepted", status: http.StatusOK},
		{name: "rate limited", status: http.StatusTooManyRequests, wantErr: "refused the test event: HTTP 429 Too Many Requests"},
		{name: "server error", status: http.StatusInternalServerError, wantErr: "refused the test event: HTTP 500 Internal Server Error"},
		{name: "bad key", status: http.StatusUnauthorized, wantErr: "HTTP 401"},
		{name: "unreachable", closed: true, wantErr: "connection refused"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := errtracktest.New(t)
			rep := newReporter(t, in)
			in.SetStatus(tt.status)
			if tt.closed {
				in.Close()
			}
			err := rep.SendTest(context.Background())
			if tt.wantErr == "" {
				require.NoError(t, err)
				ev := in.WaitEvents(t, 1)[0]
				require.Contains(t, ev.Message, "sentry-test")
				require.Equal(t, release, ev.Release)
				require.Equal(t, env, ev.Environment)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorContains(t, err, "127.0.0.1")
			require.NotContains(t, err.Error(), "\n")
			require.NotContains(t, err.Error(), "public@", "the DSN key is not echoed")
		})
	}
}

func TestCaptureErrorUsesContextTags(t *testing.T) {
	t.Parallel()
	in := errtracktest.New(t)
	rep := newReporter(t, in)

	ctx := gw.WithRequestID(context.Background(), "req-456")
	ctx = gw.WithScope(ctx, gw.Scope{Actor: gw.Actor{UserID: userID}, OrgID: orgID, Role: gw.RoleMember})
	rep.CaptureError(ctx, fmt.Errorf("rate limiter backend for %s: %w", email, errors.New("dial tcp: connection refused")))
	require.True(t, rep.Flush(5*time.Second))

	ev := in.WaitEvents(t, 1)[0]
	require.Equal(t, "error", ev.Level)
	require.Subset(t, ev.Tags, map[string]string{"request_id": "req-456", "org_id": orgID, "user_id": userID})
	require.Equal(t, "rate limiter backend for [email]: dial tcp: connection refused", ev.Top().Value)
	requireNoSecrets(t, in)

	var none *errtrack.Reporter
	none.CaptureError(ctx, errors.New("a disabled reporter does nothing")) // must not panic
}
