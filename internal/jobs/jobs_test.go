package jobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type failingArgs struct{}

func (failingArgs) Kind() string { return "test.failing" }

type failingWorker struct {
	river.WorkerDefaults[failingArgs]
}

func (failingWorker) Work(context.Context, *river.Job[failingArgs]) error {
	return errors.New("the printer is on fire")
}

func TestFailedJobIsLoggedWithIDAndKind(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	workers := river.NewWorkers()
	river.AddWorker(workers, &failingWorker{})
	client, err := NewClient(db.Runtime, Config{Work: true, DefaultWorkers: 2, MaintenanceWorkers: 1, Workers: workers, Logger: logger})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })

	res, err := client.Insert(ctx, failingArgs{}, &river.InsertOpts{MaxAttempts: 1})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "job failed")
	}, 20*time.Second, 20*time.Millisecond)
	line := logs.String()
	require.Contains(t, line, "job_id="+strconv.FormatInt(res.Job.ID, 10))
	require.Contains(t, line, "job_kind=test.failing")
	require.Contains(t, line, "queue=default")
	require.Contains(t, line, "the printer is on fire")
}

func TestCountsCollectorReportsJobsByQueueAndState(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)

	// An insert-only client: nothing works the jobs, so they stay available.
	client, err := NewClient(db.Runtime, Config{Logger: logger})
	require.NoError(t, err)
	_, err = client.Insert(ctx, failingArgs{}, nil)
	require.NoError(t, err)
	_, err = client.Insert(ctx, failingArgs{}, &river.InsertOpts{Queue: QueueMaintenance})
	require.NoError(t, err)
	_, err = client.Insert(ctx, failingArgs{}, &river.InsertOpts{Queue: QueueMaintenance})
	require.NoError(t, err)

	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCountsCollector(db.Runtime))
	expected := `
# HELP groundwork_jobs River jobs by queue and state.
# TYPE groundwork_jobs gauge
groundwork_jobs{queue="default",state="available"} 1
groundwork_jobs{queue="maintenance",state="available"} 2
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected), "groundwork_jobs"))

	// The oldest waiting job's age: one series per queue with work waiting,
	// never negative, and growing once a job is overdue.
	_, err = db.Runtime.Exec(ctx, `UPDATE river_job SET scheduled_at = now() - interval '1 hour' WHERE queue = $1`, QueueMaintenance)
	require.NoError(t, err)
	require.Equal(t, 2, testutil.CollectAndCount(NewCountsCollector(db.Runtime), "groundwork_jobs_oldest_available_age_seconds"))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	ages := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "groundwork_jobs_oldest_available_age_seconds" {
			for _, m := range mf.GetMetric() {
				ages[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	require.GreaterOrEqual(t, ages["maintenance"], 3600.0)
	require.GreaterOrEqual(t, ages["default"], 0.0)
	require.Less(t, ages["default"], 3600.0)
}
