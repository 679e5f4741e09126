package org

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ExportMembers lists orgID's members in tx, which must see orgID
// (app.org_id): the members table of an export (internal/exports, which
// checked authz.ExportsManage when the export was requested). An
// organisation's members are few (its plan's seats), so they come in one
// piece.
func (s *Service) ExportMembers(ctx context.Context, tx pgx.Tx, orgID string) ([]Member, error) {
	list, err := listMembers(ctx, tx, orgID)
	if err != nil {
		return nil, fmt.Errorf("export members: %w", err)
	}
	return list, nil
}

// ExportAPIKeys lists orgID's API keys, live and revoked, in tx, which
// must see orgID (app.org_id): an export schedule set through the API runs
// in its key's name only while that key is live and strong enough
// (internal/exports).
func (s *Service) ExportAPIKeys(ctx context.Context, tx pgx.Tx, orgID string) ([]APIKey, error) {
	list, err := listAPIKeys(ctx, tx, orgID)
	if err != nil {
		return nil, fmt.Errorf("export API keys: %w", err)
	}
	return list, nil
}
