package main

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"
)

// operatorEmail splits "EMAIL [flags]" (or "[flags] EMAIL") into the email
// and the flags, for the operator actions.
func operatorEmail(action string, args []string) (string, []string, error) {
	var email string
	var flags []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "-"):
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !isHelpFlag(a) {
				flags = append(flags, args[i+1])
				i++
			}
		case email == "":
			email = a
		default:
			return "", nil, fmt.Errorf("operator %s: unexpected argument %q after the email", action, a)
		}
	}
	return email, flags, nil
}

// whoRuns is the default -by of the operator actions: the OS user.
func whoRuns() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// runOperatorGrant runs "groundwork operator grant EMAIL".
func runOperatorGrant(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("operator grant", "Make the user with EMAIL an operator: platform staff who may open the\noperator console (/ops) once two-factor authentication is on. Audited in\nthe user's account audit chain.")
	by := fs.String("by", whoRuns(), "who grants it, for the audit log")
	email, rest, err := operatorEmail("grant", args)
	if err != nil {
		return err
	}
	return withAdmin(ctx, fs, rest, e, func(a *admin) error {
		if email == "" {
			return errors.New("operator grant: say whose: groundwork operator grant EMAIL")
		}
		op, err := a.mods.Operators.Grant(ctx, email, *by)
		if err != nil {
			return cliError("operator grant", err)
		}
		fmt.Fprintf(e.stdout, "%s is an operator (granted %s by %s)\n", op.Email, op.GrantedAt.UTC().Format(time.RFC3339), op.GrantedBy)
		if !op.TwoFactor {
			fmt.Fprintf(e.stdout, "%s has no two-factor authentication yet: /ops stays closed until it is on (/account/two-factor)\n", op.Email)
		}
		return nil
	})
}

// runOperatorRevoke runs "groundwork operator revoke EMAIL".
func runOperatorRevoke(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("operator revoke", "Take operator rights from the user with EMAIL. Audited; takes effect on\nthe operator's next request.")
	by := fs.String("by", whoRuns(), "who revokes it, for the audit log")
	email, rest, err := operatorEmail("revoke", args)
	if err != nil {
		return err
	}
	return withAdmin(ctx, fs, rest, e, func(a *admin) error {
		if email == "" {
			return errors.New("operator revoke: say whose: groundwork operator revoke EMAIL")
		}
		if err := a.mods.Operators.Revoke(ctx, email, *by); err != nil {
			return cliError("operator revoke", err)
		}
		fmt.Fprintf(e.stdout, "%s is no longer an operator\n", strings.ToLower(strings.TrimSpace(email)))
		return nil
	})
}

// runOperatorList runs "groundwork operator list".
func runOperatorList(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("operator list", "List the operators: email, whether two-factor authentication is on\n(without it /ops stays closed to them), when and by whom they were granted.")
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		ops, err := a.mods.Operators.List(ctx)
		if err != nil {
			return fmt.Errorf("operator list: %w", err)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\t2FA\tGRANTED\tBY")
		for _, o := range ops {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Email, yesNo(o.TwoFactor), o.GrantedAt.UTC().Format(time.RFC3339), o.GrantedBy)
		}
		return tw.Flush()
	})
}
