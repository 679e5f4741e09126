package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// The audit log records every create, update and delete of a contact, with
// the values before and after. Email and phone are personal data the
// database keeps encrypted: the log shows only whether they were set and
// whether they changed ("[redacted]" or "").

// lockedContact returns contact id of orgID, locked until tx ends, so that
// the values recorded as "before" are those the change replaces.
func (s *Service) lockedContact(ctx context.Context, tx pgx.Tx, orgID, id string) (Contact, error) {
	if _, err := tx.Exec(ctx, `SELECT FROM contacts WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id); err != nil {
		return Contact{}, fmt.Errorf("lock contact: %w", err)
	}
	return getContact(ctx, tx, s.keys, orgID, id)
}

// auditValues are c's fields as the audit log records them.
func auditValues(c Contact) map[string]any {
	return map[string]any{"name": c.Name, "email": audit.Redact(c.Email), "phone": audit.Redact(c.Phone),
		"company": c.Company, "tags": c.Tags, "custom": c.Custom}
}

// auditChanges returns the audit values of the fields that differ between
// before and after, on each side; empty maps when none does.
func auditChanges(before, after Contact) (map[string]any, map[string]any) {
	b, a := map[string]any{}, map[string]any{}
	bv, av := auditValues(before), auditValues(after)
	changed := map[string]bool{
		"name": before.Name != after.Name, "email": before.Email != after.Email, "phone": before.Phone != after.Phone,
		"company": before.Company != after.Company, "tags": !slices.Equal(before.Tags, after.Tags),
		"custom": !sameJSON(before.Custom, after.Custom),
	}
	for k, ch := range changed {
		if ch {
			b[k], a[k] = bv[k], av[k]
		}
	}
	return b, a
}

func sameJSON(x, y any) bool {
	bx, errx := json.Marshal(x)
	by, erry := json.Marshal(y)
	return errx == nil && erry == nil && string(bx) == string(by)
}

// recordContact appends a contact event of the scope's organisation to its
// audit chain, in tx.
func recordContact(ctx context.Context, tx pgx.Tx, scope gw.Scope, action, id string, before, after map[string]any) error {
	e := audit.Event{OrgID: scope.OrgID, Actor: scope.Actor, Action: action, TargetType: audit.TargetContact, TargetID: id}
	if before != nil {
		e.Before = before
	}
	if after != nil {
		e.After = after
	}
	return audit.Record(ctx, tx, e)
}
