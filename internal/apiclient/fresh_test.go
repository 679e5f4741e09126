package apiclient

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestClientIsFresh regenerates the client from internal/web/openapi.json
// and fails while the committed client.gen.go differs: run go generate
// ./internal/apiclient/ after changing the document.
func TestClientIsFresh(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "client.gen.go")
	config, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	config = bytes.Replace(config, []byte("output: client.gen.go"), []byte("output: "+out), 1)
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "-modfile=../../tools/go.mod", "oapi-codegen",
		"-config", filepath.Join(dir, "config.yaml"), "../web/openapi.json")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("client.gen.go is stale: run go generate ./internal/apiclient/")
	}
}

// TestTypeScriptTypesAreFresh regenerates api.d.ts with openapi-typescript
// and fails while the committed one differs. Without the tool (npm ci in
// tools/npm, which scripts/install-deps.sh runs) it skips, except under
// CI=true, where it fails.
func TestTypeScriptTypesAreFresh(t *testing.T) {
	bin := "../../tools/npm/node_modules/.bin/openapi-typescript"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openapi-typescript is not installed (%v); run scripts/install-deps.sh", err)
		}
		t.Skipf("openapi-typescript is not installed: %v", err)
	}
	out := filepath.Join(t.TempDir(), "api.d.ts")
	if b, err := exec.Command(bin, "../web/openapi.json", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("openapi-typescript: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("api.d.ts")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("api.d.ts is stale: run go generate ./internal/apiclient/")
	}
}
