package main

import (
	"io"

	"github.com/groundwork-dev/groundwork/internal/config"
)

func runConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config", "Print the effective configuration, one VARIABLE=value a line, secrets redacted.", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	cfg.Print(stdout)
	return nil
}
