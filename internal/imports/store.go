package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// The SQL of the module. Every statement names org_id, although row-level
// security already limits it to the organisation in app.org_id.

const importColumns = `id::text, org_id::text, actor_user_id, actor_api_key_id, mode, file_name, bytes, status,
	bytes_read, lines_done, rows_total, rows_imported, rows_rejected, rejected, error, created_at, started_at, finished_at`

func errNotFound() error { return gw.Errorf(gw.ENOTFOUND, "Import not found.") }

// state is an import as its job sees it: the row, with the line it reached.
type state struct {
	Import
	linesDone int64
}

func scanImport(row pgx.Row) (state, error) {
	var s state
	var rejected []byte
	err := row.Scan(&s.ID, &s.OrgID, &s.UserID, &s.APIKeyID, &s.Mode, &s.FileName, &s.Bytes, &s.Status,
		&s.BytesRead, &s.linesDone, &s.RowsTotal, &s.RowsImported, &s.RowsRejected, &rejected, &s.Error,
		&s.CreatedAt, &s.StartedAt, &s.FinishedAt)
	if err != nil {
		return state{}, err
	}
	if err := json.Unmarshal(rejected, &s.Rejected); err != nil {
		return state{}, fmt.Errorf("decode import report: %w", err)
	}
	s.CreatedAt = s.CreatedAt.UTC()
	for _, t := range []**time.Time{&s.StartedAt, &s.FinishedAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return s, nil
}

// insertImport inserts i as queued, unless its organisation already has an
// active import: then it returns false.
func insertImport(ctx context.Context, tx pgx.Tx, i Import) (bool, error) {
	tag, err := tx.Exec(ctx, `
		INSERT INTO imports (org_id, id, actor_user_id, actor_api_key_id, mode, file_name, bytes, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8)
		ON CONFLICT (org_id) WHERE status IN ('queued', 'running') DO NOTHING`,
		i.OrgID, i.ID, i.UserID, i.APIKeyID, i.Mode, i.FileName, i.Bytes, i.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("insert import: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// getImport returns import id of orgID, or ENOTFOUND.
func getImport(ctx context.Context, q postgres.Queryer, orgID, id string) (state, error) {
	rows, err := q.Query(ctx, `SELECT `+importColumns+` FROM imports WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return state{}, fmt.Errorf("select import: %w", err)
	}
	s, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (state, error) { return scanImport(r) })
	if errors.Is(err, pgx.ErrNoRows) {
		return state{}, errNotFound()
	}
	if err != nil {
		return state{}, fmt.Errorf("select import: %w", err)
	}
	return s, nil
}

// listImports returns orgID's newest limit imports, newest first, without
// their reports.
func listImports(ctx context.Context, q postgres.Queryer, orgID string, limit int) ([]Import, error) {
	// Without their reports: a list shows counts.
	cols := strings.Replace(importColumns, " rejected,", " '[]'::jsonb,", 1)
	rows, err := q.Query(ctx, `SELECT `+cols+` FROM imports WHERE org_id = $1 ORDER BY id DESC LIMIT $2`,
		orgID, limit)
	if err != nil {
		return nil, fmt.Errorf("list imports: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Import, error) {
		s, err := scanImport(r)
		return s.Import, err
	})
	if err != nil {
		return nil, fmt.Errorf("list imports: %w", err)
	}
	return list, nil
}

// startImport marks import id running for attempt and returns it; ok is
// false when it is no longer active.
func startImport(ctx context.Context, tx pgx.Tx, orgID, id string, attempt int, now time.Time) (s state, ok bool, err error) {
	row := tx.QueryRow(ctx, `UPDATE imports SET status = 'running', started_at = COALESCE(started_at, $3), attempts = $4
		WHERE org_id = $1 AND id = $2 AND status IN ('queued', 'running')
		RETURNING `+importColumns, orgID, id, now, attempt)
	s, err = scanImport(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, fmt.Errorf("start import: %w", err)
	}
	return s, true, nil
}

// recordBatch records a committed batch of a running import: the line it
// reached, the bytes read, the rows imported and rejected (the rejections
// appended to the report up to maxReported).
func recordBatch(ctx context.Context, tx pgx.Tx, orgID, id string, line, bytesRead, total int64, imported int, rejected []Rejection, rejectedCount int) error {
	if rejected == nil {
		rejected = []Rejection{}
	}
	b, err := json.Marshal(rejected)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE imports SET lines_done = $3, bytes_read = $4, rows_total = $5,
			rows_imported = rows_imported + $6, rows_rejected = rows_rejected + $8,
			rejected = CASE WHEN jsonb_array_length(rejected) >= $9 THEN rejected
				ELSE (SELECT COALESCE(jsonb_agg(e ORDER BY n), '[]') FROM jsonb_array_elements(rejected || $7::jsonb)
					WITH ORDINALITY AS x(e, n) WHERE n <= $9) END
		WHERE org_id = $1 AND id = $2 AND status = 'running'`,
		orgID, id, line, bytesRead, total, imported, b, rejectedCount, maxReported)
	if err != nil {
		return fmt.Errorf("record import progress: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("record import progress: import %s is no longer running", id)
	}
	return nil
}

// finishImport marks a running import succeeded, or failed with msg (and,
// when rejected is not nil, that report and count in place of the one
// recorded).
func finishImport(ctx context.Context, tx pgx.Tx, orgID, id, status, msg string, total int64, rejected []Rejection, rejectedCount int64, now time.Time) error {
	var report []byte
	if rejected != nil {
		var err error
		if report, err = json.Marshal(rejected); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `UPDATE imports SET status = $3, error = $4, finished_at = $5, bytes_read = bytes,
			rows_total = GREATEST(rows_total, $6),
			rejected = COALESCE($7::jsonb, rejected), rows_rejected = CASE WHEN $7::jsonb IS NULL THEN rows_rejected ELSE $8 END
		WHERE org_id = $1 AND id = $2 AND status = 'running'`, orgID, id, status, msg, now, total, report, rejectedCount)
	if err != nil {
		return fmt.Errorf("finish import: %w", err)
	}
	return nil
}

// abandonImport marks import id of orgID failed with msg if it is still
// queued or running (its job will then find nothing to do).
func abandonImport(ctx context.Context, tx pgx.Tx, orgID, id, msg string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE imports SET status = 'failed', error = $3, finished_at = $4
		WHERE org_id = $1 AND id = $2 AND status IN ('queued', 'running')`, orgID, id, msg, now)
	if err != nil {
		return fmt.Errorf("abandon import: %w", err)
	}
	return nil
}
