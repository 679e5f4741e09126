package account_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
)

// The store keeps only the SHA-256 of a token, a revoked session is never
// found again, and a commit that arrives after the revocation (a request
// that loaded the session before it) does not bring it back.
func TestSessionStoreHashesTokensAndRevocationSticks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	store := account.NewSessionStore(b.db.Runtime)
	token := strings.Repeat("k", 43)
	expiry := time.Now().Add(time.Hour)

	require.NoError(t, store.CommitCtx(b.ctx, token, []byte("data"), expiry))
	var stored string
	require.NoError(t, b.db.Runtime.QueryRow(b.ctx, `SELECT token_hash FROM sessions`).Scan(&stored))
	require.Equal(t, account.SessionID(token), stored, "only the hash is stored")
	require.NotContains(t, stored, token)

	data, found, err := store.FindCtx(b.ctx, token)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, []byte("data"), data)

	require.NoError(t, store.DeleteCtx(b.ctx, token))
	_, found, err = store.FindCtx(b.ctx, token)
	require.NoError(t, err)
	require.False(t, found, "revoked")

	// The request in flight ends and saves the session it loaded.
	require.NoError(t, store.CommitCtx(b.ctx, token, []byte("data"), expiry))
	_, found, err = store.FindCtx(b.ctx, token)
	require.NoError(t, err)
	require.False(t, found, "a commit after the revocation does not revive it")

	// A session revoked before it was ever saved stays revoked too.
	unsaved := strings.Repeat("u", 43)
	require.NoError(t, store.DeleteCtx(b.ctx, unsaved))
	require.NoError(t, store.CommitCtx(b.ctx, unsaved, []byte("data"), expiry))
	_, found, err = store.FindCtx(b.ctx, unsaved)
	require.NoError(t, err)
	require.False(t, found)

	// Expired sessions are not found.
	old := strings.Repeat("o", 43)
	require.NoError(t, store.CommitCtx(b.ctx, old, []byte("data"), time.Now().Add(-time.Second)))
	_, found, err = store.FindCtx(b.ctx, old)
	require.NoError(t, err)
	require.False(t, found)
}
