package exports_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// orgExec runs sql as the owner role in orgID's scope (exports has row-level
// security forced on its owner too) and returns the rows it affected.
func orgExec(t *testing.T, b *bundle, orgID, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, postgres.InOrgTx(context.Background(), b.db.Owner, orgID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(context.Background(), sql, args...)
		n = tag.RowsAffected()
		return err
	}))
	return n
}

// recoveryService is b's Service with the contacts read through hook and
// a StaleAfter of a minute: its heartbeat ticks every 15 s of real time,
// which no test here waits for, so that the held clock alone decides
// whether an attempt is stale.
func recoveryService(b *bundle, hook *hookContacts) *exports.Service {
	hook.ContactSource = b.mods.Contacts
	return exports.NewService(b.db.Runtime, nil, b.bucket, b.mods.Keys, b.mods.Jobs, b.clock,
		exports.Sources{Contacts: hook, Members: b.mods.Orgs, Audit: b.mods.Audit},
		exports.Config{StaleAfter: time.Minute})
}

// exportJobs returns the state, attempt, max_attempts and whether a
// cancel was requested of every River job of export id, oldest first.
func exportJobs(t *testing.T, b *bundle, id string) []string {
	t.Helper()
	rows, err := b.db.Owner.Query(context.Background(), `SELECT state::text || ' max=' || max_attempts
			|| CASE WHEN metadata ? 'cancel_attempted_at' THEN ' cancel-requested' ELSE '' END
		FROM river_job WHERE kind = 'export' AND args->>'export_id' = $1 ORDER BY id`, id)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// fetchJob marks export id's queued River job running, as a worker
// fetching it would (this package's River client only inserts).
func fetchJob(t *testing.T, b *bundle, id string) {
	t.Helper()
	tag, err := b.db.Owner.Exec(context.Background(), `UPDATE river_job SET state = 'running', attempt = attempt + 1,
			attempted_at = $2 WHERE kind = 'export' AND args->>'export_id' = $1 AND state = 'available'`,
		id, b.clock.Now())
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

// TestRecoverStalledFencesTheZombie: an attempt that stops beating (held
// half-way, its worker taken for dead) is found by RecoverStalled once its
// heartbeat is older than StaleAfter, and not before; its River job is
// asked to cancel and the export requeued on a new job with the attempts
// left. A second attempt starts; the first, still alive (a zombie),
// resumes while the second runs: each of its writes is refused, so it
// changes neither the row (status, progress, files) nor the store, and
// stops without error. The second attempt then writes the export, with
// the rows of its own snapshot, once.
func TestRecoverStalledFencesTheZombie(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	held := []chan struct{}{make(chan struct{}), make(chan struct{})}
	resume := []chan struct{}{make(chan struct{}), make(chan struct{})}
	var once [2]sync.Once
	release := func(i int) { once[i].Do(func() { close(resume[i]) }) }
	// A failed assertion must not leave an attempt held with its snapshot
	// open: the database's cleanup would wait for it forever.
	t.Cleanup(func() { release(0); release(1) })
	var calls atomic.Int32
	hook := &hookContacts{hook: func(n int) error {
		if n == 1 { // an attempt's read of the contacts begins
			if i := calls.Add(1) - 1; i < 2 {
				close(held[i])
				<-resume[i]
			}
		}
		return nil
	}}
	svc := recoveryService(b, hook)
	for _, n := range []string{"Ada", "Grace", "Katherine"} {
		b.contact(t, n, n+"@example.com", "+44 20 7946 0001")
	}
	e, err := svc.Request(ctx, b.owner, exports.Request{Tables: []string{exports.TableContacts}})
	require.NoError(t, err)
	fetchJob(t, b, e.ID)

	// Attempt 1 starts, records its progress and heartbeat, and hangs.
	var wg sync.WaitGroup
	var zombieErr, secondErr error
	wg.Go(func() { zombieErr = svc.Run(ctx, e.OrgID, e.ID, 1, 3) })
	<-held[0]

	b.clock.Advance(59 * time.Second)
	n, err := svc.RecoverStalled(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a heartbeat younger than StaleAfter is alive")
	require.Equal(t, []string{"running max=3"}, exportJobs(t, b, e.ID))

	b.clock.Advance(2 * time.Second)
	n, err = svc.RecoverStalled(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err := svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusQueued, got.Status, "back in the queue")
	require.Equal(t, []string{"running max=3 cancel-requested", "available max=2"}, exportJobs(t, b, e.ID),
		"the dead job asked to cancel; a new one with the attempts left")
	n, err = svc.RecoverStalled(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "recovered once")

	// A fourth contact, which only attempt 2's snapshot sees; attempt 2
	// (the new job, on another worker) starts and is held in turn.
	b.contact(t, "Dorothy", "dorothy@example.com", "")
	fetchJob(t, b, e.ID)
	var wg2 sync.WaitGroup
	wg2.Go(func() { secondErr = svc.Run(ctx, e.OrgID, e.ID, 1, 2) })
	<-held[1]

	// The zombie resumes and writes its 3 rows: its progress at the end of
	// the table is refused, so it aborts its file and stops quietly.
	release(0)
	wg.Wait()
	require.NoError(t, zombieErr, "a superseded attempt stops without error")
	mid, err := svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusRunning, mid.Status)
	require.Zero(t, mid.RowsWritten, "the zombie's progress was refused")
	require.EqualValues(t, 4, mid.RowsEstimated, "attempt 2's estimate")
	require.EqualValues(t, 1, orgExec(t, b, e.OrgID, `SELECT FROM exports WHERE id = $1 AND attempts = 2`, e.ID))
	require.Empty(t, b.objects(t), "the zombie published nothing")

	release(1)
	wg2.Wait()
	require.NoError(t, secondErr)
	done, err := svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusSucceeded, done.Status)
	require.EqualValues(t, 4, done.RowsWritten)
	prefix := "exports/" + e.OrgID + "/" + e.ID + "/"
	require.Equal(t, []string{prefix + "2/contacts.csv.gz"}, b.objects(t), "attempt 2's directory, alone")
	require.Len(t, records(t, exports.FormatCSV, gunzip(t, b.download(t, done, "contacts.csv.gz"))), 4, "every row once")
}

// TestRecoverStalledLastAttemptFails: an export whose dead attempt was its
// last is marked failed, without files, and its job asked to cancel.
func TestRecoverStalledLastAttemptFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	svc := recoveryService(b, &hookContacts{hook: func(int) error { return nil }})
	e, err := svc.Request(ctx, b.owner, exports.Request{})
	require.NoError(t, err)
	fetchJob(t, b, e.ID)
	// The third attempt started, wrote a file and died.
	require.EqualValues(t, 1, orgExec(t, b, e.OrgID, `UPDATE exports SET status = 'running', attempts = 3, heartbeat_at = $2
		WHERE id = $1`, e.ID, b.clock.Now()))
	require.NoError(t, b.bucket.WriteAll(ctx, "exports/"+e.OrgID+"/"+e.ID+"/3/contacts.csv.gz", []byte("partial"), nil))

	b.clock.Advance(2 * time.Minute)
	n, err := svc.RecoverStalled(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err := svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusFailed, got.Status)
	require.NotEmpty(t, got.Error)
	require.Empty(t, b.objects(t))
	require.Equal(t, []string{"running max=3 cancel-requested"}, exportJobs(t, b, e.ID))
}

// TestRecoveryInterval: a quarter of StaleAfter, between 1 and 30 s.
func TestRecoveryInterval(t *testing.T) {
	t.Parallel()
	for stale, want := range map[time.Duration]time.Duration{
		2 * time.Second: time.Second, 8 * time.Second: 2 * time.Second, 2 * time.Minute: 30 * time.Second,
		time.Hour: 30 * time.Second,
	} {
		require.Equal(t, want, exports.RecoveryInterval(stale), stale)
	}
}

// TestRecoverJoblessExport: an export whose River job was deleted outright
// (by hand, while it was queued or running) is given a new job with the
// attempts left once it has been quiet for StaleAfter, and not before; an
// export whose job is still there is left to it, and one whose only job
// was asked to cancel is not; one with no attempt left is marked failed
// without files. (One organisation runs one export at a time: each case
// has its own.)
func TestRecoverJoblessExport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	svc := recoveryService(b, &hookContacts{hook: func(int) error { return nil }})
	request := func() (exports.Export, gw.Scope) {
		t.Helper()
		scope := pgtest.MemberScope(t, b.db, gw.RoleOwner)
		e, err := svc.Request(ctx, scope, exports.Request{})
		require.NoError(t, err)
		return e, scope
	}
	deleteJobs := func(id string) {
		t.Helper()
		tag, err := b.db.Owner.Exec(ctx, `DELETE FROM river_job WHERE kind = 'export' AND args->>'export_id' = $1`, id)
		require.NoError(t, err)
		require.Positive(t, tag.RowsAffected())
	}
	status := func(e exports.Export, scope gw.Scope) exports.Export {
		t.Helper()
		got, err := svc.Get(ctx, scope, e.ID)
		require.NoError(t, err)
		return got
	}

	queued, queuedScope := request()
	deleteJobs(queued.ID)
	running, runningScope := request()
	require.EqualValues(t, 1, orgExec(t, b, running.OrgID, `UPDATE exports SET status = 'running', attempts = 1, heartbeat_at = $2
		WHERE id = $1`, running.ID, b.clock.Now()))
	deleteJobs(running.ID)
	last, lastScope := request()
	require.EqualValues(t, 1, orgExec(t, b, last.OrgID, `UPDATE exports SET status = 'running', attempts = 3, heartbeat_at = $2
		WHERE id = $1`, last.ID, b.clock.Now()))
	require.NoError(t, b.bucket.WriteAll(ctx, "exports/"+last.OrgID+"/"+last.ID+"/3/contacts.csv.gz", []byte("partial"), nil))
	deleteJobs(last.ID)
	waiting, waitingScope := request() // its job waits in the queue
	cancelled, cancelledScope := request()
	fetchJob(t, b, cancelled.ID)
	_, err := b.db.Owner.Exec(ctx, `UPDATE river_job SET metadata = metadata || jsonb_build_object('cancel_attempted_at', now())
		WHERE kind = 'export' AND args->>'export_id' = $1`, cancelled.ID)
	require.NoError(t, err)

	b.clock.Advance(59 * time.Second)
	n, err := svc.RecoverJobless(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "quiet for less than StaleAfter")
	require.Empty(t, exportJobs(t, b, queued.ID))

	b.clock.Advance(2 * time.Second)
	n, err = svc.RecoverJobless(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, n, "queued, running, last attempt, and the one whose only job was asked to cancel")
	require.Equal(t, exports.StatusQueued, status(queued, queuedScope).Status)
	require.Equal(t, []string{"available max=3"}, exportJobs(t, b, queued.ID), "never started: every attempt left")
	require.Equal(t, exports.StatusQueued, status(running, runningScope).Status)
	require.Equal(t, []string{"available max=2"}, exportJobs(t, b, running.ID), "the attempts left")
	require.Equal(t, exports.StatusQueued, status(cancelled, cancelledScope).Status)
	require.Equal(t, []string{"running max=3 cancel-requested", "available max=3"}, exportJobs(t, b, cancelled.ID))
	require.Equal(t, exports.StatusQueued, status(waiting, waitingScope).Status)
	require.Equal(t, []string{"available max=3"}, exportJobs(t, b, waiting.ID), "its job is still there: untouched")
	failed := status(last, lastScope)
	require.Equal(t, exports.StatusFailed, failed.Status)
	require.NotEmpty(t, failed.Error)
	require.Empty(t, b.objects(t), "the failed export's files are deleted")
	require.Empty(t, exportJobs(t, b, last.ID))

	n, err = svc.RecoverJobless(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "each recovered once: they have jobs now")
}
