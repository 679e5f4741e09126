package main

import (
	"net/http"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/config"
)

// newSessions is the session manager: cookie gw_session (HttpOnly,
// SameSite=Lax, Secure in production), stored in PostgreSQL, with idle and
// absolute timeouts. Ended sessions are deleted by the account module's
// periodic job, not by the store's own goroutine.
func newSessions(pool *pgxpool.Pool, cfg config.Config) *scs.SessionManager {
	sm := scs.New()
	sm.Store = pgxstore.NewWithCleanupInterval(pool, 0)
	sm.IdleTimeout = cfg.SessionIdleTimeout
	sm.Lifetime = cfg.SessionLifetime
	sm.Cookie.Name = "gw_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = cfg.Production()
	sm.Cookie.Path = "/"
	return sm
}
