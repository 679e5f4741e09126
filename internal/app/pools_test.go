package app

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestExportPoolsAreTraced opens the exports' pool (on DATABASE_DIRECT_URL
// behind a pooler, here the test database) and the replica's pool with the
// runtime pool's query tracer: an export query on each becomes a span in
// the caller's trace; without a tracer none does.
func TestExportPoolsAreTraced(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	cfg, err := config.Load(func(k string) string {
		if k == "DATABASE_REPLICA_URL" {
			return db.RuntimeURL
		}
		return ""
	})
	require.NoError(t, err)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracer := postgres.NewQueryTracer(tp)

	exportPool, err := OpenExportPool(ctx, db.RuntimeURL, cfg, tracer)
	require.NoError(t, err)
	t.Cleanup(exportPool.Close)
	replica, err := OpenReplica(ctx, cfg, tracer)
	require.NoError(t, err)
	require.NotNil(t, replica)
	t.Cleanup(replica.Pool.Close)

	ctx, parent := tp.Tracer("test").Start(ctx, "export job")
	var name string
	require.NoError(t, exportPool.QueryRow(ctx, `SELECT current_setting('application_name') /* export */`).Scan(&name))
	require.Equal(t, "groundwork-exports", name)
	require.NoError(t, replica.Pool.QueryRow(ctx, `SELECT current_setting('application_name') /* replica */`).Scan(&name))
	require.Equal(t, "groundwork-exports-replica", name)
	parent.End()

	var queries []string
	for _, s := range rec.Ended() {
		if s.Name() == "export job" {
			continue
		}
		require.Equal(t, "postgres SELECT", s.Name())
		require.Equal(t, parent.SpanContext().TraceID(), s.SpanContext().TraceID())
		require.Equal(t, parent.SpanContext().SpanID(), s.Parent().SpanID())
		for _, a := range s.Attributes() {
			if a.Key == attribute.Key("db.query.text") {
				queries = append(queries, a.Value.AsString())
			}
		}
	}
	require.Equal(t, []string{
		`SELECT current_setting('application_name') /* export */`,
		`SELECT current_setting('application_name') /* replica */`,
	}, queries)

	// Without a tracer (tracing off) the pools make no spans.
	untraced, err := OpenExportPool(ctx, db.RuntimeURL, cfg)
	require.NoError(t, err)
	t.Cleanup(untraced.Close)
	before := len(rec.Ended())
	_, err = untraced.Exec(ctx, `SELECT 1`)
	require.NoError(t, err)
	require.Len(t, rec.Ended(), before)
}
