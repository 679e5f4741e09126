package jobs

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/groundwork-dev/groundwork/internal/errtrack"
)

// ErrorLogger is River's error handler: it logs every failed or panicking
// job with its id, kind, queue and attempt, reports it to error tracking,
// and lets River's retry policy run.
type ErrorLogger struct {
	Logger *slog.Logger
	// Errors reports every failed attempt (see errtrack.CaptureJobError:
	// level warning while River retries, error on the final attempt). Nil
	// reports nothing.
	Errors *errtrack.Reporter
}

// HandleError logs and reports a job that returned an error.
func (h *ErrorLogger) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.Logger.ErrorContext(ctx, "job failed", jobAttrs(job, slog.String("error", err.Error()))...)
	h.Errors.CaptureJobError(ctx, reportedJob(job), err)
	return nil
}

// HandlePanic logs and reports a job that panicked, with the stack trace.
func (h *ErrorLogger) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.Logger.ErrorContext(ctx, "job panicked",
		jobAttrs(job, slog.Any("panic", panicVal), slog.String("stack", trace))...)
	h.Errors.CaptureJobPanic(ctx, reportedJob(job), panicVal, trace)
	return nil
}

// reportedJob describes job for error tracking. The organisation, user and
// request it belongs to are read from its arguments' org_id, user_id and
// request_id, when it has them; no other argument is sent.
func reportedJob(job *rivertype.JobRow) errtrack.Job {
	var ids struct {
		OrgID     string `json:"org_id"`
		UserID    string `json:"user_id"`
		RequestID string `json:"request_id"`
	}
	_ = json.Unmarshal(job.EncodedArgs, &ids) // arguments without these fields leave them empty
	return errtrack.Job{
		ID:          job.ID,
		Kind:        job.Kind,
		Queue:       job.Queue,
		Attempt:     job.Attempt,
		MaxAttempts: job.MaxAttempts,
		OrgID:       ids.OrgID,
		UserID:      ids.UserID,
		RequestID:   ids.RequestID,
	}
}

func jobAttrs(job *rivertype.JobRow, extra ...any) []any {
	return append([]any{
		slog.Int64("job_id", job.ID),
		slog.String("job_kind", job.Kind),
		slog.String("queue", job.Queue),
		slog.Int("attempt", job.Attempt),
		slog.Int("max_attempts", job.MaxAttempts),
	}, extra...)
}
