package exports

import (
	"crypto/hmac"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Download links are signed by the app: the token names the organisation,
// the export, the file and an expiry, and carries a keyed MAC of them (the
// keyring's blind-index key, under a purpose of its own), so a link for one
// organisation's file can never be turned into another's.

// linkAD is the purpose the MAC of a download token is bound to.
var linkAD = crypto.NewAD("exports", "download")

// link is what a download token says.
type link struct {
	orgID, exportID, file string
	expires               time.Time
}

// Link returns the path of a signed link to file of export e, valid for the
// configured LinkTTL: /downloads/{token}.
func (s *Service) Link(e Export, file string) (string, error) {
	payload := strings.Join([]string{e.OrgID, e.ID, file, strconv.FormatInt(s.clock.Now().Add(s.cfg.LinkTTL).Unix(), 10)}, "|")
	mac, err := s.keys.BlindIndex(payload, linkAD)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return "/downloads/" + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(mac), nil
}

// verify checks token and returns what it says: ENOTFOUND when it is
// malformed, altered or expired.
func (s *Service) verify(token string) (link, error) {
	bad := gw.Errorf(gw.ENOTFOUND, "This download link is invalid or has expired: get a new one from the exports page.")
	p, m, ok := strings.Cut(token, ".")
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(m)
	if !ok || err1 != nil || err2 != nil {
		return link{}, bad
	}
	valid, err := s.keys.BlindIndexes(string(payload), linkAD)
	if err != nil {
		return link{}, err
	}
	matched := false
	for _, v := range valid {
		if hmac.Equal(v, mac) {
			matched = true
		}
	}
	parts := strings.Split(string(payload), "|")
	if !matched || len(parts) != 4 {
		return link{}, bad
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || !s.clock.Now().Before(time.Unix(exp, 0)) {
		return link{}, bad
	}
	return link{orgID: parts[0], exportID: parts[1], file: parts[2], expires: time.Unix(exp, 0)}, nil
}
