package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// The session store (alexedwards/scs, table sessions) keeps the sessions
// themselves; the Service keeps an index of which belong to which user
// (table user_sessions), for "your sessions" pages and for signing a user
// out everywhere.

const (
	// touchInterval is how stale last_seen_at may get: TouchSession writes
	// at most once per interval per session.
	touchInterval = time.Minute
	// pruneGrace keeps a fresh index row whose session the store has not
	// saved yet (it saves at the end of the request).
	pruneGrace = time.Hour
	// Longest IP and user agent kept.
	maxIPLen        = 64
	maxUserAgentLen = 512
)

// Session is one signed-in browser session of a user.
type Session struct {
	// ID identifies the session without revealing its token: the SHA-256
	// of the token in hex (see SessionID). Pass it to RevokeSession.
	ID         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	IP         string
	UserAgent  string
	// Current marks the caller's own session. Sessions cannot know which
	// that is and leaves it false; MarkCurrent sets it.
	Current bool
}

// MarkCurrent sets Current on the session of sessions whose token is
// token, the caller's own.
func MarkCurrent(sessions []Session, token string) {
	id := SessionID(token)
	for i := range sessions {
		sessions[i].Current = sessions[i].ID == id
	}
}

// SessionID returns the public ID of the session with the given token, as
// in Session.ID; compare it to mark the caller's own session in a list.
func SessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// RecordSession indexes a new session token of a user, with the client's
// IP and user agent, and forgets index rows of the user's ended sessions.
// Call it when signing the user in, after renewing the session token.
// Errors: EINVALID for an unknown user.
func (s *Service) RecordSession(ctx context.Context, userID, token, ip, userAgent string) error {
	if !gw.ValidID(userID) || token == "" {
		return gw.Errorf(gw.EINVALID, "A session needs a user and a token.")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		if err := upsertSession(ctx, tx, userID, SessionID(token), truncate(ip, maxIPLen), truncate(userAgent, maxUserAgentLen), now); err != nil {
			return err
		}
		if err := pruneSessions(ctx, tx, userID, now, pruneGrace); err != nil {
			return err
		}
		return auditSignIn(ctx, tx, userID, SessionID(token), truncate(ip, maxIPLen), truncate(userAgent, maxUserAgentLen))
	})
}

// TouchSession notes that a session was used now. It writes at most once a
// minute per session, so it is cheap to call on every request.
func (s *Service) TouchSession(ctx context.Context, token string) error {
	return touchSession(ctx, s.pool, SessionID(token), s.now(), touchInterval)
}

// Sessions lists a user's unexpired sessions, most recently used first.
func (s *Service) Sessions(ctx context.Context, userID string) ([]Session, error) {
	if !gw.ValidID(userID) {
		return nil, nil
	}
	return listSessions(ctx, s.pool, userID, s.now())
}

// RevokeSession signs out one session of a user, by its ID (Session.ID).
// Errors: ENOTFOUND when the user has no such session.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID string) error {
	if !gw.ValidID(userID) || len(sessionID) != sha256.Size*2 {
		return gw.Errorf(gw.ENOTFOUND, "Session not found.")
	}
	_, matched, err := deleteSessions(ctx, s.pool, userID, "", sessionID, s.now())
	if err != nil {
		return err
	}
	if matched == 0 {
		return gw.Errorf(gw.ENOTFOUND, "Session not found.")
	}
	return nil
}

// RevokeOtherSessions signs out every session of a user except the one
// with keepToken, and returns how many unexpired sessions it ended.
func (s *Service) RevokeOtherSessions(ctx context.Context, userID, keepToken string) (int, error) {
	if !gw.ValidID(userID) {
		return 0, nil
	}
	if keepToken == "" {
		return 0, gw.Errorf(gw.EINVALID, "No session to keep.")
	}
	live, _, err := deleteSessions(ctx, s.pool, userID, SessionID(keepToken), "", s.now())
	return live, err
}

// RevokeAllSessions signs out every session of a user.
func (s *Service) RevokeAllSessions(ctx context.Context, userID string) error {
	if !gw.ValidID(userID) {
		return nil
	}
	_, _, err := deleteSessions(ctx, s.pool, userID, "", "", s.now())
	return err
}

// truncate shortens s to at most n bytes, on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
