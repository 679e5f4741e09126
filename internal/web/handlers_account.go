package web

import (
	"net/http"

	"github.com/groundwork-dev/groundwork/internal/account"
)

// accountPage is the data of account.html.
type accountPage struct {
	Sessions []account.Session
}

func (s *server) accountPage(w http.ResponseWriter, r *http.Request, status int, f *form, err error) {
	u := userFrom(r.Context())
	sessions, serr := s.d.Accounts.Sessions(r.Context(), u.ID)
	if serr != nil {
		s.fail(w, r, serr)
		return
	}
	account.MarkCurrent(sessions, s.d.Sessions.Token(r.Context()))
	p := page{Title: "Your account", Form: f, Data: accountPage{Sessions: sessions}}
	if err != nil {
		s.renderForm(w, r, "account.html", p, err)
		return
	}
	s.render(w, r, status, "account.html", p)
}

func (s *server) pageAccount() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.accountPage(w, r, http.StatusOK, newForm(), nil)
	})
}

func (s *server) postChangePassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, "current_password", "new_password")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		u := userFrom(ctx)
		if err := s.d.Accounts.ChangePassword(ctx, u.ID, f.Get("current_password"), f.Get("new_password")); err != nil {
			s.accountPage(w, r, 0, f, err)
			return
		}
		// A privilege change: new session token; other sessions were revoked.
		if err := s.signIn(r, u.ID); err != nil {
			s.fail(w, r, err)
			return
		}
		s.flash(r, "Password changed. Your other sessions were signed out.")
		redirect(w, r, "/account")
	})
}

func (s *server) postChangeEmail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, "new_email", "password_email")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		u := userFrom(r.Context())
		if err := s.d.Accounts.RequestEmailChange(r.Context(), u.ID, f.Get("password_email"), f.Get("new_email")); err != nil {
			s.accountPage(w, r, 0, f, remapFields(err, map[string]string{"email": "new_email", "password": "password_email"}))
			return
		}
		s.flash(r, "We sent a confirmation link to "+f.Get("new_email")+". Your address changes when you follow it.")
		redirect(w, r, "/account")
	})
}

func (s *server) pageConfirmEmail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.d.Accounts.ConfirmEmailChange(r.Context(), r.URL.Query().Get("token")); err != nil {
			s.renderForm(w, r, "resend.html", page{Title: "Confirm your new email"}, err)
			return
		}
		s.flash(r, "Your email address was changed.")
		redirect(w, r, "/account")
	})
}

func (s *server) postRevokeSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		if err := s.d.Accounts.RevokeSession(r.Context(), u.ID, r.PathValue("id")); err != nil {
			s.fail(w, r, err)
			return
		}
		s.flash(r, "That session was signed out.")
		redirect(w, r, "/account")
	})
}

func (s *server) postRevokeOtherSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u := userFrom(ctx)
		if _, err := s.d.Accounts.RevokeOtherSessions(ctx, u.ID, s.d.Sessions.Token(ctx)); err != nil {
			s.fail(w, r, err)
			return
		}
		s.flash(r, "All your other sessions were signed out.")
		redirect(w, r, "/account")
	})
}

func (s *server) postDeleteAccount() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, "password_delete")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		u := userFrom(ctx)
		if err := s.d.Accounts.DeleteAccount(ctx, u.ID, f.Get("password_delete")); err != nil {
			s.accountPage(w, r, 0, f, remapFields(err, map[string]string{"password": "password_delete"}))
			return
		}
		_ = s.d.Sessions.Destroy(ctx)
		redirect(w, r, "/")
	})
}

// twoFactorPage is the data of two-factor.html.
type twoFactorPage struct {
	Enabled       bool
	Secret        string
	URL           string
	RecoveryCodes []string
}

// sessionTOTPSetup holds the secret being set up until the first code confirms it.
const sessionTOTPSetup = "totp_setup"

func (s *server) pageTwoFactor() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u := userFrom(ctx)
		if u.TwoFactor {
			s.render(w, r, http.StatusOK, "two-factor.html", page{Title: "Two-factor authentication", Form: newForm(),
				Data: twoFactorPage{Enabled: true}})
			return
		}
		secret, otpURL, err := s.d.Accounts.BeginTwoFactor(ctx, u.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.d.Sessions.Put(ctx, sessionTOTPSetup, secret)
		s.render(w, r, http.StatusOK, "two-factor.html", page{Title: "Two-factor authentication", Form: newForm(),
			Data: twoFactorPage{Secret: secret, URL: otpURL}})
	})
}

func (s *server) postEnableTwoFactor() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, "code")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		u := userFrom(ctx)
		secret := s.d.Sessions.GetString(ctx, sessionTOTPSetup)
		if secret == "" {
			redirect(w, r, "/account/two-factor")
			return
		}
		codes, err := s.d.Accounts.EnableTwoFactor(ctx, u.ID, secret, f.Get("code"))
		if err != nil {
			s.renderForm(w, r, "two-factor.html", page{Title: "Two-factor authentication", Form: f,
				Data: twoFactorPage{Secret: secret}}, err)
			return
		}
		s.d.Sessions.Remove(ctx, sessionTOTPSetup)
		if err := s.signIn(r, u.ID); err != nil { // a privilege change: new session token
			s.fail(w, r, err)
			return
		}
		u.TwoFactor = true
		s.render(w, r, http.StatusOK, "two-factor.html", page{Title: "Two-factor authentication", Form: newForm(),
			Data: twoFactorPage{Enabled: true, RecoveryCodes: codes}})
	})
}

func (s *server) postDisableTwoFactor() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, "password")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		u := userFrom(r.Context())
		if err := s.d.Accounts.DisableTwoFactor(r.Context(), u.ID, f.Get("password")); err != nil {
			s.renderForm(w, r, "two-factor.html", page{Title: "Two-factor authentication", Form: f,
				Data: twoFactorPage{Enabled: true}}, err)
			return
		}
		s.flash(r, "Two-factor authentication is off.")
		redirect(w, r, "/account")
	})
}
