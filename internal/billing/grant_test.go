package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// TestGrantPlan: an operator grants a free organisation Business until a
// date: it has Business's limits until then, the free plan after; the
// grant never lowers a better subscription, never lifts a restriction,
// is revoked with the free plan, and every change is audited.
func TestGrantPlan(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	until := s.fake.Now().Add(30 * 24 * time.Hour)

	for _, tc := range []struct {
		plan     PlanID
		until    time.Time
		operator string
		want     string
	}{
		{PlanBusiness, until, "", "Say who grants the plan."},
		{"gold", until, "ops", `Unknown plan "gold".`},
		{PlanBusiness, s.fake.Now().Add(-time.Hour), "ops", "The grant would end in the past"},
	} {
		_, err := s.syncer.GrantPlan(s.ctx, s.org, tc.plan, tc.until, tc.operator)
		require.Equal(t, gw.EINVALID, gw.ErrorCode(err), tc.want)
		require.ErrorContains(t, err, tc.want)
	}

	e, err := s.syncer.GrantPlan(s.ctx, s.org, PlanBusiness, until, "ops@example.com")
	require.NoError(t, err)
	require.Equal(t, PlanBusiness, e.Plan)
	require.Contains(t, e.Reason, "Business granted by ops@example.com")
	got := s.entitled(PlanBusiness, AccessFull)
	require.True(t, got.Limits.Has(FeatureSSO))
	require.Equal(t, []string{"billing.plan_changed"}, s.auditActions())

	// A subscription to Pro does not lower the grant; the grant does not
	// replace the subscription either.
	s.subscribe(PlanPro)
	s.deliver()
	s.entitled(PlanBusiness, AccessFull)

	// Past the end of the grant: the subscription's plan again.
	s.fake.Advance(20 * 24 * time.Hour)
	_, err = s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	s.fake.Advance(11 * 24 * time.Hour)
	e = s.entitled(PlanPro, AccessFull)
	require.NotContains(t, e.Reason, "granted")

	// Until revoked; revoked with the free plan.
	_, err = s.syncer.GrantPlan(s.ctx, s.org, PlanBusiness, time.Time{}, "ops@example.com")
	require.NoError(t, err)
	s.entitled(PlanBusiness, AccessFull)
	e, err = s.syncer.GrantPlan(s.ctx, s.org, PlanFree, time.Time{}, "ops@example.com")
	require.NoError(t, err)
	require.Equal(t, PlanPro, e.Plan)
	s.entitled(PlanPro, AccessFull)
	require.Equal(t, 3, countOf(s.auditActions(), "billing.plan_changed"))

	// A grant gives a plan; it does not lift a restriction.
	cat := s.svc.Catalog()
	ro := cat.withGrant(cat.Compute(Snapshot{Status: "unpaid", PriceID: "price_pro_monthly"}, GracePolicy{}, DisputeState{}, until),
		Grant{Plan: PlanBusiness}, until)
	require.Equal(t, PlanBusiness, ro.Plan)
	require.Equal(t, AccessReadOnly, ro.Access)
}

func countOf(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}
