package contacts

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// decodeCustom decodes the custom column (jsonb's text: an object of
// scalars) into a map, as json.Unmarshal would. The common case, keys and
// strings without escapes, is parsed directly: a list of 50 spent an eighth
// of its CPU time in json.Unmarshal's reflection (issue 14). Anything else
// (escapes, nested values, a malformed text) goes to json.Unmarshal, so
// the result is always json.Unmarshal's. A nil raw (SQL NULL) is a nil
// map.
func decodeCustom(raw []byte) (map[string]any, error) {
	if raw == nil { // SQL NULL
		return nil, nil
	}
	if m, ok := parseFlatObject(raw); ok {
		return m, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// parseFlatObject parses raw, a JSON object whose values are strings,
// numbers, booleans or null and whose strings have no escapes; ok is false
// for anything else.
func parseFlatObject(raw []byte) (m map[string]any, ok bool) {
	p := flatParser{b: raw}
	if !p.skip('{') {
		return nil, false
	}
	m = make(map[string]any, 8)
	if p.skip('}') {
		return m, p.end()
	}
	for {
		k, ok := p.str()
		if !ok || !p.skip(':') {
			return nil, false
		}
		v, ok := p.scalar()
		if !ok {
			return nil, false
		}
		m[k] = v
		if p.skip(',') {
			continue
		}
		if p.skip('}') {
			return m, p.end()
		}
		return nil, false
	}
}

// flatParser reads a JSON text from b at i.
type flatParser struct {
	b []byte
	i int
}

// ws skips white space.
func (p *flatParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// skip skips white space and then c, reporting whether c was there.
func (p *flatParser) skip(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (p *flatParser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// str reads a string without escapes or control characters, in valid
// UTF-8.
func (p *flatParser) str() (string, bool) {
	if !p.skip('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
}

// scalar reads a string, number, boolean or null.
func (p *flatParser) scalar() (any, bool) {
	p.ws()
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.word("true")
	case c == 'f':
		return false, p.word("false")
	case c == 'n':
		return nil, p.word("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		for p.i < len(p.b) {
			c := p.b[p.i]
			if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
				break
			}
			p.i++
		}
		f, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
		return f, err == nil && validJSONNumber(p.b[start:p.i])
	}
	return nil, false
}

// word reads the literal w.
func (p *flatParser) word(w string) bool {
	if len(p.b)-p.i < len(w) || string(p.b[p.i:p.i+len(w)]) != w {
		return false
	}
	p.i += len(w)
	return true
}

// validJSONNumber reports whether s is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validJSONNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
