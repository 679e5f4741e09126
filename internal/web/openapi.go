package web

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes the JSON API under /api/v1 (OpenAPI 3.1).
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves the OpenAPI document.
func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(openAPIDocument)
	})
}
