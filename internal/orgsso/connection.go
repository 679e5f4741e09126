package orgsso

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/sso"
)

// Settings returns the scope's organisation's connection (ok false when
// none is configured) and its domains. Errors: ENOTFOUND, EFORBIDDEN
// (authz.SSOManage: owners only).
func (s *Service) Settings(ctx context.Context, scope gw.Scope) (c Connection, ok bool, domains []Domain, err error) {
	if err := authz.Require(scope, authz.SSOManage); err != nil {
		return Connection{}, false, nil, err
	}
	err = postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		var err error
		c, _, err = getConnection(ctx, tx, scope.OrgID)
		switch gw.ErrorCode(err) {
		case "":
			ok = true
		case gw.ENOTFOUND:
		default:
			return err
		}
		domains, err = listDomains(ctx, tx, scope.OrgID)
		return err
	})
	if err != nil {
		return Connection{}, false, nil, fmt.Errorf("read sso settings: %w", err)
	}
	return c, ok, domains, nil
}

// SaveConnection creates or replaces the scope's organisation's connection.
// The issuer's discovery document is fetched first: a connection that
// could not sign anyone in is not saved. A client secret is required the
// first time; later, "" keeps the stored one. The break-glass user, when
// set, must be an owner. Recorded as sso.configured (the secret redacted).
// Errors: ENOTFOUND, EFORBIDDEN (authz.SSOManage), EINVALID (with Fields
// for the form, or the issuer's problem).
func (s *Service) SaveConnection(ctx context.Context, scope gw.Scope, in ConnectionInput) (Connection, error) {
	if err := authz.Require(scope, authz.SSOManage); err != nil {
		return Connection{}, err
	}
	in.Issuer = strings.TrimSpace(in.Issuer) // kept exactly: ID tokens must name it (a trailing slash too)
	in.ClientID = strings.TrimSpace(in.ClientID)
	if in.DefaultRole == "" {
		in.DefaultRole = gw.RoleMember
	}
	fields := map[string]string{}
	if u, err := url.Parse(in.Issuer); in.Issuer == "" || err != nil || u.Host == "" ||
		(u.Scheme != "https" && !(u.Scheme == "http" && isLocalhost(u.Hostname()))) {
		fields["issuer"] = "Enter the issuer's https URL, e.g. https://login.example.com."
	}
	if in.ClientID == "" || len(in.ClientID) > 500 {
		fields["client_id"] = "Enter the client ID the identity provider gave you."
	}
	if len(in.ClientSecret) > 2000 {
		fields["client_secret"] = "This client secret is too long."
	}
	if !in.DefaultRole.Valid() || in.DefaultRole == gw.RoleOwner {
		fields["default_role"] = "Choose admin, member or viewer."
	}
	if in.BreakGlassUserID != "" {
		if bs, _, err := s.cfg.Members.MemberScope(ctx, in.BreakGlassUserID, scope.OrgID); err != nil || bs.Role != gw.RoleOwner {
			fields["break_glass"] = "The break-glass user must be an owner of this organisation."
		}
	}
	if len(fields) > 0 {
		return Connection{}, &gw.Error{Code: gw.EINVALID, Message: "Check the highlighted fields.", Fields: fields}
	}
	if err := sso.Discover(ctx, s.cfg.HTTPClient, in.Issuer); err != nil {
		msg := "The issuer could not be checked."
		if e, ok := errors.AsType[*gw.Error](err); ok {
			msg = e.Message
		}
		return Connection{}, &gw.Error{Code: gw.EINVALID, Message: msg, Fields: map[string]string{"issuer": msg}}
	}
	now := s.now()
	var out Connection
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		before, secret, err := getConnection(ctx, tx, scope.OrgID)
		existed := err == nil
		if err != nil && gw.ErrorCode(err) != gw.ENOTFOUND {
			return err
		}
		if in.ClientSecret != "" {
			if secret, err = s.keys.Encrypt(in.ClientSecret, secretAD(scope.OrgID)); err != nil {
				return err
			}
		}
		if len(secret) == 0 {
			return &gw.Error{Code: gw.EINVALID, Message: "Check the highlighted fields.",
				Fields: map[string]string{"client_secret": "Enter the client secret the identity provider gave you."}}
		}
		out = Connection{OrgID: scope.OrgID, Issuer: in.Issuer, ClientID: in.ClientID, HasSecret: true,
			RequireSSO: in.RequireSSO, JIT: in.JIT, DefaultRole: in.DefaultRole, BreakGlassUserID: in.BreakGlassUserID, UpdatedAt: now}
		if err := upsertConnection(ctx, tx, out, secret, now); err != nil {
			return err
		}
		var beforeVals any
		if existed {
			beforeVals = connectionValues(before, false)
		}
		return record(ctx, tx, scope, audit.ActionSSOConfigured, audit.TargetSSOConnection, scope.OrgID,
			beforeVals, connectionValues(out, in.ClientSecret != ""))
	})
	if err != nil {
		return Connection{}, fmt.Errorf("save sso connection: %w", err)
	}
	return out, nil
}

// RemoveConnection deletes the scope's organisation's connection (its
// domains stay). Recorded as sso.removed. Errors: ENOTFOUND (also when
// there is none), EFORBIDDEN (authz.SSOManage).
func (s *Service) RemoveConnection(ctx context.Context, scope gw.Scope) error {
	if err := authz.Require(scope, authz.SSOManage); err != nil {
		return err
	}
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		before, _, err := getConnection(ctx, tx, scope.OrgID)
		if err != nil {
			return err
		}
		if err := deleteConnection(ctx, tx, scope.OrgID); err != nil {
			return err
		}
		return record(ctx, tx, scope, audit.ActionSSORemoved, audit.TargetSSOConnection, scope.OrgID,
			connectionValues(before, false), nil)
	})
	if err != nil {
		return fmt.Errorf("remove sso connection: %w", err)
	}
	return nil
}

// connectionValues is c as audit values; the secret never appears, only
// whether it changed.
func connectionValues(c Connection, secretChanged bool) map[string]any {
	v := map[string]any{"issuer": c.Issuer, "client_id": c.ClientID, "require_sso": c.RequireSSO,
		"jit": c.JIT, "default_role": c.DefaultRole, "break_glass_user_id": c.BreakGlassUserID}
	if secretChanged {
		v["client_secret"] = audit.Redacted
	}
	return v
}

// record appends an event of the scope's organisation to its audit chain,
// in tx.
func record(ctx context.Context, tx pgx.Tx, scope gw.Scope, action, targetType, targetID string, before, after any) error {
	return audit.Record(ctx, tx, audit.Event{OrgID: scope.OrgID, Actor: scope.Actor, Action: action,
		TargetType: targetType, TargetID: targetID, Before: before, After: after})
}

// isLocalhost reports whether host is this machine, where plain http is
// allowed (development and tests).
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
