package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTransactionPooler(t *testing.T) {
	t.Parallel()
	const (
		pooled = "postgres://app:pw@pooler:6432/groundwork"
		direct = "postgres://app:pw@db:5432/groundwork"
		owner  = "postgres://owner:pw@db:5432/groundwork"
	)
	c, err := Load(env(map[string]string{"DATABASE_URL": pooled, "DATABASE_OWNER_URL": owner,
		"DATABASE_POOLER": "transaction", "DATABASE_DIRECT_URL": direct}))
	require.NoError(t, err)
	require.True(t, c.TransactionPooled())
	require.Equal(t, pooled+"?default_query_exec_mode=cache_describe", c.DatabaseURL, "no named prepared statements through the pooler")
	require.Equal(t, direct, c.DatabaseDirectURL)

	c, err = Load(env(map[string]string{"DATABASE_URL": pooled + "?default_query_exec_mode=simple_protocol", "DATABASE_POOLER": "transaction", "DATABASE_DIRECT_URL": direct}))
	require.NoError(t, err)
	require.Equal(t, pooled+"?default_query_exec_mode=simple_protocol", c.DatabaseURL, "a working mode is kept")

	c, err = Load(env(map[string]string{"DATABASE_URL": pooled}))
	require.NoError(t, err)
	require.False(t, c.TransactionPooled())
	require.Equal(t, pooled, c.DatabaseURL, "without a pooler the URL is left alone")

	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"embedded cluster", map[string]string{"DATABASE_POOLER": "transaction"}, "the embedded cluster has no pooler"},
		{"prepared statements", map[string]string{"DATABASE_URL": pooled + "?default_query_exec_mode=cache_statement",
			"DATABASE_POOLER": "transaction", "DATABASE_DIRECT_URL": direct}, "default_query_exec_mode=cache_statement cannot work behind a transaction pooler"},
		{"migrations through the pooler", map[string]string{"DATABASE_URL": pooled, "DATABASE_OWNER_URL": "postgres://owner:pw@pooler:6432/groundwork",
			"DATABASE_POOLER": "transaction", "DATABASE_DIRECT_URL": direct}, "DATABASE_OWNER_URL: with DATABASE_POOLER=transaction it must reach PostgreSQL directly"},
		{"no direct URL", map[string]string{"DATABASE_URL": pooled, "DATABASE_POOLER": "transaction"}, "DATABASE_DIRECT_URL: required"},
		{"direct URL is the pooler", map[string]string{"DATABASE_URL": pooled, "DATABASE_POOLER": "transaction", "DATABASE_DIRECT_URL": pooled},
			"DATABASE_DIRECT_URL: names the same host and port"},
		{"unknown pooler", map[string]string{"DATABASE_URL": pooled, "DATABASE_POOLER": "statement"}, "DATABASE_POOLER"},
	} {
		_, err := Load(env(tt.env))
		require.ErrorContains(t, err, tt.want, tt.name)
	}
}
