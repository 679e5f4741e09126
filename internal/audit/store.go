package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// The SQL of the package. Org chains live in audit_events under row-level
// security (the caller's transaction names the organisation); account
// chains in account_audit_events.

// table names the table and chain column of a kind of chain.
type table struct{ name, chainCol string }

func tableOf(kind string) table {
	if kind == kindAccount {
		return table{"account_audit_events", "user_id"}
	}
	return table{"audit_events", "org_id"}
}

// lockSpace is the first key of the advisory locks that serialise appends
// to a chain ("audt"); the second is hashtext of the chain's kind and ID.
// Two chains whose hashes collide merely queue behind each other.
const lockSpace int32 = 0x61756474

// insertQuery inserts a row of table t, sealed (seq, prev_hash and hash
// set) or not (NULL).
func insertQuery(t table) string {
	return `INSERT INTO ` + t.name + ` (` + t.chainCol + `, seq, id, occurred_at, actor_user_id, actor_api_key_id,
			action, target_type, target_id, ip, user_agent, request_id, before, after, prev_hash, hash)
		VALUES ($1, NULLIF($2, 0), $3, $4, NULLIF($5, '')::uuid, NULLIF($6, '')::uuid,
			$7, $8, $9, $10, $11, $12, NULLIF($13, '')::jsonb, NULLIF($14, '')::jsonb, $15, $16)`
}

// insertArgs are insertQuery's arguments for r.
func insertArgs(r *row) []any {
	return []any{r.chain, r.seq, r.id, r.time, r.actorUser, r.actorKey,
		r.action, r.targetType, r.targetID, r.ip, r.userAgent, r.requestID, r.before, r.after, r.prevHash, r.hash}
}

// insertUnsealed inserts r, an organisation's event, unsealed, and queues
// it for the sealer: one round trip, no lock. Its content is final; the
// sealer only numbers and hashes it (seal.go).
func insertUnsealed(ctx context.Context, tx pgx.Tx, r *row) error {
	b := &pgx.Batch{}
	b.Queue(insertQuery(tableOf(kindOrg)), insertArgs(r)...)
	b.Queue(`INSERT INTO audit_unsealed (chain_id, id) VALUES ($1, $2)`, r.chain, r.id)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

// appendRow appends r, an account's event, to its chain: it locks the
// chain until the transaction ends, reads its head, numbers and hashes r
// after it, and inserts it. The lock is taken in a statement of its own,
// before the head is read: at READ COMMITTED the next statement's snapshot
// then sees every append committed before the lock was granted. Two round
// trips: the lock, the head and the JSON normalisation go as one batch,
// the insert as another.
func appendRow(ctx context.Context, tx pgx.Tx, r *row) error {
	t := tableOf(r.kind)
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockSpace, r.kind+":"+r.chain)
	b.Queue(`SELECT seq, hash FROM `+t.name+` WHERE `+t.chainCol+` = $1 ORDER BY seq DESC LIMIT 1`, r.chain)
	b.Queue(`SELECT $1::text::jsonb::text, $2::text::jsonb::text`, nullIfEmpty(r.before), nullIfEmpty(r.after))
	br := tx.SendBatch(ctx, b)
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("lock chain: %w", err)
		}
		err := br.QueryRow().Scan(&r.seq, &r.prevHash)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			r.seq, r.prevHash = 0, zeroHash
		case err != nil:
			return fmt.Errorf("read chain head: %w", err)
		}
		var before, after *string
		if err := br.QueryRow().Scan(&before, &after); err != nil {
			return fmt.Errorf("normalise values: %w", err)
		}
		r.before, r.after = deref(before), deref(after)
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	r.seq++
	r.hash = r.computeHash()
	if _, err := tx.Exec(ctx, insertQuery(t), insertArgs(r)...); err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// rowColumns are the columns rowScanTargets reads, after the chain column.
const rowColumns = `coalesce(seq, 0), id::text, occurred_at, coalesce(actor_user_id::text, ''), coalesce(actor_api_key_id::text, ''),
	action, target_type, target_id, ip, user_agent, request_id,
	coalesce(before::text, ''), coalesce(after::text, ''), prev_hash, hash`

// chainRows returns up to limit rows of a chain after seq afterSeq, in
// order. An org chain needs app.org_id set to it.
func chainRows(ctx context.Context, tx pgx.Tx, kind, chain string, afterSeq int64, limit int) ([]row, error) {
	t := tableOf(kind)
	rows, _ := tx.Query(ctx, `SELECT `+t.chainCol+`::text, `+rowColumns+` FROM `+t.name+`
		WHERE `+t.chainCol+` = $1 AND seq > $2 ORDER BY seq LIMIT $3`, chain, afterSeq, limit)
	return pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
		r := row{kind: kind}
		var chainID string
		err := cr.Scan(append([]any{&chainID}, rowScanTargets(&r)...)...)
		r.chain = chainID
		r.time = r.time.UTC()
		return r, err
	})
}

// rowScanTargets are the scan targets of rowColumns in r.
func rowScanTargets(r *row) []any {
	return []any{&r.seq, &r.id, &r.time, &r.actorUser, &r.actorKey,
		&r.action, &r.targetType, &r.targetID, &r.ip, &r.userAgent, &r.requestID,
		&r.before, &r.after, &r.prevHash, &r.hash}
}

// orgChains lists the organisations with a chain: a sealed event, or one
// waiting to be sealed.
func orgChains(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, _ := tx.Query(ctx, `SELECT chain_id::text FROM audit_chains
		UNION SELECT chain_id::text FROM audit_unsealed ORDER BY 1`)
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// accountChains lists the users with a chain.
func accountChains(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, _ := tx.Query(ctx, `SELECT DISTINCT user_id::text FROM account_audit_events ORDER BY 1`)
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// listFilter is a checked ListParams.
type listFilter struct {
	before       string     // ids below this one
	actor        *string    // a user or API key ID
	action       string     // exact action; "" for any
	actionPrefix string     // action prefix (for "contact.*"); "" for none
	since, until *time.Time // occurred_at >= since, < until
	limit        int
}

// listEvents returns up to f.limit events of orgID matching f, newest (by
// id) first.
func listEvents(ctx context.Context, q postgres.Queryer, orgID string, f listFilter) ([]Entry, error) {
	rows, err := q.Query(ctx, `SELECT org_id::text, `+rowColumns+` FROM audit_events
		WHERE org_id = $1 AND id < $2
		  AND ($3::uuid IS NULL OR actor_user_id = $3::uuid OR actor_api_key_id = $3::uuid)
		  AND ($4 = '' OR action = $4)
		  AND ($5 = '' OR starts_with(action, $5))
		  AND ($6::timestamptz IS NULL OR occurred_at >= $6)
		  AND ($7::timestamptz IS NULL OR occurred_at < $7)
		ORDER BY id DESC
		LIMIT $8`, orgID, f.before, f.actor, f.action, f.actionPrefix, f.since, f.until, f.limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(cr pgx.CollectableRow) (Entry, error) {
		var r row
		var org string
		if err := cr.Scan(append([]any{&org}, rowScanTargets(&r)...)...); err != nil {
			return Entry{}, err
		}
		return r.entry(org), nil
	})
}

// SignedInBefore reports whether userID's account chain records a sign-in
// from a new device with this IP and user agent (as Record keeps them,
// truncated): that device is then known. The account module calls it in
// the transaction that records a sign-in.
func SignedInBefore(ctx context.Context, tx pgx.Tx, userID, ip, userAgent string) (bool, error) {
	var known bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM account_audit_events
		WHERE user_id = $1 AND action = $2 AND ip = $3 AND user_agent = $4)`,
		userID, ActionSignInNewDevice, truncate(ip, maxIPLen), truncate(userAgent, maxUserAgentLen)).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("look up known devices: %w", err)
	}
	return known, nil
}

// exportEvents calls fn with each event of orgID, oldest (by id) first,
// as one statement streams them.
func exportEvents(ctx context.Context, tx pgx.Tx, orgID string, fn func(Entry) error) error {
	rows, err := tx.Query(ctx, `SELECT org_id::text, `+rowColumns+` FROM audit_events
		WHERE org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r row
	var org string
	targets := append([]any{&org}, rowScanTargets(&r)...)
	for rows.Next() {
		r = row{}
		if err := rows.Scan(targets...); err != nil {
			return err
		}
		if err := fn(r.entry(org)); err != nil {
			return err
		}
	}
	return rows.Err()
}

// countEvents counts orgID's events.
func countEvents(ctx context.Context, tx pgx.Tx, orgID string) (int64, error) {
	var n int64
	err := tx.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE org_id = $1`, orgID).Scan(&n)
	return n, err
}
