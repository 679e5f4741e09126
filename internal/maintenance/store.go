package maintenance

import (
	"context"
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Heartbeat is one row of the heartbeats table.
type Heartbeat struct {
	ID        string
	WrittenAt time.Time
	Instance  string
}

// Store reads and writes heartbeats.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Beat writes a heartbeat for instance at now and deletes heartbeats written
// before now minus retention, in one transaction. It returns how many rows it
// deleted.
func (s *Store) Beat(ctx context.Context, instance string, now time.Time, retention time.Duration) (int64, error) {
	var deleted int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO heartbeats (id, written_at, instance) VALUES ($1, $2, $3)`,
			gw.NewID(), now, instance); err != nil {
			return fmt.Errorf("write heartbeat: %w", err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM heartbeats WHERE written_at < $1`, now.Add(-retention))
		if err != nil {
			return fmt.Errorf("prune heartbeats: %w", err)
		}
		deleted = tag.RowsAffected()
		return nil
	})
	return deleted, err
}

// Latest returns the newest heartbeat, or a gw.ENOTFOUND error when none exists.
func (s *Store) Latest(ctx context.Context) (Heartbeat, error) {
	var h Heartbeat
	err := s.pool.QueryRow(ctx, `SELECT id, written_at, instance FROM heartbeats ORDER BY written_at DESC LIMIT 1`).
		Scan(&h.ID, &h.WrittenAt, &h.Instance)
	if err == pgx.ErrNoRows {
		return h, gw.Errorf(gw.ENOTFOUND, "no heartbeat has been written yet")
	}
	if err != nil {
		return h, fmt.Errorf("read heartbeat: %w", err)
	}
	return h, nil
}
