package web

import (
	"net/http"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Passkeys (WebAuthn, account.Passkeys). Each ceremony is two requests:
// the page's script (static/passkeys.js) posts to an options route, which
// keeps the ceremony's state (its challenge) in the server-side session
// and answers the options for navigator.credentials as JSON; the script
// then posts the page's form with the browser's answer in its
// "credential" field, and the form's route takes the state out of the
// session (each works once) and finishes the ceremony. Without Deps.Passkeys
// (a base URL whose host cannot be a relying party ID, such as an IP
// address) every passkey route answers 404 and the pages offer none.

// sessionPasskeyCeremony is the state of the passkey ceremony begun in
// this session (account.Passkeys' Begin* state), until its finish.
const sessionPasskeyCeremony = "passkey_ceremony"

// errNoPasskeys answers the passkey routes when passkeys are off.
func errNoPasskeys() error {
	return gw.Errorf(gw.ENOTFOUND, "Passkeys are not available on this server.")
}

// passkeyHandler is errorHandler for the passkey routes, which answer 404
// (errNoPasskeys) when the server has no passkeys (Deps.Passkeys nil).
func (s *server) passkeyHandler(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if s.d.Passkeys == nil {
			return errNoPasskeys()
		}
		return fn(w, r)
	})
}

// passkeyOptions answers options, the JSON of a begun ceremony, keeping
// its state in the session.
func (s *server) passkeyOptions(w http.ResponseWriter, r *http.Request, options []byte, state string) {
	s.d.Sessions.Put(r.Context(), sessionPasskeyCeremony, state)
	w.Header().Set("Cache-Control", "no-store")
	writeJSONBytes(w, http.StatusOK, options)
}

// postPasskeyRegisterOptions begins registering a passkey for the
// signed-in user.
func (s *server) postPasskeyRegisterOptions() http.Handler {
	return s.passkeyHandler(func(w http.ResponseWriter, r *http.Request) error {
		options, state, err := s.d.Passkeys.BeginRegistration(r.Context(), userFrom(r.Context()).ID)
		if err != nil {
			return err
		}
		s.passkeyOptions(w, r, options, state)
		return nil
	})
}

// postPasskeyRegister finishes registering a passkey: the form's name and
// the browser's answer.
func (s *server) postPasskeyRegister() http.Handler {
	return s.passkeyHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "passkey_name", "credential")
		if err != nil {
			return err
		}
		ctx := r.Context()
		u := userFrom(ctx)
		state := s.d.Sessions.PopString(ctx, sessionPasskeyCeremony)
		pk, err := s.d.Passkeys.FinishRegistration(ctx, u.ID, state, f.Get("passkey_name"), []byte(f.Get("credential")))
		if err != nil {
			f.Values["credential"] = ""
			return s.accountPage(w, r, f, err)
		}
		s.flash(r, "Passkey "+pk.Name+" added. You can sign in with it.")
		redirect(w, r, "/account")
		return nil
	})
}

// postPasskeyRename renames one of the signed-in user's passkeys.
func (s *server) postPasskeyRename() http.Handler {
	return s.passkeyHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "name")
		if err != nil {
			return err
		}
		ctx := r.Context()
		if err := s.d.Passkeys.Rename(ctx, userFrom(ctx).ID, r.PathValue("id"), f.Get("name")); err != nil {
			if gw.ErrorCode(err) == gw.ENOTFOUND {
				return err
			}
			return s.accountPage(w, r, newForm(), onTop(err))
		}
		s.flash(r, "Passkey renamed.")
		redirect(w, r, "/account")
		return nil
	})
}

// postPasskeyRemove removes one of the signed-in user's passkeys, once
// they confirmed with their password.
func (s *server) postPasskeyRemove() http.Handler {
	return s.passkeyHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "password_passkey")
		if err != nil {
			return err
		}
		ctx := r.Context()
		if err := s.d.Passkeys.Remove(ctx, userFrom(ctx).ID, r.PathValue("id"), f.Get("password_passkey")); err != nil {
			if gw.ErrorCode(err) == gw.ENOTFOUND {
				return err
			}
			countWrongPassword(r, err, "password")
			return s.accountPage(w, r, newForm(), onTop(err))
		}
		s.flash(r, "Passkey removed.")
		redirect(w, r, "/account")
		return nil
	})
}

// onTop returns err with its field messages as its message, for a form
// whose fields are repeated on the page (one per passkey): the message
// goes on top of the page instead.
func onTop(err error) error {
	e, ok := err.(*gw.Error)
	if !ok || len(e.Fields) == 0 {
		return err
	}
	for _, msg := range e.Fields {
		return gw.Errorf(e.Code, "%s", msg)
	}
	return err
}

// postPasskeySignInOptions begins a passwordless sign-in.
func (s *server) postPasskeySignInOptions() http.Handler {
	return s.passkeyHandler(func(w http.ResponseWriter, r *http.Request) error {
		options, state, err := s.d.Passkeys.BeginSignIn(r.Context())
		if err != nil {
			return err
		}
		s.passkeyOptions(w, r, options, state)
		return nil
	})
}

// postPasskeySignIn finishes a passwordless sign-in and signs the user
// in. The passkey verified its user (a PIN or biometric on the device it
// is on), so it stands for both factors: no code is asked after it, and
// the session counts as having proved a second factor.
func (s *server) postPasskeySignIn() http.Handler {
	return s.passkeyHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "credential", "next")
		if err != nil {
			return err
		}
		ctx := r.Context()
		state := s.d.Sessions.PopString(ctx, sessionPasskeyCeremony)
		u, err := s.d.Passkeys.FinishSignIn(ctx, state, []byte(f.Get("credential")))
		if err != nil {
			f.Values["credential"] = ""
			return s.renderForm(w, r, page{Title: "Log in", Form: f, Data: loginPage{}}, err)
		}
		next := safeNext(f.Get("next"), "")
		if next == "" {
			next = s.signupNext(r, "/orgs")
		}
		if err := s.signIn(r, u.ID); err != nil {
			return err
		}
		s.d.Sessions.Put(ctx, sessionTwoFactorAt, s.d.Clock.Now().Unix())
		s.rememberDevice(w, r, u.Email) // exempts this browser from the account's log-in budget
		redirect(w, r, next)
		return nil
	})
}

// postPasskeySecondFactorOptions begins the second step of a sign-in
// waiting for it, with one of the user's passkeys.
func (s *server) postPasskeySecondFactorOptions() http.Handler {
	return s.passkeyHandler(func(w http.ResponseWriter, r *http.Request) error {
		userID, err := s.pendingSecondFactor(w, r)
		if err != nil || userID == "" {
			return err
		}
		options, state, err := s.d.Passkeys.BeginSecondFactor(r.Context(), userID)
		if err != nil {
			return err
		}
		s.passkeyOptions(w, r, options, state)
		return nil
	})
}

// postPasskeySecondFactor finishes the second step of a sign-in with a
// passkey, in place of a code, and signs the user in.
func (s *server) postPasskeySecondFactor() http.Handler {
	return s.passkeyHandler(func(w http.ResponseWriter, r *http.Request) error {
		userID, err := s.pendingSecondFactor(w, r)
		if err != nil || userID == "" {
			return err
		}
		f, err := parseForm(r, "credential", "next")
		if err != nil {
			return err
		}
		ctx := r.Context()
		state := s.d.Sessions.PopString(ctx, sessionPasskeyCeremony)
		if err := s.d.Passkeys.VerifySecondFactor(ctx, userID, state, []byte(f.Get("credential"))); err != nil {
			f.Values["credential"] = ""
			return s.renderForm(w, r, page{Title: "Two-factor authentication", Form: f,
				Data: loginTwoFactorPage{Passkey: true}}, err)
		}
		if err := s.signInWithSecondFactor(r, userID); err != nil {
			return err
		}
		s.d.Sessions.Put(ctx, sessionTwoFactorAt, s.d.Clock.Now().Unix())
		s.rememberDeviceOf(w, r, userID) // exempts this browser from the account's log-in budget
		redirect(w, r, safeNext(f.Get("next"), "/orgs"))
		return nil
	})
}

// loginTwoFactorData is the data of login-2fa.html for userID's pending
// sign-in: whether a passkey can give the second factor.
func (s *server) loginTwoFactorData(r *http.Request, userID string) (loginTwoFactorPage, error) {
	if s.d.Passkeys == nil {
		return loginTwoFactorPage{}, nil
	}
	pks, err := s.d.Passkeys.List(r.Context(), userID)
	return loginTwoFactorPage{Passkey: len(pks) > 0}, err
}

// loginTwoFactorPage is the data of login-2fa.html.
type loginTwoFactorPage struct {
	// Passkey says the user has a passkey, which the page offers in place
	// of a code.
	Passkey bool
}

func (loginTwoFactorPage) template() string { return "login-2fa.html" }
