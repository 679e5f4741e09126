package web

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestContactPages: listing, searching, creating, editing and deleting
// contacts, the example product module's pages.
func TestContactPages(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, contactScenarios())
}

// addContact creates a contact in Acme as its owner and returns its ID.
func addContact(t *testing.T, fx *pageFixture, in contacts.Input) string {
	t.Helper()
	c, err := fx.e.contacts.Create(t.Context(), fx.scopes["owner"], in)
	require.NoError(t, err)
	return c.ID
}

func contactScenarios() []scenario {
	str := func(s string) *string { return &s }
	return []scenario{
		// The list and search.
		{name: "contacts page", as: "viewer", path: "/o/{org}/contacts",
			setup: func(t *testing.T, fx *pageFixture) {
				tags := []string{"math"}
				fx.vars["ada"] = addContact(t, fx, contacts.Input{Name: str("Ada Lovelace"), Email: str("ada@engines.example"),
					Company: str("Analytical Engines"), Tags: &tags})
				fx.vars["grace"] = addContact(t, fx, contacts.Input{Name: str("Grace Hopper"), Company: str("US Navy")})
			},
			wantStatus: http.StatusOK,
			wantText: []string{"Ada Lovelace", "ada@engines.example", "Analytical Engines", `<span class="tag">math</span>`,
				"Grace Hopper", `href="/o/{org}/contacts/{ada}"`},
			notText: []string{"Add contact"}},
		{name: "contacts page offers members to add", as: "member", path: "/o/{org}/contacts", wantStatus: http.StatusOK,
			wantText: []string{`href="/o/{org}/contacts/new">Add contact</a>`}},
		{name: "contacts page of another organisation", as: "outsider", path: "/o/{org}/contacts",
			wantStatus: http.StatusNotFound, wantText: []string{notFoundHint}, notText: []string{"Ada Lovelace"}},
		{name: "search by name", as: "viewer", path: "/o/{org}/contacts?q=grace", wantStatus: http.StatusOK,
			wantText: []string{"Grace Hopper", `value="grace"`}, notText: []string{"Ada Lovelace"}},
		{name: "search by tag", as: "viewer", path: "/o/{org}/contacts?q=math", wantStatus: http.StatusOK,
			wantText: []string{"Ada Lovelace"}, notText: []string{"Grace Hopper"}},
		{name: "search by exact email", as: "viewer", path: "/o/{org}/contacts?q=ADA@engines.example", wantStatus: http.StatusOK,
			wantText: []string{"Ada Lovelace"}, notText: []string{"Grace Hopper"}},
		{name: "search with no match", as: "viewer", path: "/o/{org}/contacts?q=babbage", wantStatus: http.StatusOK,
			wantText: []string{"No contact matches “babbage”."}},
		{name: "search too long", as: "viewer", path: "/o/{org}/contacts?q=" + strings.Repeat("x", 201),
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{"The search is not valid."}},

		// Creating.
		{name: "new contact page", as: "member", path: "/o/{org}/contacts/new", wantStatus: http.StatusOK,
			wantText: []string{"<h1>New contact</h1>", `action="/o/{org}/contacts"`, "Add contact"}},
		{name: "new contact page is forbidden to viewers", as: "viewer", path: "/o/{org}/contacts/new",
			wantStatus: http.StatusForbidden, wantText: forbidden("viewer")},
		{name: "create a contact", as: "member", method: http.MethodPost, path: "/o/{org}/contacts",
			form: url.Values{"name": {"Katherine Johnson"}, "email": {"katherine@nasa.example"}, "phone": {"+1 555 0100"},
				"company": {"NASA"}, "tags": {"orbits, math, orbits"}, "custom": {"first orbit = 1962\nteam = Flight Research"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/contacts/*",
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				body := fx.follow(t, "member", r.location)
				require.Contains(t, body, "Contact Katherine Johnson added.")
				require.Contains(t, body, `value="orbits, math"`, "tags are deduplicated")
				require.Contains(t, body, "first orbit = 1962\nteam = Flight Research")
			}},
		{name: "create a contact without a name", as: "member", method: http.MethodPost, path: "/o/{org}/contacts",
			form: url.Values{"name": {""}, "email": {"nameless@example.com"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="name-error">Enter a name.`, `value="nameless@example.com"`}},
		{name: "create a contact with an invalid email and phone", as: "member", method: http.MethodPost, path: "/o/{org}/contacts",
			form: url.Values{"name": {"Bad Data"}, "email": {"bad@"}, "phone": {"call me"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="email-error">Enter a valid email address.`, `id="phone-error">Enter a valid phone number`}},
		{name: "create a contact with a custom line without =", as: "member", method: http.MethodPost, path: "/o/{org}/contacts",
			form: url.Values{"name": {"Bad Custom"}, "custom": {"ok = yes\nnot a pair"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{`id="custom-error">Line 2: write key = value.`}},
		{name: "create is forbidden to viewers", as: "viewer", method: http.MethodPost, path: "/o/{org}/contacts",
			form: url.Values{"name": {"Sneaky"}}, wantStatus: http.StatusForbidden, wantText: forbidden("viewer")},

		// Viewing and editing.
		{name: "contact page", as: "member", path: "/o/{org}/contacts/{ada}", wantStatus: http.StatusOK,
			wantText: []string{`value="Ada Lovelace"`, `value="ada@engines.example"`, "Save", "Delete contact"}},
		{name: "contact page is read-only for viewers", as: "viewer", path: "/o/{org}/contacts/{ada}", wantStatus: http.StatusOK,
			wantText: []string{`value="Ada Lovelace"`, `<fieldset class="bare" disabled>`}, notText: []string{"Delete contact", "Save"}},
		{name: "contact that does not exist", as: "member", path: "/o/{org}/contacts/{missing}",
			wantStatus: http.StatusNotFound, wantText: []string{"Contact not found.", notFoundHint}},
		{name: "contact of Acme through another organisation", as: "outsider", path: "/o/{other}/contacts/{ada}",
			wantStatus: http.StatusNotFound, notText: []string{"Ada Lovelace"}},
		{name: "edit a contact", as: "member", method: http.MethodPost, path: "/o/{org}/contacts/{ada}",
			form: url.Values{"name": {"Ada King"}, "email": {"ada@engines.example"}, "company": {"Analytical Engines"},
				"tags": {"math, poetry"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/contacts/{ada}",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "member", "/o/{org}/contacts/{ada}")
				require.Contains(t, body, "Contact Ada King saved.")
				require.Contains(t, body, `value="math, poetry"`)
			}},
		{name: "edit a contact to no name", as: "member", method: http.MethodPost, path: "/o/{org}/contacts/{ada}",
			form: url.Values{"name": {""}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{"<h1>Edit contact</h1>", `id="name-error">Enter a name.`}},
		{name: "edit a contact that does not exist", as: "member", method: http.MethodPost, path: "/o/{org}/contacts/{missing}",
			form: url.Values{"name": {"Ghost"}}, wantStatus: http.StatusNotFound, wantText: []string{notFoundHint}},
		{name: "edit is forbidden to viewers", as: "viewer", method: http.MethodPost, path: "/o/{org}/contacts/{ada}",
			form: url.Values{"name": {"Vandal"}}, wantStatus: http.StatusForbidden, wantText: forbidden("viewer")},

		// Deleting.
		{name: "delete is forbidden to viewers", as: "viewer", method: http.MethodPost, path: "/o/{org}/contacts/{grace}/delete",
			wantStatus: http.StatusForbidden, wantText: forbidden("viewer")},
		{name: "delete a contact asks first", as: "member", method: http.MethodPost, path: "/o/{org}/contacts/{grace}/delete",
			wantStatus: http.StatusOK, wantText: []string{"<h1>Delete Grace Hopper?</h1>", `name="confirm" value="yes"`,
				`action="/o/{org}/contacts/{grace}/delete"`, `<a href="/o/{org}/contacts/{grace}">Cancel</a>`},
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.Contains(t, fx.follow(t, "member", "/o/{org}/contacts"), "Grace Hopper", "nothing was deleted")
			}},
		{name: "delete a contact", as: "member", method: http.MethodPost, path: "/o/{org}/contacts/{grace}/delete",
			form: url.Values{"confirm": {"yes"}}, wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/contacts",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "member", "/o/{org}/contacts")
				require.Contains(t, body, "Contact Grace Hopper deleted.")
				require.NotContains(t, body, ">Grace Hopper</a>")
			}},
		{name: "delete a contact twice", as: "member", method: http.MethodPost, path: "/o/{org}/contacts/{grace}/delete",
			wantStatus: http.StatusNotFound, wantText: []string{notFoundHint}},

		// Custom fields from the API survive a save from the edit page
		// (TestContactEditFormKeepsCustomFieldTypes goes through it step
		// by step).
		{name: "edit page shows API custom fields as the API does", as: "member", path: "/o/{org}/contacts/{typed}",
			setup: func(t *testing.T, fx *pageFixture) {
				fx.vars["typed"] = apiCreateContact(t, fx, `{"name":"Typed","custom":{"born":1815,"active":false,"notes":null,"motto":"poetical science"}}`)
			},
			wantStatus: http.StatusOK,
			wantText:   []string{"active = false\nborn = 1815\nmotto = poetical science\nnotes = \n"},
			notText:    []string{"&lt;nil&gt;"}},
	}
}

// apiCreateContact creates a contact in Acme through POST /api/v1/contacts
// with body, as an API client does, and returns its ID.
func apiCreateContact(t *testing.T, fx *pageFixture, body string) string {
	t.Helper()
	status, resp := apiCall(t, fx, http.MethodPost, "/api/v1/contacts", body)
	require.Equal(t, http.StatusCreated, status, resp)
	var c struct{ ID string }
	require.NoError(t, json.Unmarshal(resp, &c))
	return c.ID
}

// apiCall calls the JSON API with an admin key of Acme (made on first use).
func apiCall(t *testing.T, fx *pageFixture, method, path, body string) (int, []byte) {
	t.Helper()
	if fx.vars["api_key"] == "" {
		_, fx.vars["api_key"] = fx.e.apiKey(fx.acme.ID, "scenarios", gw.RoleAdmin)
	}
	req, err := http.NewRequest(method, fx.e.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+fx.vars["api_key"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// formRE, inputRE and textareaRE pick a page's forms and their fields
// apart, enough for the forms of these templates.
var (
	formRE     = regexp.MustCompile(`(?s)<form method="post" action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE    = regexp.MustCompile(`<input [^>]*>`)
	attrRE     = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
	textareaRE = regexp.MustCompile(`(?s)<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>`)
)

// browserForm returns the values a browser submits for the form of body
// whose action is action, unchanged: its inputs' values (checkboxes only
// when checked) and its text areas' text, unescaped as a browser reads
// them (a newline right after <textarea> is dropped, as HTML says).
func browserForm(t *testing.T, body, action string) url.Values {
	t.Helper()
	for _, m := range formRE.FindAllStringSubmatch(body, -1) {
		if html.UnescapeString(m[1]) != action {
			continue
		}
		vals := url.Values{}
		for _, in := range inputRE.FindAllString(m[2], -1) {
			attrs := map[string]string{}
			for _, a := range attrRE.FindAllStringSubmatch(in, -1) {
				attrs[a[1]] = html.UnescapeString(a[2])
			}
			if attrs["name"] == "" || (attrs["type"] == "checkbox" && !strings.Contains(in, " checked")) {
				continue
			}
			vals.Add(attrs["name"], attrs["value"])
		}
		for _, ta := range textareaRE.FindAllStringSubmatch(m[2], -1) {
			text := strings.TrimPrefix(html.UnescapeString(ta[2]), "\n")
			// Browsers submit a text area's line breaks as CRLF.
			vals.Add(ta[1], strings.ReplaceAll(text, "\n", "\r\n"))
		}
		return vals
	}
	t.Fatalf("no form with action %q in:\n%s", action, body)
	return nil
}

// TestContactEditFormKeepsCustomFieldTypes: a contact whose custom fields
// came from the API as a number, a boolean and null is opened on its edit
// page and saved as a browser sends that form; the API then reads back the
// same JSON types, not the strings "1815", "false" and "<nil>". A value
// edited on the page is text, and becomes a string.
func TestContactEditFormKeepsCustomFieldTypes(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	id := apiCreateContact(t, fx, `{"name":"Ada","custom":{"born":1815,"ratio":0.5,"active":false,"notes":null,"year":"1843"}}`)
	page := "/o/" + fx.acme.Slug + "/contacts/" + id
	member := fx.client(t, "member")

	apiCustom := func() map[string]any {
		t.Helper()
		status, b := apiCall(t, fx, http.MethodGet, "/api/v1/contacts/"+id, "")
		require.Equal(t, http.StatusOK, status, string(b))
		var c struct{ Custom map[string]any }
		require.NoError(t, json.Unmarshal(b, &c))
		return c.Custom
	}
	want := map[string]any{"born": float64(1815), "ratio": 0.5, "active": false, "notes": nil, "year": "1843"}
	require.Equal(t, want, apiCustom())

	// Open the edit page and save it unchanged.
	r := fx.request(t, member, http.MethodGet, page, nil, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	form := browserForm(t, r.body, page)
	require.Equal(t, "Ada", form.Get("name"))
	require.Equal(t, "active = false\r\nborn = 1815\r\nnotes = \r\nratio = 0.5\r\nyear = 1843\r\n", form.Get("custom"))
	r = fx.request(t, member, http.MethodPost, page, form, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, want, apiCustom(), "an unchanged form keeps every JSON type")

	// Edit one value and add a field: those are text; the rest keep their types.
	r = fx.request(t, member, http.MethodGet, page, nil, nil)
	form = browserForm(t, r.body, page)
	form.Set("custom", strings.Replace(form.Get("custom"), "born = 1815", "born = 1816", 1)+"shelf = 12\r\n")
	r = fx.request(t, member, http.MethodPost, page, form, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, map[string]any{"born": "1816", "ratio": 0.5, "active": false, "notes": nil, "year": "1843", "shelf": "12"},
		apiCustom())

	// Removing a line removes the field.
	r = fx.request(t, member, http.MethodGet, page, nil, nil)
	form = browserForm(t, r.body, page)
	form.Set("custom", strings.Replace(form.Get("custom"), "notes = \r\n", "", 1))
	r = fx.request(t, member, http.MethodPost, page, form, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.NotContains(t, apiCustom(), "notes")
}
