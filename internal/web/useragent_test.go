package web

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestShortDevice(t *testing.T) {
	t.Parallel()
	for ua, want := range map[string]string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                   "Chrome on macOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":           "Edge on Windows",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                                  "Firefox on Linux",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                   "Chrome on Android",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36":                           "Headless Chrome on Linux",
		"curl/8.5.0":                    "curl",
		"Go-http-client/1.1":            "Go-http-client",
		"Mozilla/5.0 (scenario test)":   "Mozilla",
		"":                              "Unknown device",
		"Mozilla/5.0 (Windows NT 10.0)": "Browser on Windows",
	} {
		require.Equal(t, want, shortDevice(ua), ua)
	}
}

func TestAuditChanges(t *testing.T) {
	t.Parallel()
	changes, ok := auditChanges([]byte(`{"name":"Ada","tags":["a"],"company":"X"}`), []byte(`{"name":"Ada King","tags":["a"],"phone":"[redacted]"}`))
	require.True(t, ok)
	require.Equal(t, []fieldChange{
		{Field: "company", Before: "X", Removed: true},
		{Field: "name", Before: "Ada", After: "Ada King"},
		{Field: "phone", After: "[redacted]", Added: true},
	}, changes)
	changes, ok = auditChanges(nil, []byte(`{"role":"member"}`))
	require.True(t, ok)
	require.Equal(t, []fieldChange{{Field: "role", After: "member"}}, changes, "a creation lists its fields")
	_, ok = auditChanges(nil, []byte(`[1,2]`))
	require.False(t, ok, "not an object: shown as it is")
}
