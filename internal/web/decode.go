package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// decodeJSON reads the request body as one JSON value into v. It refuses a
// media type other than application/json (EUNSUPPORTED), malformed JSON and
// trailing data or bytes that are not UTF-8 (EMALFORMED, 400), unknown fields and wrong types
// (EINVALID with the field named), and bodies over the limit (413).
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return gw.Errorf(gw.EUNSUPPORTED, "Send the body as application/json.")
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonError(err)
	}
	// encoding/json would quietly turn bytes that are not UTF-8 into U+FFFD.
	if !utf8.Valid(body) {
		return errUnstorableText
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return gw.Errorf(gw.EMALFORMED, "The body must hold a single JSON value.")
	}
	return nil
}

func jsonError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return err
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		e := gw.Errorf(gw.EINVALID, "The body has a value of the wrong type.")
		e.Fields = map[string]string{te.Field: fmt.Sprintf("Must be %s.", jsonKind(te.Type.Kind().String()))}
		return e
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		e := gw.Errorf(gw.EINVALID, "The body has an unknown field.")
		e.Fields = map[string]string{name: "Unknown field."}
		return e
	}
	if errors.Is(err, io.EOF) {
		return gw.Errorf(gw.EMALFORMED, "The body is empty; send a JSON object.")
	}
	return gw.Errorf(gw.EMALFORMED, "The body is not valid JSON.")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "bool":
		return "true or false"
	default:
		return "a number"
	}
}
