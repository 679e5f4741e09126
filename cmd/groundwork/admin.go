package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/observe"
)

// admin is what an admin command runs with: configuration, logger, database
// and the modules on it.
type admin struct {
	cfg    config.Config
	logger *slog.Logger
	db     *database
	mods   *app.App
}

// withAdmin parses the command's flags, opens the database (reusing the
// embedded cluster when serve runs on it), builds the modules and runs fn.
func withAdmin(ctx context.Context, fs *flag.FlagSet, args []string, e cmdEnv, fn func(a *admin) error) error {
	cfg, logger, err := loadAdmin(fs, args, e)
	if err != nil {
		return err
	}
	return runAdmin(ctx, cfg, logger, e, fn)
}

// runAdmin is withAdmin once the flags and configuration are read.
func runAdmin(ctx context.Context, cfg config.Config, logger *slog.Logger, e cmdEnv, fn func(a *admin) error) error {
	db, err := openRuntime(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(ctx, logger)
	src := app.KeySource(cfg)
	keys, err := crypto.Load(src, devKeysetLogger(logger, src.DevPath(crypto.Encryption), src.DevPath(crypto.BlindIndex)))
	if err != nil {
		return err
	}
	mods, err := app.New(db.pool, cfg, logger, app.Options{Mailer: adminMailer(cfg, e), Keys: keys})
	if err != nil {
		return err
	}
	return fn(&admin{cfg: cfg, logger: logger, db: db, mods: mods})
}

// adminMailer is the mail sender of an admin command: nil (SMTP, as serve
// uses) when SMTP_URL is set; else one that writes the emails on stderr, at
// any log level, without the "SMTP_URL is not set" warning serve gives.
func adminMailer(cfg config.Config, e cmdEnv) mail.Sender {
	if cfg.SMTPURL != "" {
		return nil
	}
	return mail.NewLogSender(observe.NewLogger(e.stderr, cfg.Production(), "info"))
}

// devKeysetLogger is the logger to load keysets with in an admin command:
// nil when every development keyset file at paths exists already, so that
// using them does not repeat on every command the warning serve gives at
// every start; logger otherwise, so that generating one is reported. (With
// the keyset variables set, or in production, loading logs nothing.)
func devKeysetLogger(logger *slog.Logger, paths ...string) *slog.Logger {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return logger
		}
	}
	return nil
}

// readPassword reads a password from stdin (its first line); with nothing
// there it generates a random one.
func readPassword(stdin io.Reader) (password string, generated bool, err error) {
	if stdin != nil {
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return "", false, fmt.Errorf("read password from stdin: %w", err)
		}
		if line, _, _ := strings.Cut(string(b), "\n"); strings.TrimRight(line, "\r") != "" {
			return strings.TrimRight(line, "\r"), false, nil
		}
	}
	return rand.Text(), true, nil
}

// cliError turns a kernel error into one line for the terminal: its
// caller-safe message and the field messages.
func cliError(action string, err error) error {
	if gw.ErrorCode(err) == gw.EINTERNAL {
		return fmt.Errorf("%s: %w", action, err)
	}
	msg := gw.ErrorMessage(err)
	if e, ok := errors.AsType[*gw.Error](err); ok {
		for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
			if e.Fields[k] != msg {
				msg += fmt.Sprintf(" %s: %s", k, e.Fields[k])
			}
		}
	}
	return fmt.Errorf("%s: %s", action, msg)
}
