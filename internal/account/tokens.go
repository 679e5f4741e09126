package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Paths of the web pages that account emails link to. The web layer serves
// them; links are Config.BaseURL + path (+ "?token=..." where it applies).
const (
	VerifyEmailPath    = "/verify-email"    // ?token=: calls VerifyEmail
	ResetPasswordPath  = "/reset-password"  // ?token=: asks for a new password, calls ResetPassword
	ConfirmEmailPath   = "/confirm-email"   // ?token=: calls ConfirmEmailChange
	LoginPath          = "/login"           // sign-in page
	ForgotPasswordPath = "/forgot-password" // asks for an address, calls RequestPasswordReset
)

// purpose is what an email token is for; the values are the CHECK
// constraint's of email_tokens.purpose.
type purpose string

const (
	purposeVerifyEmail   purpose = "verify_email"
	purposeResetPassword purpose = "reset_password"
	purposeChangeEmail   purpose = "change_email"
)

// tokenBytes is the entropy of an email token.
const tokenBytes = 32

// errInvalidLink is the one answer to an unknown, used or expired token.
func errInvalidLink() error {
	return gw.Errorf(gw.EINVALID, "This link is invalid or has expired.")
}

// newToken returns a random token for a link and the SHA-256 to store.
func newToken() (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand never fails
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

// hashToken is the stored form of a token.
func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// parseToken returns the hash of a well-formed token, and false for
// anything that newToken cannot have made.
func parseToken(token string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != tokenBytes {
		return nil, false
	}
	return hashToken(token), true
}

// issueToken stores a new token for userID, sent to email, and returns it.
// A new reset or email-change token replaces older unused ones of its kind;
// verification links stay valid side by side.
func issueToken(ctx context.Context, q querier, userID string, p purpose, email string, ttl time.Duration, now time.Time) (string, error) {
	if p != purposeVerifyEmail {
		if err := expireTokens(ctx, q, userID, now, p); err != nil {
			return "", err
		}
	}
	token, hash := newToken()
	if err := insertToken(ctx, q, hash, userID, p, email, now.Add(ttl), now); err != nil {
		return "", err
	}
	return token, nil
}

// link returns the absolute URL of path, with a token if it is not "".
func (s *Service) link(path, token string) string {
	u := s.cfg.BaseURL + path
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	return u
}
