package contacts

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/crypto"
)

// ExportRow is one contact as an export reads it, with email and phone
// decrypted. Its byte slices are only valid until the callback that
// received it returns: they point into buffers reused for the next row.
type ExportRow struct {
	// ID is the contact's ID in canonical text form.
	ID []byte
	// Name, Email, Phone and Company are UTF-8 text, "" when absent.
	Name, Email, Phone, Company []byte
	// Tags are the tags, in order.
	Tags [][]byte
	// Custom is the custom fields as a JSON object, as PostgreSQL prints
	// jsonb (keys in its order, a space after each colon and comma).
	Custom []byte
	// CreatedAt and UpdatedAt are in UTC.
	CreatedAt, UpdatedAt time.Time
}

// ExportEach calls fn with every contact of orgID, in id order, with email
// and phone decrypted (the customer owns them), reading them with one
// statement in tx; an error from fn stops it and is returned. It is for
// internal/exports, which checked the requester's permission
// (authz.ExportsManage) when the export was requested; tx must see orgID
// (app.org_id) and is typically a REPEATABLE READ snapshot on the exports'
// own pool. Memory stays flat: the rows are decoded as they arrive from
// the driver's buffer, into buffers reused from row to row.
func (s *Service) ExportEach(ctx context.Context, tx pgx.Tx, orgID string, fn func(*ExportRow) error) error {
	if err := exportEach(ctx, tx, s.keys, orgID, fn); err != nil {
		return fmt.Errorf("export contacts: %w", err)
	}
	return nil
}

// ExportCount counts orgID's contacts in tx (which must see orgID): an
// export's estimate of the rows it will write.
func (s *Service) ExportCount(ctx context.Context, tx pgx.Tx, orgID string) (int64, error) {
	n, err := countContacts(ctx, tx, orgID)
	return int64(n), err
}

// exportColumns are the columns exportEach reads, in order. (The custom
// fields go out as PostgreSQL prints jsonb, in its key order, not
// custom_keys'.)
const exportColumns = `id, name, email_enc, phone_enc, company, tags, custom, created_at, updated_at`

// exportFormats asks for every column of exportColumns in PostgreSQL's binary
// format, which exportEach decodes itself: a uuid is 16 bytes, text and
// bytea are their bytes, text[] is an array header then length-prefixed
// elements, jsonb is a version byte then its text, timestamptz is
// microseconds since 2000-01-01 UTC.
var exportFormats = pgx.QueryResultFormats{1, 1, 1, 1, 1, 1, 1, 1, 1}

// pgEpoch is the zero of PostgreSQL's binary timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// exportEach reads orgID's contacts in one statement and calls fn with
// each, decrypted. Nothing is allocated per row but the decryption's
// plaintexts (inside Tink).
func exportEach(ctx context.Context, tx pgx.Tx, keys *crypto.Keyring, orgID string, fn func(*ExportRow) error) error {
	rows, err := tx.Query(ctx, `SELECT `+exportColumns+` FROM contacts WHERE org_id = $1 ORDER BY id`, exportFormats, orgID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for _, f := range rows.FieldDescriptions() {
		if f.Format != pgx.BinaryFormatCode {
			return errors.New("export contacts: the connection did not return binary columns")
		}
	}
	org := canonicalID(orgID)
	emailAD, phoneAD := crypto.NewAD("contacts", "email", org), crypto.NewAD("contacts", "phone", org)
	var r ExportRow
	var id [36]byte
	var ad, email, phone []byte
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 9 || len(v[0]) != 16 {
			return errors.New("unexpected row shape")
		}
		r.ID = appendUUID(id[:0], v[0])
		r.Name, r.Company = v[1], v[4]
		ad = emailAD.AppendID(ad[:0], r.ID)
		if email, err = keys.DecryptAppend(email[:0], v[2], ad); err != nil {
			return err
		}
		ad = phoneAD.AppendID(ad[:0], r.ID)
		if phone, err = keys.DecryptAppend(phone[:0], v[3], ad); err != nil {
			return err
		}
		r.Email, r.Phone = email, phone
		if r.Tags, err = decodeTextArray(r.Tags[:0], v[5]); err != nil {
			return err
		}
		if len(v[6]) < 1 || v[6][0] != 1 {
			return errors.New("unexpected jsonb version")
		}
		r.Custom = v[6][1:]
		if r.CreatedAt, err = decodeTimestamp(v[7]); err != nil {
			return err
		}
		if r.UpdatedAt, err = decodeTimestamp(v[8]); err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// appendUUID appends the canonical text form of a 16-byte UUID to dst.
func appendUUID(dst []byte, u []byte) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return append(dst, buf[:]...)
}

// decodeTimestamp decodes a binary timestamptz.
func decodeTimestamp(b []byte) (time.Time, error) {
	if len(b) != 8 {
		return time.Time{}, errors.New("unexpected timestamptz length")
	}
	us := int64(binary.BigEndian.Uint64(b))
	return pgEpoch.Add(time.Duration(us) * time.Microsecond), nil
}

// errTextArray reports a text[] value exportEach cannot decode.
var errTextArray = errors.New("unexpected text[] encoding")

// decodeTextArray appends the elements of a binary one-dimensional text[]
// to dst (pointing into b). NULL elements, which tags never hold, are
// refused.
func decodeTextArray(dst [][]byte, b []byte) ([][]byte, error) {
	if len(b) < 12 {
		return dst, errTextArray
	}
	ndim := binary.BigEndian.Uint32(b)
	switch ndim {
	case 0:
		return dst, nil
	case 1:
	default:
		return dst, errTextArray
	}
	if len(b) < 20 {
		return dst, errTextArray
	}
	n := int(binary.BigEndian.Uint32(b[12:]))
	b = b[20:]
	for range n {
		if len(b) < 4 {
			return dst, errTextArray
		}
		l := int32(binary.BigEndian.Uint32(b))
		if l < 0 || int(l) > len(b)-4 {
			return dst, errTextArray
		}
		dst = append(dst, b[4:4+l])
		b = b[4+l:]
	}
	return dst, nil
}
