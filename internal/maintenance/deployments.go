package maintenance

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Deployment is one start of a Groundwork process: what ran where, from when.
type Deployment struct {
	Role      string    `json:"role"` // "serve" or "worker"
	Version   string    `json:"version"`
	Commit    string    `json:"commit"`
	BuildTime string    `json:"build_time"`
	Host      string    `json:"-"` // the machine's name: for operators, not for /version's public
	PID       int       `json:"-"`
	StartedAt time.Time `json:"started_at"`
}

// maxDeploymentRows is how many starts the table keeps; RecordStart forgets
// older ones.
const maxDeploymentRows = 1000

// RecordStart records that a process started now (d.StartedAt is set by
// the database), and forgets starts beyond the newest maxDeploymentRows.
func (s *Store) RecordStart(ctx context.Context, d Deployment) error {
	return postgres.InTx(ctx, s.pool, postgres.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO deployments (role, version, commit, build_time, host, pid)
			VALUES ($1, $2, $3, $4, $5, $6)`, d.Role, d.Version, d.Commit, d.BuildTime, d.Host, d.PID); err != nil {
			return fmt.Errorf("record deployment: %w", err)
		}
		_, err := tx.Exec(ctx, `DELETE FROM deployments WHERE id <= (SELECT id FROM deployments ORDER BY id DESC OFFSET $1 LIMIT 1)`,
			maxDeploymentRows)
		return err
	})
}

// Deployments returns the newest limit starts, newest first.
func (s *Store) Deployments(ctx context.Context, limit int) ([]Deployment, error) {
	rows, err := s.pool.Query(ctx, `SELECT role, version, commit, build_time, host, pid, started_at
		FROM deployments ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Deployment, error) {
		var d Deployment
		err := row.Scan(&d.Role, &d.Version, &d.Commit, &d.BuildTime, &d.Host, &d.PID, &d.StartedAt)
		return d, err
	})
	return list, postgres.Translate(err)
}
