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
	"slices"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// withServices runs fn with the modules on the database of cfg (the
// embedded cluster is reused when serve runs on it).
func withServices(ctx context.Context, fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer,
	fn func(mods *app.App) error) error {
	return withCommand(ctx, fs, args, getenv, stderr, func(a *command) error { return fn(a.mods) })
}

// app is what an admin command runs with: configuration, logger, database
// and the modules on it.
type command struct {
	cfg    config.Config
	logger *slog.Logger
	db     *database
	mods   *app.App
}

// withCommand parses the command's flags, opens the database (reusing the
// embedded cluster when serve runs on it), builds the modules and runs fn.
func withCommand(ctx context.Context, fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer,
	fn func(a *command) error) error {
	cfg, logger, err := loadCommand(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	db, err := openRuntime(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(ctx, logger)
	mods, err := app.New(db.pool, cfg, logger, app.Options{})
	if err != nil {
		return err
	}
	return fn(&command{cfg: cfg, logger: logger, db: db, mods: mods})
}

// subcommand splits "NOUN create ..." into its action and the rest.
func subcommand(noun string, args []string) ([]string, error) {
	if len(args) == 0 || args[0] != "create" {
		return nil, fmt.Errorf("%s: say \"groundwork %s create\" (run \"groundwork %s create -h\" for its flags)", noun, noun, noun)
	}
	return args[1:], nil
}

func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	rest, err := subcommand("user", args)
	if err != nil {
		return err
	}
	fs := newFlagSet("user create", "Create a verified user. The password is read from stdin; with nothing\non stdin one is generated and printed.", stderr)
	email := fs.String("email", "", "the user's email address (required)")
	return withServices(ctx, fs, rest, getenv, stderr, func(mods *app.App) error {
		if *email == "" {
			return errors.New("user create: -email is required")
		}
		password, generated, err := readPassword(stdin)
		if err != nil {
			return err
		}
		u, err := mods.Accounts.CreateVerifiedUser(ctx, *email, password)
		if err != nil {
			return cliError("user create", err)
		}
		fmt.Fprintf(stdout, "created user %s (%s)\n", u.Email, u.ID)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", password)
		}
		return nil
	})
}

func runOrg(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	rest, err := subcommand("org", args)
	if err != nil {
		return err
	}
	fs := newFlagSet("org create", "Create an organisation owned by an existing user and print its ID.", stderr)
	name := fs.String("name", "", "the organisation's name (required)")
	owner := fs.String("owner", "", "email of the owning user (required)")
	return withServices(ctx, fs, rest, getenv, stderr, func(mods *app.App) error {
		if *name == "" || *owner == "" {
			return errors.New("org create: -name and -owner are required")
		}
		u, err := mods.Accounts.UserByEmail(ctx, *owner)
		if err != nil {
			return cliError("org create: owner "+*owner, err)
		}
		o, err := mods.Orgs.CreateForOwner(ctx, u.ID, *name)
		if err != nil {
			return cliError("org create", err)
		}
		fmt.Fprintln(stdout, o.ID)
		return nil
	})
}

func runAPIKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	rest, err := subcommand("apikey", args)
	if err != nil {
		return err
	}
	fs := newFlagSet("apikey create", "Create an API key for an organisation. The key is printed alone on the\nlast line; it is shown only once.", stderr)
	orgRef := fs.String("org", "", "the organisation's ID or slug (required)")
	role := fs.String("role", "member", "the key's role: admin, member or viewer")
	name := fs.String("name", "", "a name to recognise the key by (required)")
	return withServices(ctx, fs, rest, getenv, stderr, func(mods *app.App) error {
		if *orgRef == "" || *name == "" {
			return errors.New("apikey create: -org and -name are required")
		}
		o, err := mods.Orgs.ResolveOrg(ctx, *orgRef)
		if err != nil {
			return cliError("apikey create: organisation "+*orgRef, err)
		}
		k, key, err := mods.Orgs.CreateAPIKeyAsAdmin(ctx, o.ID, *name, gw.Role(*role))
		if err != nil {
			return cliError("apikey create", err)
		}
		fmt.Fprintf(stdout, "created API key %q (%s…) for %s with role %s\n%s\n", k.Name, k.Prefix, o.Name, k.Role, key)
		return nil
	})
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
