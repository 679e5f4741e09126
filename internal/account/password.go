package account

import (
	"crypto/rand"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
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
// salt and the current parameters.
func hashPassword(password string) (string, error) {
	params := hashParams
	h, err := argon2id.CreateHash(password, &params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// checkPassword reports whether password matches the PHC string hash, and
// whether hash was made with parameters other than the current ones.
func checkPassword(password, hash string) (match, stale bool, err error) {
	match, params, err := argon2id.CheckHash(password, hash)
	if err != nil {
		return false, false, fmt.Errorf("check password hash: %w", err)
	}
	return match, *params != hashParams, nil
}

// newDummyHash hashes a random password, for checks that must cost as much
// as a real one.
func newDummyHash() string {
	h, err := hashPassword(rand.Text())
	if err != nil {
		panic(err) // only crypto/rand can fail here, and it does not
	}
	return h
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
	if email != "" && (strings.Contains(lower, email) || (utf8.RuneCountInString(local) >= 3 && strings.Contains(lower, local))) {
		return "Don't use your email address in your password."
	}
	return ""
}
