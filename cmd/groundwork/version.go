package main

import (
	"fmt"
	"io"
)

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "Print the version, commit and build time of this binary.", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "groundwork %s (commit %s, built %s)\n", version, commit, buildTime)
	return nil
}
