package web

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// actionRE finds a template's actions, {{...}}; canCallRE the permission a
// "can" call in one names: can .Role "x".
var (
	actionRE  = regexp.MustCompile(`\{\{[^}]*\}\}`)
	canCallRE = regexp.MustCompile(`\bcan\s+[^\s"]+\s+"([^"]*)"`)
)

// TestTemplatePermissionsExist: every permission a template checks with
// "can" is one of authz's (the owner, who holds them all, has it), so that a
// misspelt name cannot hide a link from everyone without a failing test.
func TestTemplatePermissionsExist(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(templateFiles, "templates/*.html")
	require.NoError(t, err)
	found := 0
	for _, name := range names {
		b, err := fs.ReadFile(templateFiles, name)
		require.NoError(t, err)
		for _, action := range actionRE.FindAllString(string(b), -1) {
			for _, m := range canCallRE.FindAllStringSubmatch(action, -1) {
				found++
				require.True(t, authz.Can(gw.RoleOwner, authz.Permission(m[1])), "%s names the permission %q, which does not exist", name, m[1])
			}
		}
	}
	require.Greater(t, found, 10, "the templates' permission checks were found")
	require.False(t, authz.Can(gw.RoleOwner, authz.Permission("contacts.wirte")), "a misspelt permission is refused")
}
