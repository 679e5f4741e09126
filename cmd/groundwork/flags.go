package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/observe"
)

// newFlagSet returns the flag set of the command or action at path ("serve",
// "backup create"). It prints nothing and never exits: parseFlags turns -h
// into a *helpRequest, whose usage (summary and flags) the dispatcher
// prints, and any other problem into an error naming the flag.
func newFlagSet(path, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { fmt.Fprint(fs.Output(), summary) }
	return fs
}

// helpRequest is the error parseFlags returns for -h: the dispatcher prints
// the command's usage from it on stdout, and the command succeeds.
type helpRequest struct {
	summary string // the command's description
	flags   string // its flags as flag.PrintDefaults writes them; "" when it has none
}

// Error says that help was asked for.
func (h *helpRequest) Error() string { return "help requested" }

// parseFlags parses args with fs. For -h it returns a *helpRequest; for an
// undefined flag or a bad value, an error that names the flag and points to
// the command's -h.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var summary strings.Builder
	fs.SetOutput(&summary) // -h: fs.Usage writes the summary here (on an error, with the error: dropped)
	err := fs.Parse(args)
	fs.SetOutput(io.Discard)
	switch {
	case errors.Is(err, flag.ErrHelp):
		var flags strings.Builder
		fs.SetOutput(&flags)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return &helpRequest{summary: summary.String(), flags: flags.String()}
	case err != nil:
		return fmt.Errorf("%s: %w (run \"groundwork %s -h\")", fs.Name(), err, fs.Name())
	}
	return nil
}

// noArgs fails when a command that takes no positional arguments got some.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (run \"groundwork %s -h\")", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

// loadCommand is how serve and worker start: it parses the flags, refuses
// stray arguments, loads the configuration and builds the logger at
// GROUNDWORK_LOG_LEVEL (default info).
func loadCommand(fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer) (config.Config, *slog.Logger, error) {
	if err := parseFlags(fs, args); err != nil {
		return config.Config{}, nil, err
	}
	if err := noArgs(fs); err != nil {
		return config.Config{}, nil, err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, observe.NewLogger(stderr, cfg.Production(), cfg.LogLevel), nil
}

// loadAdmin is loadCommand for every other command: its logger shows only
// warnings and errors (see adminLogger).
func loadAdmin(fs *flag.FlagSet, args []string, e cmdEnv) (config.Config, *slog.Logger, error) {
	if err := parseFlags(fs, args); err != nil {
		return config.Config{}, nil, err
	}
	if err := noArgs(fs); err != nil {
		return config.Config{}, nil, err
	}
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, adminLogger(e, cfg.Production()), nil
}

// adminLogger is the logger of a command that is not serve or worker. It
// shows warnings and errors only, so that starting the embedded cluster or
// applying migrations does not chatter on stderr around the command's
// output: GROUNDWORK_LOG_LEVEL=info is the default (and what .env.example
// sets, for serve), so it does not count as asking for more. -v shows the
// informational logs; GROUNDWORK_LOG_LEVEL=debug shows everything, and
// error hides the warnings.
func adminLogger(e cmdEnv, production bool) *slog.Logger {
	level := observe.ParseLevel(e.getenv("GROUNDWORK_LOG_LEVEL"))
	if level != slog.LevelDebug {
		level = max(level, slog.LevelWarn)
	}
	if e.verbose {
		level = min(level, slog.LevelInfo)
	}
	return observe.NewLogger(e.stderr, production, strings.ToLower(level.String()))
}
