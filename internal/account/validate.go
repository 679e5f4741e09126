package account

import (
	"net/mail"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// maxEmailLen is the longest address that fits in SMTP's forward-path.
const maxEmailLen = 254

// normalizeEmail trims and lower-cases an email address.
func normalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// emailProblem returns what is wrong with a normalised email address, or ""
// if nothing is. Only a bare address (no display name) with a dotted
// domain is accepted.
func emailProblem(email string) string {
	if email == "" {
		return "Enter your email address."
	}
	if len(email) > maxEmailLen {
		return "Use an email address of at most 254 characters."
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return "Enter a valid email address, like name@example.com."
	}
	local, domain, _ := strings.Cut(email, "@")
	if len(local) > 64 || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "Enter a valid email address, like name@example.com."
	}
	return ""
}

// invalidFields returns an EINVALID error naming the problems of the given
// fields, as pairs of field name and problem, or nil when every problem is
// "". Its message lists the problems in order.
func invalidFields(pairs ...string) error {
	var e *gw.Error
	for i := 0; i+1 < len(pairs); i += 2 {
		field, problem := pairs[i], pairs[i+1]
		if problem == "" {
			continue
		}
		if e == nil {
			e = &gw.Error{Code: gw.EINVALID, Fields: map[string]string{}}
		} else {
			e.Message += " "
		}
		e.Fields[field] = problem
		e.Message += problem
	}
	if e == nil {
		return nil
	}
	return e
}
