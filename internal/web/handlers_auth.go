package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/account"
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
	// A new sign-in starts with no organisation's single sign-on noted:
	// only completeSignInVia and signInWithSecondFactor note one.
	s.d.Sessions.Remove(ctx, sessionOrgSSO)
	s.d.Sessions.Remove(ctx, sessionOrgSSOPending)
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

// renderForm re-renders a form page after err, with err's status: client
// errors go next to their fields (or on top of the form); an internal error
// is returned, for errorHandler to answer.
func (s *server) renderForm(w http.ResponseWriter, r *http.Request, p page, err error) error {
	if p.Form == nil {
		p.Form = newForm()
	}
	if !p.Form.setError(err) {
		return err
	}
	s.render(w, r, statusFor(err), p)
	return nil
}

func (s *server) pageHome() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if userFrom(r.Context()) != nil {
			redirect(w, r, "/orgs")
			return nil
		}
		s.render(w, r, http.StatusOK, page{Title: "Welcome", Data: homePage{}})
		return nil
	})
}

func (s *server) pageSignup() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f := newForm()
		f.Values["next"] = r.URL.Query().Get("next")
		s.render(w, r, http.StatusOK, page{Title: "Sign up", Form: f, Data: signupPage{}})
		return nil
	})
}

func (s *server) postSignup() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "email", "password", "next")
		if err != nil {
			return err
		}
		if _, err := s.d.Accounts.SignUp(r.Context(), f.Get("email"), f.Get("password")); err != nil {
			return s.renderForm(w, r, page{Title: "Sign up", Form: f, Data: signupPage{}}, err)
		}
		s.keepSignupNext(r, f.Get("next"))
		s.render(w, r, http.StatusOK, page{Title: "Check your email", Data: checkEmailPage{Email: f.Get("email")}})
		return nil
	})
}

// keepSignupNext remembers next, when it is a local path, in the session
// of the browser that signs up, so that verifying the address and logging
// in lead there (an invitation, say) instead of to an empty /orgs.
func (s *server) keepSignupNext(r *http.Request, next string) {
	if next = safeNext(next, ""); next != "" && s.d.Sessions != nil {
		s.d.Sessions.Put(r.Context(), sessionSignupNext, next)
	}
}

// signupNext is where log-in leads when its form names nowhere: the path
// kept at sign-up (keepSignupNext), which it forgets, or fallback.
func (s *server) signupNext(r *http.Request, fallback string) string {
	if s.d.Sessions == nil {
		return fallback
	}
	return safeNext(s.d.Sessions.PopString(r.Context(), sessionSignupNext), fallback)
}

func (s *server) pageVerifyEmail() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		if !q.Has("token") {
			// Asking for a new link (from the log-in page): no error yet.
			f := newForm()
			f.Values["email"] = q.Get("email")
			s.render(w, r, http.StatusOK, page{Title: "Verify your email", Form: f, Data: resendPage{}})
			return nil
		}
		if _, err := s.d.Accounts.VerifyEmail(r.Context(), q.Get("token")); err != nil {
			return s.renderForm(w, r, page{Title: "Verify your email", Data: resendPage{}}, err)
		}
		s.flash(r, "Your email address is verified. Welcome!")
		if userFrom(r.Context()) != nil {
			redirect(w, r, s.signupNext(r, "/orgs"))
			return nil
		}
		if next := s.d.Sessions.GetString(r.Context(), sessionSignupNext); next != "" {
			redirect(w, r, "/login?next="+url.QueryEscape(next))
			return nil
		}
		redirect(w, r, "/login")
		return nil
	})
}

func (s *server) postResendVerification() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "email")
		if err != nil {
			return err
		}
		if err := s.d.Accounts.ResendVerification(r.Context(), f.Get("email")); err != nil {
			return s.renderForm(w, r, page{Title: "Verify your email", Form: f, Data: resendPage{}}, err)
		}
		s.render(w, r, http.StatusOK, page{Title: "Check your email", Data: checkEmailPage{Email: f.Get("email")}})
		return nil
	})
}

// loginPage is the data of login.html.
type loginPage struct {
	// Unverified says the log-in was refused for an address not verified
	// yet: the page offers to send a new verification link.
	Unverified bool
}

func (loginPage) template() string { return "login.html" }

func (s *server) pageLogin() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f := newForm()
		f.Values["next"] = r.URL.Query().Get("next")
		s.render(w, r, http.StatusOK, page{Title: "Log in", Form: f, Data: loginPage{}})
		return nil
	})
}

func (s *server) postLogin() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "email", "password", "next")
		if err != nil {
			return err
		}
		u, err := s.d.Accounts.Authenticate(r.Context(), f.Get("email"), f.Get("password"))
		if err != nil {
			// An unverified address gets a button that sends a new link.
			return s.renderForm(w, r, page{Title: "Log in", Form: f,
				Data: loginPage{Unverified: errors.Is(err, account.ErrUnverified)}}, err)
		}
		next := safeNext(f.Get("next"), "")
		if next == "" {
			next = s.signupNext(r, "/orgs")
		}
		if u.TwoFactor {
			if err := s.startSecondFactor(r, u.ID); err != nil {
				return err
			}
			redirect(w, r, "/login/two-factor?next="+url.QueryEscape(next))
			return nil
		}
		if err := s.signIn(r, u.ID); err != nil {
			return err
		}
		s.d.Sessions.Remove(r.Context(), sessionTwoFactorAt) // this sign-in proved no second factor
		s.rememberDevice(w, r, u.Email)                      // exempts this browser from the account's log-in budget
		redirect(w, r, next)
		return nil
	})
}

// signInWithSecondFactor is signIn for userID, whose sign-in waited for
// its second factor: when its first step was an organisation's single
// sign-on (completeSignInVia), the session notes it now.
func (s *server) signInWithSecondFactor(r *http.Request, userID string) error {
	ctx := r.Context()
	orgs := s.d.Sessions.PopString(ctx, sessionOrgSSOPending)
	if err := s.signIn(r, userID); err != nil {
		return err
	}
	if f := strings.Fields(orgs); len(f) > 1 && f[0] == userID {
		s.d.Sessions.Put(ctx, sessionOrgSSO, orgs)
	}
	return nil
}

// startSecondFactor records in r's session that userID passed the first
// step of a sign-in (a password, or an identity provider); the session is
// not signed in until the second factor is given (postLoginTwoFactor).
func (s *server) startSecondFactor(r *http.Request, userID string) error {
	ctx := r.Context()
	if err := s.d.Sessions.RenewToken(ctx); err != nil {
		return err
	}
	stamp, err := s.d.Accounts.PasswordStamp(ctx, userID)
	if err != nil {
		return err
	}
	s.d.Sessions.Remove(ctx, sessionOrgSSOPending) // a first step of another sign-in forgets an earlier one's SSO
	s.d.Sessions.Put(ctx, sessionPending2F, userID)
	s.d.Sessions.Put(ctx, sessionPending2FAt, s.d.Clock.Now().Unix())
	s.d.Sessions.Put(ctx, sessionPending2FStamp, stamp)
	return nil
}

func (s *server) pageLoginTwoFactor() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		userID, err := s.pendingSecondFactor(w, r)
		if err != nil || userID == "" {
			return err
		}
		f := newForm()
		f.Values["next"] = r.URL.Query().Get("next")
		data, err := s.loginTwoFactorData(r, userID)
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, page{Title: "Two-factor authentication", Form: f, Data: data})
		return nil
	})
}

func (s *server) postLoginTwoFactor() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		userID, err := s.pendingSecondFactor(w, r)
		if err != nil || userID == "" {
			return err
		}
		f, err := parseForm(r, "code", "next")
		if err != nil {
			return err
		}
		if err := s.d.Accounts.VerifySecondFactor(r.Context(), userID, f.Get("code")); err != nil {
			data, derr := s.loginTwoFactorData(r, userID)
			if derr != nil {
				return derr
			}
			return s.renderForm(w, r, page{Title: "Two-factor authentication", Form: f, Data: data}, err)
		}
		if err := s.signInWithSecondFactor(r, userID); err != nil {
			return err
		}
		s.d.Sessions.Put(r.Context(), sessionTwoFactorAt, s.d.Clock.Now().Unix())
		s.rememberDeviceOf(w, r, userID) // exempts this browser from the account's log-in budget
		redirect(w, r, safeNext(f.Get("next"), "/orgs"))
		return nil
	})
}

// pendingSecondFactor returns the user whose sign-in waits for its second
// factor in r's session, or "" after sending the browser back to /login:
// when there is none, when it waited longer than
// account.SecondFactorWindow, or when the password it passed with has been
// changed or reset since (the pending state is then forgotten).
func (s *server) pendingSecondFactor(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx := r.Context()
	userID := s.d.Sessions.GetString(ctx, sessionPending2F)
	if userID == "" {
		redirect(w, r, "/login")
		return "", nil
	}
	at := time.Unix(s.d.Sessions.GetInt64(ctx, sessionPending2FAt), 0)
	stamp, err := s.d.Accounts.PasswordStamp(ctx, userID)
	if gw.ErrorCode(err) == gw.ENOTFOUND {
		stamp = ""
	} else if err != nil {
		return "", err
	}
	if s.d.Clock.Now().Sub(at) > account.SecondFactorWindow || stamp == "" ||
		stamp != s.d.Sessions.GetString(ctx, sessionPending2FStamp) {
		for _, key := range []string{sessionPending2F, sessionPending2FAt, sessionPending2FStamp} {
			s.d.Sessions.Remove(ctx, key)
		}
		s.flash(r, "Your sign-in took too long or your password changed meanwhile. Log in again.")
		redirect(w, r, "/login")
		return "", nil
	}
	return userID, nil
}

func (s *server) postLogout() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		// Destroy revokes the session in the store (account.SessionStore):
		// its index row no longer matches a live session and is ignored,
		// and a request still in flight cannot save it back.
		if err := s.d.Sessions.Destroy(r.Context()); err != nil {
			return err
		}
		redirect(w, r, "/login")
		return nil
	})
}

func (s *server) pageForgotPassword() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		s.render(w, r, http.StatusOK, page{Title: "Reset your password", Form: newForm(), Data: forgotPage{}})
		return nil
	})
}

func (s *server) postForgotPassword() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "email")
		if err != nil {
			return err
		}
		if err := s.d.Accounts.RequestPasswordReset(r.Context(), f.Get("email")); err != nil {
			return s.renderForm(w, r, page{Title: "Reset your password", Form: f, Data: forgotPage{}}, err)
		}
		s.render(w, r, http.StatusOK, page{Title: "Check your email", Data: checkEmailPage{Email: f.Get("email")}})
		return nil
	})
}

func (s *server) pageResetPassword() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f := newForm()
		f.Values["token"] = r.URL.Query().Get("token")
		s.render(w, r, http.StatusOK, page{Title: "Choose a new password", Form: f, Data: resetPage{}})
		return nil
	})
}

func (s *server) postResetPassword() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "token", "password")
		if err != nil {
			return err
		}
		if _, err := s.d.Accounts.ResetPassword(r.Context(), f.Get("token"), f.Get("password")); err != nil {
			return s.renderForm(w, r, page{Title: "Choose a new password", Form: f, Data: resetPage{}}, err)
		}
		s.flash(r, "Your password was changed and your other sessions were signed out. Log in with the new password.")
		redirect(w, r, "/login")
		return nil
	})
}

// homePage is the data of home.html: the anonymous home page, which has no data of its own.
type homePage struct {
}

func (homePage) template() string { return "home.html" }

// signupPage is the data of signup.html: the sign-up form, whose values are all in page.Form.
type signupPage struct {
}

func (signupPage) template() string { return "signup.html" }

// checkEmailPage is the data of check-email.html: the page saying a link was mailed.
type checkEmailPage struct {
	Email string // the address the link went to, as typed
}

func (checkEmailPage) template() string { return "check-email.html" }

// resendPage is the data of resend.html: the form asking for a new verification link (and the page of a verification or email-change link that failed).
type resendPage struct {
}

func (resendPage) template() string { return "resend.html" }

// forgotPage is the data of forgot.html: the form asking for a password-reset link.
type forgotPage struct {
}

func (forgotPage) template() string { return "forgot.html" }

// resetPage is the data of reset.html: the form choosing a new password from a reset link.
type resetPage struct {
}

func (resetPage) template() string { return "reset.html" }
