package main

import (
	"net/http"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/config"
)

// newSessions is the session manager: cookie gw_session (HttpOnly,
// SameSite=Lax; Secure and named __Host-gw_session in production), stored
// in PostgreSQL by
// account.SessionStore (token hashes, revocation that sticks), with idle and
// absolute timeouts. Ended sessions are deleted by the account module's
// periodic job.
func newSessions(pool *pgxpool.Pool, cfg config.Config) *scs.SessionManager {
	sm := scs.New()
	sm.Store = account.NewSessionStore(pool)
	sm.IdleTimeout = cfg.SessionIdleTimeout
	sm.Lifetime = cfg.SessionLifetime
	sm.Cookie.Name = "gw_session"
	if cfg.Production() {
		// The __Host- prefix makes the browser refuse the cookie unless it
		// is Secure, for Path=/ and without a Domain: a sibling subdomain
		// or a plain-HTTP page cannot plant or overwrite a session cookie
		// (session fixation).
		sm.Cookie.Name = "__Host-gw_session"
	}
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = cfg.Production()
	sm.Cookie.Path = "/"
	return sm
}
