package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/config"
)

// In production the session cookie carries the __Host- prefix, which
// browsers accept only when it is Secure, on Path=/ and without a Domain.
func TestSessionCookieIsHostPrefixedInProduction(t *testing.T) {
	dev := newSessions(nil, config.Config{Env: config.EnvDevelopment})
	require.Equal(t, "gw_session", dev.Cookie.Name)
	require.False(t, dev.Cookie.Secure)

	prod := newSessions(nil, config.Config{Env: config.EnvProduction})
	require.Equal(t, "__Host-gw_session", prod.Cookie.Name)
	require.True(t, prod.Cookie.Secure)
	require.Equal(t, "/", prod.Cookie.Path)
	require.Empty(t, prod.Cookie.Domain)
}
