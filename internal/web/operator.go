package web

import (
	"net/http"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/operator"
)

// requireOperator lets through signed-in operators (Deps.Operators) whose
// account has two-factor authentication on and whose session proved it
// (sessionTwoFactorAt), and audits what they do there (operator.Record, in
// their account chain) before it is done: a request that cannot be audited
// is refused. Anyone else gets 404 (the console's existence is not
// revealed); an operator without two-factor is sent to set it up, one
// whose session did not prove it gets 403 and is asked to sign in again.
func (s *server) requireOperator(next http.Handler) http.Handler {
	return s.requireUser(s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		u := userFrom(ctx)
		if s.d.Operators == nil {
			return gw.Errorf(gw.ENOTFOUND, "The requested resource was not found.")
		}
		ok, err := s.d.Operators.IsOperator(ctx, u.ID)
		if err != nil {
			return err
		}
		if !ok {
			return gw.Errorf(gw.ENOTFOUND, "The requested resource was not found.")
		}
		if !u.TwoFactor {
			s.flash(r, "The operator console requires two-factor authentication: set it up to continue.")
			redirect(w, r, "/account/two-factor")
			return nil
		}
		if s.d.Sessions.GetInt64(ctx, sessionTwoFactorAt) == 0 {
			return gw.Errorf(gw.EFORBIDDEN, "The operator console requires a session signed in with your second factor: log out and log in again.")
		}
		if audited(r) {
			if err := s.d.Operators.Record(ctx, operator.Action{UserID: u.ID, Method: r.Method, Path: r.URL.Path}); err != nil {
				return err
			}
		}
		next.ServeHTTP(w, r)
		return nil
	}))
}

// audited says whether an operator's request is recorded in the audit log:
// every request that may change something, and every page view, but not
// the River UI's own reads (its assets and the polling of its JSON API,
// several a second while a page is open).
func audited(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return true
	}
	p, ok := strings.CutPrefix(r.URL.Path, jobsUIPrefix+"/")
	if !ok {
		return true
	}
	return !strings.HasPrefix(p, "api/") && !strings.Contains(p, ".")
}
