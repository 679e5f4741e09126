package config

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, 8080, c.Port)
	require.Equal(t, EnvDevelopment, c.Env)
	require.True(t, filepath.IsAbs(c.DataDir))
	require.Equal(t, "var", filepath.Base(c.DataDir))
	require.True(t, c.Embedded())
	require.False(t, c.Production())
	require.Equal(t, 30*time.Second, c.ShutdownTimeout)
	require.EqualValues(t, 1<<20, c.MaxBodyBytes)
}

func TestLoadRejectsBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"port not a number", map[string]string{"PORT": "eighty"}, `PORT: "eighty" is not a whole number from 0 to 65535`},
		{"port too large", map[string]string{"PORT": "70000"}, "PORT:"},
		{"negative port", map[string]string{"PORT": "-1"}, "PORT:"},
		{"unknown env", map[string]string{"GROUNDWORK_ENV": "staging"}, `GROUNDWORK_ENV: "staging" is not one of development, production`},
		{"malformed database url", map[string]string{"DATABASE_URL": "postgres://u:p@host:notaport/db"}, "DATABASE_URL: not a valid PostgreSQL connection string"},
		{"owner without runtime", map[string]string{"DATABASE_OWNER_URL": "postgres://o@localhost/db"}, "DATABASE_OWNER_URL: set without DATABASE_URL"},
		{"bad duration", map[string]string{"GROUNDWORK_SHUTDOWN_TIMEOUT": "soon"}, "GROUNDWORK_SHUTDOWN_TIMEOUT:"},
		{"zero workers", map[string]string{"GROUNDWORK_QUEUE_DEFAULT_WORKERS": "0"}, "GROUNDWORK_QUEUE_DEFAULT_WORKERS:"},
		{"production without mail", map[string]string{"GROUNDWORK_ENV": "production"}, "SMTP_URL: required in production"},
		{"bad smtp url", map[string]string{"SMTP_URL": "mail.example.com"}, "SMTP_URL: not a mail server URL"},
		{"bad base url", map[string]string{"GROUNDWORK_BASE_URL": "example.com"}, "GROUNDWORK_BASE_URL:"},
		{"bad log level", map[string]string{"GROUNDWORK_LOG_LEVEL": "loud"}, "GROUNDWORK_LOG_LEVEL:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(env(tt.env))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantErr)
			require.NotContains(t, err.Error(), "\n", "errors are one line")
		})
	}
}

func TestLoadExternalDatabase(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"DATABASE_URL":       "postgres://groundwork_app:s3cret@db:5432/groundwork",
		"DATABASE_OWNER_URL": "host=db user=groundwork_owner password=0wner dbname=groundwork",
		"GROUNDWORK_ENV":     "production",
		"PORT":               "0",
		"SMTP_URL":           "smtp://mailer:pw@mail.example.com:587",
	}))
	require.NoError(t, err)
	require.False(t, c.Embedded())
	require.True(t, c.Production())
	require.Equal(t, 0, c.Port)
}

func TestPrintRedactsSecrets(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"DATABASE_URL":       "postgres://groundwork_app:s3cret@db:5432/groundwork?password=alsosecret",
		"DATABASE_OWNER_URL": "host=db user=groundwork_owner password=0wner dbname=groundwork",
	}))
	require.NoError(t, err)
	var buf bytes.Buffer
	c.Print(&buf)
	out := buf.String()
	for _, secret := range []string{"s3cret", "alsosecret", "0wner"} {
		require.NotContains(t, out, secret)
	}
	require.Contains(t, out, "DATABASE_URL=postgres://groundwork_app:xxxxx@db:5432/groundwork")
	require.Contains(t, out, "password=xxxxx")
}

func TestMalformedURLErrorHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{"DATABASE_URL": "postgres://u:hunter2@host:notaport/db"}))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

// TestEnvExampleDocumentsEveryVariable keeps .env.example and Print in step:
// every variable the configuration reads is documented there.
func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../.env.example")
	require.NoError(t, err)
	defer f.Close()
	documented := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if name, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			documented[name] = true
		}
	}
	c, err := Load(env(nil))
	require.NoError(t, err)
	var buf bytes.Buffer
	c.Print(&buf)
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		name, _, _ := strings.Cut(line, "=")
		require.True(t, documented[name], "%s is missing from .env.example", name)
	}
}
