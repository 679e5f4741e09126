package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// verifyPage is how many rows Verify reads at a time.
const verifyPage = 1000

// VerifyOptions selects the chains Verify walks.
type VerifyOptions struct {
	// OrgID, when set, walks only that organisation's chain (which may
	// belong to a deleted organisation). Otherwise every organisation's and
	// every account's chain is walked.
	OrgID string
}

// Head is the last event of a chain. Keep heads somewhere else (a log, a
// ticket) to detect later that events were cut off the end of a chain.
type Head struct {
	Kind  string // "org" or "account"
	Chain string // the organisation's or user's ID
	Seq   int64  // 0 for an empty chain
	Hash  []byte
	// Unsealed counts the chain's events recorded but not sealed into it
	// yet (organisation chains only: see seal.go). They are seconds old
	// while the sealer runs; old ones mean it does not.
	Unsealed int64
}

// String describes h on one line.
func (h Head) String() string {
	s := fmt.Sprintf("%s %s: %d events, head %s", h.Kind, h.Chain, h.Seq, hex.EncodeToString(h.Hash))
	if h.Unsealed > 0 {
		s += fmt.Sprintf(", %d not sealed yet", h.Unsealed)
	}
	return s
}

// Break is the first row at which a chain fails to verify.
type Break struct {
	Kind   string // "org" or "account"
	Chain  string // the organisation's or user's ID
	Seq    int64  // the row's seq
	ID     string // the row's id
	Reason string
}

// String names the broken row on one line.
func (b Break) String() string {
	return fmt.Sprintf("%s %s: event %d (id %s): %s", b.Kind, b.Chain, b.Seq, b.ID, b.Reason)
}

// Report is what Verify found.
type Report struct {
	// Heads has one entry per chain walked, the broken ones included (up
	// to their last good event).
	Heads []Head
	// Events counts the events that verified.
	Events int64
	// Unsealed counts the events not sealed into their chains yet, which
	// verification cannot cover until they are.
	Unsealed int64
	// Breaks names the first broken row of each broken chain; empty when
	// every chain verified.
	Breaks []Break
}

// OK reports whether every chain walked verified.
func (r Report) OK() bool { return len(r.Breaks) == 0 }

// Verify walks the chains selected by opts, checking of every sealed row
// that its seq follows the previous one, that its prev_hash is the
// previous row's hash, and that its hash matches its content; it counts
// the unsealed rows of each chain. It is for the trusted admin
// command line: it checks no authorization. An error means the chains
// could not be read, not that one is broken: see Report.Breaks for that.
func (s *Service) Verify(ctx context.Context, opts VerifyOptions) (Report, error) {
	type chain struct{ kind, id string }
	var chains []chain
	if opts.OrgID != "" {
		id, ok := canonicalUUID(opts.OrgID)
		if !ok || id == "" {
			return Report{}, fmt.Errorf("verify: organisation ID %q is not a UUID", opts.OrgID)
		}
		chains = append(chains, chain{kindOrg, id})
	} else {
		err := postgres.InTx(ctx, s.pool, postgres.TxOptions{}, func(tx pgx.Tx) error {
			orgs, err := orgChains(ctx, tx) // with those whose events are all unsealed
			if err != nil {
				return fmt.Errorf("list organisation chains: %w", err)
			}
			users, err := accountChains(ctx, tx)
			if err != nil {
				return fmt.Errorf("list account chains: %w", err)
			}
			for _, id := range orgs {
				chains = append(chains, chain{kindOrg, id})
			}
			for _, id := range users {
				chains = append(chains, chain{kindAccount, id})
			}
			return nil
		})
		if err != nil {
			return Report{}, fmt.Errorf("verify: %w", err)
		}
	}
	var rep Report
	for _, c := range chains {
		head, n, brk, err := s.verifyChain(ctx, c.kind, c.id)
		if err != nil {
			return rep, fmt.Errorf("verify %s chain %s: %w", c.kind, c.id, err)
		}
		rep.Heads = append(rep.Heads, head)
		rep.Events += n
		rep.Unsealed += head.Unsealed
		if brk != nil {
			rep.Breaks = append(rep.Breaks, *brk)
		}
	}
	return rep, nil
}

// verifyChain walks one chain and returns its head, how many events
// verified, and the first broken row, if any.
func (s *Service) verifyChain(ctx context.Context, kind, id string) (Head, int64, *Break, error) {
	opts := postgres.TxOptions{}
	if kind == kindOrg {
		opts.OrgID = id // the chain's rows are visible only to their organisation
	}
	head := Head{Kind: kind, Chain: id, Hash: zeroHash}
	var n int64
	var brk *Break
	err := postgres.InTx(ctx, s.pool, opts, func(tx pgx.Tx) error {
		for {
			rows, err := chainRows(ctx, tx, kind, id, head.Seq, verifyPage)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if reason := checkRow(&r, head); reason != "" {
					brk = &Break{Kind: kind, Chain: id, Seq: r.seq, ID: r.id, Reason: reason}
					return nil
				}
				head.Seq, head.Hash = r.seq, r.hash
				n++
			}
			if len(rows) < verifyPage {
				break
			}
		}
		if kind != kindOrg {
			return nil
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND hash IS NULL`, id).Scan(&head.Unsealed)
	})
	return head, n, brk, err
}

// checkRow returns why r does not follow prev, the chain's head so far, or
// "" when it does.
func checkRow(r *row, prev Head) string {
	switch {
	case r.seq != prev.Seq+1:
		return fmt.Sprintf("expected event %d next: events %d to %d are missing", prev.Seq+1, prev.Seq+1, r.seq-1)
	case !bytes.Equal(r.prevHash, prev.Hash):
		if prev.Seq == 0 {
			return "prev_hash of the first event is not zero"
		}
		return fmt.Sprintf("prev_hash does not match the hash of event %d", prev.Seq)
	case !bytes.Equal(r.computeHash(), r.hash):
		return "hash does not match the event's content: the row was altered"
	}
	return ""
}
