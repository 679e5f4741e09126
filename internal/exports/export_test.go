package exports_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/memblob"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bundle is a Service on a fresh database with the real modules as its
// sources (each test may wrap them), an in-memory bucket, a held clock and
// an owner of one organisation.
type bundle struct {
	db     *pgtest.DB
	mods   *app.App
	bucket *blob.Bucket
	clock  *gwtest.Clock
	svc    *exports.Service
	owner  gw.Scope
}

func setup(t *testing.T, wrap ...func(*exports.Sources)) *bundle {
	t.Helper()
	db := pgtest.New(t)
	clock := gwtest.NewClock(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	bucket, err := blob.OpenBucket(context.Background(), "mem://")
	require.NoError(t, err)
	t.Cleanup(func() { bucket.Close() })
	mods, err := app.New(db.Runtime, config.Config{}, nil, app.Options{Clock: clock, Keys: keys, ExportBucket: bucket})
	require.NoError(t, err)
	sources := exports.Sources{Contacts: mods.Contacts, Members: mods.Orgs, Audit: mods.Audit}
	for _, w := range wrap {
		w(&sources)
	}
	svc := exports.NewService(db.Runtime, nil, bucket, keys, mods.Jobs, clock, sources, exports.Config{})
	return &bundle{db: db, mods: mods, bucket: bucket, clock: clock, svc: svc, owner: pgtest.MemberScope(t, db, gw.RoleOwner)}
}

func (b *bundle) contact(t *testing.T, name, email, phone string) contacts.Contact {
	t.Helper()
	c, err := b.mods.Contacts.Create(context.Background(), b.owner, contacts.Input{Name: &name, Email: &email, Phone: &phone,
		Tags: &[]string{"vip"}, Custom: &map[string]any{"tier": "gold"}})
	require.NoError(t, err)
	return c
}

// objects lists the keys in the bucket.
func (b *bundle) objects(t *testing.T) []string {
	t.Helper()
	var keys []string
	it := b.bucket.List(nil)
	for {
		obj, err := it.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return keys
		}
		require.NoError(t, err)
		keys = append(keys, obj.Key)
	}
}

// download opens file of e through a signed link and returns its bytes.
func (b *bundle) download(t *testing.T, e exports.Export, file string) []byte {
	t.Helper()
	link, err := b.svc.Link(e, file)
	require.NoError(t, err)
	d, err := b.svc.Open(context.Background(), strings.TrimPrefix(link, "/downloads/"))
	require.NoError(t, err)
	defer d.Close()
	data, err := io.ReadAll(d)
	require.NoError(t, err)
	require.EqualValues(t, len(data), d.Size)
	return data
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	return out
}

// TestExportContentEqualsData: every format and packaging holds exactly the
// organisation's contacts (email and phone decrypted), members and audit
// events, and nothing of another organisation.
func TestExportContentEqualsData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ format, packaging string }{
		{exports.FormatCSV, exports.PackagingGzip},
		{exports.FormatJSONL, exports.PackagingGzip},
		{exports.FormatCSV, exports.PackagingZip},
		{exports.FormatJSONL, exports.PackagingZip},
	} {
		t.Run(tc.format+"-"+tc.packaging, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			want := map[string]contacts.Contact{}
			for i, n := range []string{"Ada", "Grace", "Katherine"} {
				c := b.contact(t, n+", \"the\" great", strings.ToLower(n)+"@example.com", "+44 20 7946 000"+string(rune('1'+i)))
				want[c.ID] = c
			}
			other := pgtest.MemberScope(t, b.db, gw.RoleOwner)
			_, err := b.mods.Contacts.Create(ctx, other, contacts.Input{Name: ptr("Other org secret")})
			require.NoError(t, err)

			e, err := b.svc.Request(ctx, b.owner, exports.Request{Format: tc.format, Packaging: tc.packaging})
			require.NoError(t, err)
			require.Equal(t, exports.StatusQueued, e.Status)
			require.NoError(t, b.svc.Run(ctx, e.OrgID, e.ID, 1, 3))
			e, err = b.svc.Get(ctx, b.owner, e.ID)
			require.NoError(t, err)
			require.Equal(t, exports.StatusSucceeded, e.Status)
			// 3 contacts, 1 member, 4 audit events (3 contacts created, the export requested).
			require.EqualValues(t, 8, e.RowsWritten)
			require.EqualValues(t, 8, e.RowsEstimated)
			require.Equal(t, 100, e.Percent())
			require.Equal(t, b.clock.Now().Add(7*24*time.Hour), *e.ExpiresAt)

			tables := map[string][]byte{}
			if tc.packaging == exports.PackagingGzip {
				require.Len(t, e.Files, 3)
				for _, f := range e.Files {
					tables[strings.TrimSuffix(f.Name, "."+tc.format+".gz")] = gunzip(t, b.download(t, e, f.Name))
				}
			} else {
				require.Len(t, e.Files, 1)
				data := b.download(t, e, "export.zip")
				zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
				require.NoError(t, err)
				for _, f := range zr.File {
					r, err := f.Open()
					require.NoError(t, err)
					body, err := io.ReadAll(r)
					require.NoError(t, err)
					tables[strings.TrimSuffix(f.Name, "."+tc.format)] = body
				}
			}
			require.Len(t, tables, 3)
			for _, body := range tables {
				require.NotContains(t, string(body), "Other org secret")
			}

			got := records(t, tc.format, tables["contacts"])
			require.Len(t, got, 3)
			for _, r := range got {
				c, ok := want[r["id"]]
				require.True(t, ok, "unknown contact %s", r["id"])
				require.Equal(t, c.Name, r["name"])
				require.Equal(t, c.Email, r["email"])
				require.Equal(t, c.Phone, r["phone"])
				require.Equal(t, `["vip"]`, r["tags"])
				require.Equal(t, `{"tier":"gold"}`, r["custom"])
				require.Equal(t, c.CreatedAt.Format(time.RFC3339Nano), r["created_at"])
			}
			members := records(t, tc.format, tables["members"])
			require.Len(t, members, 1)
			require.Equal(t, b.owner.Actor.UserID, members[0]["user_id"])
			require.Equal(t, "owner", members[0]["role"])
			events := records(t, tc.format, tables["audit_events"])
			require.Len(t, events, 4)
			require.Equal(t, audit.ActionExportRequested, events[3]["action"])
		})
	}
}

// records reads CSV or JSON Lines into maps of column to value; JSON
// values that are not strings are kept as their JSON text.
func records(t *testing.T, format string, body []byte) []map[string]string {
	t.Helper()
	var out []map[string]string
	if format == exports.FormatCSV {
		all, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		require.NoError(t, err)
		for _, row := range all[1:] {
			m := map[string]string{}
			for i, col := range all[0] {
				m[col] = row[i]
			}
			out = append(out, m)
		}
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var raw map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &raw))
		m := map[string]string{}
		for k, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil {
				m[k] = s
			} else {
				m[k] = string(v)
			}
		}
		out = append(out, m)
	}
	require.NoError(t, sc.Err())
	return out
}

func ptr[T any](v T) *T { return &v }

// hookContacts wraps the contacts source: it calls hook with the number
// of the row about to be written (from 1); an error from hook fails the
// export there.
type hookContacts struct {
	exports.ContactSource
	hook func(n int) error
}

func (h *hookContacts) ExportEach(ctx context.Context, tx pgx.Tx, orgID string, fn func(*contacts.ExportRow) error) error {
	n := 0
	if err := h.hook(1); err != nil { // an empty table fails too
		return err
	}
	return h.ContactSource.ExportEach(ctx, tx, orgID, func(r *contacts.ExportRow) error {
		if n++; n > 1 {
			if err := h.hook(n); err != nil {
				return err
			}
		}
		return fn(r)
	})
}

// TestCancelLeavesNoFile: an export cancelled while queued, or while it
// runs, ends cancelled with no file in the store.
func TestCancelLeavesNoFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("queued", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.contact(t, "Ada", "ada@example.com", "")
		e, err := b.svc.Request(ctx, b.owner, exports.Request{})
		require.NoError(t, err)
		require.NoError(t, b.svc.Cancel(ctx, b.owner, e.ID))
		require.NoError(t, b.svc.Run(ctx, e.OrgID, e.ID, 1, 3))
		e, err = b.svc.Get(ctx, b.owner, e.ID)
		require.NoError(t, err)
		require.Equal(t, exports.StatusCancelled, e.Status)
		require.Empty(t, e.Files)
		require.Empty(t, b.objects(t))
		require.Equal(t, gw.ECONFLICT, gw.ErrorCode(b.svc.Cancel(ctx, b.owner, e.ID)), "already finished")
	})

	t.Run("running", func(t *testing.T) {
		t.Parallel()
		var b *bundle
		var id string
		hook := &hookContacts{hook: func(n int) error {
			if n == 1 { // the members file is not written yet; contacts is half-way
				return b.svc.Cancel(ctx, b.owner, id)
			}
			return nil
		}}
		b = setup(t, func(s *exports.Sources) { hook.ContactSource = s.Contacts; s.Contacts = hook })
		b.contact(t, "Ada", "ada@example.com", "")
		e, err := b.svc.Request(ctx, b.owner, exports.Request{})
		require.NoError(t, err)
		id = e.ID
		require.NoError(t, b.svc.Run(ctx, e.OrgID, e.ID, 1, 3))
		e, err = b.svc.Get(ctx, b.owner, e.ID)
		require.NoError(t, err)
		require.Equal(t, exports.StatusCancelled, e.Status)
		require.Empty(t, b.objects(t), "no file, not even the half-written one")

		// A new export may be requested once it is cancelled.
		_, err = b.svc.Request(ctx, b.owner, exports.Request{})
		require.NoError(t, err)
	})
}

// TestRetryRestartsCleanly: an attempt that dies half-way leaves no file;
// the next attempt writes the whole export from scratch; the last failed
// attempt marks the export failed, without files.
func TestRetryRestartsCleanly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	failing := true
	hook := &hookContacts{hook: func(int) error {
		if failing {
			return errors.New("connection reset (the worker died)")
		}
		return nil
	}}
	b := setup(t, func(s *exports.Sources) { hook.ContactSource = s.Contacts; s.Contacts = hook })
	b.contact(t, "Ada", "ada@example.com", "+1 555 0100")
	b.contact(t, "Grace", "grace@example.com", "")

	e, err := b.svc.Request(ctx, b.owner, exports.Request{Tables: []string{exports.TableMembers, exports.TableContacts}})
	require.NoError(t, err)
	require.Equal(t, []string{exports.TableContacts, exports.TableMembers}, e.Tables, "AllTables order")
	require.Error(t, b.svc.Run(ctx, e.OrgID, e.ID, 1, 3))
	e, err = b.svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusRunning, e.Status, "waiting for its retry")
	require.Empty(t, b.objects(t))

	failing = false
	require.NoError(t, b.svc.Run(ctx, e.OrgID, e.ID, 2, 3))
	e, err = b.svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusSucceeded, e.Status)
	require.EqualValues(t, 3, e.RowsWritten)
	require.Len(t, records(t, exports.FormatCSV, gunzip(t, b.download(t, e, "contacts.csv.gz"))), 2)
	require.Len(t, b.objects(t), 2)

	failing = true
	e, err = b.svc.Request(ctx, b.owner, exports.Request{})
	require.NoError(t, err)
	require.Error(t, b.svc.Run(ctx, e.OrgID, e.ID, 3, 3))
	e, err = b.svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusFailed, e.Status)
	require.NotEmpty(t, e.Error)
	require.Len(t, b.objects(t), 2, "only the earlier export's files")
}

// TestRequestRules: one active export per organisation, validation, and
// who may request and see them.
func TestRequestRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	e, err := b.svc.Request(ctx, b.owner, exports.Request{})
	require.NoError(t, err)
	require.Equal(t, exports.AllTables, e.Tables)
	require.Equal(t, exports.FormatCSV, e.Format)
	require.Equal(t, exports.PackagingGzip, e.Packaging)
	_, err = b.svc.Request(ctx, b.owner, exports.Request{})
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err), "one running export per organisation")

	other := pgtest.MemberScope(t, b.db, gw.RoleAdmin)
	_, err = b.svc.Request(ctx, other, exports.Request{Format: exports.FormatJSONL})
	require.NoError(t, err, "another organisation is not held up")
	_, err = b.svc.Get(ctx, other, e.ID)
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(b.svc.Cancel(ctx, other, e.ID)))

	_, err = b.svc.Request(ctx, b.owner, exports.Request{Format: "xlsx", Packaging: "rar", Tables: []string{"users"}})
	var ge *gw.Error
	require.ErrorAs(t, err, &ge)
	require.Equal(t, gw.EINVALID, ge.Code)
	require.Len(t, ge.Fields, 3)

	for _, role := range []gw.Role{gw.RoleMember, gw.RoleViewer} {
		weak := b.owner
		weak.Role = role
		_, err = b.svc.Request(ctx, weak, exports.Request{})
		require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err), role)
		_, err = b.svc.List(ctx, weak)
		require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err), role)
	}
	list, err := b.svc.List(ctx, b.owner)
	require.NoError(t, err)
	require.Len(t, list, 1)
}

// TestLinks: a signed link serves its file until it expires; an altered
// link, or one pointed at another organisation's export, is refused.
func TestLinks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.contact(t, "Ada", "ada@example.com", "")
	e, err := b.svc.Request(ctx, b.owner, exports.Request{Tables: []string{exports.TableContacts}})
	require.NoError(t, err)
	require.NoError(t, b.svc.Run(ctx, e.OrgID, e.ID, 1, 3))
	e, err = b.svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)

	link, err := b.svc.Link(e, "contacts.csv.gz")
	require.NoError(t, err)
	token := strings.TrimPrefix(link, "/downloads/")
	d, err := b.svc.Open(ctx, token)
	require.NoError(t, err)
	require.Equal(t, "export-2026-12-05-contacts.csv.gz", d.Name)
	require.NoError(t, d.Close())

	// The same export ID under another organisation, or another file: the
	// signature no longer matches.
	other := pgtest.MemberScope(t, b.db, gw.RoleOwner)
	forged := e
	forged.OrgID = other.OrgID
	otherLink, err := b.svc.Link(forged, "contacts.csv.gz")
	require.NoError(t, err)
	_, err = b.svc.Open(ctx, strings.TrimPrefix(otherLink, "/downloads/"))
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err), "a link naming another organisation finds nothing there")
	payload, mac, _ := strings.Cut(token, ".")
	otherPayload, _, _ := strings.Cut(strings.TrimPrefix(otherLink, "/downloads/"), ".")
	for _, bad := range []string{otherPayload + "." + mac, payload + "." + mac[:len(mac)-2] + "AA", "x", "", payload} {
		_, err = b.svc.Open(ctx, bad)
		require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err), bad)
	}
	d, err = b.svc.Open(ctx, token)
	require.NoError(t, err, "the good link still works")
	require.NoError(t, d.Close())

	b.clock.Advance(time.Hour)
	_, err = b.svc.Open(ctx, token)
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err), "expired")
}

// TestRetention: the retention job deletes the files of exports past their
// retention and marks them expired; younger ones stay.
func TestRetention(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	e, err := b.svc.Request(ctx, b.owner, exports.Request{})
	require.NoError(t, err)
	require.NoError(t, b.svc.Run(ctx, e.OrgID, e.ID, 1, 3))
	require.NotEmpty(t, b.objects(t))

	b.clock.Advance(7*24*time.Hour - time.Second)
	n, err := b.svc.Expire(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NotEmpty(t, b.objects(t))

	b.clock.Advance(time.Second)
	n, err = b.svc.Expire(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Empty(t, b.objects(t))
	e, err = b.svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusExpired, e.Status)
	require.Empty(t, e.Files)
}

// stallContacts is a contacts source whose first row never gets written:
// its callback waits until the export's read is cancelled.
type stallContacts struct{ exports.ContactSource }

func (s stallContacts) ExportEach(ctx context.Context, tx pgx.Tx, orgID string, fn func(*contacts.ExportRow) error) error {
	return s.ContactSource.ExportEach(ctx, tx, orgID, func(*contacts.ExportRow) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Minute):
			return errors.New("not cancelled")
		}
	})
}

// TestStalledReadFails: the exports' pool's statement_timeout, lifted for
// the streaming read, still ends a read that brings no rows within it; the
// attempt fails and leaves no file.
func TestStalledReadFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	cfg, err := pgxpool.ParseConfig(b.db.RuntimeURL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = "200"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	sources := exports.Sources{Contacts: stallContacts{b.mods.Contacts}, Members: b.mods.Orgs, Audit: b.mods.Audit}
	svc := exports.NewService(b.db.Runtime, pool, b.bucket, nil, b.mods.Jobs, b.clock, sources, exports.Config{})
	b.contact(t, "Ada", "ada@example.com", "")

	e, err := svc.Request(ctx, b.owner, exports.Request{})
	require.NoError(t, err)
	err = svc.Run(ctx, e.OrgID, e.ID, 1, 1)
	require.ErrorContains(t, err, "stalled")
	e, err = svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusFailed, e.Status)
	require.Empty(t, b.objects(t))
}
