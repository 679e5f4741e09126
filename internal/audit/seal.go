package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Sealing. Record inserts an organisation's event unsealed (seq,
// prev_hash and hash NULL) and queues its id in audit_unsealed, so that
// writes of one organisation never wait for each other. The sealer links
// the queued events into the organisation's chain after they commit: under
// the chain's advisory lock (taken only by sealers, so two never fork a
// chain, and audit_events_seq_key would refuse it anyway) it reads the
// chain's head and the unsealed events in id order, numbers them from the
// head on, hashes them as hash.go documents, sets the three columns (the
// only ones the runtime role may set, once: migration 00025) and removes
// them from the queue, all in one transaction.
//
// The chain's order is the order of sealing: an event committed late, with
// an older id than events already sealed, is sealed after them. Verify
// walks the sealed events by seq and counts the unsealed ones separately.

// sealBatch is how many events one transaction seals at most.
const sealBatch = 1000

// Sealer seals organisations' audit events into their chains.
type Sealer struct {
	pool *pgxpool.Pool
}

// NewSealer returns a Sealer on pool (the runtime role).
func NewSealer(pool *pgxpool.Pool) *Sealer { return &Sealer{pool: pool} }

// SealAll seals every queued event of every organisation and returns how
// many it sealed. Several sealers may run at once: they queue on each
// chain's lock.
func (s *Sealer) SealAll(ctx context.Context) (int, error) {
	var orgs []string
	err := postgres.InTx(ctx, s.pool, postgres.TxOptions{}, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT DISTINCT chain_id::text FROM audit_unsealed ORDER BY 1`)
		var err error
		orgs, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit seal: list organisations: %w", err)
	}
	total := 0
	for _, org := range orgs {
		n, err := s.SealOrg(ctx, org)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// SealOrg seals orgID's unsealed events, in batches of sealBatch, and
// returns how many it sealed.
func (s *Sealer) SealOrg(ctx context.Context, orgID string) (int, error) {
	total := 0
	for {
		var n int
		err := postgres.InOrgTx(ctx, s.pool, orgID, func(tx pgx.Tx) error {
			var err error
			n, err = sealBatchTx(ctx, tx, orgID)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("audit seal organisation %s: %w", orgID, err)
		}
		if n < sealBatch {
			return total, nil
		}
	}
}

// sealBatchTx seals up to sealBatch of orgID's unsealed events in tx, a
// transaction scoped to orgID, and returns how many.
func sealBatchTx(ctx context.Context, tx pgx.Tx, orgID string) (int, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockSpace, kindOrg+":"+orgID); err != nil {
		return 0, fmt.Errorf("lock chain: %w", err)
	}
	head := Head{Kind: kindOrg, Chain: orgID, Hash: zeroHash}
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_events
		WHERE org_id = $1 AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1`, orgID).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("read chain head: %w", err)
	}
	rows, _ := tx.Query(ctx, `SELECT org_id::text, `+rowColumns+` FROM audit_events
		WHERE org_id = $1 AND hash IS NULL ORDER BY id LIMIT $2`, orgID, sealBatch)
	pending, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
		r := row{kind: kindOrg}
		err := cr.Scan(append([]any{&r.chain}, rowScanTargets(&r)...)...)
		r.time = r.time.UTC()
		return r, err
	})
	if err != nil {
		return 0, fmt.Errorf("read unsealed events: %w", err)
	}
	if len(pending) == 0 {
		// Queue rows whose events were sealed (or rolled back) already.
		_, err := tx.Exec(ctx, `DELETE FROM audit_unsealed u WHERE chain_id = $1
			AND NOT EXISTS (SELECT FROM audit_events e WHERE e.org_id = u.chain_id AND e.id = u.id AND e.hash IS NULL)`, orgID)
		return 0, err
	}
	b := &pgx.Batch{}
	ids := make([]string, len(pending))
	for i := range pending {
		r := &pending[i]
		r.seq, r.prevHash = head.Seq+1, head.Hash
		r.hash = r.computeHash()
		head.Seq, head.Hash = r.seq, r.hash
		ids[i] = r.id
		b.Queue(`UPDATE audit_events SET seq = $3, prev_hash = $4, hash = $5
			WHERE org_id = $1 AND id = $2 AND hash IS NULL`, orgID, r.id, r.seq, r.prevHash, r.hash)
	}
	b.Queue(`DELETE FROM audit_unsealed WHERE chain_id = $1 AND id = ANY($2::uuid[])`, orgID, ids)
	b.Queue(`INSERT INTO audit_chains (chain_id) VALUES ($1) ON CONFLICT DO NOTHING`, orgID)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("seal events: %w", err)
	}
	return len(pending), nil
}

// SealInterval is how often the sealer runs: events are sealed into their
// chains within about this long of their commit.
const SealInterval = 2 * time.Second

// SealArgs is the job that seals every queued event (Sealer.SealAll).
type SealArgs struct{}

// Kind names the job in River.
func (SealArgs) Kind() string { return "audit.seal" }

// InsertOpts puts the job on the default queue (the maintenance queue may
// be busy with backups for minutes); one attempt, as the next run comes
// within seconds.
func (SealArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueDefault, MaxAttempts: 1}
}

// SealWorker runs SealArgs.
type SealWorker struct {
	river.WorkerDefaults[SealArgs]
	Sealer *Sealer
}

// Work implements river.Worker.
func (w *SealWorker) Work(ctx context.Context, _ *river.Job[SealArgs]) error {
	_, err := w.Sealer.SealAll(ctx)
	return err
}

// PeriodicJobs returns the audit log's schedule: the sealer every
// SealInterval.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(SealInterval),
			func() (river.JobArgs, *river.InsertOpts) { return SealArgs{}, nil },
			&river.PeriodicJobOpts{ID: "audit.seal", RunOnStart: true}),
	}
}
