package account_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

func TestSessionsListTouchAndRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "barbara@example.com")
	other := b.verifiedUser(t, "tim@example.com")
	start := b.clock.Now()

	b.addSession(t, u.ID, "desktop", start.Add(24*hour))
	b.clock.Advance(time.Minute)
	b.addSession(t, u.ID, "phone", start.Add(24*hour))
	b.addSession(t, u.ID, "expired", start.Add(30*time.Second))
	b.addSession(t, other.ID, "tims", start.Add(24*hour))
	// Indexed, but not (yet) saved by the session store: not listed.
	require.NoError(t, b.svc.RecordSession(b.ctx, u.ID, "unsaved", "198.51.100.1", "Other"))

	list, err := b.svc.Sessions(b.ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, account.SessionID("phone"), list[0].ID, "most recently seen first")
	require.Equal(t, account.SessionID("desktop"), list[1].ID)
	require.Len(t, list[0].ID, 64)
	require.Equal(t, "203.0.113.7", list[0].IP)
	require.Equal(t, "TestBrowser/1.0", list[0].UserAgent)
	require.True(t, list[1].CreatedAt.Equal(start))
	account.MarkCurrent(list, "desktop")
	require.False(t, list[0].Current)
	require.True(t, list[1].Current)

	// Touching writes at most once a minute.
	b.clock.Advance(30 * time.Second)
	require.NoError(t, b.svc.TouchSession(b.ctx, "phone"))
	list, err = b.svc.Sessions(b.ctx, u.ID)
	require.NoError(t, err)
	require.True(t, list[0].LastSeenAt.Equal(start.Add(time.Minute)), "seen 30s ago: not written again yet")
	b.clock.Advance(time.Minute)
	require.NoError(t, b.svc.TouchSession(b.ctx, "desktop"))
	require.NoError(t, b.svc.TouchSession(b.ctx, "no such token"))
	list, err = b.svc.Sessions(b.ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, account.SessionID("desktop"), list[0].ID)
	require.True(t, list[0].LastSeenAt.Equal(b.clock.Now()))

	// One user cannot revoke another's session.
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.RevokeSession(b.ctx, u.ID, account.SessionID("tims")))
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.RevokeSession(b.ctx, u.ID, "short"))
	require.Equal(t, 1, b.storedSessions(t, "tims"))

	require.NoError(t, b.svc.RevokeSession(b.ctx, u.ID, account.SessionID("phone")))
	require.Zero(t, b.storedSessions(t, "phone"))
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.RevokeSession(b.ctx, u.ID, account.SessionID("phone")))

	b.addSession(t, u.ID, "tablet", b.clock.Now().Add(hour))
	n, err := b.svc.RevokeOtherSessions(b.ctx, u.ID, "desktop")
	require.NoError(t, err)
	require.Equal(t, 1, n, "the tablet; the expired one does not count")
	list, err = b.svc.Sessions(b.ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, account.SessionID("desktop"), list[0].ID)

	require.NoError(t, b.svc.RevokeAllSessions(b.ctx, u.ID))
	require.Zero(t, b.storedSessions(t, "desktop", "tablet"))
	list, err = b.svc.Sessions(b.ctx, u.ID)
	require.NoError(t, err)
	require.Empty(t, list)
	require.Equal(t, 1, b.storedSessions(t, "tims"), "other users keep theirs")
}

func TestRecordSessionPrunesEndedSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "margaret@example.com")
	b.addSession(t, u.ID, "old", b.clock.Now().Add(time.Minute))
	require.NoError(t, b.svc.RecordSession(b.ctx, u.ID, "never-saved", "", ""))
	indexed := func() int {
		var n int
		require.NoError(t, b.db.Runtime.QueryRow(b.ctx, `SELECT count(*) FROM user_sessions WHERE user_id = $1`, u.ID).Scan(&n))
		return n
	}

	b.addSession(t, u.ID, "fresh", b.clock.Now().Add(24*hour))
	require.Equal(t, 3, indexed(), "young rows are kept: the store may not have saved them yet")

	b.clock.Advance(2 * hour)
	b.addSession(t, u.ID, "new", b.clock.Now().Add(24*hour))
	require.Equal(t, 2, indexed(), "ended and never-saved sessions are forgotten")

	err := b.svc.RecordSession(b.ctx, gw.NewID(), "x", "", "")
	gwtest.RequireCode(t, gw.EINVALID, err)
}
