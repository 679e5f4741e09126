package exports

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

const exportColumns = `id::text, org_id::text, requested_by, format, packaging, tables, status,
	rows_written, rows_estimated, files, error, created_at, started_at, finished_at, expires_at, read_from,
	attempts, files_attempt`

func errNotFound() error { return gw.Errorf(gw.ENOTFOUND, "Export not found.") }

func scanExport(row pgx.Row) (Export, error) {
	var e Export
	var files []byte
	err := row.Scan(&e.ID, &e.OrgID, &e.RequestedBy, &e.Format, &e.Packaging, &e.Tables, &e.Status,
		&e.RowsWritten, &e.RowsEstimated, &files, &e.Error, &e.CreatedAt, &e.StartedAt, &e.FinishedAt, &e.ExpiresAt, &e.ReadFrom,
		&e.attempt, &e.filesAttempt)
	if err != nil {
		return Export{}, err
	}
	if err := json.Unmarshal(files, &e.Files); err != nil {
		return Export{}, fmt.Errorf("decode export files: %w", err)
	}
	e.CreatedAt = e.CreatedAt.UTC()
	for _, t := range []**time.Time{&e.StartedAt, &e.FinishedAt, &e.ExpiresAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return e, nil
}

// insertExport inserts e as queued, unless orgID already has an active
// export: then it returns false.
func insertExport(ctx context.Context, tx pgx.Tx, e Export) (bool, error) {
	tag, err := tx.Exec(ctx, `
		INSERT INTO exports (org_id, id, requested_by, format, packaging, tables, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7)
		ON CONFLICT (org_id) WHERE status IN ('queued', 'running') DO NOTHING`,
		e.OrgID, e.ID, e.RequestedBy, e.Format, e.Packaging, e.Tables, e.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("insert export: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// getExport returns export id of orgID, or ENOTFOUND.
func getExport(ctx context.Context, q postgres.Queryer, orgID, id string) (Export, error) {
	rows, err := q.Query(ctx, `SELECT `+exportColumns+` FROM exports WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return Export{}, fmt.Errorf("select export: %w", err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (Export, error) { return scanExport(r) })
	if errors.Is(err, pgx.ErrNoRows) {
		return Export{}, errNotFound()
	}
	if err != nil {
		return Export{}, fmt.Errorf("select export: %w", err)
	}
	return e, nil
}

// listExports returns orgID's newest limit exports, newest first.
func listExports(ctx context.Context, q postgres.Queryer, orgID string, limit int) ([]Export, error) {
	rows, err := q.Query(ctx, `SELECT `+exportColumns+` FROM exports WHERE org_id = $1 ORDER BY id DESC LIMIT $2`,
		orgID, limit)
	if err != nil {
		return nil, fmt.Errorf("list exports: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Export, error) { return scanExport(r) })
	if err != nil {
		return nil, fmt.Errorf("list exports: %w", err)
	}
	return list, nil
}

// cancelExport marks export id of orgID cancelled if it is active, and
// reports whether it was.
func cancelExport(ctx context.Context, tx pgx.Tx, orgID, id string, now time.Time) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE exports SET status = 'cancelled', finished_at = $3
		WHERE org_id = $1 AND id = $2 AND status IN ('queued', 'running')`, orgID, id, now)
	if err != nil {
		return false, fmt.Errorf("cancel export: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// startExport marks export id running for a new attempt, clearing what
// an earlier attempt recorded, and returns it; e.attempt is the new
// attempt's number (the fencing token its writes name: attempts, plus
// one). ok is false when it is no longer active (cancelled meanwhile).
func startExport(ctx context.Context, tx pgx.Tx, orgID, id string, now time.Time) (e Export, ok bool, err error) {
	row := tx.QueryRow(ctx, `UPDATE exports SET status = 'running', started_at = $3, attempts = attempts + 1,
			rows_written = 0, rows_estimated = 0, files = '[]', error = '', heartbeat_at = $3
		WHERE org_id = $1 AND id = $2 AND status IN ('queued', 'running')
		RETURNING `+exportColumns, orgID, id, now)
	e, err = scanExport(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Export{}, false, nil
	}
	if err != nil {
		return Export{}, false, fmt.Errorf("start export: %w", err)
	}
	return e, true, nil
}

// setProgress records the rows written and estimated of a running export
// by attempt, and its heartbeat, and reports whether that attempt still
// runs it (false: cancelled, or superseded by another attempt).
func setProgress(ctx context.Context, tx pgx.Tx, orgID, id string, attempt int, written, estimated int64, now time.Time) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE exports SET rows_written = $4, rows_estimated = $5, heartbeat_at = $6
		WHERE org_id = $1 AND id = $2 AND status = 'running' AND attempts = $3`,
		orgID, id, attempt, written, estimated, now)
	if err != nil {
		return false, fmt.Errorf("record export progress: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// beat records that attempt is alive at now, and reports whether it still
// runs the export (false: cancelled, or superseded by another attempt).
func beat(ctx context.Context, tx pgx.Tx, orgID, id string, attempt int, now time.Time) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE exports SET heartbeat_at = $4
		WHERE org_id = $1 AND id = $2 AND status = 'running' AND attempts = $3`, orgID, id, attempt, now)
	if err != nil {
		return false, fmt.Errorf("record export heartbeat: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// finishExport marks export id, running by attempt, succeeded with files
// (written by that attempt), and reports whether that attempt still ran it
// (false: cancelled or superseded meanwhile).
func finishExport(ctx context.Context, tx pgx.Tx, orgID, id string, attempt int, written int64, files []File, now, expires time.Time) (bool, error) {
	b, err := json.Marshal(files)
	if err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, `UPDATE exports SET status = 'succeeded', rows_written = $4, files = $5,
			finished_at = $6, expires_at = $7, files_attempt = $3
		WHERE org_id = $1 AND id = $2 AND status = 'running' AND attempts = $3`, orgID, id, attempt, written, b, now, expires)
	if err != nil {
		return false, fmt.Errorf("finish export: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// failExport marks export id, running by attempt, failed with msg; an
// export another attempt runs (or that is no longer running) is left as
// it is.
func failExport(ctx context.Context, tx pgx.Tx, orgID, id string, attempt int, msg string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE exports SET status = 'failed', error = $4, files = '[]', finished_at = $5
		WHERE org_id = $1 AND id = $2 AND status = 'running' AND attempts = $3`, orgID, id, attempt, msg, now)
	if err != nil {
		return fmt.Errorf("fail export: %w", err)
	}
	return nil
}

// expiredExports returns the IDs of orgID's succeeded exports whose files
// expired by now.
func expiredExports(ctx context.Context, tx pgx.Tx, orgID string, now time.Time) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id::text FROM exports
		WHERE org_id = $1 AND status = 'succeeded' AND expires_at <= $2`, orgID, now)
	if err != nil {
		return nil, fmt.Errorf("list expired exports: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// expireExport marks export id expired, its files gone.
func expireExport(ctx context.Context, tx pgx.Tx, orgID, id string) error {
	_, err := tx.Exec(ctx, `UPDATE exports SET status = 'expired', files = '[]'
		WHERE org_id = $1 AND id = $2 AND status = 'succeeded'`, orgID, id)
	if err != nil {
		return fmt.Errorf("expire export: %w", err)
	}
	return nil
}

// beginSnapshot starts the read-only REPEATABLE READ transaction an export
// reads in, seeing orgID: every batch reads the same moment.
func beginSnapshot(ctx context.Context, pool interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}, orgID string) (pgx.Tx, error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin export snapshot: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('app.org_id', $1, true)`, orgID); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("begin export snapshot: %w", err)
	}
	return tx, nil
}

const scheduleColumns = `frequency, weekday, hour, timezone, format, packaging, tables, created_by, next_run_at,
	COALESCE(last_export_id::text, '')`

func scanSchedule(row pgx.Row) (*Schedule, error) {
	var sc Schedule
	var weekday int
	err := row.Scan(&sc.Frequency, &weekday, &sc.Hour, &sc.Timezone, &sc.Request.Format, &sc.Request.Packaging,
		&sc.Request.Tables, &sc.CreatedBy, &sc.NextRunAt, &sc.LastExportID)
	if key, ok := strings.CutPrefix(sc.CreatedBy, apiKeyCreator); ok {
		sc.CreatedBy, sc.CreatedByAPIKey = "", key
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sc.Weekday, sc.NextRunAt = time.Weekday(weekday), sc.NextRunAt.UTC()
	return &sc, nil
}

// apiKeyCreator prefixes the API key's id in export_schedules.created_by
// when a key set the schedule (a member's is their user id as it is).
const apiKeyCreator = "key:"

// upsertSchedule sets orgID's schedule to sc.
func upsertSchedule(ctx context.Context, tx pgx.Tx, orgID string, sc Schedule, now time.Time) error {
	creator := sc.CreatedBy
	if sc.CreatedByAPIKey != "" {
		creator = apiKeyCreator + sc.CreatedByAPIKey
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO export_schedules (org_id, frequency, weekday, hour, timezone, format, packaging, tables,
			created_by, next_run_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
		ON CONFLICT (org_id) DO UPDATE SET frequency = $2, weekday = $3, hour = $4, timezone = $5, format = $6,
			packaging = $7, tables = $8, created_by = $9, next_run_at = $10, updated_at = $11`,
		orgID, sc.Frequency, int(sc.Weekday), sc.Hour, sc.Timezone, sc.Request.Format, sc.Request.Packaging,
		sc.Request.Tables, creator, sc.NextRunAt, now)
	if err != nil {
		return fmt.Errorf("save export schedule: %w", err)
	}
	return nil
}

// getSchedule returns orgID's schedule, or nil.
func getSchedule(ctx context.Context, q postgres.Queryer, orgID string) (*Schedule, error) {
	rows, err := q.Query(ctx, `SELECT `+scheduleColumns+` FROM export_schedules WHERE org_id = $1`, orgID)
	if err != nil {
		return nil, fmt.Errorf("select export schedule: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	sc, err := scanSchedule(rows)
	if err != nil {
		return nil, fmt.Errorf("select export schedule: %w", err)
	}
	return sc, nil
}

// dueSchedule returns orgID's schedule, locked, if it is due by now; nil otherwise.
func dueSchedule(ctx context.Context, tx pgx.Tx, orgID string, now time.Time) (*Schedule, error) {
	sc, err := scanSchedule(tx.QueryRow(ctx, `SELECT `+scheduleColumns+` FROM export_schedules
		WHERE org_id = $1 AND next_run_at <= $2 FOR UPDATE SKIP LOCKED`, orgID, now))
	if err != nil {
		return nil, fmt.Errorf("select due export schedule: %w", err)
	}
	return sc, nil
}

// moveSchedule sets orgID's schedule's next time, and the export it
// requested (unless exportID is "").
func moveSchedule(ctx context.Context, tx pgx.Tx, orgID string, next time.Time, exportID string) error {
	_, err := tx.Exec(ctx, `UPDATE export_schedules SET next_run_at = $2,
			last_export_id = COALESCE(NULLIF($3, '')::uuid, last_export_id)
		WHERE org_id = $1`, orgID, next, exportID)
	if err != nil {
		return fmt.Errorf("move export schedule: %w", err)
	}
	return nil
}

// deleteSchedule deletes orgID's schedule and reports whether it had one.
func deleteSchedule(ctx context.Context, tx pgx.Tx, orgID string) (bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM export_schedules WHERE org_id = $1`, orgID)
	if err != nil {
		return false, fmt.Errorf("delete export schedule: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// isDue reports whether orgID has a schedule due by now.
func isDue(ctx context.Context, q postgres.Queryer, orgID string, now time.Time) (bool, error) {
	rows, err := q.Query(ctx, `SELECT FROM export_schedules WHERE org_id = $1 AND next_run_at <= $2`, orgID, now)
	if err != nil {
		return false, fmt.Errorf("look for a due export schedule: %w", postgres.Translate(err))
	}
	defer rows.Close()
	due := rows.Next()
	return due, rows.Err()
}

// setReadFrom records where export id of orgID reads its data, unless
// another attempt than attempt runs it by now.
func setReadFrom(ctx context.Context, tx pgx.Tx, orgID, id string, attempt int, from string) error {
	if _, err := tx.Exec(ctx, `UPDATE exports SET read_from = $4 WHERE org_id = $1 AND id = $2 AND attempts = $3`,
		orgID, id, attempt, from); err != nil {
		return fmt.Errorf("record where the export reads: %w", err)
	}
	return nil
}

// staleExport is a running export whose attempt stopped beating, as the
// recovery sees it (locked).
type staleExport struct {
	status    string
	attempts  int
	heartbeat *time.Time // nil: it never started
}

// lockExportState locks export id of orgID and returns its state, or
// ok=false when it does not exist.
func lockExportState(ctx context.Context, tx pgx.Tx, orgID, id string) (st staleExport, ok bool, err error) {
	err = tx.QueryRow(ctx, `SELECT status, attempts, heartbeat_at FROM exports
		WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id).Scan(&st.status, &st.attempts, &st.heartbeat)
	if errors.Is(err, pgx.ErrNoRows) {
		return staleExport{}, false, nil
	}
	if err != nil {
		return staleExport{}, false, fmt.Errorf("lock export: %w", err)
	}
	return st, true, nil
}

// requeueExport gives running export id of orgID back to the queue: its
// attempt's writes are refused from now on (they name status running).
func requeueExport(ctx context.Context, tx pgx.Tx, orgID, id string) error {
	if _, err := tx.Exec(ctx, `UPDATE exports SET status = 'queued', heartbeat_at = NULL
		WHERE org_id = $1 AND id = $2 AND status = 'running'`, orgID, id); err != nil {
		return fmt.Errorf("requeue export: %w", err)
	}
	return nil
}
