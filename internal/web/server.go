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
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/doctor"
	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/idempotency"
	"github.com/groundwork-dev/groundwork/internal/imports"
	"github.com/groundwork-dev/groundwork/internal/maintenance"
	"github.com/groundwork-dev/groundwork/internal/observe"
	"github.com/groundwork-dev/groundwork/internal/operator"
	"github.com/groundwork-dev/groundwork/internal/ops"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/orgsso"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
	"github.com/groundwork-dev/groundwork/internal/sso"
)

// Deps are what the HTTP server needs; cmd/groundwork wires them.
type Deps struct {
	// Logger receives access logs and internal errors. Nil discards them.
	Logger *slog.Logger
	// Metrics records request metrics. Nil records nothing.
	Metrics *observe.HTTPMetrics
	// Gatherer is served at /metrics. Nil: /metrics answers 404, the
	// metrics being served on a listener of their own (MetricsHandler).
	Gatherer prometheus.Gatherer
	// Ready reports whether the process can serve traffic: a nil error means
	// ready, otherwise the error says why (database unreachable, schema not
	// current), which is logged, not shown. Nil means always ready.
	Ready func(ctx context.Context) error
	// Live reports whether the process is alive: an error makes /healthz
	// answer 503 so that an orchestrator restarts the process (the embedded
	// database could not be brought back in time). Nil means always alive.
	Live func(ctx context.Context) error
	// Drain, when started (Serve starts it on shutdown), makes /readyz
	// answer 503 and every response ask the client to close its
	// connection. Nil never drains.
	Drain *Drain
	// Clock times the throttling of repeated error logs and reports. Nil
	// means the system clock.
	Clock gw.Clock
	// Version is reported at /version.
	Version VersionInfo
	// SchemaVersion returns the applied database schema version, reported at
	// /version. Nil reports null.
	SchemaVersion func(ctx context.Context) (int64, error)
	// Deployments returns the recent starts of serve and worker, listed at
	// /version. Nil lists none.
	Deployments func(ctx context.Context) ([]maintenance.Deployment, error)
	// MaxBodyBytes caps request bodies; larger ones get 413. Zero or less
	// means no cap.
	MaxBodyBytes int64
	// Sessions manages the session cookie and its PostgreSQL store (pages).
	Sessions *scs.SessionManager
	// Accounts signs users up and in and manages their accounts.
	Accounts *account.Service
	// Orgs manages organisations, members, invitations and API keys.
	Orgs *org.Service
	// BaseURL is the application's public URL, e.g. "https://app.example.com";
	// SCIM responses give absolute resource locations under it. "" gives
	// relative ones.
	BaseURL string
	// Contacts is the example product module.
	Contacts *contacts.Service
	// SSO signs users in with OpenID Connect providers. Nil: no provider
	// is configured, and the log-in page offers none.
	SSO *sso.Client
	// Passkeys registers passkeys and signs users in with them. Nil: the
	// base URL's host cannot be a WebAuthn relying party ID (an IP
	// address), the pages offer no passkeys and their routes answer 404.
	Passkeys *account.Passkeys
	// OrgSSO is single sign-on per organisation: connections, verified
	// domains, "Continue with SSO" and its enforcement. Nil: none of it.
	OrgSSO *orgsso.Service
	// Audit reads the organisations' audit logs.
	Audit *audit.Service
	// Idempotency looks up the Idempotency-Keys of API creates; nil
	// ignores the header.
	Idempotency *idempotency.Store
	// Exports requests, follows, cancels and serves data exports.
	Exports *exports.Service
	// Imports uploads and reports CSV imports of contacts; its routes
	// take files up to its MaxBytes, past MaxBodyBytes.
	Imports *imports.Service
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

	// Operators says who may open the operator console (/ops); nil: nobody.
	Operators *operator.Service
	// Requests is this instance's record of finished requests, shown at
	// /ops; the access log records into it. Nil records nothing.
	Requests *observe.Requests
	// OpsSnapshot reads the console's database facts. Nil shows none.
	OpsSnapshot func(ctx context.Context) ops.Snapshot
	// LastBackup returns when the newest complete backup finished (nil:
	// none). Nil shows nothing.
	LastBackup func(ctx context.Context) (*time.Time, error)
	// Readiness runs "groundwork doctor"'s checks for /ops/readiness.
	Readiness func(ctx context.Context) doctor.Report
	// TracerProvider, when set (observe.StartTracing), wraps the server in
	// OpenTelemetry HTTP server spans (otelhttp), continuing a caller's W3C
	// traceparent; their trace and span IDs appear in every log line of the
	// request and beside the slowest requests at /ops. Nil: no tracing.
	TracerProvider trace.TracerProvider
	// JobsUI is the River UI, mounted at /ops/jobs/ behind operator
	// access. Nil: /ops/jobs/ answers 404.
	JobsUI http.Handler
}

// VersionInfo describes the running build.
type VersionInfo struct {
	// Version is the release version, e.g. "v1.2.3".
	Version string
	// Commit is the VCS revision the binary was built from.
	Commit string
	// BuildTime is when the binary was built (RFC 3339).
	BuildTime string
	// Environment is GROUNDWORK_ENV ("development" or "production"), so
	// that tools such as "groundwork loadtest" can refuse a production
	// target. Empty omits it.
	Environment string
}

// withDefaults fills in the optional dependencies so handlers never check for nil.
func (d Deps) withDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = gw.SystemClock{}
	}
	return d
}

// errorLogWindow is how often the same error is logged and reported at
// most; the repeats in between are counted (see serveError).
const errorLogWindow = time.Minute

// server holds what the handlers share.
type server struct {
	d         Deps
	templates templates
	// errors throttles the logging and reporting of 5xx errors.
	errors *observe.Throttle
}

func newServer(d Deps) *server {
	t, err := parseTemplates()
	if err != nil {
		panic(err) // the templates are embedded: a parse error is a bug every test catches
	}
	d = d.withDefaults()
	return &server{d: d, templates: t, errors: observe.NewThrottle(d.Clock, errorLogWindow)}
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

// Drain is a server's shutdown state, shared by Serve, which starts it,
// and the handlers, which ask the load balancer (/readyz) and the clients
// (Connection: close) to go elsewhere while it lasts. A nil *Drain never
// drains. It is safe for concurrent use.
type Drain struct{ on atomic.Bool }

// Start starts draining.
func (d *Drain) Start() {
	if d != nil {
		d.on.Store(true)
	}
}

// Draining reports whether Start was called.
func (d *Drain) Draining() bool { return d != nil && d.on.Load() }

// ServeOptions says how Serve shuts down.
type ServeOptions struct {
	// Drain is started when shutdown begins; it should be the Deps.Drain of
	// the server's handler. Nil: no drain state is shared.
	Drain *Drain
	// DrainTimeout is how long the server keeps serving, draining, before
	// it stops accepting connections (GROUNDWORK_SHUTDOWN_DRAIN). Zero
	// stops at once.
	DrainTimeout time.Duration
	// ShutdownTimeout is how long in-flight requests then get to finish
	// (GROUNDWORK_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// Logger receives the server's progress; nil discards it.
	Logger *slog.Logger
}

// Serve serves HTTP on ln until ctx is done, then shuts srv down in three
// steps, as a load balancer expects of a backend it health-checks:
//
//  1. Drain for opts.DrainTimeout: everything is still served, but /readyz
//     answers 503, so that the load balancer takes the server out of
//     rotation, and every response carries Connection: close, so that
//     keep-alive clients reconnect (through the balancer, elsewhere) instead
//     of sending their next request on a connection about to close.
//  2. Stop accepting: the listener and idle connections are closed
//     (http.Server.Shutdown).
//  3. Let in-flight requests finish within opts.ShutdownTimeout; their
//     responses carry Connection: close.
//
// It returns nil after a clean shutdown, and an error if serving fails or
// the shutdown times out.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, opts ServeOptions) error {
	logger := opts.Logger
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

	opts.Drain.Start()
	if opts.DrainTimeout > 0 {
		logger.InfoContext(ctx, "http server draining", "drain", opts.DrainTimeout.String())
		select {
		case err := <-errc: // the listener failed while draining
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("serve http: %w", err)
		case <-time.After(opts.DrainTimeout):
		}
	}
	logger.InfoContext(ctx, "http server shutting down", "timeout", opts.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
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
