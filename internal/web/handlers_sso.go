package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
	"github.com/groundwork-dev/groundwork/internal/sso"
)

// Session keys of sign-in with an identity provider.
const (
	// sessionSSOFlow is the started sign-in (sso.Flow as JSON), taken out
	// of the session by the callback: each state works once.
	sessionSSOFlow = "sso_flow"
	// sessionSSOLink is an identity waiting for its link to an existing
	// account to be confirmed with that account's password (ssoLink).
	sessionSSOLink = "sso_link"
)

// ssoLink is an identity, verified by its provider, whose email address
// has an account, waiting for the account's owner to confirm the link.
type ssoLink struct {
	Identity account.ExternalIdentity `json:"identity"`
	UserID   string                   `json:"user_id"`
	Next     string                   `json:"next"`
	At       time.Time                `json:"at"`
}

// ssoLinkPage is what login-link.html shows.
type ssoLinkPage struct {
	Provider, Email string
}

func (ssoLinkPage) template() string { return "login-link.html" }

// postSSOStart starts a sign-in with the provider in the path and sends
// the browser there. A POST, so that another site cannot start one.
func (s *server) postSSOStart() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if s.d.SSO == nil {
			return gw.Errorf(gw.ENOTFOUND, "No identity provider is configured.")
		}
		f, err := parseForm(r, "next")
		if err != nil {
			return err
		}
		flow, authURL, err := s.d.SSO.Begin(r.Context(), r.PathValue("provider"), safeNext(f.Get("next"), "/orgs"))
		if err != nil {
			return err
		}
		b, err := json.Marshal(flow)
		if err != nil {
			return err
		}
		s.d.Sessions.Put(r.Context(), sessionSSOFlow, string(b))
		http.Redirect(w, r, authURL, http.StatusSeeOther)
		return nil
	})
}

// pageSSOCallback is where the provider sends the browser back: the flow
// is taken out of the session (a replayed state finds none), the ID token
// verified, and the identity signed in, offered a link, or refused.
func (s *server) pageSSOCallback() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if s.d.SSO == nil {
			return gw.Errorf(gw.ENOTFOUND, "No identity provider is configured.")
		}
		ctx := r.Context()
		var flow sso.Flow
		if raw := s.d.Sessions.PopString(ctx, sessionSSOFlow); raw != "" {
			if err := json.Unmarshal([]byte(raw), &flow); err != nil {
				return err
			}
		}
		if flow.Provider != r.PathValue("provider") {
			flow = sso.Flow{} // Finish refuses it
		}
		q := r.URL.Query()
		id, err := s.d.SSO.Finish(ctx, flow, q.Get("state"), q.Get("code"), q.Get("error"))
		if err != nil {
			return s.ssoRefused(w, r, err)
		}
		ext := account.ExternalIdentity{Provider: id.Provider, Subject: id.Subject, Email: id.Email, EmailVerified: id.EmailVerified}
		if flow.LinkUser != "" {
			return s.linkSignedIn(w, r, flow.LinkUser, ext)
		}
		res, err := s.d.Accounts.SignInWithIdentity(ctx, ext)
		if err != nil {
			return s.ssoRefused(w, r, err)
		}
		if res.LinkTo != "" {
			b, err := json.Marshal(ssoLink{Identity: ext, UserID: res.LinkTo, Next: flow.Next, At: s.d.Clock.Now()})
			if err != nil {
				return err
			}
			s.d.Sessions.Put(ctx, sessionSSOLink, string(b))
			redirect(w, r, "/login/oidc/link")
			return nil
		}
		if res.Created {
			s.flash(r, "Welcome! Your account was created with your "+s.d.SSO.Label(id.Provider)+" sign-in.")
		}
		return s.completeSignIn(w, r, res.User, flow.Next)
	})
}

// linkSignedIn ends a flow the signed-in user userID started from the
// account page: the identity is linked to their account, provided the
// same user is still signed in.
func (s *server) linkSignedIn(w http.ResponseWriter, r *http.Request, userID string, ext account.ExternalIdentity) error {
	if u := userFrom(r.Context()); u == nil || u.ID != userID {
		return s.ssoRefused(w, r, gw.Errorf(gw.EUNAUTHORIZED, "You are no longer signed in as the user who started linking. Try again."))
	}
	if err := s.d.Accounts.LinkIdentitySignedIn(r.Context(), userID, ext); err != nil {
		if gw.ErrorCode(err) == gw.ECONFLICT {
			return s.accountPage(w, r, newForm(), err)
		}
		return err
	}
	s.flash(r, "Your "+s.d.SSO.Label(ext.Provider)+" sign-in is linked to your account.")
	redirect(w, r, "/account")
	return nil
}

// postLinkProvider starts a flow that links the provider in the path to
// the signed-in user's account.
func (s *server) postLinkProvider() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if s.d.SSO == nil {
			return gw.Errorf(gw.ENOTFOUND, "No identity provider is configured.")
		}
		flow, authURL, err := s.d.SSO.Begin(r.Context(), r.PathValue("provider"), "/account")
		if err != nil {
			return err
		}
		flow.LinkUser = userFrom(r.Context()).ID
		b, err := json.Marshal(flow)
		if err != nil {
			return err
		}
		s.d.Sessions.Put(r.Context(), sessionSSOFlow, string(b))
		http.Redirect(w, r, authURL, http.StatusSeeOther)
		return nil
	})
}

// ssoRefused answers a refused sign-in on the log-in page, with err's
// status and message.
func (s *server) ssoRefused(w http.ResponseWriter, r *http.Request, err error) error {
	return s.renderForm(w, r, page{Title: "Log in", Form: newForm(), Data: loginPage{}}, err)
}

// pendingSSOLink returns the identity waiting for its link in r's session,
// or false after sending the browser back to /login when there is none or
// it waited longer than sso.FlowTTL.
func (s *server) pendingSSOLink(w http.ResponseWriter, r *http.Request) (ssoLink, bool, error) {
	raw := s.d.Sessions.GetString(r.Context(), sessionSSOLink)
	var l ssoLink
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			return ssoLink{}, false, err
		}
	}
	if raw == "" || s.d.Clock.Now().Sub(l.At) > sso.FlowTTL {
		s.d.Sessions.Remove(r.Context(), sessionSSOLink)
		redirect(w, r, "/login")
		return ssoLink{}, false, nil
	}
	return l, true, nil
}

func (s *server) pageSSOLink() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		l, ok, err := s.pendingSSOLink(w, r)
		if !ok {
			return err
		}
		s.render(w, r, http.StatusOK, page{Title: "Link your sign-in", Form: newForm(),
			Data: ssoLinkPage{Provider: s.d.SSO.Label(l.Identity.Provider), Email: l.Identity.Email}})
		return nil
	})
}

// postSSOLink links the pending identity once the account's password is
// given, then signs in as a password log-in would (second factor included).
func (s *server) postSSOLink() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		l, ok, err := s.pendingSSOLink(w, r)
		if !ok {
			return err
		}
		f, err := parseForm(r, "password")
		if err != nil {
			return err
		}
		u, err := s.d.Accounts.LinkIdentity(r.Context(), l.UserID, f.Get("password"), l.Identity)
		if err != nil {
			countWrongPassword(r, err, "password")
			return s.renderForm(w, r, page{Title: "Link your sign-in", Form: f,
				Data: ssoLinkPage{Provider: s.d.SSO.Label(l.Identity.Provider), Email: l.Identity.Email}}, err)
		}
		s.d.Sessions.Remove(r.Context(), sessionSSOLink)
		s.flash(r, "Your "+s.d.SSO.Label(l.Identity.Provider)+" sign-in is linked to your account.")
		return s.completeSignIn(w, r, u, l.Next)
	})
}

// completeSignIn signs u in after a first factor passed, or, when u has
// two-factor authentication on, sends the browser to its second step, as
// a password log-in does.
func (s *server) completeSignIn(w http.ResponseWriter, r *http.Request, u account.User, next string) error {
	return s.completeSignInVia(w, r, u, next, "")
}

// completeSignInVia is completeSignIn for a sign-in through organisations'
// own identity providers, orgSSO ("<user ID> <org ID>...", sessionOrgSSO):
// the session notes them once signed in, after the second factor if any.
func (s *server) completeSignInVia(w http.ResponseWriter, r *http.Request, u account.User, next, orgSSO string) error {
	next = safeNext(next, "/orgs")
	ctx := r.Context()
	if u.TwoFactor {
		if err := s.startSecondFactor(r, u.ID); err != nil {
			return err
		}
		if orgSSO != "" {
			s.d.Sessions.Put(ctx, sessionOrgSSOPending, orgSSO)
		}
		redirect(w, r, "/login/two-factor?next="+url.QueryEscape(next))
		return nil
	}
	if err := s.signIn(r, u.ID); err != nil {
		return err
	}
	if orgSSO != "" {
		s.d.Sessions.Put(ctx, sessionOrgSSO, orgSSO)
	}
	s.rememberDevice(w, r, u.Email) // exempts this browser from the account's log-in budget
	redirect(w, r, next)
	return nil
}

// postUnlinkIdentity removes a linked sign-in from the user's account.
func (s *server) postUnlinkIdentity() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		u := userFrom(r.Context())
		if err := s.d.Accounts.UnlinkIdentity(r.Context(), u.ID, r.PathValue("id")); err != nil {
			if gw.ErrorCode(err) == gw.ECONFLICT {
				return s.accountPage(w, r, newForm(), err)
			}
			return err
		}
		s.flash(r, "The sign-in was unlinked from your account.")
		redirect(w, r, "/account")
		return nil
	})
}

// perPendingLink counts by the account an identity waits to be linked to
// (from the session; the route must load it): guesses at its password
// through link confirmations share one budget whichever browser sends them.
func (s *server) perPendingLink(p ratelimit.Policy) limitRule {
	return limitRule{p, func(r *http.Request) (string, error) {
		var l ssoLink
		if raw := s.d.Sessions.GetString(r.Context(), sessionSSOLink); raw != "" {
			if err := json.Unmarshal([]byte(raw), &l); err != nil {
				return "", err
			}
		}
		return l.UserID, nil
	}}
}
