package web

import (
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
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Email     string         `json:"email"`
	Phone     string         `json:"phone"`
	Company   string         `json:"company"`
	Tags      []string       `json:"tags"`
	Custom    map[string]any `json:"custom"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

func toContactJSON(c contacts.Contact) contactJSON {
	j := contactJSON{ID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone, Company: c.Company,
		Tags: c.Tags, Custom: c.Custom, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
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
	Name    optional[string]         `json:"name"`
	Email   optional[string]         `json:"email"`
	Phone   optional[string]         `json:"phone"`
	Company optional[string]         `json:"company"`
	Tags    optional[[]string]       `json:"tags"`
	Custom  optional[map[string]any] `json:"custom"`
}

// input turns the body into the contacts module's Input: a cleared
// (null) optional field points at its zero value.
func (b contactBody) input() (contacts.Input, error) {
	if b.Name.Null {
		return contacts.Input{}, &gw.Error{Code: gw.EINVALID, Message: invalidFieldsMessage,
			Fields: map[string]string{"name": "Must not be null: a contact always has a name."}}
	}
	in := contacts.Input{Name: b.Name.ptr(), Email: b.Email.ptr(), Phone: b.Phone.ptr(),
		Company: b.Company.ptr(), Tags: b.Tags.ptr(), Custom: b.Custom.ptr()}
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

// listParams reads q, cursor and limit from the query string.
func listParams(r *http.Request) (contacts.ListParams, error) {
	q := r.URL.Query()
	p := contacts.ListParams{Query: q.Get("q"), Cursor: q.Get("cursor")}
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
			in.Custom = &merged
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
	Contacts []contacts.Contact
	Next     string
}

func (s *server) pageContacts() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		p, list, err := s.listContacts(r)
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, "contacts.html", page{Title: "Contacts",
			Data: contactsPage{Query: p.Query, Contacts: list.Contacts, Next: list.NextCursor}})
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
		if old, ok := stored[k]; ok && strings.TrimSpace(customText(old)) == v {
			custom[k] = old
			continue
		}
		custom[k] = v
	}
	return contacts.Input{Name: &name, Email: &email, Phone: &phone, Company: &company, Tags: &tags, Custom: &custom}, nil
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
	for _, k := range slices.Sorted(maps.Keys(c.Custom)) {
		fmt.Fprintf(&b, "%s = %s\n", k, customText(c.Custom[k]))
	}
	f.Values["custom"] = b.String()
	return f
}

// contactPage is the data of contact.html (new and edit).
type contactPage struct {
	ID string // "" for a new contact
}

func (s *server) pageNewContact() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		s.render(w, r, http.StatusOK, "contact.html", page{Title: "New contact", Form: newForm(), Data: contactPage{}})
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
		s.render(w, r, statusFor(err), "contact.html", page{Title: "New contact", Form: f, Data: contactPage{}})
		return nil
	})
}

func (s *server) pageContact() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.d.Contacts.Get(r.Context(), gw.ScopeFrom(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, "contact.html", page{Title: c.Name, Form: contactForm(c), Data: contactPage{ID: c.ID}})
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
		s.render(w, r, statusFor(err), "contact.html", page{Title: "Edit contact", Form: f, Data: contactPage{ID: id}})
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
