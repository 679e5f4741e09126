package gw

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// PlainName reports whether s can be shown as a name without deceiving its
// reader: valid UTF-8 without control characters (newlines, tabs, NUL),
// bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and the like, which
// make "gpj.exe" read as "exe.jpg") or invisible format characters such
// as U+200B ZERO WIDTH SPACE, U+2060 WORD JOINER, U+FEFF and the soft
// hyphen, which make two different names look the same. ZERO WIDTH
// NON-JOINER and ZERO WIDTH JOINER (U+200C, U+200D) are allowed: Persian,
// the Indic scripts and emoji sequences need them. This is the check the
// Unicode security guidance (UTS #39, "identifier" profiles) and most
// identity providers apply to display names.
func PlainName(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, deceptive) < 0
}

// deceptive reports whether r is a control, bidirectional control or
// invisible format character (see PlainName).
func deceptive(r rune) bool {
	switch {
	case r == '\u200c' || r == '\u200d':
		return false
	case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r), unicode.Is(unicode.Cf, r):
		return true
	}
	return false
}
