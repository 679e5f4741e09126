package billing

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// TestAChangeStandsWhenItsSyncFails: Stripe cancels the subscription, then
// the sync that follows fails (Stripe errors on the re-fetch). The cancel
// is a fact: it is reported done, its audit event is recorded, and a sync
// job brings the database to Stripe's truth once Stripe answers again. The
// same for an upgrade. Before (item 7 of issue 11), the user saw a 500, the
// audit event was rolled back with the sync and the database disagreed
// with Stripe.
func TestAChangeStandsWhenItsSyncFails(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	g, syncer, svc := s.gated()

	// Every read of the subscription fails once it has been changed.
	var changed atomic.Bool
	g.set(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/v1/subscriptions/") {
			return false
		}
		if r.Method == http.MethodPost {
			changed.Store(true)
			return false
		}
		if changed.Load() {
			apiError(w)
			return true
		}
		return false
	})
	require.NoError(t, svc.Cancel(s.ctx, s.scope), "Stripe made the change: it is done")
	require.True(t, s.fake.Subscription(s.sub).CancelAtPeriodEnd)
	require.Contains(t, s.auditActions(), audit.ActionBillingCanceled)
	require.False(t, s.account().Snapshot.CancelAtPeriodEnd, "the sync failed")
	jobs := s.syncJobs()
	require.Len(t, jobs, 1)
	require.Equal(t, SyncOrgArgs{OrgID: s.org, Hint: SyncHintArgs{SubscriptionID: s.sub}}, jobs[0])

	// The job repeats the sync once Stripe answers.
	g.set(nil)
	require.Equal(t, 1, s.runSyncJobs(syncer))
	require.True(t, s.requireTruth().Snapshot.CancelAtPeriodEnd)

	// An upgrade, likewise.
	require.NoError(t, svc.Reactivate(s.ctx, s.scope))
	s.runSyncJobs(syncer)
	p, err := svc.PreviewChange(s.ctx, s.scope, PlanBusiness)
	require.NoError(t, err)
	changed.Store(false)
	g.set(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/v1/subscriptions/") {
			return false
		}
		if r.Method == http.MethodPost {
			changed.Store(true)
			return false
		}
		if changed.Load() {
			apiError(w)
			return true
		}
		return false
	})
	require.NoError(t, svc.ChangePlan(s.ctx, s.scope, PlanBusiness, p.ProrationDate))
	require.Equal(t, []string{audit.ActionBillingCanceled, audit.ActionBillingReactivated, audit.ActionBillingPlanChanged},
		s.auditActions()[len(s.auditActions())-3:])
	require.Equal(t, "price_pro_monthly", s.account().Snapshot.PriceID, "the sync failed")
	g.set(nil)
	require.Equal(t, 1, s.runSyncJobs(syncer))
	require.Equal(t, "price_business_monthly", s.requireTruth().Snapshot.PriceID)
}

// TestAStripeFailureIsAKernelError: when Stripe itself refuses or fails a
// change, nothing is recorded and the error carries a kernel code the page
// answers with (EUNAVAILABLE: try again), never an internal error.
func TestAStripeFailureIsAKernelError(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	g, _, svc := s.gated()
	g.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/subscriptions/") {
			apiError(w)
			return true
		}
		return false
	})
	before := s.auditActions()
	err := svc.Cancel(s.ctx, s.scope)
	require.Error(t, err)
	require.Equal(t, gw.EUNAVAILABLE, gw.ErrorCode(err), "%v", err)
	require.Equal(t, before, s.auditActions())
	require.Empty(t, s.syncJobs())
	require.False(t, s.fake.Subscription(s.sub).CancelAtPeriodEnd)
}
