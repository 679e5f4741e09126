package org

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// SCIMGroup is a group an organisation's identity provider pushed. Its
// display name maps to a role (SCIMGroupRole); its members get the
// strongest role of their groups.
type SCIMGroup struct {
	ID          string
	DisplayName string
	ExternalID  string
	Role        gw.Role // "" when the name maps to no role
	Members     []SCIMGroupRef
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SCIMGroupInput are the attributes of a SCIM group its provider may set.
// Members are SCIM user ids of the same organisation.
type SCIMGroupInput struct {
	DisplayName string
	ExternalID  string
	Members     []string
}

// SCIMGroupRole maps a group's display name to the role its members get:
// the name's last word, ignoring case and a plural "s", when it is
// "admin", "member" or "viewer" ("Admins", "Groundwork Viewers",
// "acme-member"); "" for any other name. Owners are never made by SCIM.
func SCIMGroupRole(displayName string) gw.Role {
	name := strings.ToLower(strings.TrimSpace(displayName))
	if i := strings.LastIndexAny(name, " -_./:"); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSuffix(name, "s")
	switch gw.Role(name) {
	case gw.RoleAdmin, gw.RoleMember, gw.RoleViewer:
		return gw.Role(name)
	}
	return ""
}

// RoleOfSCIMGroups returns the strongest role the groups named give, and
// member when none gives one.
func RoleOfSCIMGroups(names []string) gw.Role {
	best := gw.RoleMember
	rank := map[gw.Role]int{gw.RoleViewer: 1, gw.RoleMember: 2, gw.RoleAdmin: 3}
	found := false
	for _, n := range names {
		r := SCIMGroupRole(n)
		if r == "" {
			continue
		}
		if !found || rank[r] > rank[best] {
			best, found = r, true
		}
	}
	return best
}

func checkSCIMGroup(in *SCIMGroupInput) error {
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	if in.DisplayName == "" || len(in.DisplayName) > 200 {
		return &gw.Error{Code: gw.EINVALID, Message: "displayName is required (at most 200 characters).",
			Fields: map[string]string{"displayName": "required"}}
	}
	for _, m := range in.Members {
		if !gw.ValidID(m) {
			return gw.Errorf(gw.EINVALID, "Unknown group member %q.", m)
		}
	}
	return nil
}

// SCIMGroups lists the organisation's SCIM groups, oldest first.
func (s *Service) SCIMGroups(ctx context.Context, sc SCIMScope) ([]SCIMGroup, error) {
	var list []SCIMGroup
	err := postgres.InOrgTx(ctx, s.pool, sc.OrgID, func(tx pgx.Tx) error {
		var err error
		list, err = scimGroups(ctx, tx, sc.OrgID, "")
		return err
	})
	return list, err
}

// SCIMGroup returns the organisation's SCIM group id. It returns ENOTFOUND,
// also for another organisation's group.
func (s *Service) SCIMGroup(ctx context.Context, sc SCIMScope, id string) (SCIMGroup, error) {
	var g SCIMGroup
	err := postgres.InOrgTx(ctx, s.pool, sc.OrgID, func(tx pgx.Tx) error {
		var err error
		g, err = scimGroup(ctx, tx, sc.OrgID, id)
		return err
	})
	return g, err
}

// SCIMCreateGroup creates a SCIM group with in, and gives its members the
// role of their groups. It returns EINVALID (no display name, a member that
// is not a provisioned user of this organisation) and ECONFLICT (the name
// is taken).
func (s *Service) SCIMCreateGroup(ctx context.Context, sc SCIMScope, in SCIMGroupInput) (SCIMGroup, SCIMResult, error) {
	return s.saveSCIMGroup(ctx, sc, "", in)
}

// SCIMReplaceGroup sets the organisation's SCIM group id to in, and
// changes the roles of the members it gained or lost. It returns
// ENOTFOUND, EINVALID and ECONFLICT as SCIMCreateGroup.
func (s *Service) SCIMReplaceGroup(ctx context.Context, sc SCIMScope, id string, in SCIMGroupInput) (SCIMGroup, SCIMResult, error) {
	if !gw.ValidID(id) {
		return SCIMGroup{}, SCIMResult{}, notFound("Group")
	}
	return s.saveSCIMGroup(ctx, sc, id, in)
}

// SCIMDeleteGroup deletes the organisation's SCIM group id; its members
// get the role of their remaining groups. It returns ENOTFOUND.
func (s *Service) SCIMDeleteGroup(ctx context.Context, sc SCIMScope, id string) error {
	if !gw.ValidID(id) {
		return notFound("Group")
	}
	return postgres.InOrgTx(ctx, s.pool, sc.OrgID, func(tx pgx.Tx) error {
		if _, err := lockOrg(ctx, tx, sc.OrgID); err != nil {
			return err
		}
		old, err := scimGroup(ctx, tx, sc.OrgID, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scim_groups WHERE org_id = $1 AND id = $2`, sc.OrgID, id); err != nil {
			return err
		}
		for _, m := range old.Members {
			if _, err := s.syncSCIMMember(ctx, tx, sc, m.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// saveSCIMGroup creates (id "") or replaces a group and syncs the roles of
// its old and new members.
func (s *Service) saveSCIMGroup(ctx context.Context, sc SCIMScope, id string, in SCIMGroupInput) (SCIMGroup, SCIMResult, error) {
	if err := checkSCIMGroup(&in); err != nil {
		return SCIMGroup{}, SCIMResult{}, err
	}
	var (
		g   SCIMGroup
		res SCIMResult
	)
	err := postgres.InOrgTx(ctx, s.pool, sc.OrgID, func(tx pgx.Tx) error {
		if _, err := lockOrg(ctx, tx, sc.OrgID); err != nil {
			return err
		}
		now := s.now()
		affected := map[string]bool{}
		if id == "" {
			id = gw.NewID()
			if _, err := tx.Exec(ctx, `INSERT INTO scim_groups (org_id, id, display_name, external_id, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $5)`, sc.OrgID, id, in.DisplayName, in.ExternalID, now); err != nil {
				return groupNameTaken(err, in.DisplayName)
			}
		} else {
			old, err := scimGroup(ctx, tx, sc.OrgID, id)
			if err != nil {
				return err
			}
			for _, m := range old.Members {
				affected[m.ID] = true
			}
			if _, err := tx.Exec(ctx, `UPDATE scim_groups SET display_name = $3, external_id = $4, updated_at = $5
				WHERE org_id = $1 AND id = $2`, sc.OrgID, id, in.DisplayName, in.ExternalID, now); err != nil {
				return groupNameTaken(err, in.DisplayName)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM scim_group_members WHERE org_id = $1 AND group_id = $2`, sc.OrgID, id); err != nil {
				return err
			}
		}
		for _, m := range in.Members {
			tag, err := tx.Exec(ctx, `INSERT INTO scim_group_members (org_id, group_id, user_id)
				SELECT $1, $2, user_id FROM scim_users WHERE org_id = $1 AND user_id = $3 ON CONFLICT DO NOTHING`,
				sc.OrgID, id, m)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 && !affected[m] {
				var ok bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM scim_users WHERE org_id = $1 AND user_id = $2)`,
					sc.OrgID, m).Scan(&ok); err != nil {
					return err
				}
				if !ok {
					return gw.Errorf(gw.EINVALID, "Unknown group member %q.", m)
				}
			}
			affected[m] = true
		}
		for uid := range affected {
			r, err := s.syncSCIMMember(ctx, tx, sc, uid)
			if err != nil {
				return err
			}
			res.Deprovisioned = append(res.Deprovisioned, r.Deprovisioned...)
		}
		var err error
		g, err = scimGroup(ctx, tx, sc.OrgID, id)
		return err
	})
	return g, res, err
}

func groupNameTaken(err error, name string) error {
	err = postgres.Translate(err)
	if gw.ErrorCode(err) == gw.ECONFLICT {
		return gw.Errorf(gw.ECONFLICT, "A group named %s exists already.", name)
	}
	return err
}

func scimGroup(ctx context.Context, tx pgx.Tx, orgID, id string) (SCIMGroup, error) {
	if !gw.ValidID(id) {
		return SCIMGroup{}, notFound("Group")
	}
	list, err := scimGroups(ctx, tx, orgID, id)
	if err != nil {
		return SCIMGroup{}, err
	}
	if len(list) == 0 {
		return SCIMGroup{}, notFound("Group")
	}
	return list[0], nil
}

// scimGroups reads orgID's SCIM groups, or only id unless it is "".
func scimGroups(ctx context.Context, tx pgx.Tx, orgID, id string) ([]SCIMGroup, error) {
	rows, _ := tx.Query(ctx, `SELECT g.id, g.display_name, g.external_id, g.created_at, g.updated_at,
			coalesce((SELECT array_agg(s.user_id::text || ' ' || s.user_name ORDER BY s.user_name)
				FROM scim_group_members gm JOIN scim_users s ON s.org_id = gm.org_id AND s.user_id = gm.user_id
				WHERE gm.org_id = g.org_id AND gm.group_id = g.id), '{}')
		FROM scim_groups g WHERE g.org_id = $1 AND ($2 = '' OR g.id::text = $2)
		ORDER BY g.created_at, g.id`, orgID, id)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (SCIMGroup, error) {
		var g SCIMGroup
		var members []string
		err := row.Scan(&g.ID, &g.DisplayName, &g.ExternalID, &g.CreatedAt, &g.UpdatedAt, &members)
		for _, m := range members {
			uid, name, _ := strings.Cut(m, " ")
			g.Members = append(g.Members, SCIMGroupRef{ID: uid, Display: name})
		}
		g.Role = SCIMGroupRole(g.DisplayName)
		return g, err
	})
}
