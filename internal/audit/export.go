package audit

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ExportBatch returns up to limit of orgID's events with an id above after
// (the zero UUID for the first batch), oldest first: one batch of an
// export (internal/exports, which checked authz.ExportsManage when the
// export was requested). tx must see orgID (app.org_id).
func (s *Service) ExportBatch(ctx context.Context, tx pgx.Tx, orgID, after string, limit int) ([]Entry, error) {
	list, err := exportEvents(ctx, tx, orgID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("export audit events: %w", err)
	}
	return list, nil
}

// ExportCount counts orgID's events in tx (which must see orgID).
func (s *Service) ExportCount(ctx context.Context, tx pgx.Tx, orgID string) (int64, error) {
	n, err := countEvents(ctx, tx, orgID)
	if err != nil {
		return 0, fmt.Errorf("count audit events: %w", err)
	}
	return n, nil
}
