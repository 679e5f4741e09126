package scim

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/groundwork-dev/groundwork/internal/org"
)

// groupHandler serves /Groups. A group's displayName maps to a role
// (org.SCIMGroupRole); its members are SCIM user ids of the organisation,
// who get the strongest role of their groups.
type groupHandler struct{ handlers }

func groupInput(a scim.ResourceAttributes) org.SCIMGroupInput {
	in := org.SCIMGroupInput{}
	in.DisplayName, _ = a["displayName"].(string)
	in.ExternalID, _ = a["externalId"].(string)
	in.Members = memberIDs(a["members"])
	return in
}

// memberIDs reads the values of a members list.
func memberIDs(v interface{}) []string {
	list, _ := v.([]interface{})
	var ids []string
	for _, m := range list {
		mm, _ := m.(map[string]interface{})
		if id, ok := mm["value"].(string); ok && id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

func groupResource(g org.SCIMGroup) scim.Resource {
	members := make([]interface{}, 0, len(g.Members))
	for _, m := range g.Members {
		members = append(members, map[string]interface{}{"value": m.ID, "display": m.Display, "$ref": "../Users/" + m.ID})
	}
	res := scim.Resource{ID: g.ID,
		Attributes: scim.ResourceAttributes{"displayName": g.DisplayName, "members": members},
		Meta: scim.Meta{Created: ptr(g.CreatedAt), LastModified: ptr(g.UpdatedAt),
			Version: fmt.Sprintf(`W/"%d"`, g.UpdatedAt.UnixMicro())}}
	if g.ExternalID != "" {
		res.ExternalID = optional.NewString(g.ExternalID)
	}
	return res
}

// Create creates a group and gives its members their roles.
func (h groupHandler) Create(r *http.Request, a scim.ResourceAttributes) (scim.Resource, error) {
	sc, err := scopeFrom(r)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, "")
	}
	g, res, err := h.orgs.SCIMCreateGroup(r.Context(), sc, groupInput(a))
	if err == nil {
		err = h.endSessions(r, res)
	}
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, "")
	}
	return groupResource(g), nil
}

// Get returns one group of the organisation.
func (h groupHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	sc, err := scopeFrom(r)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	g, err := h.orgs.SCIMGroup(r.Context(), sc, id)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	return groupResource(g), nil
}

// GetAll lists the organisation's groups that pass the filter, a page of
// them.
func (h groupHandler) GetAll(r *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	sc, err := scopeFrom(r)
	if err != nil {
		return scim.Page{}, h.scimError(r, err, "")
	}
	groups, err := h.orgs.SCIMGroups(r.Context(), sc)
	if err != nil {
		return scim.Page{}, h.scimError(r, err, "")
	}
	var matched []scim.Resource
	for _, g := range groups {
		res := groupResource(g)
		if p.FilterValidator != nil && p.FilterValidator.PassesFilter(filterable(res)) != nil {
			continue
		}
		matched = append(matched, res)
	}
	return scim.Page{TotalResults: len(matched), Resources: append([]scim.Resource{}, page(matched, p.StartIndex, p.Count)...)}, nil
}

// Replace sets a group's name and members; roles follow.
func (h groupHandler) Replace(r *http.Request, id string, a scim.ResourceAttributes) (scim.Resource, error) {
	sc, err := scopeFrom(r)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	g, res, err := h.orgs.SCIMReplaceGroup(r.Context(), sc, id, groupInput(a))
	if err == nil {
		err = h.endSessions(r, res)
	}
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	return groupResource(g), nil
}

// Delete deletes a group; its members keep the roles of their other groups.
func (h groupHandler) Delete(r *http.Request, id string) error {
	sc, err := scopeFrom(r)
	if err != nil {
		return h.scimError(r, err, id)
	}
	if err := h.orgs.SCIMDeleteGroup(r.Context(), sc, id); err != nil {
		return h.scimError(r, err, id)
	}
	return nil
}

// Patch applies operations on displayName, externalId and members (add
// members, remove all or members[value eq "id"], replace) and stores the
// result as Replace does.
func (h groupHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	sc, err := scopeFrom(r)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	g, err := h.orgs.SCIMGroup(r.Context(), sc, id)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	in := org.SCIMGroupInput{DisplayName: g.DisplayName, ExternalID: g.ExternalID}
	for _, m := range g.Members {
		in.Members = append(in.Members, m.ID)
	}
	for _, op := range ops {
		kind := strings.ToLower(op.Op)
		if op.Path == nil {
			values, ok := op.Value.(map[string]interface{})
			if !ok {
				return scim.Resource{}, scimerrors.ScimErrorInvalidValue
			}
			for k, v := range values {
				applyGroupOp(&in, kind, strings.ToLower(k), nil, v)
			}
			continue
		}
		applyGroupOp(&in, kind, strings.ToLower(op.Path.AttributePath.AttributeName), op.Path.ValueExpression, op.Value)
	}
	g, res, err := h.orgs.SCIMReplaceGroup(r.Context(), sc, id, in)
	if err == nil {
		err = h.endSessions(r, res)
	}
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	return groupResource(g), nil
}

// applyGroupOp applies one operation on attribute name, with the path's
// value filter when it has one, to in.
func applyGroupOp(in *org.SCIMGroupInput, op, name string, where filter.Expression, v interface{}) {
	switch name {
	case "displayname":
		if s, ok := v.(string); ok && op != scim.PatchOperationRemove {
			in.DisplayName = s
		}
	case "externalid":
		s, _ := v.(string)
		if op == scim.PatchOperationRemove {
			s = ""
		}
		in.ExternalID = s
	case "members":
		switch op {
		case scim.PatchOperationAdd:
			in.Members = append(in.Members, memberIDs(v)...)
		case scim.PatchOperationReplace:
			in.Members = memberIDs(v)
		case scim.PatchOperationRemove:
			drop := map[string]bool{}
			for _, id := range memberIDs(v) {
				drop[id] = true
			}
			if e, ok := where.(*filter.AttributeExpression); ok && strings.EqualFold(e.AttributePath.AttributeName, "value") {
				if id, ok := e.CompareValue.(string); ok {
					drop[id] = true
				}
			}
			if where == nil && len(drop) == 0 {
				in.Members = nil
				return
			}
			kept := in.Members[:0]
			for _, id := range in.Members {
				if !drop[id] {
					kept = append(kept, id)
				}
			}
			in.Members = kept
		}
	}
}
