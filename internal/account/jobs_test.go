package account_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
)

func TestDeleteEndedSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "grace@example.com")
	b.addSession(t, u.ID, "ending", b.clock.Now().Add(time.Minute))
	b.addSession(t, u.ID, "lasting", b.clock.Now().Add(48*hour))
	count := func(table string) int {
		var n int
		require.NoError(t, b.db.Runtime.QueryRow(b.ctx, `SELECT count(*) FROM `+table).Scan(&n))
		return n
	}
	require.Equal(t, 2, count("sessions"))

	b.clock.Advance(2 * hour)
	n, err := b.svc.DeleteEndedSessions(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.Equal(t, 1, count("sessions"))
	require.Equal(t, 1, count("user_sessions"), "the ended session's index row went with it")

	sessions, err := b.svc.Sessions(b.ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	require.Equal(t, account.SessionID("lasting"), sessions[0].ID)
}
