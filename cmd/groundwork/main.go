// Command groundwork is the Groundwork server and its operations tool: one
// binary for serving, working jobs, migrating and administering.
//
// Every command and action is a row of the command table (commands.go),
// which both the dispatcher and "groundwork help" read; each action has its
// own function and its own flag set, in the file named after its command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Build information, set by the Makefile through -ldflags -X.
var (
	version   = "dev"
	commit    = "unknown"
	buildTime = "unknown"
)

// main runs the command line and, when it fails, prints the error on one
// line with the program's name in front (the only place that adds it) and
// exits 1.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "groundwork: %v\n", err)
		os.Exit(1)
	}
}

// cmdEnv is what a command runs with besides its arguments: the
// configuration variables, the standard streams, and whether -v asked for
// informational logs.
type cmdEnv struct {
	getenv  func(string) string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	verbose bool
}

// run is the whole program: it parses args (args[0] is the program name),
// reads configuration through getenv and input (passwords) from stdin, and
// writes to stdout and stderr. Its error is one line without the program's
// name, which main adds.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("groundwork", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	verbose := fs.Bool("v", false, "")
	if len(args) > 0 {
		args = args[1:]
	}
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout)
		return nil
	case err != nil:
		return fmt.Errorf("%w (run \"groundwork help\")", err)
	}
	if fs.NArg() == 0 {
		printHelp(stderr)
		return errors.New("no command given")
	}
	e := cmdEnv{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, verbose: *verbose}
	return dispatch(ctx, "", commandTable(), fs.Args(), e)
}
