package errtrack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"
)

// sendTestTimeout bounds SendTest when ctx has no earlier deadline.
const sendTestTimeout = 15 * time.Second

// SendTest sends one test event and waits for the ingest's answer. It
// returns nil only when the ingest accepted the event (a 2xx status); a
// refusal (such as 401, 429 or 500) or a network error is an error naming
// the ingest host and the status. The event goes through a dedicated
// synchronous client with the same options (and scrubbing) as r's, so r's
// own queue is untouched. A nil Reporter returns an error: error tracking
// is off.
func (r *Reporter) SendTest(ctx context.Context) error {
	if r == nil {
		return errors.New("error tracking is off (SENTRY_DSN is not set)")
	}
	ctx, cancel := context.WithTimeout(ctx, sendTestTimeout)
	defer cancel()

	rt := &recordingTransport{ctx: ctx, next: http.DefaultTransport}
	opts := r.opts
	opts.Transport = sentry.NewHTTPSyncTransport()
	opts.HTTPClient = &http.Client{Transport: rt}
	opts.DisableClientReports = true
	client, err := sentry.NewClient(opts)
	if err != nil {
		return fmt.Errorf("create sentry client: %w", errors.New(dsnProblem(err)))
	}
	defer client.Close()

	hub := sentry.NewHub(client, sentry.NewScope())
	hub.Scope().SetTag("release", opts.Release)
	hub.Scope().SetTag("environment", opts.Environment)
	hub.Scope().SetTag("test", "sentry-test")
	hub.Scope().SetLevel(sentry.LevelInfo)
	id := hub.CaptureMessage("Groundwork error tracking test event (groundwork sentry-test)")
	if id == nil {
		return errors.New("the test event was dropped before sending")
	}

	status, err := rt.result()
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL error quotes the ingest URL; the host is said below
		}
		return fmt.Errorf("send test event to %s: %w", r.host, err)
	case status == 0:
		return fmt.Errorf("send test event to %s: no request was made", r.host)
	case status < 200 || status > 299:
		return fmt.Errorf("the Sentry ingest at %s refused the test event: HTTP %d %s", r.host, status, http.StatusText(status))
	}
	r.logger.InfoContext(ctx, "sentry test event accepted", "event_id", string(*id), "sentry_host", r.host, "status", status)
	return nil
}

// recordingTransport sends requests through next, bound to ctx, and records
// the status of the last response, or the error.
type recordingTransport struct {
	ctx  context.Context
	next http.RoundTripper

	mu     sync.Mutex
	status int
	err    error
}

// RoundTrip sends req and records its outcome.
func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req.WithContext(t.ctx))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status, t.err = 0, err
	if err == nil {
		t.status = resp.StatusCode
	}
	return resp, err
}

func (t *recordingTransport) result() (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status, t.err
}
