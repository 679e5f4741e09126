package web

import (
	"html/template"
	"io"
	"net/http"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// accountPage is the data of account.html.
type accountPage struct {
	Sessions []account.Session
	// Identities are the identity providers' sign-ins linked to the
	// account; HasPassword says whether it has a password too.
	Identities  []account.Identity
	HasPassword bool
	// Passkeys are the account's passkeys (when Deps.Passkeys is set).
	Passkeys []account.Passkey
}

func (accountPage) template() string { return "account.html" }

// accountPage renders account.html with form f, showing err (a refused
// form) on it when not nil.
func (s *server) accountPage(w http.ResponseWriter, r *http.Request, f *form, err error) error {
	u := userFrom(r.Context())
	sessions, serr := s.d.Accounts.Sessions(r.Context(), u.ID)
	if serr != nil {
		return serr
	}
	account.MarkCurrent(sessions, s.d.Sessions.Token(r.Context()))
	data := accountPage{Sessions: sessions}
	if data.Identities, serr = s.d.Accounts.Identities(r.Context(), u.ID); serr != nil {
		return serr
	}
	if data.HasPassword, serr = s.d.Accounts.HasPassword(r.Context(), u.ID); serr != nil {
		return serr
	}
	if s.d.Passkeys != nil {
		if data.Passkeys, serr = s.d.Passkeys.List(r.Context(), u.ID); serr != nil {
			return serr
		}
	}
	p := page{Title: "Your account", Form: f, Data: data}
	if err != nil {
		return s.renderForm(w, r, p, err)
	}
	s.render(w, r, http.StatusOK, p)
	return nil
}

func (s *server) pageAccount() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		return s.accountPage(w, r, newForm(), nil)
	})
}

func (s *server) postChangePassword() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "current_password", "new_password")
		if err != nil {
			return err
		}
		ctx := r.Context()
		u := userFrom(ctx)
		if err := s.d.Accounts.ChangePassword(ctx, u.ID, f.Get("current_password"), f.Get("new_password")); err != nil {
			countWrongPassword(r, err, "current_password")
			return s.accountPage(w, r, f, err)
		}
		// A privilege change: new session token; other sessions were revoked.
		if err := s.signIn(r, u.ID); err != nil {
			return err
		}
		s.flash(r, "Password changed. Your other sessions were signed out.")
		redirect(w, r, "/account")
		return nil
	})
}

func (s *server) postChangeEmail() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "new_email", "password_email")
		if err != nil {
			return err
		}
		u := userFrom(r.Context())
		if err := s.d.Accounts.RequestEmailChange(r.Context(), u.ID, f.Get("password_email"), f.Get("new_email")); err != nil {
			countWrongPassword(r, err, "password")
			return s.accountPage(w, r, f, remapFields(err, map[string]string{"email": "new_email", "password": "password_email"}))
		}
		s.flash(r, "We sent a confirmation link to "+f.Get("new_email")+". Your address changes when you follow it.")
		redirect(w, r, "/account")
		return nil
	})
}

func (s *server) pageConfirmEmail() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if _, err := s.d.Accounts.ConfirmEmailChange(r.Context(), r.URL.Query().Get("token")); err != nil {
			return s.renderForm(w, r, page{Title: "Confirm your new email", Data: resendPage{}}, err)
		}
		s.flash(r, "Your email address was changed.")
		redirect(w, r, "/account")
		return nil
	})
}

func (s *server) postRevokeSession() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		u := userFrom(r.Context())
		if err := s.d.Accounts.RevokeSession(r.Context(), u.ID, r.PathValue("id")); err != nil {
			return err
		}
		s.flash(r, "That session was signed out.")
		redirect(w, r, "/account")
		return nil
	})
}

func (s *server) postRevokeOtherSessions() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		u := userFrom(ctx)
		if _, err := s.d.Accounts.RevokeOtherSessions(ctx, u.ID, s.d.Sessions.Token(ctx)); err != nil {
			return err
		}
		s.flash(r, "All your other sessions were signed out.")
		redirect(w, r, "/account")
		return nil
	})
}

func (s *server) postDeleteAccount() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "password_delete")
		if err != nil {
			return err
		}
		ctx := r.Context()
		u := userFrom(ctx)
		if err := s.d.Accounts.DeleteAccount(ctx, u.ID, f.Get("password_delete")); err != nil {
			countWrongPassword(r, err, "password")
			return s.accountPage(w, r, f, remapFields(err, map[string]string{"password": "password_delete"}))
		}
		_ = s.d.Sessions.Destroy(ctx)
		redirect(w, r, "/")
		return nil
	})
}

// twoFactorPage is the data of two-factor.html.
type twoFactorPage struct {
	Enabled bool
	Secret  string
	// URL is the otpauth:// key URI for authenticator apps. html/template
	// refuses schemes other than http(s) and mailto in href (it would
	// render "#ZgotmplZ"), so it is marked safe here: the URI is made by
	// pquerna/otp from our own issuer, the user's address and the secret,
	// and otpauthURL checks its scheme.
	URL template.URL
	// QR is URL as a QR code image (a PNG data: URL), for the app to scan.
	QR            template.URL
	RecoveryCodes []string
}

func (twoFactorPage) template() string { return "two-factor.html" }

// setupData returns the data of two-factor.html while secret, with its
// key URI otpURL, is being set up: the key, the link and the QR code.
func setupData(secret, otpURL string) (twoFactorPage, error) {
	d := twoFactorPage{Secret: secret, URL: otpauthURL(otpURL)}
	if d.URL != "" {
		qr, err := qrDataURL(otpURL)
		if err != nil {
			return d, err
		}
		d.QR = qr
	}
	return d, nil
}

// otpauthURL returns u, a key URI from account.BeginTwoFactor, as a URL the
// templates put in href, or "" when it is not an otpauth:// URI.
func otpauthURL(u string) template.URL {
	if !strings.HasPrefix(u, "otpauth://totp/") {
		return ""
	}
	return template.URL(u)
}

// Session keys of two-factor setup: the secret being set up and its key
// URI, until the first code confirms it; then the recovery codes, until
// they are downloaded (recoveryCodesFile) or the setup page is seen again.
const (
	sessionTOTPSetup    = "totp_setup"
	sessionTOTPSetupURL = "totp_setup_url"
	sessionRecovery     = "recovery_codes"
)

func (s *server) pageTwoFactor() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		u := userFrom(ctx)
		s.d.Sessions.Remove(ctx, sessionRecovery)
		if u.TwoFactor {
			s.render(w, r, http.StatusOK, page{Title: "Two-factor authentication", Form: newForm(),
				Data: twoFactorPage{Enabled: true}})
			return nil
		}
		secret, otpURL, err := s.d.Accounts.BeginTwoFactor(ctx, u.ID)
		if err != nil {
			return err
		}
		s.d.Sessions.Put(ctx, sessionTOTPSetup, secret)
		s.d.Sessions.Put(ctx, sessionTOTPSetupURL, otpURL)
		d, err := setupData(secret, otpURL)
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, page{Title: "Two-factor authentication", Form: newForm(), Data: d})
		return nil
	})
}

func (s *server) postEnableTwoFactor() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "code")
		if err != nil {
			return err
		}
		ctx := r.Context()
		u := userFrom(ctx)
		secret := s.d.Sessions.GetString(ctx, sessionTOTPSetup)
		if secret == "" {
			redirect(w, r, "/account/two-factor")
			return nil
		}
		codes, err := s.d.Accounts.EnableTwoFactor(ctx, u.ID, secret, f.Get("code"))
		if err != nil {
			d, derr := setupData(secret, s.d.Sessions.GetString(ctx, sessionTOTPSetupURL))
			if derr != nil {
				return derr
			}
			return s.renderForm(w, r, page{Title: "Two-factor authentication", Form: f, Data: d}, err)
		}
		s.d.Sessions.Remove(ctx, sessionTOTPSetup)
		s.d.Sessions.Remove(ctx, sessionTOTPSetupURL)
		if err := s.signIn(r, u.ID); err != nil { // a privilege change: new session token
			return err
		}
		s.d.Sessions.Put(ctx, sessionTwoFactorAt, s.d.Clock.Now().Unix()) // the code just given proves it
		u.TwoFactor = true
		s.d.Sessions.Put(ctx, sessionRecovery, strings.Join(codes, "\n"))
		s.render(w, r, http.StatusOK, page{Title: "Two-factor authentication", Form: newForm(),
			Data: twoFactorPage{Enabled: true, RecoveryCodes: codes}})
		return nil
	})
}

func (s *server) postDisableTwoFactor() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "password")
		if err != nil {
			return err
		}
		u := userFrom(r.Context())
		if err := s.d.Accounts.DisableTwoFactor(r.Context(), u.ID, f.Get("password")); err != nil {
			countWrongPassword(r, err, "password")
			return s.renderForm(w, r, page{Title: "Two-factor authentication", Form: f,
				Data: twoFactorPage{Enabled: true}}, err)
		}
		s.flash(r, "Two-factor authentication is off.")
		redirect(w, r, "/account")
		return nil
	})
}

// getRecoveryCodesFile downloads the recovery codes just made, as a text
// file, once: they are kept in the session only from turning two-factor
// on until this download (or the next visit of the setup page).
func (s *server) getRecoveryCodesFile() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		codes := s.d.Sessions.PopString(r.Context(), sessionRecovery)
		if codes == "" {
			return gw.Errorf(gw.ENOTFOUND, "The recovery codes are shown only once, right after two-factor authentication is turned on.")
		}
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="groundwork-recovery-codes.txt"`)
		h.Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "Groundwork recovery codes for "+userFrom(r.Context()).Email+
			"\nEach code works once, in place of a code of your authenticator app.\n\n"+codes+"\n")
		return nil
	})
}
