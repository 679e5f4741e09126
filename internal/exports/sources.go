package exports

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/org"
)

// ContactSource is what an export needs of the contacts module
// (*contacts.Service).
type ContactSource interface {
	ExportEach(ctx context.Context, tx pgx.Tx, orgID string, fn func(*contacts.ExportRow) error) error
	ExportCount(ctx context.Context, tx pgx.Tx, orgID string) (int64, error)
}

// MemberSource is what an export needs of the org module (*org.Service).
type MemberSource interface {
	ExportMembers(ctx context.Context, tx pgx.Tx, orgID string) ([]org.Member, error)
}

// AuditSource is what an export needs of the audit log (*audit.Service).
type AuditSource interface {
	ExportEach(ctx context.Context, tx pgx.Tx, orgID string, fn func(audit.Entry) error) error
	ExportCount(ctx context.Context, tx pgx.Tx, orgID string) (int64, error)
}

// Sources are the modules an export reads.
type Sources struct {
	Contacts ContactSource
	Members  MemberSource
	Audit    AuditSource
}

// table is one exportable table: its columns, its row count, and its rows.
type table struct {
	columns []string
	count   func(ctx context.Context, tx pgx.Tx, orgID string) (int64, error)
	// rows writes every row in order with enc, each ended by enc.end.
	rows func(ctx context.Context, tx pgx.Tx, orgID string, enc *encoder) error
}

// tableOf returns the definition of table name.
func (s Sources) tableOf(name string) table {
	switch name {
	case TableContacts:
		return table{
			columns: []string{"id", "name", "email", "phone", "company", "tags", "custom", "created_at", "updated_at"},
			count:   s.Contacts.ExportCount,
			rows: func(ctx context.Context, tx pgx.Tx, orgID string, enc *encoder) error {
				return s.Contacts.ExportEach(ctx, tx, orgID, func(c *contacts.ExportRow) error {
					enc.text(c.ID)
					enc.text(c.Name)
					enc.text(c.Email)
					enc.text(c.Phone)
					enc.text(c.Company)
					enc.strList(c.Tags)
					if err := enc.json(c.Custom); err != nil {
						return err
					}
					enc.time(c.CreatedAt)
					enc.time(c.UpdatedAt)
					return enc.end()
				})
			},
		}
	case TableMembers:
		return table{
			columns: []string{"user_id", "email", "role", "two_factor", "joined_at"},
			count: func(ctx context.Context, tx pgx.Tx, orgID string) (int64, error) {
				list, err := s.Members.ExportMembers(ctx, tx, orgID)
				return int64(len(list)), err
			},
			rows: func(ctx context.Context, tx pgx.Tx, orgID string, enc *encoder) error {
				list, err := s.Members.ExportMembers(ctx, tx, orgID)
				if err != nil {
					return err
				}
				for _, m := range list {
					enc.str(m.UserID)
					enc.str(m.Email)
					enc.str(string(m.Role))
					enc.bool(m.TwoFactor)
					enc.time(m.JoinedAt)
					if err := enc.end(); err != nil {
						return err
					}
				}
				return nil
			},
		}
	default: // TableAuditEvents
		return table{
			columns: []string{"id", "seq", "occurred_at", "actor_user_id", "actor_api_key_id", "action",
				"target_type", "target_id", "ip", "user_agent", "request_id", "before", "after", "hash"},
			count: s.Audit.ExportCount,
			rows: func(ctx context.Context, tx pgx.Tx, orgID string, enc *encoder) error {
				return s.Audit.ExportEach(ctx, tx, orgID, func(e audit.Entry) error {
					enc.str(e.ID)
					enc.int(e.Seq)
					enc.time(e.Time)
					enc.str(e.Actor.UserID)
					enc.str(e.Actor.APIKeyID)
					enc.str(e.Action)
					enc.str(e.TargetType)
					enc.str(e.TargetID)
					enc.str(e.IP)
					enc.str(e.UserAgent)
					enc.str(e.RequestID)
					if err := enc.json(e.Before); err != nil {
						return err
					}
					if err := enc.json(e.After); err != nil {
						return err
					}
					enc.hex(e.Hash)
					return enc.end()
				})
			},
		}
	}
}
