package observe

import (
	"context"
	"fmt"

	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// StartTracing returns a tracer provider exporting OpenTelemetry traces
// over OTLP/HTTP to endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, the collector's
// base URL: spans go to its /v1/traces), or nil when endpoint is empty.
// The exporter reads the other standard OTEL_EXPORTER_OTLP_* variables
// (headers, timeout, TLS) itself. Nothing global is set: the provider is
// handed to what makes spans (web.Deps.TracerProvider). Shut it down
// before exit to flush the last spans.
func StartTracing(ctx context.Context, endpoint, service, version string) (*sdktrace.TracerProvider, error) {
	if endpoint == "" {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.version", version))
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
