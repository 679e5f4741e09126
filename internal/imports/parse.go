package imports

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// The file: RFC 4180 CSV, UTF-8 (a leading byte-order mark is ignored),
// a header row naming the columns in any order and case. An export's
// contacts.csv imports as it is: its id, created_at and updated_at columns
// are ignored (an import always creates new contacts).

// Columns a file may have; name is required.
var (
	// Columns are the columns an import reads.
	Columns = []string{"name", "email", "phone", "company", "tags", "custom"}
	// ignoredColumns are an export's columns an import skips.
	ignoredColumns = []string{"id", "created_at", "updated_at"}
)

// maxFieldBytes caps one cell: far above any valid value (custom fields
// total 16 KiB), low enough that a file without line breaks cannot make a
// row of gigabytes.
const maxFieldBytes = 64 << 10

// rowReader reads a file's rows as contact inputs, one at a time: nothing
// but the current row is held.
type rowReader struct {
	r      *csv.Reader
	header map[string]int // column name to its index
	width  int
}

// row is one data row of the file.
type row struct {
	// line is where it starts in the file (the header is line 1).
	line int
	// in is the row as a contact; valid when err is nil.
	in contacts.Input
	// err says why the row is rejected: EINVALID with Fields, or a message.
	err error
	// bytes is the row's size, roughly, for batching.
	bytes int
}

// errFile is a defect of the whole file (its header, or its CSV syntax):
// the import fails and writes nothing.
type errFile struct{ msg string }

func (e *errFile) Error() string { return e.msg }

// newRowReader reads the header of r and returns a reader of the rows
// after it, or an *errFile.
func newRowReader(r io.Reader) (*rowReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\uFEFF" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &errFile{"The file is empty: it needs a header row (name, email, phone, company, tags, custom) and a row per contact."}
	}
	if err != nil {
		return nil, syntaxError(err)
	}
	rr := &rowReader{r: cr, header: map[string]int{}, width: len(head)}
	for i, h := range head {
		name := strings.ToLower(strings.TrimSpace(h))
		switch {
		case slices.Contains(ignoredColumns, name):
			continue
		case !slices.Contains(Columns, name):
			return nil, &errFile{fmt.Sprintf("Line 1: unknown column %q; the columns are %s.", clip(h, 40), strings.Join(Columns, ", "))}
		}
		if _, dup := rr.header[name]; dup {
			return nil, &errFile{fmt.Sprintf("Line 1: the column %q appears twice.", name)}
		}
		rr.header[name] = i
	}
	if _, ok := rr.header["name"]; !ok {
		return nil, &errFile{"Line 1: the header has no name column; the columns are " + strings.Join(Columns, ", ") + "."}
	}
	return rr, nil
}

// next returns the next row, io.EOF after the last, or an *errFile for a
// CSV syntax error (an unclosed quote would swallow the rest of the file:
// nothing after it can be trusted).
func (rr *rowReader) next() (row, error) {
	rec, err := rr.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return row{}, io.EOF
		}
		return row{}, syntaxError(err)
	}
	line, _ := rr.r.FieldPos(0)
	r := row{line: line}
	for _, f := range rec {
		r.bytes += len(f) + 1
		if len(f) > maxFieldBytes {
			r.err = gw.Errorf(gw.EINVALID, "A cell is longer than %d KiB.", maxFieldBytes>>10)
			return r, nil
		}
	}
	if len(rec) != rr.width {
		r.err = gw.Errorf(gw.EINVALID, "This row has %d cells; the header has %d.", len(rec), rr.width)
		return r, nil
	}
	r.in, r.err = rr.input(rec)
	return r, nil
}

// input turns a record into a contact, validated by contacts.Validate.
func (rr *rowReader) input(rec []string) (contacts.Input, error) {
	var in contacts.Input
	cell := func(col string) (string, bool) {
		i, ok := rr.header[col]
		if !ok {
			return "", false
		}
		return rec[i], true
	}
	str := func(col string) *string {
		if v, ok := cell(col); ok {
			return &v
		}
		return nil
	}
	in.Name, in.Email, in.Phone, in.Company = str("name"), str("email"), str("phone"), str("company")
	fields := map[string]string{}
	if v, ok := cell("tags"); ok {
		tags, err := parseTags(v)
		if err != nil {
			fields["tags"] = err.Error()
		}
		in.Tags = &tags
	}
	if v, ok := cell("custom"); ok {
		custom, err := parseCustom(v)
		if err != nil {
			fields["custom"] = err.Error()
		}
		in.Custom = &custom
	}
	out, err := contacts.Validate(in)
	if len(fields) == 0 {
		return out, err
	}
	// Report the other fields' defects too: one pass over the file tells
	// everything that is wrong with a row.
	if ge, ok := errors.AsType[*gw.Error](err); ok {
		for k, v := range ge.Fields {
			if _, set := fields[k]; !set {
				fields[k] = v
			}
		}
	}
	return in, &gw.Error{Code: gw.EINVALID, Message: "Check the highlighted fields.", Fields: fields}
}

// parseTags reads a tags cell: a JSON array of strings (as exports write
// it) or a comma-separated list; empty for none.
func parseTags(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return []string{}, nil
	}
	if strings.HasPrefix(v, "[") {
		var tags []string
		if err := json.Unmarshal([]byte(v), &tags); err != nil {
			return nil, errors.New("Tags must be a JSON array of text, or a comma-separated list.")
		}
		return tags, nil
	}
	return strings.Split(v, ","), nil
}

// parseCustom reads a custom cell: a JSON object (as exports write it);
// empty for none.
func parseCustom(v string) (map[string]any, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return map[string]any{}, nil
	}
	d := json.NewDecoder(strings.NewReader(v))
	d.UseNumber()
	var custom map[string]any
	if err := d.Decode(&custom); err != nil || custom == nil || d.More() {
		return nil, errors.New(`Custom fields must be a JSON object, such as {"tier": "gold"}.`)
	}
	return custom, nil
}

// syntaxError is err (from encoding/csv) as an *errFile naming its line.
func syntaxError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &errFile{fmt.Sprintf("Line %d: the file is not valid CSV (%v). Nothing was imported: fix the file and import it again.",
			pe.Line, pe.Err)}
	}
	return err
}

// messages are the reasons err gives for rejecting a row: one per field,
// in field order, or its message.
func messages(err error) []string {
	var ge *gw.Error
	if errors.As(err, &ge) && len(ge.Fields) > 0 {
		keys := make([]string, 0, len(ge.Fields))
		for k := range ge.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = k + ": " + ge.Fields[k]
		}
		return out
	}
	return []string{gw.ErrorMessage(err)}
}

// clip shortens s to n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
