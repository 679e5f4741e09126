package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// form is a submitted HTML form: its values, to refill the fields, and the
// error messages to show next to each field or at the top.
type form struct {
	Values map[string]string
	Errors map[string]string
	Error  string // a message about the whole form
}

// newForm returns an empty form.
func newForm() *form {
	return &form{Values: map[string]string{}, Errors: map[string]string{}}
}

// parseForm reads the posted fields named in fields (trimmed, except those
// named password*) into a form. A body over the size limit is an error the
// caller passes to s.fail.
func parseForm(r *http.Request, fields ...string) (*form, error) {
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, err
		}
		return nil, gw.Errorf(gw.EINVALID, "The form could not be read.")
	}
	f := newForm()
	for _, name := range fields {
		v := r.PostForm.Get(name)
		if !strings.HasPrefix(name, "password") && !strings.HasPrefix(name, "new_password") && !strings.HasPrefix(name, "current_password") {
			v = strings.TrimSpace(v)
		}
		f.Values[name] = v
	}
	return f, nil
}

// Get returns the value of field name.
func (f *form) Get(name string) string { return f.Values[name] }

// setError records err on the form: field messages of an EINVALID error go
// next to their fields, any other client error's message on top. It reports
// false for internal errors, which the caller must pass to s.fail instead.
func (f *form) setError(err error) bool {
	code := gw.ErrorCode(err)
	if httpStatus(code) >= 500 {
		return false
	}
	if e, ok := errors.AsType[*gw.Error](err); ok && len(e.Fields) > 0 {
		for k, v := range e.Fields {
			f.Errors[k] = v
		}
		if e.Message != "" && len(e.Fields) == 0 {
			f.Error = e.Message
		}
		return true
	}
	f.Error = gw.ErrorMessage(err)
	return true
}

// statusFor is the HTTP status of a form re-rendered because of err.
func statusFor(err error) int { return httpStatus(gw.ErrorCode(err)) }

// remapFields renames the fields of an EINVALID error to the names a page's
// form uses, when one page holds several forms with overlapping names.
func remapFields(err error, names map[string]string) error {
	e, ok := errors.AsType[*gw.Error](err)
	if !ok || len(e.Fields) == 0 {
		return err
	}
	out := &gw.Error{Code: e.Code, Message: e.Message, Fields: map[string]string{}}
	for k, v := range e.Fields {
		if n, ok := names[k]; ok {
			k = n
		}
		out.Fields[k] = v
	}
	return out
}
