package main

import (
	"context"
	"errors"
	"fmt"
)

// runOrgCreate runs "groundwork org create".
func runOrgCreate(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("org create", "Create an organisation owned by an existing user and print its ID.")
	name := fs.String("name", "", "the organisation's name (required)")
	owner := fs.String("owner", "", "email of the owning user (required)")
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		if *name == "" || *owner == "" {
			return errors.New("org create: -name and -owner are required")
		}
		u, err := a.mods.Accounts.UserByEmail(ctx, *owner)
		if err != nil {
			return cliError("org create: owner "+*owner, err)
		}
		o, err := a.mods.Orgs.CreateForOwner(ctx, u.ID, *name)
		if err != nil {
			return cliError("org create", err)
		}
		fmt.Fprintln(e.stdout, o.ID)
		return nil
	})
}
