package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// A command is a node of the command tree: a command ("groundwork
// backup") or one of its actions ("groundwork backup create"). A leaf has
// run; a group has actions and dispatches to them.
type command struct {
	name    string // the word on the command line
	args    string // its arguments and flags, for help ("-email E", "ID")
	summary string // one line, for help
	about   string // a group's longer description, for its -h
	run     func(ctx context.Context, args []string, e cmdEnv) error
	actions []command
}

// commandTable is every command and action, in the order help lists them.
// The dispatcher and the help both read it, so they cannot disagree.
func commandTable() []command {
	return []command{
		{name: "serve", args: "[-workers=false]", summary: "serve HTTP (pages, API, webhooks, ops endpoints) and work jobs",
			run: func(ctx context.Context, args []string, e cmdEnv) error {
				return runServe(ctx, args, e.getenv, e.stdout, e.stderr)
			}},
		{name: "worker", summary: "work jobs only, without HTTP",
			run: func(ctx context.Context, args []string, e cmdEnv) error {
				return runWorker(ctx, args, e.getenv, e.stdout, e.stderr)
			}},
		{name: "releases", args: "[-limit N]", summary: "what runs in production: the recent starts of serve and worker", run: runReleases},
		{name: "migrate", summary: "manage the database schema", about: migrateAbout, actions: []command{
			{name: "up", summary: "apply every pending migration (River's, then Groundwork's)", run: runMigrateUp},
			{name: "down", summary: "roll back the newest Groundwork migration", run: runMigrateDown},
			{name: "status", summary: "list every migration and whether it is applied", run: runMigrateStatus},
			{name: "create", args: "[-dir DIR] NAME", summary: "write a new, empty numbered SQL migration", run: runMigrateCreate},
			{name: "rehearse", args: "[-from-url URL] [-max-duration D] [-lock-timeout D]",
				summary: "apply the pending migrations to a restored copy, timing each one", run: runMigrateRehearse},
		}},
		{name: "user", summary: "manage users", actions: []command{
			{name: "create", args: "-email E", summary: "create a verified user (password from stdin, or generated)", run: runUserCreate},
			{name: "list", summary: "list the users: email, verified, two-factor, created", run: runUserList},
		}},
		{name: "operator", summary: "manage operators: platform staff who may open /ops (with two-factor)", actions: []command{
			{name: "grant", args: "EMAIL [-by WHO]", summary: "make a user an operator, audited", run: runOperatorGrant},
			{name: "revoke", args: "EMAIL [-by WHO]", summary: "take operator rights from a user, audited", run: runOperatorRevoke},
			{name: "list", summary: "list the operators: email, two-factor, granted", run: runOperatorList},
		}},
		{name: "org", summary: "manage organisations", actions: []command{
			{name: "create", args: "-name N -owner E", summary: "create an organisation owned by an existing user, print its ID", run: runOrgCreate},
			{name: "list", summary: "list the organisations: slug, name, members, created", run: runOrgList},
		}},
		{name: "apikey", summary: "manage API keys", actions: []command{
			{name: "create", args: "-org ORG -name NAME [-role ROLE]", summary: "create an API key, print it on the last line", run: runAPIKeyCreate},
		}},
		{name: "billing", summary: "operate Stripe billing", about: billingAbout, actions: []command{
			{name: "events", args: "[-unprocessed] [-limit N]", summary: "the webhook ledger, newest first, with attempts and last errors", run: runBillingEvents},
			{name: "reconcile", summary: "run the reconciler now: backfill, retry failed events, re-sync ended periods", run: runBillingReconcile},
			{name: "sync", args: "-org ORG", summary: "re-fetch an organisation's subscription from Stripe, print its entitlements", run: runBillingSync},
			{name: "clear-dispute", args: "-org ORG -dispute ID -operator WHO", summary: "end a lost dispute's effect on an organisation, audited", run: runBillingClearDispute},
			{name: "grant-plan", args: "ORG PLAN [-until DATE] -operator WHO", summary: "grant an organisation a plan outside Stripe, audited (plan free revokes)", run: runBillingGrantPlan},
		}},
		{name: "audit", summary: "check the audit log", actions: []command{
			{name: "verify", args: "[-org ORG] [-v]", summary: "check the audit log's hash chains, name the first broken event", run: runAuditVerify},
			{name: "seal", summary: "seal recorded events into their chains now (workers do it every few seconds)", run: runAuditSeal},
		}},
		{name: "keys", summary: "manage the field encryption keys", about: keysAbout, actions: []command{
			{name: "new", args: "[-keyset K]", summary: "print a fresh keyset (Tink JSON) for K", run: runKeysNew},
			{name: "status", summary: "list the keys, and the stored values under each", run: runKeysStatus},
			{name: "rotate", args: "[-keyset K] [-primary=false]", summary: "add a key as the new primary, enqueue the re-encryption job", run: runKeysRotate},
			{name: "promote", args: "[-keyset K] -id ID", summary: "make an added key primary, enqueue the re-encryption job", run: runKeysPromote},
			{name: "reencrypt", summary: "enqueue the re-encryption job for the current primary keys", run: runKeysReencrypt},
			{name: "remove", args: "[-keyset K] -id ID [-force]", summary: "remove a key that no stored value uses any more", run: runKeysRemove},
		}},
		{name: "backup", summary: "encrypted logical backups, and point-in-time recovery", about: backupAbout, actions: []command{
			{name: "create", summary: "take a backup now", run: runBackupCreate},
			{name: "list", summary: "list backups; those without a manifest are INCOMPLETE", run: runBackupList},
			{name: "verify", args: "ID", summary: "download, check, decrypt and decompress a backup; pg_restore --list", run: runBackupVerify},
			{name: "prune", args: "[-dry-run]", summary: "delete backups outside the retention (GROUNDWORK_BACKUP_KEEP_*)", run: runBackupPrune},
			{name: "rehearse", args: "[-backup ID]", summary: "restore a backup into a scratch database, check it, record the outcome", run: runBackupRehearse},
			{name: "keyset", args: "[-rotate]", summary: "print a new backup keyset, or add a new primary key to the current one", run: runBackupKeyset},
			{name: "pitr", summary: "point-in-time recovery of the embedded cluster with pgBackRest", about: pitrAbout, actions: []command{
				{name: "setup", summary: "turn on WAL archiving, create the stanza, take a full backup", run: runPitrSetup},
				{name: "status", summary: "show the repository's backups, WAL range and the archiver's counters", run: runPitrStatus},
				{name: "verify", summary: "check the repository's backups and WAL; fails on any damage", run: runPitrVerify},
				{name: "rehearse", args: "[-minus D] [-rpo D]", summary: "restore to a recent time in a temp dir, check the recovery point", run: runPitrRehearse},
			}},
		}},
		{name: "restore", args: "--backup ID --into URL [--force] | --at TIME --into DIR",
			summary: "restore a logical backup, or the embedded cluster to a point in time", run: runRestore},
		{name: "doctor", args: "[-json]", summary: "score this deployment: pass/warn/fail checks with evidence and fixes, worst first", run: runDoctor},
		{name: "loadtest", args: "[-base-url URL] [-start R -step R -max R -step-duration D] [-slo D] [-error-budget F]",
			summary: "raise the load on a deployment step by step until it breaks; report where and why", run: runLoadtest},
		{name: "config", summary: "print the effective configuration, secrets redacted", run: runConfig},
		{name: "sentry-test", summary: "send a test event to SENTRY_DSN; succeeds only if Sentry accepted it", run: runSentryTest},
		{name: "version", summary: "print the version, commit and build time", run: runVersion},
		{name: "help", args: "[COMMAND [ACTION]]", summary: "show this help, or a command's", run: runHelp},
	}
}

// dispatch runs the command of cmds that args[0] names; path is the command
// line before it ("" at the top, "backup" for backup's actions). A leaf's
// -h prints its usage on stdout; a group's missing or unknown action is an
// error listing the actions.
func dispatch(ctx context.Context, path string, cmds []command, args []string, e cmdEnv) error {
	i := slices.IndexFunc(cmds, func(c command) bool { return c.name == args[0] })
	if i < 0 {
		if path == "" {
			return fmt.Errorf("unknown command %q; run \"groundwork help\"", args[0])
		}
		return fmt.Errorf("%s: unknown action %q; say %s (run \"groundwork %s -h\")", path, args[0], actionNames(cmds), path)
	}
	c := cmds[i]
	full := strings.TrimSpace(path + " " + c.name)
	rest := args[1:]
	if c.run != nil {
		err := c.run(ctx, rest, e)
		if h, ok := errors.AsType[*helpRequest](err); ok {
			printLeafUsage(e.stdout, full, c, h)
			return nil
		}
		return err
	}
	switch {
	case len(rest) == 0:
		return fmt.Errorf("%s: say %s (run \"groundwork %s -h\")", full, actionNames(c.actions), full)
	case isHelpFlag(rest[0]):
		printGroupUsage(e.stdout, full, c)
		return nil
	case strings.HasPrefix(rest[0], "-"):
		return fmt.Errorf("%s: flag %s before the action; say \"groundwork %s ACTION [flags]\" (run \"groundwork %s -h\")", full, rest[0], full, full)
	}
	return dispatch(ctx, full, c.actions, rest, e)
}

// runHelp prints the help, or with arguments the usage of the command or
// action they name.
func runHelp(ctx context.Context, args []string, e cmdEnv) error {
	if len(args) == 0 {
		printHelp(e.stdout)
		return nil
	}
	if isHelpFlag(args[0]) {
		return &helpRequest{summary: "Show the list of commands, or the usage of one command or action."}
	}
	return dispatch(ctx, "", commandTable(), append(slices.Clone(args), "-h"), e)
}

// isHelpFlag reports whether arg asks for help.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// actionNames is "a, b or c" for the actions of a group.
func actionNames(cmds []command) string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// printHelp writes the top-level help: every command and action of the
// command table.
func printHelp(w io.Writer) {
	fmt.Fprint(w, `groundwork — a production-grade foundation for multi-tenant B2B SaaS.

Usage: groundwork [-v] COMMAND [ACTION] [flags] [arguments]

Commands:
`)
	var walk func(path string, cmds []command)
	walk = func(path string, cmds []command) {
		for _, c := range cmds {
			full := strings.TrimSpace(path + " " + c.name)
			if c.run == nil {
				walk(full, c.actions)
				continue
			}
			printRow(w, strings.TrimSpace(full+" "+c.args), c.summary)
		}
	}
	walk("", commandTable())
	fmt.Fprint(w, `
Flags:
  -v  show the informational logs of the commands other than serve and
      worker (they show warnings and errors only, unless
      GROUNDWORK_LOG_LEVEL=debug)

Run "groundwork COMMAND -h" (or "groundwork COMMAND ACTION -h") for its flags.
Configuration comes from the environment; see .env.example. With DATABASE_URL
unset, every command uses the embedded PostgreSQL cluster under
$GROUNDWORK_DATA_DIR/postgres (default ./var).
`)
}

// printGroupUsage writes the usage of a group: its description and actions.
func printGroupUsage(w io.Writer, path string, c command) {
	fmt.Fprintf(w, "Usage: groundwork %s ACTION [flags] [arguments]\n\n", path)
	about := c.about
	if about == "" {
		about = strings.ToUpper(c.summary[:1]) + c.summary[1:] + "."
	}
	fmt.Fprintf(w, "%s\n\nActions:\n", about)
	for _, a := range c.actions {
		if a.run == nil {
			printRow(w, a.name+" ACTION", a.summary)
			continue
		}
		printRow(w, strings.TrimSpace(a.name+" "+a.args), a.summary)
	}
	fmt.Fprintf(w, "\nRun \"groundwork %s ACTION -h\" for an action's flags.\n", path)
}

// printLeafUsage writes the usage of a command or action that runs: its
// synopsis, its description and its flags.
func printLeafUsage(w io.Writer, path string, c command, h *helpRequest) {
	fmt.Fprintf(w, "Usage: groundwork %s\n\n%s\n", strings.TrimSpace(path+" "+c.args), strings.TrimRight(h.summary, "\n"))
	if h.flags != "" {
		fmt.Fprintf(w, "\nFlags:\n%s", h.flags)
	}
}

// printRow writes one line of a command list: the synopsis, then the
// summary in a column, or on the next line when the synopsis is too long.
func printRow(w io.Writer, synopsis, summary string) {
	const width = 30
	if len(synopsis) < width-1 {
		fmt.Fprintf(w, "  %-*s%s\n", width, synopsis, summary)
		return
	}
	fmt.Fprintf(w, "  %s\n  %*s%s\n", synopsis, width, "", summary)
}
