package contacts

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Limits on a contact's fields. Lengths count characters (runes), after
// surrounding white space is trimmed.
const (
	maxNameLen        = 200
	maxEmailLen       = 254 // RFC 5321's limit on a forward path
	maxPhoneLen       = 40
	maxCompanyLen     = 200
	maxTags           = 20
	maxTagLen         = 40
	maxCustomFields   = 50
	maxCustomKeyLen   = 64
	maxCustomValueLen = 1000
	maxCustomBytes    = 16 << 10 // the custom fields encoded as JSON
)

// Contact is a person in an organisation's address book. (The web package
// gives it its JSON form, the API's Contact schema in
// internal/web/openapi.json.)
type Contact struct {
	// ID is a UUIDv7, so IDs sort by creation time.
	ID string
	// Name is required, 1–200 characters.
	Name string
	// Email, Phone and Company are optional; "" when unknown. Email and
	// Phone are stored encrypted (see store.go).
	Email, Phone, Company string
	// Tags are distinct labels, in the order given; never nil.
	Tags []string
	// Custom holds the organisation's own fields: scalar values (string,
	// number, bool or nil) by name; never nil. Numbers read back from the
	// database are float64.
	Custom map[string]any
	// CustomKeys are the names of Custom in the order they were entered
	// (see orderCustomKeys); never nil.
	CustomKeys []string
	// CreatedAt and UpdatedAt are in UTC, with microsecond precision.
	CreatedAt, UpdatedAt time.Time
}

// Input is a create (all fields) or a partial update (nil = unchanged). To
// clear an optional field, point at its zero value ("", an empty slice or
// map). Strings are trimmed, tags trimmed and deduplicated. An update
// replaces Tags and Custom whole.
type Input struct {
	Name, Email, Phone, Company *string
	Tags                        *[]string
	Custom                      *map[string]any
	// CustomKeys is the order of Custom's names as entered (a form's
	// lines, the API object's members as received); names it leaves out
	// follow, sorted. Read only when Custom is set.
	CustomKeys []string
}

// empty reports whether in changes nothing.
func (in Input) empty() bool {
	return in.Name == nil && in.Email == nil && in.Phone == nil && in.Company == nil &&
		in.Tags == nil && in.Custom == nil
}

// normalize returns in with its strings trimmed and its tags trimmed and
// deduplicated, or a gw.EINVALID error whose Fields hold one message per
// invalid field. A create (create == true) requires a name and fills every
// other nil field with its zero value.
func (in Input) normalize(create bool) (Input, error) {
	fields := map[string]string{}
	var out Input

	if in.Name != nil || create {
		name := strings.TrimSpace(deref(in.Name))
		switch {
		case name == "":
			fields["name"] = "Enter a name."
		case utf8.RuneCountInString(name) > maxNameLen:
			fields["name"] = fmt.Sprintf("Name must be at most %d characters.", maxNameLen)
		case !gw.PlainName(name):
			fields["name"] = "Name must be plain text on one line, without direction-changing or invisible characters."
		}
		out.Name = &name
	}
	if in.Email != nil || create {
		email := strings.TrimSpace(deref(in.Email))
		switch {
		case email == "":
		case utf8.RuneCountInString(email) > maxEmailLen:
			fields["email"] = fmt.Sprintf("Email must be at most %d characters.", maxEmailLen)
		case !isEmail(email):
			fields["email"] = "Enter a valid email address."
		}
		out.Email = &email
	}
	if in.Phone != nil || create {
		phone := strings.TrimSpace(deref(in.Phone))
		switch {
		case phone == "":
		case utf8.RuneCountInString(phone) > maxPhoneLen:
			fields["phone"] = fmt.Sprintf("Phone must be at most %d characters.", maxPhoneLen)
		case !isPhone(phone):
			fields["phone"] = "Enter a valid phone number: digits, spaces and + - ( ) . only."
		}
		out.Phone = &phone
	}
	if in.Company != nil || create {
		company := strings.TrimSpace(deref(in.Company))
		switch {
		case utf8.RuneCountInString(company) > maxCompanyLen:
			fields["company"] = fmt.Sprintf("Company must be at most %d characters.", maxCompanyLen)
		case !isLine(company):
			fields["company"] = "Company must be plain text on one line."
		}
		out.Company = &company
	}
	if in.Tags != nil || create {
		tags, msg := normalizeTags(derefSlice(in.Tags))
		if msg != "" {
			fields["tags"] = msg
		}
		out.Tags = &tags
	}
	if in.Custom != nil || create {
		custom := map[string]any{}
		if in.Custom != nil && *in.Custom != nil {
			custom = *in.Custom
		}
		if msg := validateCustom(custom); msg != "" {
			fields["custom"] = msg
		}
		out.Custom = &custom
		out.CustomKeys = orderCustomKeys(custom, in.CustomKeys)
	}

	if len(fields) > 0 {
		return Input{}, &gw.Error{Code: gw.EINVALID, Message: "Some fields are invalid; see fields.", Fields: fields}
	}
	return out, nil
}

// normalizeTags trims tags and drops duplicates, keeping the first of each.
// It returns a message when the tags are invalid.
func normalizeTags(in []string) ([]string, string) {
	tags := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, tag := range in {
		tag = strings.TrimSpace(tag)
		if tag == "" || utf8.RuneCountInString(tag) > maxTagLen || !isLine(tag) {
			return nil, fmt.Sprintf("Each tag must be 1 to %d characters of plain text.", maxTagLen)
		}
		if !seen[tag] {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	if len(tags) > maxTags {
		return nil, fmt.Sprintf("Use at most %d tags.", maxTags)
	}
	return tags, ""
}

// validateCustom returns a message when custom fields are invalid.
func validateCustom(custom map[string]any) string {
	if len(custom) > maxCustomFields {
		return fmt.Sprintf("Use at most %d custom fields.", maxCustomFields)
	}
	for key, value := range custom {
		if key == "" || utf8.RuneCountInString(key) > maxCustomKeyLen || !isLine(key) {
			return fmt.Sprintf("Custom field names must be 1 to %d characters of plain text.", maxCustomKeyLen)
		}
		switch v := value.(type) {
		case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Sprintf("Custom field %q must be a finite number.", key)
			}
		case float32:
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Sprintf("Custom field %q must be a finite number.", key)
			}
		case json.Number:
			// Valid JSON, and readable back as a float64.
			f, err := v.Float64()
			if _, merr := json.Marshal(v); err != nil || merr != nil || math.IsInf(f, 0) {
				return fmt.Sprintf("Custom field %q must be a finite number.", key)
			}
		case string:
			if utf8.RuneCountInString(v) > maxCustomValueLen {
				return fmt.Sprintf("Custom field %q must be at most %d characters.", key, maxCustomValueLen)
			}
			if !isText(v) {
				return fmt.Sprintf("Custom field %q must be plain text.", key)
			}
		default:
			return fmt.Sprintf("Custom field %q must be text, a number, true, false or null.", key)
		}
	}
	b, err := json.Marshal(custom)
	if err != nil || len(b) > maxCustomBytes {
		return fmt.Sprintf("Custom fields must be at most %d KiB in total.", maxCustomBytes>>10)
	}
	return ""
}

// isEmail reports whether s is a bare address such as ada@example.com: no
// display name, no angle brackets. It is the API's rule (the email of
// ContactCreate in internal/web/openapi.json): JSON Schema's "email" format
// as its validator reads it — a dot-atom local part of at most 64
// characters, an ASCII host name — without the quoted local parts and IP
// literals the format also allows, and that net/mail reads as a bare
// address too.
func isEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 64 || strings.Contains(domain, "@") ||
		strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	for _, r := range local {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".!#$%&'*+-/=?^_`{|}~", r)) {
			return false
		}
	}
	if !isHostname(domain) {
		return false
	}
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Name == "" && addr.Address == s
}

// isHostname reports whether s is an ASCII host name: labels of 1 to 63
// letters, digits and hyphens, not starting or ending with a hyphen, at
// most 253 characters in all (a trailing dot aside).
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) < 1 || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// isPhone reports whether s holds at least one digit and otherwise only
// spaces and + - ( ) .
func isPhone(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +-().", r):
		default:
			return false
		}
	}
	return digits > 0
}

// isText reports whether s is valid UTF-8 without NUL, which PostgreSQL
// cannot store in text or jsonb.
func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// isLine reports whether s is valid UTF-8 without control characters
// (newlines, tabs, NUL).
func isLine(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func derefSlice(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}

// Page sizes of List.
const (
	defaultLimit = 50
	maxLimit     = 200
	maxQueryLen  = 200
)

// ListParams selects a page of contacts.
type ListParams struct {
	// Query, when not empty, keeps the contacts whose name or company
	// contains it, ignoring case, whose email is it (the whole address,
	// ignoring case: emails are stored encrypted and found by a blind
	// index, so a part of an address finds nothing), or that have it as a
	// tag (exactly, case included). % and _ match themselves. At most 200
	// characters.
	Query string
	// Cursor is the NextCursor of the previous page; "" for the first page.
	Cursor string
	// Limit is the page size: 50 when zero or less, at most 200.
	Limit int
	// Sort is the order: one of Sorts, "" for "-created" (newest first).
	// A cursor belongs to its sort; with another it is EINVALID.
	Sort string
}

// Sorts are the orders List knows: by name, company (both ignoring case)
// or creation, ascending, or descending with a leading "-". Email cannot
// be sorted: it is stored encrypted, and its blind index has no order.
var Sorts = []string{"name", "-name", "company", "-company", "created", "-created"}

// listOrders are the SQL of each sort: the key compared (with id after
// it), and the direction. A sort key is compared with lower(), so that
// case does not split the list.
var listOrders = map[string]struct {
	key  string // "" for id alone
	desc bool
}{
	"name": {"lower(name)", false}, "-name": {"lower(name)", true},
	"company": {"lower(company)", false}, "-company": {"lower(company)", true},
	"created": {"", false}, "-created": {"", true},
}

// Page is one page of contacts, newest first.
type Page struct {
	// Contacts are the page's contacts; never nil.
	Contacts []Contact
	// NextCursor fetches the next page; "" on the last page.
	NextCursor string
}

// listQuery is a ListParams checked and turned into query arguments.
type listQuery struct {
	sort    string // a key of listOrders
	after   bool   // a cursor was given: start after (before, key)
	key     string // the cursor's sort key (the name or company as stored)
	before  string // list ids below this one (above, ascending)
	query   string // trimmed ListParams.Query
	pattern string // ILIKE pattern matching names containing query
	limit   int
}

// likeEscaper escapes LIKE's wildcards and its escape character, so that
// they match themselves.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// normalize checks p and returns its query arguments, or a gw.EINVALID error
// naming the field ("q" for the query, "cursor").
func (p ListParams) normalize() (listQuery, error) {
	q := listQuery{before: maxID, query: strings.TrimSpace(p.Query), limit: min(p.Limit, maxLimit), sort: cmp.Or(p.Sort, "-created")}
	if q.limit <= 0 {
		q.limit = defaultLimit
	}
	if _, ok := listOrders[q.sort]; !ok {
		return listQuery{}, &gw.Error{Code: gw.EINVALID, Message: "The sort is not valid.",
			Fields: map[string]string{"sort": "Sort by one of " + strings.Join(Sorts, ", ") + "."}}
	}
	if utf8.RuneCountInString(q.query) > maxQueryLen || !isLine(q.query) {
		return listQuery{}, &gw.Error{Code: gw.EINVALID, Message: "The search is not valid.",
			Fields: map[string]string{"q": fmt.Sprintf("Search for at most %d characters of plain text.", maxQueryLen)}}
	}
	q.pattern = "%" + likeEscaper.Replace(q.query) + "%"
	// Newest first, the first page too lists ids below maxID: every page
	// shares one query plan, a backward scan of the primary key.
	q.after = q.sort == "-created"
	if p.Cursor != "" && q.sort != "-created" {
		var ok bool
		if q.before, q.key, ok = parseSortCursor(q.sort, p.Cursor); !ok {
			return listQuery{}, &gw.Error{Code: gw.EINVALID, Message: "The cursor is not valid.",
				Fields: map[string]string{"cursor": "This cursor is not valid for this sort; start again from the first page."}}
		}
		q.after = true
	} else if p.Cursor != "" {
		id, ok := gw.ParseCursor(p.Cursor)
		if !ok {
			return listQuery{}, &gw.Error{Code: gw.EINVALID, Message: "The cursor is not valid.",
				Fields: map[string]string{"cursor": "This cursor is not valid; start again from the first page."}}
		}
		q.before = id
		q.after = true
	}
	return q, nil
}

// sortCursor is the cursor after c in a list sorted by sort (not
// "-created", whose cursors are gw.Cursor's): the sort, the id and the
// sort key, in URL-safe base64.
func sortCursor(sort string, c Contact) string {
	key := ""
	switch strings.TrimPrefix(sort, "-") {
	case "name":
		key = c.Name
	case "company":
		key = c.Company
	}
	return base64.RawURLEncoding.EncodeToString([]byte(sort + "\x00" + c.ID + "\x00" + key))
}

// parseSortCursor reads a sortCursor made for sort.
func parseSortCursor(sort, cursor string) (id, key string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", "", false
	}
	parts := strings.SplitN(string(b), "\x00", 3)
	if len(parts) != 3 || parts[0] != sort || !gw.ValidID(parts[1]) || !utf8.ValidString(parts[2]) {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// orderCustomKeys returns the names of custom in the order of order (each
// once, those custom has), followed by the names order leaves out, sorted.
func orderCustomKeys(custom map[string]any, order []string) []string {
	if order != nil && namesEachOnce(custom, order) {
		return slices.Clip(order)
	}
	keys := make([]string, 0, len(custom))
	seen := make(map[string]bool, len(custom))
	for _, k := range order {
		if _, ok := custom[k]; ok && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	rest := make([]string, 0, len(custom)-len(keys))
	for k := range custom {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}

// namesEachOnce reports whether order names every field of custom once and
// nothing else, as the custom_keys stored beside it do: then order is
// orderCustomKeys' answer as it is. (Up to 16 names are compared pairwise;
// more go the long way.)
func namesEachOnce(custom map[string]any, order []string) bool {
	if len(order) != len(custom) || len(order) > 16 {
		return false
	}
	for i, k := range order {
		if _, ok := custom[k]; !ok || slices.Contains(order[:i], k) {
			return false
		}
	}
	return true
}
