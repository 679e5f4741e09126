package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/billing"
)

// billingAbout is the description "groundwork billing -h" gives.
const billingAbout = `Operate Stripe billing: the webhook ledger, the reconciler and one
organisation's subscription. Needs STRIPE_SECRET_KEY and the rest of the
billing configuration (docs/billing.md).`

// withBilling runs fn with the billing module, or fails when Stripe billing
// is not configured.
func withBilling(ctx context.Context, fs *flag.FlagSet, args []string, e cmdEnv, fn func(b *app.Billing, a *admin) error) error {
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		if a.mods.Billing == nil {
			return fmt.Errorf("%s: Stripe billing is not configured (set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET)", fs.Name())
		}
		return fn(a.mods.Billing, a)
	})
}

// runBillingEvents runs "groundwork billing events".
func runBillingEvents(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("billing events", "List the webhook ledger, newest first: each Stripe event's type, when it was\nprocessed, its attempts, its organisation and its last error.")
	unprocessed := fs.Bool("unprocessed", false, "only the events not processed yet (failed or waiting)")
	limit := fs.Int("limit", 50, "at most this many events")
	return withBilling(ctx, fs, args, e, func(_ *app.Billing, a *admin) error {
		evs, err := billing.ListLedger(ctx, a.db.pool, billing.LedgerFilter{Unprocessed: *unprocessed, Limit: *limit})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EVENT\tTYPE\tCREATED\tPROCESSED\tATTEMPTS\tORG\tLAST ERROR")
		for _, ev := range evs {
			processed := "no"
			if ev.ProcessedAt != nil {
				processed = ev.ProcessedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", ev.ID, ev.Type, ev.Created.UTC().Format(time.RFC3339),
				processed, ev.Attempts, ev.OrgID, ev.LastError)
		}
		return tw.Flush()
	})
}

// runBillingReconcile runs "groundwork billing reconcile".
func runBillingReconcile(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("billing reconcile", "Run the billing reconciler once: backfill the events missed from Stripe,\nretry the failed ones and re-sync the organisations whose period ended.")
	return withBilling(ctx, fs, args, e, func(b *app.Billing, _ *admin) error {
		res, err := (&billing.Reconciler{Syncer: b.Syncer}).Run(ctx)
		fmt.Fprintf(e.stdout, "backfilled %d events, processed %d, failed %d, re-synced %d organisations\n",
			res.Backfilled, res.Processed, res.Failed, res.Resynced)
		return err
	})
}

// runBillingSync runs "groundwork billing sync".
func runBillingSync(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("billing sync", "Re-fetch an organisation's subscription from Stripe and print its entitlements.")
	orgRef := fs.String("org", "", "the organisation: its slug or ID (required)")
	return withBilling(ctx, fs, args, e, func(b *app.Billing, a *admin) error {
		if *orgRef == "" {
			return errors.New("billing sync: -org is required")
		}
		o, err := a.mods.Orgs.ResolveOrg(ctx, *orgRef)
		if err != nil {
			return cliError("billing sync: organisation "+*orgRef, err)
		}
		if err := b.Syncer.Sync(ctx, o.ID); err != nil {
			return err
		}
		ent, err := b.Syncer.Entitlements(ctx, o.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: plan %s, access %s (%s)\n", o.Slug, ent.Plan, ent.Access, ent.Reason)
		return nil
	})
}

// runBillingClearDispute runs "groundwork billing clear-dispute".
func runBillingClearDispute(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("billing clear-dispute", "End the effect of an organisation's lost dispute (read-only or free plan,\nGROUNDWORK_BILLING_LOST_DISPUTE) on an operator's decision; audited.\nA later paid invoice clears it by itself.")
	orgRef := fs.String("org", "", "the organisation: its slug or ID (required)")
	dispute := fs.String("dispute", "", "the Stripe dispute ID, du_… (required)")
	operator := fs.String("operator", "", "who decides, recorded in the audit log (required)")
	return withBilling(ctx, fs, args, e, func(b *app.Billing, a *admin) error {
		if *orgRef == "" || *dispute == "" || *operator == "" {
			return errors.New("billing clear-dispute: -org, -dispute and -operator are required")
		}
		o, err := a.mods.Orgs.ResolveOrg(ctx, *orgRef)
		if err != nil {
			return cliError("billing clear-dispute: organisation "+*orgRef, err)
		}
		ent, err := b.Syncer.ClearLostDispute(ctx, o.ID, *dispute, *operator)
		if err != nil {
			return cliError("billing clear-dispute", err)
		}
		fmt.Fprintf(e.stdout, "%s: dispute %s cleared; plan %s, access %s (%s)\n", o.Slug, *dispute, ent.Plan, ent.Access, ent.Reason)
		return nil
	})
}

// runBillingGrantPlan runs "groundwork billing grant-plan". The
// organisation and the plan may come first, as positional arguments:
// "grant-plan ORG PLAN -until DATE -operator WHO".
func runBillingGrantPlan(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("billing grant-plan", "Grant an organisation a plan outside Stripe (a pilot, a partner, support),\nuntil a date or until revoked (plan free revokes); it gets the better of the\ngrant and its subscription. Audited (billing.plan_changed).")
	orgRef := fs.String("org", "", "the organisation: its slug or ID (required; or the first argument)")
	plan := fs.String("plan", "", "the plan ID, e.g. business; free revokes the grant (required; or the second argument)")
	until := fs.String("until", "", "when the grant ends: a date (2027-01-31, midnight UTC) or an RFC 3339 time; empty: until revoked")
	operator := fs.String("operator", "", "who decides, recorded in the audit log (required)")
	if len(args) >= 2 && !strings.HasPrefix(args[0], "-") && !strings.HasPrefix(args[1], "-") {
		args = append([]string{"-org", args[0], "-plan", args[1]}, args[2:]...)
	}
	return withBilling(ctx, fs, args, e, func(b *app.Billing, a *admin) error {
		if *orgRef == "" || *plan == "" || *operator == "" {
			return errors.New("billing grant-plan: the organisation, the plan and -operator are required")
		}
		var end time.Time
		if *until != "" {
			var err error
			if end, err = time.Parse(time.DateOnly, *until); err != nil {
				if end, err = time.Parse(time.RFC3339, *until); err != nil {
					return fmt.Errorf("billing grant-plan: -until %q is not a date (2027-01-31) or an RFC 3339 time", *until)
				}
			}
		}
		o, err := a.mods.Orgs.ResolveOrg(ctx, *orgRef)
		if err != nil {
			return cliError("billing grant-plan: organisation "+*orgRef, err)
		}
		ent, err := b.Syncer.GrantPlan(ctx, o.ID, billing.PlanID(*plan), end, *operator)
		if err != nil {
			return cliError("billing grant-plan", err)
		}
		fmt.Fprintf(e.stdout, "%s: plan %s, access %s (%s)\n", o.Slug, ent.Plan, ent.Access, ent.Reason)
		return nil
	})
}
