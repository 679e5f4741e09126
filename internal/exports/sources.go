package exports

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/org"
)

// batchSize is how many rows an export reads per statement: small enough
// for flat memory and short statements, large enough that round trips do
// not dominate.
const batchSize = 2000

// ContactSource is what an export needs of the contacts module
// (*contacts.Service).
type ContactSource interface {
	ExportBatch(ctx context.Context, tx pgx.Tx, orgID, after string, limit int) ([]contacts.Contact, error)
	ExportCount(ctx context.Context, tx pgx.Tx, orgID string) (int64, error)
}

// MemberSource is what an export needs of the org module (*org.Service).
type MemberSource interface {
	ExportMembers(ctx context.Context, tx pgx.Tx, orgID string) ([]org.Member, error)
}

// AuditSource is what an export needs of the audit log (*audit.Service).
type AuditSource interface {
	ExportBatch(ctx context.Context, tx pgx.Tx, orgID, after string, limit int) ([]audit.Entry, error)
	ExportCount(ctx context.Context, tx pgx.Tx, orgID string) (int64, error)
}

// Sources are the modules an export reads.
type Sources struct {
	Contacts ContactSource
	Members  MemberSource
	Audit    AuditSource
}

// table is one exportable table: its columns, its row count, and its rows
// in batches, each row's values in column order.
type table struct {
	columns []string
	count   func(ctx context.Context, tx pgx.Tx, orgID string) (int64, error)
	// batches calls emit with each batch of rows, in order.
	batches func(ctx context.Context, tx pgx.Tx, orgID string, emit func([][]any) error) error
}

// tableOf returns the definition of table name.
func (s Sources) tableOf(name string) table {
	switch name {
	case TableContacts:
		return table{
			columns: []string{"id", "name", "email", "phone", "company", "tags", "custom", "created_at", "updated_at"},
			count:   s.Contacts.ExportCount,
			batches: func(ctx context.Context, tx pgx.Tx, orgID string, emit func([][]any) error) error {
				after := contacts.MinID
				rows := make([][]any, 0, batchSize)
				for {
					list, err := s.Contacts.ExportBatch(ctx, tx, orgID, after, batchSize)
					if err != nil || len(list) == 0 {
						return err
					}
					rows = rows[:0]
					for _, c := range list {
						rows = append(rows, []any{c.ID, c.Name, c.Email, c.Phone, c.Company, c.Tags, c.Custom, c.CreatedAt, c.UpdatedAt})
					}
					if err := emit(rows); err != nil {
						return err
					}
					if len(list) < batchSize {
						return nil
					}
					after = list[len(list)-1].ID
				}
			},
		}
	case TableMembers:
		return table{
			columns: []string{"user_id", "email", "role", "two_factor", "joined_at"},
			count: func(ctx context.Context, tx pgx.Tx, orgID string) (int64, error) {
				list, err := s.Members.ExportMembers(ctx, tx, orgID)
				return int64(len(list)), err
			},
			batches: func(ctx context.Context, tx pgx.Tx, orgID string, emit func([][]any) error) error {
				list, err := s.Members.ExportMembers(ctx, tx, orgID)
				if err != nil || len(list) == 0 {
					return err
				}
				rows := make([][]any, len(list))
				for i, m := range list {
					rows[i] = []any{m.UserID, m.Email, string(m.Role), m.TwoFactor, m.JoinedAt.UTC()}
				}
				return emit(rows)
			},
		}
	default: // TableAuditEvents
		return table{
			columns: []string{"id", "seq", "occurred_at", "actor_user_id", "actor_api_key_id", "action",
				"target_type", "target_id", "ip", "user_agent", "request_id", "before", "after", "hash"},
			count: s.Audit.ExportCount,
			batches: func(ctx context.Context, tx pgx.Tx, orgID string, emit func([][]any) error) error {
				after := contacts.MinID
				rows := make([][]any, 0, batchSize)
				for {
					list, err := s.Audit.ExportBatch(ctx, tx, orgID, after, batchSize)
					if err != nil || len(list) == 0 {
						return err
					}
					rows = rows[:0]
					for _, e := range list {
						rows = append(rows, []any{e.ID, e.Seq, e.Time, e.Actor.UserID, e.Actor.APIKeyID, e.Action,
							e.TargetType, e.TargetID, e.IP, e.UserAgent, e.RequestID, rawJSON(e.Before), rawJSON(e.After),
							hexString(e.Hash)})
					}
					if err := emit(rows); err != nil {
						return err
					}
					if len(list) < batchSize {
						return nil
					}
					after = list[len(list)-1].ID
				}
			},
		}
	}
}
