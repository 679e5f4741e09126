// Package ops gathers what the operator console (/ops) and "groundwork
// doctor" show about a running deployment from PostgreSQL: connection-pool
// saturation, slow SQL (pg_stat_statements), River's job queues, the last
// backup, restore rehearsal and WAL archiving, the Stripe webhook ledger,
// migrations and deployments. Each part is read on its own, bounded by a
// timeout, so that one that fails (an extension missing, a table absent)
// leaves the others and says why.
package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/maintenance"
)

// PoolStats is the application pool's saturation (pgxpool.Stat).
type PoolStats struct {
	// Max is the pool's size; Total, Acquired and Idle its connections now.
	Max, Total, Acquired, Idle int32
	// Acquires counts acquisitions, EmptyAcquires those that had to wait
	// for a connection, AcquireWait their total wait.
	Acquires, EmptyAcquires int64
	AcquireWait             time.Duration
}

// Saturation is Acquired/Max: at 1 requests queue for connections.
func (p PoolStats) Saturation() float64 {
	if p.Max == 0 {
		return 0
	}
	return float64(p.Acquired) / float64(p.Max)
}

// Statement is one normalised statement of pg_stat_statements.
type Statement struct {
	Query           string
	Calls           int64
	MeanMs, TotalMs float64
	MaxMs           float64
	Rows            int64
}

// QueueCounts are one River queue's jobs by state.
type QueueCounts struct {
	Queue string
	// Available, Running, Retryable, Scheduled, Discarded and Cancelled
	// count the jobs in each state; OldestAvailable is the age of the
	// oldest job waiting to run (0 when none waits).
	Available, Running, Retryable, Scheduled, Discarded, Cancelled, Completed int64
	OldestAvailable                                                           time.Duration
}

// Rehearsal is the newest restore rehearsal.
type Rehearsal struct {
	BackupID  string
	StartedAt time.Time
	Duration  time.Duration // the measured recovery time (RTO)
	OK        bool
	Error     string
}

// Archiver is WAL archiving's state (pg_stat_archiver).
type Archiver struct {
	// Mode is archive_mode ("off" without point-in-time recovery).
	Mode string
	// LastArchived and LastFailed are when a segment was last archived and
	// last failed to be; zero when never. Failed counts the failures.
	LastArchived, LastFailed time.Time
	Failed                   int64
}

// Ledger is the Stripe webhook ledger's health.
type Ledger struct {
	// Present is false when billing's tables are absent.
	Present bool
	// Unprocessed events, of which Failed have failed at least once;
	// OldestUnprocessed is the age of the oldest.
	Unprocessed, Failed int64
	OldestUnprocessed   time.Duration
	// APIVersions counts the API versions of the newest processed events.
	APIVersions map[string]int64
}

// Snapshot is everything the console reads from the database at once.
// Each *Err says why its part is missing ("" when it was read).
type Snapshot struct {
	// Taken is when the snapshot was taken.
	Taken time.Time
	Pool  PoolStats

	SlowSQL    []Statement
	SlowSQLErr string

	Queues    []QueueCounts
	QueuesErr string

	Rehearsal    *Rehearsal // nil: never rehearsed
	RehearsalErr string

	Archiver    Archiver
	ArchiverErr string

	Ledger    Ledger
	LedgerErr string

	// SchemaVersion is the newest applied Groundwork migration.
	SchemaVersion    int64
	SchemaVersionErr string

	Deployments    []maintenance.Deployment
	DeploymentsErr string
}

// Reader reads Snapshots through pool (the runtime role's).
type Reader struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// NewReader returns a Reader on pool; now is the clock (nil: time.Now).
func NewReader(pool *pgxpool.Pool, now func() time.Time) *Reader {
	if now == nil {
		now = time.Now
	}
	return &Reader{pool: pool, now: now}
}

// partTimeout bounds each part of a snapshot.
const partTimeout = 2 * time.Second

// Snapshot reads every part; it never fails as a whole.
func (r *Reader) Snapshot(ctx context.Context) Snapshot {
	s := Snapshot{Taken: r.now()}
	st := r.pool.Stat()
	s.Pool = PoolStats{Max: st.MaxConns(), Total: st.TotalConns(), Acquired: st.AcquiredConns(), Idle: st.IdleConns(),
		Acquires: st.AcquireCount(), EmptyAcquires: st.EmptyAcquireCount(), AcquireWait: st.AcquireDuration()}
	part := func(errp *string, fn func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(ctx, partTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			*errp = err.Error()
		}
	}
	part(&s.SlowSQLErr, func(ctx context.Context) (err error) { s.SlowSQL, err = r.slowSQL(ctx, 10); return })
	part(&s.QueuesErr, func(ctx context.Context) (err error) { s.Queues, err = r.queues(ctx); return })
	part(&s.RehearsalErr, func(ctx context.Context) (err error) { s.Rehearsal, err = r.rehearsal(ctx); return })
	part(&s.ArchiverErr, func(ctx context.Context) (err error) { s.Archiver, err = r.archiver(ctx); return })
	part(&s.LedgerErr, func(ctx context.Context) (err error) { s.Ledger, err = r.ledger(ctx); return })
	part(&s.SchemaVersionErr, func(ctx context.Context) error {
		return r.pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&s.SchemaVersion)
	})
	part(&s.DeploymentsErr, func(ctx context.Context) (err error) {
		s.Deployments, err = maintenance.NewStore(r.pool).Deployments(ctx, 20)
		return
	})
	return s
}

// slowSQL returns the n statements of the application's role (not the
// migrations' or the admin's) with the highest mean time.
func (r *Reader) slowSQL(ctx context.Context, n int) ([]Statement, error) {
	var schema string
	err := r.pool.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		WHERE e.extname = 'pg_stat_statements'`).Scan(&schema)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errors.New("pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements, with it in shared_preload_libraries)")
	}
	if err != nil {
		return nil, err
	}
	rows, err := r.pool.Query(ctx, `SELECT left(query, 300), calls, mean_exec_time, total_exec_time, max_exec_time, rows
		FROM `+pgx.Identifier{schema, "pg_stat_statements"}.Sanitize()+`
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND userid = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND calls > 0
		  AND query NOT ILIKE '%pg_stat_statements%'
		ORDER BY mean_exec_time DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Statement, error) {
		var s Statement
		err := row.Scan(&s.Query, &s.Calls, &s.MeanMs, &s.TotalMs, &s.MaxMs, &s.Rows)
		return s, err
	})
}

// queues counts River's jobs by queue and state.
func (r *Reader) queues(ctx context.Context) ([]QueueCounts, error) {
	rows, err := r.pool.Query(ctx, `SELECT queue,
			count(*) FILTER (WHERE state = 'available'), count(*) FILTER (WHERE state = 'running'),
			count(*) FILTER (WHERE state = 'retryable'), count(*) FILTER (WHERE state = 'scheduled'),
			count(*) FILTER (WHERE state = 'discarded'), count(*) FILTER (WHERE state = 'cancelled'),
			count(*) FILTER (WHERE state = 'completed'),
			coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE state = 'available')), 0)::float8
		FROM river_job GROUP BY queue ORDER BY queue`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (QueueCounts, error) {
		var q QueueCounts
		var oldest float64
		err := row.Scan(&q.Queue, &q.Available, &q.Running, &q.Retryable, &q.Scheduled, &q.Discarded, &q.Cancelled, &q.Completed, &oldest)
		q.OldestAvailable = time.Duration(oldest * float64(time.Second))
		return q, err
	})
}

func (r *Reader) rehearsal(ctx context.Context) (*Rehearsal, error) {
	var h Rehearsal
	var ms int64
	err := r.pool.QueryRow(ctx, `SELECT backup_id, started_at, duration_ms, ok, error FROM backup_rehearsals
		ORDER BY started_at DESC LIMIT 1`).Scan(&h.BackupID, &h.StartedAt, &ms, &h.OK, &h.Error)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read rehearsals: %w", err)
	}
	h.Duration = time.Duration(ms) * time.Millisecond
	return &h, nil
}

func (r *Reader) archiver(ctx context.Context) (Archiver, error) {
	var a Archiver
	var archived, failed *time.Time
	err := r.pool.QueryRow(ctx, `SELECT current_setting('archive_mode'), last_archived_time, last_failed_time, failed_count
		FROM pg_stat_archiver`).Scan(&a.Mode, &archived, &failed, &a.Failed)
	if err != nil {
		return a, fmt.Errorf("read pg_stat_archiver: %w", err)
	}
	if archived != nil {
		a.LastArchived = *archived
	}
	if failed != nil {
		a.LastFailed = *failed
	}
	return a, nil
}

func (r *Reader) ledger(ctx context.Context) (Ledger, error) {
	var l Ledger
	var present bool
	if err := r.pool.QueryRow(ctx, `SELECT to_regclass('stripe_events') IS NOT NULL`).Scan(&present); err != nil || !present {
		return l, err
	}
	l.Present = true
	var age float64
	// Only the unprocessed events are read: few, and indexed (00011).
	err := r.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE attempts > 0),
			coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8
		FROM stripe_events WHERE processed_at IS NULL`).Scan(&l.Unprocessed, &l.Failed, &age)
	if err != nil {
		return l, fmt.Errorf("read the webhook ledger: %w", err)
	}
	l.OldestUnprocessed = time.Duration(age * float64(time.Second))
	rows, err := r.pool.Query(ctx, `SELECT api_version, count(*) FROM (SELECT api_version FROM stripe_events
		WHERE processed_at IS NOT NULL ORDER BY processed_at DESC LIMIT 200) e GROUP BY 1`)
	if err != nil {
		return l, fmt.Errorf("read the webhook ledger: %w", err)
	}
	defer rows.Close()
	l.APIVersions = map[string]int64{}
	for rows.Next() {
		var v string
		var n int64
		if err := rows.Scan(&v, &n); err != nil {
			return l, err
		}
		l.APIVersions[v] = n
	}
	return l, rows.Err()
}
