package main

import (
	"context"

	"github.com/groundwork-dev/groundwork/internal/config"
)

// runConfig runs "groundwork config".
func runConfig(_ context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("config", "Print the effective configuration, one VARIABLE=value a line, secrets redacted.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return err
	}
	cfg.Print(e.stdout)
	return nil
}
