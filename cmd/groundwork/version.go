package main

import (
	"context"
	"fmt"
)

// runVersion runs "groundwork version".
func runVersion(_ context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("version", "Print the version, commit and build time of this binary.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "groundwork %s (commit %s, built %s)\n", version, commit, buildTime)
	return nil
}
