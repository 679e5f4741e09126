package web

import (
	"net/http"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// dashboardPage is the data of dashboard.html, the organisation's home.
type dashboardPage struct {
	Members, Invitations int
	// HasContacts says the organisation holds a contact; counting them
	// all is not worth a page view.
	HasContacts bool
	// Plan is the plan's name ("Pro"), with its limits, when billing is
	// configured and the caller may see it.
	Plan                    string
	SeatLimit, ContactLimit int
	// Recent are the newest audit entries, for those who may read them.
	Recent []auditRow
	// Steps are what a new organisation still has to do.
	Steps []nextStep
}

func (dashboardPage) template() string { return "dashboard.html" }

// nextStep is one thing left to do, with the page where it is done.
type nextStep struct{ Text, Href string }

// pageDashboard is the organisation's home: counts, the plan and its
// limits, recent activity and the next steps of a new organisation. Parts
// the caller's role may not see are left out.
func (s *server) pageDashboard() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		scope := gw.ScopeFrom(ctx)
		var d dashboardPage
		members, err := s.d.Orgs.Members(ctx, scope)
		if err != nil {
			return err
		}
		d.Members = len(members)
		if authz.Can(scope.Role, authz.MembersManage) {
			inv, err := s.d.Orgs.Invitations(ctx, scope)
			if err != nil {
				return err
			}
			d.Invitations = len(inv)
		}
		list, err := s.d.Contacts.List(ctx, scope, contacts.ListParams{Limit: 1})
		if err != nil {
			return err
		}
		d.HasContacts = len(list.Contacts) > 0
		if s.d.Billing != nil && authz.Can(scope.Role, authz.BillingManage) {
			if e, err := s.d.Billing.Entitlements(ctx, scope); err == nil {
				d.Plan, d.SeatLimit, d.ContactLimit = string(e.Plan), e.Limits.Seats, e.Limits.Contacts
				if p, ok := s.d.Billing.Catalog().Plan(e.Plan); ok {
					d.Plan = p.Name // "Pro", as the billing page names it
				}
			}
		}
		if authz.Can(scope.Role, authz.AuditRead) {
			page, err := s.d.Audit.List(ctx, scope, audit.ListParams{Limit: 5})
			if err != nil {
				return err
			}
			names := map[string]string{}
			for _, m := range members {
				names[m.UserID] = m.Email
			}
			for _, e := range page.Entries {
				row := auditRow{Entry: e, TargetName: auditTargetName(e)}
				kind, id := actorOf(e.Actor)
				row.ActorName = kind
				if id != nil {
					row.ActorName = names[*id]
				}
				d.Recent = append(d.Recent, row)
			}
		}
		base := "/o/" + orgFrom(ctx).Slug
		if !d.HasContacts && authz.Can(scope.Role, authz.ContactsWrite) {
			d.Steps = append(d.Steps, nextStep{"Add your first contact", base + "/contacts/new"})
		}
		if d.Members == 1 && d.Invitations == 0 && authz.Can(scope.Role, authz.MembersManage) {
			d.Steps = append(d.Steps, nextStep{"Invite your team", base + "/members"})
		}
		if u := userFrom(ctx); u != nil && !u.TwoFactor {
			d.Steps = append(d.Steps, nextStep{"Turn on two-factor authentication", "/account/two-factor"})
		}
		s.render(w, r, http.StatusOK, page{Title: orgFrom(ctx).Name, Data: d})
		return nil
	})
}
