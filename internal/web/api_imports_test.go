package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// importFile is a CSV file with two valid rows and a bad one on line 3.
const importFile = "name,email,tags\nAda Lovelace,ada@engines.example,\"math,vip\"\nBad Email,not-an-email,\nGrace Hopper,,navy\n"

// TestImportAPI: upload, follow and read the report of imports through
// the API, every answer checked against openapi.json; a viewer's key may
// not, another organisation's key sees nothing, and a file past the body
// limit (but within the imports' limit) is taken.
func TestImportAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	owner := e.user("owner@acme.example")
	acme, scope := e.org(owner.ID, "Acme")
	_, adminKey := e.apiKey(acme.ID, "admin", gw.RoleAdmin)
	_, viewerKey := e.apiKey(acme.ID, "viewer", gw.RoleViewer)
	outsider := e.user("outsider@other.example")
	other, _ := e.org(outsider.ID, "Other")
	_, otherKey := e.apiKey(other.ID, "other", gw.RoleAdmin)
	api, viewer, stranger := newAPIClient(t, e, adminKey), newAPIClient(t, e, viewerKey), newAPIClient(t, e, otherKey)

	status, _ := viewer.do(http.MethodPost, "/api/v1/imports", "text/csv", importFile, true)
	require.Equal(t, http.StatusForbidden, status)
	status, body := api.do(http.MethodPost, "/api/v1/imports", "application/json", `{"name":"Ada"}`, false)
	require.Equal(t, http.StatusUnsupportedMediaType, status, "%s", body)
	status, body = api.do(http.MethodPost, "/api/v1/imports?mode=merge", "text/csv", importFile, false)
	require.Equal(t, http.StatusUnprocessableEntity, status, "%s", body)
	require.Contains(t, string(body), "Choose all_or_nothing or skip_invalid.")

	// all_or_nothing (the default): the bad row is reported, nothing written.
	status, body = api.do(http.MethodPost, "/api/v1/imports?file_name=people.csv", "text/csv", importFile, true)
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	var im importJSON
	require.NoError(t, json.Unmarshal(body, &im))
	require.Equal(t, "queued", im.Status)
	require.Equal(t, "all_or_nothing", im.Mode)
	require.Equal(t, "people.csv", im.FileName)
	status, _ = api.do(http.MethodPost, "/api/v1/imports", "text/csv", importFile, true)
	require.Equal(t, http.StatusConflict, status, "one import at a time")
	status, _ = stranger.do(http.MethodGet, "/api/v1/imports/"+im.ID, "", "", true)
	require.Equal(t, http.StatusNotFound, status)

	require.NoError(t, e.imports.Run(ctx, acme.ID, im.ID, 1, 3))
	status, body = api.do(http.MethodGet, "/api/v1/imports/"+im.ID, "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, json.Unmarshal(body, &im))
	require.Equal(t, "failed", im.Status)
	require.EqualValues(t, 3, im.RowsTotal)
	require.EqualValues(t, 0, im.RowsImported)
	require.EqualValues(t, 1, im.RowsRejected)
	require.Equal(t, 3, im.Rejected[0].Line)
	require.Equal(t, []string{"email: Enter a valid email address."}, im.Rejected[0].Messages)
	page, err := e.contacts.List(ctx, scope, contacts.ListParams{})
	require.NoError(t, err)
	require.Empty(t, page.Contacts, "nothing written")

	// skip_invalid: the two good rows are written.
	status, body = api.do(http.MethodPost, "/api/v1/imports?mode=skip_invalid", "text/csv; charset=utf-8", importFile, true)
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	require.NoError(t, json.Unmarshal(body, &im))
	require.NoError(t, e.imports.Run(ctx, acme.ID, im.ID, 1, 3))
	status, body = api.do(http.MethodGet, "/api/v1/imports/"+im.ID, "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, json.Unmarshal(body, &im))
	require.Equal(t, "succeeded", im.Status)
	require.EqualValues(t, 2, im.RowsImported)
	page, err = e.contacts.List(ctx, scope, contacts.ListParams{})
	require.NoError(t, err)
	require.Len(t, page.Contacts, 2)

	status, body = api.do(http.MethodGet, "/api/v1/imports", "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 2, strings.Count(string(body), `"mode"`))
	status, body = stranger.do(http.MethodGet, "/api/v1/imports", "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, `{"data":[]}`, strings.TrimSpace(string(body)))

	// A 3 MiB file is past the 1 MiB body limit of other routes, not of this one.
	var big strings.Builder
	big.WriteString("name,company\n")
	for n := 0; big.Len() < 3<<20; n++ {
		fmt.Fprintf(&big, "Person %d,%s\n", n, strings.Repeat("c", 150))
	}
	status, body = api.do(http.MethodPost, "/api/v1/imports?mode=skip_invalid", "text/csv", big.String(), true)
	require.Equal(t, http.StatusAccepted, status, "%.200s", body)
	status, _ = api.do(http.MethodPost, "/api/v1/contacts", "application/json", `{"name":"`+strings.Repeat("x", 2<<20)+`"}`, false)
	require.Equal(t, http.StatusRequestEntityTooLarge, status, "the other routes keep their limit")
}

var importLinkRE = regexp.MustCompile(`/o/acme/imports/([0-9a-f-]{36})`)

// TestImportPages: an admin uploads a file through the page's multipart
// form, streamed; the import's page shows its report by line once the job
// ran; a viewer may not upload, and the page refuses a form without a file.
func TestImportPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, scope := e.org(owner.ID, "Acme")
	viewer := e.user("viewer@acme.example")
	e.join(scope, viewer, gw.RoleViewer)
	admin := e.login(owner.Email)

	body := getOK(t, admin, e.srv.URL+"/o/"+acme.Slug+"/imports")
	require.Contains(t, body, "<h1>Import contacts</h1>")
	require.Contains(t, body, `enctype="multipart/form-data"`)
	require.Contains(t, body, `href="/o/acme/imports">Import</a>`)

	upload := func(c *http.Client, fields map[string]string, file string) *http.Response {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, k := range []string{"mode"} {
			if v, ok := fields[k]; ok {
				require.NoError(t, mw.WriteField(k, v))
			}
		}
		if file != "" {
			fw, err := mw.CreateFormFile("file", "people.csv")
			require.NoError(t, err)
			_, err = io.WriteString(fw, file)
			require.NoError(t, err)
		}
		require.NoError(t, mw.Close())
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/o/"+acme.Slug+"/imports", &buf)
		require.NoError(t, err)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := c.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	resp := upload(e.login(viewer.Email), map[string]string{"mode": "skip_invalid"}, importFile)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	resp = upload(admin, map[string]string{"mode": "skip_invalid"}, "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	b, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(b), "Choose a CSV file to import.")

	resp = upload(admin, map[string]string{"mode": "skip_invalid"}, importFile)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	m := importLinkRE.FindStringSubmatch(resp.Header.Get("Location"))
	require.NotNil(t, m, resp.Header.Get("Location"))
	body = getOK(t, admin, e.srv.URL+resp.Header.Get("Location"))
	require.Contains(t, body, "File uploaded.")
	require.Contains(t, body, "queued")

	require.NoError(t, e.imports.Run(t.Context(), acme.ID, m[1], 1, 3))
	body = getOK(t, admin, e.srv.URL+resp.Header.Get("Location"))
	require.Contains(t, body, "succeeded")
	require.Contains(t, body, "2 contacts imported of 3 rows; 1 rows rejected.")
	require.Contains(t, body, "<td>3</td>")
	require.Contains(t, body, "email: Enter a valid email address.")
	require.Contains(t, body, "skip_invalid")
	body = getOK(t, admin, e.srv.URL+"/o/"+acme.Slug+"/imports")
	require.Contains(t, body, "people.csv")
}

// getOK fetches u as a browser and returns the body of a 200.
func getOK(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	status, _, body := get(t, c, u)
	require.Equal(t, http.StatusOK, status, "%s", body)
	return body
}
