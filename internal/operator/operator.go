// Package operator is the platform's staff: users who may open the operator
// console (/ops), kept apart from organisation roles. An operator is granted
// and revoked from the command line ("groundwork operator grant EMAIL");
// the console additionally requires two-factor authentication, checked by
// the web layer.
//
// Every grant, revocation and console action is audited. The audit log has
// an organisation chain per tenant and an account chain per user; operator
// actions belong to no organisation, so they are appended to an account
// chain: grants and revocations to the grantee's, console use to the
// operator's own. They get the same hash-chain tamper evidence and the same
// "groundwork audit verify" as every other account event, without a table
// of their own.
package operator

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Operator is one member of the platform's staff.
type Operator struct {
	// UserID and Email name the user.
	UserID, Email string
	// TwoFactor says whether the user has two-factor authentication on;
	// the console refuses an operator without it.
	TwoFactor bool
	// GrantedAt is when the grant was made, GrantedBy who made it.
	GrantedAt time.Time
	GrantedBy string
}

// Service grants, revokes, lists and checks operators, and audits what
// they do.
type Service struct {
	pool  *pgxpool.Pool
	clock gw.Clock
}

// NewService returns a Service on pool (the runtime role's). A nil clock is
// the system clock.
func NewService(pool *pgxpool.Pool, clock gw.Clock) *Service {
	if clock == nil {
		clock = gw.SystemClock{}
	}
	return &Service{pool: pool, clock: clock}
}

// Grant makes the user with email an operator; by says who granted it (the
// command line's -by, or the OS user). Granting an operator again changes
// nothing and records nothing. Errors: ENOTFOUND for no such user.
func (s *Service) Grant(ctx context.Context, email, by string) (Operator, error) {
	var op Operator
	err := postgres.InTx(ctx, s.pool, postgres.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		if op, err = userByEmail(ctx, tx, email); err != nil {
			return err
		}
		now := s.clock.Now().UTC().Truncate(time.Microsecond)
		tag, err := tx.Exec(ctx, `INSERT INTO operators (user_id, granted_at, granted_by) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO NOTHING`, op.UserID, now, by)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return tx.QueryRow(ctx, `SELECT granted_at, granted_by FROM operators WHERE user_id = $1`, op.UserID).
				Scan(&op.GrantedAt, &op.GrantedBy)
		}
		op.GrantedAt, op.GrantedBy = now, by
		return audit.Record(ctx, tx, audit.Event{AccountID: op.UserID, Action: audit.ActionOperatorGranted,
			TargetType: audit.TargetOperator, TargetID: op.UserID, After: map[string]any{"operator": true, "by": by}, Time: now})
	})
	return op, err
}

// Revoke takes operator rights from the user with email. Errors: ENOTFOUND
// for no such user or a user who is not an operator.
func (s *Service) Revoke(ctx context.Context, email, by string) error {
	return postgres.InTx(ctx, s.pool, postgres.TxOptions{}, func(tx pgx.Tx) error {
		op, err := userByEmail(ctx, tx, email)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM operators WHERE user_id = $1`, op.UserID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return gw.Errorf(gw.ENOTFOUND, "%s is not an operator.", op.Email)
		}
		return audit.Record(ctx, tx, audit.Event{AccountID: op.UserID, Action: audit.ActionOperatorRevoked,
			TargetType: audit.TargetOperator, TargetID: op.UserID, Before: map[string]any{"operator": true},
			After: map[string]any{"operator": false, "by": by}, Time: s.clock.Now()})
	})
}

// List returns every operator, by email.
func (s *Service) List(ctx context.Context) ([]Operator, error) {
	rows, err := s.pool.Query(ctx, `SELECT u.id::text, u.email, u.totp_enabled_at IS NOT NULL, o.granted_at, o.granted_by
		FROM operators o JOIN users u ON u.id = o.user_id ORDER BY lower(u.email)`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	ops, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Operator, error) {
		var o Operator
		err := r.Scan(&o.UserID, &o.Email, &o.TwoFactor, &o.GrantedAt, &o.GrantedBy)
		return o, err
	})
	return ops, postgres.Translate(err)
}

// IsOperator reports whether userID is an operator.
func (s *Service) IsOperator(ctx context.Context, userID string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM operators WHERE user_id = $1::uuid)`, userID).Scan(&ok)
	return ok, postgres.Translate(err)
}

// Action is one use of the console to audit.
type Action struct {
	// UserID is the operator.
	UserID string
	// Method and Path are the request's; a GET is recorded as
	// operator.viewed, anything else as operator.acted.
	Method, Path string
}

// Record audits a, in the operator's account chain, with the request's IP,
// user agent and request ID from ctx.
func (s *Service) Record(ctx context.Context, a Action) error {
	action := audit.ActionOperatorActed
	if a.Method == "GET" || a.Method == "HEAD" {
		action = audit.ActionOperatorViewed
	}
	return postgres.InTx(ctx, s.pool, postgres.TxOptions{}, func(tx pgx.Tx) error {
		return audit.Record(ctx, tx, audit.Event{AccountID: a.UserID, Actor: gw.Actor{UserID: a.UserID},
			Action: action, TargetType: audit.TargetOpsPage, TargetID: a.Method + " " + a.Path, Time: s.clock.Now()})
	})
}

// Events returns the newest limit operator events of userID's chain, newest
// first (for the console's own audit list and tests).
func (s *Service) Events(ctx context.Context, userID string, limit int) ([]audit.Entry, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text, occurred_at, coalesce(actor_user_id::text, ''), action, target_type, target_id, request_id
		FROM account_audit_events WHERE user_id = $1::uuid AND action LIKE 'operator.%' ORDER BY seq DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Entry, error) {
		var e audit.Entry
		err := r.Scan(&e.ID, &e.Time, &e.Actor.UserID, &e.Action, &e.TargetType, &e.TargetID, &e.RequestID)
		return e, err
	})
	return es, postgres.Translate(err)
}

// userByEmail finds the user with email, in any case. Errors: ENOTFOUND.
func userByEmail(ctx context.Context, tx pgx.Tx, email string) (Operator, error) {
	var op Operator
	err := tx.QueryRow(ctx, `SELECT id::text, email, totp_enabled_at IS NOT NULL FROM users WHERE lower(email) = $1`,
		strings.ToLower(strings.TrimSpace(email))).Scan(&op.UserID, &op.Email, &op.TwoFactor)
	if errors.Is(err, pgx.ErrNoRows) {
		return op, gw.Errorf(gw.ENOTFOUND, "No user %s.", email)
	}
	return op, postgres.Translate(err)
}
