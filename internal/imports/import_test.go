package imports_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/billing/billingtest"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/imports"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bundle is a Service on a fresh database with the real contacts module
// (billed or not), a bucket, a held clock and an owner of one organisation.
type bundle struct {
	db       *pgtest.DB
	contacts *contacts.Service
	bucket   *blob.Bucket
	svc      *imports.Service
	owner    gw.Scope
	clock    *gwtest.Clock
}

type options struct {
	billed   bool
	bucket   string                                            // default mem://
	wrap     func(imports.ContactWriter) imports.ContactWriter // wraps the contacts module
	maxBytes int64
}

func setup(t *testing.T, o options) *bundle {
	t.Helper()
	db := pgtest.New(t)
	clock := gwtest.NewClock(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	if o.bucket == "" {
		o.bucket = "mem://"
	}
	bucket, err := blob.OpenBucket(context.Background(), o.bucket)
	require.NoError(t, err)
	t.Cleanup(func() { bucket.Close() })
	var ent contacts.Entitlements
	if o.billed {
		ent = billingtest.Enforcer(t, clock)
	}
	cs := contacts.NewService(db.Runtime, keys, clock, ent)
	var w imports.ContactWriter = cs
	if o.wrap != nil {
		w = o.wrap(cs)
	}
	client, err := jobs.NewClient(db.Runtime, jobs.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	svc := imports.NewService(db.Runtime, nil, bucket, w, client, clock, imports.Config{MaxBytes: o.maxBytes})
	return &bundle{db: db, contacts: cs, bucket: bucket, svc: svc, owner: pgtest.MemberScope(t, db, gw.RoleOwner), clock: clock}
}

// importFile uploads body in mode and runs its job once; it returns the import.
func (b *bundle) importFile(t *testing.T, mode, body string) imports.Import {
	t.Helper()
	ctx := context.Background()
	i, err := b.svc.Start(ctx, b.owner, imports.Upload{Mode: mode, FileName: "contacts.csv", Body: strings.NewReader(body)})
	require.NoError(t, err)
	require.Equal(t, imports.StatusQueued, i.Status)
	require.NoError(t, b.svc.Run(ctx, i.OrgID, i.ID, 1, 3))
	i, err = b.svc.Get(ctx, b.owner, i.ID)
	require.NoError(t, err)
	return i
}

// all returns every contact of the owner's organisation, by name.
func (b *bundle) all(t *testing.T) map[string]contacts.Contact {
	t.Helper()
	out := map[string]contacts.Contact{}
	cursor := ""
	for {
		p, err := b.contacts.List(context.Background(), b.owner, contacts.ListParams{Cursor: cursor, Limit: 200})
		require.NoError(t, err)
		for _, c := range p.Contacts {
			out[c.Name] = c
		}
		if p.NextCursor == "" {
			return out
		}
		cursor = p.NextCursor
	}
}

// uploads counts the objects left in the bucket.
func (b *bundle) uploads(t *testing.T) int {
	t.Helper()
	n := 0
	it := b.bucket.List(nil)
	for {
		_, err := it.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return n
		}
		require.NoError(t, err)
		n++
	}
}

// mixed has three valid rows and four bad ones, on lines 3, 5 (whose
// quoted cell spans two lines: a company is one line), 8 and 9.
const mixed = "\uFEFFName,Email,Phone,Company,Tags,Custom\n" +
	"Ada Lovelace,ada@example.com,+44 20 7946 0001,Analytical,\"math,vip\",\"{\"\"tier\"\":\"\"gold\"\"}\"\n" +
	"Bad Email,not-an-email,,,,\n" +
	"Grace Hopper,grace@example.com,,Navy,\"[\"\"navy\"\"]\",\n" +
	"Two Lines,,,\"Navy\nReserve\",,\n" +
	"Katherine Johnson,,,NASA,,\n" +
	",nobody@example.com,,,,\n" +
	"Bad Custom,,12ab,,,[1]\n"

// TestAllOrNothingReportsAndWritesNothing: one bad row and nothing is
// written; the report names every bad row by line, with its messages.
func TestAllOrNothingReportsAndWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	i := b.importFile(t, imports.ModeAllOrNothing, mixed)
	require.Equal(t, imports.StatusFailed, i.Status)
	require.Contains(t, i.Error, "4 of 7 rows are invalid: nothing was imported", i.Rejected)
	require.EqualValues(t, 7, i.RowsTotal)
	require.EqualValues(t, 0, i.RowsImported)
	require.EqualValues(t, 4, i.RowsRejected)
	require.Equal(t, []imports.Rejection{
		{Line: 3, Messages: []string{"email: Enter a valid email address."}},
		{Line: 5, Messages: []string{"company: Company must be plain text on one line."}},
		{Line: 8, Messages: []string{"name: Enter a name."}},
		{Line: 9, Messages: []string{`custom: Custom fields must be a JSON object, such as {"tier": "gold"}.`, "phone: Enter a valid phone number: digits, spaces and + - ( ) . only."}},
	}, i.Rejected)
	require.Empty(t, b.all(t))
	require.Zero(t, b.uploads(t), "the uploaded file is deleted")
}

// TestSkipInvalidWritesTheValidRows: the valid rows are written with the
// contacts module's values (email and phone encrypted and readable), the
// others reported; both steps are audited.
func TestSkipInvalidWritesTheValidRows(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	i := b.importFile(t, imports.ModeSkipInvalid, mixed)
	require.Equal(t, imports.StatusSucceeded, i.Status, i.Error)
	require.EqualValues(t, 3, i.RowsImported)
	require.EqualValues(t, 4, i.RowsRejected)
	require.Equal(t, []int{3, 5, 8, 9}, lines(i.Rejected))
	require.Contains(t, i.Rejected[3].Messages, "phone: Enter a valid phone number: digits, spaces and + - ( ) . only.")
	require.Equal(t, 100, i.Percent())

	got := b.all(t)
	require.Len(t, got, 3)
	ada := got["Ada Lovelace"]
	require.Equal(t, "ada@example.com", ada.Email)
	require.Equal(t, "+44 20 7946 0001", ada.Phone)
	require.Equal(t, []string{"math", "vip"}, ada.Tags)
	require.Equal(t, map[string]any{"tier": "gold"}, ada.Custom)
	require.Equal(t, []string{"navy"}, got["Grace Hopper"].Tags)
	// The email is findable by its blind index, as for a contact created through the API.
	p, err := b.contacts.List(context.Background(), b.owner, contacts.ListParams{Query: "GRACE@example.com"})
	require.NoError(t, err)
	require.Len(t, p.Contacts, 1)

	events := b.auditActions(t)
	require.Equal(t, []string{audit.ActionImportRequested, audit.ActionContactsImported}, events)
	require.Zero(t, b.uploads(t))
}

func lines(rs []imports.Rejection) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Line
	}
	return out
}

func (b *bundle) auditActions(t *testing.T) []string {
	t.Helper()
	var actions []string
	err := postgres.InOrgTx(context.Background(), b.db.Runtime, b.owner.OrgID, func(tx pgx.Tx) error {
		rows, err := tx.Query(context.Background(), `SELECT action FROM audit_events WHERE org_id = $1 AND action NOT IN ('org.created') ORDER BY seq`, b.owner.OrgID)
		if err != nil {
			return err
		}
		actions, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	require.NoError(t, err)
	return actions
}

// TestFileDefects: a file that is not CSV, or whose header is wrong, fails
// with a message naming the line, in either mode, and writes nothing; an
// empty or oversized upload is refused at once.
func TestFileDefects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body, want string }{
		{"unknown column", "name,fax\nAda,1\n", `Line 1: unknown column "fax"`},
		{"no name column", "email\nada@example.com\n", "Line 1: the header has no name column"},
		{"twice", "name,Name\nAda,Ada\n", `Line 1: the column "name" appears twice`},
		{"unclosed quote", "name,email\nAda,ada@example.com\nGrace,\"grace@example.com\n", "Line 3: the file is not valid CSV"},
		{"bare quote", "name\nAda\nGr\"ace\n", "Line 3: the file is not valid CSV"},
		{"header only", "", "The file is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, options{})
			body := tc.body
			if body == "" {
				body = "\n"
			}
			i := b.importFile(t, imports.ModeSkipInvalid, body)
			require.Equal(t, imports.StatusFailed, i.Status)
			require.Contains(t, i.Error, tc.want)
			require.Empty(t, b.all(t))
		})
	}

	b := setup(t, options{maxBytes: 64})
	ctx := context.Background()
	_, err := b.svc.Start(ctx, b.owner, imports.Upload{Body: strings.NewReader("")})
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err), "empty")
	_, err = b.svc.Start(ctx, b.owner, imports.Upload{Body: strings.NewReader("name\n" + strings.Repeat("Ada\n", 20))})
	require.Equal(t, gw.ETOOLARGE, gw.ErrorCode(err), "too large")
	require.Contains(t, gw.ErrorMessage(err), "larger than")
	_, err = b.svc.Start(ctx, b.owner, imports.Upload{Mode: "merge", Body: strings.NewReader("name\nAda\n")})
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err), "mode")
	require.Zero(t, b.uploads(t), "nothing refused is kept")
	list, err := b.svc.List(ctx, b.owner)
	require.NoError(t, err)
	require.Empty(t, list)
}

// TestWhoMayImport: members and viewers may not import nor see imports;
// another organisation sees none of them; one import at a time.
func TestWhoMayImport(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	ctx := context.Background()
	i, err := b.svc.Start(ctx, b.owner, imports.Upload{Body: strings.NewReader("name\nAda\n")})
	require.NoError(t, err)
	_, err = b.svc.Start(ctx, b.owner, imports.Upload{Body: strings.NewReader("name\nGrace\n")})
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err), "one import at a time")

	for _, role := range []gw.Role{gw.RoleMember, gw.RoleViewer} {
		weak := b.owner
		weak.Role = role
		_, err := b.svc.Start(ctx, weak, imports.Upload{Body: strings.NewReader("name\nEve\n")})
		require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err), role)
		_, err = b.svc.Get(ctx, weak, i.ID)
		require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err), role)
		_, err = b.svc.List(ctx, weak)
		require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err), role)
	}
	admin := b.owner
	admin.Role = gw.RoleAdmin
	_, err = b.svc.Get(ctx, admin, i.ID)
	require.NoError(t, err, "admins may")

	other := pgtest.MemberScope(t, b.db, gw.RoleOwner)
	_, err = b.svc.Get(ctx, other, i.ID)
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	list, err := b.svc.List(ctx, other)
	require.NoError(t, err)
	require.Empty(t, list)
	// The job of the owner's import cannot be pointed at another organisation.
	require.NoError(t, b.svc.Run(ctx, other.OrgID, i.ID, 1, 3))
	_, err = b.svc.Start(ctx, other, imports.Upload{Body: strings.NewReader("name\nMallory\n")})
	require.NoError(t, err, "another organisation is not held up")
}

// TestPlanLimit: the free plan holds 500 contacts. With 498, an
// all_or_nothing file of five writes nothing; skip_invalid writes two and
// reports the three beyond the limit.
func TestPlanLimit(t *testing.T) {
	t.Parallel()
	file := "name\nA1\nA2\nA3\nA4\nA5\n"
	for _, mode := range []string{imports.ModeAllOrNothing, imports.ModeSkipInvalid} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			b := setup(t, options{billed: true})
			seed(t, b, 498)
			i := b.importFile(t, mode, file)
			if mode == imports.ModeAllOrNothing {
				require.Equal(t, imports.StatusFailed, i.Status)
				require.Contains(t, i.Error, "nothing was imported")
				require.Contains(t, i.Error, "500")
				require.Len(t, b.all(t), 498)
				return
			}
			require.Equal(t, imports.StatusSucceeded, i.Status, i.Error)
			require.EqualValues(t, 2, i.RowsImported)
			require.EqualValues(t, 3, i.RowsRejected)
			require.Equal(t, []int{4, 5, 6}, lines(i.Rejected))
			require.Contains(t, i.Rejected[0].Messages[0], "500")
			got := b.all(t)
			require.Len(t, got, 500)
			require.Contains(t, got, "A1")
			require.Contains(t, got, "A2")
		})
	}
}

func seed(t *testing.T, b *bundle, n int) {
	t.Helper()
	err := postgres.InOrgTx(context.Background(), b.db.Runtime, b.owner.OrgID, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO contacts (org_id, id, name)
			SELECT $1, gen_random_uuid(), 'Seed ' || g FROM generate_series(1, $2) g`, b.owner.OrgID, n)
		return err
	})
	require.NoError(t, err)
}

// failingWriter fails the InsertTx calls for which fail says so.
type failingWriter struct {
	imports.ContactWriter
	calls int
	fail  func(call int) bool
}

func (f *failingWriter) InsertTx(ctx context.Context, tx pgx.Tx, orgID string, actor gw.Actor, id string, list []contacts.Input, now time.Time) error {
	f.calls++
	if f.fail(f.calls) {
		return errors.New("connection reset (the worker died)")
	}
	return f.ContactWriter.InsertTx(ctx, tx, orgID, actor, id, list, now)
}

// TestRetryResumes: an attempt that dies after its first batch of
// skip_invalid rows keeps that batch; the retry writes the rest, each row
// once. In all_or_nothing mode the dead attempt wrote nothing and the
// retry writes everything. The last failed attempt marks the import failed.
func TestRetryResumes(t *testing.T) {
	t.Parallel()
	var body strings.Builder
	body.WriteString("name,email\n")
	for n := range 2500 {
		fmt.Fprintf(&body, "Person %d,p%d@example.com\n", n, n)
	}
	for _, mode := range []string{imports.ModeSkipInvalid, imports.ModeAllOrNothing} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dying := true
			fw := &failingWriter{fail: func(call int) bool { return dying && call == 2 }}
			b := setup(t, options{wrap: func(w imports.ContactWriter) imports.ContactWriter { fw.ContactWriter = w; return fw }})
			ctx := context.Background()
			i, err := b.svc.Start(ctx, b.owner, imports.Upload{Mode: mode, Body: strings.NewReader(body.String())})
			require.NoError(t, err)
			require.Error(t, b.svc.Run(ctx, i.OrgID, i.ID, 1, 3))
			i, err = b.svc.Get(ctx, b.owner, i.ID)
			require.NoError(t, err)
			require.Equal(t, imports.StatusRunning, i.Status, "waiting for its retry")
			if mode == imports.ModeSkipInvalid {
				require.EqualValues(t, 1000, i.RowsImported)
				require.Len(t, b.all(t), 1000, "the first batch committed")
				require.Positive(t, i.Percent())
			} else {
				require.Empty(t, b.all(t), "all or nothing")
			}
			dying = false
			require.NoError(t, b.svc.Run(ctx, i.OrgID, i.ID, 2, 3))
			i, err = b.svc.Get(ctx, b.owner, i.ID)
			require.NoError(t, err)
			require.Equal(t, imports.StatusSucceeded, i.Status)
			require.EqualValues(t, 2500, i.RowsImported)
			require.Len(t, b.all(t), 2500, "each row once")
		})
	}

	fw := &failingWriter{fail: func(int) bool { return true }}
	b := setup(t, options{wrap: func(w imports.ContactWriter) imports.ContactWriter { fw.ContactWriter = w; return fw }})
	ctx := context.Background()
	i, err := b.svc.Start(ctx, b.owner, imports.Upload{Body: strings.NewReader("name\nAda\n")})
	require.NoError(t, err)
	require.Error(t, b.svc.Run(ctx, i.OrgID, i.ID, 3, 3))
	i, err = b.svc.Get(ctx, b.owner, i.ID)
	require.NoError(t, err)
	require.Equal(t, imports.StatusFailed, i.Status)
	require.Contains(t, i.Error, "please try again")
	require.Zero(t, b.uploads(t))
}

// generator is a CSV file of rows contacts made on the fly: never in
// memory as a whole. Every few megabytes it samples the live heap.
type generator struct {
	rows, next int
	pad        string
	buf        []byte
	sample     func()
	sinceMB    int
}

func (g *generator) Read(p []byte) (int, error) {
	if len(g.buf) == 0 {
		if g.next > g.rows {
			return 0, io.EOF
		}
		if g.next == 0 {
			g.buf = []byte("name,email,custom\n")
		} else {
			g.buf = fmt.Appendf(nil, "Person %d,p%d@example.com,%s\n", g.next, g.next, g.pad)
		}
		g.next++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	g.sinceMB += n
	if g.sinceMB > 4<<20 {
		g.sinceMB = 0
		g.sample()
	}
	return n, nil
}

// heapPeak tracks the largest live heap seen, after a collection.
type heapPeak struct{ base, peak uint64 }

func (h *heapPeak) sample() {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapAlloc)
}

// sampling samples the heap before each batch the import writes.
type sampling struct {
	imports.ContactWriter
	h *heapPeak
}

func (s sampling) InsertTx(ctx context.Context, tx pgx.Tx, orgID string, actor gw.Actor, id string, list []contacts.Input, now time.Time) error {
	s.h.sample()
	return s.ContactWriter.InsertTx(ctx, tx, orgID, actor, id, list, now)
}

// TestLargeFileStreams: a 44 MB file is uploaded and imported with the
// live heap never more than a fraction of its size above where it
// started: neither the upload nor the job holds the file.
func TestLargeFileStreams(t *testing.T) {
	t.Parallel()
	h := &heapPeak{}
	b := setup(t, options{bucket: "file://" + t.TempDir() + "?no_tmp_dir=true",
		wrap: func(w imports.ContactWriter) imports.ContactWriter { return sampling{w, h} }})
	ctx := context.Background()
	// Each row has 12 custom fields of 900 characters: about 11 KB a row,
	// 44 MB in all.
	const rows = 4000
	var custom strings.Builder
	custom.WriteString(`"{`)
	for f := range 12 {
		if f > 0 {
			custom.WriteString(",")
		}
		fmt.Fprintf(&custom, `""field%d"":""%s""`, f, strings.Repeat("x", 900))
	}
	custom.WriteString(`}"`)
	g := &generator{rows: rows, pad: custom.String(), sample: h.sample}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.base = m.HeapAlloc
	i, err := b.svc.Start(ctx, b.owner, imports.Upload{Mode: imports.ModeSkipInvalid, Body: g})
	require.NoError(t, err)
	require.Greater(t, i.Bytes, int64(40<<20))
	require.NoError(t, b.svc.Run(ctx, i.OrgID, i.ID, 1, 3))
	i, err = b.svc.Get(ctx, b.owner, i.ID)
	require.NoError(t, err)
	require.Equal(t, imports.StatusSucceeded, i.Status, i.Error)
	require.EqualValues(t, rows, i.RowsImported)
	growth := int64(h.peak) - int64(h.base)
	t.Logf("file %d bytes, live heap growth at most %d bytes", i.Bytes, growth)
	require.Less(t, growth, i.Bytes/4, "the file is never held whole")
}
