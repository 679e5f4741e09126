package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Bounds on the X-Forwarded-For header: a longer one is ignored.
const (
	maxForwardedForBytes   = 2 << 10
	maxForwardedForEntries = 20
)

// withClient puts the client's IP and user agent in the request context
// (gw.ClientFrom), for audit records, rate limits and the sessions list.
// The IP is clientIP's.
func withClient(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := gw.WithClient(r.Context(), gw.Client{IP: clientIP(r, trusted), UserAgent: r.UserAgent()})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// clientIP returns the IP of the client that sent r. It is the connection's
// peer, unless the peer is one of the trusted proxies: then it is the
// right-most address of X-Forwarded-For that is not a trusted proxy (each
// proxy appends the address it received the request from, so addresses to
// the right of the last untrusted one are vouched for, and anything to its
// left is whatever the client chose to send). If every address is a trusted
// proxy, it is the left-most. An X-Forwarded-For that is absent, longer than
// 2 KiB or 20 entries, or has an entry that is not an IP address before an
// untrusted one is found, is ignored: the client is the peer.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseIP(r.RemoteAddr)
	if !ok {
		// Not an IP (e.g. a Unix socket, or a test's made-up address): keep it as is.
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			return host
		}
		return r.RemoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	values := r.Header.Values("X-Forwarded-For")
	size, entries := 0, 0
	for _, v := range values {
		size += len(v)
		entries += strings.Count(v, ",") + 1
	}
	if len(values) == 0 || size > maxForwardedForBytes || entries > maxForwardedForEntries {
		return peer.String()
	}
	// Walk from the right: the last header line's last entry was added by
	// the proxy nearest to us.
	var leftmost netip.Addr
	for i := len(values) - 1; i >= 0; i-- {
		list := values[i]
		for list != "" {
			var item string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, item = list[:j], list[j+1:]
			} else {
				list, item = "", list
			}
			a, ok := parseIP(strings.TrimSpace(item))
			if !ok {
				return peer.String()
			}
			if !isTrusted(a, trusted) {
				return a.String()
			}
			leftmost = a
		}
	}
	if !leftmost.IsValid() { // an empty header
		return peer.String()
	}
	return leftmost.String()
}

// parseIP reads an IP address, with or without a port ("192.0.2.1",
// "192.0.2.1:443", "[2001:db8::1]:443", "2001:db8::1"), and returns it
// without zone, IPv4-mapped IPv6 addresses as IPv4.
func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// isTrusted reports whether a is in one of the trusted prefixes.
func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
