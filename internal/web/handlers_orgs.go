package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/org"
)

// orgPath is the path of page under the current organisation.
func orgPath(r *http.Request, page string) string {
	return "/o/" + orgFrom(r.Context()).Slug + page
}

// orgsPage is the data of orgs.html.
type orgsPage struct {
	Memberships []org.Membership
}

func (orgsPage) template() string { return "orgs.html" }

// orgsPage renders orgs.html with form f, showing err (a refused form) on
// it when not nil.
func (s *server) orgsPage(w http.ResponseWriter, r *http.Request, f *form, err error) error {
	ms, lerr := s.d.Orgs.ForUser(r.Context(), userFrom(r.Context()).ID)
	if lerr != nil {
		return lerr
	}
	p := page{Title: "Your organisations", Form: f, Data: orgsPage{Memberships: ms}}
	if err != nil {
		return s.renderForm(w, r, p, err)
	}
	s.render(w, r, http.StatusOK, p)
	return nil
}

func (s *server) pageOrgs() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		return s.orgsPage(w, r, newForm(), nil)
	})
}

func (s *server) postOrg() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "name")
		if err != nil {
			return err
		}
		o, err := s.d.Orgs.Create(r.Context(), userFrom(r.Context()).ID, f.Get("name"))
		if err != nil {
			return s.orgsPage(w, r, f, err)
		}
		s.flash(r, "Organisation "+o.Name+" created.")
		redirect(w, r, "/o/"+o.Slug+"/contacts")
		return nil
	})
}

// membersPage is the data of members.html.
type membersPage struct {
	Members     []org.Member
	Invitations []org.Invitation
	Roles       []gw.Role
	// Confirm, when set, asks before an action that also revokes API keys
	// or invitations.
	Confirm *revocationConfirm
}

func (membersPage) template() string { return "members.html" }

// revocationConfirm asks, on the members page, before changing a member's
// role, removing them or leaving, when that also revokes API keys or
// invitations they created (org.Service.DelegationsAbove).
type revocationConfirm struct {
	Action  string // the path the form posts to again, with confirm=yes
	Kind    string // "role", "remove" or "leave"
	UserID  string
	Email   string  // the member's; membersPage fills it in
	Role    gw.Role // the new role, for "role"
	Revokes org.Delegations
}

// Consequence says what the action does and what else it revokes, e.g.
// "This will also revoke 2 API keys and 1 invitation created by
// bob@example.com."
func (c *revocationConfirm) Consequence() string {
	if c.Revokes.None() {
		switch c.Kind {
		case "remove":
			return "Remove " + c.Email + " from the organisation? They lose access at once."
		case "transfer":
			return "Make " + c.Email + " the owner? You become an admin, and only they can give ownership back."
		}
	}
	var what []string
	if n := c.Revokes.APIKeys; n > 0 {
		what = append(what, strconv.Itoa(n)+map[bool]string{true: " API key", false: " API keys"}[n == 1])
	}
	if n := c.Revokes.Invitations; n > 0 {
		what = append(what, strconv.Itoa(n)+map[bool]string{true: " invitation", false: " invitations"}[n == 1])
	}
	by := c.Email
	if c.Kind == "leave" {
		by = "you"
	}
	return "This will also revoke " + strings.Join(what, " and ") + " created by " + by + "."
}

// membersPage renders members.html with form f, showing err (a refused
// invitation) on it when not nil, and confirm when not nil.
func (s *server) membersPage(w http.ResponseWriter, r *http.Request, f *form, err error, confirm *revocationConfirm) error {
	ctx := r.Context()
	scope := gw.ScopeFrom(ctx)
	members, lerr := s.d.Orgs.Members(ctx, scope)
	if lerr != nil {
		return lerr
	}
	var invites []org.Invitation
	if authz.Can(scope.Role, authz.MembersManage) {
		if invites, lerr = s.d.Orgs.Invitations(ctx, scope); lerr != nil {
			return lerr
		}
	}
	if confirm != nil {
		for _, m := range members {
			if m.UserID == confirm.UserID {
				confirm.Email = m.Email
			}
		}
	}
	p := page{Title: "Members", Form: f, Data: membersPage{Members: members, Invitations: invites,
		Roles: []gw.Role{gw.RoleOwner, gw.RoleAdmin, gw.RoleMember, gw.RoleViewer}, Confirm: confirm}}
	if err != nil {
		return s.renderForm(w, r, p, err)
	}
	s.render(w, r, http.StatusOK, p)
	return nil
}

func (s *server) pageMembers() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f := newForm()
		f.Values["role"] = string(gw.RoleMember)
		return s.membersPage(w, r, f, nil, nil)
	})
}

func (s *server) postInvite() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "email", "role")
		if err != nil {
			return err
		}
		if _, err := s.d.Orgs.Invite(r.Context(), gw.ScopeFrom(r.Context()), f.Get("email"), gw.Role(f.Get("role"))); err != nil {
			return s.membersPage(w, r, f, err, nil)
		}
		s.flash(r, "Invitation sent to "+f.Get("email")+".")
		redirect(w, r, orgPath(r, "/members"))
		return nil
	})
}

// orgAction wraps a one-click organisation action (a small POST form): on
// success it flashes done and redirects to after ("/orgs", or a page of the
// organisation); a client error is flashed on the organisation's page back
// (the page the form is on); not found and internal errors are returned,
// for errorHandler.
func (s *server) orgAction(done, after, back string, act func(r *http.Request, scope gw.Scope) error) http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return err
		}
		err := act(r, gw.ScopeFrom(r.Context()))
		if err != nil {
			return s.orgActionRefused(w, r, back, err)
		}
		s.flash(r, done)
		if after == "/orgs" {
			redirect(w, r, after)
			return nil
		}
		redirect(w, r, orgPath(r, after))
		return nil
	})
}

// orgActionRefused answers an organisation action that failed with err:
// a client error is flashed on the organisation's page back; not found and
// internal errors are returned, for errorHandler.
func (s *server) orgActionRefused(w http.ResponseWriter, r *http.Request, back string, err error) error {
	code := gw.ErrorCode(err)
	if code == gw.ENOTFOUND || httpStatus(code) >= 500 {
		return err
	}
	s.flash(r, gw.ErrorMessage(err))
	redirect(w, r, orgPath(r, back))
	return nil
}

// confirmedMemberAction is orgAction for an action of the members page that
// may also revoke API keys and invitations a member created: unless the
// form says confirm=yes, ask says what it would revoke, and when that is
// something (a non-nil confirmation), the members page asks first instead
// of acting. The Service revokes them either way; the question is so that
// nobody does it unawares.
func (s *server) confirmedMemberAction(done, after string, ask func(r *http.Request, scope gw.Scope) (*revocationConfirm, error),
	act func(r *http.Request, scope gw.Scope) error) http.Handler {
	acting := s.orgAction(done, after, "/members", act)
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return err
		}
		if r.PostForm.Get("confirm") != "yes" {
			c, err := ask(r, gw.ScopeFrom(r.Context()))
			if err != nil {
				return s.orgActionRefused(w, r, "/members", err)
			}
			if c != nil {
				c.Action = r.URL.Path
				return s.membersPage(w, r, newForm(), nil, c)
			}
		}
		acting.ServeHTTP(w, r)
		return nil
	})
}

// askRevocation returns the confirmation of kind for member userID, or nil
// when the action (to role, "" for removal) revokes nothing of theirs.
func (s *server) askRevocation(r *http.Request, scope gw.Scope, kind, userID string, role gw.Role) (*revocationConfirm, error) {
	d, err := s.d.Orgs.DelegationsAbove(r.Context(), scope, userID, role)
	if err != nil || d.None() {
		return nil, err
	}
	return &revocationConfirm{Kind: kind, UserID: userID, Role: role, Revokes: d}, nil
}

func (s *server) postRevokeInvitation() http.Handler {
	return s.orgAction("Invitation revoked.", "/members", "/members", func(r *http.Request, scope gw.Scope) error {
		return s.d.Orgs.RevokeInvitation(r.Context(), scope, r.PathValue("id"))
	})
}

func (s *server) postChangeRole() http.Handler {
	return s.confirmedMemberAction("Role changed.", "/members",
		func(r *http.Request, scope gw.Scope) (*revocationConfirm, error) {
			return s.askRevocation(r, scope, "role", r.PathValue("user"), gw.Role(r.PostForm.Get("role")))
		},
		func(r *http.Request, scope gw.Scope) error {
			return s.d.Orgs.ChangeRole(r.Context(), scope, r.PathValue("user"), gw.Role(r.PostForm.Get("role")))
		})
}

func (s *server) postRemoveMember() http.Handler {
	return s.confirmedMemberAction("Member removed.", "/members",
		func(r *http.Request, scope gw.Scope) (*revocationConfirm, error) {
			c, err := s.askRevocation(r, scope, "remove", r.PathValue("user"), "")
			if err == nil && c == nil {
				// Removing someone is always asked about, revoking or not.
				c, err = s.memberConfirm(r, scope, "remove", r.PathValue("user"))
			}
			return c, err
		},
		func(r *http.Request, scope gw.Scope) error {
			return s.d.Orgs.RemoveMember(r.Context(), scope, r.PathValue("user"))
		})
}

func (s *server) postTransferOwnership() http.Handler {
	return s.confirmedMemberAction("Ownership transferred.", "/members",
		func(r *http.Request, scope gw.Scope) (*revocationConfirm, error) {
			return s.memberConfirm(r, scope, "transfer", r.PostForm.Get("user"))
		},
		func(r *http.Request, scope gw.Scope) error {
			return s.d.Orgs.TransferOwnership(r.Context(), scope, r.PostForm.Get("user"))
		})
}

// memberConfirm returns the plain confirmation of kind ("remove" or
// "transfer") for member userID, who must be a member (ENOTFOUND
// otherwise).
func (s *server) memberConfirm(r *http.Request, scope gw.Scope, kind, userID string) (*revocationConfirm, error) {
	members, err := s.d.Orgs.Members(r.Context(), scope)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if m.UserID == userID {
			return &revocationConfirm{Kind: kind, UserID: userID, Email: m.Email}, nil
		}
	}
	return nil, gw.Errorf(gw.ENOTFOUND, "No such member.")
}

func (s *server) postLeave() http.Handler {
	return s.confirmedMemberAction("You left the organisation.", "/orgs",
		func(r *http.Request, scope gw.Scope) (*revocationConfirm, error) {
			if scope.Role == gw.RoleOwner {
				// The only owner is refused at once, on the members page,
				// rather than asked first about what leaving would revoke.
				members, err := s.d.Orgs.Members(r.Context(), scope)
				if err != nil {
					return nil, err
				}
				owners := 0
				for _, m := range members {
					if m.Role == gw.RoleOwner {
						owners++
					}
				}
				if owners == 1 {
					return nil, nil
				}
			}
			return s.askRevocation(r, scope, "leave", scope.UserID, "")
		},
		func(r *http.Request, scope gw.Scope) error {
			return s.d.Orgs.Leave(r.Context(), scope)
		})
}

// apiKeysPage is the data of api-keys.html.
type apiKeysPage struct {
	Keys   []org.APIKey
	NewKey string // the key just created, shown once
	Roles  []gw.Role
}

func (apiKeysPage) template() string { return "api-keys.html" }

// apiKeysPage renders api-keys.html with form f and newKey, the key just
// created, showing err (a refused form) on it when not nil.
func (s *server) apiKeysPage(w http.ResponseWriter, r *http.Request, f *form, newKey string, err error) error {
	keys, lerr := s.d.Orgs.APIKeys(r.Context(), gw.ScopeFrom(r.Context()))
	if lerr != nil {
		return lerr
	}
	p := page{Title: "API keys", Form: f, Data: apiKeysPage{Keys: keys, NewKey: newKey,
		Roles: []gw.Role{gw.RoleAdmin, gw.RoleMember, gw.RoleViewer}}}
	if err != nil {
		return s.renderForm(w, r, p, err)
	}
	s.render(w, r, http.StatusOK, p)
	return nil
}

func (s *server) pageAPIKeys() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f := newForm()
		f.Values["role"] = string(gw.RoleMember)
		return s.apiKeysPage(w, r, f, s.d.Sessions.PopString(r.Context(), sessionNewAPIKey), nil)
	})
}

func (s *server) postAPIKey() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "name", "role")
		if err != nil {
			return err
		}
		_, key, err := s.d.Orgs.CreateAPIKey(r.Context(), gw.ScopeFrom(r.Context()), f.Get("name"), gw.Role(f.Get("role")))
		if err != nil {
			return s.apiKeysPage(w, r, f, "", err)
		}
		// Post/redirect/get: the key waits in the session for the next
		// page of the keys, which shows it once and forgets it, so that a
		// reload neither creates another key nor shows this one again.
		s.d.Sessions.Put(r.Context(), sessionNewAPIKey, key)
		redirect(w, r, orgPath(r, "/api-keys"))
		return nil
	})
}

func (s *server) postRevokeAPIKey() http.Handler {
	return s.orgAction("API key revoked.", "/api-keys", "/api-keys", func(r *http.Request, scope gw.Scope) error {
		return s.d.Orgs.RevokeAPIKey(r.Context(), scope, r.PathValue("id"))
	})
}

func (s *server) pageOrgSettings() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		_, o, err := s.d.Orgs.MemberScope(ctx, userFrom(ctx).ID, orgFrom(ctx).ID)
		if err != nil {
			return err
		}
		f := newForm()
		f.Values["name"] = o.Name
		if o.Require2FA {
			f.Values["require_2fa"] = "on"
		}
		s.render(w, r, http.StatusOK, page{Title: "Settings", Form: f, Data: orgSettingsPage{}})
		return nil
	})
}

func (s *server) postOrgSettings() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "name", "require_2fa")
		if err != nil {
			return err
		}
		ctx := r.Context()
		scope := gw.ScopeFrom(ctx)
		err = s.d.Orgs.Rename(ctx, scope, f.Get("name"))
		if err == nil {
			err = s.d.Orgs.SetRequire2FA(ctx, scope, f.Get("require_2fa") == "on")
		}
		if err != nil {
			return s.renderForm(w, r, page{Title: "Settings", Form: f, Data: orgSettingsPage{}}, err)
		}
		s.flash(r, "Settings saved.")
		redirect(w, r, orgPath(r, "/settings"))
		return nil
	})
}

// postDeleteOrg deletes the organisation once the owner typed its name
// (confirm_name) and their password again (password_delete): a mistyped
// name or a wrong password is shown next to its field on the settings page,
// where the form is, and a refusal of the Service (say, a subscription
// still running) on top of it.
func (s *server) postDeleteOrg() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "confirm_name", "password_delete")
		if err != nil {
			return err
		}
		ctx := r.Context()
		o := orgFrom(ctx)
		back := func(err error) error {
			_, cur, lerr := s.d.Orgs.MemberScope(ctx, userFrom(ctx).ID, o.ID)
			if lerr != nil {
				return lerr
			}
			f.Values["name"] = cur.Name
			if cur.Require2FA {
				f.Values["require_2fa"] = "on"
			}
			return s.renderForm(w, r, page{Title: "Settings", Form: f, Data: orgSettingsPage{}}, err)
		}
		if f.Get("confirm_name") != o.Name {
			return back(&gw.Error{Code: gw.EINVALID, Message: "Check the highlighted fields.",
				Fields: map[string]string{"confirm_name": "Type the organisation's name, " + o.Name + ", exactly."}})
		}
		if err := s.d.Accounts.ConfirmPassword(ctx, userFrom(ctx).ID, f.Get("password_delete")); err != nil {
			countWrongPassword(r, err, "password")
			return back(remapFields(err, map[string]string{"password": "password_delete"}))
		}
		if err := s.d.Orgs.Delete(ctx, gw.ScopeFrom(ctx)); err != nil {
			if code := gw.ErrorCode(err); code == gw.ENOTFOUND || httpStatus(code) >= 500 {
				return err
			}
			return back(err)
		}
		s.flash(r, "Organisation "+o.Name+" deleted.")
		redirect(w, r, "/orgs")
		return nil
	})
}

// invitationPage is the data of invitation.html.
type invitationPage struct {
	Invitation org.Invitation
	Token      string
}

func (invitationPage) template() string { return "invitation.html" }

func (s *server) pageInvitation() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		token := r.PathValue("token")
		inv, err := s.d.Orgs.InvitationByToken(r.Context(), token)
		if err != nil {
			return s.renderForm(w, r, page{Title: "Invitation", Data: invitationPage{}}, err)
		}
		s.render(w, r, http.StatusOK, page{Title: "Join " + inv.OrgName,
			Data: invitationPage{Invitation: inv, Token: token}})
		return nil
	})
}

func (s *server) postAcceptInvitation() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		u := userFrom(r.Context())
		o, err := s.d.Orgs.AcceptInvitation(r.Context(), u.ID, u.Email, r.PathValue("token"))
		if err != nil {
			return s.renderForm(w, r, page{Title: "Invitation", Data: invitationPage{}}, err)
		}
		s.flash(r, "Welcome to "+o.Name+".")
		redirect(w, r, "/o/"+o.Slug+"/contacts")
		return nil
	})
}

// orgSettingsPage is the data of org-settings.html: the organisation's settings, whose values are in page.Form.
type orgSettingsPage struct {
}

func (orgSettingsPage) template() string { return "org-settings.html" }
