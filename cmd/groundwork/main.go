// Command groundwork is the Groundwork server and its operations tool: one
// binary for serving, working jobs, migrating and administering.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/observe"
)

// Build information, set by the Makefile through -ldflags -X.
var (
	version   = "dev"
	commit    = "unknown"
	buildTime = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "groundwork: %v\n", err)
		os.Exit(1)
	}
}

const usage = `groundwork — a production-grade foundation for multi-tenant B2B SaaS.

Usage: groundwork COMMAND [flags]

Commands:
  serve      serve HTTP (pages, API, webhooks, ops endpoints) and work jobs
  worker     work jobs only, without HTTP
  migrate    apply, roll back, list or create database migrations (up|down|status|create NAME)
  user       user create -email E: create a verified user (password from stdin, or generated)
  org        org create -name N -owner E: create an organisation, print its ID
  apikey     apikey create -org ORG -role ROLE -name NAME: create an API key, print it
  billing    billing events|reconcile|sync: the Stripe webhook ledger, run the reconciler, re-sync an organisation
  audit      audit verify [-org ORG] [-v]: check the audit log's hash chains, name the first broken event
  keys       keys new|status|rotate|promote|reencrypt|remove: manage the field encryption keys
  backup     backup create|list|verify ID|prune|rehearse|keyset: encrypted logical backups
  restore    restore --backup ID --into DATABASE_URL [--force]: restore a backup, check it
  config     print the effective configuration, secrets redacted
  sentry-test send a test event to SENTRY_DSN; succeeds only if Sentry accepted it
  version    print the version, commit and build time
  help       show this help

Run "groundwork COMMAND -h" for a command's flags. Configuration comes from the
environment; see .env.example. With DATABASE_URL unset, every command uses the
embedded PostgreSQL cluster under $GROUNDWORK_DATA_DIR/postgres (default ./var).
`

// run is the whole program: it parses args (args[0] is the program name),
// reads configuration through getenv and input (passwords) from stdin, and
// writes to stdout and stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[1], args[2:]
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, rest, getenv, stdout, stderr)
	case "worker":
		err = runWorker(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, rest, getenv, stdout, stderr)
	case "user":
		err = runUser(ctx, rest, getenv, stdin, stdout, stderr)
	case "org":
		err = runOrg(ctx, rest, getenv, stdout, stderr)
	case "apikey":
		err = runAPIKey(ctx, rest, getenv, stdout, stderr)
	case "billing":
		err = runBilling(ctx, rest, getenv, stdout, stderr)
	case "audit":
		err = runAudit(ctx, rest, getenv, stdout, stderr)
	case "keys":
		err = runKeys(ctx, rest, getenv, stdout, stderr)
	case "backup":
		err = runBackup(ctx, rest, getenv, stdout, stderr)
	case "restore":
		err = runRestore(ctx, rest, getenv, stdout, stderr)
	case "config":
		err = runConfig(rest, getenv, stdout, stderr)
	case "sentry-test":
		err = runSentryTest(ctx, rest, getenv, stdout, stderr)
	case "version":
		err = runVersion(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		return fmt.Errorf("unknown command %q; run \"groundwork help\"", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil // the flag set already printed its usage
	}
	return err
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage to stderr.
func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("groundwork "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: groundwork %s\n\n%s\n", name, summary)
		if hasFlags(fs) {
			fmt.Fprintln(stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// loadCommand parses a command's flags, refuses stray arguments, loads the
// configuration and builds the logger.
func loadCommand(fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer) (config.Config, *slog.Logger, error) {
	if err := fs.Parse(args); err != nil {
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

// noArgs fails when a command that takes no positional arguments got some.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
