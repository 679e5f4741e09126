package gw

import (
	"encoding/base64"

	"github.com/google/uuid"
)

// NewID returns a new UUIDv7 (RFC 9562) in canonical string form: random but
// time-ordered, so that primary keys stay index-friendly.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Cursor returns the opaque keyset-pagination cursor of the page after the
// row with UUID id: the base64url form of its 16 bytes. id must be a valid
// UUID (it comes from the database).
func Cursor(id string) string {
	u := uuid.MustParse(id)
	return base64.RawURLEncoding.EncodeToString(u[:])
}

// ParseCursor returns the UUID in cursor, and whether cursor is well formed.
func ParseCursor(cursor string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", false
	}
	u, err := uuid.FromBytes(b) // fails unless b is 16 bytes long
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// ValidID reports whether s is a UUID in its canonical, hyphenated
// 36-character form, as every ID this application makes is. Checking first
// keeps PostgreSQL from rejecting other strings as malformed input.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
