package account

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCommonPasswordsList(t *testing.T) {
	t.Parallel()
	set := commonPasswords()
	require.Greater(t, len(set), 10000)
	for _, p := range []string{"password", "12345678", "iloveyou", "qwertyuiop", "trustno1"} {
		require.Contains(t, set, p)
	}
	for p := range set {
		require.GreaterOrEqual(t, len([]rune(p)), minPasswordLen, "shorter entries fail the length rule anyway")
		require.Equal(t, strings.ToLower(p), p)
		require.False(t, strings.HasPrefix(p, "# "))
	}
}

func TestPasswordProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		password, email string
		ok              bool
	}{
		{"correct horse battery staple", "ada@example.com", true},
		{"Xy7!q2zK", "ada@example.com", true},
		{"Xy7!q2z", "ada@example.com", false},
		{strings.Repeat("ü", 256), "ada@example.com", true},
		{strings.Repeat("ü", 257), "ada@example.com", false},
		{"PASSWORD", "ada@example.com", false},
		{"ada-is-great-1815", "ada@example.com", false},
		{"bo-is-great-1815", "bo@example.com", true}, // a two-letter local part is too short to judge
		{"myADA@EXAMPLE.COM!", "ada@example.com", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.ok, passwordProblem(tt.password, tt.email) == "", "%q for %q", tt.password, tt.email)
	}
}

func TestEmailProblem(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"ada@example.com", "a.b+tag@mail.example.co.uk", "x@y.io"} {
		require.Empty(t, emailProblem(ok), ok)
	}
	for _, bad := range []string{"", "ada", "ada@", "@example.com", "ada@example", "ada@.example.com",
		"ada@example.com.", "ada@example..com", "ada <ada@example.com>", "a b@example.com",
		strings.Repeat("a", 65) + "@example.com", "ada@example.com\nbcc: x@y.z"} {
		require.NotEmpty(t, emailProblem(bad), bad)
	}
}

func TestHashAndCheckPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &Service{hashes: newHasher(1, 0)}
	h, err := s.hashPassword(ctx, "correct horse battery staple")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"))
	match, stale, err := s.checkPassword(ctx, "correct horse battery staple", h)
	require.NoError(t, err)
	require.True(t, match)
	require.False(t, stale)
	match, _, err = s.checkPassword(ctx, "wrong", h)
	require.NoError(t, err)
	require.False(t, match)
	_, _, err = s.checkPassword(ctx, "x", "not a hash")
	require.Error(t, err)

	// The dummy hash has the current parameters and matches nothing.
	dummy := newDummyHash()
	require.True(t, strings.HasPrefix(dummy, "$argon2id$v=19$m=19456,t=2,p=1$"), dummy)
	match, stale, err = s.checkPassword(ctx, "", dummy)
	require.NoError(t, err)
	require.False(t, match)
	require.False(t, stale, "checking it costs what checking a current hash costs")
	require.NotEqual(t, dummy, newDummyHash())
}

func TestTokensAndCodes(t *testing.T) {
	t.Parallel()
	token, hash := newToken()
	require.Len(t, token, 43)
	parsed, ok := parseToken(token)
	require.True(t, ok)
	require.Equal(t, hash, parsed)
	for _, bad := range []string{"", "short", token + "A", strings.Repeat("+", 43)} {
		_, ok := parseToken(bad)
		require.False(t, ok, bad)
	}

	codes, hashes := newRecoveryCodes()
	require.Len(t, codes, recoveryCodeCount)
	require.Len(t, hashes, recoveryCodeCount)
	require.Equal(t, hashRecoveryCode(normalizeRecoveryCode(strings.ToUpper(codes[0]))), hashes[0])
}

func TestHumanDurationAndTruncate(t *testing.T) {
	t.Parallel()
	require.Equal(t, "48 hours", humanDuration(48*time.Hour))
	require.Equal(t, "1 hour", humanDuration(time.Hour))
	require.Equal(t, "90 minutes", humanDuration(90*time.Minute))
	require.Equal(t, "45 seconds", humanDuration(45*time.Second))
	require.Equal(t, "abc", truncate("abc", 5))
	require.Equal(t, "ab", truncate("abé", 3), "never splits a character")
}

// BenchmarkPasswordHash measures one argon2id hash with the production
// parameters (m=19 MiB, t=2, p=1): the CPU cost of a sign-up or sign-in.
func BenchmarkPasswordHash(b *testing.B) {
	s := &Service{hashes: newHasher(1, 0)}
	for b.Loop() {
		if _, err := s.hashPassword(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
