package contacts

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestCanonicalID: the fast path for IDs already in PostgreSQL's form and
// the parse for the rest give the same associated data.
func TestCanonicalID(t *testing.T) {
	t.Parallel()
	id := gw.NewID()
	require.Equal(t, id, canonicalID(id))
	require.Equal(t, id, canonicalID(strings.ToUpper(id)))
	require.Equal(t, id, canonicalID("{"+id+"}"))
	require.Equal(t, id, canonicalID(strings.ReplaceAll(id, "-", "")))
	require.Equal(t, "not-an-id", canonicalID("not-an-id"))
	require.True(t, isCanonicalUUID(id))
	for _, bad := range []string{"", strings.ToUpper(id), id[:35] + "g", id[:8] + "x" + id[9:], id + "0"} {
		require.False(t, isCanonicalUUID(bad), bad)
	}
	require.Equal(t, fieldAD("email", id, id).String(), fieldAD("email", strings.ToUpper(id), id).String())
}
