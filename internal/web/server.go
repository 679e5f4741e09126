// Package web is Groundwork's HTTP layer: the server, its routes, middleware
// and handlers, and the single mapping from kernel error codes to HTTP
// statuses. It reaches modules and the database only through the functions
// and interfaces in Deps.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/observe"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
)

// Deps are what the HTTP server needs; cmd/groundwork wires them.
type Deps struct {
	// Logger receives access logs and internal errors. Nil discards them.
	Logger *slog.Logger
	// Metrics records request metrics. Nil records nothing.
	Metrics *observe.HTTPMetrics
	// Gatherer is served at /metrics. Nil serves an empty registry.
	Gatherer prometheus.Gatherer
	// Ready reports whether the process can serve traffic: a nil error means
	// ready, otherwise the error text is the reason (database unreachable,
	// schema not current). Nil means always ready.
	Ready func(ctx context.Context) error
	// Version is reported at /version.
	Version VersionInfo
	// SchemaVersion returns the applied database schema version, reported at
	// /version. Nil reports null.
	SchemaVersion func(ctx context.Context) (int64, error)
	// MaxBodyBytes caps request bodies; larger ones get 413. Zero or less
	// means no cap.
	MaxBodyBytes int64
	// Sessions manages the session cookie and its PostgreSQL store (pages).
	Sessions *scs.SessionManager
	// Accounts signs users up and in and manages their accounts.
	Accounts *account.Service
	// Orgs manages organisations, members, invitations and API keys.
	Orgs *org.Service
	// Contacts is the example product module.
	Contacts *contacts.Service
	// Audit reads the organisations' audit logs.
	Audit *audit.Service
	// Exports requests, follows, cancels and serves data exports.
	Exports *exports.Service
	// Billing shows and changes organisations' plans through Stripe. Nil
	// when Stripe is not configured: the billing pages say so and no
	// billing banner is shown.
	Billing *billing.Service
	// StripeWebhooks records verified Stripe webhook deliveries. Nil when
	// Stripe is not configured: POST /webhooks/stripe answers 404.
	StripeWebhooks *billing.Ledger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For gives the
	// client's IP (see clientIP). Nil: the client is the connection's peer.
	TrustedProxies []netip.Prefix
	// Production adds Strict-Transport-Security to every response.
	Production bool
	// FormActionOrigins are origins besides the app's that a form may post
	// to or be redirected to (the CSP's form-action): Stripe Checkout and
	// the Customer Portal when billing is configured.
	FormActionOrigins []string
	// RateLimiter applies the rate-limit policies (see ratelimit.go). Nil
	// applies none.
	RateLimiter *ratelimit.Limiter
	// OnError, if set, is told about failures that do not fail the request,
	// such as a rate-limit backend error (the request is let through). They
	// are logged either way.
	OnError func(ctx context.Context, err error)
	// Errors reports panics and 5xx responses to error tracking (Sentry),
	// tagged with the request ID, route, organisation and user. Nil reports
	// nothing.
	Errors *errtrack.Reporter
}

// VersionInfo describes the running build.
type VersionInfo struct {
	// Version is the release version, e.g. "v1.2.3".
	Version string
	// Commit is the VCS revision the binary was built from.
	Commit string
	// BuildTime is when the binary was built (RFC 3339).
	BuildTime string
}

// withDefaults fills in the optional dependencies so handlers never check for nil.
func (d Deps) withDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Gatherer == nil {
		d.Gatherer = prometheus.NewRegistry()
	}
	return d
}

// server holds what the handlers share.
type server struct {
	d         Deps
	templates templates
}

func newServer(d Deps) *server {
	t, err := parseTemplates()
	if err != nil {
		panic(err) // the templates are embedded: a parse error is a bug every test catches
	}
	return &server{d: d.withDefaults(), templates: t}
}

// NewServer returns the application's HTTP handler: every route of
// addRoutes behind the middleware stack.
func NewServer(d Deps) http.Handler {
	s := newServer(d)
	mux := http.NewServeMux()
	routes := addRoutes(mux, s)
	patterns := make([]string, len(routes))
	for i, r := range routes {
		patterns[i] = r.Pattern
	}
	return s.wrap(s.answerUnmatched(mux), patterns)
}

// NewHTTPServer returns an *http.Server serving h with production timeouts
// and limits; the server's own error log goes to logger at WARN.
func NewHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(logger.With("component", "http_server").Handler(), slog.LevelWarn),
	}
}

// Serve serves HTTP on ln until ctx is done, then shuts srv down gracefully:
// the listener is closed so new connections are refused, and in-flight
// requests get up to shutdownTimeout to finish. It returns nil after a clean
// shutdown, and an error if serving fails or the shutdown times out.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, shutdownTimeout time.Duration, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.InfoContext(ctx, "http server listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}

	logger.InfoContext(ctx, "http server shutting down", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-errc
		return fmt.Errorf("shut down http server: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	logger.InfoContext(ctx, "http server stopped")
	return nil
}
