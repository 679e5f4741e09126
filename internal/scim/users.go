package scim

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/groundwork-dev/groundwork/internal/org"
)

// userHandler serves /Users. A SCIM user's attributes map to the
// organisation's provisioned user: userName, name.givenName,
// name.familyName, externalId and active are kept; emails (the primary
// one, else the first, else userName) name the platform account, created
// without a password when missing; groups are read-only, as SCIM says.
type userHandler struct{ handlers }

// userInput reads the attributes a provider sets from a validated resource.
func userInput(a scim.ResourceAttributes) org.SCIMUserInput {
	in := org.SCIMUserInput{Active: true}
	in.UserName, _ = a["userName"].(string)
	in.ExternalID, _ = a["externalId"].(string)
	if name, ok := a["name"].(map[string]interface{}); ok {
		in.GivenName, _ = name["givenName"].(string)
		in.FamilyName, _ = name["familyName"].(string)
	}
	if active, ok := a["active"].(bool); ok {
		in.Active = active
	}
	return in
}

// accountEmail is the address naming the account: the primary email, else
// the first, else the userName.
func accountEmail(a scim.ResourceAttributes) string {
	emails, _ := a["emails"].([]interface{})
	first := ""
	for _, e := range emails {
		m, _ := e.(map[string]interface{})
		v, _ := m["value"].(string)
		if v == "" {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			return v
		}
		if first == "" {
			first = v
		}
	}
	if first != "" {
		return first
	}
	u, _ := a["userName"].(string)
	return u
}

func userResource(u org.SCIMUser) scim.Resource {
	attrs := scim.ResourceAttributes{
		"userName": u.UserName,
		"active":   u.Active,
		"emails":   []interface{}{map[string]interface{}{"value": u.Email, "primary": true, "type": "work"}},
	}
	if u.GivenName != "" || u.FamilyName != "" {
		attrs["name"] = map[string]interface{}{"givenName": u.GivenName, "familyName": u.FamilyName}
		attrs["displayName"] = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	}
	if len(u.Groups) > 0 {
		groups := make([]interface{}, 0, len(u.Groups))
		for _, g := range u.Groups {
			groups = append(groups, map[string]interface{}{"value": g.ID, "display": g.Display, "$ref": "../Groups/" + g.ID})
		}
		attrs["groups"] = groups
	}
	res := scim.Resource{ID: u.UserID, Attributes: attrs,
		Meta: scim.Meta{Created: ptr(u.CreatedAt), LastModified: ptr(u.UpdatedAt),
			Version: fmt.Sprintf(`W/"%d"`, u.UpdatedAt.UnixMicro())}}
	if u.ExternalID != "" {
		res.ExternalID = optional.NewString(u.ExternalID)
	}
	return res
}

func ptr(t time.Time) *time.Time { return &t }

// Create provisions a user: the account (created when missing) and, when
// active, its membership.
func (h userHandler) Create(r *http.Request, a scim.ResourceAttributes) (scim.Resource, error) {
	sc, err := scopeFrom(r)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, "")
	}
	acct, err := h.accounts.ProvisionUser(r.Context(), accountEmail(a))
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, "")
	}
	u, res, err := h.orgs.SCIMCreateUser(r.Context(), sc, acct.ID, userInput(a))
	if err == nil {
		err = h.endSessions(r, res)
	}
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, "")
	}
	return userResource(u), nil
}

// Get returns one provisioned user of the organisation.
func (h userHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	sc, err := scopeFrom(r)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	u, err := h.orgs.SCIMUser(r.Context(), sc, id)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	return userResource(u), nil
}

// GetAll lists the organisation's users that pass the filter, a page of
// them. An organisation's provisioned users are few enough to filter here,
// with the library's evaluation of the filter.
func (h userHandler) GetAll(r *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	sc, err := scopeFrom(r)
	if err != nil {
		return scim.Page{}, h.scimError(r, err, "")
	}
	users, err := h.orgs.SCIMUsers(r.Context(), sc)
	if err != nil {
		return scim.Page{}, h.scimError(r, err, "")
	}
	var matched []scim.Resource
	for _, u := range users {
		res := userResource(u)
		if p.FilterValidator != nil && p.FilterValidator.PassesFilter(filterable(res)) != nil {
			continue
		}
		matched = append(matched, res)
	}
	return scim.Page{TotalResults: len(matched), Resources: append([]scim.Resource{}, page(matched, p.StartIndex, p.Count)...)}, nil
}

// filterable is a resource's attributes with the common ones a filter may
// name (id, externalId).
func filterable(res scim.Resource) map[string]interface{} {
	m := make(map[string]interface{}, len(res.Attributes)+2)
	for k, v := range res.Attributes {
		m[k] = v
	}
	m["id"] = res.ID
	if res.ExternalID.Present() {
		m["externalId"] = res.ExternalID.Value()
	}
	return m
}

// Replace sets all of a user's attributes; active false deprovisions it.
func (h userHandler) Replace(r *http.Request, id string, a scim.ResourceAttributes) (scim.Resource, error) {
	sc, err := scopeFrom(r)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	u, res, err := h.orgs.SCIMReplaceUser(r.Context(), sc, id, userInput(a))
	if err == nil {
		err = h.endSessions(r, res)
	}
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	return userResource(u), nil
}

// Delete deprovisions a user and forgets it; the account stays.
func (h userHandler) Delete(r *http.Request, id string) error {
	sc, err := scopeFrom(r)
	if err != nil {
		return h.scimError(r, err, id)
	}
	res, err := h.orgs.SCIMDeleteUser(r.Context(), sc, id)
	if err == nil {
		err = h.endSessions(r, res)
	}
	if err != nil {
		return h.scimError(r, err, id)
	}
	return nil
}

// Patch applies add, replace and remove operations to the user's
// attributes (as Okta and Entra ID send them: with a path, or without one
// and a value object) and stores the result as Replace does.
func (h userHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	sc, err := scopeFrom(r)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	u, err := h.orgs.SCIMUser(r.Context(), sc, id)
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	in := org.SCIMUserInput{UserName: u.UserName, ExternalID: u.ExternalID, GivenName: u.GivenName,
		FamilyName: u.FamilyName, Active: u.Active}
	for _, op := range ops {
		if op.Path == nil {
			values, ok := op.Value.(map[string]interface{})
			if !ok {
				return scim.Resource{}, scimerrors.ScimErrorInvalidValue
			}
			for k, v := range values {
				if err := setUserAttr(&in, strings.ToLower(op.Op), k, v); err != nil {
					return scim.Resource{}, err
				}
			}
			continue
		}
		if err := setUserAttr(&in, strings.ToLower(op.Op), pathName(*op.Path), op.Value); err != nil {
			return scim.Resource{}, err
		}
	}
	u, res, err := h.orgs.SCIMReplaceUser(r.Context(), sc, id, in)
	if err == nil {
		err = h.endSessions(r, res)
	}
	if err != nil {
		return scim.Resource{}, h.scimError(r, err, id)
	}
	return userResource(u), nil
}

// pathName is a patch path as "attribute" or "attribute.sub", lowercase.
func pathName(p filter.Path) string {
	name := p.AttributePath.AttributeName
	if p.AttributePath.SubAttribute != nil {
		name += "." + *p.AttributePath.SubAttribute
	} else if p.SubAttribute != nil {
		name += "." + *p.SubAttribute
	}
	return strings.ToLower(name)
}

// setUserAttr applies one operation on attribute name (lowercase, with a
// sub-attribute after a dot) to in. Attributes Groundwork does not keep are
// accepted and ignored.
func setUserAttr(in *org.SCIMUserInput, op, name string, v interface{}) error {
	str := func() string {
		if op == scim.PatchOperationRemove {
			return ""
		}
		s, _ := v.(string)
		return s
	}
	switch strings.ToLower(name) {
	case "active":
		if op == scim.PatchOperationRemove {
			return scimerrors.ScimErrorMutability
		}
		b, ok := v.(bool)
		if !ok {
			return scimerrors.ScimErrorInvalidValue
		}
		in.Active = b
	case "username":
		if op == scim.PatchOperationRemove {
			return scimerrors.ScimErrorMutability
		}
		in.UserName = str()
	case "externalid":
		in.ExternalID = str()
	case "name.givenname":
		in.GivenName = str()
	case "name.familyname":
		in.FamilyName = str()
	case "name":
		m, _ := v.(map[string]interface{})
		if op == scim.PatchOperationRemove {
			in.GivenName, in.FamilyName = "", ""
		}
		if g, ok := m["givenName"].(string); ok {
			in.GivenName = g
		}
		if f, ok := m["familyName"].(string); ok {
			in.FamilyName = f
		}
	}
	return nil
}
