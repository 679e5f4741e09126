package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// signIn starts the signed-in session of userID: a new session token (no
// fixation), the user recorded, and the session indexed for "your sessions".
func (s *server) signIn(r *http.Request, userID string) error {
	ctx := r.Context()
	if err := s.d.Sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.d.Sessions.Remove(ctx, sessionPending2F)
	s.d.Sessions.Put(ctx, sessionUserID, userID)
	s.d.Sessions.Put(ctx, sessionTouched, time.Now().Unix())
	c := gw.ClientFrom(ctx)
	return s.d.Accounts.RecordSession(ctx, userID, s.d.Sessions.Token(ctx), c.IP, c.UserAgent)
}

// safeNext returns next when it is a local path, and fallback otherwise, so
// that ?next= cannot send a user to another site.
func safeNext(next, fallback string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return fallback
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return fallback
	}
	return next
}

// renderForm re-renders a form page after err: client errors go next to
// their fields, internal errors to the error page.
func (s *server) renderForm(w http.ResponseWriter, r *http.Request, name string, p page, err error) {
	if p.Form == nil {
		p.Form = newForm()
	}
	if !p.Form.setError(err) {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, statusFor(err), name, p)
}

func (s *server) pageHome() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if userFrom(r.Context()) != nil {
			redirect(w, r, "/orgs")
			return
		}
		s.render(w, r, http.StatusOK, "home.html", page{Title: "Welcome"})
	})
}

func (s *server) pageSignup() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := newForm()
		f.Values["next"] = r.URL.Query().Get("next")
		s.render(w, r, http.StatusOK, "signup.html", page{Title: "Sign up", Form: f})
	})
}

func (s *server) postSignup() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, "email", "password", "next")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if _, err := s.d.Accounts.SignUp(r.Context(), f.Get("email"), f.Get("password")); err != nil {
			s.renderForm(w, r, "signup.html", page{Title: "Sign up", Form: f}, err)
			return
		}
		s.render(w, r, http.StatusOK, "check-email.html", page{Title: "Check your email", Data: f.Get("email")})
	})
}

func (s *server) pageVerifyEmail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.d.Accounts.VerifyEmail(r.Context(), r.URL.Query().Get("token")); err != nil {
			s.renderForm(w, r, "resend.html", page{Title: "Verify your email"}, err)
			return
		}
		s.flash(r, "Your email address is verified. Welcome!")
		if userFrom(r.Context()) != nil {
			redirect(w, r, "/orgs")
			return
		}
		redirect(w, r, "/login")
	})
}

func (s *server) postResendVerification() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, "email")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.d.Accounts.ResendVerification(r.Context(), f.Get("email")); err != nil {
			s.renderForm(w, r, "resend.html", page{Title: "Verify your email", Form: f}, err)
			return
		}
		s.render(w, r, http.StatusOK, "check-email.html", page{Title: "Check your email", Data: f.Get("email")})
	})
}

func (s *server) pageLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := newForm()
		f.Values["next"] = r.URL.Query().Get("next")
		s.render(w, r, http.StatusOK, "login.html", page{Title: "Log in", Form: f})
	})
}

func (s *server) postLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, "email", "password", "next")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		u, err := s.d.Accounts.Authenticate(r.Context(), f.Get("email"), f.Get("password"))
		if err != nil {
			s.renderForm(w, r, "login.html", page{Title: "Log in", Form: f}, err)
			return
		}
		next := safeNext(f.Get("next"), "/orgs")
		if u.TwoFactor {
			// The password step passed; the session is not signed in until
			// the second factor is given.
			if err := s.d.Sessions.RenewToken(r.Context()); err != nil {
				s.fail(w, r, err)
				return
			}
			s.d.Sessions.Put(r.Context(), sessionPending2F, u.ID)
			redirect(w, r, "/login/two-factor?next="+url.QueryEscape(next))
			return
		}
		if err := s.signIn(r, u.ID); err != nil {
			s.fail(w, r, err)
			return
		}
		redirect(w, r, next)
	})
}

func (s *server) pageLoginTwoFactor() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.d.Sessions.GetString(r.Context(), sessionPending2F) == "" {
			redirect(w, r, "/login")
			return
		}
		f := newForm()
		f.Values["next"] = r.URL.Query().Get("next")
		s.render(w, r, http.StatusOK, "login-2fa.html", page{Title: "Two-factor authentication", Form: f})
	})
}

func (s *server) postLoginTwoFactor() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID := s.d.Sessions.GetString(r.Context(), sessionPending2F)
		if userID == "" {
			redirect(w, r, "/login")
			return
		}
		f, err := parseForm(r, "code", "next")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.d.Accounts.VerifySecondFactor(r.Context(), userID, f.Get("code")); err != nil {
			s.renderForm(w, r, "login-2fa.html", page{Title: "Two-factor authentication", Form: f}, err)
			return
		}
		if err := s.signIn(r, userID); err != nil {
			s.fail(w, r, err)
			return
		}
		redirect(w, r, safeNext(f.Get("next"), "/orgs"))
	})
}

func (s *server) postLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Destroy deletes the session from the store; its index row in
		// user_sessions no longer matches a session and is ignored.
		if err := s.d.Sessions.Destroy(r.Context()); err != nil {
			s.fail(w, r, err)
			return
		}
		redirect(w, r, "/login")
	})
}

func (s *server) pageForgotPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "forgot.html", page{Title: "Reset your password", Form: newForm()})
	})
}

func (s *server) postForgotPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, "email")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.d.Accounts.RequestPasswordReset(r.Context(), f.Get("email")); err != nil {
			s.renderForm(w, r, "forgot.html", page{Title: "Reset your password", Form: f}, err)
			return
		}
		s.render(w, r, http.StatusOK, "check-email.html", page{Title: "Check your email", Data: f.Get("email")})
	})
}

func (s *server) pageResetPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := newForm()
		f.Values["token"] = r.URL.Query().Get("token")
		s.render(w, r, http.StatusOK, "reset.html", page{Title: "Choose a new password", Form: f})
	})
}

func (s *server) postResetPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, "token", "password")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if _, err := s.d.Accounts.ResetPassword(r.Context(), f.Get("token"), f.Get("password")); err != nil {
			s.renderForm(w, r, "reset.html", page{Title: "Choose a new password", Form: f}, err)
			return
		}
		s.flash(r, "Your password was changed and your other sessions were signed out. Log in with the new password.")
		redirect(w, r, "/login")
	})
}
