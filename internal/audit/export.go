package audit

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ExportEach calls fn with each of orgID's events, oldest (by id) first,
// read with one statement in tx (which must see orgID, app.org_id); an
// error from fn stops it and is returned. It is for internal/exports,
// which checked authz.ExportsManage when the export was requested.
func (s *Service) ExportEach(ctx context.Context, tx pgx.Tx, orgID string, fn func(Entry) error) error {
	if err := exportEvents(ctx, tx, orgID, fn); err != nil {
		return fmt.Errorf("export audit events: %w", err)
	}
	return nil
}

// ExportCount counts orgID's events in tx (which must see orgID).
func (s *Service) ExportCount(ctx context.Context, tx pgx.Tx, orgID string) (int64, error) {
	n, err := countEvents(ctx, tx, orgID)
	if err != nil {
		return 0, fmt.Errorf("count audit events: %w", err)
	}
	return n, nil
}
