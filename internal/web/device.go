package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/account"
)

// The device cookie carries the device tokens (account.NewDeviceToken) of
// the accounts that signed in from this browser, newest first, separated by
// dots (a token is base64url, without dots). A failed log-in of one of those
// accounts from this browser counts against the token's own budget, not the
// account's (see ratelimit.LoginDevice), so that whoever exhausts an
// account's budget cannot lock its owner out of their own devices.
//
// It is sent only to /login (and /login/two-factor), HttpOnly, SameSite=Lax,
// Secure in production, and lives as long as a token is valid.
const (
	deviceCookieName = "gw_device"
	deviceCookiePath = "/login"
	// maxDeviceTokens is how many accounts' tokens one browser keeps; the
	// oldest is dropped beyond it.
	maxDeviceTokens = 5
)

// deviceTokens returns the tokens of r's device cookie.
func deviceTokens(r *http.Request) []string {
	c, err := r.Cookie(deviceCookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	tokens := strings.Split(c.Value, ".")
	return tokens[:min(len(tokens), maxDeviceTokens)]
}

// deviceID returns the ID of this browser's device for the account with
// the given email, or "" when it holds no valid token of that account.
func (s *server) deviceID(r *http.Request, email string) string {
	for _, t := range deviceTokens(r) {
		if id := s.d.Accounts.DeviceID(t, email); id != "" {
			return id
		}
	}
	return ""
}

// rememberDevice gives this browser a fresh device token of the account
// with the given email, which has just signed in: it replaces the account's
// previous token, keeps those of other accounts (up to maxDeviceTokens) and
// extends the cookie's life. A failure to sign the token only costs the
// browser its exemption, so it is logged, not returned.
func (s *server) rememberDevice(w http.ResponseWriter, r *http.Request, email string) {
	token, err := s.d.Accounts.NewDeviceToken(email)
	if err != nil {
		s.d.Logger.WarnContext(r.Context(), "issue device token", "error", err)
		return
	}
	others := slices.DeleteFunc(deviceTokens(r), func(t string) bool {
		return t == "" || strings.ContainsFunc(t, notTokenChar) || s.d.Accounts.DeviceID(t, email) != ""
	})
	tokens := append([]string{token}, others...)
	http.SetCookie(w, &http.Cookie{
		Name:     deviceCookieName,
		Value:    strings.Join(tokens[:min(len(tokens), maxDeviceTokens)], "."),
		Path:     deviceCookiePath,
		MaxAge:   int(account.DeviceTokenTTL.Seconds()),
		HttpOnly: true,
		Secure:   s.d.Production,
		SameSite: http.SameSiteLaxMode,
	})
}

// rememberDeviceOf is rememberDevice for the user with the given ID.
func (s *server) rememberDeviceOf(w http.ResponseWriter, r *http.Request, userID string) {
	u, err := s.d.Accounts.User(r.Context(), userID)
	if err != nil {
		s.d.Logger.WarnContext(r.Context(), "issue device token", "error", err)
		return
	}
	s.rememberDevice(w, r, u.Email)
}

// notTokenChar reports whether c cannot appear in a device token
// (base64url without padding).
func notTokenChar(c rune) bool {
	return !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_')
}
