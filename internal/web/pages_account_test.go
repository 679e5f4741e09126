package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"image"
	_ "image/png" // the two-factor QR code is a PNG
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
)

// newPassword is the password scenarios change passwords to.
const newPassword = "a different horse, battery staple"

// TestAuthPages: signing up, verifying the address, logging in (with and
// without a second factor), logging out and resetting a password.
func TestAuthPages(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, authScenarios())
}

// TestAccountPages: the account page and its forms, the sessions list,
// two-factor set-up and deleting an account.
func TestAccountPages(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, accountScenarios())
}

func authScenarios() []scenario {
	return []scenario{
		// The home page.
		{name: "home page", path: "/", wantStatus: http.StatusOK,
			wantText: []string{"A production-grade foundation", `href="/signup"`, `href="/login"`}},
		{name: "home page sends a signed-in user to their organisations", as: "owner", path: "/",
			wantStatus: http.StatusSeeOther, wantLocation: "/orgs"},

		// Signing up and verifying the address.
		{name: "sign-up page keeps where to go next", path: "/signup?next=/invitations/abc", wantStatus: http.StatusOK,
			wantText: []string{"Create your account", `name="next" value="/invitations/abc"`}},
		{name: "sign up", method: http.MethodPost, path: "/signup",
			form:       url.Values{"email": {"newcomer@signup.example"}, "password": {testPassword}},
			wantStatus: http.StatusOK, wantText: []string{"Check your email", "newcomer@signup.example"},
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				fx.vars["verify_token"] = fx.mailLink(t, "newcomer@signup.example", "Verify your email address").Query().Get("token")
			}},
		{name: "sign up with an invalid address and a short password", method: http.MethodPost, path: "/signup",
			form:       url.Values{"email": {"not-an-address"}, "password": {"short"}},
			wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="email-error">Enter a valid email address, like name@example.com.`,
				`id="password-error">Use at least 8 characters.`, `value="not-an-address"`},
			notText: []string{`value="short"`}},
		{name: "unverified user cannot log in", method: http.MethodPost, path: "/login",
			form:       url.Values{"email": {"newcomer@signup.example"}, "password": {testPassword}},
			wantStatus: http.StatusForbidden, wantText: []string{"Verify your email address first"}},
		{name: "verify the address", as: "newcomer", path: "/verify-email?token={verify_token}",
			setup:      func(_ *testing.T, fx *pageFixture) { fx.addVisitor("newcomer") },
			wantStatus: http.StatusSeeOther, wantLocation: "/login",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "newcomer", "/login"), "Your email address is verified. Welcome!")
			}},
		{name: "a used verification link is refused", path: "/verify-email?token={verify_token}",
			wantStatus: http.StatusUnprocessableEntity,
			wantText:   []string{"This link is invalid or has expired.", `action="/verify-email"`}},
		{name: "resend the verification link", method: http.MethodPost, path: "/verify-email",
			setup: func(t *testing.T, fx *pageFixture) {
				_, err := fx.e.accounts.SignUp(context.Background(), "slow@signup.example", testPassword)
				require.NoError(t, err)
				fx.e.mail.WaitFor(t, "slow@signup.example", "Verify your email address")
			},
			form:       url.Values{"email": {"slow@signup.example"}},
			wantStatus: http.StatusOK, wantText: []string{"Check your email", "slow@signup.example"},
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				fx.e.mail.WaitFor(t, "slow@signup.example", "Verify your email address")
			}},
		{name: "resend for an unknown address looks the same", method: http.MethodPost, path: "/verify-email",
			form: url.Values{"email": {"nobody@signup.example"}}, wantStatus: http.StatusOK,
			wantText: []string{"Check your email", "nobody@signup.example"}},

		// Logging in and out.
		{name: "log-in page keeps where to go next", path: "/login?next=/account", wantStatus: http.StatusOK,
			wantText: []string{"<h1>Log in</h1>", `name="next" value="/account"`, `href="/forgot-password"`}},
		{name: "log in", as: "browser", method: http.MethodPost, path: "/login",
			setup:      func(_ *testing.T, fx *pageFixture) { fx.addVisitor("browser") },
			form:       url.Values{"email": {"member@acme.example"}, "password": {testPassword}},
			wantStatus: http.StatusSeeOther, wantLocation: "/orgs",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "browser", "/orgs"), "Acme")
			}},
		{name: "log in goes next", method: http.MethodPost, path: "/login",
			form:       url.Values{"email": {"member@acme.example"}, "password": {testPassword}, "next": {"/account"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/account"},
		{name: "log in does not go to another site", method: http.MethodPost, path: "/login",
			form:       url.Values{"email": {"member@acme.example"}, "password": {testPassword}, "next": {"//evil.example/"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/orgs"},
		{name: "log in with a wrong password", method: http.MethodPost, path: "/login",
			form:       url.Values{"email": {"member@acme.example"}, "password": {"wrong password!"}},
			wantStatus: http.StatusUnauthorized,
			wantText:   []string{"Invalid email or password.", `value="member@acme.example"`},
			notText:    []string{"wrong password!"}},
		{name: "log out", as: "browser", method: http.MethodPost, path: "/logout",
			wantStatus: http.StatusSeeOther, wantLocation: "/login",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				r := fx.request(t, fx.client(t, "browser"), http.MethodGet, "/account", nil, nil)
				require.Equal(t, http.StatusSeeOther, r.status, "signed out")
				require.Equal(t, "/login?next=%2Faccount", r.location)
			}},

		// Logging in with a second factor.
		{name: "second-factor page without a password step", path: "/login/two-factor",
			wantStatus: http.StatusSeeOther, wantLocation: "/login"},
		{name: "log in with two-factor asks for the code", as: "phone", method: http.MethodPost, path: "/login",
			setup: func(t *testing.T, fx *pageFixture) {
				u := fx.addUser(t, "careful", "careful@acme.example")
				codes := enableTwoFactor(t, fx, u.ID)
				fx.vars["recovery_code"] = codes[0]
				fx.addVisitor("phone")
			},
			form:       url.Values{"email": {"careful@acme.example"}, "password": {testPassword}, "next": {"/account"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/login/two-factor?next=%2Faccount"},
		{name: "second-factor page", as: "phone", path: "/login/two-factor?next=/account", wantStatus: http.StatusOK,
			wantText: []string{"Code from your authenticator app, or a recovery code", `name="next" value="/account"`}},
		{name: "second factor wrong", as: "phone", method: http.MethodPost, path: "/login/two-factor",
			form: url.Values{"code": {"000000"}, "next": {"/account"}}, wantStatus: http.StatusUnauthorized,
			wantText: []string{"That code is not valid."}},
		{name: "second factor with a recovery code", as: "phone", method: http.MethodPost, path: "/login/two-factor",
			form:       url.Values{"code": {"{recovery_code}"}, "next": {"/account"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/account",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "phone", "/account"), "Signed in as <strong>careful@acme.example</strong>")
			}},

		// Resetting a forgotten password.
		{name: "forgot-password page", path: "/forgot-password", wantStatus: http.StatusOK,
			wantText: []string{"Email me a reset link"}},
		{name: "ask for a reset link", method: http.MethodPost, path: "/forgot-password",
			setup:      func(t *testing.T, fx *pageFixture) { fx.addUser(t, "forgetful", "forgetful@acme.example") },
			form:       url.Values{"email": {"forgetful@acme.example"}},
			wantStatus: http.StatusOK, wantText: []string{"Check your email", "forgetful@acme.example"},
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				link := fx.mailLink(t, "forgetful@acme.example", "Reset your password")
				require.Equal(t, "/reset-password", link.Path)
				fx.vars["reset_token"] = link.Query().Get("token")
			}},
		{name: "a reset link for an unknown address looks the same", method: http.MethodPost, path: "/forgot-password",
			form: url.Values{"email": {"nobody@acme.example"}}, wantStatus: http.StatusOK,
			wantText: []string{"Check your email", "nobody@acme.example"}},
		{name: "reset-password page", path: "/reset-password?token={reset_token}", wantStatus: http.StatusOK,
			wantText: []string{"Choose a new password", `name="token" value="{reset_token}"`}},
		{name: "reset to a short password", method: http.MethodPost, path: "/reset-password",
			form:       url.Values{"token": {"{reset_token}"}, "password": {"short"}},
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{`id="password-error">Use at least 8 characters.`}},
		{name: "reset the password", method: http.MethodPost, path: "/reset-password",
			form:       url.Values{"token": {"{reset_token}"}, "password": {newPassword}},
			wantStatus: http.StatusSeeOther, wantLocation: "/login",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				r := fx.request(t, fx.e.client(), http.MethodPost, "/login",
					url.Values{"email": {"forgetful@acme.example"}, "password": {newPassword}}, nil)
				require.Equal(t, http.StatusSeeOther, r.status, "the new password works: %s", r.body)
			}},
		{name: "a used reset link is refused", method: http.MethodPost, path: "/reset-password",
			form:       url.Values{"token": {"{reset_token}"}, "password": {"yet another fine password"}},
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{"This link is invalid or has expired."}},
	}
}

func accountScenarios() []scenario {
	return []scenario{
		{name: "account page", as: "owner", path: "/account", wantStatus: http.StatusOK,
			wantText: []string{"Signed in as <strong>owner@acme.example</strong>", "(this one)",
				`action="/account/password"`, `action="/account/email"`, `action="/account/delete"`}},
		{name: "account page sends an anonymous visitor to log in", path: "/account",
			wantStatus: http.StatusSeeOther, wantLocation: "/login?next=%2Faccount"},

		// Password.
		{name: "change password with a wrong current one", as: "changer", method: http.MethodPost, path: "/account/password",
			setup:      func(t *testing.T, fx *pageFixture) { fx.addUser(t, "changer", "changer@acme.example") },
			form:       url.Values{"current_password": {"not my password"}, "new_password": {newPassword}},
			wantStatus: http.StatusUnprocessableEntity,
			wantText:   []string{`id="current_password-error">Your current password is not correct.`},
			notText:    []string{"not my password", newPassword}},
		{name: "change password", as: "changer", method: http.MethodPost, path: "/account/password",
			form:       url.Values{"current_password": {testPassword}, "new_password": {newPassword}},
			wantStatus: http.StatusSeeOther, wantLocation: "/account",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "changer", "/account"), "Password changed. Your other sessions were signed out.")
			}},

		// Email address.
		{name: "change email to an invalid address", as: "mover", method: http.MethodPost, path: "/account/email",
			setup:      func(t *testing.T, fx *pageFixture) { fx.addUser(t, "mover", "mover@acme.example") },
			form:       url.Values{"new_email": {"nope"}, "password_email": {testPassword}},
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{`id="new_email-error"`, `value="nope"`}},
		{name: "change email with a wrong password", as: "mover", method: http.MethodPost, path: "/account/email",
			form:       url.Values{"new_email": {"moved@acme.example"}, "password_email": {"wrong password!"}},
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{`id="password_email-error">The password is not correct.`}},
		{name: "change email", as: "mover", method: http.MethodPost, path: "/account/email",
			form:       url.Values{"new_email": {"moved@acme.example"}, "password_email": {testPassword}},
			wantStatus: http.StatusSeeOther, wantLocation: "/account",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "mover", "/account"), "We sent a confirmation link to moved@acme.example.")
				link := fx.mailLink(t, "moved@acme.example", "Confirm your new email address")
				require.Equal(t, "/confirm-email", link.Path)
				fx.vars["confirm_token"] = link.Query().Get("token")
			}},
		{name: "confirm the new email", as: "mover", path: "/confirm-email?token={confirm_token}",
			wantStatus: http.StatusSeeOther, wantLocation: "/account",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "mover", "/account")
				require.Contains(t, body, "Your email address was changed.")
				require.Contains(t, body, "Signed in as <strong>moved@acme.example</strong>")
			}},
		{name: "a bad confirmation link is refused", path: "/confirm-email?token=forged",
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{"This link is invalid or has expired."}},

		// Sessions.
		{name: "sign out another session", as: "laptop", method: http.MethodPost, path: "/account/sessions/{phone_session}/revoke",
			setup: func(t *testing.T, fx *pageFixture) {
				u := fx.addUser(t, "laptop", "traveller@acme.example")
				fx.client(t, "laptop")
				fx.addVisitor("phone")
				r := fx.request(t, fx.client(t, "phone"), http.MethodPost, "/login",
					url.Values{"email": {u.Email}, "password": {testPassword}}, http.Header{"User-Agent": {"Phone browser"}})
				require.Equal(t, http.StatusSeeOther, r.status, r.body)
				sessions, err := fx.e.accounts.Sessions(context.Background(), u.ID)
				require.NoError(t, err)
				i := slices.IndexFunc(sessions, func(s account.Session) bool { return s.UserAgent == "Phone browser" })
				require.GreaterOrEqual(t, i, 0, "the phone's session is listed")
				fx.vars["phone_session"] = sessions[i].ID
			},
			wantStatus: http.StatusSeeOther, wantLocation: "/account",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "laptop", "/account")
				require.Contains(t, body, "That session was signed out.")
				require.NotContains(t, body, "Phone browser")
				r := fx.request(t, fx.client(t, "phone"), http.MethodGet, "/account", nil, nil)
				require.Equal(t, http.StatusSeeOther, r.status, "the phone is signed out")
			}},
		{name: "sign out another user's session", as: "outsider", method: http.MethodPost,
			path: "/account/sessions/{laptop_session}/revoke",
			setup: func(t *testing.T, fx *pageFixture) {
				sessions, err := fx.e.accounts.Sessions(context.Background(), fx.users["laptop"].ID)
				require.NoError(t, err)
				require.NotEmpty(t, sessions)
				fx.vars["laptop_session"] = sessions[0].ID
			},
			wantStatus: http.StatusNotFound, wantText: []string{"Session not found.", notFoundHint},
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				fx.follow(t, "laptop", "/account") // still signed in
			}},
		{name: "sign out everywhere else", as: "laptop", method: http.MethodPost, path: "/account/sessions/revoke-others",
			setup: func(t *testing.T, fx *pageFixture) {
				fx.addVisitor("tablet")
				r := fx.request(t, fx.client(t, "tablet"), http.MethodPost, "/login",
					url.Values{"email": {"traveller@acme.example"}, "password": {testPassword}}, nil)
				require.Equal(t, http.StatusSeeOther, r.status, r.body)
			},
			wantStatus: http.StatusSeeOther, wantLocation: "/account",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "laptop", "/account"), "All your other sessions were signed out.")
				r := fx.request(t, fx.client(t, "tablet"), http.MethodGet, "/account", nil, nil)
				require.Equal(t, http.StatusSeeOther, r.status, "the tablet is signed out")
			}},

		// Two-factor authentication.
		{name: "two-factor set-up page", as: "cautious", path: "/account/two-factor",
			setup:      func(t *testing.T, fx *pageFixture) { fx.addUser(t, "cautious", "cautious@acme.example") },
			wantStatus: http.StatusOK, wantText: []string{`id="totp-secret"`, `action="/account/two-factor"`,
				`<a href="otpauth://totp/`}, notText: []string{"ZgotmplZ"},
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				m := totpSecretRE.FindStringSubmatch(r.body)
				require.NotNil(t, m, "the page shows the secret")
				fx.vars["totp_secret"] = m[1]
				requireTOTPSetup(t, r.body, m[1], "cautious@acme.example")
			}},
		{name: "turn on two-factor with a wrong code", as: "cautious", method: http.MethodPost, path: "/account/two-factor",
			form: url.Values{"code": {"12"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="code-error">Enter the 6-digit code from your authenticator app.`, "{totp_secret}"},
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				requireTOTPSetup(t, r.body, fx.vars["totp_secret"], "cautious@acme.example")
			}},
		{name: "turn on two-factor", as: "cautious", method: http.MethodPost, path: "/account/two-factor",
			form: url.Values{"code": {"{totp_code}"}},
			setup: func(t *testing.T, fx *pageFixture) {
				code, err := totp.GenerateCode(fx.vars["totp_secret"], time.Now())
				require.NoError(t, err)
				fx.vars["totp_code"] = code
			},
			wantStatus: http.StatusOK,
			wantText: []string{"Two-factor authentication is on.", "Store these recovery codes somewhere safe.",
				`<ol class="codes" id="recovery-codes"><li><code>`, `data-copy="recovery-codes"`, `href="/account/two-factor/recovery-codes.txt"`},
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				codes := regexp.MustCompile(`<li><code>([^<]+)</code></li>`).FindAllStringSubmatch(r.body, -1)
				require.Len(t, codes, 10)
				fx.vars["recovery_code"] = codes[0][1]
			}},
		{name: "download the recovery codes", as: "cautious", path: "/account/two-factor/recovery-codes.txt",
			wantStatus: http.StatusOK, wantText: []string{"{recovery_code}", "cautious@acme.example"},
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				require.Equal(t, `attachment; filename="groundwork-recovery-codes.txt"`, r.header.Get("Content-Disposition"))
				require.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
			}},
		{name: "the recovery codes download once", as: "cautious", path: "/account/two-factor/recovery-codes.txt",
			wantStatus: http.StatusNotFound, notText: []string{"{recovery_code}"}},
		{name: "two-factor page when on", as: "cautious", path: "/account/two-factor", wantStatus: http.StatusOK,
			wantText: []string{`action="/account/two-factor/disable"`}, notText: []string{`id="totp-secret"`}},
		{name: "turn off two-factor with a wrong password", as: "cautious", method: http.MethodPost, path: "/account/two-factor/disable",
			form: url.Values{"password": {"wrong password!"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="password-error">The password is not correct.`}},
		{name: "turn off two-factor", as: "cautious", method: http.MethodPost, path: "/account/two-factor/disable",
			form: url.Values{"password": {testPassword}}, wantStatus: http.StatusSeeOther, wantLocation: "/account",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "cautious", "/account")
				require.Contains(t, body, "Two-factor authentication is off.")
				require.Contains(t, body, "Two-factor authentication is <strong>off</strong>")
			}},

		// Deleting the account.
		{name: "delete account with a wrong password", as: "goner", method: http.MethodPost, path: "/account/delete",
			setup:      func(t *testing.T, fx *pageFixture) { fx.addUser(t, "goner", "goner@acme.example") },
			form:       url.Values{"password_delete": {"wrong password!"}},
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{`id="password_delete-error">The password is not correct.`}},
		{name: "the only owner of an organisation cannot delete the account", as: "owner", method: http.MethodPost,
			path: "/account/delete", form: url.Values{"password_delete": {testPassword}},
			wantStatus: http.StatusConflict, wantText: []string{"Transfer or delete these organisations first: Acme."}},
		{name: "delete account", as: "goner", method: http.MethodPost, path: "/account/delete",
			form: url.Values{"password_delete": {testPassword}}, wantStatus: http.StatusSeeOther, wantLocation: "/",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				r := fx.request(t, fx.e.client(), http.MethodPost, "/login",
					url.Values{"email": {"goner@acme.example"}, "password": {testPassword}}, nil)
				require.Equal(t, http.StatusUnauthorized, r.status, "the account is gone")
			}},
	}
}

// totpSecretRE finds the secret on the two-factor set-up page.
var totpSecretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

// enableTwoFactor turns two-factor authentication on for userID and returns
// its recovery codes.
func enableTwoFactor(t *testing.T, fx *pageFixture, userID string) []string {
	t.Helper()
	ctx := context.Background()
	secret, _, err := fx.e.accounts.BeginTwoFactor(ctx, userID)
	require.NoError(t, err)
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	codes, err := fx.e.accounts.EnableTwoFactor(ctx, userID, secret, code)
	require.NoError(t, err)
	return codes
}

// otpauthHrefRE finds the otpauth:// link of the two-factor set-up page.
var otpauthHrefRE = regexp.MustCompile(`href="(otpauth://[^"]+)"`)

// requireTOTPSetup checks the set-up page body: a QR code image (a PNG
// data: URL) and an otpauth:// link whose key URI names the issuer, the
// account email and secret, as authenticator apps read it.
func requireTOTPSetup(t *testing.T, body, secret, email string) {
	t.Helper()
	require.Contains(t, body, `<img class="qr" id="totp-qr" src="data:image/png;base64,`)
	m := otpauthHrefRE.FindStringSubmatch(body)
	require.NotNil(t, m, "the page links the key URI")
	u, err := url.Parse(html.UnescapeString(m[1]))
	require.NoError(t, err)
	require.Equal(t, "otpauth", u.Scheme)
	require.Equal(t, "totp", u.Host)
	require.Equal(t, "/Groundwork:"+email, u.Path)
	q := u.Query()
	require.Equal(t, secret, q.Get("secret"))
	require.Equal(t, "Groundwork", q.Get("issuer"))
	png, err := base64.StdEncoding.DecodeString(html.UnescapeString(regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`).FindStringSubmatch(body)[1]))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG")), "a PNG image")
	// The image itself holds the same key URI: decode it as a camera would.
	img, _, err := image.Decode(bytes.NewReader(png))
	require.NoError(t, err)
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	require.NoError(t, err, "the QR code decodes")
	qu, err := url.Parse(res.GetText())
	require.NoError(t, err)
	require.Equal(t, "otpauth", qu.Scheme)
	require.Equal(t, "/Groundwork:"+email, qu.Path)
	require.Equal(t, secret, qu.Query().Get("secret"), "the QR code holds the secret")
	require.Equal(t, "Groundwork", qu.Query().Get("issuer"), "the QR code names the issuer")
	require.Equal(t, u.String(), qu.String(), "the QR code and the link hold the same key URI")
}
