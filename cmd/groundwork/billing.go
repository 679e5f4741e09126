package main

import (
	"context"
	"errors"
	"log/slog"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/org"
)

// billingParts are the billing module wired together; nil when Stripe is
// not configured.
type billingParts struct {
	policy   *billing.Policy
	syncer   *billing.Syncer
	service  *billing.Service
	ledger   *billing.Ledger
	notifier *billing.Notifier
	// jobs is the River client, set once it is built: the workers it runs
	// need the Syncer, and the Syncer and the Ledger enqueue with it.
	jobs *laterInserter
}

// laterInserter is a billing.JobInserter whose River client is set after
// the billing parts are built.
type laterInserter struct{ client *river.Client[pgx.Tx] }

// InsertTx implements billing.JobInserter.
func (l *laterInserter) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if l.client == nil {
		return nil, errors.New("billing: job client not ready")
	}
	return l.client.InsertTx(ctx, tx, args, opts)
}

// stripeClient is the Stripe API client on STRIPE_API_BASE.
func stripeClient(b config.Billing) *stripe.Client {
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(b.APIBase),
		MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelError},
	})
	return stripe.NewClient(b.SecretKey, stripe.WithBackends(&stripe.Backends{
		API: backend, Connect: backend, Uploads: backend, MeterEvents: backend}))
}

// newBilling wires the billing module, or returns nil when Stripe is not
// configured.
// The notifier's Contacts are set by the caller (the org module, built with
// the policy).
func newBilling(pool *pgxpool.Pool, cfg config.Config, mailer mail.Sender, logger *slog.Logger) (*billingParts, error) {
	b := cfg.Billing
	if !b.Enabled() {
		return nil, nil
	}
	cat, err := billing.NewCatalog(billing.PriceIDs{ProMonth: b.PriceProMonthly, ProYear: b.PriceProYearly,
		BusinessMonth: b.PriceBusinessMonthly, BusinessYear: b.PriceBusinessYearly})
	if err != nil {
		return nil, err
	}
	lost := billing.LostDisputeRestrict
	switch b.LostDispute {
	case "keep":
		lost = billing.LostDisputeKeep
	case "free":
		lost = billing.LostDisputeFree
	}
	jobsRef := &laterInserter{}
	syncer, err := billing.NewSyncer(billing.SyncerConfig{Pool: pool, Stripe: stripeClient(b), Catalog: cat,
		Grace: billing.GracePolicy{GraceDays: b.GraceDays}, DisputeAllowWhileOpen: b.AllowWhileDisputed,
		DisputeOnLost: lost, Jobs: jobsRef})
	if err != nil {
		return nil, err
	}
	manage := func(s gw.Scope) error { return org.Require(s, org.PermBillingManage) }
	service, err := billing.NewService(billing.ServiceConfig{Syncer: syncer, BaseURL: cfg.BaseURL,
		PortalConfiguration: b.PortalConfiguration, AuthorizeView: manage, AuthorizeManage: manage})
	if err != nil {
		return nil, err
	}
	ledger, err := billing.NewLedger(pool, jobsRef, b.WebhookSecrets...)
	if err != nil {
		return nil, err
	}
	notifier := &billing.Notifier{Pool: pool, Mailer: mailer, BaseURL: cfg.BaseURL, Logger: logger}
	return &billingParts{policy: syncer.Policy(), syncer: syncer, service: service, ledger: ledger,
		notifier: notifier, jobs: jobsRef}, nil
}

// addJobs registers the billing workers and the reconciler; alerts
// (disputes) go to reporter.
func (b *billingParts) addJobs(workers *river.Workers, cfg config.Config, reporter *errtrack.Reporter) []*river.PeriodicJob {
	if b == nil {
		return nil
	}
	b.notifier.Alert = reporter.CaptureError
	river.AddWorker(workers, &billing.ProcessEventWorker{Syncer: b.syncer})
	river.AddWorker(workers, &billing.DeliverOutboxWorker{Notifier: b.notifier})
	river.AddWorker(workers, &billing.ReconcileWorker{Reconciler: &billing.Reconciler{Syncer: b.syncer}})
	return []*river.PeriodicJob{billing.PeriodicReconcile(cfg.Billing.ReconcileInterval)}
}

// stripeFormOrigins are the origins the billing page's forms redirect to:
// Stripe Checkout and the Customer Portal, plus STRIPE_API_BASE's origin
// when it is not Stripe's (a fake serving its own hosted pages in
// development and tests).
func stripeFormOrigins(b config.Billing) []string {
	origins := []string{"https://checkout.stripe.com", "https://billing.stripe.com"}
	if u, err := url.Parse(b.APIBase); err == nil && u.Host != "api.stripe.com" {
		origins = append(origins, u.Scheme+"://"+u.Host)
	}
	return origins
}
