package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// runAPIKeyCreate runs "groundwork apikey create".
func runAPIKeyCreate(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("apikey create", "Create an API key for an organisation. The key is printed alone on the\nlast line; it is shown only once.")
	orgRef := fs.String("org", "", "the organisation's ID or slug (required)")
	role := fs.String("role", "member", "the key's role: admin, member or viewer")
	name := fs.String("name", "", "a name to recognise the key by (required)")
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		if *orgRef == "" || *name == "" {
			return errors.New("apikey create: -org and -name are required")
		}
		o, err := a.mods.Orgs.ResolveOrg(ctx, *orgRef)
		if err != nil {
			return cliError("apikey create: organisation "+*orgRef, err)
		}
		k, key, err := a.mods.Orgs.CreateAPIKeyAsAdmin(ctx, o.ID, *name, gw.Role(*role))
		if err != nil {
			return cliError("apikey create", err)
		}
		fmt.Fprintf(e.stdout, "created API key %q (%s…) for %s with role %s\n%s\n", k.Name, k.Prefix, o.Name, k.Role, key)
		return nil
	})
}
