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
		{name: "contacts sorted by name", as: "viewer", path: "/o/{org}/contacts?sort=name", wantStatus: http.StatusOK,
			wantText: []string{`<th scope="col" aria-sort="ascending"><a href="/o/{org}/contacts?q=&amp;sort=-name">Name <span aria-hidden="true">▲</span></a></th>`,
				`<th scope="col" aria-sort="none"><a href="/o/{org}/contacts?q=&amp;sort=company">Company</a></th>`,
				`<input type="hidden" name="sort" value="name">`},
			check: func(t *testing.T, _ *pageFixture, r pageResponse) {
				require.Less(t, strings.Index(r.body, "Ada Lovelace"), strings.Index(r.body, "Grace Hopper"))
			}},
		{name: "contacts sorted by name descending, searched", as: "viewer", path: "/o/{org}/contacts?sort=-name&q=a", wantStatus: http.StatusOK,
			wantText: []string{`<th scope="col" aria-sort="descending"><a href="/o/{org}/contacts?q=a&amp;sort=name">Name <span aria-hidden="true">▼</span></a></th>`},
			check: func(t *testing.T, _ *pageFixture, r pageResponse) {
				require.Greater(t, strings.Index(r.body, "Ada Lovelace"), strings.Index(r.body, "Grace Hopper"))
			}},
		{name: "contacts by default newest first", as: "viewer", path: "/o/{org}/contacts", wantStatus: http.StatusOK,
			wantText: []string{`<th scope="col" aria-sort="descending"><a href="/o/{org}/contacts?q=&amp;sort=created">Added <span aria-hidden="true">▼</span></a></th>`,
				`<th scope="col">Email</th>`}, // encrypted: no sort link (docs/api.md, "Sorting the list")
			notText: []string{`name="sort"`, `sort=email`, `sort=-email`}},
		{name: "contacts with an unknown sort", as: "viewer", path: "/o/{org}/contacts?sort=email",
			wantStatus: http.StatusUnprocessableEntity},
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
				require.Contains(t, body, "<h1>Katherine Johnson</h1>", "a save lands on the read view")
				require.Contains(t, body, `<span class="tag">orbits</span> <span class="tag">math</span> </dd>`, "tags are deduplicated")
				require.Contains(t, body, "<dt>first orbit</dt><dd>1962</dd>\n    <dt>team</dt><dd>Flight Research</dd>")
				edit := fx.follow(t, "member", r.location+"/edit")
				require.Contains(t, edit, `value="orbits, math"`)
				require.Contains(t, edit, "first orbit = 1962\nteam = Flight Research")
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
			wantText: []string{"<h1>Ada Lovelace</h1>", `<a href="mailto:ada@engines.example">ada@engines.example</a>`,
				"<dt>Company</dt><dd>Analytical Engines</dd>", "<dt>Added</dt>", "<dt>Updated</dt>",
				`<a class="button" href="/o/{org}/contacts/{ada}/edit">Edit</a>`, `action="/o/{org}/contacts/{ada}/delete"`, "Delete contact"},
			notText: []string{"<input", "<textarea"}},
		{name: "contact page is read-only for viewers", as: "viewer", path: "/o/{org}/contacts/{ada}", wantStatus: http.StatusOK,
			wantText: []string{"<h1>Ada Lovelace</h1>", "<dt>Company</dt><dd>Analytical Engines</dd>"},
			notText:  []string{"Delete contact", "/edit", "<input"}},
		{name: "contact edit page", as: "member", path: "/o/{org}/contacts/{ada}/edit", wantStatus: http.StatusOK,
			wantText: []string{"<h1>Edit contact</h1>", `value="Ada Lovelace"`, `value="ada@engines.example"`, "Save",
				`action="/o/{org}/contacts/{ada}"`, `<a href="/o/{org}/contacts/{ada}">Cancel</a>`}},
		{name: "contact edit page is forbidden to viewers", as: "viewer", path: "/o/{org}/contacts/{ada}/edit",
			wantStatus: http.StatusForbidden, wantText: forbidden("viewer")},
		{name: "contact edit page of a contact that does not exist", as: "member", path: "/o/{org}/contacts/{missing}/edit",
			wantStatus: http.StatusNotFound, wantText: []string{"Contact not found."}},
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
				require.Contains(t, body, `<span class="tag">math</span> <span class="tag">poetry</span>`)
				require.Contains(t, fx.follow(t, "member", "/o/{org}/contacts/{ada}/edit"), `value="math, poetry"`)
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
		{name: "edit page shows API custom fields as the API does", as: "member", path: "/o/{org}/contacts/{typed}/edit",
			setup: func(t *testing.T, fx *pageFixture) {
				fx.vars["typed"] = apiCreateContact(t, fx, `{"name":"Typed","custom":{"born":1815,"active":false,"notes":null,"motto":"poetical science"}}`)
			},
			wantStatus: http.StatusOK,
			wantText:   []string{"born = 1815\nactive = false\nnotes = \nmotto = poetical science\n"},
			notText:    []string{"&lt;nil&gt;"}},
		{name: "read view shows API custom fields in the order sent", as: "member", path: "/o/{org}/contacts/{typed2}",
			setup: func(t *testing.T, fx *pageFixture) {
				fx.vars["typed2"] = apiCreateContact(t, fx, `{"name":"Typed","custom":{"born":1815,"active":false,"notes":null,"motto":"poetical science"}}`)
			},
			wantStatus: http.StatusOK,
			wantText:   []string{"<dt>born</dt><dd>1815</dd>\n    <dt>active</dt><dd>false</dd>\n    <dt>notes</dt><dd></dd>\n    <dt>motto</dt><dd>poetical science</dd>"},
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
	return apiCallType(t, fx, method, path, body, "application/json")
}

// apiCallType is apiCall with the body's Content-Type.
func apiCallType(t *testing.T, fx *pageFixture, method, path, body, contentType string) (int, []byte) {
	t.Helper()
	if fx.vars["api_key"] == "" {
		_, fx.vars["api_key"] = fx.e.apiKey(fx.acme.ID, "scenarios", gw.RoleAdmin)
	}
	req, err := http.NewRequest(method, fx.e.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+fx.vars["api_key"])
	req.Header.Set("Content-Type", contentType)
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
	edit := page + "/edit"
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
	r := fx.request(t, member, http.MethodGet, edit, nil, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	form := browserForm(t, r.body, page)
	require.Equal(t, "Ada", form.Get("name"))
	require.Equal(t, "born = 1815\r\nratio = 0.5\r\nactive = false\r\nnotes = \r\nyear = 1843\r\n", form.Get("custom"))
	r = fx.request(t, member, http.MethodPost, page, form, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, want, apiCustom(), "an unchanged form keeps every JSON type")

	// Edit one value and add a field: those are text; the rest keep their types.
	r = fx.request(t, member, http.MethodGet, edit, nil, nil)
	form = browserForm(t, r.body, page)
	form.Set("custom", strings.Replace(form.Get("custom"), "born = 1815", "born = 1816", 1)+"shelf = 12\r\n")
	r = fx.request(t, member, http.MethodPost, page, form, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, map[string]any{"born": "1816", "ratio": 0.5, "active": false, "notes": nil, "year": "1843", "shelf": "12"},
		apiCustom())

	// Removing a line removes the field.
	r = fx.request(t, member, http.MethodGet, edit, nil, nil)
	form = browserForm(t, r.body, page)
	form.Set("custom", strings.Replace(form.Get("custom"), "notes = \r\n", "", 1))
	r = fx.request(t, member, http.MethodPost, page, form, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.NotContains(t, apiCustom(), "notes")
}

// TestCustomFieldsKeepEnteredOrder: custom fields entered z, a, m (on the
// page or in the API) are shown z, a, m by the read view, the edit form and
// the API, although jsonb stores them sorted; a merge patch keeps the
// stored order and appends what it adds.
func TestCustomFieldsKeepEnteredOrder(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	member := fx.client(t, "member")
	apiCustomText := func(id string) string {
		t.Helper()
		status, b := apiCall(t, fx, http.MethodGet, "/api/v1/contacts/"+id, "")
		require.Equal(t, http.StatusOK, status, string(b))
		_, after, _ := strings.Cut(string(b), `"custom":`)
		custom, _, _ := strings.Cut(after, `,"created_at"`)
		return custom
	}

	// From the page.
	r := fx.request(t, member, http.MethodPost, "/o/"+fx.acme.Slug+"/contacts",
		url.Values{"name": {"Ordered"}, "custom": {"z = 1\r\na = 2\r\nm = 3\r\n"}}, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	page := r.location
	id := page[strings.LastIndex(page, "/")+1:]
	view := fx.request(t, member, http.MethodGet, page, nil, nil).body
	require.Contains(t, view, "<dt>z</dt><dd>1</dd>\n    <dt>a</dt><dd>2</dd>\n    <dt>m</dt><dd>3</dd>")
	edit := fx.request(t, member, http.MethodGet, page+"/edit", nil, nil).body
	require.Contains(t, edit, "z = 1\na = 2\nm = 3\n")
	require.Equal(t, `{"z":"1","a":"2","m":"3"}`, apiCustomText(id))

	// Reordered on the page: the new order is kept.
	r = fx.request(t, member, http.MethodPost, page, url.Values{"name": {"Ordered"}, "custom": {"m = 3\r\nz = 1\r\na = 2"}}, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, `{"m":"3","z":"1","a":"2"}`, apiCustomText(id))

	// From the API, and a merge patch that removes one and adds one.
	id = apiCreateContact(t, fx, `{"name":"API","custom":{"z":1,"a":true,"m":"x"}}`)
	require.Equal(t, `{"z":1,"a":true,"m":"x"}`, apiCustomText(id))
	status, b := apiCallType(t, fx, http.MethodPatch, "/api/v1/contacts/"+id, `{"custom":{"b":2,"a":null}}`, "application/merge-patch+json")
	require.Equal(t, http.StatusOK, status, string(b))
	require.Contains(t, string(b), `"custom":{"z":1,"m":"x","b":2}`)
	require.Equal(t, `{"z":1,"m":"x","b":2}`, apiCustomText(id))

	// The list answers in the same order.
	status, b = apiCall(t, fx, http.MethodGet, "/api/v1/contacts?q=API", "")
	require.Equal(t, http.StatusOK, status, string(b))
	require.Contains(t, string(b), `"custom":{"z":1,"m":"x","b":2}`)
}

// TestAPIListSorted: GET /api/v1/contacts takes the optional sort of the
// spec, pages within it, and refuses an unknown one.
func TestAPIListSorted(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	for _, name := range []string{"bravo", "Alpha", "charlie"} {
		apiCreateContact(t, fx, `{"name":"`+name+`"}`)
	}
	var names []string
	path := "/api/v1/contacts?sort=name&limit=2"
	for path != "" {
		status, b := apiCall(t, fx, http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, status, string(b))
		var page struct {
			Data       []struct{ Name string }
			NextCursor *string `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(b, &page))
		for _, c := range page.Data {
			names = append(names, c.Name)
		}
		path = ""
		if page.NextCursor != nil {
			path = "/api/v1/contacts?sort=name&limit=2&cursor=" + url.QueryEscape(*page.NextCursor)
		}
	}
	require.Equal(t, []string{"Alpha", "bravo", "charlie"}, names)
	status, b := apiCall(t, fx, http.MethodGet, "/api/v1/contacts?sort=email", "")
	require.Equal(t, http.StatusUnprocessableEntity, status, string(b))
}
