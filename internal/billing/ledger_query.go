package billing

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// LedgerEvent is one row of the webhook ledger, as operators see it.
type LedgerEvent struct {
	ID, Type    string
	Created     time.Time // when Stripe created the event
	ReceivedAt  time.Time
	ProcessedAt *time.Time // nil until processed
	Attempts    int
	LastError   string
	OrgID       string // "" until resolved
}

// LedgerFilter selects ledger rows.
type LedgerFilter struct {
	// Unprocessed keeps the rows not processed yet (failed or waiting).
	Unprocessed bool
	// Limit caps the rows returned, newest first; zero or less is 100.
	Limit int
}

// ListLedger returns ledger rows, newest first: what failed, what waits, and
// why (LastError), for `groundwork billing events`. The ledger is global
// (no row-level security), so pool may be the runtime role's.
func ListLedger(ctx context.Context, pool *pgxpool.Pool, f LedgerFilter) ([]LedgerEvent, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	return ledgerEvents(ctx, pool, f.Unprocessed, f.Limit)
}
