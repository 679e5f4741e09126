package jobs

import (
	"context"
	"log/slog"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// ErrorLogger is River's error handler: it logs every failed or panicking
// job with its id, kind, queue and attempt, and lets River's retry policy run.
type ErrorLogger struct {
	Logger *slog.Logger
}

// HandleError logs a job that returned an error.
func (h *ErrorLogger) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.Logger.ErrorContext(ctx, "job failed", jobAttrs(job, slog.String("error", err.Error()))...)
	return nil
}

// HandlePanic logs a job that panicked, with the stack trace.
func (h *ErrorLogger) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.Logger.ErrorContext(ctx, "job panicked",
		jobAttrs(job, slog.Any("panic", panicVal), slog.String("stack", trace))...)
	return nil
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
