package config

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/ratelimit"
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
		{"sentry dsn without key", map[string]string{"SENTRY_DSN": "https://o1.ingest.sentry.io/42"}, "SENTRY_DSN: not a Sentry DSN such as https://PUBLIC_KEY@o0.ingest.sentry.io/PROJECT_ID (empty username)"},
		{"sentry dsn not a url", map[string]string{"SENTRY_DSN": "sentry.example.com"}, "SENTRY_DSN: not a Sentry DSN"},
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

// TestReplicaSettings: DATABASE_REPLICA_URL is optional, validated and
// redacted like the other database URLs; the replica's lag allowance
// defaults to 30 s.
func TestReplicaSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Empty(t, c.DatabaseReplicaURL)
	require.Equal(t, 30*time.Second, c.ReplicaMaxLag)
	c, err = Load(env(map[string]string{"DATABASE_REPLICA_URL": "postgres://groundwork_app:r3plica@replica:5432/groundwork",
		"GROUNDWORK_REPLICA_MAX_LAG": "2m"}))
	require.NoError(t, err)
	require.Equal(t, 2*time.Minute, c.ReplicaMaxLag)
	var buf bytes.Buffer
	c.Print(&buf)
	require.NotContains(t, buf.String(), "r3plica")
	require.Contains(t, buf.String(), "DATABASE_REPLICA_URL=postgres://groundwork_app:xxxxx@replica:5432/groundwork")
	_, err = Load(env(map[string]string{"DATABASE_REPLICA_URL": "postgres://u:p@host:notaport/db"}))
	require.ErrorContains(t, err, "DATABASE_REPLICA_URL: not a valid PostgreSQL connection string")
}

func TestPrintRedactsKeysets(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"GROUNDWORK_ENCRYPTION_KEYSET": `{"primaryKeyId":1,"key":[{"keyData":{"value":"s3cretkey"}}]}`,
	}))
	require.NoError(t, err)
	require.Contains(t, c.EncryptionKeyset, "s3cretkey", "kept for internal/crypto to parse")
	var buf bytes.Buffer
	c.Print(&buf)
	require.NotContains(t, buf.String(), "s3cretkey")
	require.Contains(t, buf.String(), "GROUNDWORK_ENCRYPTION_KEYSET=xxxxx\n")
	require.Contains(t, buf.String(), "GROUNDWORK_BLIND_INDEX_KEYSET=\n", "unset stays empty")
}

func TestSentryDSN(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Empty(t, c.SentryDSN, "off by default")

	c, err = Load(env(map[string]string{"SENTRY_DSN": " https://pub:legacysecret@o1.ingest.sentry.io/42 "}))
	require.NoError(t, err)
	require.Equal(t, "https://pub:legacysecret@o1.ingest.sentry.io/42", c.SentryDSN)
	var buf bytes.Buffer
	c.Print(&buf)
	require.Contains(t, buf.String(), "SENTRY_DSN=https://xxxxx:xxxxx@o1.ingest.sentry.io/42\n", "both keys hidden")

	_, err = Load(env(map[string]string{"SENTRY_DSN": "https://pub:legacysecret@host:port/42"}))
	require.ErrorContains(t, err, "SENTRY_DSN: not a Sentry DSN")
	require.NotContains(t, err.Error(), "legacysecret")
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

// TestEnvExampleCanBeSourced sources .env.example in bash, as its header
// says to, and loads the configuration from the result: it must be the
// default configuration, since every value shown is the default.
func TestEnvExampleCanBeSourced(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("bash", "-c", `set -euo pipefail; set -a; . ./.env.example; set +a; env -0`)
	cmd.Dir = "../.."
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "source .env.example: %s", stderr.String())
	sourced := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			sourced[k] = v
		}
	}
	require.Equal(t, "Groundwork <no-reply@localhost>", sourced["GROUNDWORK_MAIL_FROM"])
	defaults, err := Load(env(nil))
	require.NoError(t, err)
	got, err := Load(func(name string) string { return sourced[name] })
	require.NoError(t, err)
	var want, have bytes.Buffer
	defaults.Print(&want)
	got.Print(&have)
	require.Equal(t, want.String(), have.String(), ".env.example shows a value that is not the default")
}

func TestLoadHost(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", c.Host, "development listens on loopback")
	c, err = Load(env(map[string]string{"GROUNDWORK_ENV": "production", "SMTP_URL": "smtp://mail.example.com:587"}))
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0", c.Host, "production listens on every interface")
	c, err = Load(env(map[string]string{"HOST": "::"}))
	require.NoError(t, err)
	require.Equal(t, "::", c.Host)
	_, err = Load(env(map[string]string{"HOST": "0.0.0.0:8080"}))
	require.ErrorContains(t, err, "HOST: must be an IP address or a host name, without a port")
}

func TestLoadRateLimitSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Empty(t, c.RedisURL)
	require.Empty(t, c.TrustedProxies)
	require.Equal(t, ratelimit.DefaultPolicies(), c.RateLimits)
	require.Equal(t, ratelimit.Limit{Count: 20, Period: time.Minute}, c.RateLimits[ratelimit.LoginIP])

	c, err = Load(env(map[string]string{
		"REDIS_URL":                     "redis://:s3cret@redis.internal:6379/0",
		"GROUNDWORK_TRUSTED_PROXIES":    " 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::ffff:198.51.100.1, 203.0.113.9/24",
		"GROUNDWORK_RATE_LOGIN_IP":      "5/min",
		"GROUNDWORK_RATE_API_KEY":       "off",
		"GROUNDWORK_RATE_LOGIN_ACCOUNT": "3/15m",
	}))
	require.NoError(t, err)
	require.Equal(t, "redis://:s3cret@redis.internal:6379/0", c.RedisURL)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("198.51.100.1/32"),
		netip.MustParsePrefix("203.0.113.0/24"),
	}, c.TrustedProxies)
	require.Equal(t, ratelimit.Limit{Count: 5, Period: time.Minute}, c.RateLimits[ratelimit.LoginIP])
	require.Equal(t, ratelimit.Limit{Count: 3, Period: 15 * time.Minute}, c.RateLimits[ratelimit.LoginAccount])
	require.True(t, c.RateLimits[ratelimit.APIKey].Unlimited())
	require.Equal(t, ratelimit.DefaultPolicies()[ratelimit.Search], c.RateLimits[ratelimit.Search])

	var buf bytes.Buffer
	c.Print(&buf)
	out := buf.String()
	require.NotContains(t, out, "s3cret")
	require.Contains(t, out, "REDIS_URL=redis://:xxxxx@redis.internal:6379/0\n")
	require.Contains(t, out, "GROUNDWORK_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7/32,2001:db8::/32,198.51.100.1/32,203.0.113.0/24\n")
	require.Contains(t, out, "GROUNDWORK_RATE_LOGIN_IP=5/min\n")
	require.Contains(t, out, "GROUNDWORK_RATE_API_KEY=off\n")
}

func TestLoadRejectsBadRateLimitSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"limit without period", map[string]string{"GROUNDWORK_RATE_LOGIN_IP": "20"}, `GROUNDWORK_RATE_LOGIN_IP: "20" is not a limit such as 20/min`},
		{"unknown period", map[string]string{"GROUNDWORK_RATE_SEARCH": "20/fortnight"}, "GROUNDWORK_RATE_SEARCH:"},
		{"zero count", map[string]string{"GROUNDWORK_RATE_TWO_FACTOR": "0/min"}, "GROUNDWORK_RATE_TWO_FACTOR:"},
		{"bad proxy", map[string]string{"GROUNDWORK_TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, `GROUNDWORK_TRUSTED_PROXIES: "proxy.internal" is not an IP address or CIDR`},
		{"bad cidr", map[string]string{"GROUNDWORK_TRUSTED_PROXIES": "10.0.0.0/33"}, "GROUNDWORK_TRUSTED_PROXIES:"},
		{"bad redis scheme", map[string]string{"REDIS_URL": "http://redis.internal:6379"}, "REDIS_URL: not a Redis URL"},
		{"bad redis url hides password", map[string]string{"REDIS_URL": "redis://:hunter2@redis:notaport"}, "REDIS_URL: not a Redis URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(env(tt.env))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantErr)
			require.NotContains(t, err.Error(), "hunter2")
			require.NotContains(t, err.Error(), "\n", "errors are one line")
		})
	}
}
