package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/internal/crypto"
)

// DeviceTokenTTL is how long a device token (NewDeviceToken) identifies a
// device; each successful log-in issues a fresh one.
const DeviceTokenTTL = 180 * 24 * time.Hour

// A device token is OWASP's device cookie ("Slow Down Online Guessing
// Attacks with Device Cookies"): proof that this browser has signed in to an
// account before, so that its failed log-ins count against its own budget,
// not the account's, and an attacker who exhausts the account's budget
// cannot lock the owner out. It is
//
//	base64url(version || issued-at (unix seconds, 8 bytes) || nonce (16) || MAC)
//
// where MAC is the blind-index PRF (HMAC-SHA256 under the blind-index
// keyset, its 4-byte key ID first) of the first three parts and the
// account's email, under its own associated data, so it can be computed
// by nobody without the keyset and is bound to one account. The nonce is
// the device's ID, the key of its own failure budget. Nothing is stored:
// the token expires after DeviceTokenTTL, and rotating the blind-index key
// only sends devices through the per-account budget until their next
// log-in.
const (
	deviceTokenVersion = 1
	deviceNonceLen     = 16
	devicePayloadLen   = 1 + 8 + deviceNonceLen
)

// deviceTokenAD is the associated data of a device token's MAC, distinct
// from every blind index's.
var deviceTokenAD = crypto.NewAD("account", "device_token")

// NewDeviceToken returns a new device token for the account with the given
// email, to be kept by the browser that just signed in to it.
func (s *Service) NewDeviceToken(email string) (string, error) {
	payload := make([]byte, devicePayloadLen, devicePayloadLen+crypto.BlindIndexPrefixLen+32)
	payload[0] = deviceTokenVersion
	binary.BigEndian.PutUint64(payload[1:9], uint64(s.clock.Now().Unix()))
	_, _ = rand.Read(payload[9:]) // crypto/rand.Read never fails
	mac, err := s.keys.BlindIndex(deviceMACInput(payload, email), deviceTokenAD)
	if err != nil {
		return "", fmt.Errorf("sign device token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(append(payload, mac...)), nil
}

// DeviceID returns the ID of the device that token identifies for the
// account with the given email (in any case), or "" when token is not an
// unexpired device token of that account.
func (s *Service) DeviceID(token, email string) string {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) <= devicePayloadLen || b[0] != deviceTokenVersion {
		return ""
	}
	payload, mac := b[:devicePayloadLen], b[devicePayloadLen:]
	issued := time.Unix(int64(binary.BigEndian.Uint64(payload[1:9])), 0)
	if now := s.clock.Now(); issued.After(now.Add(time.Minute)) || now.Sub(issued) > DeviceTokenTTL {
		return ""
	}
	// Every enabled blind-index key's MAC: a token signed before a key
	// rotation stays valid until the old key is removed.
	macs, err := s.keys.BlindIndexes(deviceMACInput(payload, email), deviceTokenAD)
	if err != nil {
		return ""
	}
	for _, m := range macs {
		if subtle.ConstantTimeCompare(m, mac) == 1 {
			return hex.EncodeToString(payload[9:])
		}
	}
	return ""
}

// deviceMACInput is what a device token's MAC covers: its payload and the
// account's normalised email.
func deviceMACInput(payload []byte, email string) string {
	return base64.RawURLEncoding.EncodeToString(payload) + "|" + normalizeEmail(email)
}
