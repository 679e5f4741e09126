package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	many := strings.TrimSuffix(strings.Repeat("198.51.100.9, ", 21), ", ")
	long := strings.Repeat(" ", 2048) + "198.51.100.9"
	for _, tt := range []struct {
		name    string
		peer    string
		trusted []netip.Prefix
		xff     []string
		want    string
	}{
		{"no header", "203.0.113.5:4000", proxies, nil, "203.0.113.5"},
		{"untrusted peer: forged header ignored", "203.0.113.5:4000", proxies, []string{"198.51.100.7"}, "203.0.113.5"},
		{"no trusted proxies: header ignored", "10.0.0.1:4000", nil, []string{"198.51.100.7"}, "10.0.0.1"},
		{"trusted proxy", "10.0.0.1:4000", proxies, []string{"198.51.100.7"}, "198.51.100.7"},
		{"right-most untrusted wins", "10.0.0.1:4000", proxies, []string{"6.6.6.6, 198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"several header lines", "10.0.0.1:4000", proxies, []string{"6.6.6.6", "198.51.100.7,10.0.0.2"}, "198.51.100.7"},
		{"garbage", "10.0.0.1:4000", proxies, []string{"not-an-ip"}, "10.0.0.1"},
		{"garbage right of the client", "10.0.0.1:4000", proxies, []string{"198.51.100.7, <script>"}, "10.0.0.1"},
		{"garbage left of the client is the client's business", "10.0.0.1:4000", proxies, []string{"<script>, 198.51.100.7"}, "198.51.100.7"},
		{"empty entry", "10.0.0.1:4000", proxies, []string{"198.51.100.7,,10.0.0.2"}, "10.0.0.1"},
		{"empty header", "10.0.0.1:4000", proxies, []string{""}, "10.0.0.1"},
		{"too many entries", "10.0.0.1:4000", proxies, []string{many}, "10.0.0.1"},
		{"too long", "10.0.0.1:4000", proxies, []string{long}, "10.0.0.1"},
		{"all trusted: left-most", "10.0.0.1:4000", proxies, []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"entry with port", "10.0.0.1:4000", proxies, []string{"198.51.100.7:5555"}, "198.51.100.7"},
		{"IPv6 entry with port", "10.0.0.1:4000", proxies, []string{"[2001:db8::7]:5555"}, "2001:db8::7"},
		{"IPv6 proxy", "[::1]:4000", proxies, []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:4000", proxies, []string{"198.51.100.7"}, "198.51.100.7"},
		{"IPv4-mapped entry", "10.0.0.1:4000", proxies, []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"peer that is not an IP", "pipe", proxies, []string{"198.51.100.7"}, "pipe"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got gw.Client
			h := wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = gw.ClientFrom(r.Context())
			}), Deps{TrustedProxies: tt.trusted}, nil)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.peer
			r.Header.Set("User-Agent", "test-agent")
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			w := serve(h, r)
			require.Equal(t, http.StatusOK, w.Code)
			require.Equal(t, tt.want, got.IP)
			require.Equal(t, "test-agent", got.UserAgent)
		})
	}
}
