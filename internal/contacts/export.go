package contacts

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// MinID is the smallest UUID: an export's first batch reads the contacts
// above it.
const MinID = "00000000-0000-0000-0000-000000000000"

// ExportBatch returns up to limit of orgID's contacts with an id above after
// (MinID for the first batch), in id order, with email and phone
// decrypted: the customer owns them. It is for internal/exports, which has
// checked the requester's permission (authz.ExportsManage) when the export
// was requested; tx must see orgID (app.org_id) and is typically a
// REPEATABLE READ snapshot on the exports' own pool, so that every batch
// reads the same moment.
func (s *Service) ExportBatch(ctx context.Context, tx pgx.Tx, orgID, after string, limit int) ([]Contact, error) {
	return exportBatch(ctx, tx, s.keys, orgID, after, limit)
}

// ExportCount counts orgID's contacts in tx (which must see orgID): an
// export's estimate of the rows it will write.
func (s *Service) ExportCount(ctx context.Context, tx pgx.Tx, orgID string) (int64, error) {
	n, err := countContacts(ctx, tx, orgID)
	return int64(n), err
}
