package web

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// passkeyEnv is a server with passkeys on, at http://localhost:<port>: a
// relying party ID must be a domain, never an IP address, and localhost
// is a secure context for WebAuthn over plain HTTP.
type passkeyEnv struct {
	*env
	url      string
	passkeys *account.Passkeys
}

func newPasskeyEnv(t *testing.T, opts ...func(*Deps)) *passkeyEnv {
	t.Helper()
	e := newEnv(t, opts...)
	// A second server on the same modules and sessions, at a localhost
	// address the relying party is configured for.
	srv := httptest.NewUnstartedServer(nil)
	base := fmt.Sprintf("http://localhost:%d", srv.Listener.Addr().(*net.TCPAddr).Port)
	pk, err := account.NewPasskeys(e.accounts, base, "Groundwork")
	require.NoError(t, err)
	deps := e.deps
	deps.Passkeys = pk
	srv.Config.Handler = NewServer(deps)
	srv.Start()
	t.Cleanup(srv.Close)
	return &passkeyEnv{env: e, url: base, passkeys: pk}
}

// accountActions returns the actions in userID's audit chain, oldest
// first.
func (e *env) accountActions(t *testing.T, userID string) []string {
	t.Helper()
	rows, err := e.db.Owner.Query(context.Background(),
		`SELECT action FROM account_audit_events WHERE user_id = $1 ORDER BY seq`, userID)
	require.NoError(t, err)
	actions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return actions
}

// chromiumBin is Debian's Chromium (apt package chromium; see
// scripts/install-deps.sh).
const chromiumBin = "/usr/bin/chromium"

// browserStep bounds each browser step.
const browserStep = 20 * time.Second

// passkeyTab is a Chromium tab with a virtual authenticator (DevTools
// WebAuthn domain): a platform authenticator (transport internal, CTAP2)
// that keeps resident keys and verifies its user at once, as a phone or
// laptop with a screen lock does.
type passkeyTab struct {
	t   *testing.T
	ctx context.Context
}

func newPasskeyTab(t *testing.T) *passkeyTab {
	t.Helper()
	gwtest.RequireTool(t, chromiumBin, "run scripts/install-deps.sh (apt-get install chromium) to run the browser tests")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumBin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // root in containers and CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(tabCtx), "start %s", chromiumBin)
	enableUI := false
	_, err := chromedp.Call(tabCtx, webauthn.Enable, webauthn.EnableParams{EnableUI: &enableUI})
	require.NoError(t, err)
	_, err = chromedp.Call(tabCtx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		}})
	require.NoError(t, err)
	return &passkeyTab{t: t, ctx: tabCtx}
}

// run runs one bounded step, failing the test with the page's URL and
// text when it fails.
func runStep[T any](b *passkeyTab, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.fatalf("%s: %v", what, err)
	}
	return v
}

func (b *passkeyTab) fatalf(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	b.t.Fatalf("%s\nat %s:\n%s", fmt.Sprintf(format, args...), loc, body)
}

func (b *passkeyTab) open(url string) {
	b.t.Helper()
	runStep(b, "open "+url, chromedp.Navigate(url))
}

func (b *passkeyTab) fill(sel, value string) {
	b.t.Helper()
	runStep(b, "fill "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
}

func (b *passkeyTab) click(sel string) {
	b.t.Helper()
	runStep(b, "click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// waitFor waits until the JavaScript condition cond holds on the page,
// across navigations (an evaluation that a navigation interrupts is
// tried again).
func (b *passkeyTab) waitFor(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(browserStep)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		var ok bool
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.fatalf("wait for %s: not so after %s (last error: %v)", what, browserStep, err)
}

// waitText waits until the page's text contains text.
func (b *passkeyTab) waitText(text string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%q", text), fmt.Sprintf(`document.body && document.body.innerText.includes(%q)`, text))
}

// waitPath waits until the page is at path.
func (b *passkeyTab) waitPath(path string) {
	b.t.Helper()
	b.waitFor("path "+path, fmt.Sprintf(`location.pathname === %q && document.readyState === "complete"`, path))
}

// TestPasskeyBrowser drives the passkey pages in headless Chromium with
// the DevTools virtual authenticator: register a passkey on the account
// page, sign out, sign in with it (passwordless), use it as the second
// factor of a password sign-in, and remove it, after which it signs no
// one in.
func TestPasskeyBrowser(t *testing.T) {
	t.Parallel()
	e := newPasskeyEnv(t)
	b := newPasskeyTab(t)
	ctx := context.Background()
	u := e.user("pia@example.com")

	// Log in with the password.
	b.open(e.url + "/login")
	b.fill(`form[action="/login"] [name="email"]`, u.Email)
	b.fill(`form[action="/login"] [name="password"]`, testPassword)
	b.click(`form[action="/login"] button[type=submit]`)
	b.waitPath("/orgs")

	// The account page offers passkeys (the browser has WebAuthn: the
	// "cannot use passkeys" note is hidden); register one.
	b.open(e.url + "/account")
	b.waitFor("the passkey form", `!document.getElementById("passkey-register").hidden`)
	require.False(t, runStep(b, "read the note", chromedp.Evaluate[bool](
		`document.querySelector("[data-passkey-unsupported]").checkVisibility()`)), "the no-WebAuthn note is hidden")
	b.fill(`#passkey-register [name="passkey_name"]`, "Test laptop")
	b.click(`#passkey-register button[type=submit]`)
	b.waitText("Passkey Test laptop added.")
	pks, err := e.passkeys.List(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, pks, 1)
	require.Equal(t, "Test laptop", pks[0].Name)
	require.Contains(t, pks[0].Transports, "internal")
	b.waitText("Test laptop")

	// Sign out; sign in with the passkey alone.
	b.click(`form[action="/logout"] button`)
	b.waitPath("/login")
	b.waitFor("the passkey sign-in", `!document.getElementById("passkey-login").hidden`)
	b.click(`#passkey-login button[type=submit]`)
	b.waitPath("/orgs")
	b.waitText(u.Email)
	pks, err = e.passkeys.List(ctx, u.ID)
	require.NoError(t, err)
	require.NotNil(t, pks[0].LastUsedAt, "the sign-in was recorded")

	// Two-factor on: the password sign-in asks for the second factor, and
	// the passkey gives it.
	secret, _, err := e.accounts.BeginTwoFactor(ctx, u.ID)
	require.NoError(t, err)
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	_, err = e.accounts.EnableTwoFactor(ctx, u.ID, secret, code)
	require.NoError(t, err)
	b.click(`form[action="/logout"] button`)
	b.waitPath("/login")
	b.fill(`form[action="/login"] [name="email"]`, u.Email)
	b.fill(`form[action="/login"] [name="password"]`, testPassword)
	b.click(`form[action="/login"] button[type=submit]`)
	b.waitPath("/login/two-factor")
	b.waitFor("the passkey second factor", `!document.getElementById("passkey-second-factor").hidden`)
	b.click(`#passkey-second-factor button[type=submit]`)
	b.waitPath("/orgs")

	// Remove it, confirming with the password.
	b.open(e.url + "/account")
	b.waitText("Test laptop")
	b.click(`#passkey-list details summary`)
	b.fill(`form[action="/account/passkeys/`+pks[0].ID+`/remove"] [name="password_passkey"]`, testPassword)
	b.click(`form[action="/account/passkeys/` + pks[0].ID + `/remove"] button[type=submit]`)
	b.waitText("Passkey removed.")
	pks, err = e.passkeys.List(ctx, u.ID)
	require.NoError(t, err)
	require.Empty(t, pks)

	// The authenticator still holds the credential, but it signs no one
	// in any more.
	b.click(`form[action="/logout"] button`)
	b.waitPath("/login")
	b.waitFor("the passkey sign-in", `!document.getElementById("passkey-login").hidden`)
	b.click(`#passkey-login button[type=submit]`)
	b.waitText("That passkey could not sign you in.")

	actions := e.accountActions(t, u.ID)
	require.Contains(t, actions, "user.passkey_registered")
	require.Contains(t, actions, "user.passkey_removed")
	require.Less(t, strings.Index(strings.Join(actions, " "), "user.passkey_registered"),
		strings.Index(strings.Join(actions, " "), "user.passkey_removed"))
}
