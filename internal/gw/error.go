package gw

import (
	"errors"
	"fmt"
)

// Error codes shared by every module. Stores translate driver errors into
// them, services return them, and the web layer maps each to one HTTP status.
const (
	ECONFLICT     = "conflict"      // the action conflicts with current state (e.g. duplicate)
	EFORBIDDEN    = "forbidden"     // the caller may not do this
	EINTERNAL     = "internal"      // a bug or an unavailable dependency; never shown in detail
	EINVALID      = "invalid"       // the input fails validation
	EMALFORMED    = "malformed"     // the request cannot be parsed (e.g. broken JSON)
	ENOTFOUND     = "not_found"     // the object does not exist or is not visible to the caller
	EUNAUTHORIZED = "unauthorized"  // the caller is not authenticated
	EUNAVAILABLE  = "unavailable"   // a dependency is temporarily unavailable; retry later
	ERATELIMIT    = "rate_limited"  // the caller exceeded a rate limit
	ETOOLARGE     = "too_large"     // the request body or a value is larger than allowed
	EUNSUPPORTED  = "not_supported" // the operation or media type is not supported
)

// Error is an application error carrying a kernel code and a message that is
// safe to show to the caller. Fields optionally names per-field problems.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of the first *Error in err's
// chain, and a generic message for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "An internal error has occurred."
}
