package contacts

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testBundle is what most tests need: a Service on a fresh database, its
// clock, and a member of one organisation.
type testBundle struct {
	db     *pgtest.DB
	clock  *gwtest.Clock
	keys   *crypto.Keyring
	svc    *Service
	member gw.Scope
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	db := pgtest.New(t)
	clock := gwtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC))
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	return &testBundle{db: db, clock: clock, keys: keys, svc: NewService(db.Runtime, keys, clock, nil), member: pgtest.MemberScope(t, db, gw.RoleMember)}
}

// create adds a contact named name, changed by the optional mods.
func (b *testBundle) create(t testing.TB, scope gw.Scope, name string, mods ...func(*Input)) Contact {
	t.Helper()
	in := Input{Name: &name}
	for _, mod := range mods {
		mod(&in)
	}
	c, err := b.svc.Create(context.Background(), scope, in)
	require.NoError(t, err)
	return c
}

func TestCreateGetUpdateDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	created := b.clock.Now().Truncate(time.Microsecond)

	c, err := b.svc.Create(ctx, b.member, Input{
		Name: ptr(" Ada Lovelace "), Email: ptr("ada@example.com"), Phone: ptr("+44 20 7946 0958"),
		Company: ptr("Analytical Engines"), Tags: &[]string{"vip", " math ", "vip"},
		Custom: &map[string]any{"born": 1815, "title": "Countess", "active": false, "notes": nil},
	})
	require.NoError(t, err)
	want := Contact{
		ID: c.ID, Name: "Ada Lovelace", Email: "ada@example.com", Phone: "+44 20 7946 0958",
		Company: "Analytical Engines", Tags: []string{"vip", "math"},
		Custom:     map[string]any{"born": float64(1815), "title": "Countess", "active": false, "notes": nil},
		CustomKeys: []string{"active", "born", "notes", "title"}, // no order given: sorted
		CreatedAt:  created, UpdatedAt: created,
	}
	require.Equal(t, want, c)

	got, err := b.svc.Get(ctx, b.member, c.ID)
	require.NoError(t, err)
	require.Equal(t, want, got)

	// A partial update changes only what it sets, and UpdatedAt.
	b.clock.Advance(time.Hour)
	got, err = b.svc.Update(ctx, b.member, c.ID, Input{Phone: ptr(""), Tags: &[]string{"alumni"}})
	require.NoError(t, err)
	want.Phone, want.Tags, want.UpdatedAt = "", []string{"alumni"}, created.Add(time.Hour)
	require.Equal(t, want, got)

	// Custom fields are replaced whole.
	got, err = b.svc.Update(ctx, b.member, c.ID, Input{Custom: &map[string]any{"title": "Lady"}})
	require.NoError(t, err)
	want.Custom, want.CustomKeys = map[string]any{"title": "Lady"}, []string{"title"}
	require.Equal(t, want, got)

	// Custom fields keep the order given; names it leaves out follow, sorted.
	got, err = b.svc.Update(ctx, b.member, c.ID, Input{Custom: &map[string]any{"z": 1, "a": 2, "m": 3, "b": 4},
		CustomKeys: []string{"z", "a", "gone", "m", "z"}})
	require.NoError(t, err)
	require.Equal(t, []string{"z", "a", "m", "b"}, got.CustomKeys)
	got, err = b.svc.Get(ctx, b.member, c.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"z", "a", "m", "b"}, got.CustomKeys)
	got, err = b.svc.Update(ctx, b.member, c.ID, Input{Custom: &map[string]any{"title": "Lady"}})
	require.NoError(t, err)
	require.Equal(t, want, got)

	// An update that sets nothing changes nothing, not even UpdatedAt.
	b.clock.Advance(time.Hour)
	got, err = b.svc.Update(ctx, b.member, c.ID, Input{})
	require.NoError(t, err)
	require.Equal(t, want, got)

	got, err = b.svc.Get(ctx, b.member, c.ID)
	require.NoError(t, err)
	require.Equal(t, want, got)

	require.NoError(t, b.svc.Delete(ctx, b.member, c.ID))
	_, err = b.svc.Get(ctx, b.member, c.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.Delete(ctx, b.member, c.ID))
	_, err = b.svc.Update(ctx, b.member, c.ID, Input{Name: ptr("Ada")})
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	_, err = b.svc.Update(ctx, b.member, c.ID, Input{})
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
}

func TestCreateAndUpdateValidate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	_, err := b.svc.Create(ctx, b.member, Input{Name: ptr(""), Email: ptr("nope")})
	gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, map[string]string{"name": "Enter a name.", "email": "Enter a valid email address."}, err.(*gw.Error).Fields)

	c := b.create(t, b.member, "Ada")
	_, err = b.svc.Update(ctx, b.member, c.ID, Input{Name: ptr(" "), Tags: &[]string{""}})
	gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, []string{"name", "tags"}, slices.Sorted(maps.Keys(err.(*gw.Error).Fields)))

	page, err := b.svc.List(ctx, b.member, ListParams{})
	require.NoError(t, err)
	require.Equal(t, []Contact{c}, page.Contacts, "nothing invalid was stored")
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := b.create(t, b.member, "Ada")
	viewer := b.member
	viewer.Role = gw.RoleViewer

	// A viewer reads but does not write.
	_, err := b.svc.Get(ctx, viewer, c.ID)
	require.NoError(t, err)
	_, err = b.svc.List(ctx, viewer, ListParams{})
	require.NoError(t, err)
	_, err = b.svc.Create(ctx, viewer, Input{Name: ptr("Grace")})
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	_, err = b.svc.Update(ctx, viewer, c.ID, Input{Name: ptr("Grace")})
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.Delete(ctx, viewer, c.ID))

	// A scope without an organisation learns nothing.
	noOrg := gw.Scope{Actor: b.member.Actor, Role: gw.RoleOwner}
	_, err = b.svc.Get(ctx, noOrg, c.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	_, err = b.svc.List(ctx, noOrg, ListParams{})
	gwtest.RequireCode(t, gw.ENOTFOUND, err)

	got, err := b.svc.Get(ctx, b.member, c.ID)
	require.NoError(t, err)
	require.Equal(t, c, got, "refused calls changed nothing")
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	a := b.create(t, b.member, "Ada", func(in *Input) { in.Tags = &[]string{"vip"} })
	other := pgtest.MemberScope(t, b.db, gw.RoleOwner)
	mine := b.create(t, other, "Grace")

	_, err := b.svc.Get(ctx, other, a.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	_, err = b.svc.Update(ctx, other, a.ID, Input{Name: ptr("Stolen")})
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	_, err = b.svc.Update(ctx, other, a.ID, Input{})
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.Delete(ctx, other, a.ID))

	for _, q := range []string{"", "Ada", "vip"} {
		page, err := b.svc.List(ctx, other, ListParams{Query: q})
		require.NoError(t, err)
		want := []Contact{}
		if q == "" {
			want = []Contact{mine}
		}
		require.Equal(t, want, page.Contacts, "query %q", q)
	}
	got, err := b.svc.Get(ctx, b.member, a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got, "the other organisation changed nothing")
}

// TestRowLevelSecurity checks the database's own guard, below the Service:
// a query that forgets the organisation sees nothing, and a transaction for
// one organisation cannot write another's rows.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	a := b.create(t, b.member, "Ada")
	other := pgtest.MemberScope(t, b.db, gw.RoleOwner)

	var n int
	require.NoError(t, b.db.Runtime.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&n))
	require.Zero(t, n, "no app.org_id, no rows")

	err := postgres.InOrgTx(ctx, b.db.Runtime, other.OrgID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO contacts (org_id, id, name) VALUES ($1, $2, 'Intruder')`, b.member.OrgID, gw.NewID())
		return err
	})
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	err = postgres.InOrgTx(ctx, b.db.Runtime, other.OrgID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE contacts SET name = 'Stolen' WHERE id = $1`, a.ID)
		require.Zero(t, tag.RowsAffected())
		return err
	})
	require.NoError(t, err)
}

func TestMalformedID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.create(t, b.member, "Ada")
	for _, id := range []string{"", "nope", "1", "00000000000000000000000000000000", "' OR 1=1 --", gw.NewID() + "x"} {
		_, err := b.svc.Get(ctx, b.member, id)
		gwtest.RequireCode(t, gw.ENOTFOUND, err)
		_, err = b.svc.Update(ctx, b.member, id, Input{Name: ptr("Grace")})
		gwtest.RequireCode(t, gw.ENOTFOUND, err)
		gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.Delete(ctx, b.member, id))
	}
}

func TestListSearch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.create(t, b.member, "Ada Lovelace", func(in *Input) {
		in.Email, in.Company, in.Tags = ptr("ada@engines.example"), ptr("Analytical Engines"), &[]string{"vip", "math"}
	})
	b.create(t, b.member, "Grace Hopper", func(in *Input) {
		in.Email, in.Company, in.Tags = ptr("grace@navy.example"), ptr("US Navy"), &[]string{"Navy"}
	})
	b.create(t, b.member, "Alan Turing", func(in *Input) {
		in.Email, in.Company = ptr("alan@bletchley.example"), ptr("Bletchley Park")
	})

	tests := []struct {
		query string
		want  []string // names, newest first
	}{
		{"", []string{"Alan Turing", "Grace Hopper", "Ada Lovelace"}},
		{"  ", []string{"Alan Turing", "Grace Hopper", "Ada Lovelace"}},
		{"hopper", []string{"Grace Hopper"}},               // name, any case
		{"LOVE", []string{"Ada Lovelace"}},                 // name, any case
		{"grace@navy.example", []string{"Grace Hopper"}},   // email, exactly
		{" GRACE@Navy.Example ", []string{"Grace Hopper"}}, // email, any case
		{"@navy.example", []string{}},                      // emails match whole
		{"grace@navy", []string{}},                         // emails match whole
		{"engines", []string{"Ada Lovelace"}},              // company
		{"park", []string{"Alan Turing"}},                  // company
		{"a", []string{"Alan Turing", "Grace Hopper", "Ada Lovelace"}},
		{"vip", []string{"Ada Lovelace"}},  // tag
		{"vi", []string{}},                 // tags match whole
		{"math", []string{"Ada Lovelace"}}, // tag
		{"Navy", []string{"Grace Hopper"}}, // tag and company
		{"nobody", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			page, err := b.svc.List(ctx, b.member, ListParams{Query: tt.query})
			require.NoError(t, err)
			require.Equal(t, tt.want, names(page.Contacts))
			require.Empty(t, page.NextCursor)
		})
	}
}

func TestListWildcardsAreLiteral(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, name := range []string{"100% sure", "1000 sure", "a_b", "axb", `back\slash`, "backslash"} {
		b.create(t, b.member, name)
	}
	for query, want := range map[string][]string{
		"%":      {"100% sure"},
		"0%":     {"100% sure"},
		"_":      {"a_b"},
		"a_b":    {"a_b"},
		`\`:      {`back\slash`},
		`k\s`:    {`back\slash`},
		`\%`:     {},
		"%sure%": {},
	} {
		page, err := b.svc.List(ctx, b.member, ListParams{Query: query})
		require.NoError(t, err)
		require.Equal(t, want, names(page.Contacts), "query %q", query)
	}
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var want []string // ids, newest first
	for i := range 6 {
		c := b.create(t, b.member, fmt.Sprintf("Contact %d", i))
		want = append([]string{c.ID}, want...)
	}

	// Six contacts, two a page: the third page is full and still the last,
	// since List fetches one row more than it returns.
	var got []string
	cursor := ""
	for pageNo := 1; ; pageNo++ {
		page, err := b.svc.List(ctx, b.member, ListParams{Cursor: cursor, Limit: 2})
		require.NoError(t, err)
		require.Len(t, page.Contacts, 2, "page %d", pageNo)
		for _, c := range page.Contacts {
			got = append(got, c.ID)
		}
		if pageNo == 1 {
			// Contacts added meanwhile do not shift the later pages.
			b.create(t, b.member, "Newcomer")
		}
		if page.NextCursor == "" {
			require.Equal(t, 3, pageNo)
			break
		}
		require.Less(t, pageNo, 3)
		cursor = page.NextCursor
	}
	require.Equal(t, want, got, "every contact once, newest first")

	// The default page holds them all, and the largest page is 200.
	page, err := b.svc.List(ctx, b.member, ListParams{})
	require.NoError(t, err)
	require.Len(t, page.Contacts, 7)
	require.Empty(t, page.NextCursor)
	page, err = b.svc.List(ctx, b.member, ListParams{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, page.Contacts, 7)

	// Search results paginate the same way.
	page, err = b.svc.List(ctx, b.member, ListParams{Query: "contact", Limit: 4})
	require.NoError(t, err)
	require.Equal(t, want[:4], ids(page.Contacts))
	page, err = b.svc.List(ctx, b.member, ListParams{Query: "contact", Limit: 4, Cursor: page.NextCursor})
	require.NoError(t, err)
	require.Equal(t, want[4:], ids(page.Contacts))
	require.Empty(t, page.NextCursor)
}

func TestListMalformedCursor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, cursor := range []string{"!!!", "YWJj", "not a cursor", gw.NewID()} {
		_, err := b.svc.List(ctx, b.member, ListParams{Cursor: cursor})
		gwtest.RequireCode(t, gw.EINVALID, err)
		require.Equal(t, map[string]string{"cursor": "This cursor is not valid; start again from the first page."},
			err.(*gw.Error).Fields, "cursor %q", cursor)
	}
}

func BenchmarkGet(b *testing.B) {
	tb := setup(b)
	ctx := context.Background()
	c := tb.create(b, tb.member, "Ada", func(in *Input) {
		in.Email, in.Tags, in.Custom = ptr("ada@example.com"), &[]string{"vip"}, &map[string]any{"born": 1815}
	})
	for b.Loop() {
		if _, err := tb.svc.Get(ctx, tb.member, c.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList50(b *testing.B) {
	tb := setup(b)
	ctx := context.Background()
	for i := range 200 {
		tb.create(b, tb.member, fmt.Sprintf("Contact %d", i), func(in *Input) {
			in.Email, in.Tags, in.Custom = ptr(fmt.Sprintf("c%d@example.com", i)), &[]string{"vip"}, &map[string]any{"n": i}
		})
	}
	for b.Loop() {
		page, err := tb.svc.List(ctx, tb.member, ListParams{Limit: 50})
		if err != nil || len(page.Contacts) != 50 {
			b.Fatal(err, len(page.Contacts))
		}
	}
}

func names(cs []Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func ids(cs []Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// TestListSorted pages through every sort two contacts at a time: each
// sort lists every contact once, in its order, ties (the same name in
// another case, the same company) broken by id, and search still applies.
func TestListSorted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Created in this order (ids ascend).
	for _, nc := range [][2]string{{"bob", "Zeta"}, {"Alice", "acme"}, {"Bob", "Zeta"}, {"carol", ""}, {"alice", "Beta"}} {
		b.create(t, b.member, nc[0], func(in *Input) { in.Company = ptr(nc[1]) })
	}
	all := func(p ListParams) []string {
		t.Helper()
		var names []string
		for range 10 {
			page, err := b.svc.List(ctx, b.member, p)
			require.NoError(t, err)
			for _, c := range page.Contacts {
				names = append(names, c.Name+"/"+c.Company)
			}
			if page.NextCursor == "" {
				return names
			}
			p.Cursor = page.NextCursor
		}
		t.Fatal("too many pages")
		return nil
	}
	for sort, want := range map[string][]string{
		"":         {"alice/Beta", "carol/", "Bob/Zeta", "Alice/acme", "bob/Zeta"},
		"-created": {"alice/Beta", "carol/", "Bob/Zeta", "Alice/acme", "bob/Zeta"},
		"created":  {"bob/Zeta", "Alice/acme", "Bob/Zeta", "carol/", "alice/Beta"},
		"name":     {"Alice/acme", "alice/Beta", "bob/Zeta", "Bob/Zeta", "carol/"},
		"-name":    {"carol/", "Bob/Zeta", "bob/Zeta", "alice/Beta", "Alice/acme"},
		"company":  {"carol/", "Alice/acme", "alice/Beta", "bob/Zeta", "Bob/Zeta"},
		"-company": {"Bob/Zeta", "bob/Zeta", "alice/Beta", "Alice/acme", "carol/"},
	} {
		require.Equal(t, want, all(ListParams{Sort: sort, Limit: 2}), "sort %q", sort)
	}
	require.Equal(t, []string{"Alice/acme", "alice/Beta"}, all(ListParams{Sort: "name", Query: "ALICE", Limit: 1}))
}
