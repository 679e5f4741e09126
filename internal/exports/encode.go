package exports

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// rawJSON is a value already encoded as JSON (null when empty).
type rawJSON json.RawMessage

// hexString is bytes written as lower-case hex.
type hexString []byte

// encoder writes rows of one table in one format.
type encoder interface {
	// header starts the table with its columns.
	header(columns []string) error
	// row writes one row, its values in column order.
	row(values []any) error
	// flush writes what is buffered.
	flush() error
}

// newEncoder returns an encoder of format writing to w.
func newEncoder(format string, w io.Writer) encoder {
	if format == FormatJSONL {
		return &jsonlEncoder{w: w}
	}
	return &csvEncoder{w: csv.NewWriter(w)}
}

// csvEncoder writes RFC 4180 CSV with a header row. Times are RFC 3339 in
// UTC; lists and objects are JSON; empty JSON values are empty cells.
type csvEncoder struct {
	w      *csv.Writer
	record []string
}

func (e *csvEncoder) header(columns []string) error {
	e.record = make([]string, len(columns))
	return e.w.Write(columns)
}

func (e *csvEncoder) row(values []any) error {
	for i, v := range values {
		s, err := cell(v)
		if err != nil {
			return err
		}
		e.record[i] = s
	}
	return e.w.Write(e.record)
}

func (e *csvEncoder) flush() error {
	e.w.Flush()
	return e.w.Error()
}

// cell is v as a CSV cell.
func cell(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case bool:
		return strconv.FormatBool(v), nil
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano), nil
	case rawJSON:
		return string(v), nil
	case hexString:
		return hex.EncodeToString(v), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode cell: %w", err)
	}
	return string(b), nil
}

// jsonlEncoder writes one JSON object per line, keys in column order.
type jsonlEncoder struct {
	w       io.Writer
	columns [][]byte // the encoded keys, with their colon
	buf     bytes.Buffer
}

func (e *jsonlEncoder) header(columns []string) error {
	e.columns = make([][]byte, len(columns))
	for i, c := range columns {
		k, err := json.Marshal(c)
		if err != nil {
			return err
		}
		e.columns[i] = append(k, ':')
	}
	return nil
}

func (e *jsonlEncoder) row(values []any) error {
	e.buf.Reset()
	e.buf.WriteByte('{')
	for i, v := range values {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		e.buf.Write(e.columns[i])
		switch v := v.(type) {
		case rawJSON:
			if len(v) == 0 {
				e.buf.WriteString("null")
			} else {
				e.buf.Write(v)
			}
			continue
		case hexString:
			v2 := hex.EncodeToString(v)
			b, _ := json.Marshal(v2)
			e.buf.Write(b)
			continue
		case time.Time:
			e.buf.WriteByte('"')
			e.buf.WriteString(v.UTC().Format(time.RFC3339Nano))
			e.buf.WriteByte('"')
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode value: %w", err)
		}
		e.buf.Write(b)
	}
	e.buf.WriteString("}\n")
	_, err := e.w.Write(e.buf.Bytes())
	return err
}

func (e *jsonlEncoder) flush() error { return nil }

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
