package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/errtrack/errtracktest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

const (
	reportOrgID  = "0190a0b0-0000-7000-8000-0000000000cc"
	reportUserID = "0190a0b0-0000-7000-8000-0000000000dd"
	reportEmail  = "victor@example.com"
	reportAPIKey = "gw_abcdefgh_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
)

// reportedArgs carry the tenant and user by the org_id / user_id convention,
// and a secret that must not be reported.
type reportedArgs struct {
	OrgID    string `json:"org_id"`
	UserID   string `json:"user_id"`
	Password string `json:"password"`
	Panic    bool   `json:"panic"`
}

func (reportedArgs) Kind() string { return "test.reported" }

type reportedWorker struct {
	river.WorkerDefaults[reportedArgs]
}

func (reportedWorker) Work(_ context.Context, job *river.Job[reportedArgs]) error {
	if job.Args.Panic {
		panic("nil map for " + reportEmail)
	}
	return fmt.Errorf("export for %s with key %s: password=%s", reportEmail, reportAPIKey, job.Args.Password)
}

// NextRetry retries at once, so that the test sees the final attempt soon.
func (reportedWorker) NextRetry(*river.Job[reportedArgs]) time.Time { return time.Now() }

func TestFailedJobsAreReported(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	in := errtracktest.New(t)
	rep, err := errtrack.New(in.DSN(), "production", "v1.0.0", nil)
	require.NoError(t, err)

	workers := river.NewWorkers()
	river.AddWorker(workers, &reportedWorker{})
	client, err := NewClient(db.Runtime, Config{
		Work: true, DefaultWorkers: 2, MaintenanceWorkers: 1, Workers: workers,
		Logger: slog.New(slog.DiscardHandler), Errors: rep,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })

	failing, err := client.Insert(ctx, reportedArgs{OrgID: reportOrgID, UserID: reportUserID, Password: "hunter2"}, &river.InsertOpts{MaxAttempts: 2})
	require.NoError(t, err)
	panicking, err := client.Insert(ctx, reportedArgs{Panic: true}, &river.InsertOpts{MaxAttempts: 1})
	require.NoError(t, err)

	// Every failed attempt is reported: two of the failing job, one of the
	// panicking one.
	var evs []errtracktest.Event
	require.Eventually(t, func() bool {
		rep.Flush(time.Second)
		evs = in.Events(t)
		return len(evs) >= 3
	}, 30*time.Second, 50*time.Millisecond)
	require.Len(t, evs, 3)

	byJobAttempt := map[string]errtracktest.Event{}
	for _, ev := range evs {
		byJobAttempt[ev.Tags["job_id"]+"/"+ev.Tags["attempt"]] = ev
	}
	failingID, panickingID := strconv.FormatInt(failing.Job.ID, 10), strconv.FormatInt(panicking.Job.ID, 10)

	first := byJobAttempt[failingID+"/1"]
	require.Equal(t, "warning", first.Level, "a retried attempt")
	require.Subset(t, first.Tags, map[string]string{
		"job_kind": "test.reported", "queue": QueueDefault, "attempt": "1", "max_attempts": "2", "final": "false",
		"org_id": reportOrgID, "user_id": reportUserID, "release": "v1.0.0", "environment": "production",
	})
	require.Equal(t, "export for [email] with key [api-key]: password=[redacted]", first.Top().Value)

	last := byJobAttempt[failingID+"/2"]
	require.Equal(t, "error", last.Level, "the final attempt")
	require.Equal(t, "true", last.Tags["final"])

	panicked := byJobAttempt[panickingID+"/1"]
	require.Equal(t, "error", panicked.Level)
	require.Equal(t, "panic", panicked.Top().Type)
	require.Equal(t, "nil map for [email]", panicked.Top().Value)
	require.Contains(t, panicked.Contexts["panic"]["stack"], "reportedWorker")
	require.NotContains(t, panicked.Tags, "org_id", "no org_id argument, no tag")

	raw := strings.Join(in.Raw(), "\n")
	for _, secret := range []string{reportEmail, reportAPIKey, "hunter2"} {
		require.NotContains(t, raw, secret)
	}
}
