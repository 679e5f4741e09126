package account_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	require.NoError(t, err)
	return c
}

// wrongCode returns a 6-digit code that no step near now accepts.
func wrongCode(t *testing.T, secret string, now time.Time) string {
	t.Helper()
	valid := map[string]bool{}
	for i := -3; i <= 3; i++ {
		valid[code(t, secret, now.Add(time.Duration(i)*30*time.Second))] = true
	}
	for n := 0; ; n++ {
		if c := fmt.Sprintf("%06d", n); !valid[c] {
			return c
		}
	}
}

// enableTwoFactor turns TOTP on for u and returns the secret and recovery codes.
func (b *bundle) enableTwoFactor(t *testing.T, u account.User) (string, []string) {
	t.Helper()
	secret, _, err := b.svc.BeginTwoFactor(b.ctx, u.ID)
	require.NoError(t, err)
	codes, err := b.svc.EnableTwoFactor(b.ctx, u.ID, secret, code(t, secret, b.clock.Now()))
	require.NoError(t, err)
	return secret, codes
}

func TestTwoFactorEnableAndSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "hedy@example.com")

	secret, otpauth, err := b.svc.BeginTwoFactor(b.ctx, u.ID)
	require.NoError(t, err)
	parsed, err := url.Parse(otpauth)
	require.NoError(t, err)
	require.Equal(t, "otpauth", parsed.Scheme)
	require.Equal(t, "totp", parsed.Host)
	require.Equal(t, "/Groundwork:hedy@example.com", parsed.Path)
	require.Equal(t, secret, parsed.Query().Get("secret"))
	require.Equal(t, "Groundwork", parsed.Query().Get("issuer"))
	got, err := b.svc.User(b.ctx, u.ID)
	require.NoError(t, err)
	require.False(t, got.TwoFactor, "beginning stores nothing")

	_, err = b.svc.EnableTwoFactor(b.ctx, u.ID, secret, wrongCode(t, secret, b.clock.Now()))
	e := gwtest.RequireCode(t, gw.EINVALID, err)
	require.Contains(t, e.Fields, "code")
	_, err = b.svc.EnableTwoFactor(b.ctx, u.ID, secret, "12345")
	gwtest.RequireCode(t, gw.EINVALID, err)
	_, err = b.svc.EnableTwoFactor(b.ctx, u.ID, "not base32!", code(t, secret, b.clock.Now()))
	e = gwtest.RequireCode(t, gw.EINVALID, err)
	require.Contains(t, e.Fields, "secret")

	enableCode := code(t, secret, b.clock.Now())
	codes, err := b.svc.EnableTwoFactor(b.ctx, u.ID, secret, enableCode)
	require.NoError(t, err)
	require.Len(t, codes, 10)
	seen := map[string]bool{}
	for _, c := range codes {
		require.Regexp(t, `^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$`, c)
		seen[c] = true
	}
	require.Len(t, seen, 10)
	b.mail.WaitFor(t, "hedy@example.com", "Two-factor authentication is on")

	_, _, err = b.svc.BeginTwoFactor(b.ctx, u.ID)
	gwtest.RequireCode(t, gw.ECONFLICT, err)
	_, err = b.svc.EnableTwoFactor(b.ctx, u.ID, secret, code(t, secret, b.clock.Now()))
	gwtest.RequireCode(t, gw.ECONFLICT, err)

	signedIn, err := b.svc.Authenticate(b.ctx, "hedy@example.com", goodPassword)
	require.NoError(t, err)
	require.True(t, signedIn.TwoFactor, "the caller must ask for a code")

	// The code that enabled two-factor cannot sign in: each code works once.
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, u.ID, enableCode))

	b.clock.Advance(90 * time.Second)
	now := b.clock.Now()
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, u.ID, wrongCode(t, secret, now)))
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, u.ID, code(t, secret, now.Add(time.Minute)))) // two steps ahead is too far
	require.NoError(t, b.svc.VerifySecondFactor(b.ctx, u.ID, code(t, secret, now.Add(-30*time.Second))))                  // one step of skew
	current := code(t, secret, now)
	require.NoError(t, b.svc.VerifySecondFactor(b.ctx, u.ID, " "+current[:3]+" "+current[3:]+" "))
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, u.ID, current))                                   // replayed
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, u.ID, code(t, secret, now.Add(-30*time.Second)))) // older than the last used

	// Recovery codes work once each, however they are typed.
	typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
	require.NoError(t, b.svc.VerifySecondFactor(b.ctx, u.ID, typed))
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, u.ID, codes[3]))
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, u.ID, "aaaa-bbbb-cccc"))
	left, err := b.svc.RecoveryCodesLeft(b.ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, 9, left)

	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, gw.NewID(), codes[0]))
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, "nope", codes[0]))
}

func TestDisableTwoFactor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "joan@example.com")
	secret, codes := b.enableTwoFactor(t, u)

	err := b.svc.DisableTwoFactor(b.ctx, u.ID, "wrong password!")
	e := gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, map[string]string{"password": "The password is not correct."}, e.Fields)

	require.NoError(t, b.svc.DisableTwoFactor(b.ctx, u.ID, goodPassword))
	b.mail.WaitFor(t, "joan@example.com", "Two-factor authentication is off")
	got, err := b.svc.Authenticate(b.ctx, "joan@example.com", goodPassword)
	require.NoError(t, err)
	require.False(t, got.TwoFactor)
	left, err := b.svc.RecoveryCodesLeft(b.ctx, u.ID)
	require.NoError(t, err)
	require.Zero(t, left)
	b.clock.Advance(time.Minute)
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, u.ID, code(t, secret, b.clock.Now())))
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, b.svc.VerifySecondFactor(b.ctx, u.ID, codes[0]))

	// It can be turned on again, with new recovery codes.
	_, again := b.enableTwoFactor(t, u)
	require.NotEqual(t, codes, again)
}

func TestSecondFactorOfDisabledUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "ida@example.com")
	_, codes := b.enableTwoFactor(t, u)
	require.NoError(t, b.svc.DisableUser(b.ctx, u.ID))
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.VerifySecondFactor(b.ctx, u.ID, codes[0]))
}
