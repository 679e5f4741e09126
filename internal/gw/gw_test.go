package gw

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestErrorCodeAndMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"nil", nil, "", ""},
		{"kernel error", Errorf(ENOTFOUND, "contact %s not found", "x"), ENOTFOUND, "contact x not found"},
		{"wrapped kernel error", fmt.Errorf("load contact: %w", Errorf(EINVALID, "bad email")), EINVALID, "bad email"},
		{"plain error is internal and hidden", errors.New("pq: password=hunter2"), EINTERNAL, "An internal error has occurred."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.wantCode, ErrorCode(tt.err))
			require.Equal(t, tt.wantMsg, ErrorMessage(tt.err))
		})
	}
}

func TestNewIDIsOrderedUUIDv7(t *testing.T) {
	t.Parallel()
	a, b := NewID(), NewID()
	for _, id := range []string{a, b} {
		u, err := uuid.Parse(id)
		require.NoError(t, err)
		require.EqualValues(t, 7, u.Version())
	}
	require.NotEqual(t, a, b)
	require.LessOrEqual(t, a[:13], b[:13], "the leading timestamp never goes backwards")
}

func TestRequestIDContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	require.Empty(t, RequestID(ctx))
	require.Equal(t, "abc", RequestID(WithRequestID(ctx, "abc")))
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	id := NewID()
	cursor := Cursor(id)
	require.Len(t, cursor, 22, "16 bytes in unpadded base64url")
	got, ok := ParseCursor(cursor)
	require.True(t, ok)
	require.Equal(t, id, got)

	for _, bad := range []string{"!!!", "YWJj", cursor + "A", id} {
		_, ok := ParseCursor(bad)
		require.False(t, ok, bad)
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{NewID(), true},
		{"0190a8f4-1c2d-7e3f-8a4b-5c6d7e8f9a0b", true},
		{"0190A8F4-1C2D-7E3F-8A4B-5C6D7E8F9A0B", true},
		{"", false},
		{"acme", false},
		{"0190a8f41c2d7e3f8a4b5c6d7e8f9a0b", false},       // no hyphens
		{"{0190a8f4-1c2d-7e3f-8a4b-5c6d7e8f9a0b}", false}, // braces
		{"urn:uuid:0190a8f4-1c2d-7e3f-8a4b-5c6d7e8f9a0b", false},
		{"0190a8f4-1c2d-7e3f-8a4b-5c6d7e8f9a0x", false},
	} {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestPlainName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"Ada Lovelace", true},
		{"Zoë Ørsted-Łukasz", true},
		{"میرزا\u200cعلی", true}, // ZWNJ inside a Persian name
		{"👩\u200d💻 Team", true},  // ZWJ emoji sequence
		{"", true},
		{"evil\u202egpj.exe", false}, // RIGHT-TO-LEFT OVERRIDE
		{"a\u2066b\u2069", false},    // isolates
		{"\u200bAcme", false},        // ZERO WIDTH SPACE
		{"Ac\u2060me", false},        // WORD JOINER
		{"\ufeffAcme", false},        // BOM
		{"Ac\u00adme", false},        // soft hyphen
		{"line\nbreak", false},
		{"nul\x00", false},
		{"bad \xff", false},
	} {
		require.Equal(t, tt.ok, PlainName(tt.name), "%q", tt.name)
	}
}
