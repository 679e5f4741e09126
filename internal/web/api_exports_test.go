package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
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

// TestExportScheduleAPI: set, read, replace and stop the organisation's
// scheduled export through the API, every answer checked against
// openapi.json; the schedule then requests its export in the key's name;
// a viewer's key may not, and another organisation's key sees none.
func TestExportScheduleAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, scope := e.org(owner.ID, "Acme")
	_, adminKey := e.apiKey(acme.ID, "admin", gw.RoleAdmin)
	_, viewerKey := e.apiKey(acme.ID, "viewer", gw.RoleViewer)
	outsider := e.user("outsider@other.example")
	other, _ := e.org(outsider.ID, "Other")
	_, otherKey := e.apiKey(other.ID, "other", gw.RoleAdmin)
	api, viewer, stranger := newAPIClient(t, e, adminKey), newAPIClient(t, e, viewerKey), newAPIClient(t, e, otherKey)
	const js = "application/json"

	status, _ := api.do(http.MethodGet, "/api/v1/export-schedule", "", "", true)
	require.Equal(t, http.StatusNotFound, status, "none yet")
	status, _ = viewer.do(http.MethodPut, "/api/v1/export-schedule", js, `{"frequency":"daily","hour":3}`, true)
	require.Equal(t, http.StatusForbidden, status)
	status, body := api.do(http.MethodPut, "/api/v1/export-schedule", js, `{"frequency":"monthly","hour":25}`, false)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, string(body), "frequency")

	status, body = api.do(http.MethodPut, "/api/v1/export-schedule", js,
		`{"frequency":"weekly","weekday":2,"hour":7,"timezone":"Europe/Paris","tables":["contacts"],"format":"jsonl"}`, true)
	require.Equal(t, http.StatusOK, status, "%s", body)
	var sc exportScheduleJSON
	require.NoError(t, json.Unmarshal(body, &sc))
	require.Equal(t, "weekly", sc.Frequency)
	require.Equal(t, 2, sc.Weekday)
	require.Equal(t, "api_key", sc.SetBy)
	require.Equal(t, time.Tuesday, sc.NextRunAt.In(mustZone(t, "Europe/Paris")).Weekday())
	require.Equal(t, 7, sc.NextRunAt.In(mustZone(t, "Europe/Paris")).Hour())
	require.Nil(t, sc.LastExportID)

	status, body = api.do(http.MethodGet, "/api/v1/export-schedule", "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), `"timezone":"Europe/Paris"`)
	status, _ = viewer.do(http.MethodGet, "/api/v1/export-schedule", "", "", true)
	require.Equal(t, http.StatusForbidden, status)
	status, _ = stranger.do(http.MethodGet, "/api/v1/export-schedule", "", "", true)
	require.Equal(t, http.StatusNotFound, status, "another organisation sees none")
	status, _ = stranger.do(http.MethodDelete, "/api/v1/export-schedule", "", "", true)
	require.Equal(t, http.StatusNotFound, status, "and cannot stop acme's")

	// Replaced: daily at this very hour, due at once for the job.
	status, body = api.do(http.MethodPut, "/api/v1/export-schedule", js, `{"frequency":"daily","hour":0,"timezone":"UTC"}`, true)
	require.Equal(t, http.StatusOK, status, "%s", body)
	err := postgres.InOrgTx(t.Context(), e.db.Owner, acme.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), `UPDATE export_schedules SET next_run_at = now() - interval '1 minute' WHERE org_id = $1`, acme.ID)
		return err
	})
	require.NoError(t, err)
	n, err := e.exports.RunSchedules(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	list, err := e.exports.List(t.Context(), scope)
	require.NoError(t, err)
	require.Len(t, list, 1)
	status, body = api.do(http.MethodGet, "/api/v1/export-schedule", "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, json.Unmarshal(body, &sc))
	require.NotNil(t, sc.LastExportID)
	require.Equal(t, list[0].ID, *sc.LastExportID)

	status, _ = viewer.do(http.MethodDelete, "/api/v1/export-schedule", "", "", true)
	require.Equal(t, http.StatusForbidden, status)
	status, _ = api.do(http.MethodDelete, "/api/v1/export-schedule", "", "", true)
	require.Equal(t, http.StatusNoContent, status)
	status, _ = api.do(http.MethodDelete, "/api/v1/export-schedule", "", "", true)
	require.Equal(t, http.StatusNotFound, status)
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}
