package billing

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/jobs"
)

// SyncSeatsArgs is the job that brings the quantity of an organisation's
// per-seat subscription (Plan.PerSeat) to its member count.
type SyncSeatsArgs struct {
	OrgID string `json:"org_id"`
}

// Kind implements river.JobArgs.
func (SyncSeatsArgs) Kind() string { return "billing.sync_seats" }

// InsertOpts implements river.JobArgsWithInsertOpts: the billing queue.
// The jobs are not unique: River's uniqueness must include running jobs,
// and a job running when a member joins may have counted already. Each job
// reads the count when it runs and changes nothing when the quantity is
// right, so a burst of changes costs one update and a few reads.
func (SyncSeatsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueBilling}
}

// SeatsChangedTx enqueues, in tx (scoped to orgID), the job that updates
// orgID's subscription quantity when its plan is per seat: the member
// module calls it when a member joins or leaves. It does nothing without a
// job client or for a plan that is not per seat.
func (p *Enforcer) SeatsChangedTx(ctx context.Context, tx pgx.Tx, orgID string) error {
	if p.Jobs == nil {
		return nil
	}
	a, err := loadAccount(ctx, tx, orgID, false)
	if err != nil {
		return err
	}
	plan, ok := p.Catalog.snapshotPlan(a.Snapshot.Plan, a.Snapshot.PriceID)
	if !ok || !plan.PerSeat || a.SubscriptionID == "" || !subLive(a.Snapshot.Status) {
		return nil
	}
	if _, err := p.Jobs.InsertTx(ctx, tx, SyncSeatsArgs{OrgID: orgID}, nil); err != nil {
		return fmt.Errorf("billing: enqueue seat sync of %s: %w", orgID, err)
	}
	return nil
}

// SyncSeats sets the quantity of orgID's per-seat subscription item to
// members (at least 1), with Stripe's default proration (the difference is
// added to the next invoice:
// https://docs.stripe.com/billing/subscriptions/quantities), and syncs the
// result through act (no transaction is open while Stripe answers). It is
// idempotent: a quantity already right changes nothing, and an
// organisation without a live per-seat subscription is left alone.
func (s *Service) SyncSeats(ctx context.Context, orgID string, members int) error {
	n := int64(max(members, 1))
	err := s.act(ctx, orgID, func(a Account) (*audit.Event, string, error) {
		plan, ok := s.Catalog().snapshotPlan(a.Snapshot.Plan, a.Snapshot.PriceID)
		if !ok || !plan.PerSeat || a.SubscriptionID == "" || !subLive(a.Snapshot.Status) {
			return nil, "", errSeatsRight
		}
		sub, err := s.stripe.V1Subscriptions.Retrieve(ctx, a.SubscriptionID, nil)
		if err != nil {
			return nil, "", stripeError("fetch subscription", err)
		}
		if !subLive(sub.Status) || sub.Items == nil {
			return nil, "", errSeatsRight
		}
		prices := make([]*stripe.Price, len(sub.Items.Data))
		for i, it := range sub.Items.Data {
			prices[i] = it.Price
		}
		i, _, _, ok := s.Catalog().planPrice(prices)
		if !ok || sub.Items.Data[i].Quantity == n {
			return nil, "", errSeatsRight
		}
		item := sub.Items.Data[i]
		p := &stripe.SubscriptionUpdateParams{
			Items: []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(item.ID), Quantity: stripe.Int64(n)}}}
		p.SetIdempotencyKey(attemptKey("seats", sub.ID))
		updated, err := s.stripe.V1Subscriptions.Update(ctx, sub.ID, p)
		if err != nil {
			return nil, "", stripeError("update subscription quantity", err)
		}
		if it := subItem(updated, item.ID); it == nil || it.Quantity != n {
			return nil, "", fmt.Errorf("billing: set quantity %d on %s: Stripe answered otherwise", n, item.ID)
		}
		return nil, sub.ID, nil
	})
	if errors.Is(err, errSeatsRight) {
		return nil
	}
	return err
}

// errSeatsRight tells act that SyncSeats changed nothing in Stripe: there
// is nothing to record or sync.
var errSeatsRight = errors.New("billing: the seats are right")

// SyncSeatsWorker is the River worker of SyncSeatsArgs.
type SyncSeatsWorker struct {
	river.WorkerDefaults[SyncSeatsArgs]
	Service *Service
	// Members counts an organisation's members (the organisations module).
	Members func(ctx context.Context, orgID string) (int, error)
}

// Work sets the organisation's subscription quantity to its member count.
func (w *SyncSeatsWorker) Work(ctx context.Context, job *river.Job[SyncSeatsArgs]) error {
	n, err := w.Members(ctx, job.Args.OrgID)
	if err != nil {
		return fmt.Errorf("billing: count members of %s: %w", job.Args.OrgID, err)
	}
	return w.Service.SyncSeats(ctx, job.Args.OrgID, n)
}
