package org

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// SCIMUser is a user an organisation's identity provider provisioned: a
// platform account, and the membership of the organisation it has while
// it is active. Its SCIM id is the account's ID.
type SCIMUser struct {
	UserID     string
	UserName   string // the provider's user name, usually the email address
	Email      string // the account's address
	ExternalID string
	GivenName  string
	FamilyName string
	Active     bool
	Groups     []SCIMGroupRef // the organisation's SCIM groups it is in
	Role       gw.Role        // its role in the organisation; "" while inactive
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// SCIMUserInput are the attributes of a SCIM user its provider may set.
type SCIMUserInput struct {
	UserName   string
	ExternalID string
	GivenName  string
	FamilyName string
	Active     bool
}

// SCIMGroupRef names a SCIM group, or a member of one.
type SCIMGroupRef struct {
	ID      string
	Display string
}

// SCIMResult says what a SCIM change did beyond its own rows:
// Deprovisioned lists the users whose membership it removed, whose
// sessions the caller ends (account.Service is not this module's).
type SCIMResult struct {
	Deprovisioned []string
}

func checkSCIMUser(in *SCIMUserInput) error {
	in.UserName = strings.TrimSpace(in.UserName)
	if in.UserName == "" || len(in.UserName) > 254 {
		return &gw.Error{Code: gw.EINVALID, Message: "userName is required (at most 254 characters).",
			Fields: map[string]string{"userName": "required"}}
	}
	return nil
}

// SCIMUsers lists the organisation's provisioned users, oldest first.
func (s *Service) SCIMUsers(ctx context.Context, sc SCIMScope) ([]SCIMUser, error) {
	var list []SCIMUser
	err := postgres.InOrgTx(ctx, s.pool, sc.OrgID, func(tx pgx.Tx) error {
		var err error
		list, err = scimUsers(ctx, tx, sc.OrgID, "")
		return err
	})
	return list, err
}

// SCIMUser returns the organisation's provisioned user id. It returns
// ENOTFOUND, also for another organisation's user.
func (s *Service) SCIMUser(ctx context.Context, sc SCIMScope, id string) (SCIMUser, error) {
	var u SCIMUser
	err := postgres.InOrgTx(ctx, s.pool, sc.OrgID, func(tx pgx.Tx) error {
		var err error
		u, err = scimUser(ctx, tx, sc.OrgID, id)
		return err
	})
	return u, err
}

// SCIMCreateUser provisions account userID (see account.ProvisionUser) in
// the organisation with in, and makes it a member while in.Active, with the
// role of its groups (member without any). It returns EINVALID (no
// userName), ECONFLICT (the user name or account is provisioned already)
// and EFORBIDDEN (no seat left on the plan).
func (s *Service) SCIMCreateUser(ctx context.Context, sc SCIMScope, userID string, in SCIMUserInput) (SCIMUser, SCIMResult, error) {
	if err := checkSCIMUser(&in); err != nil {
		return SCIMUser{}, SCIMResult{}, err
	}
	var (
		u   SCIMUser
		res SCIMResult
	)
	err := postgres.InOrgTx(ctx, s.pool, sc.OrgID, func(tx pgx.Tx) error {
		if _, err := lockOrg(ctx, tx, sc.OrgID); err != nil {
			return err
		}
		now := s.now()
		tag, err := tx.Exec(ctx, `INSERT INTO scim_users (org_id, user_id, user_name, external_id, given_name, family_name,
				active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING`,
			sc.OrgID, userID, in.UserName, in.ExternalID, in.GivenName, in.FamilyName, in.Active, now)
		if err != nil {
			return postgres.Translate(err)
		}
		if tag.RowsAffected() == 0 {
			return gw.Errorf(gw.ECONFLICT, "A user with userName %s is provisioned already.", in.UserName)
		}
		if res, err = s.syncSCIMMember(ctx, tx, sc, userID); err != nil {
			return err
		}
		u, err = scimUser(ctx, tx, sc.OrgID, userID)
		return err
	})
	return u, res, err
}

// SCIMReplaceUser sets the attributes of the organisation's provisioned
// user id to in: active false removes its membership (deprovisioning),
// active true restores it. It returns ENOTFOUND, EINVALID, ECONFLICT (the
// user name is another user's, or the user is an owner, whom SCIM does not
// deprovision).
func (s *Service) SCIMReplaceUser(ctx context.Context, sc SCIMScope, id string, in SCIMUserInput) (SCIMUser, SCIMResult, error) {
	if err := checkSCIMUser(&in); err != nil {
		return SCIMUser{}, SCIMResult{}, err
	}
	var (
		u   SCIMUser
		res SCIMResult
	)
	err := postgres.InOrgTx(ctx, s.pool, sc.OrgID, func(tx pgx.Tx) error {
		if _, err := lockOrg(ctx, tx, sc.OrgID); err != nil {
			return err
		}
		if !gw.ValidID(id) {
			return notFound("User")
		}
		tag, err := tx.Exec(ctx, `UPDATE scim_users SET user_name = $3, external_id = $4, given_name = $5,
				family_name = $6, active = $7, updated_at = $8 WHERE org_id = $1 AND user_id = $2`,
			sc.OrgID, id, in.UserName, in.ExternalID, in.GivenName, in.FamilyName, in.Active, s.now())
		if err != nil {
			if gw.ErrorCode(postgres.Translate(err)) == gw.ECONFLICT {
				return gw.Errorf(gw.ECONFLICT, "Another user has userName %s.", in.UserName)
			}
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("User")
		}
		if res, err = s.syncSCIMMember(ctx, tx, sc, id); err != nil {
			return err
		}
		u, err = scimUser(ctx, tx, sc.OrgID, id)
		return err
	})
	return u, res, err
}

// SCIMDeleteUser deletes the organisation's provisioned user id and
// removes its membership; the account stays (it may belong to other
// organisations). It returns ENOTFOUND and ECONFLICT (an owner).
func (s *Service) SCIMDeleteUser(ctx context.Context, sc SCIMScope, id string) (SCIMResult, error) {
	var res SCIMResult
	err := postgres.InOrgTx(ctx, s.pool, sc.OrgID, func(tx pgx.Tx) error {
		if _, err := lockOrg(ctx, tx, sc.OrgID); err != nil {
			return err
		}
		if !gw.ValidID(id) {
			return notFound("User")
		}
		tag, err := tx.Exec(ctx, `UPDATE scim_users SET active = false WHERE org_id = $1 AND user_id = $2`, sc.OrgID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("User")
		}
		if res, err = s.syncSCIMMember(ctx, tx, sc, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM scim_users WHERE org_id = $1 AND user_id = $2`, sc.OrgID, id)
		return err
	})
	return res, err
}

// syncSCIMMember brings userID's membership in line with its SCIM state:
// a member with its groups' role while active, not a member otherwise.
// Owners are left alone while active, and refused (ECONFLICT) to
// deprovision. A new member needs a seat of the plan (EFORBIDDEN when it is
// full or read-only). The caller holds the organisation's lock.
func (s *Service) syncSCIMMember(ctx context.Context, tx pgx.Tx, sc SCIMScope, userID string) (SCIMResult, error) {
	var res SCIMResult
	var active bool
	if err := tx.QueryRow(ctx, `SELECT active FROM scim_users WHERE org_id = $1 AND user_id = $2`,
		sc.OrgID, userID).Scan(&active); err != nil {
		return res, noRows(err, notFound("User"))
	}
	want, err := scimRole(ctx, tx, sc.OrgID, userID)
	if err != nil {
		return res, err
	}
	current, err := memberRole(ctx, tx, sc.OrgID, userID)
	if err != nil && gw.ErrorCode(err) != gw.ENOTFOUND {
		return res, err
	}
	scope := sc.auditScope()
	via := map[string]any{"via": "scim", "scim_token_id": sc.TokenID}
	switch {
	case current == gw.RoleOwner && !active:
		return res, gw.Errorf(gw.ECONFLICT, "An owner cannot be deprovisioned through SCIM: transfer ownership first.")
	case current == gw.RoleOwner:
		return res, nil
	case active && current == "":
		if err := s.checkSeat(ctx, tx, sc.OrgID, false, ""); err != nil {
			return res, err
		}
		now := s.now()
		if err := insertMembership(ctx, tx, sc.OrgID, userID, want, now); err != nil {
			return res, err
		}
		if err := s.seatsChanged(ctx, tx, sc.OrgID); err != nil {
			return res, err
		}
		return res, record(ctx, tx, scope, audit.ActionMemberProvisioned, audit.TargetMember, userID,
			nil, map[string]any{"role": want, "via": "scim", "scim_token_id": sc.TokenID})
	case active && current != want:
		if err := setRole(ctx, tx, sc.OrgID, userID, want); err != nil {
			return res, err
		}
		rev, err := revokeDelegations(ctx, tx, sc.OrgID, userID, want, s.now())
		if err != nil {
			return res, err
		}
		if err := record(ctx, tx, scope, audit.ActionMemberRoleChanged, audit.TargetMember, userID,
			roleValues(current), map[string]any{"role": want, "via": "scim", "scim_token_id": sc.TokenID}); err != nil {
			return res, err
		}
		s.forgetKeys(rev)
		return res, rev.recordIn(ctx, tx, scope, ReasonRoleChanged)
	case !active && current != "":
		if err := deleteMembership(ctx, tx, sc.OrgID, userID); err != nil {
			return res, err
		}
		if err := s.seatsChanged(ctx, tx, sc.OrgID); err != nil {
			return res, err
		}
		rev, err := revokeDelegations(ctx, tx, sc.OrgID, userID, "", s.now())
		if err != nil {
			return res, err
		}
		if err := record(ctx, tx, scope, audit.ActionMemberDeprovisioned, audit.TargetMember, userID,
			roleValues(current), via); err != nil {
			return res, err
		}
		s.forgetKeys(rev)
		res.Deprovisioned = append(res.Deprovisioned, userID)
		return res, rev.recordIn(ctx, tx, scope, ReasonMemberRemoved)
	}
	return res, nil
}

// scimUser reads one provisioned user of orgID.
func scimUser(ctx context.Context, tx pgx.Tx, orgID, id string) (SCIMUser, error) {
	if !gw.ValidID(id) {
		return SCIMUser{}, notFound("User")
	}
	list, err := scimUsers(ctx, tx, orgID, id)
	if err != nil {
		return SCIMUser{}, err
	}
	if len(list) == 0 {
		return SCIMUser{}, notFound("User")
	}
	return list[0], nil
}

// scimUsers reads orgID's provisioned users, or only id unless it is "".
func scimUsers(ctx context.Context, tx pgx.Tx, orgID, id string) ([]SCIMUser, error) {
	rows, _ := tx.Query(ctx, `SELECT s.user_id, s.user_name, u.email, s.external_id, s.given_name, s.family_name,
			s.active, coalesce(m.role, ''), s.created_at, s.updated_at,
			coalesce((SELECT array_agg(g.id::text || ' ' || g.display_name ORDER BY g.display_name)
				FROM scim_group_members gm JOIN scim_groups g ON g.org_id = gm.org_id AND g.id = gm.group_id
				WHERE gm.org_id = s.org_id AND gm.user_id = s.user_id), '{}')
		FROM scim_users s JOIN users u ON u.id = s.user_id
		LEFT JOIN memberships m ON m.org_id = s.org_id AND m.user_id = s.user_id
		WHERE s.org_id = $1 AND ($2 = '' OR s.user_id::text = $2)
		ORDER BY s.created_at, s.user_id`, orgID, id)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (SCIMUser, error) {
		var u SCIMUser
		var groups []string
		err := row.Scan(&u.UserID, &u.UserName, &u.Email, &u.ExternalID, &u.GivenName, &u.FamilyName,
			&u.Active, &u.Role, &u.CreatedAt, &u.UpdatedAt, &groups)
		for _, g := range groups {
			id, name, _ := strings.Cut(g, " ")
			u.Groups = append(u.Groups, SCIMGroupRef{ID: id, Display: name})
		}
		return u, err
	})
}

// scimRole is the role userID's SCIM groups in orgID give: the strongest
// of their mapped roles, member without any.
func scimRole(ctx context.Context, tx pgx.Tx, orgID, userID string) (gw.Role, error) {
	rows, _ := tx.Query(ctx, `SELECT g.display_name FROM scim_group_members gm
		JOIN scim_groups g ON g.org_id = gm.org_id AND g.id = gm.group_id
		WHERE gm.org_id = $1 AND gm.user_id = $2`, orgID, userID)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	return RoleOfSCIMGroups(names), nil
}
