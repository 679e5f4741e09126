package contacts

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

func ptr[T any](v T) *T { return &v }

func TestInputNormalize(t *testing.T) {
	t.Parallel()
	manyTags := func(n int) *[]string {
		tags := make([]string, n)
		for i := range tags {
			tags[i] = fmt.Sprintf("tag%d", i)
		}
		return &tags
	}
	manyFields := func(n int, value any) *map[string]any {
		m := make(map[string]any, n)
		for i := range n {
			m[fmt.Sprintf("field%d", i)] = value
		}
		return &m
	}
	name := ptr("Ada Lovelace")
	tests := []struct {
		name   string
		in     Input
		create bool
		want   map[string]string // Fields of the EINVALID error; nil means valid
	}{
		{"all fields valid", Input{Name: name, Email: ptr("ada@example.com"), Phone: ptr("+44 (20) 7946-0958."),
			Company: ptr("Analytical Engines"), Tags: &[]string{"vip"},
			Custom: &map[string]any{"s": "x", "f": 1.5, "i": 7, "b": true, "n": nil, "j": json.Number("12.5")}}, true, nil},
		{"name only", Input{Name: name}, true, nil},
		{"name missing on create", Input{}, true, map[string]string{"name": "Enter a name."}},
		{"name blank", Input{Name: ptr("   ")}, true, map[string]string{"name": "Enter a name."}},
		{"name blank on update", Input{Name: ptr("")}, false, map[string]string{"name": "Enter a name."}},
		{"name too long", Input{Name: ptr(strings.Repeat("a", 201))}, true, map[string]string{"name": "Name must be at most 200 characters."}},
		{"name of 200 two-byte characters", Input{Name: ptr(strings.Repeat("é", 200))}, true, nil},
		{"name on two lines", Input{Name: ptr("Ada\nLovelace")}, true, map[string]string{"name": "Name must be plain text on one line, without direction-changing or invisible characters."}},
		{"name not UTF-8", Input{Name: ptr("Ada \xff")}, true, map[string]string{"name": "Name must be plain text on one line, without direction-changing or invisible characters."}},
		{"name with a right-to-left override", Input{Name: ptr("Ada\u202eecalevoL")}, true, map[string]string{"name": "Name must be plain text on one line, without direction-changing or invisible characters."}},
		{"name with a zero-width space", Input{Name: ptr("Ada\u200bLovelace")}, true, map[string]string{"name": "Name must be plain text on one line, without direction-changing or invisible characters."}},
		{"email invalid", Input{Name: name, Email: ptr("ada")}, true, map[string]string{"email": "Enter a valid email address."}},
		{"email with display name", Input{Name: name, Email: ptr("Ada <ada@example.com>")}, true, map[string]string{"email": "Enter a valid email address."}},
		{"email too long", Input{Name: name, Email: ptr(strings.Repeat("a", 243) + "@example.com")}, true, map[string]string{"email": "Email must be at most 254 characters."}},
		{"email empty clears it", Input{Email: ptr("")}, false, nil},
		{"phone with letters", Input{Name: name, Phone: ptr("call me")}, true, map[string]string{"phone": "Enter a valid phone number: digits, spaces and + - ( ) . only."}},
		{"phone without digits", Input{Name: name, Phone: ptr("--")}, true, map[string]string{"phone": "Enter a valid phone number: digits, spaces and + - ( ) . only."}},
		{"phone too long", Input{Name: name, Phone: ptr(strings.Repeat("1", 41))}, true, map[string]string{"phone": "Phone must be at most 40 characters."}},
		{"company too long", Input{Name: name, Company: ptr(strings.Repeat("c", 201))}, true, map[string]string{"company": "Company must be at most 200 characters."}},
		{"20 tags", Input{Name: name, Tags: manyTags(20)}, true, nil},
		{"21 tags", Input{Name: name, Tags: manyTags(21)}, true, map[string]string{"tags": "Use at most 20 tags."}},
		{"duplicates do not count", Input{Name: name, Tags: ptr(append(*manyTags(20), "tag1", " tag2 "))}, true, nil},
		{"empty tag", Input{Name: name, Tags: &[]string{"vip", " "}}, true, map[string]string{"tags": "Each tag must be 1 to 40 characters of plain text."}},
		{"tag too long", Input{Name: name, Tags: &[]string{strings.Repeat("t", 41)}}, true, map[string]string{"tags": "Each tag must be 1 to 40 characters of plain text."}},
		{"50 custom fields", Input{Name: name, Custom: manyFields(50, "x")}, true, nil},
		{"51 custom fields", Input{Name: name, Custom: manyFields(51, "x")}, true, map[string]string{"custom": "Use at most 50 custom fields."}},
		{"custom key empty", Input{Name: name, Custom: &map[string]any{"": "x"}}, true, map[string]string{"custom": "Custom field names must be 1 to 64 characters of plain text."}},
		{"custom key too long", Input{Name: name, Custom: &map[string]any{strings.Repeat("k", 65): "x"}}, true, map[string]string{"custom": "Custom field names must be 1 to 64 characters of plain text."}},
		{"custom object value", Input{Name: name, Custom: &map[string]any{"k": map[string]any{}}}, true, map[string]string{"custom": `Custom field "k" must be text, a number, true, false or null.`}},
		{"custom array value", Input{Name: name, Custom: &map[string]any{"k": []any{1}}}, true, map[string]string{"custom": `Custom field "k" must be text, a number, true, false or null.`}},
		{"custom NaN", Input{Name: name, Custom: &map[string]any{"k": math.NaN()}}, true, map[string]string{"custom": `Custom field "k" must be a finite number.`}},
		{"custom bad json.Number", Input{Name: name, Custom: &map[string]any{"k": json.Number("NaN")}}, true, map[string]string{"custom": `Custom field "k" must be a finite number.`}},
		{"custom value too long", Input{Name: name, Custom: &map[string]any{"k": strings.Repeat("v", 1001)}}, true, map[string]string{"custom": `Custom field "k" must be at most 1000 characters.`}},
		{"custom value with NUL", Input{Name: name, Custom: &map[string]any{"k": "a\x00b"}}, true, map[string]string{"custom": `Custom field "k" must be plain text.`}},
		{"custom over 16 KiB", Input{Name: name, Custom: manyFields(20, strings.Repeat("v", 900))}, true, map[string]string{"custom": "Custom fields must be at most 16 KiB in total."}},
		{"several fields at once", Input{Email: ptr("nope"), Phone: ptr("x")}, true, map[string]string{
			"name": "Enter a name.", "email": "Enter a valid email address.", "phone": "Enter a valid phone number: digits, spaces and + - ( ) . only."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.in.normalize(tt.create)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
			e, ok := err.(*gw.Error)
			require.True(t, ok)
			require.Equal(t, tt.want, e.Fields)
		})
	}
}

func TestInputNormalizeTrimsAndFills(t *testing.T) {
	t.Parallel()
	in, err := Input{Name: ptr("  Ada "), Email: ptr(" ada@example.com "), Tags: &[]string{" vip ", "b", "vip"}}.normalize(true)
	require.NoError(t, err)
	require.Equal(t, Input{
		Name: ptr("Ada"), Email: ptr("ada@example.com"), Phone: ptr(""), Company: ptr(""),
		Tags: &[]string{"vip", "b"}, Custom: &map[string]any{}, CustomKeys: []string{},
	}, in)

	// An update leaves what it does not set as nil (unchanged).
	in, err = Input{Company: ptr(" Engines ")}.normalize(false)
	require.NoError(t, err)
	require.Equal(t, Input{Company: ptr("Engines")}, in)
	require.False(t, in.empty())
	require.True(t, Input{}.empty())
}

func TestListParamsNormalize(t *testing.T) {
	t.Parallel()
	q, err := ListParams{Query: ` 50%_off\ `}.normalize()
	require.NoError(t, err)
	require.Equal(t, listQuery{sort: "-created", after: true, before: maxID, query: `50%_off\`, pattern: `%50\%\_off\\%`, limit: 50}, q)

	q, err = ListParams{Limit: 500}.normalize()
	require.NoError(t, err)
	require.Equal(t, 200, q.limit)

	_, err = ListParams{Query: strings.Repeat("q", 201)}.normalize()
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	require.Contains(t, err.(*gw.Error).Fields, "q")

	_, err = ListParams{Sort: "email"}.normalize()
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	require.Contains(t, err.(*gw.Error).Fields, "sort")

	// A cursor belongs to its sort.
	id := gw.NewID()
	cur := sortCursor("name", Contact{ID: id, Name: "Ada"})
	q, err = ListParams{Sort: "name", Cursor: cur}.normalize()
	require.NoError(t, err)
	require.Equal(t, []any{true, id, "Ada"}, []any{q.after, q.before, q.key})
	for _, p := range []ListParams{{Sort: "-name", Cursor: cur}, {Cursor: cur}, {Sort: "name", Cursor: gw.Cursor(id)}} {
		_, err = p.normalize()
		require.Equal(t, gw.EINVALID, gw.ErrorCode(err), "%+v", p)
		require.Contains(t, err.(*gw.Error).Fields, "cursor")
	}
}
