package observe

import (
	"context"
	"go.opentelemetry.io/otel/trace"
	"io"
	"log/slog"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// RequestIDKey is the log attribute key under which the request ID appears.
const RequestIDKey = "request_id"

// TraceIDKey and SpanIDKey are the log attributes of the request's trace
// and span, when tracing is on (tracing.go).
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// NewLogger returns a logger writing to w: JSON lines when production is true,
// human-readable key=value text otherwise. level is debug, info, warn or error
// (case-insensitive); anything else means info. Every record logged with a
// context that carries a request ID (see gw.WithRequestID) gets a top-level
// request_id attribute.
func NewLogger(w io.Writer, production bool, level string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: ParseLevel(level)}
	var h slog.Handler
	if production {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(NewContextHandler(h))
}

// ParseLevel maps debug, info, warn or error (case-insensitive) to its slog
// level; anything else maps to slog.LevelInfo.
func ParseLevel(level string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// ContextHandler is a slog.Handler that adds values carried by the record's
// context (today: the request ID) to every record before passing it on.
type ContextHandler struct {
	// next is the wrapped handler, with all WithAttrs/WithGroup applied.
	next slog.Handler
	// root is the wrapped handler before any WithGroup; with derive it lets
	// Handle add the request ID at the top level even inside a group.
	root slog.Handler
	// derive re-applies, in order, the WithAttrs/WithGroup calls made since
	// the first WithGroup. It is nil while no group is open.
	derive []func(slog.Handler) slog.Handler
}

// NewContextHandler wraps next so that records logged with a context carrying
// a request ID get a top-level request_id attribute.
func NewContextHandler(next slog.Handler) *ContextHandler {
	return &ContextHandler{next: next, root: next}
}

// Enabled reports whether the wrapped handler handles records at level.
func (h *ContextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds the context's request ID and, when a span is recording
// (tracing.go), its trace_id and span_id, and passes r on.
func (h *ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	id := gw.RequestID(ctx)
	sc := trace.SpanContextFromContext(ctx)
	if id == "" && !sc.IsValid() {
		return h.next.Handle(ctx, r)
	}
	attrs := make([]slog.Attr, 0, 3)
	if id != "" {
		attrs = append(attrs, slog.String(RequestIDKey, id))
	}
	if sc.IsValid() {
		attrs = append(attrs, slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String()))
	}
	if h.derive == nil {
		r.AddAttrs(attrs...)
		return h.next.Handle(ctx, r)
	}
	// A group is open: attributes added to r would land inside it. Rebuild
	// the handler with the IDs attached before the first group.
	next := h.root.WithAttrs(attrs)
	for _, f := range h.derive {
		next = f(next)
	}
	return next.Handle(ctx, r)
}

// WithAttrs returns a handler whose records include attrs.
func (h *ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := &ContextHandler{next: h.next.WithAttrs(attrs), root: h.root, derive: h.derive}
	if c.derive == nil {
		c.root = c.next
	} else {
		c.derive = append(cloneFuncs(h.derive), func(n slog.Handler) slog.Handler { return n.WithAttrs(attrs) })
	}
	return c
}

// WithGroup returns a handler that nests subsequent attributes under name.
func (h *ContextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &ContextHandler{
		next:   h.next.WithGroup(name),
		root:   h.root,
		derive: append(cloneFuncs(h.derive), func(n slog.Handler) slog.Handler { return n.WithGroup(name) }),
	}
}

func cloneFuncs(fs []func(slog.Handler) slog.Handler) []func(slog.Handler) slog.Handler {
	return append(make([]func(slog.Handler) slog.Handler, 0, len(fs)+1), fs...)
}
