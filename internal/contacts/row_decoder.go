package contacts

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/crypto"
)

// contactDecoder turns rows of columns of one organisation into Contacts
// straight from the driver's bytes, decrypting email and phone into
// buffers it reuses from row to row, and putting a row's text (ID, name,
// company, email, phone, tags and custom field names) into one string.
// A list of 50 is the API's hottest read, and pgx's generic Scan (a plan
// and a copy per column, a string per array element) with a string per
// value and the associated data built twice per row were over a third of
// its CPU.
//
// It reads the formats pgx asks for by default (uuid, bytea, text[] and
// timestamptz in binary; text and jsonb as text) and the other format of
// uuid and jsonb; anything else is an error, never a wrong value.
type contactDecoder struct {
	keys             *crypto.Keyring
	emailAD, phoneAD crypto.AD
	// ad and pt hold a value's associated data and plaintext, text a
	// row's text before it becomes one string, and arrays the elements of
	// a text[].
	ad, pt, text []byte
	arrays       [][]byte
	tags, order  []span
}

// newContactDecoder returns a decoder for rows of orgID.
func newContactDecoder(keys *crypto.Keyring, orgID string) *contactDecoder {
	org := canonicalID(orgID)
	return &contactDecoder{keys: keys, emailAD: crypto.NewAD("contacts", "email", org), phoneAD: crypto.NewAD("contacts", "phone", org)}
}

// errRowFormat reports a row of columns whose shape or encoding the
// decoder does not read.
var errRowFormat = errors.New("unexpected contact row format")

// span is where one value lies in the row's text.
type span struct{ start, end int }

// decode reads the current row (of columns) into a Contact.
func (d *contactDecoder) decode(row pgx.CollectableRow) (Contact, error) {
	v, f := row.RawValues(), row.FieldDescriptions()
	if len(v) != 10 || len(f) != 10 {
		return Contact{}, errRowFormat
	}
	for i, want := range rowFormats {
		if want >= 0 && f[i].Format != want {
			return Contact{}, fmt.Errorf("%w: column %s", errRowFormat, f[i].Name)
		}
	}
	d.text = d.text[:0]
	rawID := v[0]
	if f[0].Format == pgx.BinaryFormatCode {
		if len(rawID) != 16 {
			return Contact{}, errRowFormat
		}
		var buf [36]byte
		rawID = appendUUID(buf[:0], rawID)
	}
	id, name, company := d.add(rawID), d.add(v[1]), d.add(v[4])
	email, err := d.decrypt(v[2], d.emailAD, id)
	if err != nil {
		return Contact{}, err
	}
	phone, err := d.decrypt(v[3], d.phoneAD, id)
	if err != nil {
		return Contact{}, err
	}
	if d.tags, err = d.addArray(d.tags[:0], v[5]); err != nil {
		return Contact{}, err
	}
	if d.order, err = d.addArray(d.order[:0], v[7]); err != nil {
		return Contact{}, err
	}
	s := string(d.text)
	at := func(sp span) string { return s[sp.start:sp.end] }
	c := Contact{ID: at(id), Name: at(name), Company: at(company), Email: at(email), Phone: at(phone),
		Tags: make([]string, len(d.tags))}
	for i, t := range d.tags {
		c.Tags[i] = at(t)
	}
	customKeys := make([]string, len(d.order))
	for i, k := range d.order {
		customKeys[i] = at(k)
	}
	custom := v[6]
	if f[6].Format == pgx.BinaryFormatCode && custom != nil {
		if len(custom) < 1 || custom[0] != 1 {
			return Contact{}, fmt.Errorf("%w: jsonb version", errRowFormat)
		}
		custom = custom[1:]
	}
	if c.Custom, err = decodeCustom(custom); err != nil {
		return Contact{}, fmt.Errorf("decode custom fields: %w", err)
	}
	if c.Custom == nil {
		c.Custom = map[string]any{}
	}
	c.CustomKeys = orderCustomKeys(c.Custom, customKeys)
	if c.CreatedAt, err = decodeTimestamp(v[8]); err != nil {
		return Contact{}, err
	}
	if c.UpdatedAt, err = decodeTimestamp(v[9]); err != nil {
		return Contact{}, err
	}
	return c, nil
}

// rowFormats are the formats decode requires of columns, by position; -1
// takes either.
var rowFormats = [10]int16{-1, -1, pgx.BinaryFormatCode, pgx.BinaryFormatCode, -1, pgx.BinaryFormatCode, -1, pgx.BinaryFormatCode,
	pgx.BinaryFormatCode, pgx.BinaryFormatCode}

// add appends value to the row's text and returns where it lies.
func (d *contactDecoder) add(value []byte) span {
	start := len(d.text)
	d.text = append(d.text, value...)
	return span{start, len(d.text)}
}

// decrypt decrypts ciphertext, bound to ad and the row's ID (at id in the
// row's text), into the row's text.
func (d *contactDecoder) decrypt(ciphertext []byte, ad crypto.AD, id span) (span, error) {
	d.ad = ad.AppendID(d.ad[:0], d.text[id.start:id.end])
	var err error
	if d.pt, err = d.keys.DecryptAppend(d.pt[:0], ciphertext, d.ad); err != nil {
		return span{}, err
	}
	return d.add(d.pt), nil
}

// addArray appends the elements of a binary text[] (NULL: none) to the
// row's text, and where each lies to spans.
func (d *contactDecoder) addArray(spans []span, raw []byte) ([]span, error) {
	if raw == nil {
		return spans, nil
	}
	var err error
	if d.arrays, err = decodeTextArray(d.arrays[:0], raw); err != nil {
		return spans, err
	}
	for _, e := range d.arrays {
		spans = append(spans, d.add(e))
	}
	return spans, nil
}
