package main

import (
	"context"
	"errors"
	"fmt"
)

// runUserCreate runs "groundwork user create".
func runUserCreate(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("user create", "Create a verified user. The password is read from stdin; with nothing\non stdin one is generated and printed.")
	email := fs.String("email", "", "the user's email address (required)")
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		if *email == "" {
			return errors.New("user create: -email is required")
		}
		password, generated, err := readPassword(e.stdin)
		if err != nil {
			return err
		}
		u, err := a.mods.Accounts.CreateVerifiedUser(ctx, *email, password)
		if err != nil {
			return cliError("user create", err)
		}
		fmt.Fprintf(e.stdout, "created user %s (%s)\n", u.Email, u.ID)
		if generated {
			fmt.Fprintf(e.stdout, "password: %s\n", password)
		}
		return nil
	})
}
