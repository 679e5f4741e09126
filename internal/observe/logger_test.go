package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// jsonLines decodes each line of buf as a JSON object.
func jsonLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "line: %s", line)
		out = append(out, m)
	}
	return out
}

func TestNewLogger_ProductionJSONWithRequestID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := NewLogger(&buf, true, "info")
	ctx := gw.WithRequestID(context.Background(), "req-123")

	logger.InfoContext(ctx, "with id", "org_id", "o1")
	logger.Info("without id")

	lines := jsonLines(t, &buf)
	require.Len(t, lines, 2)
	require.Equal(t, "with id", lines[0]["msg"])
	require.Equal(t, "req-123", lines[0]["request_id"])
	require.Equal(t, "o1", lines[0]["org_id"])
	require.Equal(t, "INFO", lines[0]["level"])
	require.NotContains(t, lines[1], "request_id")
}

func TestNewLogger_DevelopmentText(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := NewLogger(&buf, false, "info")
	ctx := gw.WithRequestID(context.Background(), "req-456")

	logger.InfoContext(ctx, "hello", "user_id", "u1")

	out := buf.String()
	require.False(t, json.Valid([]byte(out)), "development output should be text, got %q", out)
	require.Contains(t, out, "msg=hello")
	require.Contains(t, out, "request_id=req-456")
	require.Contains(t, out, "user_id=u1")
}

func TestNewLogger_Level(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		level      string
		wantDebug  bool
		wantInfo   bool
		wantWarn   bool
		wantErrors bool
	}{
		{"debug", true, true, true, true},
		{"info", false, true, true, true},
		{"WARN", false, false, true, true},
		{"error", false, false, false, true},
		{"bogus", false, true, true, true},
	} {
		t.Run(tt.level, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			logger := NewLogger(&buf, true, tt.level)
			logger.Debug("d")
			logger.Info("i")
			logger.Warn("w")
			logger.Error("e")
			var got []string
			for _, l := range jsonLines(t, &buf) {
				got = append(got, l["msg"].(string))
			}
			var want []string
			for msg, on := range map[string]bool{"d": tt.wantDebug, "i": tt.wantInfo, "w": tt.wantWarn, "e": tt.wantErrors} {
				if on {
					want = append(want, msg)
				}
			}
			require.ElementsMatch(t, want, got)
		})
	}
}

func TestNewLogger_RequestIDStaysTopLevelInGroups(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := NewLogger(&buf, true, "debug").
		With("service", "api").
		WithGroup("job").
		With("kind", "export")
	ctx := gw.WithRequestID(context.Background(), "req-789")

	logger.InfoContext(ctx, "grouped", "attempt", 2)
	logger.Info("grouped without id")

	lines := jsonLines(t, &buf)
	require.Len(t, lines, 2)
	require.Equal(t, "req-789", lines[0]["request_id"])
	require.Equal(t, "api", lines[0]["service"])
	require.Equal(t, map[string]any{"kind": "export", "attempt": float64(2)}, lines[0]["job"])
	require.NotContains(t, lines[1], "request_id")
	require.Equal(t, map[string]any{"kind": "export"}, lines[1]["job"])
}

func TestContextHandler_Enabled(t *testing.T) {
	t.Parallel()
	h := NewContextHandler(slog.NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	require.False(t, h.Enabled(context.Background(), slog.LevelInfo))
	require.True(t, h.Enabled(context.Background(), slog.LevelError))
}
