package org

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// record appends an event of the scope's organisation to its audit chain,
// in tx: the event commits or rolls back with the change it records.
// before and after are the changed values (nil for none).
func record(ctx context.Context, tx pgx.Tx, scope gw.Scope, action, targetType, targetID string, before, after any) error {
	return audit.Record(ctx, tx, audit.Event{OrgID: scope.OrgID, Actor: scope.Actor, Action: action,
		TargetType: targetType, TargetID: targetID, Before: before, After: after})
}

// roleValues is a member's role as audit values.
func roleValues(role gw.Role) map[string]any { return map[string]any{"role": role} }
