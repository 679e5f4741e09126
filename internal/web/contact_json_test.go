package web

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// awkwardStrings are strings whose JSON escaping differs from their bytes.
var awkwardStrings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "café 東京 🎉", "bad \xff\xfe utf-8 \xc3", "line\u2028para\u2029end", "\u00a0nbsp",
}

// contactJSONCases are contacts whose fast JSON must equal json.Marshal's.
func contactJSONCases() []contactJSON {
	at := time.Date(2026, 12, 6, 19, 42, 1, 123456000, time.UTC)
	var cases []contactJSON
	for i, s := range awkwardStrings {
		cases = append(cases, contactJSON{
			ID: "0193a3b4-" + s, Name: s, Email: s, Phone: s, Company: s,
			Tags:      []string{s, "t" + s},
			Custom:    map[string]any{s: s, "b" + s: i%2 == 0, "n" + s: nil, "z": float64(i)},
			CreatedAt: at, UpdatedAt: at.Add(time.Duration(i) * time.Second),
		})
	}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1e20, 1e21, 1.5e21, 1e-6, 9.99e-7, 1e-7, 123456789.125,
		-2.5e-10, math.MaxFloat64, math.SmallestNonzeroFloat64, 1 << 53, 3.14159}
	custom := map[string]any{}
	for i, f := range floats {
		custom[string(rune('a'+i))] = f
	}
	cases = append(cases,
		contactJSON{ID: "x", Custom: custom, CreatedAt: at, UpdatedAt: at},
		contactJSON{ID: "nil tags and custom", CreatedAt: time.Time{}, UpdatedAt: at},
		contactJSON{ID: "empty", Tags: []string{}, Custom: map[string]any{}, CreatedAt: at.Truncate(time.Second), UpdatedAt: at},
		contactJSON{ID: "zone", Tags: []string{}, Custom: map[string]any{},
			CreatedAt: at.In(time.FixedZone("x", 5*3600+30*60)), UpdatedAt: at.Add(time.Nanosecond)},
	)
	return cases
}

func TestContactJSONMatchesMarshal(t *testing.T) {
	cases := contactJSONCases()
	for _, c := range cases {
		want, err := json.Marshal(c)
		require.NoError(t, err)
		got, ok := c.appendJSON(nil)
		require.True(t, ok)
		require.Equal(t, string(want), string(got))
	}
	next := "cursor<&>"
	for _, l := range []contactList{{Data: cases, NextCursor: &next}, {Data: []contactJSON{}}, {}} {
		want, err := json.Marshal(l)
		require.NoError(t, err)
		got, ok := l.appendJSON(nil)
		require.True(t, ok)
		require.Equal(t, string(want), string(got))
	}
}

// A custom value the fast path does not know gives way to json.Marshal,
// which writeJSON then uses: the answer is the same either way.
func TestWriteJSONFallsBackToMarshal(t *testing.T) {
	for _, custom := range []map[string]any{{"n": 7}, {"n": json.Number("1.50")}, {"nested": []any{"a"}}} {
		c := contactJSON{ID: "x", Tags: []string{}, Custom: custom}
		_, ok := c.appendJSON(nil)
		require.False(t, ok)
		rec := httptest.NewRecorder()
		writeJSON(rec, 200, contactList{Data: []contactJSON{c}})
		want, err := json.Marshal(contactList{Data: []contactJSON{c}})
		require.NoError(t, err)
		require.Equal(t, string(want)+"\n", rec.Body.String())
	}
	_, ok := contactJSON{Custom: map[string]any{"inf": math.Inf(1)}}.appendJSON(nil)
	require.False(t, ok)
	_, ok = contactJSON{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}.appendJSON(nil)
	require.False(t, ok)
}

func FuzzContactJSON(f *testing.F) {
	for _, s := range awkwardStrings {
		f.Add(s, s, 1.5, true)
	}
	f.Fuzz(func(t *testing.T, s, k string, n float64, flag bool) {
		c := contactJSON{ID: s, Name: k, Tags: []string{s, k}, Custom: map[string]any{k: s, s: n, "f": flag},
			CreatedAt: time.Unix(int64(n), 0).UTC()}
		want, err := json.Marshal(c)
		got, ok := c.appendJSON(nil)
		if err != nil {
			require.False(t, ok)
			return
		}
		require.True(t, ok)
		require.Equal(t, string(want), string(got))
	})
}
