package maintenance

import (
	"context"
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// TrafficRetention is how long the per-version request counts are kept.
const TrafficRetention = 14 * 24 * time.Hour

// AddTraffic adds requests and errors (5xx answers) to version's count for
// the minute starting at minute (truncated to the minute), summed over
// every instance, and forgets counts older than TrafficRetention.
func (s *Store) AddTraffic(ctx context.Context, version string, minute time.Time, requests, errors int64) error {
	minute = minute.UTC().Truncate(time.Minute)
	_, err := s.pool.Exec(ctx, `INSERT INTO version_traffic AS t (version, minute, requests, errors) VALUES ($1, $2, $3, $4)
		ON CONFLICT (version, minute) DO UPDATE SET requests = t.requests + excluded.requests, errors = t.errors + excluded.errors`,
		version, minute, requests, errors)
	if err != nil {
		return fmt.Errorf("record version traffic: %w", postgres.Translate(err))
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM version_traffic WHERE minute < $1`, minute.Add(-TrafficRetention)); err != nil {
		return fmt.Errorf("prune version traffic: %w", postgres.Translate(err))
	}
	return nil
}

// Traffic returns version's requests and errors in the minutes from from
// (inclusive) to to (exclusive), both truncated to the minute.
func (s *Store) Traffic(ctx context.Context, version string, from, to time.Time) (requests, errors int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT coalesce(sum(requests), 0)::bigint, coalesce(sum(errors), 0)::bigint
		FROM version_traffic WHERE version = $1 AND minute >= $2 AND minute < $3`,
		version, from.UTC().Truncate(time.Minute), to.UTC().Truncate(time.Minute)).Scan(&requests, &errors)
	if err != nil {
		return 0, 0, fmt.Errorf("read version traffic: %w", postgres.Translate(err))
	}
	return requests, errors, nil
}

// ClaimAlert records that alert is being sent for version at at, and
// reports whether this caller claimed it: false when it was claimed
// before, by this or another instance.
func (s *Store) ClaimAlert(ctx context.Context, version, alert string, at time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO version_alerts (version, alert, sent_at) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, version, alert, at)
	if err != nil {
		return false, fmt.Errorf("claim version alert: %w", postgres.Translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseAlert forgets a claim (ClaimAlert) whose alert was not delivered,
// so that the next check tries again.
func (s *Store) ReleaseAlert(ctx context.Context, version, alert string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM version_alerts WHERE version = $1 AND alert = $2`, version, alert); err != nil {
		return fmt.Errorf("release version alert: %w", postgres.Translate(err))
	}
	return nil
}
