package web

import (
	"net/http"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/scim"
)

// sessionNewSCIMToken holds a just-created SCIM token until the SCIM page
// shows it, once.
const sessionNewSCIMToken = "new_scim_token"

// scimPage is the data of the SCIM page.
type scimPage struct {
	Endpoint string
	Tokens   []org.SCIMToken
	NewToken string
}

func (scimPage) template() string { return "scim.html" }

// scimBaseURL is the public URL of /scim/v2 ("/scim/v2" without BaseURL).
func (s *server) scimBaseURL() string {
	return strings.TrimRight(s.d.BaseURL, "/") + "/scim/v2"
}

// handleSCIM serves the SCIM protocol with github.com/elimity-com/scim for
// the organisation of the request's SCIM token (withSCIMToken).
func (s *server) handleSCIM() http.Handler {
	var orgs scim.Orgs
	if s.d.Orgs != nil {
		orgs = s.d.Orgs
	}
	var accounts scim.Accounts
	if s.d.Accounts != nil {
		accounts = s.d.Accounts
	}
	h, err := scim.NewHandler(orgs, accounts, s.scimBaseURL(), s.d.Logger)
	if err != nil { // only with a wrong server configuration, fixed in code
		panic(err)
	}
	return http.StripPrefix("/scim", h)
}

// withSCIMToken authenticates a SCIM request by its "Authorization: Bearer
// <token>" header: 401 without a live SCIM token of some organisation;
// otherwise next runs for the token's organisation (another
// organisation's users and groups are not found).
func (s *server) withSCIMToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
			s.serveError(w, r, gw.Errorf(gw.EUNAUTHORIZED, "Send a SCIM token: Authorization: Bearer <token>."))
			return
		}
		sc, err := s.d.Orgs.AuthenticateSCIMToken(r.Context(), token)
		if err != nil {
			if gw.ErrorCode(err) == gw.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="scim", error="invalid_token"`)
			}
			s.serveError(w, r, err)
			return
		}
		ctx := gw.WithScope(r.Context(), gw.Scope{OrgID: sc.OrgID})
		next.ServeHTTP(w, r.WithContext(scim.WithScope(ctx, sc)))
	})
}

func (s *server) scimTokensPage(w http.ResponseWriter, r *http.Request, f *form, newToken string, err error) error {
	tokens, lerr := s.d.Orgs.SCIMTokens(r.Context(), gw.ScopeFrom(r.Context()))
	if lerr != nil {
		return lerr
	}
	p := page{Title: "SCIM provisioning", Form: f, Data: scimPage{Endpoint: s.scimBaseURL(), Tokens: tokens, NewToken: newToken}}
	if err != nil {
		return s.renderForm(w, r, p, err)
	}
	s.render(w, r, http.StatusOK, p)
	return nil
}

func (s *server) pageSCIM() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		return s.scimTokensPage(w, r, newForm(), s.d.Sessions.PopString(r.Context(), sessionNewSCIMToken), nil)
	})
}

func (s *server) postSCIMToken() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "name")
		if err != nil {
			return err
		}
		_, token, err := s.d.Orgs.CreateSCIMToken(r.Context(), gw.ScopeFrom(r.Context()), f.Get("name"))
		if err != nil {
			return s.scimTokensPage(w, r, f, "", err)
		}
		// Post/redirect/get, as for API keys: shown once, on the next page.
		s.d.Sessions.Put(r.Context(), sessionNewSCIMToken, token)
		redirect(w, r, orgPath(r, "/scim"))
		return nil
	})
}

func (s *server) postRevokeSCIMToken() http.Handler {
	return s.orgAction("SCIM token revoked.", "/scim", "/scim", func(r *http.Request, scope gw.Scope) error {
		return s.d.Orgs.RevokeSCIMToken(r.Context(), scope, r.PathValue("id"))
	})
}
