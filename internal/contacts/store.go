package contacts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// The SQL of the module: one function per statement, each run inside the
// caller's transaction. Every statement names org_id although row-level
// security already limits it to that organisation: the condition lets
// PostgreSQL use the (org_id, id) primary key, and lets a distributed
// database (Citus) route the query to one shard.

// columns are the columns scanContact reads, in order.
const columns = `id, name, email, phone, company, tags, custom, created_at, updated_at`

// maxID is the largest UUID (RFC 9562's Max UUID). Listing from the top
// compares id < maxID, so the first page and the next ones share one query
// plan, a backward scan of the primary key.
const maxID = "ffffffff-ffff-ffff-ffff-ffffffffffff"

// errNotFound is returned for a contact that does not exist or belongs to
// another organisation; the two are indistinguishable on purpose.
func errNotFound() error { return gw.Errorf(gw.ENOTFOUND, "Contact not found.") }

// insertContact inserts c into orgID and returns it as stored.
func insertContact(ctx context.Context, tx pgx.Tx, orgID string, c Contact) (Contact, error) {
	row := tx.QueryRow(ctx, `
		INSERT INTO contacts (org_id, id, name, email, phone, company, tags, custom, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		RETURNING `+columns,
		orgID, c.ID, c.Name, c.Email, c.Phone, c.Company, c.Tags, c.Custom, c.CreatedAt)
	c, err := scanContact(row)
	if err != nil {
		return Contact{}, fmt.Errorf("insert contact: %w", err)
	}
	return c, nil
}

// getContact returns contact id of orgID, or ENOTFOUND.
func getContact(ctx context.Context, q postgres.Queryer, orgID, id string) (Contact, error) {
	rows, err := q.Query(ctx, `SELECT `+columns+` FROM contacts WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return Contact{}, fmt.Errorf("select contact: %w", err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (Contact, error) { return scanContact(row) })
	if errors.Is(err, pgx.ErrNoRows) {
		return Contact{}, errNotFound()
	}
	if err != nil {
		return Contact{}, fmt.Errorf("select contact: %w", err)
	}
	return c, nil
}

// updateContact sets the non-nil fields of in (normalised) on contact id of
// orgID, and updated_at to now. It returns the updated contact, or
// ENOTFOUND. A NULL parameter keeps the column as it is.
func updateContact(ctx context.Context, tx pgx.Tx, orgID, id string, in Input, now time.Time) (Contact, error) {
	row := tx.QueryRow(ctx, `
		UPDATE contacts SET
			name = COALESCE($3, name),
			email = COALESCE($4, email),
			phone = COALESCE($5, phone),
			company = COALESCE($6, company),
			tags = COALESCE($7, tags),
			custom = COALESCE($8, custom),
			updated_at = $9
		WHERE org_id = $1 AND id = $2
		RETURNING `+columns,
		orgID, id, in.Name, in.Email, in.Phone, in.Company, in.Tags, in.Custom, now)
	c, err := scanContact(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Contact{}, errNotFound()
	}
	if err != nil {
		return Contact{}, fmt.Errorf("update contact: %w", err)
	}
	return c, nil
}

// deleteContact deletes contact id of orgID, or returns ENOTFOUND.
func deleteContact(ctx context.Context, tx pgx.Tx, orgID, id string) error {
	tag, err := tx.Exec(ctx, `DELETE FROM contacts WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return fmt.Errorf("delete contact: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errNotFound()
	}
	return nil
}

// listContacts returns up to limit contacts of orgID with an id below
// before (maxID for the first page), newest first. A non-empty query keeps
// the contacts whose name, email or company contains pattern (an ILIKE
// pattern, its wildcards already escaped) or whose tags include query.
func listContacts(ctx context.Context, q postgres.Queryer, orgID, before, query, pattern string, limit int) ([]Contact, error) {
	rows, err := q.Query(ctx, `
		SELECT `+columns+` FROM contacts
		WHERE org_id = $1 AND id < $2
		  AND ($3 = '' OR name ILIKE $4 OR email ILIKE $4 OR company ILIKE $4 OR tags @> ARRAY[$3])
		ORDER BY id DESC
		LIMIT $5`,
		orgID, before, query, pattern, limit)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Contact, error) { return scanContact(row) })
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	return list, nil
}

// scanContact reads the columns of one row into a Contact.
func scanContact(row pgx.Row) (Contact, error) {
	var c Contact
	err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &c.Company, &c.Tags, &c.Custom, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return Contact{}, err
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	if c.Custom == nil {
		c.Custom = map[string]any{}
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}
