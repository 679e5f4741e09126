package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Session keys.
const (
	sessionUserID    = "user_id"     // the signed-in user
	sessionPending2F = "pending_2fa" // a user who passed the password step, awaiting the second factor
	// When the password step passed (unix seconds), and the stamp of the
	// password it passed with (account.PasswordStamp).
	sessionPending2FAt    = "pending_2fa_at"
	sessionPending2FStamp = "pending_2fa_stamp"
	sessionTouched        = "touched" // unix time the session index was last updated
	// When this session last proved the second factor (unix seconds): at
	// sign-in or when two-factor was turned on. The operator console
	// requires it (requireOperator).
	sessionTwoFactorAt = "two_factor_at"
	// Where to go after signing up, verifying and logging in (a local
	// path, such as an invitation's), kept from the sign-up form so that
	// the invitation is not lost on the way.
	sessionSignupNext = "signup_next"
	// An API key just created, shown once by the next API keys page.
	sessionNewAPIKey = "new_api_key"
)

// touchEvery is how often a session's last-seen time is written.
const touchEvery = time.Minute

type userKey struct{}
type orgKey struct{}

func userFrom(ctx context.Context) *sessionUser {
	u, _ := ctx.Value(userKey{}).(*sessionUser)
	return u
}

func orgFrom(ctx context.Context) *orgInfo {
	o, _ := ctx.Value(orgKey{}).(*orgInfo)
	return o
}

// withSession loads the session (scs) and the signed-in user, if any, into
// the request context: gw.Scope carries the actor, userFrom the user. A
// session whose user was deleted or disabled is destroyed.
func (s *server) withSession(next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := s.d.Sessions.GetString(ctx, sessionUserID)
		if id == "" {
			next.ServeHTTP(w, r)
			return
		}
		u, err := s.d.Accounts.User(ctx, id)
		if err != nil || u.Disabled {
			if err != nil && gw.ErrorCode(err) != gw.ENOTFOUND {
				s.serveError(w, r, err)
				return
			}
			_ = s.d.Sessions.Destroy(ctx)
			next.ServeHTTP(w, r)
			return
		}
		if now := time.Now().Unix(); now-s.d.Sessions.GetInt64(ctx, sessionTouched) > int64(touchEvery/time.Second) {
			s.d.Sessions.Put(ctx, sessionTouched, now)
			_ = s.d.Accounts.TouchSession(ctx, s.d.Sessions.Token(ctx))
		}
		ctx = context.WithValue(ctx, userKey{}, &sessionUser{ID: u.ID, Email: u.Email, TwoFactor: u.TwoFactor})
		ctx = gw.WithScope(ctx, gw.Scope{Actor: gw.Actor{UserID: u.ID}})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
	if s.d.Sessions == nil {
		return s.d.Sessions.LoadAndSave(inner) // Routes(Deps{}): built, never served
	}
	// A copy of the session manager whose failures (the session store is
	// unreachable) serveError answers, instead of scs's plain-text 500 with
	// the error's text. It shares the original's session data: the copy
	// keeps its context key.
	sm := *s.d.Sessions
	sm.ErrorFunc = s.serveError
	return sm.LoadAndSave(inner)
}

// requireUser lets signed-in users through and sends anyone else to the
// log-in page, remembering where they were going.
func (s *server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if userFrom(r.Context()) == nil {
			target := "/login"
			if r.Method == http.MethodGet {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			redirect(w, r, target)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// inOrg resolves the {org} path value to the signed-in user's membership and
// requires perm. Not a member answers 404 (nothing is revealed), too weak a
// role 403. An organisation that requires two-factor sends members without
// it to the two-factor set-up page.
func (s *server) inOrg(perm authz.Permission, next http.Handler) http.Handler {
	return s.requireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u := userFrom(ctx)
		scope, o, err := s.d.Orgs.MemberScope(ctx, u.ID, r.PathValue("org"))
		if err != nil {
			s.serveError(w, r, err)
			return
		}
		if err := authz.Require(scope, perm); err != nil {
			s.serveError(w, r, err)
			return
		}
		if err := s.requireOrgSSO(r, u, o.ID, o.Name); err != nil {
			s.serveError(w, r, err)
			return
		}
		if o.Require2FA && !u.TwoFactor {
			s.flash(r, o.Name+" requires two-factor authentication: set it up to continue.")
			redirect(w, r, "/account/two-factor")
			return
		}
		ctx = gw.WithScope(ctx, scope)
		ctx = context.WithValue(ctx, orgKey{}, &orgInfo{ID: o.ID, Slug: o.Slug, Name: o.Name, Role: scope.Role})
		next.ServeHTTP(w, r.WithContext(ctx))
	}))
}

// withAPIKey authenticates an /api/v1 request by its "Authorization: Bearer
// <key>" header and requires perm: 401 without a valid key, 403 when the
// key's role is too weak.
func (s *server) withAPIKey(perm authz.Permission, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
			s.serveError(w, r, gw.Errorf(gw.EUNAUTHORIZED, "Send an API key: Authorization: Bearer <key>."))
			return
		}
		scope, err := s.d.Orgs.AuthenticateAPIKey(r.Context(), key)
		if err != nil {
			if gw.ErrorCode(err) == gw.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
			}
			s.serveError(w, r, err)
			return
		}
		if err := authz.Require(scope, perm); err != nil {
			s.serveError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(gw.WithScope(r.Context(), scope)))
	})
}

// bearerToken returns the token of r's "Authorization: Bearer <token>"
// header. The scheme is case-insensitive (RFC 9110, section 11.1: "bearer"
// and "BEARER" are "Bearer"); one or more spaces may separate it from the
// token. ok is false without such a header or with an empty token.
func bearerToken(r *http.Request) (token string, ok bool) {
	scheme, rest, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(rest)
	return token, token != ""
}

// canDo reports whether role has the permission named perm (for templates).
func canDo(role gw.Role, perm string) bool { return authz.Can(role, authz.Permission(perm)) }
