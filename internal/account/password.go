package account

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/argon2"
)

// Password length limits, in characters.
const (
	minPasswordLen = 8
	maxPasswordLen = 256
)

// hashParams are the argon2id parameters of new hashes: OWASP's
// recommendation of m=19 MiB, t=2, p=1 (Password Storage Cheat Sheet). A
// stored hash made with other parameters is replaced at the next sign-in.
var hashParams = argon2id.Params{
	Memory:      19 * 1024, // KiB
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// hashPassword returns the argon2id PHC string of password, with a fresh
// salt and the current parameters. It runs in one of the Service's hashing
// slots (see hasher): EUNAVAILABLE when none comes free in time.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	var h string
	err := s.hashes.do(ctx, func() (err error) {
		params := hashParams
		h, err = argon2id.CreateHash(password, &params)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// checkPassword reports whether password matches the PHC string hash, and
// whether hash was made with parameters other than the current ones. It
// runs in one of the Service's hashing slots (see hasher): EUNAVAILABLE
// when none comes free in time.
func (s *Service) checkPassword(ctx context.Context, password, hash string) (match, stale bool, err error) {
	if hash == noPassword {
		// An account made through an identity provider: no password
		// matches, after the same work as a wrong one.
		_, _, err := s.checkPassword(ctx, password, s.dummyHash())
		return false, false, err
	}
	var params *argon2id.Params
	err = s.hashes.do(ctx, func() (err error) {
		match, params, err = argon2id.CheckHash(password, hash)
		return err
	})
	if err != nil {
		return false, false, fmt.Errorf("check password hash: %w", err)
	}
	return match, *params != hashParams, nil
}

// newDummyHash returns a PHC string with the current parameters, a random
// salt and a random key, for checks that must cost as much as a real one
// (an unknown email): checking a password against it runs the same argon2id
// computation, and no password matches it. Building it hashes nothing, so it
// needs no hashing slot.
func newDummyHash() string {
	salt, key := make([]byte, hashParams.SaltLength), make([]byte, hashParams.KeyLength)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	_, _ = rand.Read(key)
	b64 := base64.RawStdEncoding.EncodeToString
	// The format of argon2id.CreateHash.
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		hashParams.Memory, hashParams.Iterations, hashParams.Parallelism, b64(salt), b64(key))
}

// commonPasswordsText lists common passwords, one a line, lower case.
//
//go:embed common-passwords.txt
var commonPasswordsText string

// commonPasswords is the set of commonPasswordsText, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 12000)
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "# ") {
			continue
		}
		set[line] = struct{}{}
	}
	return set
})

// passwordProblem returns what is wrong with password as the password of
// the account with the given (normalised) email, or "" if nothing is.
func passwordProblem(password, email string) string {
	n := utf8.RuneCountInString(password)
	switch {
	case n < minPasswordLen:
		return fmt.Sprintf("Use at least %d characters.", minPasswordLen)
	case n > maxPasswordLen:
		return fmt.Sprintf("Use at most %d characters.", maxPasswordLen)
	}
	lower := strings.ToLower(password)
	if _, common := commonPasswords()[lower]; common {
		return "This password is too common. Choose one that is harder to guess."
	}
	local, _, _ := strings.Cut(email, "@")
	if email != "" && strings.Contains(lower, email) {
		return "Your password must not contain your email address."
	}
	if email != "" && utf8.RuneCountInString(local) >= 3 && strings.Contains(lower, local) {
		return fmt.Sprintf("Your password must not contain %q, the part of your email address before the @.", local)
	}
	return ""
}
