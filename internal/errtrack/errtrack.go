// Package errtrack reports errors to Sentry (github.com/getsentry/sentry-go):
// panics and 5xx responses of HTTP requests, and failed jobs. Every event is
// tagged with what identifies its occurrence (request ID, organisation, user,
// route or job, release, environment) and scrubbed of secrets and personal
// data before it leaves the process (see Scrub).
//
// A Reporter owns a dedicated *sentry.Client and captures each event through
// a fresh hub: nothing goes through sentry-go's global hub, so several
// Reporters (tests, commands) can live in one process. A nil Reporter is a
// no-op, which is what New returns when no DSN is configured.
package errtrack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
)

// Reporter sends error events to one Sentry project. Its methods are safe
// for concurrent use; on a nil *Reporter they do nothing.
type Reporter struct {
	client *sentry.Client
	opts   sentry.ClientOptions
	host   string
	logger *slog.Logger
}

// New returns a Reporter sending to dsn, stamping events with env (the
// GROUNDWORK_ENV environment) and release (the build version). An empty dsn
// turns error tracking off: New returns a nil Reporter, whose methods do
// nothing. An invalid dsn is an error that does not echo the DSN.
func New(dsn, env, release string, logger *slog.Logger) (*Reporter, error) {
	if dsn == "" {
		return nil, nil
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	parsed, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if release == "" {
		release = "unknown" // sentry-go would otherwise guess one from the environment or git
	}
	opts := sentry.ClientOptions{
		Dsn:         dsn,
		Environment: env,
		Release:     release,
		// No IP addresses, cookies, headers or user details collected by the
		// SDK; what an event carries is built explicitly in this package.
		SendDefaultPII: false,
		DataCollection: &sentry.DataCollection{
			UserInfo:    sentry.Set(false),
			Cookies:     &sentry.KeyValueCollectionBehavior{Mode: sentry.CollectionOff},
			QueryParams: &sentry.KeyValueCollectionBehavior{Mode: sentry.CollectionOff},
			HTTPBodies:  []sentry.BodyType{},
		},
		BeforeSend: func(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
			return Scrub(ev)
		},
		BeforeBreadcrumb: func(b *sentry.Breadcrumb, _ *sentry.BreadcrumbHint) *sentry.Breadcrumb {
			return ScrubBreadcrumb(b)
		},
	}
	client, err := sentry.NewClient(opts)
	if err != nil {
		return nil, fmt.Errorf("create sentry client: %w", errors.New(dsnProblem(err)))
	}
	host := ingestHost(parsed)
	logger.Info("error tracking enabled", "sentry_host", host, "environment", env, "release", release)
	return &Reporter{client: client, opts: opts, host: host, logger: logger}, nil
}

// ingestHost is the DSN's host, with its port unless it is the scheme's
// default: where events go, without the key.
func ingestHost(d *sentry.Dsn) string {
	if p := d.GetPort(); (d.GetScheme() == "https" && p != 443) || (d.GetScheme() == "http" && p != 80) {
		return net.JoinHostPort(d.GetHost(), strconv.Itoa(p))
	}
	return d.GetHost()
}

// ValidateDSN reports whether dsn is a usable Sentry DSN such as
// https://PUBLIC_KEY@o0.ingest.sentry.io/PROJECT_ID. The error says what is
// wrong without echoing the DSN.
func ValidateDSN(dsn string) error {
	_, err := parseDSN(dsn)
	return err
}

func parseDSN(dsn string) (*sentry.Dsn, error) {
	d, err := sentry.NewDsn(dsn)
	if err != nil {
		return nil, fmt.Errorf("not a Sentry DSN such as https://PUBLIC_KEY@o0.ingest.sentry.io/PROJECT_ID (%s)", dsnProblem(err))
	}
	return d, nil
}

// dsnProblem is what is wrong with a DSN, without the DSN itself (a URL
// parse error quotes the URL, and with it any secret key).
func dsnProblem(err error) string {
	var pe *sentry.DsnParseError
	if !errors.As(err, &pe) {
		return "invalid DSN"
	}
	if strings.HasPrefix(pe.Message, "invalid url") {
		return "malformed URL"
	}
	return pe.Message
}

// Enabled reports whether r sends events.
func (r *Reporter) Enabled() bool { return r != nil }

// Flush waits up to timeout for queued events to be sent and reports whether
// they all were. Call it before the process exits. A nil Reporter has
// nothing to flush and returns true.
func (r *Reporter) Flush(timeout time.Duration) bool {
	if r == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ok := r.client.FlushWithContext(ctx)
	if !ok {
		r.logger.Warn("error tracking: events still unsent at flush timeout", "timeout", timeout.String())
	}
	return ok
}
