package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TOTP settings: what every authenticator app supports.
const (
	totpPeriod     = 30 // seconds
	totpSecretSize = 20 // bytes, 160 bits as RFC 4226 recommends
)

// Recovery codes: how many a user gets, and their shape.
const (
	recoveryCodeCount = 10
	recoveryCodeLen   = 12 // characters of recoveryAlphabet: 60 bits
	// recoveryAlphabet has 32 characters, none easily confused (no 0, 1, l, o).
	recoveryAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"
)

func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

// matchTOTP checks a 6-digit code against secret at now, allowing one step
// of clock skew either way (as totp.ValidateCustom with Skew 1 does), and
// returns the time step it matched so that it cannot be used twice.
func matchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	for _, skew := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(skew*totpPeriod) * time.Second)
		if valid, err := totp.ValidateCustom(code, secret, t, totpOpts()); err == nil && valid {
			return t.Unix() / totpPeriod, true
		}
	}
	return 0, false
}

// isTOTPCode reports whether code looks like a TOTP code: 6 digits.
func isTOTPCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validSecret reports whether secret is base32 for at least 128 bits.
func validSecret(secret string) bool {
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	return err == nil && len(b) >= 16
}

// BeginTwoFactor generates a TOTP secret for the user and returns it with
// its otpauth:// URL (to show as a QR code). Nothing is stored until
// EnableTwoFactor proves the user's app has it. Errors: ENOTFOUND for an
// unknown user, ECONFLICT if two-factor is already on.
func (s *Service) BeginTwoFactor(ctx context.Context, userID string) (secret, otpauthURL string, err error) {
	row, err := getUserByID(ctx, s.pool, userID, false)
	if err != nil {
		return "", "", err
	}
	if row.TwoFactor {
		return "", "", gw.Errorf(gw.ECONFLICT, "Two-factor authentication is already on.")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.cfg.Issuer, AccountName: row.Email, Period: totpPeriod,
		SecretSize: totpSecretSize, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", err
	}
	return key.Secret(), key.URL(), nil
}

// EnableTwoFactor turns two-factor on with a secret from BeginTwoFactor,
// once code shows that the user's app generates the same codes. It returns
// 10 single-use recovery codes, to show the user once (only their SHA-256
// is stored), and emails the user a notice. Errors: ENOTFOUND for an
// unknown user; EINVALID with Fields "code" for a wrong code (or "secret"
// for a malformed secret); ECONFLICT if two-factor is already on.
func (s *Service) EnableTwoFactor(ctx context.Context, userID, secret, code string) ([]string, error) {
	if !validSecret(secret) {
		return nil, invalidFields("secret", "The two-factor secret is malformed; start again.")
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if !isTOTPCode(code) {
		return nil, invalidFields("code", "Enter the 6-digit code from your authenticator app.")
	}
	now := s.now()
	step, ok := matchTOTP(secret, code, now)
	if !ok {
		return nil, invalidFields("code", "That code is not right. Check that your device's clock is correct and try again.")
	}
	codes, hashes := newRecoveryCodes()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := getUserByID(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		enabled, err := enableTOTP(ctx, tx, s.keys, row.ID, secret, step, now)
		if err != nil {
			return err
		}
		if !enabled {
			return gw.Errorf(gw.ECONFLICT, "Two-factor authentication is already on.")
		}
		if err := replaceRecoveryCodes(ctx, tx, row.ID, hashes); err != nil {
			return err
		}
		if err := auditTwoFactor(ctx, tx, row.ID, true); err != nil {
			return err
		}
		return s.email(ctx, tx, s.twoFactorEmail(row.Email, true))
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTwoFactor turns two-factor off for a user who knows their
// password, deletes the recovery codes and emails the user a notice.
// Errors: ENOTFOUND for an unknown user; EINVALID with Fields "password"
// for a wrong password.
func (s *Service) DisableTwoFactor(ctx context.Context, userID, password string) error {
	row, err := s.confirmedUser(ctx, userID, password)
	if err != nil {
		return err
	}
	if !row.TwoFactor {
		return nil
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := disableTOTP(ctx, tx, row.ID, s.now()); err != nil {
			return err
		}
		if err := auditTwoFactor(ctx, tx, row.ID, false); err != nil {
			return err
		}
		return s.email(ctx, tx, s.twoFactorEmail(row.Email, false))
	})
}

// VerifySecondFactor checks the second step of signing in, after
// Authenticate returned a User with TwoFactor set: code is either the
// current 6-digit code of the user's authenticator app (one step of clock
// skew allowed; each code works once) or an unused recovery code, which
// is then used up. Errors: EUNAUTHORIZED "That code is not valid." for a
// wrong or reused code, an unknown user or one without two-factor;
// EFORBIDDEN for a disabled account.
func (s *Service) VerifySecondFactor(ctx context.Context, userID, code string) error {
	wrong := gw.Errorf(gw.EUNAUTHORIZED, "That code is not valid.")
	row, err := getUserByID(ctx, s.pool, userID, false)
	if gw.ErrorCode(err) == gw.ENOTFOUND {
		return wrong
	}
	if err != nil {
		return err
	}
	if row.Disabled {
		return errDisabled()
	}
	if !row.TwoFactor {
		return wrong
	}
	code = strings.TrimSpace(code)
	now := s.now()
	var ok bool
	if digits := strings.ReplaceAll(code, " ", ""); isTOTPCode(digits) {
		var secret string
		if secret, err = decryptTOTPSecret(s.keys, row); err != nil {
			return err
		}
		step, matched := matchTOTP(secret, digits, now)
		if matched {
			ok, err = advanceTOTPStep(ctx, s.pool, row.ID, step)
		}
	} else if norm := normalizeRecoveryCode(code); len(norm) == recoveryCodeLen {
		ok, err = useRecoveryCode(ctx, s.pool, row.ID, hashRecoveryCode(norm), now)
	}
	if err != nil {
		return err
	}
	if !ok {
		return wrong
	}
	return nil
}

// RecoveryCodesLeft counts the user's unused recovery codes. Errors:
// ENOTFOUND for an unknown user.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	if _, err := getUserByID(ctx, s.pool, userID, false); err != nil {
		return 0, err
	}
	return countRecoveryCodes(ctx, s.pool, userID)
}

// newRecoveryCodes returns fresh recovery codes, formatted for reading
// ("abcd-efgh-jkmn"), and the hashes to store.
func newRecoveryCodes() (codes []string, hashes [][]byte) {
	for range recoveryCodeCount {
		b := make([]byte, recoveryCodeLen)
		_, _ = rand.Read(b) // crypto/rand never fails
		for i := range b {
			b[i] = recoveryAlphabet[b[i]%byte(len(recoveryAlphabet))] // 256 is a multiple of 32: no bias
		}
		norm := string(b)
		codes = append(codes, norm[:4]+"-"+norm[4:8]+"-"+norm[8:])
		hashes = append(hashes, hashRecoveryCode(norm))
	}
	return codes, hashes
}

// normalizeRecoveryCode lower-cases a recovery code as typed and drops
// spaces and dashes.
func normalizeRecoveryCode(code string) string {
	return strings.NewReplacer("-", "", " ", "").Replace(strings.ToLower(code))
}

// hashRecoveryCode is the stored form of a normalised recovery code.
func hashRecoveryCode(norm string) []byte {
	sum := sha256.Sum256([]byte(norm))
	return sum[:]
}
