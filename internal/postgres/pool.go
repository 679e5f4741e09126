package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/pgxpoolprometheus"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Open connects a pool to url with at most maxConns connections and checks
// that the server answers. A non-nil tracer traces every query (see
// QueryTracer).
func Open(ctx context.Context, url string, maxConns int, tracer ...pgx.QueryTracer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	cfg.MaxConns = int32(maxConns)
	for _, t := range tracer {
		if t != nil {
			cfg.ConnConfig.Tracer = t
		}
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

// NewPoolCollector exposes the pool's statistics (connections acquired,
// idle, total, waits) as Prometheus metrics named pgxpool_*.
func NewPoolCollector(pool *pgxpool.Pool) prometheus.Collector {
	return pgxpoolprometheus.NewCollector(pool, map[string]string{"pool": "runtime"})
}

// OpenIsolated connects a pool of its own to url for heavy work (exports),
// with at most maxConns connections whose sessions run with params (say,
// statement_timeout and work_mem): that work then never takes the
// interactive pool's connections, and its settings never leak into them.
// A non-nil tracer traces every query, as on the runtime pool (Open).
func OpenIsolated(ctx context.Context, url string, maxConns int, params map[string]string, tracer ...pgx.QueryTracer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	cfg.MaxConns = int32(maxConns)
	cfg.MaxConnIdleTime = 5 * time.Minute
	for k, v := range params {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	for _, t := range tracer {
		if t != nil {
			cfg.ConnConfig.Tracer = t
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}
