package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestExportAPI: request, follow, download and cancel exports through the
// API, every answer checked against openapi.json; a viewer's key may not,
// and another organisation's key sees nothing.
func TestExportAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	owner := e.user("owner@acme.example")
	acme, scope := e.org(owner.ID, "Acme")
	e.contact(scope, "Ada Lovelace", "ada@engines.example")
	_, adminKey := e.apiKey(acme.ID, "admin", gw.RoleAdmin)
	_, viewerKey := e.apiKey(acme.ID, "viewer", gw.RoleViewer)
	outsider := e.user("outsider@other.example")
	other, _ := e.org(outsider.ID, "Other")
	_, otherKey := e.apiKey(other.ID, "other", gw.RoleAdmin)
	api, viewer, stranger := newAPIClient(t, e, adminKey), newAPIClient(t, e, viewerKey), newAPIClient(t, e, otherKey)

	status, _ := viewer.do(http.MethodPost, "/api/v1/exports", "application/json", `{}`, true)
	require.Equal(t, http.StatusForbidden, status)
	status, _ = api.do(http.MethodPost, "/api/v1/exports", "application/json", `{"format":"xlsx"}`, false)
	require.Equal(t, http.StatusUnprocessableEntity, status)

	status, body := api.do(http.MethodPost, "/api/v1/exports", "application/json", `{"tables":["contacts"],"format":"jsonl"}`, true)
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	var ex exportJSON
	require.NoError(t, json.Unmarshal(body, &ex))
	require.Equal(t, "queued", ex.Status)
	status, _ = api.do(http.MethodPost, "/api/v1/exports", "application/json", `{}`, true)
	require.Equal(t, http.StatusConflict, status, "one running export per organisation")
	status, _ = stranger.do(http.MethodGet, "/api/v1/exports/"+ex.ID, "", "", true)
	require.Equal(t, http.StatusNotFound, status)

	require.NoError(t, e.exports.Run(ctx, acme.ID, ex.ID, 1, 3))
	status, body = api.do(http.MethodGet, "/api/v1/exports/"+ex.ID, "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, json.Unmarshal(body, &ex))
	require.Equal(t, "succeeded", ex.Status)
	require.Equal(t, 100, ex.Percent)
	require.Len(t, ex.Files, 1)
	require.Equal(t, "contacts.jsonl.gz", ex.Files[0].Name)

	resp, err := http.Get(ex.Files[0].URL)
	require.NoError(t, err)
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(gunzipBytes(t, data)), `"email":"ada@engines.example"`)

	// An altered link is refused, with no file.
	resp, err = http.Get(ex.Files[0].URL[:len(ex.Files[0].URL)-3] + "AAA")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	status, body = api.do(http.MethodGet, "/api/v1/exports", "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 1, strings.Count(string(body), `"id"`))
	status, _ = stranger.do(http.MethodGet, "/api/v1/exports", "", "", true)
	require.Equal(t, http.StatusOK, status)

	status, _ = api.do(http.MethodPost, "/api/v1/exports/"+ex.ID+"/cancel", "", "", true)
	require.Equal(t, http.StatusConflict, status, "it already finished")
	status, body = api.do(http.MethodPost, "/api/v1/exports", "application/json", `{"packaging":"zip"}`, true)
	require.Equal(t, http.StatusAccepted, status)
	require.NoError(t, json.Unmarshal(body, &ex))
	status, body = api.do(http.MethodPost, "/api/v1/exports/"+ex.ID+"/cancel", "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), `"status":"cancelled"`)
}
