package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TxOptions names the row-level-security settings of a transaction. Each
// non-empty field is set with set_config(..., true), so it lasts only until
// the transaction ends.
type TxOptions struct {
	// OrgID sets app.org_id: the organisation whose tenant rows are visible.
	OrgID string
	// UserID sets app.user_id: the user whose own memberships are visible.
	UserID string
	// SecretHash sets app.secret_hash: the SHA-256 of an invitation token or
	// API key, making that one row visible to whoever holds the secret.
	SecretHash []byte
}

// InTx runs fn in a transaction on pool, committing when fn returns nil and
// rolling back otherwise. Errors are translated with Translate.
func InTx(ctx context.Context, pool *pgxpool.Pool, opts TxOptions, fn func(pgx.Tx) error) error {
	begin, together := beginWithSettings(opts)
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{BeginQuery: begin}, func(tx pgx.Tx) error {
		if !together && (opts.OrgID != "" || opts.UserID != "" || len(opts.SecretHash) > 0) {
			if _, err := tx.Exec(ctx, settingsSQL, opts.OrgID, opts.UserID, hex.EncodeToString(opts.SecretHash)); err != nil {
				return err
			}
		}
		return fn(tx)
	})
	return Translate(err)
}

// beginWithSettings returns the statements that begin a transaction and
// make opts' settings for it, sent as one simple query: one round trip
// where BEGIN and then settingsSQL would be two, on every write. The
// settings go in as literals, so only values that can hold no quote are
// put there: IDs in UUID form (gw.ValidID) and the hash in hex. For any
// other ID it returns ("", false): a plain BEGIN, with settingsSQL and its
// parameters after it.
func beginWithSettings(opts TxOptions) (string, bool) {
	if opts.OrgID == "" && opts.UserID == "" && len(opts.SecretHash) == 0 {
		return "", false
	}
	for _, id := range []string{opts.OrgID, opts.UserID} {
		if id != "" && !gw.ValidID(id) {
			return "", false
		}
	}
	return fmt.Sprintf(`BEGIN; SELECT set_config('app.org_id', '%s', true), set_config('app.user_id', '%s', true), `+
		`set_config('app.secret_hash', '%s', true)`, opts.OrgID, opts.UserID, hex.EncodeToString(opts.SecretHash)), true
}

// InOrgTx runs fn in a transaction that sees only orgID's tenant rows.
func InOrgTx(ctx context.Context, pool *pgxpool.Pool, orgID string, fn func(pgx.Tx) error) error {
	if orgID == "" {
		return gw.Errorf(gw.EFORBIDDEN, "no organisation selected")
	}
	return InTx(ctx, pool, TxOptions{OrgID: orgID}, fn)
}

// Translate maps PostgreSQL and pgx errors to kernel errors: no rows is
// ENOTFOUND, a unique violation ECONFLICT, a check, not-null or foreign-key
// violation or malformed value EINVALID, a row-level-security refusal
// ENOTFOUND (the row is not visible to the caller), a server that cannot be
// reached or went away EUNAVAILABLE (ErrUnavailable, still wrapping the
// cause). Kernel errors and nil pass through; anything else is wrapped as
// is (internal).
func Translate(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*gw.Error](err); ok {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return gw.Errorf(gw.ENOTFOUND, "not found")
	}
	if Unavailable(err) {
		// Both: the kernel code for the caller, the cause for the log.
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	if !ok {
		return err
	}
	switch pgErr.Code {
	case pgerrcode.UniqueViolation:
		return gw.Errorf(gw.ECONFLICT, "already exists")
	case pgerrcode.CheckViolation, pgerrcode.NotNullViolation, pgerrcode.ForeignKeyViolation,
		pgerrcode.InvalidTextRepresentation, pgerrcode.StringDataRightTruncationDataException,
		pgerrcode.NumericValueOutOfRange, pgerrcode.InvalidParameterValue,
		// Text with NUL or bytes that are not UTF-8 (the web layer refuses
		// it first; this keeps any other path from answering 500).
		pgerrcode.CharacterNotInRepertoire, pgerrcode.UntranslatableCharacter:
		return gw.Errorf(gw.EINVALID, "invalid value")
	case pgerrcode.InsufficientPrivilege:
		// A row-level-security refusal: the row is not the caller's to see.
		if strings.Contains(pgErr.Message, "row-level security") {
			return gw.Errorf(gw.ENOTFOUND, "not found")
		}
	}
	return fmt.Errorf("database: %w", err)
}

// LockTx takes the transaction-level advisory lock (space, hashtext(key))
// in a statement of its own, held until tx ends: at READ COMMITTED, what tx
// reads after it includes everything committed by the holders before it.
// Keys whose hashes collide merely queue behind each other.
func LockTx(ctx context.Context, tx pgx.Tx, space int32, key string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, space, key)
	return err
}
