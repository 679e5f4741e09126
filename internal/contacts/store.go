package contacts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// The SQL of the module: one function per statement, each run inside the
// caller's transaction. Every statement names org_id although row-level
// security already limits it to that organisation: the condition lets
// PostgreSQL use the (org_id, id) primary key, and lets a distributed
// database (Citus) route the query to one shard.
//
// Email and phone are stored encrypted (migration 00005): email_enc and
// phone_enc hold Tink AES-256-GCM ciphertexts bound to their organisation,
// column and row ("contacts|email|<org_id>|<id>"), NULL for "". The email
// stays findable by exact match through email_bidx, a keyed blind index
// (HMAC-SHA256) of the lower-cased address, scoped to the organisation.

// columns are the columns contactDecoder reads, in order.
const columns = `id, name, email_enc, phone_enc, company, tags, custom, custom_keys, created_at, updated_at`

// maxID is the largest UUID (RFC 9562's Max UUID). Listing from the top
// compares id < maxID, so the first page and the next ones share one query
// plan, a backward scan of the primary key.
const maxID = "ffffffff-ffff-ffff-ffff-ffffffffffff"

// errNotFound is returned for a contact that does not exist or belongs to
// another organisation; the two are indistinguishable on purpose.
func errNotFound() error { return gw.Errorf(gw.ENOTFOUND, "Contact not found.") }

// fieldAD is the associated data of a contact's encrypted column: it binds
// the ciphertext to the organisation and the contact. IDs are put in
// canonical form, so that the same row always gives the same AD.
func fieldAD(column, orgID, id string) crypto.AD {
	return crypto.NewAD("contacts", column, canonicalID(orgID), canonicalID(id))
}

// emailIndexAD scopes email blind indexes to the organisation: the same
// address in two organisations indexes differently.
func emailIndexAD(orgID string) crypto.AD {
	return crypto.NewAD("contacts", "email", canonicalID(orgID))
}

// canonicalID returns id, a UUID, in the lower-case hyphenated form
// PostgreSQL prints (what associated data binds to); anything else is
// returned as it is. IDs read back from the database are in that form
// already: they are returned without parsing, as a list decrypts two
// fields of every row.
func canonicalID(id string) string {
	if isCanonicalUUID(id) {
		return id
	}
	if u, err := uuid.Parse(id); err == nil {
		return u.String()
	}
	return id
}

// isCanonicalUUID reports whether s is a UUID in lower-case hyphenated
// form.
func isCanonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// normalizeEmail is the form of an address that its blind index is of:
// equal addresses, in any case, index equally.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// sealed is a contact's encrypted columns.
type sealed struct {
	email, phone, emailIndex []byte
}

// seal encrypts a contact's email and phone and indexes its email.
func seal(keys *crypto.Keyring, orgID, id, email, phone string) (sealed, error) {
	var s sealed
	var err error
	if s.email, err = keys.Encrypt(email, fieldAD("email", orgID, id)); err != nil {
		return sealed{}, err
	}
	if s.phone, err = keys.Encrypt(phone, fieldAD("phone", orgID, id)); err != nil {
		return sealed{}, err
	}
	if s.emailIndex, err = keys.BlindIndex(normalizeEmail(email), emailIndexAD(orgID)); err != nil {
		return sealed{}, err
	}
	return s, nil
}

// insertContact inserts c into orgID and returns it as stored.
func insertContact(ctx context.Context, tx pgx.Tx, keys *crypto.Keyring, orgID string, c Contact) (Contact, error) {
	s, err := seal(keys, orgID, c.ID, c.Email, c.Phone)
	if err != nil {
		return Contact{}, fmt.Errorf("insert contact: %w", err)
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO contacts (org_id, id, name, email_enc, phone_enc, email_bidx, company, tags, custom, custom_keys, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $10, $10)
		RETURNING `+columns,
		orgID, c.ID, c.Name, s.email, s.phone, s.emailIndex, c.Company, c.Tags, c.Custom, c.CreatedAt, c.CustomKeys)
	if err == nil {
		c, err = pgx.CollectExactlyOneRow(rows, newContactDecoder(keys, orgID).decode)
	}
	if err != nil {
		return Contact{}, fmt.Errorf("insert contact: %w", err)
	}
	return c, nil
}

// getContact returns contact id of orgID, or ENOTFOUND.
func getContact(ctx context.Context, q postgres.Queryer, keys *crypto.Keyring, orgID, id string) (Contact, error) {
	rows, err := q.Query(ctx, `SELECT `+columns+` FROM contacts WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return Contact{}, fmt.Errorf("select contact: %w", err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, newContactDecoder(keys, orgID).decode)
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
// ENOTFOUND. A NULL parameter keeps the column as it is; the encrypted
// columns, where NULL means "", have a flag each instead.
func updateContact(ctx context.Context, tx pgx.Tx, keys *crypto.Keyring, orgID, id string, in Input, now time.Time) (Contact, error) {
	s, err := seal(keys, orgID, id, deref(in.Email), deref(in.Phone))
	if err != nil {
		return Contact{}, fmt.Errorf("update contact: %w", err)
	}
	rows, err := tx.Query(ctx, `
		UPDATE contacts SET
			name = COALESCE($3, name),
			email_enc = CASE WHEN $4 THEN $5 ELSE email_enc END,
			email_bidx = CASE WHEN $4 THEN $6 ELSE email_bidx END,
			phone_enc = CASE WHEN $7 THEN $8 ELSE phone_enc END,
			company = COALESCE($9, company),
			tags = COALESCE($10, tags),
			custom = COALESCE($11, custom),
			custom_keys = CASE WHEN $13 THEN $14 ELSE custom_keys END,
			updated_at = $12
		WHERE org_id = $1 AND id = $2
		RETURNING `+columns,
		orgID, id, in.Name, in.Email != nil, s.email, s.emailIndex, in.Phone != nil, s.phone,
		in.Company, in.Tags, in.Custom, now, in.Custom != nil, in.CustomKeys)
	var c Contact
	if err == nil {
		c, err = pgx.CollectExactlyOneRow(rows, newContactDecoder(keys, orgID).decode)
	}
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

// listContacts returns up to limit contacts of orgID in q's sort, after
// q's cursor (q.after). A non-empty q.query keeps the contacts whose name
// or company contains q.pattern (an ILIKE pattern, its wildcards already
// escaped), whose tags include the query, or whose email is the query,
// ignoring case (by its blind index, under any key of a rotation in
// progress). Pages are keyset-paginated on (sort key, id): the id breaks
// ties, so no contact is skipped or repeated between pages.
func listContacts(ctx context.Context, q postgres.Queryer, keys *crypto.Keyring, orgID string, lq listQuery, limit int) ([]Contact, error) {
	indexes, err := keys.BlindIndexes(normalizeEmail(lq.query), emailIndexAD(orgID))
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	order := listOrders[lq.sort]
	cmpOp, dir := ">", "ASC"
	if order.desc {
		cmpOp, dir = "<", "DESC"
	}
	// The SQL is put together from listOrders' constants only; the
	// values go as parameters.
	after, orderBy := "id "+cmpOp+" $2", "id "+dir
	args := []any{orgID, lq.before, lq.query, lq.pattern, indexes, limit, lq.after}
	if order.key != "" {
		after = "(" + order.key + ", id) " + cmpOp + " (lower($8), $2)"
		orderBy = order.key + " " + dir + ", id " + dir
		args = append(args, lq.key)
	}
	rows, err := q.Query(ctx, `
		SELECT `+columns+` FROM contacts
		WHERE org_id = $1 AND (NOT $7::boolean OR `+after+`)
		  AND ($3 = '' OR name ILIKE $4 OR company ILIKE $4 OR tags @> ARRAY[$3] OR email_bidx = ANY($5))
		ORDER BY `+orderBy+`
		LIMIT $6`, args...)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	list, err := collectContacts(rows, keys, orgID, limit)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	return list, nil
}

// collectContacts reads rows (of columns) of orgID into a slice sized for
// limit of them at once (pgx.CollectRows would grow it row by row), and
// closes rows.
func collectContacts(rows pgx.Rows, keys *crypto.Keyring, orgID string, limit int) ([]Contact, error) {
	defer rows.Close()
	d := newContactDecoder(keys, orgID)
	list := make([]Contact, 0, max(0, min(limit, 1000)))
	for rows.Next() {
		c, err := d.decode(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

// ---- key rotation (see crypto.ReencryptWorker)

// countKeyUsage counts orgID's encrypted values by column and key ID.
func countKeyUsage(ctx context.Context, q postgres.Queryer, orgID string) ([]crypto.KeyUsage, error) {
	rows, err := q.Query(ctx, `
		SELECT 'email_enc', substr(email_enc, 2, 4), count(*) FROM contacts
		WHERE org_id = $1 AND email_enc IS NOT NULL GROUP BY 2
		UNION ALL
		SELECT 'phone_enc', substr(phone_enc, 2, 4), count(*) FROM contacts
		WHERE org_id = $1 AND phone_enc IS NOT NULL GROUP BY 2
		UNION ALL
		SELECT 'email_bidx', substr(email_bidx, 1, 4), count(*) FROM contacts
		WHERE org_id = $1 AND email_bidx IS NOT NULL GROUP BY 2`, orgID)
	if err != nil {
		return nil, fmt.Errorf("count key usage: %w", err)
	}
	usage, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (crypto.KeyUsage, error) {
		u := crypto.KeyUsage{Table: "contacts", Kind: crypto.Encryption}
		var prefix []byte
		err := row.Scan(&u.Column, &prefix, &u.Rows)
		if u.Column == "email_bidx" {
			u.Kind = crypto.BlindIndex
		}
		u.KeyID, _ = crypto.BlindIndexKeyID(prefix) // the 4 bytes of the ID either way
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("count key usage: %w", err)
	}
	return usage, nil
}

// reencryptBatch rewrites, under keys' primary keys, up to limit of orgID's
// contacts that have a value under another key, and returns how many it
// rewrote. The rows are locked while they are rewritten: a concurrent
// update waits, and is not lost. A value that will not decrypt stops the
// batch with its error, and nothing of the batch is written.
func reencryptBatch(ctx context.Context, tx pgx.Tx, keys *crypto.Keyring, orgID string, limit int) (int, error) {
	rows, err := tx.Query(ctx, `
		SELECT id::text, email_enc, phone_enc FROM contacts
		WHERE org_id = $1 AND (substr(email_enc, 1, 5) <> $2 OR substr(phone_enc, 1, 5) <> $2
			OR substr(email_bidx, 1, 4) <> $3)
		ORDER BY id
		LIMIT $4
		FOR UPDATE`,
		orgID, keys.PrimaryCiphertextPrefix(), keys.PrimaryBlindIndexPrefix(), limit)
	if err != nil {
		return 0, fmt.Errorf("select contacts to re-encrypt: %w", err)
	}
	type stale struct {
		id           string
		email, phone []byte
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (stale, error) {
		var r stale
		return r, row.Scan(&r.id, &r.email, &r.phone)
	})
	if err != nil || len(list) == 0 {
		return 0, err
	}
	ids := make([]string, len(list))
	emails, phones, indexes := make([][]byte, len(list)), make([][]byte, len(list)), make([][]byte, len(list))
	for i, r := range list {
		email, err := keys.Decrypt(r.email, fieldAD("email", orgID, r.id))
		if err != nil {
			return 0, err
		}
		phone, err := keys.Decrypt(r.phone, fieldAD("phone", orgID, r.id))
		if err != nil {
			return 0, err
		}
		s, err := seal(keys, orgID, r.id, email, phone)
		if err != nil {
			return 0, err
		}
		ids[i], emails[i], phones[i], indexes[i] = r.id, s.email, s.phone, s.emailIndex
	}
	_, err = tx.Exec(ctx, `
		UPDATE contacts c SET email_enc = u.email_enc, phone_enc = u.phone_enc, email_bidx = u.email_bidx
		FROM unnest($2::uuid[], $3::bytea[], $4::bytea[], $5::bytea[]) AS u(id, email_enc, phone_enc, email_bidx)
		WHERE c.org_id = $1 AND c.id = u.id`,
		orgID, ids, emails, phones, indexes)
	if err != nil {
		return 0, fmt.Errorf("re-encrypt contacts: %w", err)
	}
	return len(list), nil
}

// countContactsUpTo counts orgID's contacts, stopping at most.
func countContactsUpTo(ctx context.Context, tx pgx.Tx, orgID string, most int) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT FROM contacts WHERE org_id = $1 LIMIT $2) c`, orgID, most).Scan(&n)
	return n, err
}

// countContacts returns how many contacts orgID has.
func countContacts(ctx context.Context, tx pgx.Tx, orgID string) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE org_id = $1`, orgID).Scan(&n)
	return n, err
}
