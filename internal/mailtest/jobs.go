package mailtest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/mail"
)

// Jobs works a test database's mail queue, as a serve or worker process
// does: the emails the code under test queues (mail.Outbox) are sent by
// mail.SendWorker once their transaction commits.
//
//	outbox, jobs := mailtest.Outbox(t, db.Runtime, keys, sender)
//	svc := account.NewService(db.Runtime, keys, outbox, ...)
//	// ... svc queues an email ...
//	msg := srv.WaitFor(t, "ada@example.com", "Verify") // sent by the worker
//	jobs.Drain(t) // before asserting that nothing (else) was sent
type Jobs struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
}

// StartJobs starts a River client on pool that works the mail queue, and
// only it, with workers (which must hold a mail.SendWorker), and stops it
// when the test ends. Jobs of other queues stay where they are.
func StartJobs(t testing.TB, pool *pgxpool.Pool, workers *river.Workers) *Jobs {
	t.Helper()
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:        slog.New(slog.DiscardHandler),
		Queues:        map[string]river.QueueConfig{jobs.QueueMail: {MaxWorkers: jobs.DefaultMailWorkers}},
		Workers:       workers,
		FetchCooldown: 10 * time.Millisecond,
		TestOnly:      true,
	})
	if err != nil {
		t.Fatalf("mailtest: create job client: %v", err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatalf("mailtest: start job client: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.Stop(ctx); err != nil {
			_ = client.StopAndCancel(context.Background())
		}
	})
	return &Jobs{pool: pool, client: client}
}

// Outbox returns a mail.Outbox on pool that seals messages with keys, and
// starts a client (StartJobs) whose mail.SendWorker sends them with sender.
func Outbox(t testing.TB, pool *pgxpool.Pool, keys *crypto.Keyring, sender mail.Sender) (*mail.Outbox, *Jobs) {
	t.Helper()
	inserter, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("mailtest: create job client: %v", err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &mail.SendWorker{Keys: keys, Sender: sender})
	return mail.NewOutbox(inserter, keys), StartJobs(t, pool, workers)
}

// Drain waits up to 10 seconds until no mail job is waiting to be worked or
// being worked: every email queued so far was sent, or failed and waits for
// its retry. The test fails if the queue does not drain.
func (j *Jobs) Drain(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		var n int
		err := j.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
			WHERE queue = $1 AND state IN ('available', 'pending', 'running')`, jobs.QueueMail).Scan(&n)
		if err != nil {
			t.Fatalf("mailtest: count mail jobs: %v", err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailtest: %d mail jobs still to be worked after %v", n, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RetryNow makes every mail job that failed and waits for its retry
// available now, instead of after River's backoff.
func (j *Jobs) RetryNow(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	rows, err := j.pool.Query(ctx, `SELECT id FROM river_job WHERE queue = $1 AND state = 'retryable'`, jobs.QueueMail)
	if err != nil {
		t.Fatalf("mailtest: list mail jobs: %v", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("mailtest: list mail jobs: %v", err)
	}
	for _, id := range ids {
		if _, err := j.client.JobRetry(ctx, id); err != nil {
			t.Fatalf("mailtest: retry mail job %d: %v", id, err)
		}
	}
}

// Mailbox is a Server whose messages come through the mail queue (a
// mail.SendWorker sending to it): Messages waits for the queue to drain, so
// that a test can tell that an email was not sent, or was sent once.
type Mailbox struct {
	*Server
	t    testing.TB
	jobs *Jobs
}

// Mailbox returns srv as a Mailbox, drained by j.
func (j *Jobs) Mailbox(t testing.TB, srv *Server) *Mailbox {
	return &Mailbox{Server: srv, t: t, jobs: j}
}

// Messages returns every message received once the mail queue has drained
// (Jobs.Drain), oldest first.
func (m *Mailbox) Messages() []Received {
	m.t.Helper()
	m.jobs.Drain(m.t)
	return m.Server.Messages()
}
