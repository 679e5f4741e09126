package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/orgsso"
	"github.com/groundwork-dev/groundwork/internal/sso"
)

// Session keys of single sign-on per organisation.
const (
	// sessionOrgSSOFlow is the started sign-in through an organisation's
	// connection (sso.Flow as JSON), taken out by the callback.
	sessionOrgSSOFlow = "org_sso_flow"
	// sessionOrgSSO records the organisations whose own identity provider
	// signed this session's user in: "<user ID> <org ID> <org ID>...".
	// Where an organisation requires single sign-on, its pages open only
	// for a session it lists (requireOrgSSO).
	sessionOrgSSO = "org_sso"
	// sessionOrgSSOPending is sessionOrgSSO for a sign-in waiting for its
	// second factor; it becomes sessionOrgSSO with that sign-in only
	// (signInWithSecondFactor), and any other sign-in drops it.
	sessionOrgSSOPending = "org_sso_pending"
)

// orgSSOPage is what org-sso.html shows.
type orgSSOPage struct {
	Configured  bool
	Connection  orgsso.Connection
	Domains     []orgsso.Domain
	Owners      []org.Member
	RedirectURI string
	Roles       []string // the roles just-in-time members may get
}

func (orgSSOPage) template() string { return "org-sso.html" }

// loginSSOPage is what login-sso.html shows.
type loginSSOPage struct{}

func (loginSSOPage) template() string { return "login-sso.html" }

// orgSSOHandler is errorHandler for the pages of single sign-on, which
// answer 404 when the server has no orgsso.Service.
func (s *server) orgSSOHandler(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if s.d.OrgSSO == nil {
			return gw.Errorf(gw.ENOTFOUND, "Single sign-on is not available.")
		}
		return fn(w, r)
	})
}

// orgSSOPageData loads the settings page's data for the scope.
func (s *server) orgSSOPageData(ctx context.Context, scope gw.Scope) (orgSSOPage, *form, error) {
	c, ok, domains, err := s.d.OrgSSO.Settings(ctx, scope)
	if err != nil {
		return orgSSOPage{}, nil, err
	}
	members, err := s.d.Orgs.Members(ctx, scope)
	if err != nil {
		return orgSSOPage{}, nil, err
	}
	p := orgSSOPage{Configured: ok, Connection: c, Domains: domains, RedirectURI: s.d.OrgSSO.RedirectURI(),
		Roles: []string{string(gw.RoleAdmin), string(gw.RoleMember), string(gw.RoleViewer)}}
	for _, m := range members {
		if m.Role == gw.RoleOwner {
			p.Owners = append(p.Owners, m)
		}
	}
	f := newForm()
	f.Values["issuer"], f.Values["client_id"] = c.Issuer, c.ClientID
	f.Values["default_role"] = string(gw.RoleMember)
	if ok {
		f.Values["default_role"] = string(c.DefaultRole)
	}
	f.Values["break_glass"] = c.BreakGlassUserID
	if c.RequireSSO {
		f.Values["require_sso"] = "on"
	}
	if c.JIT {
		f.Values["jit"] = "on"
	}
	return p, f, nil
}

func (s *server) pageOrgSSO() http.Handler {
	return s.orgSSOHandler(func(w http.ResponseWriter, r *http.Request) error {
		p, f, err := s.orgSSOPageData(r.Context(), gw.ScopeFrom(r.Context()))
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, page{Title: "Single sign-on", Form: f, Data: p})
		return nil
	})
}

// orgSSOFormError re-renders the settings page with f and err.
func (s *server) orgSSOFormError(w http.ResponseWriter, r *http.Request, f *form, err error) error {
	p, _, lerr := s.orgSSOPageData(r.Context(), gw.ScopeFrom(r.Context()))
	if lerr != nil {
		return lerr
	}
	return s.renderForm(w, r, page{Title: "Single sign-on", Form: f, Data: p}, err)
}

// postOrgSSO saves the connection; the issuer's discovery is checked first.
func (s *server) postOrgSSO() http.Handler {
	return s.orgSSOHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "issuer", "client_id", "client_secret", "require_sso", "jit", "default_role", "break_glass")
		if err != nil {
			return err
		}
		ctx := r.Context()
		_, err = s.d.OrgSSO.SaveConnection(ctx, gw.ScopeFrom(ctx), orgsso.ConnectionInput{
			Issuer: f.Get("issuer"), ClientID: f.Get("client_id"), ClientSecret: f.Get("client_secret"),
			RequireSSO: f.Get("require_sso") == "on", JIT: f.Get("jit") == "on",
			DefaultRole: gw.Role(f.Get("default_role")), BreakGlassUserID: f.Get("break_glass")})
		if err != nil {
			f.Values["client_secret"] = ""
			return s.orgSSOFormError(w, r, f, err)
		}
		s.flash(r, "Single sign-on settings saved.")
		redirect(w, r, orgPath(r, "/sso"))
		return nil
	})
}

func (s *server) postRemoveOrgSSO() http.Handler {
	return s.orgSSOHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		if err := s.d.OrgSSO.RemoveConnection(ctx, gw.ScopeFrom(ctx)); err != nil {
			return err
		}
		s.flash(r, "The single sign-on connection was removed.")
		redirect(w, r, orgPath(r, "/sso"))
		return nil
	})
}

func (s *server) postAddSSODomain() http.Handler {
	return s.orgSSOHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "domain")
		if err != nil {
			return err
		}
		ctx := r.Context()
		d, err := s.d.OrgSSO.AddDomain(ctx, gw.ScopeFrom(ctx), f.Get("domain"))
		if err != nil {
			return s.orgSSOFormError(w, r, f, err)
		}
		s.flash(r, "Add the TXT record "+d.Record()+" at "+d.RecordNames()[0]+" (or "+d.Domain+"), then verify.")
		redirect(w, r, orgPath(r, "/sso"))
		return nil
	})
}

func (s *server) postVerifySSODomain() http.Handler {
	return s.orgSSOHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		d, err := s.d.OrgSSO.VerifyDomain(ctx, gw.ScopeFrom(ctx), r.PathValue("id"))
		if err != nil {
			if c := gw.ErrorCode(err); c == gw.EINVALID || c == gw.ECONFLICT {
				return s.orgSSOFormError(w, r, newForm(), err)
			}
			return err
		}
		s.flash(r, d.Domain+" is verified.")
		redirect(w, r, orgPath(r, "/sso"))
		return nil
	})
}

func (s *server) postRemoveSSODomain() http.Handler {
	return s.orgSSOHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		if err := s.d.OrgSSO.RemoveDomain(ctx, gw.ScopeFrom(ctx), r.PathValue("id")); err != nil {
			return err
		}
		s.flash(r, "The domain was removed.")
		redirect(w, r, orgPath(r, "/sso"))
		return nil
	})
}

// pageLoginSSO asks for the work email address whose domain finds the
// organisation.
func (s *server) pageLoginSSO() http.Handler {
	return s.orgSSOHandler(func(w http.ResponseWriter, r *http.Request) error {
		f := newForm()
		f.Values["next"] = r.URL.Query().Get("next")
		f.Values["email"] = r.URL.Query().Get("email")
		s.render(w, r, http.StatusOK, page{Title: "Continue with SSO", Form: f, Data: loginSSOPage{}})
		return nil
	})
}

// postLoginSSO starts a sign-in through the connection of the organisation
// that verified the address's domain.
func (s *server) postLoginSSO() http.Handler {
	return s.orgSSOHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "email", "next")
		if err != nil {
			return err
		}
		ctx := r.Context()
		flow, authURL, err := s.d.OrgSSO.Begin(ctx, f.Get("email"), safeNext(f.Get("next"), "/orgs"))
		if err != nil {
			return s.renderForm(w, r, page{Title: "Continue with SSO", Form: f, Data: loginSSOPage{}}, err)
		}
		b, err := json.Marshal(flow)
		if err != nil {
			return err
		}
		s.d.Sessions.Put(ctx, sessionOrgSSOFlow, string(b))
		http.Redirect(w, r, authURL, http.StatusSeeOther)
		return nil
	})
}

// pageOrgSSOCallback is where an organisation's provider sends the browser
// back: the flow is taken out of the session (each state works once), the
// ID token verified through that organisation's connection, the account
// found, linked or made, the membership made when the organisation allows
// just-in-time membership, and the user signed in with the organisation
// noted in the session (sessionOrgSSO).
func (s *server) pageOrgSSOCallback() http.Handler {
	return s.orgSSOHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		var flow sso.Flow
		if raw := s.d.Sessions.PopString(ctx, sessionOrgSSOFlow); raw != "" {
			if err := json.Unmarshal([]byte(raw), &flow); err != nil {
				return err
			}
		}
		q := r.URL.Query()
		in, err := s.d.OrgSSO.Finish(ctx, flow, q.Get("state"), q.Get("code"), q.Get("error"))
		if err != nil {
			return s.orgSSORefused(w, r, err)
		}
		id := in.Identity
		res, err := s.d.Accounts.SignInWithOrgIdentity(ctx, account.ExternalIdentity{Provider: id.Provider,
			Subject: id.Subject, Email: id.Email, EmailVerified: true})
		if err != nil {
			return s.orgSSORefused(w, r, err)
		}
		if _, _, err := s.d.Orgs.MemberScope(ctx, res.User.ID, in.OrgID); err != nil {
			if gw.ErrorCode(err) != gw.ENOTFOUND {
				return err
			}
			if !in.Connection.JIT {
				return s.orgSSORefused(w, r, gw.Errorf(gw.EFORBIDDEN,
					"You are not a member of this organisation yet. Ask one of its owners to invite you."))
			}
			if _, err := s.d.Orgs.JoinBySSO(ctx, in.OrgID, res.User.ID, in.Connection.DefaultRole); err != nil {
				return s.orgSSORefused(w, r, err)
			}
		}
		orgs := []string{res.User.ID}
		if prev := strings.Fields(s.d.Sessions.GetString(ctx, sessionOrgSSO)); len(prev) > 0 && prev[0] == res.User.ID {
			orgs = prev
		}
		if !slices.Contains(orgs[1:], in.OrgID) {
			orgs = append(orgs, in.OrgID)
		}
		next := flow.Next
		if next == "" || next == "/orgs" {
			next = "/o/" + in.OrgID + "/"
		}
		return s.completeSignInVia(w, r, res.User, next, strings.Join(orgs, " "))
	})
}

// orgSSORefused answers a refused sign-in on the SSO log-in page.
func (s *server) orgSSORefused(w http.ResponseWriter, r *http.Request, err error) error {
	return s.renderForm(w, r, page{Title: "Continue with SSO", Form: newForm(), Data: loginSSOPage{}}, err)
}

// orgSSOSatisfied reports whether r's session was signed in through
// orgID's own identity provider, for its user userID.
func (s *server) orgSSOSatisfied(r *http.Request, userID, orgID string) bool {
	f := strings.Fields(s.d.Sessions.GetString(r.Context(), sessionOrgSSO))
	return len(f) > 1 && f[0] == userID && slices.Contains(f[1:], orgID)
}

// requireOrgSSO returns EFORBIDDEN when orgID requires single sign-on of
// u (orgsso.Service.Enforced) and this session was not signed in through
// it: a password, a platform provider or another organisation's sign-in
// does not open the organisation's pages. Its break-glass owner is exempt.
func (s *server) requireOrgSSO(r *http.Request, u *sessionUser, orgID, orgName string) error {
	if s.d.OrgSSO == nil {
		return nil
	}
	on, err := s.d.OrgSSO.Enforced(r.Context(), orgID, u.ID, u.Email)
	if err != nil || !on || s.orgSSOSatisfied(r, u.ID, orgID) {
		return err
	}
	return gw.Errorf(gw.EFORBIDDEN, "%s requires single sign-on for your address: log out, then log in with \"Continue with SSO\".", orgName)
}
