package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"
)

// Chains and hashes.
//
// Every row belongs to one chain: an organisation's (kind "org", keyed by
// org_id, table audit_events) or a user's (kind "account", keyed by
// user_id, table account_audit_events). Its seq numbers it within the
// chain from 1 without gaps, its prev_hash is the hash of the row before
// (32 zero bytes for seq 1), and its hash is
//
//	SHA-256( "groundwork audit v1\n" || prev_hash ||
//	         field(kind) || field(chain id) || field(seq) || field(id) ||
//	         field(occurred_at) || field(actor_user_id) || field(actor_api_key_id) ||
//	         field(action) || field(target_type) || field(target_id) ||
//	         field(ip) || field(user_agent) || field(request_id) ||
//	         field(before) || field(after) )
//
// where field(s) is the length of s in bytes as a 4-byte big-endian
// integer followed by s's bytes, so that no two rows encode alike. UUIDs
// are lower-case and hyphenated, "" when NULL; seq is in decimal;
// occurred_at is UTC at microsecond precision, "2006-01-02T15:04:05.000000Z";
// before and after are the text PostgreSQL prints for the jsonb value
// (its canonical form: keys sorted, fixed spacing), "" when NULL.
//
// Changing any column of a row breaks its hash; removing or inserting a
// row breaks the seq sequence or the next row's prev_hash; rewriting a row
// and every hash after it is what the advisory lock and REVOKE keep the
// runtime role from doing. Cutting rows off the end of a chain leaves a
// shorter valid chain: keep the chain heads that Verify reports somewhere
// else (logs, tickets) to detect that.

// hashVersion starts every hash's input; a new format gets a new version.
const hashVersion = "groundwork audit v1\n"

// timeLayout is occurred_at's form in the hash.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// Chain kinds.
const (
	kindOrg     = "org"
	kindAccount = "account"
)

// zeroHash is the prev_hash of a chain's first row.
var zeroHash = make([]byte, sha256.Size)

// row is one audit row as hashed and stored.
type row struct {
	kind                         string // kindOrg or kindAccount
	chain                        string // org_id or user_id
	seq                          int64
	id                           string
	time                         time.Time
	actorUser, actorKey          string
	action, targetType, targetID string
	ip, userAgent, requestID     string
	before, after                string // jsonb as PostgreSQL prints it; "" for NULL
	prevHash, hash               []byte
}

// computeHash returns the hash of r with its prevHash, as documented above.
func (r *row) computeHash() []byte {
	h := sha256.New()
	h.Write([]byte(hashVersion))
	h.Write(r.prevHash)
	var n [4]byte
	for _, f := range []string{
		r.kind, r.chain, strconv.FormatInt(r.seq, 10), r.id, r.time.UTC().Format(timeLayout),
		r.actorUser, r.actorKey, r.action, r.targetType, r.targetID,
		r.ip, r.userAgent, r.requestID, r.before, r.after,
	} {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}
