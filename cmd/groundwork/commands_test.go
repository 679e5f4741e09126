package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// commandPaths lists every node of the command table as its words
// ("backup", "backup pitr", "backup pitr setup").
func commandPaths(prefix []string, cmds []command) [][]string {
	var paths [][]string
	for _, c := range cmds {
		p := append(append([]string{}, prefix...), c.name)
		paths = append(paths, p)
		paths = append(paths, commandPaths(p, c.actions)...)
	}
	return paths
}

// noDatabase is an environment whose database cannot be reached, so that a
// command that should have stopped at its flags fails fast instead of
// starting an embedded cluster.
var noDatabase = map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"}

// TestEveryCommandHasHelp runs "-h" and "help" for every command, group and
// action of the table: each succeeds and prints a usage that names it.
func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	for _, path := range commandPaths(nil, commandTable()) {
		name := strings.Join(path, " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, _, err := runCmd(t, noDatabase, append(path, "-h")...)
			require.NoError(t, err)
			require.Contains(t, out, "Usage: groundwork "+name)
			out2, _, err := runCmd(t, noDatabase, append([]string{"help"}, path...)...)
			require.NoError(t, err)
			require.Equal(t, out, out2, `"groundwork help X" is "groundwork X -h"`)
		})
	}
}

// TestHelpListsEveryCommand checks that "groundwork help" (and -h, --help)
// lists every action of the table by its whole command line.
func TestHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	out, _, err := runCmd(t, nil, "help")
	require.NoError(t, err)
	for _, flag := range []string{"-h", "--help"} {
		o, _, err := runCmd(t, nil, flag)
		require.NoError(t, err)
		require.Equal(t, out, o)
	}
	for _, path := range commandPaths(nil, commandTable()) {
		require.Contains(t, out, "\n  "+strings.Join(path, " "))
	}
	for _, want := range []string{"migrate rehearse", "backup pitr setup", "restore --backup ID", "--at TIME", "org list", "user list"} {
		require.Contains(t, out, want)
	}
}

// TestInapplicableFlagIsAnError gives actions a flag that only a sibling
// has: each refuses it by name and points to its own -h.
func TestInapplicableFlagIsAnError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		flag string
	}{
		{[]string{"backup", "create", "-dry-run"}, "-dry-run"},
		{[]string{"backup", "list", "-backup", "x"}, "-backup"},
		{[]string{"backup", "verify", "-rotate", "x"}, "-rotate"},
		{[]string{"backup", "pitr", "status", "-minus", "1m"}, "-minus"},
		{[]string{"keys", "status", "-keyset", "encryption"}, "-keyset"},
		{[]string{"keys", "new", "-id", "1"}, "-id"},
		{[]string{"keys", "promote", "-force", "-id", "1"}, "-force"},
		{[]string{"migrate", "up", "-dir", "x"}, "-dir"},
		{[]string{"migrate", "status", "-from-url", "x"}, "-from-url"},
		{[]string{"billing", "reconcile", "-org", "x"}, "-org"},
		{[]string{"user", "list", "-email", "x"}, "-email"},
		{[]string{"org", "list", "-name", "x"}, "-name"},
		{[]string{"restore", "-minus", "1m"}, "-minus"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			_, _, err := runCmd(t, noDatabase, tt.args...)
			require.ErrorContains(t, err, "flag provided but not defined: "+tt.flag)
			i := 0
			for i < len(tt.args) && !strings.HasPrefix(tt.args[i], "-") {
				i++
			}
			name := strings.Join(tt.args[:i], " ")
			require.True(t, strings.HasPrefix(err.Error(), name+": "), err.Error())
			require.Contains(t, err.Error(), `(run "groundwork `+name+` -h")`)
		})
	}
}

// TestErrorsHaveOnePrefix checks that errors name the command once and not
// the program: main adds "groundwork: " in front, once.
func TestErrorsHaveOnePrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string // the start of the error
	}{
		{[]string{"org", "create", "-name", "x", "-owner", "y", "extra"}, `org create: unexpected argument "extra"`},
		{[]string{"backup", "create", "-dry-run"}, "backup create: flag provided but not defined: -dry-run"},
		{[]string{"backup", "verify"}, "backup verify: say which backup"},
		{[]string{"user"}, `user: say create or list (run "groundwork user -h")`},
		{[]string{"backup", "pitr", "bogus"}, `backup pitr: unknown action "bogus"; say setup, status, verify or rehearse`},
		{[]string{"migrate", "-dir", "x", "create", "y"}, "migrate: flag -dir before the action"},
		{[]string{"version", "extra"}, `version: unexpected argument "extra"`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"-x"}, "flag provided but not defined: -x"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			_, _, err := runCmd(t, noDatabase, tt.args...)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), tt.want), err.Error())
			require.NotContains(t, err.Error(), "groundwork:")
			if name, _, ok := strings.Cut(tt.want, ": "); ok {
				require.Equal(t, 1, strings.Count(err.Error(), name+": "), "the command is named once: %s", err)
			}
			require.NotContains(t, err.Error(), "\n")
		})
	}
}
