package web

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
)

// withPasskeys turns passkeys on for a relying party at base; the
// scenarios never finish a ceremony, so base need not be the server's.
func withPasskeys(base string) func(*Deps) {
	return func(d *Deps) {
		pk, err := account.NewPasskeys(d.Accounts, base, "Groundwork")
		if err != nil {
			panic(err)
		}
		d.Passkeys = pk
	}
}

func passkeyScenarios() []scenario {
	jsonAccept := http.Header{"Accept": {"application/json"}}
	return []scenario{
		{name: "account page offers passkeys", as: "member", path: "/account", wantStatus: http.StatusOK,
			wantText: []string{`id="passkeys"`, "You have no passkeys yet.", `data-passkey-options="/account/passkeys/options"`,
				`action="/account/passkeys"`, `src="/static/passkeys.js"`, "This browser cannot use passkeys"}},
		{name: "log-in page offers a passkey", path: "/login", wantStatus: http.StatusOK,
			wantText: []string{`action="/login/passkey"`, `data-passkey-options="/login/passkey/options"`, `src="/static/passkeys.js"`}},
		{name: "registration options", as: "member", method: http.MethodPost, path: "/account/passkeys/options",
			header: jsonAccept, wantStatus: http.StatusOK,
			wantText: []string{`"challenge":`, `"residentKey":"required"`, `"userVerification":"required"`, `"rp":{"name":"Groundwork","id":"localhost"}`}},
		{name: "registration options need a signed-in user", method: http.MethodPost, path: "/account/passkeys/options",
			wantStatus: http.StatusSeeOther, wantLocation: "/login*"},
		{name: "register without a name", as: "member", method: http.MethodPost, path: "/account/passkeys",
			form: url.Values{"passkey_name": {" "}, "credential": {"{}"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="passkey_name-error"`}},
		{name: "register without a begun ceremony", as: "admin", method: http.MethodPost, path: "/account/passkeys",
			form: url.Values{"passkey_name": {"Laptop"}, "credential": {"{}"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{"The passkey request expired or was already used."}},
		{name: "register needs a signed-in user", method: http.MethodPost, path: "/account/passkeys",
			form: url.Values{"passkey_name": {"Laptop"}}, wantStatus: http.StatusSeeOther, wantLocation: "/login*"},
		{name: "rename a passkey that is not the user's", as: "member", method: http.MethodPost,
			path: "/account/passkeys/{missing}/rename", form: url.Values{"name": {"Mine now"}}, wantStatus: http.StatusNotFound},
		{name: "remove a passkey that is not the user's", as: "member", method: http.MethodPost,
			path: "/account/passkeys/{missing}/remove", form: url.Values{"password_passkey": {testPassword}}, wantStatus: http.StatusNotFound},
		{name: "sign-in options", method: http.MethodPost, path: "/login/passkey/options", header: jsonAccept,
			wantStatus: http.StatusOK, wantText: []string{`"challenge":`, `"userVerification":"required"`, `"rpId":"localhost"`},
			notText: []string{"allowCredentials"}},
		{name: "sign in without a begun ceremony", method: http.MethodPost, path: "/login/passkey",
			form: url.Values{"credential": {"{}"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{"The passkey request expired or was already used."}},
		{name: "second-factor options without a pending sign-in", method: http.MethodPost,
			path: "/login/two-factor/passkey/options", wantStatus: http.StatusSeeOther, wantLocation: "/login"},
		{name: "second factor without a pending sign-in", method: http.MethodPost, path: "/login/two-factor/passkey",
			form: url.Values{"credential": {"{}"}}, wantStatus: http.StatusSeeOther, wantLocation: "/login"},
	}
}

func TestPasskeyPages(t *testing.T) {
	t.Parallel()
	newPageFixture(t, newEnv(t, withPasskeys("http://localhost"))).run(t, passkeyScenarios())
}

func passkeysOffScenarios() []scenario {
	return []scenario{
		{name: "account page without passkeys", as: "member", path: "/account", wantStatus: http.StatusOK,
			notText: []string{`id="passkeys"`, "passkeys.js"}},
		{name: "log-in page without passkeys", path: "/login", wantStatus: http.StatusOK,
			notText: []string{`action="/login/passkey"`, "passkeys.js"}},
		{name: "registration options when passkeys are off", as: "member", method: http.MethodPost,
			path: "/account/passkeys/options", wantStatus: http.StatusNotFound},
		{name: "sign-in options when passkeys are off", method: http.MethodPost, path: "/login/passkey/options",
			wantStatus: http.StatusNotFound},
	}
}

// TestPasskeyPagesOff: a server whose base URL is an IP address (as every
// test server's) cannot be a relying party, and offers no passkeys.
func TestPasskeyPagesOff(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	require.Nil(t, fx.e.deps.Passkeys)
	fx.run(t, passkeysOffScenarios())
}
