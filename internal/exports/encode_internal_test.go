package exports

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// awkward are values that need quoting or escaping somewhere.
var awkward = []string{"", "plain", "a,b", `say "hi"`, "two\nlines", "cr\rhere", " leading space", "\ttab",
	`\.`, "ünïcødé ✓", "nul\x00and\x1fcontrol", "bad \xff utf8", "sep\u2028ara\u2029tors", `back\slash`, "<tag>&"}

// TestCSVFieldsAsEncodingCSV: the hand-built CSV writer quotes exactly as
// encoding/csv does, and reads back to the values.
func TestCSVFieldsAsEncodingCSV(t *testing.T) {
	t.Parallel()
	var want bytes.Buffer
	cw := csv.NewWriter(&want)
	require.NoError(t, cw.Write(awkward))
	cw.Flush()

	var got bytes.Buffer
	enc := newEncoder(FormatCSV, &got)
	for _, s := range awkward {
		enc.text([]byte(s))
	}
	require.NoError(t, enc.end())
	require.NoError(t, enc.flush())
	require.Equal(t, want.String(), got.String())
	back, err := csv.NewReader(&got).Read()
	require.NoError(t, err)
	require.Equal(t, strings.ToValidUTF8(awkward[11], "\xff"), back[11])
}

// TestJSONStringsAsEncodingJSON: the hand-built JSON strings decode to the
// values (invalid UTF-8 replaced), as encoding/json's do, and lists,
// objects, times, numbers and empty values are encoded as before.
func TestJSONStringsAsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range awkward {
		got := appendJSONString(nil, []byte(s))
		var back, want string
		require.NoError(t, json.Unmarshal(got, &back), "%q gave %s", s, got)
		std, err := json.Marshal(s)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(std, &want))
		require.Equal(t, want, back)
	}

	var buf bytes.Buffer
	enc := newEncoder(FormatJSONL, &buf)
	require.NoError(t, enc.header([]string{"s", "tags", "custom", "none", "at", "n", "ok", "hash"}))
	enc.str("x")
	enc.strList([][]byte{[]byte("a"), []byte(`"b"`)})
	require.NoError(t, enc.json([]byte(`{"n": 1, "tier": "gold"}`)))
	require.NoError(t, enc.json(nil))
	enc.time(time.Date(2026, 12, 6, 10, 0, 0, 5000, time.FixedZone("x", 3600)))
	enc.int(-7)
	enc.bool(true)
	enc.hex([]byte{0xab, 0x01})
	require.NoError(t, enc.end())
	require.NoError(t, enc.flush())
	require.Equal(t, `{"s":"x","tags":["a","\"b\""],"custom":{"n":1,"tier":"gold"},"none":null,`+
		`"at":"2026-12-06T09:00:00.000005Z","n":-7,"ok":true,"hash":"ab01"}`+"\n", buf.String())
	require.Error(t, enc.json([]byte(`{"broken"`)))
}

// TestEncoderCallsOnRows: the progress hook runs every every rows, after
// the rows before it were written.
func TestEncoderCallsOnRows(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	enc := newEncoder(FormatCSV, &buf)
	enc.every = 2
	var seen []int
	enc.onRows = func() error { seen = append(seen, strings.Count(buf.String(), "\n")); return nil }
	for range 5 {
		enc.int(1)
		require.NoError(t, enc.end())
	}
	require.Equal(t, []int{2, 4}, seen, "the rows before the hook are written when it runs")
	require.NoError(t, enc.flush())
	require.Equal(t, "1\n1\n1\n1\n1\n", buf.String())
}

// TestPacer: while the app is busy an export is held to its rate, with a
// bounded catch-up after a slow stretch; while it is idle it is not held,
// and it builds no credit.
func TestPacer(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	var slept []time.Duration
	busy := true
	p := newPacer(1000, func() bool { return busy }, func() time.Time { return now },
		func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil })
	ctx := context.Background()

	require.NoError(t, p.wait(ctx, 100)) // 100 rows at once: due at 100 ms
	require.Equal(t, []time.Duration{100 * time.Millisecond}, slept)
	now = now.Add(50 * time.Millisecond) // the next 100 took 50 ms: sleep 50 more
	require.NoError(t, p.wait(ctx, 200))
	require.Equal(t, 50*time.Millisecond, slept[1])

	now = now.Add(5 * time.Second) // a slow read: only paceBurst of catch-up
	require.NoError(t, p.wait(ctx, 300))
	require.Len(t, slept, 2)
	require.NoError(t, p.wait(ctx, 400)) // 100 ms due, 100 ms of credit
	require.Len(t, slept, 2)
	require.NoError(t, p.wait(ctx, 500))
	require.Equal(t, 100*time.Millisecond, slept[2])

	busy = false
	for rows := int64(600); rows <= 5000; rows += 100 {
		require.NoError(t, p.wait(ctx, rows))
	}
	require.Len(t, slept, 3, "idle: full speed")
	busy = true
	require.NoError(t, p.wait(ctx, 5100))
	require.Equal(t, 100*time.Millisecond, slept[3], "no credit from the idle stretch")

	unpaced := newPacer(0, nil, time.Now, func(context.Context, time.Duration) error { panic("slept") })
	require.NoError(t, unpaced.wait(ctx, 1e9))
}
