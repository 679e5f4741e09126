package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Media types of JSON request bodies.
const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json" // RFC 7396, accepted by PATCH
)

// errNotObject answers a body that is JSON but not an object ([1,2], "x",
// null).
var errNotObject = gw.Errorf(gw.EINVALID, `The body must be a JSON object, such as {"name": "Ada"}.`)

// decodeJSON reads the request body, which must be one JSON object, into v,
// a pointer to a struct whose fields carry json tags. It refuses a media type
// other than mediaTypes (application/json when none is given; a request
// without Content-Type is read as JSON) with EUNSUPPORTED; malformed JSON,
// trailing data and bytes that are not UTF-8 with EMALFORMED (400); a body
// that is JSON but not an object with EINVALID (422); and a body over the
// limit with its *http.MaxBytesError (413). Every unknown field and every
// value of the wrong type is reported at once, in one EINVALID error whose
// Fields name each of them. A field of type optional[T] learns whether it
// was sent and whether it was null.
func decodeJSON(r *http.Request, v any, mediaTypes ...string) error {
	if len(mediaTypes) == 0 {
		mediaTypes = []string{mediaJSON}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !containsFold(mediaTypes, mt) {
			return gw.Errorf(gw.EUNSUPPORTED, "Send the body as %s.", strings.Join(mediaTypes, " or "))
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonError(err)
	}
	return decodeJSONBytes(body, v)
}

// decodeJSONBytes is decodeJSON after the media type check: body into v.
func decodeJSONBytes(body []byte, v any) error {
	// encoding/json would quietly turn bytes that are not UTF-8 into U+FFFD.
	if !utf8.Valid(body) {
		return errUnstorableText
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return gw.Errorf(gw.EMALFORMED, "The body must hold a single JSON value.")
	}
	if raw[0] != '{' {
		return errNotObject
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return jsonError(err)
	}
	return decodeFields(obj, v)
}

// decodeFields stores each member of obj in the field of the struct v
// points to whose json tag names it, and reports every unknown member and
// every value of the wrong type together.
func decodeFields(obj map[string]json.RawMessage, v any) error {
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	byName := make(map[string]int, rt.NumField())
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			byName[name] = i
		}
	}
	fields := map[string]string{}
	for name, value := range obj {
		i, ok := byName[name]
		if !ok {
			fields[name] = "Unknown field."
			continue
		}
		f := rv.Field(i)
		if err := json.Unmarshal(value, f.Addr().Interface()); err != nil {
			fields[name] = fieldError(err, f.Type())
		}
	}
	if len(fields) > 0 {
		return &gw.Error{Code: gw.EINVALID, Message: invalidFieldsMessage, Fields: fields}
	}
	return nil
}

// invalidFieldsMessage is the message of a 422 whose fields say what is
// wrong with each field.
const invalidFieldsMessage = "Some fields are invalid; see fields."

// fieldError is the message for a field whose value, of Go type t, could not
// be decoded.
func fieldError(err error, t reflect.Type) string {
	if e, ok := errors.AsType[*gw.Error](err); ok {
		return e.Message
	}
	return "Must be " + describeType(t) + "."
}

// describeType names the JSON a Go type t is read from.
func describeType(t reflect.Type) string {
	if o, ok := reflect.New(t).Interface().(interface{ describe() string }); ok {
		return o.describe()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array of " + plural(describeType(t.Elem()))
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Interface:
		return "a JSON value"
	default:
		return "a number"
	}
}

// plural turns "a string" into "strings", "an object" into "objects".
func plural(s string) string {
	for _, p := range []string{"a ", "an "} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest + "s"
		}
	}
	return s
}

// optional is a field of a JSON body that tells an absent member (Set
// false) from null (Set and Null) and from a value (Set, V) — what a JSON
// Merge Patch (RFC 7396) needs.
type optional[T any] struct {
	Set, Null bool
	V         T
}

// UnmarshalJSON records that the member was present, and whether it was
// null.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// describe names the JSON the field holds, for error messages.
func (o *optional[T]) describe() string {
	return describeType(reflect.TypeFor[T]())
}

// ptr returns a pointer to the value, or nil when the member was absent or
// null.
func (o optional[T]) ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.V
	return &v
}

func jsonError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return err
	}
	if errors.Is(err, io.EOF) {
		return gw.Errorf(gw.EMALFORMED, "The body is empty; send a JSON object.")
	}
	return gw.Errorf(gw.EMALFORMED, "The body is not valid JSON.")
}

// containsFold reports whether list holds s, ignoring case (media types are
// case-insensitive).
func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// mediaTypeOf returns r's media type, lower-cased; "" without Content-Type.
func mediaTypeOf(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}
