package contacts

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// customTexts are custom columns as jsonb prints them, and texts the fast
// path must hand to json.Unmarshal.
var customTexts = []string{
	`{}`, ` { } `, `{"n": 1, "tier": "gold", "active": true}`, `{"a": null, "b": false, "c": -0.5e-3, "d": 1E+21}`,
	`{"café": "東京 🎉", "x": "<&>"}`, `{"esc": "a\"b\\c\u00e9\n"}`, `{"k": 12345678901234567890123}`,
	`{"nested": {"a": 1}}`, `{"arr": [1, 2]}`, `{"a": 1,}`, `{"a" 1}`, `{"a": 01}`, `{"a": 1.}`, `{"a": +1}`,
	`{"a": tru}`, `{"a": 1} x`, `[]`, `{"a": 1e400}`, `{"dup": 1, "dup": 2}`, "{\"bad\": \"\xff\"}", `{"a": -}`,
	`{"a": 0.1e-2, "b": -0, "c": 0}`,
}

func TestDecodeCustomMatchesUnmarshal(t *testing.T) {
	for _, text := range customTexts {
		checkDecodeCustom(t, text)
	}
}

func FuzzDecodeCustom(f *testing.F) {
	for _, text := range customTexts {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) { checkDecodeCustom(t, text) })
}

// checkDecodeCustom checks that decodeCustom(text) is json.Unmarshal's
// answer: the same map, or an error for an error.
func checkDecodeCustom(t *testing.T, text string) {
	t.Helper()
	var want map[string]any
	wantErr := json.Unmarshal([]byte(text), &want)
	got, err := decodeCustom([]byte(text))
	if wantErr != nil {
		require.Error(t, err, text)
		return
	}
	require.NoError(t, err, text)
	if want == nil { // "null"
		require.Nil(t, got)
		return
	}
	require.Equal(t, want, got, text)
}
