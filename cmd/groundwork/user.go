package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"
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

// runUserList runs "groundwork user list". The users table is global (no
// row-level security), so the runtime role reads it whole; the account
// module has no listing of every user, which only the operator needs.
func runUserList(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("user list", "List every user by email: whether the address is verified, whether\ntwo-factor authentication is on, whether the account is disabled, and\nwhen it was created.")
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		rows, err := a.db.pool.Query(ctx, `SELECT email, email_verified_at IS NOT NULL, totp_enabled_at IS NOT NULL,
			disabled_at IS NOT NULL, created_at FROM users ORDER BY lower(email)`)
		if err != nil {
			return fmt.Errorf("user list: %w", err)
		}
		defer rows.Close()
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tVERIFIED\t2FA\tDISABLED\tCREATED")
		for rows.Next() {
			var email string
			var verified, twoFactor, disabled bool
			var created time.Time
			if err := rows.Scan(&email, &verified, &twoFactor, &disabled, &created); err != nil {
				return fmt.Errorf("user list: %w", err)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", email, yesNo(verified), yesNo(twoFactor), yesNo(disabled),
				created.UTC().Format(time.RFC3339))
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("user list: %w", err)
		}
		return tw.Flush()
	})
}

// yesNo is "yes" or "no", for a table cell.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
