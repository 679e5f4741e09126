package org

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/unicode/norm"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Create creates an organisation named name with userID as its owner, under
// a slug derived from the name and made unique. It returns EINVALID for a
// name that is empty, longer than 100 characters or holds control
// characters, and EINVALID for an unknown user.
func (s *Service) Create(ctx context.Context, userID, name string) (Org, error) {
	name, err := checkName(name, "Name")
	if err != nil {
		return Org{}, err
	}
	if !gw.ValidID(userID) {
		return Org{}, gw.Errorf(gw.EINVALID, "Unknown user.")
	}
	o := Org{ID: gw.NewID(), Name: name, CreatedAt: s.now()}
	err = postgres.InTx(ctx, s.pool, postgres.TxOptions{OrgID: o.ID}, func(tx pgx.Tx) error {
		base := slugify(name)
		for attempt := 1; ; attempt++ {
			o.Slug = slugCandidate(base, attempt)
			if gw.ValidID(o.Slug) {
				continue
			}
			ok, err := insertOrg(ctx, tx, o)
			if err != nil {
				return fmt.Errorf("insert org: %w", err)
			}
			if ok {
				break
			}
			if attempt >= 20 {
				return gw.Errorf(gw.ECONFLICT, "Could not find a free URL name; try another name.")
			}
		}
		if err := insertMembership(ctx, tx, o.ID, userID, gw.RoleOwner, o.CreatedAt); err != nil {
			return fmt.Errorf("insert owner: %w", err)
		}
		return record(ctx, tx, gw.Scope{Actor: gw.Actor{UserID: userID}, OrgID: o.ID}, audit.ActionOrgCreated,
			audit.TargetOrg, o.ID, nil, map[string]any{"name": o.Name, "slug": o.Slug})
	})
	if err != nil {
		return Org{}, err
	}
	return o, nil
}

// CreateForOwner creates an organisation owned by ownerUserID, for the admin
// command line. It is Create, with the same errors.
func (s *Service) CreateForOwner(ctx context.Context, ownerUserID, name string) (Org, error) {
	return s.Create(ctx, ownerUserID, name)
}

// ForUser lists the organisations userID belongs to, with their role in
// each, by name. It returns no error codes of its own.
func (s *Service) ForUser(ctx context.Context, userID string) ([]Membership, error) {
	if !gw.ValidID(userID) {
		return nil, nil
	}
	var list []Membership
	err := readBatch(ctx, s.pool, postgres.TxOptions{UserID: userID},
		`SELECT `+orgColumns+`, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id
		WHERE m.user_id = $1 ORDER BY lower(o.name), o.id`, []any{userID},
		func(rows pgx.Rows) error {
			var m Membership
			var err error
			m.Org, err = scanOrg(rows, &m.Role)
			list = append(list, m)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("list user orgs: %w", err)
	}
	return list, nil
}

// MemberScope resolves orgRef (a slug or an organisation ID) for userID and
// returns the scope userID acts in there, with the organisation. It costs one
// round trip to the database. It returns ENOTFOUND when the organisation does
// not exist or userID is not a member: the two are indistinguishable.
func (s *Service) MemberScope(ctx context.Context, userID, orgRef string) (gw.Scope, Org, error) {
	if !gw.ValidID(userID) || orgRef == "" {
		return gw.Scope{}, Org{}, notFound("Organisation")
	}
	col := "o.slug"
	if gw.ValidID(orgRef) {
		col = "o.id"
	}
	var o Org
	var role gw.Role
	found := false
	err := readBatch(ctx, s.pool, postgres.TxOptions{UserID: userID},
		`SELECT `+orgColumns+`, m.role FROM orgs o JOIN memberships m ON m.org_id = o.id
		WHERE m.user_id = $1 AND `+col+` = $2`, []any{userID, orgRef},
		func(rows pgx.Rows) error {
			var err error
			o, err = scanOrg(rows, &role)
			found = true
			return err
		})
	if err != nil {
		return gw.Scope{}, Org{}, fmt.Errorf("resolve membership: %w", err)
	}
	if !found {
		return gw.Scope{}, Org{}, notFound("Organisation")
	}
	return gw.Scope{Actor: gw.Actor{UserID: userID}, OrgID: o.ID, Role: role}, o, nil
}

// ResolveOrg returns the organisation whose slug or ID is orgRef, without
// any authorization: it is for the trusted admin command line. It returns
// ENOTFOUND.
func (s *Service) ResolveOrg(ctx context.Context, orgRef string) (Org, error) {
	var o Org
	err := postgres.InTx(ctx, s.pool, postgres.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		o, err = orgByRef(ctx, tx, orgRef)
		return err
	})
	return o, err
}

// Rename renames the scope's organisation; its slug stays. It returns
// ENOTFOUND, EFORBIDDEN (authz.OrgManage) and EINVALID (see Create).
func (s *Service) Rename(ctx context.Context, scope gw.Scope, name string) error {
	if err := authz.Require(scope, authz.OrgManage); err != nil {
		return err
	}
	name, err := checkName(name, "Name")
	if err != nil {
		return err
	}
	return postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		o, err := lockOrg(ctx, tx, scope.OrgID)
		if err != nil || o.Name == name {
			return err
		}
		if err := updateOrgName(ctx, tx, scope.OrgID, name, s.now()); err != nil {
			return err
		}
		return record(ctx, tx, scope, audit.ActionOrgRenamed, audit.TargetOrg, scope.OrgID,
			map[string]any{"name": o.Name}, map[string]any{"name": name})
	})
}

// SetRequire2FA turns on or off the rule that members need two-factor
// authentication to use the scope's organisation. A user turning it on must
// have two-factor authentication themselves, so as not to lock themselves
// out. It returns ENOTFOUND, EFORBIDDEN (authz.OrgManage) and ECONFLICT.
func (s *Service) SetRequire2FA(ctx context.Context, scope gw.Scope, on bool) error {
	if err := authz.Require(scope, authz.OrgManage); err != nil {
		return err
	}
	return postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if on && scope.UserID != "" {
			ok, err := userHas2FA(ctx, tx, scope.UserID)
			if err != nil {
				return fmt.Errorf("check two-factor: %w", err)
			}
			if !ok {
				return gw.Errorf(gw.ECONFLICT, "Turn on two-factor authentication for your own account first.")
			}
		}
		o, err := lockOrg(ctx, tx, scope.OrgID)
		if err != nil || o.Require2FA == on {
			return err
		}
		if err := updateRequire2FA(ctx, tx, scope.OrgID, on, s.now()); err != nil {
			return err
		}
		return record(ctx, tx, scope, audit.ActionOrgRequire2FAChanged, audit.TargetOrg, scope.OrgID,
			map[string]any{"require_2fa": o.Require2FA}, map[string]any{"require_2fa": on})
	})
}

// SolelyOwnedOrgs returns the names of the organisations whose only owner is
// userID, by name: deleting the user's account would leave them ownerless,
// so DeleteAccount refuses (LeaveAllTx checks again, under lock). It
// returns no error codes of its own.
func (s *Service) SolelyOwnedOrgs(ctx context.Context, userID string) ([]string, error) {
	if !gw.ValidID(userID) {
		return nil, nil
	}
	var names []string
	err := postgres.InTx(ctx, s.pool, postgres.TxOptions{UserID: userID}, func(tx pgx.Tx) error {
		ms, err := userMemberships(ctx, tx, userID)
		if err != nil {
			return fmt.Errorf("list memberships: %w", err)
		}
		names, err = soleOwned(ctx, tx, ms)
		return err
	})
	return names, err
}

// Delete deletes the scope's organisation and everything it owns. It returns
// ENOTFOUND, EFORBIDDEN (authz.OrgDelete) and, with billing configured,
// ECONFLICT while a subscription is live and not set to end (Stripe would
// keep charging an organisation that no longer exists).
func (s *Service) Delete(ctx context.Context, scope gw.Scope) error {
	if err := authz.Require(scope, authz.OrgDelete); err != nil {
		return err
	}
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		o, err := lockOrg(ctx, tx, scope.OrgID)
		if err != nil {
			return err
		}
		if s.cfg.Entitlements != nil {
			if err := s.cfg.Entitlements.CheckDeleteTx(ctx, tx, scope.OrgID); err != nil {
				return err
			}
		}
		if err := deleteOrg(ctx, tx, scope.OrgID); err != nil {
			return err
		}
		// The organisation's audit chain outlives it, ending here.
		return record(ctx, tx, scope, audit.ActionOrgDeleted, audit.TargetOrg, scope.OrgID,
			map[string]any{"name": o.Name, "slug": o.Slug}, nil)
	})
	if err == nil {
		s.keys.forget(func(k gw.Scope) bool { return k.OrgID == scope.OrgID })
	}
	return err
}

// maxSlugBase is the longest slug before a uniqueness suffix.
const maxSlugBase = 40

// foldings spell letters that Unicode decomposition leaves alone.
var foldings = map[rune]string{'ß': "ss", 'æ': "ae", 'Æ': "ae", 'ø': "o", 'Ø': "o", 'œ': "oe", 'Œ': "oe",
	'đ': "d", 'Đ': "d", 'ł': "l", 'Ł': "l", 'þ': "th", 'Þ': "th", 'ı': "i"}

// slugify derives a URL name from an organisation name: lowercase ASCII
// letters and digits in dash-separated words, accents dropped, at most
// maxSlugBase long; "org" when nothing is left.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(name) {
		if f, ok := foldings[r]; ok {
			b.WriteString(f)
			dash = false
			continue
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case r >= 'A' && r <= 'Z':
			b.WriteRune(unicode.ToLower(r))
			dash = false
		case unicode.Is(unicode.Mn, r), r == '\'', r == '\u2019': // accents, apostrophes
		default:
			if b.Len() > 0 && !dash {
				b.WriteByte('-')
				dash = true
			}
		}
		if b.Len() >= maxSlugBase {
			break
		}
	}
	s := b.String()
	if len(s) > maxSlugBase {
		s = s[:maxSlugBase]
	}
	s = strings.Trim(s, "-")
	if s == "" {
		return "org"
	}
	return s
}

// slugCandidate is the attempt-th slug to try for base: base, then base-2
// to base-5, then base with a random suffix.
func slugCandidate(base string, attempt int) string {
	switch {
	case attempt == 1:
		return base
	case attempt <= 5:
		return base + "-" + strconv.Itoa(attempt)
	}
	return base + "-" + strings.ToLower(rand.Text()[:6])
}
