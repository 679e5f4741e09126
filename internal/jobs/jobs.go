// Package jobs wires River, the job queue that keeps slow work off the request
// path: named queues with their own concurrency, error logging, and metrics.
package jobs

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/groundwork-dev/groundwork/internal/errtrack"
)

// Queue names. Each has its own concurrency so that one kind of work cannot
// starve another.
const (
	QueueDefault     = "default"
	QueueMaintenance = "maintenance"
	QueueBilling     = "billing" // Stripe webhook events and billing side effects (internal/billing)
	QueueMail        = "mail"    // outgoing emails (internal/mail): a stalled relay holds up nothing else
	QueueExports     = "exports" // data exports (internal/exports), on their own connection pool
)

// DefaultMailWorkers is the concurrency of the mail queue when
// Config.MailWorkers is zero.
const DefaultMailWorkers = 5

// Config says how a River client is built.
type Config struct {
	// Work runs workers in this process; false makes an insert-only client.
	Work bool
	// PollOnly makes River poll for new jobs and leadership instead of
	// LISTENing, as River documents for PgBouncer in transaction pooling
	// mode, where a LISTEN registers on a server connection the client
	// does not keep. Default false.
	PollOnly bool
	// DefaultWorkers is the concurrency of the default queue.
	DefaultWorkers int
	// MaintenanceWorkers is the concurrency of the maintenance queue.
	MaintenanceWorkers int
	// BillingWorkers is the concurrency of the billing queue; zero leaves
	// the queue unworked (billing not configured).
	BillingWorkers int
	// MailWorkers is the concurrency of the mail queue, which every working
	// client works (every module sends email). Default DefaultMailWorkers.
	MailWorkers int
	// ExportWorkers is the concurrency of the exports queue; zero leaves
	// the queue unworked.
	ExportWorkers int
	// Workers are the registered job workers (required when Work is true).
	Workers *river.Workers
	// Periodic are the periodic jobs; they are scheduled by the elected leader.
	Periodic []*river.PeriodicJob
	// Logger receives River's own logs and job failures.
	Logger *slog.Logger
	// Errors reports job failures to error tracking. Nil reports nothing.
	Errors *errtrack.Reporter
	// TracerProvider, when set, makes an OpenTelemetry span of every job
	// inserted and worked (River's otelriver middleware); the queries a job
	// runs become its children. Nil traces nothing.
	TracerProvider trace.TracerProvider
}

// NewClient builds a River client on pool. With cfg.Work it works the
// default, maintenance and mail queues (billing with BillingWorkers, exports
// with ExportWorkers) and schedules the periodic jobs once started.
func NewClient(pool *pgxpool.Pool, cfg Config) (*river.Client[pgx.Tx], error) {
	rc := &river.Config{
		Logger:       cfg.Logger.With("component", "river"),
		ErrorHandler: &ErrorLogger{Logger: cfg.Logger, Errors: cfg.Errors},
		JobTimeout:   10 * time.Minute,
		// River waits at least this long between fetches of available
		// jobs; its default (100 ms) caps a queue at MaxWorkers jobs per
		// 100 ms, which made billing events the bottleneck (make bench:
		// 100 events/s with 10 workers, 444 with 10 ms). Idle polling
		// stays at FetchPollInterval.
		FetchCooldown: 10 * time.Millisecond,
		PollOnly:      cfg.PollOnly,
	}
	if cfg.Work {
		rc.Workers = cfg.Workers
		rc.PeriodicJobs = cfg.Periodic
		rc.Queues = map[string]river.QueueConfig{
			QueueDefault:     {MaxWorkers: cfg.DefaultWorkers},
			QueueMaintenance: {MaxWorkers: cfg.MaintenanceWorkers},
			QueueMail:        {MaxWorkers: cmp.Or(cfg.MailWorkers, DefaultMailWorkers)},
		}
		if cfg.ExportWorkers > 0 {
			rc.Queues[QueueExports] = river.QueueConfig{MaxWorkers: cfg.ExportWorkers}
		}
		if cfg.BillingWorkers > 0 {
			rc.Queues[QueueBilling] = river.QueueConfig{MaxWorkers: cfg.BillingWorkers}
		}
	}
	if cfg.TracerProvider != nil {
		rc.Middleware = []rivertype.Middleware{otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			TracerProvider: cfg.TracerProvider, MeterProvider: noop.NewMeterProvider(),
			// "river.work/<kind>", linked to the span that inserted the job.
			EnableWorkSpanJobKindSuffix: true, EnableTracePropagation: true})}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("create job client: %w", err)
	}
	return client, nil
}

// OnePending is the UniqueOpts of a job of which at most one may wait or
// run at a time (a sweep, a reconciliation): another insert while one is
// available, pending, scheduled, running or retryable is skipped.
var OnePending = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled}}
