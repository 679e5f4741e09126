package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Imports (internal/imports) add many contacts at once. They validate each
// row with Validate, the very rules of Create; reserve room under the plan
// with ReserveTx; and insert the valid rows with InsertTx, in the same
// transaction, so that the check and the rows commit together.

// Validate checks in as Create does and returns it normalised (strings
// trimmed, tags deduplicated, every nil field filled), or EINVALID with a
// message per field in Fields.
func Validate(in Input) (Input, error) { return in.normalize(true) }

// ReserveTx returns how many of n more contacts orgID may add now: n when
// they all fit (always without entitlements); fewer, with the EFORBIDDEN
// error that says why (the plan's limit, or a read-only organisation),
// otherwise. It takes the organisation's contact-count lock as a create
// does (countForAdd), so the rows InsertTx then adds in tx cannot overshoot
// the limit with concurrent creates. tx must see orgID (postgres.InOrgTx).
func (s *Service) ReserveTx(ctx context.Context, tx pgx.Tx, orgID string, n int) (int, error) {
	if s.entitlements == nil || n <= 0 {
		return n, nil
	}
	used, limit, err := s.countForAdd(ctx, tx, orgID, n)
	if err != nil {
		return 0, err // EFORBIDDEN when read-only
	}
	refusal := s.entitlements.CheckContactsTx(ctx, tx, orgID, used, n)
	if refusal == nil {
		return n, nil
	}
	if gw.ErrorCode(refusal) != gw.EFORBIDDEN {
		return 0, refusal
	}
	return max(0, min(n, limit-used)), refusal
}

// InsertTx adds list, each from Validate, to orgID in tx (which must see
// orgID), stamped with now, in one statement, and records one audit event
// (contacts.imported, with importID and the count) as actor. It checks
// neither permission nor plan: its caller checked the permission when the
// import was requested and calls ReserveTx first in tx.
func (s *Service) InsertTx(ctx context.Context, tx pgx.Tx, orgID string, actor gw.Actor, importID string, list []Input, now time.Time) error {
	if len(list) == 0 {
		return nil
	}
	now = now.UTC().Truncate(time.Microsecond)
	n := len(list)
	ids, names, companies := make([]string, n), make([]string, n), make([]string, n)
	emails, phones, indexes := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	tags, custom := make([]string, n), make([]string, n)
	for i, in := range list {
		ids[i] = gw.NewID()
		names[i], companies[i] = deref(in.Name), deref(in.Company)
		sl, err := seal(s.keys, orgID, ids[i], deref(in.Email), deref(in.Phone))
		if err != nil {
			return fmt.Errorf("import contacts: %w", err)
		}
		emails[i], phones[i], indexes[i] = sl.email, sl.phone, sl.emailIndex
		t, err := json.Marshal(derefSlice(in.Tags))
		if err != nil {
			return fmt.Errorf("import contacts: %w", err)
		}
		c := map[string]any{}
		if in.Custom != nil && *in.Custom != nil {
			c = *in.Custom
		}
		cj, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("import contacts: %w", err)
		}
		tags[i], custom[i] = string(t), string(cj)
	}
	// COPY FROM is not allowed on a table with row-level security, so the
	// rows go as arrays, unnested by one INSERT.
	_, err := tx.Exec(ctx, `
		INSERT INTO contacts (org_id, id, name, email_enc, phone_enc, email_bidx, company, tags, custom, created_at, updated_at)
		SELECT $1, r.id, r.name, r.email, r.phone, r.bidx, r.company,
			ARRAY(SELECT jsonb_array_elements_text(r.tags)), r.custom, $10, $10
		FROM unnest($2::uuid[], $3::text[], $4::bytea[], $5::bytea[], $6::bytea[], $7::text[], $8::jsonb[], $9::jsonb[])
			AS r(id, name, email, phone, bidx, company, tags, custom)`,
		orgID, ids, names, emails, phones, indexes, companies, tags, custom, now)
	if err != nil {
		return fmt.Errorf("import contacts: %w", err)
	}
	return audit.Record(ctx, tx, audit.Event{OrgID: orgID, Actor: actor, Action: audit.ActionContactsImported,
		TargetType: audit.TargetImport, TargetID: importID, After: map[string]any{"contacts": n}})
}
