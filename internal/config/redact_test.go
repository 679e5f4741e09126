package config

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRedact: every form a secret takes in a connection string is hidden,
// and what is not secret stays as it was.
func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		secrets        []string // must not appear in the output
	}{
		{"empty", "", "", nil},
		{"url password", "postgres://app:s3cret@db:5432/gw", "postgres://app:xxxxx@db:5432/gw", []string{"s3cret"}},
		{"url without password", "postgres://app@db:5432/gw?sslmode=require", "postgres://app@db:5432/gw?sslmode=require", nil},
		{"url escaped password", "postgres://app:p%40ss%2Fw%23rd@db/gw", "postgres://app:xxxxx@db/gw", []string{"p%40ss", "w%23rd"}},
		{"url password and sslpassword parameters", "postgres://app@db/gw?sslmode=verify-full&password=qpw&sslpassword=keypw&application_name=gw",
			"postgres://app@db/gw?sslmode=verify-full&password=xxxxx&sslpassword=xxxxx&application_name=gw", []string{"qpw", "keypw"}},
		{"url parameter in upper case", "postgres://db/gw?PASSWORD=upper", "postgres://db/gw?PASSWORD=xxxxx", []string{"upper"}},
		{"url that does not parse", "postgres://app:pa/ss@db:5432/gw", "postgres://app:xxxxx@db:5432/gw", []string{"pa/ss"}},
		{"url with # in password", "postgres://app:pa#ss@db/gw", "postgres://app:xxxxx@db/gw", []string{"pa#ss"}},
		{"redis password only", "redis://:redispw@redis.internal:6379/0", "redis://:xxxxx@redis.internal:6379/0", []string{"redispw"}},
		{"rediss user and password", "rediss://default:redispw@redis.internal:6380/1", "rediss://default:xxxxx@redis.internal:6380/1", []string{"redispw"}},
		{"smtp", "smtp://mailer:smtppw@mail.example.com:587", "smtp://mailer:xxxxx@mail.example.com:587", []string{"smtppw"}},
		{"smtps escaped", "smtps://apikey:SG.a%2Bb@smtp.example.com:465", "smtps://apikey:xxxxx@smtp.example.com:465", []string{"SG.a"}},
		{"key/value bare", "host=db user=app password=hunter2 dbname=gw", "host=db user=app password=xxxxx dbname=gw", []string{"hunter2"}},
		{"key/value quoted with spaces", "host=db password='hunter2 with spaces' dbname=gw", "host=db password=xxxxx dbname=gw",
			[]string{"hunter2", "with", "spaces"}},
		{"key/value quoted with escapes", `host=db password='it\'s a \\ secret' user=app`, "host=db password=xxxxx user=app", []string{"it", "secret"}},
		{"key/value spaces around =", "host=db password = 'spaced out' user=app", "host=db password = xxxxx user=app", []string{"spaced", "out"}},
		{"key/value bare with escaped space", `password=two\ words host=db`, "password=xxxxx host=db", []string{"two", "words"}},
		{"key/value sslpassword", "host=db sslkey=/k.pem sslpassword=keypw password='pw'", "host=db sslkey=/k.pem sslpassword=xxxxx password=xxxxx",
			[]string{"keypw", "'pw'"}},
		{"key/value unterminated quote", "host=db password='never closed", "host=db password=xxxxx", []string{"never", "closed"}},
		// libpq skips the spaces after =: the password here is "user=app".
		{"key/value spaces after =", "host=db password= user=app", "host=db password= xxxxx", []string{"user=app"}},
		{"key/value last", "host=db password=last", "host=db password=xxxxx", []string{"last"}},
		{"message quoting a url", "cannot parse `postgres://u:hunter2@host:notaport/db`: invalid port",
			"cannot parse `postgres://u:xxxxx@host:notaport/db`: invalid port", []string{"hunter2"}},
		{"message quoting key/value", "cannot parse `host=db password='a b'`: bad", "cannot parse `host=db password=xxxxx`: bad", []string{"a b"}},
		{"backup url", "s3://bucket/prefix?region=eu-west-1", "s3://bucket/prefix?region=eu-west-1", nil},
		{"not password", "host=db my_password_hint=visible", "host=db my_password_hint=visible", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Redact(tt.in)
			require.Equal(t, tt.want, got)
			for _, s := range tt.secrets {
				require.NotContains(t, got, s)
			}
		})
	}
}

// TestRedactSentryDSN: the DSN's key is hidden, in both its forms.
func TestRedactSentryDSN(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", redactSentryDSN(""))
	require.Equal(t, "https://xxxxx@o1.ingest.sentry.io/42", redactSentryDSN("https://0123456789abcdef@o1.ingest.sentry.io/42"))
	require.Equal(t, "https://xxxxx:xxxxx@o1.ingest.sentry.io/42", redactSentryDSN("https://pub:legacysecret@o1.ingest.sentry.io/42"))
}

// TestPrintRedactsEverySecret: groundwork config shows no secret of any
// variable, whatever form it takes.
func TestPrintRedactsEverySecret(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"DATABASE_URL":                   "host=db user=groundwork_app password='hunter2 with spaces' sslpassword=keypass1 dbname=groundwork",
		"DATABASE_OWNER_URL":             "postgres://groundwork_owner:ownerpass1@db:5432/groundwork?sslpassword=keypass2",
		"REDIS_URL":                      "rediss://default:redispass1@redis.internal:6380/0",
		"SMTP_URL":                       "smtps://mailer:smtppass1@mail.example.com:465",
		"SENTRY_DSN":                     "https://sentrypublickey1@o1.ingest.sentry.io/42",
		"GROUNDWORK_ENCRYPTION_KEYSET":   `{"key":[{"keyData":{"value":"keysetsecret1"}}]}`,
		"GROUNDWORK_BLIND_INDEX_KEYSET":  `{"key":[{"keyData":{"value":"keysetsecret2"}}]}`,
		"GROUNDWORK_BACKUP_KEYSET":       `{"key":[{"keyData":{"value":"keysetsecret3"}}]}`,
		"GROUNDWORK_BACKUP_DATABASE_URL": "host=db user=backup password=backuppass1",
	}))
	require.NoError(t, err)
	var buf bytes.Buffer
	c.Print(&buf)
	out := buf.String()
	for _, secret := range []string{"hunter2", "with spaces", "keypass1", "ownerpass1", "keypass2", "redispass1", "smtppass1",
		"sentrypublickey1", "keysetsecret1", "keysetsecret2", "keysetsecret3", "backuppass1"} {
		require.NotContains(t, out, secret)
	}
	for _, line := range []string{
		"DATABASE_URL=host=db user=groundwork_app password=xxxxx sslpassword=xxxxx dbname=groundwork\n",
		"DATABASE_OWNER_URL=postgres://groundwork_owner:xxxxx@db:5432/groundwork?sslpassword=xxxxx\n",
		"REDIS_URL=rediss://default:xxxxx@redis.internal:6380/0\n",
		"SMTP_URL=smtps://mailer:xxxxx@mail.example.com:465\n",
		"SENTRY_DSN=https://xxxxx@o1.ingest.sentry.io/42\n",
		"GROUNDWORK_ENCRYPTION_KEYSET=xxxxx\n",
		"GROUNDWORK_BACKUP_DATABASE_URL=host=db user=backup password=xxxxx\n",
	} {
		require.Contains(t, out, line)
	}
}
