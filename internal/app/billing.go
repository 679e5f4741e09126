package app

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riverqueue/river"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Billing is the billing module's parts, wired together.
type Billing struct {
	// Enforcer enforces the plans in the organisation and contact modules.
	Enforcer *billing.Enforcer
	// Syncer brings an organisation's snapshot to Stripe's truth.
	Syncer *billing.Syncer
	// Service is what the billing pages do.
	Service *billing.Service
	// Ledger records verified webhook deliveries.
	Ledger *billing.Ledger
	// Notifier delivers the billing emails and alerts of the outbox.
	Notifier *billing.Notifier
	// Pruner keeps the webhook ledger to its retention (daily job).
	Pruner *billing.LedgerPruner

	// members counts an organisation's members, for per-seat plans (New
	// sets it with the Notifier, once the organisations module exists).
	members func(ctx context.Context, orgID string) (int, error)
}

// memberCounter counts an organisation's members through the
// organisations module, in a transaction scoped to it.
func memberCounter(pool *pgxpool.Pool, orgs *org.Service) func(ctx context.Context, orgID string) (int, error) {
	return func(ctx context.Context, orgID string) (int, error) {
		var n int
		err := postgres.InOrgTx(ctx, pool, orgID, func(tx pgx.Tx) error {
			ms, err := orgs.ExportMembers(ctx, tx, orgID)
			n = len(ms)
			return err
		})
		return n, err
	}
}

// newBilling builds the billing parts but the Notifier, which needs the
// organisations module (New builds it after that).
func newBilling(a *App, opts Options) (*Billing, error) {
	b := a.cfg.Billing
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
	sc := opts.Stripe
	if sc == nil {
		sc = StripeClient(b)
	}
	syncer, err := billing.NewSyncer(billing.SyncerConfig{Pool: a.pool, Stripe: sc, Catalog: cat,
		Grace: billing.GracePolicy{GraceDays: b.GraceDays, FinalizationDays: b.FinalizationDays}, DisputeAllowWhileOpen: b.AllowWhileDisputed,
		DisputeOnLost: lost, Clock: a.clock, Jobs: a.Jobs})
	if err != nil {
		return nil, err
	}
	service, err := billing.NewService(billing.ServiceConfig{Syncer: syncer, BaseURL: a.cfg.BaseURL,
		PortalConfiguration: b.PortalConfiguration, NoPromotionCodes: !b.PromotionCodes,
		OnSyncError: func(ctx context.Context, err error) {
			a.logger.LogAttrs(ctx, slog.LevelWarn, "billing sync after a change failed", slog.String("error", err.Error()))
		}})
	if err != nil {
		return nil, err
	}
	ledger, err := billing.NewLedger(a.pool, a.Jobs, b.WebhookSecrets...)
	if err != nil {
		return nil, err
	}
	ledger.OnVersionSkew = opts.Alert
	return &Billing{Enforcer: syncer.Enforcer(), Syncer: syncer, Service: service, Ledger: ledger,
		Pruner: &billing.LedgerPruner{Pool: a.pool, Clock: a.clock}}, nil
}

// addWorkers registers the billing workers and returns the periodic jobs
// of the reconciler and the daily sweep.
func (b *Billing) addWorkers(workers *river.Workers, cfg config.Billing) []*river.PeriodicJob {
	river.AddWorker(workers, &billing.ProcessEventWorker{Syncer: b.Syncer})
	river.AddWorker(workers, &billing.SyncOrgWorker{Syncer: b.Syncer})
	river.AddWorker(workers, &billing.DeliverOutboxWorker{Notifier: b.Notifier})
	river.AddWorker(workers, &billing.ReconcileWorker{Reconciler: &billing.Reconciler{Syncer: b.Syncer}})
	river.AddWorker(workers, &billing.SweepWorker{Sweeper: &billing.Sweeper{Syncer: b.Syncer}})
	river.AddWorker(workers, &billing.SyncSeatsWorker{Service: b.Service, Members: b.members})
	river.AddWorker(workers, &billing.PruneLedgerWorker{Pruner: b.Pruner})
	return []*river.PeriodicJob{billing.PeriodicReconcile(cfg.ReconcileInterval), billing.PeriodicSweep(cfg.SweepInterval),
		billing.PeriodicPruneLedger(24 * time.Hour)}
}

// StripeClient is the Stripe API client on STRIPE_API_BASE.
func StripeClient(b config.Billing) *stripe.Client {
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(b.APIBase),
		MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelError},
	})
	return stripe.NewClient(b.SecretKey, stripe.WithBackends(&stripe.Backends{
		API: backend, Connect: backend, Uploads: backend, MeterEvents: backend}))
}

// StripeFormOrigins are the origins the billing page's forms redirect to:
// Stripe Checkout and the Customer Portal, plus STRIPE_API_BASE's origin
// when it is not Stripe's (a fake serving its own hosted pages in
// development and tests).
func StripeFormOrigins(b config.Billing) []string {
	origins := []string{"https://checkout.stripe.com", "https://billing.stripe.com"}
	if u, err := url.Parse(b.APIBase); err == nil && u.Host != "api.stripe.com" {
		origins = append(origins, u.Scheme+"://"+u.Host)
	}
	return origins
}
