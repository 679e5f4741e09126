package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// maxTracedStatement bounds the SQL text recorded on a query span.
const maxTracedStatement = 2000

// QueryTracer makes an OpenTelemetry client span of every query run through
// a pool (pgx's Query, QueryRow and Exec), a child of the span in the
// query's context (the request's or the job's). The span carries the SQL
// text, never its arguments, so no tenant data leaves in traces.
type QueryTracer struct {
	tracer trace.Tracer
}

// NewQueryTracer returns a QueryTracer making spans with tp.
func NewQueryTracer(tp trace.TracerProvider) *QueryTracer {
	return &QueryTracer{tracer: tp.Tracer("github.com/groundwork-dev/groundwork/internal/postgres")}
}

// TraceQueryStart implements pgx.QueryTracer.
func (t *QueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	stmt := data.SQL
	if len(stmt) > maxTracedStatement {
		stmt = stmt[:maxTracedStatement]
	}
	ctx, _ = t.tracer.Start(ctx, "postgres "+operation(data.SQL), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", stmt)))
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t *QueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span := trace.SpanFromContext(ctx)
	if data.Err != nil {
		span.RecordError(data.Err)
		span.SetStatus(codes.Error, data.Err.Error())
	} else {
		span.SetAttributes(attribute.Int64("db.response.returned_rows", data.CommandTag.RowsAffected()))
	}
	span.End()
}

// operation is the statement's first keyword (SELECT, INSERT, WITH…), the
// span's name; "query" when there is none.
func operation(sql string) string {
	f := strings.Fields(strings.TrimLeft(sql, "( \t\n"))
	if len(f) == 0 {
		return "query"
	}
	return strings.ToUpper(f[0])
}
