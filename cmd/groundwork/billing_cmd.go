package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/billing"
)

const billingUsage = `groundwork billing — operate Stripe billing (needs STRIPE_SECRET_KEY and the rest of the billing configuration).

  billing events [-unprocessed] [-limit N]   the webhook ledger, newest first: attempts and the last error of each event
  billing reconcile                          run the reconciler now: backfill missed events from Stripe, retry failed ones, re-sync ended periods
  billing sync -org ORG                      re-fetch one organisation's subscription from Stripe and print its entitlements
`

func runBilling(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(`billing: say "groundwork billing events|reconcile|sync" (run "groundwork billing help")`)
	}
	withBilling := func(name, summary string, flags func(*flag.FlagSet), run func(b *app.Billing, a *command) error) error {
		set := newFlagSet("billing "+name, summary, stderr)
		if flags != nil {
			flags(set)
		}
		return withCommand(ctx, set, args[1:], getenv, stderr, func(a *command) error {
			if a.mods.Billing == nil {
				return errors.New("billing: Stripe billing is not configured (set STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_PRICE_*)")
			}
			return run(a.mods.Billing, a)
		})
	}
	switch args[0] {
	case "events":
		var unprocessed *bool
		var limit *int
		return withBilling("events", "List the webhook ledger, newest first.", func(b *flag.FlagSet) {
			unprocessed = b.Bool("unprocessed", false, "only the events not processed yet (failed or waiting)")
			limit = b.Int("limit", 50, "at most this many events")
		}, func(b *app.Billing, a *command) error {
			evs, err := billing.ListLedger(ctx, a.db.pool, billing.LedgerFilter{Unprocessed: *unprocessed, Limit: *limit})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EVENT\tTYPE\tCREATED\tPROCESSED\tATTEMPTS\tORG\tLAST ERROR")
			for _, e := range evs {
				processed := "no"
				if e.ProcessedAt != nil {
					processed = e.ProcessedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Type, e.Created.UTC().Format(time.RFC3339),
					processed, e.Attempts, e.OrgID, e.LastError)
			}
			return tw.Flush()
		})
	case "reconcile":
		return withBilling("reconcile", "Run the billing reconciler once.", nil, func(b *app.Billing, a *command) error {
			res, err := (&billing.Reconciler{Syncer: b.Syncer}).Run(ctx)
			fmt.Fprintf(stdout, "backfilled %d events, processed %d, failed %d, re-synced %d organisations\n",
				res.Backfilled, res.Processed, res.Failed, res.Resynced)
			return err
		})
	case "sync":
		var orgRef *string
		return withBilling("sync", "Re-fetch an organisation's subscription from Stripe.", func(b *flag.FlagSet) {
			orgRef = b.String("org", "", "the organisation: its slug or ID (required)")
		}, func(b *app.Billing, a *command) error {
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
			e, err := b.Syncer.Entitlements(ctx, o.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: plan %s, access %s (%s)\n", o.Slug, e.Plan, e.Access, e.Reason)
			return nil
		})
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, billingUsage)
		return nil
	default:
		return fmt.Errorf(`billing: unknown command %q (run "groundwork billing help")`, args[0])
	}
}
