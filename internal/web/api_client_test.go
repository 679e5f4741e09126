package web

import (
	"context"
	"net/http"
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
