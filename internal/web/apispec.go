package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	valerrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Every /api/v1 request is checked against the OpenAPI document before its
// handler runs (withSpecCheck): parameters and JSON bodies, with format
// assertions (email, uuid, date-time). What the document refuses is answered
// as the handlers' own validation answers: one 422 (EINVALID) whose fields
// name each bad field or parameter with a sentence for people. The
// handlers keep only the rules a schema cannot state, each marked in the
// contacts module: surrounding white space is trimmed before lengths count,
// tags are deduplicated, custom fields are at most 16 KiB as JSON, the
// supplementary-plane format characters a name may not hold, and a cursor
// must be one the server issued.

// specValidator is the request validator built from the embedded document.
var specValidator = sync.OnceValue(func() validator.Validator {
	doc, err := libopenapi.NewDocument(openAPIDocument)
	if err != nil {
		panic(fmt.Errorf("read openapi.json: %w", err)) // the embedded document is tested
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions(), config.WithoutSecurityValidation())
	if len(errs) > 0 {
		panic(fmt.Errorf("build the openapi.json validator: %v", errs))
	}
	return v
})

// withSpecCheck answers r with a 422 when the OpenAPI document refuses its
// parameters or its JSON body, before next. A body that is not a JSON object
// (malformed, not UTF-8, an array) and a media type the operation does not
// take are left to the handler, which says exactly what is wrong with them;
// so are other media types' bodies (a CSV import), which are not read here.
func (s *server) withSpecCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt := mediaTypeOf(r)
		hasBody := r.Body != nil && r.Body != http.NoBody && (r.Method == http.MethodPost || r.Method == http.MethodPatch)
		// Nothing to check without a body or a query string (the path's id
		// is the handler's: a malformed one is a 404), and the check costs
		// about 0.1-0.2 ms: the hot reads (GET by id) skip it.
		if !hasBody && r.URL.RawQuery == "" {
			next.ServeHTTP(w, r)
			return
		}
		if hasBody && mt != "" && mt != mediaJSON && mt != mediaMergePatch {
			next.ServeHTTP(w, r)
			return
		}
		vr := r.Clone(r.Context())
		if hasBody {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				s.serveError(w, r, jsonError(err))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if !jsonObject(body) {
				next.ServeHTTP(w, r)
				return
			}
			vr.Body = io.NopCloser(bytes.NewReader(body))
			if mt == "" {
				vr.Header.Set("Content-Type", mediaJSON)
			}
		} else {
			vr.Body = http.NoBody
		}
		if err := checkAgainstSpec(vr); err != nil {
			s.serveError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkAgainstSpec checks r against the OpenAPI document: nil, or
// specError's 422.
//
// The answers for GET requests are remembered (the last getChecksKept of
// them) by path and query string, all a GET's check depends on (the
// document declares no header parameter on a GET, and a GET has no body):
// a list's check costs about 40 µs, 7 % of its CPU, and clients repeat a
// few query strings (limit=50, their filters).
func checkAgainstSpec(r *http.Request) error {
	if r.Method != http.MethodGet {
		return specError(validate(r))
	}
	key := r.URL.Path + "?" + r.URL.RawQuery
	if err, ok := getChecks.Get(key); ok {
		return err
	}
	err := specError(validate(r))
	getChecks.Add(key, err)
	return err
}

// validate returns what the document's validator finds wrong with r.
func validate(r *http.Request) []*valerrors.ValidationError {
	_, errs := specValidator().ValidateHttpRequestSync(r)
	return errs
}

// getChecksKept is how many GET answers checkAgainstSpec remembers.
const getChecksKept = 4096

// getChecks are checkAgainstSpec's remembered answers.
var getChecks = func() *lru.Cache[string, error] {
	c, err := lru.New[string, error](getChecksKept)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return c
}()

// jsonObject reports whether body is one well-formed JSON object in UTF-8.
func jsonObject(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{' && utf8.Valid(body) && json.Valid(body)
}

// specError turns the validator's findings into one EINVALID error naming
// each field or parameter; nil when none of them is about the request's
// parameters or body (security is the handler's: a missing key is a 401).
func specError(errs []*valerrors.ValidationError) error {
	fields := map[string]string{}
	set := func(name, msg string) {
		if _, ok := fields[name]; !ok && name != "" {
			fields[name] = msg
		}
	}
	for _, e := range errs {
		switch e.ValidationType {
		case "parameter", "query", "header", "cookie": // a malformed path id is the handler's 404
			if e.ParameterName == "" || strings.HasPrefix(e.Message, "Path parameter") {
				continue
			}
			msg := ""
			for _, f := range e.SchemaValidationErrors {
				msg = failureMessage(e.ParameterName, f)
				break
			}
			if msg == "" {
				msg = parameterMessage(e)
			}
			set(e.ParameterName, msg)
		case "request", "requestBody":
			if len(e.SchemaValidationErrors) == 0 {
				continue
			}
			for _, f := range e.SchemaValidationErrors {
				for _, name := range failureFields(f) {
					set(name, failureMessage(name, f))
				}
			}
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return &gw.Error{Code: gw.EINVALID, Message: invalidFieldsMessage, Fields: fields}
}

var (
	quotedNames = regexp.MustCompile(`'([^']*)'`)
	wantNumber  = regexp.MustCompile(`want ([0-9.]+)`)
	wantTypes   = regexp.MustCompile(`want ([a-z, ]+(?: or [a-z]+)*)$`)
)

// failureFields names the top-level body fields a schema failure is about:
// the first segment of its instance path, or, for a failure on the object
// itself (a missing or unknown property), the properties its reason quotes.
func failureFields(f *valerrors.SchemaValidationFailure) []string {
	if len(f.InstancePath) > 0 {
		return []string{f.InstancePath[0]}
	}
	if rest, ok := strings.CutPrefix(f.KeywordLocation, "/properties/"); ok {
		name, _, _ := strings.Cut(rest, "/")
		return []string{name}
	}
	switch keyword(f.KeywordLocation) {
	case "required", "additionalProperties":
		var names []string
		for _, m := range quotedNames.FindAllStringSubmatch(f.Reason, -1) {
			names = append(names, m[1])
		}
		return names
	}
	return nil
}

// keyword is the last segment of a JSON pointer into a schema.
func keyword(loc string) string {
	return loc[strings.LastIndexByte(loc, '/')+1:]
}

// failureMessage is a sentence for people about field's schema failure f.
func failureMessage(field string, f *valerrors.SchemaValidationFailure) string {
	kw := keyword(f.KeywordLocation)
	if strings.Contains(f.KeywordLocation, "/propertyNames/") {
		kw = "propertyNames"
	}
	want := ""
	if m := wantNumber.FindStringSubmatch(f.Reason); m != nil {
		want = m[1]
	}
	switch {
	case field == "email" && kw != "maxLength" && kw != "type":
		return "Enter a valid email address, or \"\" for none."
	case field == "phone" && kw == "pattern":
		return "Enter a valid phone number: digits, spaces and + - ( ) . only, with at least one digit."
	case field == "custom" && kw == "type":
		return "Each custom field must be text, a number, true, false or null."
	case kw == "type" && strings.Contains(f.Reason, "not a valid integer"):
		return "Must be a whole number."
	case field == "name" && kw == "pattern":
		return "Name must be plain text on one line, without direction-changing or invisible characters."
	}
	switch kw {
	case "required":
		return "Required."
	case "additionalProperties":
		if len(f.InstancePath) == 0 {
			return "Unknown field."
		}
		return "Must be text, a number, true, false or null."
	case "maxLength":
		return "Must be at most " + want + " characters."
	case "minLength":
		if want == "1" {
			return "Must not be empty."
		}
		return "Must be at least " + want + " characters."
	case "pattern":
		return "Must be plain text on one line, without control characters."
	case "maxItems":
		return "Use at most " + want + " items."
	case "maxProperties":
		return "Use at most " + want + " fields."
	case "propertyNames":
		return "Field names must be 1 to 64 characters of plain text on one line."
	case "minimum":
		return "Must be at least " + want + "."
	case "maximum":
		return "Must be at most " + want + "."
	case "type":
		if m := wantTypes.FindStringSubmatch(f.Reason); m != nil {
			return "Must be " + article(m[1]) + "."
		}
		return "Has a value of the wrong type."
	case "format":
		return "Must be " + formatName(f.Reason) + "."
	case "enum", "const":
		var values []string
		for _, m := range quotedNames.FindAllStringSubmatch(f.Reason, -1) {
			values = append(values, m[1])
		}
		if len(values) > 0 {
			return "Must be one of: " + strings.Join(values, ", ") + "."
		}
		return "Must be one of the allowed values."
	}
	return "Is not valid."
}

// parameterMessage is a sentence about a parameter that failed other than by
// its schema (a value that is not a number, say).
func parameterMessage(e *valerrors.ValidationError) string {
	r := strings.ToLower(e.Message + " " + e.Reason)
	switch {
	case strings.Contains(r, "integer") || strings.Contains(r, "number"):
		return "Must be a whole number."
	case strings.Contains(r, "uuid"):
		return "Must be an ID (a UUID)."
	case strings.Contains(r, "date-time") || strings.Contains(r, "date"):
		return "Give a time as 2026-01-02T15:04:05Z (RFC 3339)."
	}
	return "Is not valid."
}

// article turns "string or null" into "a string or null".
func article(types string) string {
	parts := strings.Split(types, " or ")
	for i, p := range parts {
		switch p {
		case "null":
		case "array", "integer", "object":
			parts[i] = "an " + p
		default:
			parts[i] = "a " + p
		}
	}
	return strings.Join(parts, " or ")
}

// formatName names the format a failure's reason names, for a message.
func formatName(reason string) string {
	switch {
	case strings.Contains(reason, "email"):
		return "a valid email address"
	case strings.Contains(reason, "uuid"):
		return "an ID (a UUID)"
	case strings.Contains(reason, "date-time"):
		return "a time as 2026-01-02T15:04:05Z (RFC 3339)"
	}
	return "in the documented format"
}
