package exports

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// flushAt is how many encoded bytes an encoder gathers before it writes
// them: few large writes into gzip, and flat memory.
const flushAt = 64 << 10

// encoder writes the rows of one table in one format into a buffer it
// reuses, and writes the buffer to w every flushAt bytes. A row is its
// values, one call each in column order, then end. The contacts' values
// (bytes) are encoded without allocating and without reflection: a large
// export spends its time reading, decrypting and compressing, not
// encoding.
//
// CSV is RFC 4180 with a header row (as encoding/csv writes it: a field is
// quoted when it holds a comma, a quote, a line break or begins with a
// space, "\n" ends a record). Times are RFC 3339 in UTC; lists and objects
// are JSON; an empty JSON value is an empty cell. JSON Lines is one object
// per line, keys in column order, an empty JSON value null.
type encoder struct {
	jsonl   bool
	w       io.Writer
	buf     []byte
	keys    [][]byte // JSON Lines: each column's key with its colon
	col     int      // the value the next call writes
	scratch bytes.Buffer
	// rows counts the rows ended; every every rows, end writes the buffer
	// and calls onRows (progress, cancellation and pacing).
	rows   int64
	every  int64
	onRows func() error
}

// newEncoder returns an encoder of format writing to w.
func newEncoder(format string, w io.Writer) *encoder {
	return &encoder{jsonl: format == FormatJSONL, w: w, buf: make([]byte, 0, flushAt+4<<10)}
}

// header starts the table with its columns.
func (e *encoder) header(columns []string) error {
	if e.jsonl {
		e.keys = make([][]byte, len(columns))
		for i, c := range columns {
			e.keys[i] = append(appendJSONString(nil, []byte(c)), ':')
		}
		return nil
	}
	for _, c := range columns {
		e.str(c)
	}
	e.buf = append(e.buf, '\n')
	e.col = 0
	return nil
}

// next starts a value: a separator, and in JSON Lines its key.
func (e *encoder) next() {
	if e.jsonl {
		if e.col == 0 {
			e.buf = append(e.buf, '{')
		} else {
			e.buf = append(e.buf, ',')
		}
		e.buf = append(e.buf, e.keys[e.col]...)
	} else if e.col > 0 {
		e.buf = append(e.buf, ',')
	}
	e.col++
}

// text writes a string value given as bytes.
func (e *encoder) text(b []byte) {
	e.next()
	if e.jsonl {
		e.buf = appendJSONString(e.buf, b)
	} else {
		e.buf = appendCSVField(e.buf, b)
	}
}

// str writes a string value (for members and audit events, read as Go
// strings; the conversion copies strings longer than 32 bytes).
func (e *encoder) str(s string) {
	e.next()
	if e.jsonl {
		e.buf = appendJSONString(e.buf, []byte(s))
	} else {
		e.buf = appendCSVField(e.buf, []byte(s))
	}
}

// strList writes a list of strings, as a JSON array.
func (e *encoder) strList(list [][]byte) {
	e.next()
	if e.jsonl {
		e.buf = appendJSONStrings(e.buf, list)
		return
	}
	e.scratch.Reset()
	e.scratch.Write(appendJSONStrings(e.scratch.AvailableBuffer(), list))
	e.buf = appendCSVField(e.buf, e.scratch.Bytes())
}

// json writes a JSON value (an object or a list), compacted; empty is
// null in JSON Lines and an empty cell in CSV.
func (e *encoder) json(b []byte) error {
	e.next()
	if len(b) == 0 {
		if e.jsonl {
			e.buf = append(e.buf, "null"...)
		}
		return nil
	}
	e.scratch.Reset()
	if err := json.Compact(&e.scratch, b); err != nil {
		return fmt.Errorf("encode value: %w", err)
	}
	if e.jsonl {
		e.buf = append(e.buf, e.scratch.Bytes()...)
	} else {
		e.buf = appendCSVField(e.buf, e.scratch.Bytes())
	}
	return nil
}

// time writes t in RFC 3339 (with nanoseconds where it has them) in UTC.
func (e *encoder) time(t time.Time) {
	e.next()
	if e.jsonl {
		e.buf = append(e.buf, '"')
	}
	e.buf = t.UTC().AppendFormat(e.buf, time.RFC3339Nano)
	if e.jsonl {
		e.buf = append(e.buf, '"')
	}
}

// int writes n.
func (e *encoder) int(n int64) {
	e.next()
	e.buf = strconv.AppendInt(e.buf, n, 10)
}

// bool writes v as true or false.
func (e *encoder) bool(v bool) {
	e.next()
	e.buf = strconv.AppendBool(e.buf, v)
}

// hex writes b as a lower-case hex string.
func (e *encoder) hex(b []byte) {
	e.next()
	if e.jsonl {
		e.buf = append(e.buf, '"')
	}
	e.buf = hex.AppendEncode(e.buf, b)
	if e.jsonl {
		e.buf = append(e.buf, '"')
	}
}

// end ends a row; it writes the buffer once it holds flushAt bytes, and
// calls onRows every every rows after writing it.
func (e *encoder) end() error {
	if e.jsonl {
		e.buf = append(e.buf, "}\n"...)
	} else {
		e.buf = append(e.buf, '\n')
	}
	e.col = 0
	e.rows++
	if len(e.buf) >= flushAt {
		if err := e.flush(); err != nil {
			return err
		}
	}
	if e.onRows != nil && e.every > 0 && e.rows%e.every == 0 {
		if err := e.flush(); err != nil {
			return err
		}
		return e.onRows()
	}
	return nil
}

// flush writes what is buffered.
func (e *encoder) flush() error {
	if len(e.buf) == 0 {
		return nil
	}
	_, err := e.w.Write(e.buf)
	e.buf = e.buf[:0]
	return err
}

// appendCSVField appends b as a CSV field, quoted where encoding/csv
// would quote it.
func appendCSVField(dst, b []byte) []byte {
	if !csvNeedsQuotes(b) {
		return append(dst, b...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(b, '"')
		if i < 0 {
			break
		}
		dst = append(dst, b[:i+1]...)
		dst = append(dst, '"')
		b = b[i+1:]
	}
	dst = append(dst, b...)
	return append(dst, '"')
}

// csvNeedsQuotes is encoding/csv's fieldNeedsQuotes with a comma.
func csvNeedsQuotes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if len(b) == 2 && b[0] == '\\' && b[1] == '.' {
		return true
	}
	for _, c := range b {
		if c == '\n' || c == '\r' || c == '"' || c == ',' {
			return true
		}
	}
	r, _ := utf8.DecodeRune(b)
	return unicode.IsSpace(r)
}

// appendJSONStrings appends list as a JSON array of strings.
func appendJSONStrings(dst []byte, list [][]byte) []byte {
	dst = append(dst, '[')
	for i, s := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// appendJSONString appends b as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, and
// U+2028 and U+2029 escaped (as encoding/json does, minus its HTML
// escaping, which a data file does not need).
func appendJSONString(dst, b []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, b[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, b[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, b[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}

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
