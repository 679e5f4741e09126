package billing

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Grant is a plan an operator granted an organisation outside Stripe
// (groundwork billing grant-plan): a pilot, a partner, a support gesture.
type Grant struct {
	// Plan is the granted plan; "" for none.
	Plan PlanID
	// Until is when the grant ends; zero: until it is revoked.
	Until time.Time
	// By names the operator who granted it ("operator:<who>").
	By string
}

// activeAt reports whether the grant is in force at now.
func (g Grant) activeAt(now time.Time) bool {
	return g.Plan != "" && (g.Until.IsZero() || now.Before(g.Until))
}

// withGrant is e, the entitlements of an organisation's subscription, with
// grant g applied at now: the granted plan's limits when it is in force and
// higher than the subscription's. Access is left as it is: a grant gives a
// plan, it does not lift a restriction (a failed payment, a dispute).
func (c *Catalog) withGrant(e Entitlements, g Grant, now time.Time) Entitlements {
	if !g.activeAt(now) {
		return e
	}
	p, ok := c.Plan(g.Plan)
	if !ok || c.rank(p.ID) <= c.rank(e.Plan) {
		return e
	}
	e.Plan, e.Limits = p.ID, p.Limits
	until := "until revoked"
	if !g.Until.IsZero() {
		until = "until " + g.Until.UTC().Format(time.RFC3339)
	}
	e.Reason += fmt.Sprintf("; %s granted by %s, %s", p.Name, strings.TrimPrefix(g.By, "operator:"), until)
	return e
}

// GrantPlan grants organisation orgID plan on an operator's decision,
// until until (zero: until revoked), whatever its subscription: the
// organisation gets the better of the two. PlanFree revokes the grant. The
// grant and its audit event (billing.plan_changed, target the organisation,
// with granted_plan, granted_until and granted_by) are written in one
// transaction, and the entitlements it gives are returned.
//
// It returns EINVALID without an operator, for an unknown plan, and for an
// end in the past.
func (s *Syncer) GrantPlan(ctx context.Context, orgID string, plan PlanID, until time.Time, operator string) (Entitlements, error) {
	now := s.cfg.Clock.Now()
	p, ok := s.cfg.Catalog.Plan(plan)
	switch {
	case operator == "":
		return Entitlements{}, gw.Errorf(gw.EINVALID, "Say who grants the plan.")
	case !ok:
		return Entitlements{}, gw.Errorf(gw.EINVALID, "Unknown plan %q.", plan)
	case !until.IsZero() && !until.After(now):
		return Entitlements{}, gw.Errorf(gw.EINVALID, "The grant would end in the past (%s).", until.UTC().Format(time.RFC3339))
	}
	g := Grant{Plan: p.ID, Until: until.UTC(), By: "operator:" + operator}
	if p.Free() {
		g = Grant{}
	}
	var ent Entitlements
	err := postgres.InOrgTx(ctx, s.cfg.Pool, orgID, func(tx pgx.Tx) error {
		if err := insertAccount(ctx, tx, orgID); err != nil {
			return err
		}
		a, err := loadAccount(ctx, tx, orgID, true)
		if err != nil {
			return err
		}
		if err := setGrant(ctx, tx, orgID, g); err != nil {
			return err
		}
		before := a.Grant
		a.Grant = g
		if err := audit.Record(ctx, tx, audit.Event{OrgID: orgID, Action: audit.ActionBillingPlanChanged,
			TargetType: audit.TargetOrg, TargetID: orgID, Before: grantValues(before),
			After: map[string]any{"granted_plan": g.Plan, "granted_until": nullTime(g.Until), "granted_by": "operator:" + operator}}); err != nil {
			return err
		}
		ent = s.compute(a)
		return nil
	})
	return ent, err
}

// grantValues is g as the audit log records it.
func grantValues(g Grant) map[string]any {
	return map[string]any{"granted_plan": g.Plan, "granted_until": nullTime(g.Until), "granted_by": g.By}
}

// setGrant stores orgID's grant (the zero Grant: none).
func setGrant(ctx context.Context, tx pgx.Tx, orgID string, g Grant) error {
	if _, err := tx.Exec(ctx, `UPDATE billing_accounts SET granted_plan_id = $2, granted_until = $3, granted_by = $4,
		updated_at = now() WHERE org_id = $1`, orgID, string(g.Plan), nullTime(g.Until), g.By); err != nil {
		return fmt.Errorf("billing: store plan grant of %s: %w", orgID, err)
	}
	return nil
}
