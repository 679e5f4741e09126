package web

import (
	"net"
	"net/http"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// withClient puts the client's IP and user agent in the request context
// (gw.ClientFrom), for audit records, rate limits and the sessions list.
// The IP is the peer's address.
func withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		ctx := gw.WithClient(r.Context(), gw.Client{IP: ip, UserAgent: r.UserAgent()})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
