package web

import (
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// The JSON of contacts, the API's largest and most frequent answers, is
// written by hand instead of by encoding/json's reflection: a list of 50
// spent a fifth of its CPU time and a quarter of its allocations in
// json.Marshal (issue 14). The bytes are exactly json.Marshal's (same
// field order, strings escaped the same way,
// HTML characters included, numbers formatted the same), which
// contact_json_test.go checks against json.Marshal itself; a value the fast
// path does not know (a custom field that is neither string, float64,
// bool nor nil) makes it give way to json.Marshal. One difference: custom
// fields are written in the order they were entered (contactJSON's
// CustomKeys), where json.Marshal sorts them by name; without CustomKeys
// (and in the json.Marshal fallback, which values read from the database
// never take) they are sorted too.

// jsonAppender is a response body that can append its own JSON, as
// json.Marshal would write it, to b; ok is false when it cannot, and
// writeJSON then uses json.Marshal.
type jsonAppender interface {
	appendJSON(b []byte) (out []byte, ok bool)
}

// responseBuffers recycles the buffers of appended JSON bodies. Buffers
// grown past maxPooledBuffer (an unusually large page) are dropped rather
// than kept.
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooledBuffer is the largest buffer responseBuffers keeps.
const maxPooledBuffer = 256 << 10

// appendJSONBody returns v's JSON followed by a newline, appended to a
// pooled buffer, and a function that gives the buffer back once written;
// ok is false when v cannot append itself.
func appendJSONBody(v jsonAppender) (body []byte, release func(), ok bool) {
	bp := responseBuffers.Get().(*[]byte)
	b, ok := v.appendJSON((*bp)[:0])
	if !ok {
		responseBuffers.Put(bp)
		return nil, nil, false
	}
	b = append(b, '\n')
	return b, func() {
		if cap(b) <= maxPooledBuffer {
			*bp = b[:0]
			responseBuffers.Put(bp)
		}
	}, true
}

// appendJSON implements jsonAppender.
func (c contactJSON) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, c.Name)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, c.Email)
	b = append(b, `,"phone":`...)
	b = appendJSONString(b, c.Phone)
	b = append(b, `,"company":`...)
	b = appendJSONString(b, c.Company)
	b = append(b, `,"tags":`...)
	if c.Tags == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range c.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, t)
		}
		b = append(b, ']')
	}
	b = append(b, `,"custom":`...)
	b, ok := appendJSONScalars(b, c.Custom, c.CustomKeys)
	if !ok {
		return b, false
	}
	b = append(b, `,"created_at":`...)
	if b, ok = appendJSONTime(b, c.CreatedAt); !ok {
		return b, false
	}
	b = append(b, `,"updated_at":`...)
	if b, ok = appendJSONTime(b, c.UpdatedAt); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// appendJSON implements jsonAppender.
func (l contactList) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"data":`...)
	if l.Data == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range l.Data {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = c.appendJSON(b); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"next_cursor":`...)
	if l.NextCursor == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *l.NextCursor)
	}
	return append(b, '}'), true
}

// appendJSONScalars appends m, a map of strings, float64s, bools and nils,
// with its keys in order, which must then name each key of m once (a
// Contact's CustomKeys), or, given an order of another length, sorted as
// json.Marshal sorts them; ok is false for a value of any other type.
func appendJSONScalars(b []byte, m map[string]any, order []string) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	keys := order
	if len(order) != len(m) {
		var stack [16]string
		keys = stack[:0]
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys) // json.Marshal compares the keys as strings too
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		switch v := m[k].(type) {
		case nil:
			b = append(b, "null"...)
		case string:
			b = appendJSONString(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case float64:
			var ok bool
			if b, ok = appendJSONFloat(b, v); !ok {
				return b, false
			}
		default:
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendJSONFloat appends f as json.Marshal writes a float64 (ES6 number
// formatting); ok is false for NaN and infinities, which json.Marshal
// refuses.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as in json.Marshal.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendJSONTime appends t as time.Time's MarshalJSON writes it (RFC 3339
// with nanoseconds, trailing zeros dropped); ok is false for a year
// outside 0–9999, which MarshalJSON refuses.
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// jsonHex is the digits of json.Marshal's \u escapes.
const jsonHex = "0123456789abcdef"

// appendJSONString appends s quoted as json.Marshal quotes a string: <, >
// and & escaped as \u003c, \u003e and \u0026, control characters escaped,
// invalid UTF-8 replaced by \ufffd, and U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', jsonHex[c>>4], jsonHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', jsonHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
