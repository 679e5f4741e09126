package main

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// auditVerifySummary is the description "groundwork audit verify -h" gives.
const auditVerifySummary = `Walk the audit log's hash chains (one per organisation, one per user) and
check every event: its sequence number follows the previous one, it links
to the previous event's hash, and its own hash matches its content. Prints
each broken chain's first broken event and exits non-zero if any is broken.

With -v, prints every chain's head (last event and hash): keep them
somewhere else, so that a later run can tell whether events were cut off
the end of a chain, which the chain alone cannot show.`

// runAuditVerify runs "groundwork audit verify".
func runAuditVerify(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("audit verify", auditVerifySummary)
	orgRef := fs.String("org", "", "verify only this organisation's chain: its slug or ID (the ID for a deleted one)")
	verbose := fs.Bool("v", false, "print every chain's head")
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		mods := a.mods
		var opts audit.VerifyOptions
		if *orgRef != "" {
			o, err := mods.Orgs.ResolveOrg(ctx, *orgRef)
			switch {
			case err == nil:
				opts.OrgID = o.ID
			case gw.ErrorCode(err) == gw.ENOTFOUND && uuid.Validate(*orgRef) == nil:
				opts.OrgID = *orgRef // a deleted organisation: its chain outlives it
			default:
				return cliError("audit verify: organisation "+*orgRef, err)
			}
		}
		rep, err := mods.Audit.Verify(ctx, opts)
		if err != nil {
			return err
		}
		if *verbose {
			for _, h := range rep.Heads {
				fmt.Fprintln(e.stdout, h)
			}
		}
		for _, b := range rep.Breaks {
			fmt.Fprintf(e.stdout, "BROKEN %s\n", b)
		}
		if !rep.OK() {
			return fmt.Errorf("audit verify: %d of %d chains broken; the first broken event: %s",
				len(rep.Breaks), len(rep.Heads), rep.Breaks[0])
		}
		fmt.Fprintf(e.stdout, "audit log verified: %d chains, %d events\n", len(rep.Heads), rep.Events)
		if rep.Unsealed > 0 {
			fmt.Fprintf(e.stdout, "%d events not sealed yet, so not verified: a worker seals them within seconds; \"groundwork audit seal\" seals them now\n", rep.Unsealed)
		}
		return nil
	})
}

// auditSealSummary is the description "groundwork audit seal -h" gives.
const auditSealSummary = `Seal the organisations' recorded audit events into their hash chains now.
Writes record their events unsealed, so that writes of one organisation do
not wait for each other; a worker's audit.seal job seals them every few
seconds. Run this where no worker runs, or before "audit verify".`

// runAuditSeal runs "groundwork audit seal".
func runAuditSeal(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("audit seal", auditSealSummary)
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		n, err := a.mods.AuditSealer.SealAll(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "sealed %d events\n", n)
		return nil
	})
}
