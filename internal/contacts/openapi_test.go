package contacts

import (
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"
)

// openAPIPath is the OpenAPI document of the JSON API, which describes this
// module's endpoints. It lives with the web package, which serves it.
const openAPIPath = "../web/openapi.json"

// TestOpenAPIDocument checks that the API description is a valid OpenAPI
// 3.1 document listing the contact endpoints with their responses.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	spec, err := os.ReadFile(openAPIPath)
	require.NoError(t, err)
	doc, err := libopenapi.NewDocument(spec)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.GetSpecInfo().Version)

	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	for _, e := range verrs {
		t.Errorf("%s: %s", e.Message, e.Reason)
	}
	require.True(t, ok, "valid against the OpenAPI 3.1 schema")

	model, err := doc.BuildV3Model()
	require.NoError(t, err)
	api := model.Model
	require.Len(t, api.Servers, 1)
	require.Equal(t, "/", api.Servers[0].URL, "paths carry the full /api/v1 prefix")

	scheme := api.Components.SecuritySchemes.GetOrZero("apiKey")
	require.NotNil(t, scheme)
	require.Equal(t, "http", scheme.Type)
	require.Equal(t, "bearer", scheme.Scheme)
	require.Len(t, api.Security, 1)

	// method and path → the statuses it documents.
	want := map[string][]string{
		"get /api/v1/contacts":             {"200", "401", "403", "422", "429", "500"},
		"post /api/v1/contacts":            {"201", "400", "401", "403", "409", "413", "415", "422", "429", "500"},
		"get /api/v1/exports":              {"200", "401", "403", "422", "429", "500"},
		"post /api/v1/exports":             {"202", "400", "401", "403", "409", "413", "415", "422", "429", "500"},
		"get /api/v1/exports/{id}":         {"200", "401", "403", "404", "422", "429", "500"},
		"post /api/v1/exports/{id}/cancel": {"200", "401", "403", "404", "409", "422", "429", "500"},
		"get /api/v1/contacts/{id}":        {"200", "401", "403", "404", "422", "429", "500"},
		"patch /api/v1/contacts/{id}":      {"200", "400", "401", "403", "404", "413", "415", "422", "429", "500"},
		"delete /api/v1/contacts/{id}":     {"204", "401", "403", "404", "422", "429", "500"},
		"get /api/v1/openapi.json":         {"200", "429", "500"},
		"get /api/v1/audit-events":         {"200", "401", "403", "422", "429", "500"},
		"get /api/v1/imports":              {"200", "401", "403", "422", "429", "500"},
		"post /api/v1/imports":             {"202", "400", "401", "403", "409", "413", "415", "422", "429", "500"},
		"get /api/v1/imports/{id}":         {"200", "401", "403", "404", "422", "429", "500"},
		"get /api/v1/export-schedule":      {"200", "401", "403", "404", "422", "429", "500"},
		"put /api/v1/export-schedule":      {"200", "400", "401", "403", "413", "415", "422", "429", "500"},
		"delete /api/v1/export-schedule":   {"204", "401", "403", "404", "422", "429", "500"},
	}
	got := map[string][]string{}
	for path, item := range api.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			key := method + " " + path
			require.NotEmpty(t, op.OperationId, key)
			require.NotEmpty(t, op.Summary, key)
			for code, resp := range op.Responses.Codes.FromOldest() {
				got[key] = append(got[key], code)
				if code >= "400" {
					schema := resp.Content.GetOrZero("application/json").Schema
					require.Equal(t, "#/components/schemas/Error", schema.GetReference(), "%s %s", key, code)
				}
			}
			slices.Sort(got[key])
		}
	}
	require.Equal(t, want, got)
	require.NotNil(t, api.Paths.PathItems.GetOrZero("/api/v1/openapi.json").Get.Security, "served without a key")
	require.Empty(t, api.Paths.PathItems.GetOrZero("/api/v1/openapi.json").Get.Security)

	for _, name := range []string{"Contact", "ContactCreate", "ContactPatch", "ContactList", "Error"} {
		schema := api.Components.Schemas.GetOrZero(name)
		require.NotNil(t, schema, name)
		require.False(t, schema.Schema().AdditionalProperties.B, "%s refuses unknown properties", name)
	}
	require.Equal(t, []string{"name"}, api.Components.Schemas.GetOrZero("ContactCreate").Schema().Required)
	require.Empty(t, api.Components.Schemas.GetOrZero("ContactPatch").Schema().Required)
	var contactProps []string
	for name := range api.Components.Schemas.GetOrZero("Contact").Schema().Properties.KeysFromOldest() {
		contactProps = append(contactProps, name)
	}
	require.Equal(t, []string{"id", "name", "email", "phone", "company", "tags", "custom", "created_at", "updated_at"}, contactProps)
}

// TestOpenAPIValidatesResponses shows how a response is checked against
// the document, and that the Contact schema is strict.
func TestOpenAPIValidatesResponses(t *testing.T) {
	t.Parallel()
	spec, err := os.ReadFile(openAPIPath)
	require.NoError(t, err)
	doc, err := libopenapi.NewDocument(spec)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)

	contact := `{"id":"01970e3c-6f1a-7b2e-9c4d-5e6f7a8b9c0d","name":"Ada","email":"","phone":"","company":"",
		"tags":["vip"],"custom":{"born":1815,"title":"Countess","ok":true,"none":null},
		"created_at":"2026-01-02T03:04:05.123456Z","updated_at":"2026-01-02T03:04:05.123456Z"}`
	tests := []struct {
		name, method, path string
		status             int
		body               string
		valid              bool
	}{
		{"contact", http.MethodGet, "/api/v1/contacts/01970e3c-6f1a-7b2e-9c4d-5e6f7a8b9c0d", 200, contact, true},
		{"contact with an unknown property", http.MethodGet, "/api/v1/contacts/01970e3c-6f1a-7b2e-9c4d-5e6f7a8b9c0d", 200,
			strings.Replace(contact, `"name"`, `"org_id":"x","name"`, 1), false},
		{"contact with a nested custom value", http.MethodGet, "/api/v1/contacts/01970e3c-6f1a-7b2e-9c4d-5e6f7a8b9c0d", 200,
			strings.Replace(contact, `"born":1815`, `"born":{"year":1815}`, 1), false},
		{"last page", http.MethodGet, "/api/v1/contacts", 200, `{"data":[` + contact + `],"next_cursor":null}`, true},
		{"page", http.MethodGet, "/api/v1/contacts?limit=1", 200, `{"data":[` + contact + `],"next_cursor":"AZcOPG8aey6cTV5veoucDQ"}`, true},
		{"validation error", http.MethodPost, "/api/v1/contacts", 422,
			`{"error":{"code":"invalid","message":"Some fields are invalid; see fields.","fields":{"email":"Enter a valid email address."},"request_id":"r1"}}`, true},
		{"error with an unknown property", http.MethodDelete, "/api/v1/contacts/01970e3c-6f1a-7b2e-9c4d-5e6f7a8b9c0d", 404,
			`{"error":{"code":"not_found","message":"Contact not found.","detail":"x"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://localhost"+tt.path, nil)
			require.NoError(t, err)
			resp := &http.Response{
				StatusCode: tt.status,
				Header:     http.Header{"Content-Type": {"application/json"}},
				Body:       io.NopCloser(strings.NewReader(tt.body)),
				Request:    req,
			}
			ok, verrs := v.ValidateHttpResponse(req, resp)
			require.Equal(t, tt.valid, ok, "validation errors: %v", verrs)
		})
	}
}
