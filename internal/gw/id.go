package gw

import "github.com/google/uuid"

// NewID returns a new UUIDv7 (RFC 9562) in canonical string form: random but
// time-ordered, so that primary keys stay index-friendly.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}
