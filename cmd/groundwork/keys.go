package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/jobs"
)

// keysAbout is the description "groundwork keys -h" gives.
const keysAbout = `Manage the keys that encrypt sensitive fields (contact email and phone,
TOTP secrets) and the blind-index keys that keep contact emails searchable.

K is encryption (GROUNDWORK_ENCRYPTION_KEYSET) or blind-index
(GROUNDWORK_BLIND_INDEX_KEYSET). When the variable is unset (development),
the keyset is the file in $GROUNDWORK_DATA_DIR and rotate, promote and
remove change that file; when it is set, they print the changed keyset on
stdout for you to put in the variable of every instance, and change nothing
else. The re-encryption job runs on the maintenance queue of serve or
worker processes once they have the new primary key (restart them);
"groundwork keys status" shows what is left.`

// keysetFlag defines the -keyset flag of a keys action.
func keysetFlag(fs *flag.FlagSet) *string {
	return fs.String("keyset", "encryption", "the keyset: encryption or blind-index")
}

// runKeysNew runs "groundwork keys new".
func runKeysNew(_ context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("keys new", "Print a fresh keyset (Tink JSON) for -keyset on stdout, to put in its variable.")
	kindName := keysetFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	kind, err := crypto.ParseKind(*kindName)
	if err != nil {
		return fmt.Errorf("keys new: %w", err)
	}
	ks, err := crypto.NewKeyset(kind)
	if err != nil {
		return err
	}
	return printKeyset(e.stdout, e.stderr, ks, fmt.Sprintf("Put this in %s (it is secret: keep it in your secret store).", kind.Variable()))
}

// runKeysStatus runs "groundwork keys status".
func runKeysStatus(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("keys status", "List the keys of both keysets, the stored values under each key (by table\nand column) and the re-encryption jobs that have not finished.")
	return withKeys(ctx, fs, args, e, func(k *keysCommand) error {
		return k.printStatus(ctx, e.stdout, k.mods.Keys)
	})
}

// runKeysReencrypt runs "groundwork keys reencrypt".
func runKeysReencrypt(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("keys reencrypt", "Enqueue the job that re-encrypts every stored value under the current\nprimary keys.")
	return withKeys(ctx, fs, args, e, func(k *keysCommand) error {
		return k.enqueue(ctx, e.stdout, k.mods.Keys)
	})
}

// runKeysRotate runs "groundwork keys rotate".
func runKeysRotate(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("keys rotate", "Add a key to -keyset as the new primary key and enqueue the re-encryption\njob (see \"groundwork keys -h\" for where the keyset goes).")
	kindName := keysetFlag(fs)
	primary := fs.Bool("primary", true, "make the new key primary at once; false only adds it, for \"keys promote\" once every instance has it")
	return withKeys(ctx, fs, args, e, func(k *keysCommand) error {
		kind, err := crypto.ParseKind(*kindName)
		if err != nil {
			return fmt.Errorf("keys rotate: %w", err)
		}
		ks, id, err := k.mods.Keys.Keyset(kind).Rotate(*primary)
		if err != nil {
			return err
		}
		what := fmt.Sprintf("added %s key %d", kind, id)
		if *primary {
			what += " as the primary key"
		}
		return k.change(ctx, e.stdout, e.stderr, ks, what, *primary)
	})
}

// keyIDFlag defines the -id flag of a keys action.
func keyIDFlag(fs *flag.FlagSet) *string {
	return fs.String("id", "", "the key's ID, as \"groundwork keys status\" lists it (required)")
}

// parseKeyRef parses the -keyset and -id flags of a keys action.
func parseKeyRef(action, kindName, id string) (crypto.Kind, uint32, error) {
	kind, err := crypto.ParseKind(kindName)
	if err != nil {
		return kind, 0, fmt.Errorf("keys %s: %w", action, err)
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		return kind, 0, fmt.Errorf("keys %s: -id must be a key ID such as 1234567890, as \"groundwork keys status\" lists it", action)
	}
	return kind, uint32(n), nil
}

// runKeysPromote runs "groundwork keys promote".
func runKeysPromote(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("keys promote", "Make a key that \"keys rotate -primary=false\" added the primary key of\n-keyset and enqueue the re-encryption job.")
	kindName := keysetFlag(fs)
	id := keyIDFlag(fs)
	return withKeys(ctx, fs, args, e, func(k *keysCommand) error {
		kind, keyID, err := parseKeyRef("promote", *kindName, *id)
		if err != nil {
			return err
		}
		ks, err := k.mods.Keys.Keyset(kind).Promote(keyID)
		if err != nil {
			return err
		}
		return k.change(ctx, e.stdout, e.stderr, ks, fmt.Sprintf("made %s key %d primary", kind, keyID), true)
	})
}

// runKeysRemove runs "groundwork keys remove".
func runKeysRemove(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("keys remove", "Remove a key from -keyset. It refuses while stored values still use the\nkey: run \"groundwork keys reencrypt\" and wait until \"keys status\" shows none.")
	kindName := keysetFlag(fs)
	id := keyIDFlag(fs)
	force := fs.Bool("force", false, "remove the key even though stored values still use it (they become unreadable)")
	return withKeys(ctx, fs, args, e, func(k *keysCommand) error {
		kind, keyID, err := parseKeyRef("remove", *kindName, *id)
		if err != nil {
			return err
		}
		if !*force {
			if err := k.checkUnused(ctx, kind, keyID); err != nil {
				return err
			}
		}
		ks, err := k.mods.Keys.Keyset(kind).Remove(keyID)
		if err != nil {
			return err
		}
		return k.change(ctx, e.stdout, e.stderr, ks, fmt.Sprintf("removed %s key %d", kind, keyID), false)
	})
}

// keysCommand is what the database-backed key actions work with: the
// admin command's modules and where the keysets come from.
type keysCommand struct {
	*admin
	src crypto.Source
}

// withKeys runs fn with the modules on the configured database.
func withKeys(ctx context.Context, fs *flag.FlagSet, args []string, e cmdEnv, fn func(k *keysCommand) error) error {
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		return fn(&keysCommand{admin: a, src: app.KeySource(a.cfg)})
	})
}

// change puts a changed keyset in place: into the development file when
// the keyset comes from it, else on stdout for the operator. With
// reencrypt it then enqueues the re-encryption to the changed keyset's
// primary key.
func (k *keysCommand) change(ctx context.Context, stdout, stderr io.Writer, ks *crypto.Keyset, what string, reencrypt bool) error {
	target, err := withKeyset(k.mods.Keys, ks)
	if err != nil {
		return err
	}
	kind := ks.Kind()
	if k.src.FromEnv(kind) {
		if reencrypt {
			if err := k.enqueue(ctx, io.Discard, target); err != nil {
				return err
			}
		}
		steps := fmt.Sprintf("%s. Nothing is changed until you set %s to the keyset above\n"+
			"in every instance and restart them.", what, kind.Variable())
		if reencrypt {
			steps += fmt.Sprintf(" The re-encryption job is enqueued: it waits for a worker with\n"+
				"the new primary key, then re-encrypts. Then, once \"groundwork keys status\" shows nothing\n"+
				"left under the old key, remove it with \"groundwork keys remove -keyset %s -id OLD\".\n"+
				"During the roll-out, instances with the old keyset cannot read values written with the new\n"+
				"key; to avoid that, \"keys rotate -primary=false\" and roll out first, then \"keys promote\".", kind)
		}
		return printKeyset(stdout, stderr, ks, steps)
	}
	path := k.src.DevPath(kind)
	if err := crypto.WriteKeysetFile(ks, path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s in %s\n", what, path)
	if !reencrypt {
		return nil
	}
	if err := k.enqueue(ctx, stdout, target); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Restart running serve and worker processes so that they load the new key; the job runs then.")
	return k.printStatus(ctx, stdout, target)
}

// withKeyset returns keys with its keyset of ks's kind replaced by ks.
func withKeyset(keys *crypto.Keyring, ks *crypto.Keyset) (*crypto.Keyring, error) {
	if ks.Kind() == crypto.Encryption {
		return crypto.NewKeyring(ks, keys.Keyset(crypto.BlindIndex))
	}
	return crypto.NewKeyring(keys.Keyset(crypto.Encryption), ks)
}

// enqueue inserts the job that re-encrypts to target's primary keys.
func (k *keysCommand) enqueue(ctx context.Context, stdout io.Writer, target *crypto.Keyring) error {
	client, err := jobs.NewClient(k.db.pool, jobs.Config{Logger: k.logger})
	if err != nil {
		return err
	}
	args := crypto.ReencryptArgsFor(target)
	res, err := client.Insert(ctx, args, nil)
	if err != nil {
		return fmt.Errorf("enqueue re-encryption: %w", err)
	}
	state := "enqueued"
	if res.UniqueSkippedAsDuplicate {
		state = "already enqueued"
	}
	fmt.Fprintf(stdout, "re-encryption job %d %s (to encryption key %d, blind-index key %d)\n",
		res.Job.ID, state, args.EncryptionKeyID, args.BlindIndexKeyID)
	return nil
}

// checkUnused refuses to remove a key that stored values still use.
func (k *keysCommand) checkUnused(ctx context.Context, kind crypto.Kind, id uint32) error {
	usage, err := crypto.Usage(ctx, k.mods.EncryptedTables())
	if err != nil {
		return err
	}
	var n int64
	var where []string
	for _, u := range usage {
		if u.Kind == kind && u.KeyID == id && u.Rows > 0 {
			n += u.Rows
			where = append(where, fmt.Sprintf("%s.%s: %d", u.Table, u.Column, u.Rows))
		}
	}
	if n > 0 {
		return fmt.Errorf("keys remove: %d stored values still use %s key %d (%s); run \"groundwork keys reencrypt\" and wait until \"groundwork keys status\" shows none, or pass -force to make them unreadable",
			n, kind, id, strings.Join(where, ", "))
	}
	return nil
}

// printStatus lists the keys of keys and the stored values under each.
func (k *keysCommand) printStatus(ctx context.Context, w io.Writer, keys *crypto.Keyring) error {
	for _, kind := range []crypto.Kind{crypto.Encryption, crypto.BlindIndex} {
		from := "development file " + k.src.DevPath(kind)
		if k.src.FromEnv(kind) {
			from = kind.Variable()
		}
		var ids []string
		list := keys.Keyset(kind).Keys()
		slices.SortStableFunc(list, func(a, b crypto.KeyInfo) int { // the primary first
			return cmp.Compare(b2i(b.Primary), b2i(a.Primary))
		})
		for _, key := range list {
			s := strconv.FormatUint(uint64(key.ID), 10)
			if key.Primary {
				s += " (primary)"
			}
			if key.Status != "ENABLED" {
				s += " (" + strings.ToLower(key.Status) + ")"
			}
			ids = append(ids, s)
		}
		fmt.Fprintf(w, "%s keyset, from %s: keys %s\n", kind, from, strings.Join(ids, ", "))
	}
	usage, err := crypto.Usage(ctx, k.mods.EncryptedTables())
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(usage) == 0 {
		fmt.Fprintln(w, "No encrypted values are stored yet.")
		return k.printJobs(ctx, w)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tCOLUMN\tKEYSET\tKEY\tVALUES\t")
	var stale int64
	for _, u := range usage {
		note := ""
		if keys.Stale(u) {
			stale += u.Rows
			note = "to re-encrypt"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", u.Table, u.Column, u.Kind, u.KeyID, u.Rows, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if stale == 0 {
		fmt.Fprintln(w, "\nEvery stored value is under the primary keys.")
	} else {
		fmt.Fprintf(w, "\n%d stored values are not under the primary keys yet.\n", stale)
	}
	return k.printJobs(ctx, w)
}

// printJobs lists the re-encryption jobs that have not finished.
func (k *keysCommand) printJobs(ctx context.Context, w io.Writer) error {
	client, err := jobs.NewClient(k.db.pool, jobs.Config{Logger: k.logger})
	if err != nil {
		return err
	}
	res, err := client.JobList(ctx, river.NewJobListParams().Kinds(crypto.ReencryptArgs{}.Kind()).States(
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled).First(20))
	if err != nil {
		return fmt.Errorf("list re-encryption jobs: %w", err)
	}
	for _, j := range res.Jobs {
		line := fmt.Sprintf("re-encryption job %d: %s, %s", j.ID, j.State, j.EncodedArgs)
		if n := len(j.Errors); n > 0 {
			line += ", last error: " + j.Errors[n-1].Error
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

// printKeyset writes ks's JSON alone on stdout, and a note on stderr.
func printKeyset(stdout, stderr io.Writer, ks *crypto.Keyset, note string) error {
	js, err := ks.JSON()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", js); err != nil {
		return err
	}
	fmt.Fprintln(stderr, note)
	return nil
}

// b2i is 1 for true and 0 for false, to sort by a bool.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
