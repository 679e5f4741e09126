package postgres_test

import (
	"context"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestQueryTracerMakesChildSpans runs queries through a traced pool: each
// becomes a client span under the caller's span, named by its operation,
// with the SQL but not the arguments; a failed query's span is an error.
func TestQueryTracerMakesChildSpans(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx := context.Background()
	pool, err := postgres.Open(ctx, db.RuntimeURL, 2, postgres.NewQueryTracer(tp))
	require.NoError(t, err)
	defer pool.Close()

	ctx, parent := tp.Tracer("test").Start(ctx, "request")
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT $1::int + 1`, 41).Scan(&n))
	require.Equal(t, 42, n)
	_, err = pool.Exec(ctx, `SELECT * FROM no_such_table WHERE secret = $1`, "tenant-secret")
	require.Error(t, err)
	parent.End()

	var queries []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() != "request" {
			queries = append(queries, s)
		}
	}
	require.Len(t, queries, 2)
	ok, failed := queries[0], queries[1]
	require.Equal(t, "postgres SELECT", ok.Name())
	require.Equal(t, parent.SpanContext().SpanID(), ok.Parent().SpanID())
	require.Equal(t, parent.SpanContext().TraceID(), ok.SpanContext().TraceID())
	require.Contains(t, ok.Attributes(), attribute.String("db.query.text", `SELECT $1::int + 1`))
	require.Equal(t, codes.Unset, ok.Status().Code)

	require.Equal(t, codes.Error, failed.Status().Code)
	require.Contains(t, failed.Status().Description, "no_such_table")
	for _, a := range failed.Attributes() {
		require.NotContains(t, a.Value.Emit(), "tenant-secret", "arguments never reach a span")
	}
}
