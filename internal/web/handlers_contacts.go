package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// contactJSON is a contact in the JSON API (see openapi.json).
type contactJSON struct {
	ID      string         `json:"id"`
	Name    string         `json:"name"`
	Email   string         `json:"email"`
	Phone   string         `json:"phone"`
	Company string         `json:"company"`
	Tags    []string       `json:"tags"`
	Custom  map[string]any `json:"custom"`
	// CustomKeys is the order Custom is written in (appendJSON).
	CustomKeys []string  `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func toContactJSON(c contacts.Contact) contactJSON {
	j := contactJSON{ID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone, Company: c.Company,
		Tags: c.Tags, Custom: c.Custom, CustomKeys: c.CustomKeys, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	if j.Custom == nil {
		j.Custom = map[string]any{}
	}
	return j
}

// contactBody is the body of POST and PATCH /api/v1/contacts.
//
// PATCH is a JSON Merge Patch (RFC 7396), sent as application/json or
// application/merge-patch+json: an absent member leaves its field
// unchanged, null clears an optional field (email, phone and company become
// "", tags [], custom {}), and a value replaces the field. POST reads null
// for an optional field as "none", the same as leaving it out. null for the
// required name is refused on both (422 naming "name"). See docs/api.md.
type contactBody struct {
	Name    optional[string]       `json:"name"`
	Email   optional[string]       `json:"email"`
	Phone   optional[string]       `json:"phone"`
	Company optional[string]       `json:"company"`
	Tags    optional[[]string]     `json:"tags"`
	Custom  optional[customObject] `json:"custom"`
}

// customObject is the custom member of a contact body: its fields, and
// their names in the order the body sent them.
type customObject struct {
	Fields map[string]any
	Keys   []string
}

// UnmarshalJSON reads an object into Fields, and its member names, in
// order, into Keys.
func (c *customObject) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.Fields); err != nil {
		return err
	}
	c.Keys = c.Keys[:0]
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
		c.Keys = append(c.Keys, k.(string))
	}
	return nil
}

// input turns the body into the contacts module's Input: a cleared
// (null) optional field points at its zero value.
func (b contactBody) input() (contacts.Input, error) {
	if b.Name.Null {
		return contacts.Input{}, &gw.Error{Code: gw.EINVALID, Message: invalidFieldsMessage,
			Fields: map[string]string{"name": "Must not be null: a contact always has a name."}}
	}
	in := contacts.Input{Name: b.Name.ptr(), Email: b.Email.ptr(), Phone: b.Phone.ptr(),
		Company: b.Company.ptr(), Tags: b.Tags.ptr()}
	if c := b.Custom.ptr(); c != nil {
		in.Custom, in.CustomKeys = &c.Fields, c.Keys
	}
	for _, f := range []struct {
		o *optional[string]
		p **string
	}{{&b.Email, &in.Email}, {&b.Phone, &in.Phone}, {&b.Company, &in.Company}} {
		if f.o.Null {
			*f.p = new(string)
		}
	}
	if b.Tags.Null {
		in.Tags = &[]string{}
	}
	if b.Custom.Null {
		in.Custom = &map[string]any{}
	}
	return in, nil
}

// mergeCustomKeys is the order of merged custom fields: the stored
// fields' order, then the fields the patch adds, in its order.
// (contacts drops the names a null removed.)
func mergeCustomKeys(stored, patch []string) []string {
	return append(slices.Clone(stored), patch...)
}

// mergeCustom applies a merge patch's custom object to the stored custom
// fields (RFC 7396): a null member removes that field, any other value sets
// it, and fields the patch does not name are kept.
func mergeCustom(stored, patch map[string]any) map[string]any {
	out := make(map[string]any, len(stored)+len(patch))
	maps.Copy(out, stored)
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// contactList is the body of GET /api/v1/contacts.
type contactList struct {
	Data       []contactJSON `json:"data"`
	NextCursor *string       `json:"next_cursor"`
}

// listParams reads q, cursor, limit and sort from the query string.
func listParams(r *http.Request) (contacts.ListParams, error) {
	q := r.URL.Query()
	p := contacts.ListParams{Query: q.Get("q"), Cursor: q.Get("cursor"), Sort: q.Get("sort")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			e := gw.Errorf(gw.EINVALID, "The query is invalid.")
			e.Fields = map[string]string{"limit": "Must be a whole number from 1 to 200."}
			return p, e
		}
		p.Limit = n
	}
	return p, nil
}

// listContacts lists the page of contacts the query string asks for, in
// the caller's organisation; the API and the page share it.
func (s *server) listContacts(r *http.Request) (contacts.ListParams, contacts.Page, error) {
	p, err := listParams(r)
	if err != nil {
		return p, contacts.Page{}, err
	}
	page, err := s.d.Contacts.List(r.Context(), gw.ScopeFrom(r.Context()), p)
	return p, page, err
}

func (s *server) apiListContacts() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		_, page, err := s.listContacts(r)
		if err != nil {
			return err
		}
		out := contactList{Data: make([]contactJSON, len(page.Contacts))}
		for i, c := range page.Contacts {
			out.Data[i] = toContactJSON(c)
		}
		if page.NextCursor != "" {
			out.NextCursor = &page.NextCursor
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

func (s *server) apiCreateContact() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var body contactBody
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		in, err := body.input()
		if err != nil {
			return err
		}
		c, err := s.d.Contacts.Create(r.Context(), gw.ScopeFrom(r.Context()), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/contacts/"+c.ID)
		writeJSON(w, http.StatusCreated, toContactJSON(c))
		return nil
	})
}

// replayContactCreate answers a create replayed with its Idempotency-Key
// (idempotentCreate): the contact it created, as the create answered.
func (s *server) replayContactCreate(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := s.d.Contacts.Get(r.Context(), gw.ScopeFrom(r.Context()), id)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/contacts/"+c.ID)
	writeJSON(w, http.StatusCreated, toContactJSON(c))
	return nil
}

func (s *server) apiGetContact() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.d.Contacts.Get(r.Context(), gw.ScopeFrom(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toContactJSON(c))
		return nil
	})
}

func (s *server) apiUpdateContact() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var body contactBody
		if err := decodeJSON(r, &body, mediaJSON, mediaMergePatch); err != nil {
			return err
		}
		in, err := body.input()
		if err != nil {
			return err
		}
		ctx, scope, id := r.Context(), gw.ScopeFrom(r.Context()), r.PathValue("id")
		// As a merge patch, custom is merged into the stored fields (null
		// removes one); as application/json it replaces them whole, as it
		// always has. (The read and the write are two transactions: two
		// merge patches of custom at once may lose one's change.)
		if mediaTypeOf(r) == mediaMergePatch && in.Custom != nil && !body.Custom.Null {
			stored, err := s.d.Contacts.Get(ctx, scope, id)
			if err != nil {
				return err
			}
			merged := mergeCustom(stored.Custom, *in.Custom)
			in.Custom, in.CustomKeys = &merged, mergeCustomKeys(stored.CustomKeys, in.CustomKeys)
		}
		c, err := s.d.Contacts.Update(ctx, scope, id, in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toContactJSON(c))
		return nil
	})
}

func (s *server) apiDeleteContact() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.d.Contacts.Delete(r.Context(), gw.ScopeFrom(r.Context()), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// Pages.

// contactsPage is the data of contacts.html.
type contactsPage struct {
	Query    string
	Sort     string // the list's sort, "" for the default (newest first)
	Contacts []contacts.Contact
	Next     string
	// Columns are the sortable column headers.
	Columns []sortColumn
}

func (contactsPage) template() string { return "contacts.html" }

// sortColumn is a sortable column header of the contacts list: a link
// that sorts by it, ascending, or descending when it is already sorted
// ascending.
type sortColumn struct {
	Label string
	Sort  string // what the link asks for
	// Aria is the column's aria-sort: "ascending", "descending" or "none".
	Aria string
}

// sortHeader is what the contacts list's sort-th template renders.
type sortHeader struct {
	Slug, Query string
	Col         sortColumn
}

// sortColumns are the contacts list's sortable headers for the sort in
// force (cur).
func sortColumns(cur string) []sortColumn {
	if cur == "" {
		cur = "-created"
	}
	cols := []sortColumn{{Label: "Name", Sort: "name"}, {Label: "Company", Sort: "company"}, {Label: "Added", Sort: "created"}}
	for i, c := range cols {
		switch cur {
		case c.Sort:
			cols[i].Aria, cols[i].Sort = "ascending", "-"+c.Sort
		case "-" + c.Sort:
			cols[i].Aria = "descending"
		default:
			cols[i].Aria = "none"
		}
	}
	return cols
}

func (s *server) pageContacts() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		p, list, err := s.listContacts(r)
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, page{Title: "Contacts",
			Data: contactsPage{Query: p.Query, Sort: p.Sort, Contacts: list.Contacts, Next: list.NextCursor, Columns: sortColumns(p.Sort)}})
		return nil
	})
}

// contactFields are the fields of the contact form.
var contactFields = []string{"name", "email", "phone", "company", "tags", "custom"}

// contactInput reads the contact form: tags are comma-separated, custom
// fields one "key = value" a line. The form is text, so a value is a
// string, except that a value the form did not change keeps its JSON type:
// when stored (the contact's custom fields before the edit; nil for a new
// contact) has the key, and the value reads as the stored value is shown
// (customText), the stored value is kept, so that 1815 stays a number,
// false a boolean and null null.
func contactInput(f *form, stored map[string]any) (contacts.Input, error) {
	name, email, phone, company := f.Get("name"), f.Get("email"), f.Get("phone"), f.Get("company")
	tags := []string{}
	for t := range strings.SplitSeq(f.Get("tags"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	custom := map[string]any{}
	var keys []string
	for n, line := range slices.Collect(strings.Lines(f.Get("custom"))) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			e := gw.Errorf(gw.EINVALID, "The form has errors.")
			e.Fields = map[string]string{"custom": fmt.Sprintf("Line %d: write key = value.", n+1)}
			return contacts.Input{}, e
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		keys = append(keys, k)
		if old, ok := stored[k]; ok && strings.TrimSpace(customText(old)) == v {
			custom[k] = old
			continue
		}
		custom[k] = v
	}
	return contacts.Input{Name: &name, Email: &email, Phone: &phone, Company: &company, Tags: &tags, Custom: &custom, CustomKeys: keys}, nil
}

// customText is how the contact form shows a custom field's value: a
// string as it is, null as nothing, and a number or a boolean as its JSON
// (1815, false), as the API shows it.
func customText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v) // not a JSON scalar; the contacts module stores none
	}
	return string(b)
}

// contactForm fills a form from a stored contact, for editing.
func contactForm(c contacts.Contact) *form {
	f := newForm()
	f.Values["name"], f.Values["email"], f.Values["phone"], f.Values["company"] = c.Name, c.Email, c.Phone, c.Company
	f.Values["tags"] = strings.Join(c.Tags, ", ")
	var b strings.Builder
	for _, k := range c.CustomKeys {
		fmt.Fprintf(&b, "%s = %s\n", k, customText(c.Custom[k]))
	}
	f.Values["custom"] = b.String()
	return f
}

// contactPage is the data of contact.html (new and edit).
type contactPage struct {
	ID string // "" for a new contact
}

func (contactPage) template() string { return "contact.html" }

func (s *server) pageNewContact() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		s.render(w, r, http.StatusOK, page{Title: "New contact", Form: newForm(), Data: contactPage{}})
		return nil
	})
}

func (s *server) postContact() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, contactFields...)
		if err != nil {
			return err
		}
		in, err := contactInput(f, nil)
		if err == nil {
			var c contacts.Contact
			c, err = s.d.Contacts.Create(r.Context(), gw.ScopeFrom(r.Context()), in)
			if err == nil {
				s.flash(r, "Contact "+c.Name+" added.")
				redirect(w, r, "/o/"+orgFrom(r.Context()).Slug+"/contacts/"+c.ID)
				return nil
			}
		}
		if !f.setError(err) {
			return err
		}
		s.render(w, r, statusFor(err), page{Title: "New contact", Form: f, Data: contactPage{}})
		return nil
	})
}

// contactViewPage is the data of contact-view.html, a contact's read view.
type contactViewPage struct {
	Contact contacts.Contact
	// Custom are the custom fields in the order they were entered.
	Custom []customField
}

func (contactViewPage) template() string { return "contact-view.html" }

// customField is a custom field as the read view shows it.
type customField struct{ Name, Value string }

// newContactViewPage returns the read view's data of c.
func newContactViewPage(c contacts.Contact) contactViewPage {
	p := contactViewPage{Contact: c, Custom: make([]customField, len(c.CustomKeys))}
	for i, k := range c.CustomKeys {
		p.Custom[i] = customField{Name: k, Value: customText(c.Custom[k])}
	}
	return p
}

// pageContactView shows a contact, with Edit and Delete for those who may
// write contacts.
func (s *server) pageContactView() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.d.Contacts.Get(r.Context(), gw.ScopeFrom(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, page{Title: c.Name, Data: newContactViewPage(c)})
		return nil
	})
}

// pageContactEdit is the edit form of a contact.
func (s *server) pageContactEdit() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.d.Contacts.Get(r.Context(), gw.ScopeFrom(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, page{Title: "Edit contact", Form: contactForm(c), Data: contactPage{ID: c.ID}})
		return nil
	})
}

func (s *server) postContactUpdate() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx, id := r.Context(), r.PathValue("id")
		f, err := parseForm(r, contactFields...)
		if err != nil {
			return err
		}
		// The stored custom fields, so that values the form did not change
		// keep their JSON types (see contactInput).
		old, err := s.d.Contacts.Get(ctx, gw.ScopeFrom(ctx), id)
		if err != nil {
			return err
		}
		in, err := contactInput(f, old.Custom)
		if err == nil {
			var c contacts.Contact
			c, err = s.d.Contacts.Update(ctx, gw.ScopeFrom(ctx), id, in)
			if err == nil {
				s.flash(r, "Contact "+c.Name+" saved.")
				redirect(w, r, "/o/"+orgFrom(r.Context()).Slug+"/contacts/"+c.ID)
				return nil
			}
		}
		if gw.ErrorCode(err) == gw.ENOTFOUND || !f.setError(err) {
			return err
		}
		s.render(w, r, statusFor(err), page{Title: "Edit contact", Form: f, Data: contactPage{ID: id}})
		return nil
	})
}

// postContactDelete asks first (confirm.html), then deletes the contact.
func (s *server) postContactDelete() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return err
		}
		ctx, id := r.Context(), r.PathValue("id")
		c, err := s.d.Contacts.Get(ctx, gw.ScopeFrom(ctx), id)
		if err != nil {
			return err
		}
		if !s.confirmed(w, r, "Delete "+c.Name+"?", confirmPage{
			Question: "Delete the contact " + c.Name + "? This cannot be undone.",
			Button:   "Delete " + c.Name,
			Cancel:   "/o/" + orgFrom(ctx).Slug + "/contacts/" + c.ID,
		}) {
			return nil
		}
		if err := s.d.Contacts.Delete(ctx, gw.ScopeFrom(ctx), id); err != nil {
			return err
		}
		s.flash(r, "Contact "+c.Name+" deleted.")
		redirect(w, r, "/o/"+orgFrom(r.Context()).Slug+"/contacts")
		return nil
	})
}
