// Package scim serves SCIM 2.0 provisioning (RFC 7643, RFC 7644) for one
// organisation at a time with github.com/elimity-com/scim: the protocol
// (discovery documents, schemas, validation, PATCH parsing, filters, list
// responses) is the library's; this package maps its Users and Groups to
// the organisation's provisioned users and groups (internal/org) and to
// platform accounts (internal/account). The caller authenticates the
// request's SCIM token and puts its org.SCIMScope in the context (WithScope).
package scim

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/org"
)

// Orgs is what the SCIM handlers need of organisations (org.Service).
type Orgs interface {
	SCIMUsers(ctx context.Context, sc org.SCIMScope) ([]org.SCIMUser, error)
	SCIMUser(ctx context.Context, sc org.SCIMScope, id string) (org.SCIMUser, error)
	SCIMCreateUser(ctx context.Context, sc org.SCIMScope, userID string, in org.SCIMUserInput) (org.SCIMUser, org.SCIMResult, error)
	SCIMReplaceUser(ctx context.Context, sc org.SCIMScope, id string, in org.SCIMUserInput) (org.SCIMUser, org.SCIMResult, error)
	SCIMDeleteUser(ctx context.Context, sc org.SCIMScope, id string) (org.SCIMResult, error)
	SCIMGroups(ctx context.Context, sc org.SCIMScope) ([]org.SCIMGroup, error)
	SCIMGroup(ctx context.Context, sc org.SCIMScope, id string) (org.SCIMGroup, error)
	SCIMCreateGroup(ctx context.Context, sc org.SCIMScope, in org.SCIMGroupInput) (org.SCIMGroup, org.SCIMResult, error)
	SCIMReplaceGroup(ctx context.Context, sc org.SCIMScope, id string, in org.SCIMGroupInput) (org.SCIMGroup, org.SCIMResult, error)
	SCIMDeleteGroup(ctx context.Context, sc org.SCIMScope, id string) error
	ForUser(ctx context.Context, userID string) ([]org.Membership, error)
}

// Accounts is what the SCIM handlers need of accounts (account.Service).
type Accounts interface {
	ProvisionUser(ctx context.Context, email string) (account.User, error)
	RevokeAllSessions(ctx context.Context, userID string) error
}

// MaxResults is the most resources one list response holds.
const MaxResults = 100

type scopeKey struct{}

// WithScope returns a copy of ctx carrying the SCIM scope of the request.
func WithScope(ctx context.Context, sc org.SCIMScope) context.Context {
	return context.WithValue(ctx, scopeKey{}, sc)
}

// scopeFrom returns the request's SCIM scope; without one (a wiring
// mistake) it fails rather than act for no organisation.
func scopeFrom(r *http.Request) (org.SCIMScope, error) {
	sc, ok := r.Context().Value(scopeKey{}).(org.SCIMScope)
	if !ok || sc.OrgID == "" {
		return org.SCIMScope{}, fmt.Errorf("scim: request without a SCIM scope")
	}
	return sc, nil
}

// NewHandler returns the SCIM server, to be mounted so that it sees paths
// starting with /v2 (e.g. under http.StripPrefix("/scim", ...)). baseURL
// is the public URL of /scim/v2, for resource locations.
func NewHandler(orgs Orgs, accounts Accounts, baseURL string, logger *slog.Logger) (http.Handler, error) {
	h := handlers{orgs: orgs, accounts: accounts, logger: logger}
	cfg := &scim.ServiceProviderConfig{
		AuthenticationSchemes: []scim.AuthenticationScheme{{
			Type:        scim.AuthenticationTypeOauthBearerToken,
			Name:        "Bearer token",
			Description: "A SCIM token an owner creates on the organisation's SCIM page: Authorization: Bearer <token>.",
			Primary:     true,
		}},
		MaxResults:       MaxResults,
		SupportFiltering: true,
		SupportPatch:     true,
	}
	types := []scim.ResourceType{
		{
			ID:          optional.NewString("User"),
			Name:        "User",
			Endpoint:    "/Users",
			Description: optional.NewString("A member of the organisation, provisioned by its identity provider."),
			Schema:      schema.CoreUserSchema(),
			Handler:     userHandler{h},
		},
		{
			ID:          optional.NewString("Group"),
			Name:        "Group",
			Endpoint:    "/Groups",
			Description: optional.NewString("A group whose name maps to a role: admin, member or viewer."),
			Schema:      schema.CoreGroupSchema(),
			Handler:     groupHandler{h},
		},
	}
	srv, err := scim.NewServer(&scim.ServerArgs{ServiceProviderConfig: cfg, ResourceTypes: types},
		scim.WithBaseURL(baseURL), scim.WithLogger(slogLogger{logger}))
	if err != nil {
		return nil, fmt.Errorf("scim server: %w", err)
	}
	return srv, nil
}

// handlers holds what the resource handlers share.
type handlers struct {
	orgs     Orgs
	accounts Accounts
	logger   *slog.Logger
}

// scimError maps an error to the SCIM error the library answers: the
// kernel codes to their statuses, anything else to a 500 without detail,
// logged here with the request's ID.
func (h handlers) scimError(r *http.Request, err error, id string) error {
	switch gw.ErrorCode(err) {
	case gw.ENOTFOUND:
		return scimerrors.ScimErrorResourceNotFound(id)
	case gw.ECONFLICT:
		if r.Method == http.MethodGet {
			return scimerrors.ScimErrorBadRequest(gw.ErrorMessage(err))
		}
		e := scimerrors.ScimErrorUniqueness
		e.Detail = gw.ErrorMessage(err)
		return e
	case gw.EFORBIDDEN: // the plan has no seat left, or is read-only
		return scimerrors.ScimError{Status: http.StatusForbidden, Detail: gw.ErrorMessage(err)}
	case gw.EINVALID:
		e := scimerrors.ScimErrorInvalidValue
		e.Detail = gw.ErrorMessage(err)
		return e
	}
	if h.logger != nil {
		h.logger.ErrorContext(r.Context(), "scim request", "method", r.Method, "path", r.URL.Path,
			"request_id", gw.RequestID(r.Context()), "error", err)
	}
	return scimerrors.ScimErrorInternal
}

// endSessions ends the sessions of deprovisioned users who belong to no
// organisation any more. Sessions are per account, not per organisation:
// a user still in another organisation keeps them, and loses this
// organisation at once anyway, since every page checks the membership.
func (h handlers) endSessions(r *http.Request, res org.SCIMResult) error {
	for _, uid := range res.Deprovisioned {
		ms, err := h.orgs.ForUser(r.Context(), uid)
		if err != nil {
			return fmt.Errorf("memberships of deprovisioned user: %w", err)
		}
		if len(ms) > 0 {
			continue
		}
		if err := h.accounts.RevokeAllSessions(r.Context(), uid); err != nil {
			return fmt.Errorf("end sessions of deprovisioned user: %w", err)
		}
	}
	return nil
}

// slogLogger adapts slog to the library's Logger.
type slogLogger struct{ l *slog.Logger }

// Error implements the library's Logger at slog's error level.
func (s slogLogger) Error(args ...interface{}) {
	if s.l != nil {
		s.l.Error("scim library", "detail", fmt.Sprint(args...))
	}
}

// page returns the startIndex/count window of items (SCIM's 1-based
// pagination) and the total.
func page[T any](items []T, startIndex, count int) []T {
	if startIndex < 1 {
		startIndex = 1
	}
	from := startIndex - 1
	if from > len(items) {
		from = len(items)
	}
	to := from + count
	if count < 0 || to > len(items) {
		to = len(items)
	}
	return items[from:to]
}
