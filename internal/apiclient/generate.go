// Package apiclient is a typed Go client of Groundwork's JSON API,
// generated from internal/web/openapi.json by oapi-codegen (pinned in
// tools/go.mod). Run go generate ./internal/apiclient/ after changing the
// document; TestClientIsFresh fails while the committed client is stale.
package apiclient

//go:generate go tool -modfile=../../tools/go.mod oapi-codegen -config oapi-codegen.yaml ../web/openapi.json

// The TypeScript types of the same document, for front-ends, from
// openapi-typescript (pinned in tools/npm/package.json).
//go:generate ../../tools/npm/node_modules/.bin/openapi-typescript ../web/openapi.json -o api.d.ts
