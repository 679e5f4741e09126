package crypto_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// These tests run the modules that store encrypted fields against real
// PostgreSQL: what reaches the database, key rotation end to end, and a
// wrong key.

func TestMain(m *testing.M) { pgtest.Main(m) }

// world is the modules with encrypted fields, on one database and keyring.
type world struct {
	db       *pgtest.DB
	keys     *crypto.Keyring
	contacts *contacts.Service
	accounts *account.Service
}

func newWorld(t *testing.T, db *pgtest.DB, keys *crypto.Keyring) *world {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	outbox, _ := mailtest.Outbox(t, db.Runtime, keys, mail.NewLogSender(logger))
	return &world{
		db:       db,
		keys:     keys,
		contacts: contacts.NewService(db.Runtime, keys, gw.SystemClock{}, nil),
		accounts: account.NewService(db.Runtime, keys, outbox, gw.SystemClock{}, account.Config{}, logger),
	}
}

func (w *world) tables() []crypto.Table { return []crypto.Table{w.contacts, w.accounts} }

func generateKeyring(t *testing.T) *crypto.Keyring {
	t.Helper()
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	return keys
}

func (w *world) contact(t *testing.T, scope gw.Scope, name, email, phone string) contacts.Contact {
	t.Helper()
	c, err := w.contacts.Create(context.Background(), scope, contacts.Input{Name: &name, Email: &email, Phone: &phone})
	require.NoError(t, err)
	return c
}

// twoFactorUser creates a user with TOTP on and returns it with its secret.
func (w *world) twoFactorUser(t *testing.T, email string) (account.User, string) {
	t.Helper()
	ctx := context.Background()
	u, err := w.accounts.CreateVerifiedUser(ctx, email, "correct horse battery staple")
	require.NoError(t, err)
	secret, _, err := w.accounts.BeginTwoFactor(ctx, u.ID)
	require.NoError(t, err)
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	_, err = w.accounts.EnableTwoFactor(ctx, u.ID, secret, code)
	require.NoError(t, err)
	return u, secret
}

// nextCode is a valid TOTP code not used yet: the next time step's.
func nextCode(t *testing.T, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	require.NoError(t, err)
	return code
}

// TestDumpHoldsNoPlaintext dumps the database with pg_dump, as a backup
// would, and looks for the sensitive values in it.
func TestDumpHoldsNoPlaintext(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := newWorld(t, db, generateKeyring(t))
	scope := pgtest.MemberScope(t, db, gw.RoleMember)
	w.contact(t, scope, "Ada Lovelace", "Ada.Lovelace@engines.example", "+44 20 7946 0958")
	w.contact(t, scope, "Grace Hopper", "grace.hopper@navy.example", "(555) 010-4477")
	_, secret := w.twoFactorUser(t, "alan@bletchley.example")

	bin, err := postgres.FindBinaries()
	require.NoError(t, err)
	pgDump := filepath.Join(bin, "pg_dump")
	_, err = os.Stat(pgDump)
	require.NoError(t, err, "pg_dump is installed beside initdb")
	out, err := exec.Command(pgDump, "--no-owner", "--dbname", pgtest.Cluster(t).SuperuserURL(db.Name)).Output()
	require.NoError(t, err, "pg_dump: %s", errOutput(err))
	dump := string(out)

	// The dump has the data, only not in the clear.
	require.Contains(t, dump, "COPY public.contacts")
	require.Contains(t, dump, "Ada Lovelace")
	require.Contains(t, dump, "alan@bletchley.example", "account emails are not encrypted (they are the sign-in name)")
	for _, s := range []string{
		"Ada.Lovelace@engines.example", "ada.lovelace@engines.example", "engines.example",
		"grace.hopper@navy.example", "navy.example",
		// Fragments long enough never to turn up by chance in hex or UUIDs.
		"+44 20 7946 0958", "7946 0958", "(555) 010-4477", "555) 010",
		secret, strings.ToLower(secret),
	} {
		require.NotContains(t, dump, s)
		require.NotContains(t, strings.ToLower(dump), strings.ToLower(s))
		require.NotContains(t, dump, hex.EncodeToString([]byte(s)), "nor as bytea hex")
	}
}

func errOutput(err error) string {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return string(ee.Stderr)
	}
	return ""
}

// TestRotation rotates both keys under stored rows: encrypted under key 1,
// rotated to key 2, re-encrypted by the job, every row is under key 2 and
// reads back; with key 1 removed, everything still reads.
func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	keys1 := generateKeyring(t)
	w1 := newWorld(t, db, keys1)

	// Two organisations, more contacts than a batch, some without email or phone.
	type stored struct {
		scope gw.Scope
		c     contacts.Contact
	}
	var all []stored
	for range 2 {
		scope := pgtest.MemberScope(t, db, gw.RoleMember)
		for i := range 7 {
			email, phone := "", ""
			if i != 3 {
				email = "Person" + string(rune('A'+i)) + "@Example.com"
			}
			if i%2 == 0 {
				phone = "+1 555 010" + string(rune('0'+i))
			}
			all = append(all, stored{scope, w1.contact(t, scope, "Person", email, phone)})
		}
	}
	users := map[string]string{} // user ID → TOTP secret
	for _, email := range []string{"one@example.com", "two@example.com"} {
		u, secret := w1.twoFactorUser(t, email)
		users[u.ID] = secret
	}
	oldEnc, oldBidx := keys1.Keyset(crypto.Encryption).PrimaryID(), keys1.Keyset(crypto.BlindIndex).PrimaryID()

	// Rotate: a new primary key in each keyset, the old ones kept.
	enc2, newEnc, err := keys1.Keyset(crypto.Encryption).Rotate(true)
	require.NoError(t, err)
	bidx2, newBidx, err := keys1.Keyset(crypto.BlindIndex).Rotate(true)
	require.NoError(t, err)
	keys2, err := crypto.NewKeyring(enc2, bidx2)
	require.NoError(t, err)
	w2 := newWorld(t, db, keys2)

	usage, err := crypto.Usage(ctx, w2.tables())
	require.NoError(t, err)
	require.Equal(t, map[string]int64{
		"contacts.email_bidx": 12, "contacts.email_enc": 12, "contacts.phone_enc": 8, "users.totp_secret_enc": 2,
	}, staleByColumn(keys2, usage), "everything is due")
	// Meanwhile old rows read, and are found by email, under the new keyring.
	requireReadable(t, w2, all[0].scope, all[0].c)
	requireReadable(t, w2, all[9].scope, all[9].c)

	// A worker still on the old keyset leaves the job alone.
	args := crypto.ReencryptArgsFor(keys2)
	require.Equal(t, crypto.ReencryptArgs{EncryptionKeyID: newEnc, BlindIndexKeyID: newBidx}, args)
	stale := &crypto.ReencryptWorker{Keys: keys1, Tables: w1.tables()}
	err = stale.Work(ctx, job(args, time.Now()))
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	// ... and after a week, gives up.
	err = stale.Work(ctx, job(args, time.Now().Add(-8*24*time.Hour)))
	var cancel *rivertype.JobCancelError
	require.ErrorAs(t, err, &cancel)
	require.ErrorContains(t, err, "no worker had them as primary keys")

	// The job, on a worker with the new keys, in batches of 3.
	worker := &crypto.ReencryptWorker{Keys: keys2, Tables: w2.tables(), Batch: 3}
	require.NoError(t, worker.Work(ctx, job(args, time.Now())))
	usage, err = crypto.Usage(ctx, w2.tables())
	require.NoError(t, err)
	require.Empty(t, staleByColumn(keys2, usage), "nothing left under the old keys")
	for _, u := range usage {
		want := map[crypto.Kind]uint32{crypto.Encryption: newEnc, crypto.BlindIndex: newBidx}[u.Kind]
		require.Equal(t, want, u.KeyID, "%s.%s", u.Table, u.Column)
	}
	// Running again finds nothing to do.
	n, err := crypto.Reencrypt(ctx, w2.tables(), 3)
	require.NoError(t, err)
	require.Zero(t, n)

	// Remove the old keys: everything still reads, finds and verifies.
	enc3, err := enc2.Remove(oldEnc)
	require.NoError(t, err)
	bidx3, err := bidx2.Remove(oldBidx)
	require.NoError(t, err)
	keys3, err := crypto.NewKeyring(enc3, bidx3)
	require.NoError(t, err)
	require.Len(t, keys3.Keyset(crypto.Encryption).Keys(), 1)
	w3 := newWorld(t, db, keys3)
	for _, s := range all {
		requireReadable(t, w3, s.scope, s.c)
	}
	for id, secret := range users {
		require.NoError(t, w3.accounts.VerifySecondFactor(ctx, id, nextCode(t, secret)))
	}
	// The old keyring alone can no longer read them: the rotation happened.
	_, err = w1.contacts.Get(ctx, all[0].scope, all[0].c.ID)
	require.Equal(t, gw.EINTERNAL, gw.ErrorCode(err))
}

// staleByColumn sums the values not under keys' primary keys by
// table.column.
func staleByColumn(keys *crypto.Keyring, usage []crypto.KeyUsage) map[string]int64 {
	out := map[string]int64{}
	for _, u := range usage {
		if keys.Stale(u) {
			out[u.Table+"."+u.Column] += u.Rows
		}
	}
	return out
}

// requireReadable checks that c reads back whole, and that a search for
// its email (in another case) finds it.
func requireReadable(t *testing.T, w *world, scope gw.Scope, c contacts.Contact) {
	t.Helper()
	ctx := context.Background()
	got, err := w.contacts.Get(ctx, scope, c.ID)
	require.NoError(t, err)
	require.Equal(t, c, got)
	if c.Email == "" {
		return
	}
	page, err := w.contacts.List(ctx, scope, contacts.ListParams{Query: strings.ToUpper(c.Email)})
	require.NoError(t, err)
	require.Len(t, page.Contacts, 1)
	require.Equal(t, c.ID, page.Contacts[0].ID)
}

func job(args crypto.ReencryptArgs, created time.Time) *river.Job[crypto.ReencryptArgs] {
	return &river.Job[crypto.ReencryptArgs]{JobRow: &rivertype.JobRow{ID: 1, CreatedAt: created}, Args: args}
}

// TestWrongKey reads rows with a keyring that never had their key: each
// read is an internal error that names the key, nothing panics, and
// nothing stored is lost or half-written.
func TestWrongKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	right := newWorld(t, db, generateKeyring(t))
	wrong := newWorld(t, db, generateKeyring(t))
	scope := pgtest.MemberScope(t, db, gw.RoleMember)
	c := right.contact(t, scope, "Ada", "ada@example.com", "+44 20 7946 0000")
	u, secret := right.twoFactorUser(t, "ada@example.com")
	keyID := right.keys.Keyset(crypto.Encryption).PrimaryID()

	requireDecryptError := func(err error) {
		t.Helper()
		require.Equal(t, gw.EINTERNAL, gw.ErrorCode(err), "%v", err)
		var de *crypto.DecryptError
		require.ErrorAs(t, err, &de)
		require.Equal(t, keyID, de.KeyID)
		require.Contains(t, err.Error(), "decryption failed with key id")
		require.NotContains(t, err.Error(), "ada@example.com")
	}
	_, err := wrong.contacts.Get(ctx, scope, c.ID)
	requireDecryptError(err)
	_, err = wrong.contacts.List(ctx, scope, contacts.ListParams{})
	requireDecryptError(err)
	_, err = wrong.contacts.Update(ctx, scope, c.ID, contacts.Input{Name: new("Stolen")})
	requireDecryptError(err)
	_, err = wrong.contacts.Update(ctx, scope, c.ID, contacts.Input{Email: new("eve@example.com")})
	requireDecryptError(err)
	requireDecryptError(wrong.accounts.VerifySecondFactor(ctx, u.ID, nextCode(t, secret)))
	_, err = crypto.Reencrypt(ctx, wrong.tables(), 10)
	requireDecryptError(err)

	// Nothing was changed by the failed calls.
	got, err := right.contacts.Get(ctx, scope, c.ID)
	require.NoError(t, err)
	require.Equal(t, c, got)
	require.NoError(t, right.accounts.VerifySecondFactor(ctx, u.ID, nextCode(t, secret)))
	var raw []byte
	require.NoError(t, db.Runtime.QueryRow(ctx, `SELECT totp_secret_enc FROM users WHERE id = $1`, u.ID).Scan(&raw))
	require.True(t, bytes.HasPrefix(raw, crypto.CiphertextPrefix(keyID)), "still under the right key")
}
