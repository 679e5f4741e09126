package exports

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Read replica: with Config.Replica, an export reads its data (the
// snapshot its batches come from) on the replica, as the runtime role
// under row-level security like on the primary, while the replica lags by
// at most its MaxLag; otherwise from the exports' own pool on the primary,
// saying why on the export (ReadFrom) and in the log. Progress, status
// and everything written stay on the primary: a replica is read-only.

// Where an export read its data (Export.ReadFrom).
const (
	ReadFromPrimary = "primary"
	ReadFromReplica = "replica"
)

// readPool returns the pool e's data is to be read from, and records
// the choice on e's row.
func (s *Service) readPool(ctx context.Context, e Export) (*pgxpool.Pool, error) {
	pool, from := s.exportPool, ReadFromPrimary
	if r := s.cfg.Replica; r != nil {
		fresh, lag, err := r.Fresh(ctx)
		switch {
		case err != nil:
			from = "primary: replica unavailable"
			s.logger.Warn("export reads from the primary: replica unavailable", "org_id", e.OrgID, "export_id", e.ID,
				"error", err.Error())
		case !fresh:
			from = fmt.Sprintf("primary: replica lagging %s", lag.Round(time.Second))
			s.logger.Warn("export reads from the primary: replica lagging", "org_id", e.OrgID, "export_id", e.ID,
				"lag_seconds", lag.Seconds(), "max_lag_seconds", r.MaxLag.Seconds())
		default:
			pool, from = r.Pool, ReadFromReplica
		}
	}
	err := postgres.InOrgTx(ctx, s.exportPool, e.OrgID, func(tx pgx.Tx) error {
		return setReadFrom(ctx, tx, e.OrgID, e.ID, e.attempt, from)
	})
	if err != nil {
		return nil, err
	}
	return pool, nil
}
