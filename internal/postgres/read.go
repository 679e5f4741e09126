package postgres

import (
	"context"
	"encoding/hex"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Queryer runs a query. A pgx.Tx is one; so is the one-round-trip reader
// that Reader returns, so store functions can serve both paths.
type Queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// settingsSQL sets the row-level-security settings of TxOptions for the
// current transaction only.
const settingsSQL = `SELECT set_config('app.org_id', $1, true),
	set_config('app.user_id', $2, true), set_config('app.secret_hash', $3, true)`

// Reader returns a Queryer for single read-only queries that costs one
// round trip: each Query sends the settings of opts and the query together
// as one pgx batch, which PostgreSQL runs as one implicit transaction, so
// set_config(..., true) holds for the query beside it and for nothing else.
// Use it on hot read paths; use InTx for writes and multi-statement reads.
func Reader(pool *pgxpool.Pool, opts TxOptions) Queryer {
	return batchReader{pool: pool, opts: opts}
}

type batchReader struct {
	pool *pgxpool.Pool
	opts TxOptions
}

// Query implements Queryer. Errors from the settings or the query surface
// from Query or from the rows, like any pgx query; Translate them as usual.
func (r batchReader) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	b := &pgx.Batch{}
	b.Queue(settingsSQL, r.opts.OrgID, r.opts.UserID, hex.EncodeToString(r.opts.SecretHash))
	b.Queue(sql, args...)
	br := r.pool.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		return nil, errors.Join(err, br.Close())
	}
	rows, err := br.Query()
	if err != nil {
		return nil, errors.Join(err, br.Close())
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// batchRows closes the batch (returning its connection) with the rows.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
}

// Close closes the rows, then the batch, which returns the connection.
func (r *batchRows) Close() {
	r.Rows.Close()
	if !r.closed {
		r.closed = true
		_ = r.br.Close()
	}
}
