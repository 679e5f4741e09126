package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/apiclient"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestGeneratedClient drives the API through the typed client generated
// from openapi.json (internal/apiclient): if the document drifts from the
// server, this breaks first.
func TestGeneratedClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleMember)
	ctx := context.Background()
	c, err := apiclient.NewClientWithResponses(e.srv.URL, apiclient.WithRequestEditorFn(
		func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "bearer "+key)
			return nil
		}))
	require.NoError(t, err)

	email, tags := "ada@example.com", apiclient.TagsInput{"vip"}
	created, err := c.CreateContactWithResponse(ctx, nil, apiclient.ContactCreate{Name: "Ada", Email: &email, Tags: &tags})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), "%s", created.Body)
	require.Equal(t, "Ada", created.JSON201.Name)
	require.Equal(t, []string{"vip"}, created.JSON201.Tags)

	got, err := c.GetContactWithResponse(ctx, created.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode())
	require.Equal(t, "ada@example.com", got.JSON200.Email)

	company := "Analytical Engines"
	patched, err := c.UpdateContactWithResponse(ctx, created.JSON201.Id, apiclient.ContactPatch{Company: &company})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, patched.StatusCode(), "%s", patched.Body)
	require.Equal(t, company, patched.JSON200.Company)

	limit := 1
	list, err := c.ListContactsWithResponse(ctx, &apiclient.ListContactsParams{Limit: &limit})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, list.StatusCode())
	require.Len(t, list.JSON200.Data, 1)

	bad, err := c.CreateContactWithResponse(ctx, nil, apiclient.ContactCreate{Name: ""})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode())
	require.Contains(t, *bad.JSON422.Error.Fields, "name")

	missing, err := c.GetContactWithResponse(ctx, uuid.Must(uuid.NewV7()))
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, missing.StatusCode())
}

// recordingDoer is an HTTP client that remembers each request it sends.
type recordingDoer struct {
	sent []string // "METHOD path"
}

func (d *recordingDoer) Do(r *http.Request) (*http.Response, error) {
	d.sent = append(d.sent, r.Method+" "+r.URL.Path)
	return http.DefaultClient.Do(r)
}

// TestGeneratedClientReachesEveryOperation drives every operation of
// openapi.json through the typed client (exports, imports and the export
// schedule included) and fails when one of them is not called through it:
// a new operation must be added here, so the client's view of it is tested.
func TestGeneratedClientReachesEveryOperation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleAdmin)
	ctx := context.Background()
	rec := &recordingDoer{}
	c, err := apiclient.NewClientWithResponses(e.srv.URL, apiclient.WithHTTPClient(rec), apiclient.WithRequestEditorFn(
		func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+key)
			return nil
		}))
	require.NoError(t, err)

	// Contacts, from creation to deletion.
	idem := apiclient.IdempotencyKey("client-" + gw.NewID())
	created, err := c.CreateContactWithResponse(ctx, &apiclient.CreateContactParams{IdempotencyKey: &idem}, apiclient.ContactCreate{Name: "Ada"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), "%s", created.Body)
	id := created.JSON201.Id
	company := "AE"
	patched, err := c.UpdateContactWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, id, apiclient.ContactPatch{Company: &company})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, patched.StatusCode(), "%s", patched.Body)
	require.Equal(t, company, patched.JSON200.Company)
	deleted, err := c.DeleteContactWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, deleted.StatusCode(), "%s", deleted.Body)
	gone, err := c.GetContactWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, gone.StatusCode())
	list, err := c.ListContactsWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, list.StatusCode())
	require.Empty(t, list.JSON200.Data)

	action := apiclient.AuditAction("contact.*")
	events, err := c.ListAuditEventsWithResponse(ctx, &apiclient.ListAuditEventsParams{Action: &action})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, events.StatusCode(), "%s", events.Body)
	require.NotEmpty(t, events.JSON200.Data)

	// Exports: requested, read, listed, cancelled.
	format, tables := apiclient.ExportCreateFormatJsonl, []apiclient.ExportCreateTables{apiclient.ExportCreateTablesContacts}
	export, err := c.CreateExportWithResponse(ctx, nil, apiclient.ExportCreate{Format: &format, Tables: &tables})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, export.StatusCode(), "%s", export.Body)
	got, err := c.GetExportWithResponse(ctx, export.JSON202.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode(), "%s", got.Body)
	require.EqualValues(t, "jsonl", got.JSON200.Format)
	exportList, err := c.ListExportsWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, exportList.StatusCode())
	require.Len(t, exportList.JSON200.Data, 1)
	cancelled, err := c.CancelExportWithResponse(ctx, export.JSON202.Id)
	require.NoError(t, err)
	require.Contains(t, []int{http.StatusOK, http.StatusConflict}, cancelled.StatusCode(), "%s", cancelled.Body) // 409: it finished first

	// The export schedule: set, read, deleted.
	tz := "Europe/Paris"
	set, err := c.SetExportScheduleWithResponse(ctx, apiclient.ExportScheduleSet{
		Frequency: apiclient.ExportScheduleSetFrequencyWeekly, Hour: 6, Timezone: &tz})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, set.StatusCode(), "%s", set.Body)
	schedule, err := c.GetExportScheduleWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, schedule.StatusCode(), "%s", schedule.Body)
	require.Equal(t, tz, schedule.JSON200.Timezone)
	unset, err := c.DeleteExportScheduleWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, unset.StatusCode(), "%s", unset.Body)
	none, err := c.GetExportScheduleWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, none.StatusCode())

	// Imports: uploaded, read, listed.
	mode, name := apiclient.CreateImportParamsModeSkipInvalid, "people.csv"
	imp, err := c.CreateImportWithBodyWithResponse(ctx, &apiclient.CreateImportParams{Mode: &mode, FileName: &name},
		"text/csv", strings.NewReader("name,email\nGrace,grace@example.com\n"))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, imp.StatusCode(), "%s", imp.Body)
	gotImp, err := c.GetImportWithResponse(ctx, imp.JSON202.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, gotImp.StatusCode(), "%s", gotImp.Body)
	require.Equal(t, name, gotImp.JSON200.FileName)
	imports, err := c.ListImportsWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, imports.StatusCode())
	require.Len(t, imports.JSON200.Data, 1)

	doc, err := c.GetOpenAPIWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, doc.StatusCode())

	ops := specOperations(t)
	reached := map[string]bool{}
	for _, s := range rec.sent {
		method, path, _ := strings.Cut(s, " ")
		reached[opOf(ops, method, path)] = true
	}
	for op := range ops {
		require.True(t, reached[op], "%s is not called through the typed client: add it to this test", op)
	}
}
