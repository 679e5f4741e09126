package account

import (
	"context"
	"errors"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// tombstoneTTL is how long a revoked session's row outlives its
// revocation. A request that loaded the session before the revocation
// commits it at its end; the tombstone makes that commit a no-op. An hour
// is far longer than any request may run (the server's write timeout).
const tombstoneTTL = time.Hour

// SessionStore is the scs session store of web sessions, in the table
// sessions. It differs from a plain key/value store in two ways, both
// following OWASP's session management guidance (and what Rails and Django
// do with server-side sessions):
//
//   - It stores only the SHA-256 of each token (SessionID), so a reader of
//     the database cannot take over a session.
//   - Deleting a session (log-out, "sign out other sessions", a password
//     change or reset) marks it revoked instead of removing the row, and
//     Commit never writes over a revoked row. Without that, a request in
//     flight with the session loaded would write it back when it ends, and
//     the revoked session would live on.
type SessionStore struct {
	pool *pgxpool.Pool
}

var _ scs.CtxStore = (*SessionStore)(nil)

// NewSessionStore returns the session store on pool, whose role must read
// and write the sessions table.
func NewSessionStore(pool *pgxpool.Pool) *SessionStore {
	return &SessionStore{pool: pool}
}

// FindCtx returns the data of the unexpired, unrevoked session with token.
func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM sessions
		WHERE token_hash = $1 AND revoked_at IS NULL AND expiry > now()`, SessionID(token)).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, postgres.Translate(err)
	}
	return data, true, nil
}

// CommitCtx saves a session's data and expiry, unless it was revoked.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (token_hash, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token_hash) DO UPDATE SET data = excluded.data, expiry = excluded.expiry
		WHERE sessions.revoked_at IS NULL`, SessionID(token), data, expiry)
	return postgres.Translate(err)
}

// DeleteCtx revokes the session with token, leaving a tombstone even when
// the session was never saved (a request in flight may save it yet).
func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (token_hash, data, expiry, revoked_at)
		VALUES ($1, '', now() + make_interval(secs => $2), now())
		ON CONFLICT (token_hash) DO UPDATE SET data = '', expiry = excluded.expiry,
			revoked_at = coalesce(sessions.revoked_at, excluded.revoked_at)`, SessionID(token), tombstoneTTL.Seconds())
	return postgres.Translate(err)
}

// Find is FindCtx without a context.
func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context.
func (s *SessionStore) Commit(token string, data []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, data, expiry)
}

// Delete is DeleteCtx without a context.
func (s *SessionStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
