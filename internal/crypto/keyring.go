package crypto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/prf"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Sizes of the key prefixes, for SQL that looks at them.
const (
	// CiphertextPrefixLen is the length of a Tink ciphertext's prefix:
	// 0x01 then the key ID, big-endian.
	CiphertextPrefixLen = 5
	// BlindIndexPrefixLen is the length of a blind index's prefix: the key
	// ID, big-endian.
	BlindIndexPrefixLen = 4
	// blindIndexLen is the length of the HMAC-SHA256 output kept.
	blindIndexLen = 32
)

// AD is the associated data that binds a ciphertext to where it is stored.
// Make one with NewAD.
type AD struct{ s string }

// NewAD returns the associated data of a value in table's column, in the
// row identified by ids: for a tenant table the organisation's ID then the
// row's, e.g. NewAD("contacts", "email", orgID, id) is
// "contacts|email|<org_id>|<id>".
func NewAD(table, column string, ids ...string) AD {
	n := len(table) + 1 + len(column)
	for _, id := range ids {
		n += 1 + len(id)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(table)
	b.WriteByte('|')
	b.WriteString(column)
	for _, id := range ids {
		b.WriteByte('|')
		b.WriteString(id)
	}
	return AD{s: b.String()}
}

// String is the associated data as text; it holds no secret.
func (ad AD) String() string { return ad.s }

// AppendID appends to dst the associated data of ad with one more ID, id:
// the bytes of NewAD(table, column, ids..., id) when ad is NewAD(table,
// column, ids...). Loops that decrypt a value per row (an export) build
// each row's associated data this way in a buffer they reuse, for
// DecryptAppend.
func (ad AD) AppendID(dst, id []byte) []byte {
	dst = append(dst, ad.s...)
	dst = append(dst, '|')
	return append(dst, id...)
}

// Keyring encrypts, decrypts and indexes field values. It is safe for
// concurrent use.
type Keyring struct {
	enc  *Keyset
	bidx *Keyset
	aead tink.AEAD
	prfs *prf.Set
	// prefix is the ciphertext prefix of the primary encryption key, and
	// bidxPrefix the blind-index prefix of the primary blind-index key.
	prefix, bidxPrefix []byte
}

// NewKeyring returns a Keyring on an encryption keyset and a blind-index
// keyset.
func NewKeyring(enc, bidx *Keyset) (*Keyring, error) {
	if enc == nil || enc.kind != Encryption || bidx == nil || bidx.kind != BlindIndex {
		return nil, errors.New("keyring: need an encryption keyset and a blind-index keyset")
	}
	a, err := aead.New(enc.handle)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Encryption.Variable(), err)
	}
	p, err := prf.NewPRFSet(bidx.handle)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", BlindIndex.Variable(), err)
	}
	return &Keyring{
		enc: enc, bidx: bidx, aead: a, prfs: p,
		prefix:     CiphertextPrefix(enc.PrimaryID()),
		bidxPrefix: binary.BigEndian.AppendUint32(nil, bidx.PrimaryID()),
	}, nil
}

// GenerateKeyring returns a Keyring on fresh keysets, for tests and
// benchmarks.
func GenerateKeyring() (*Keyring, error) {
	enc, err := NewKeyset(Encryption)
	if err != nil {
		return nil, err
	}
	bidx, err := NewKeyset(BlindIndex)
	if err != nil {
		return nil, err
	}
	return NewKeyring(enc, bidx)
}

// Keyset returns the keyring's keyset of kind k.
func (r *Keyring) Keyset(k Kind) *Keyset {
	if k == BlindIndex {
		return r.bidx
	}
	return r.enc
}

// Encrypt encrypts plaintext under the primary encryption key, bound to ad.
// The empty string encrypts to nil, stored as NULL: an absent value needs
// no secrecy.
func (r *Keyring) Encrypt(plaintext string, ad AD) ([]byte, error) {
	if plaintext == "" {
		return nil, nil
	}
	ct, err := r.aead.Encrypt([]byte(plaintext), []byte(ad.s))
	if err != nil {
		return nil, fmt.Errorf("encrypt %s: %w", ad.s, err)
	}
	return ct, nil
}

// Decrypt decrypts a ciphertext of Encrypt that was bound to ad; nil (or
// empty) decrypts to "". A failure is a *DecryptError, naming the key.
func (r *Keyring) Decrypt(ciphertext []byte, ad AD) (string, error) {
	if len(ciphertext) == 0 {
		return "", nil
	}
	pt, err := r.aead.Decrypt(ciphertext, []byte(ad.s))
	if err != nil {
		id, ok := CiphertextKeyID(ciphertext)
		return "", &DecryptError{AD: ad.s, KeyID: id, HasPrefix: ok, KnownKey: ok && r.enc.Has(id), PrimaryID: r.enc.PrimaryID()}
	}
	return string(pt), nil
}

// DecryptAppend is Decrypt for loops: it appends the plaintext to dst,
// and takes the associated data as bytes (an AD's, from AD.AppendID). nil
// (or empty) decrypts to nothing. A failure is a *DecryptError.
func (r *Keyring) DecryptAppend(dst, ciphertext, ad []byte) ([]byte, error) {
	if len(ciphertext) == 0 {
		return dst, nil
	}
	pt, err := r.aead.Decrypt(ciphertext, ad)
	if err != nil {
		id, ok := CiphertextKeyID(ciphertext)
		return dst, &DecryptError{AD: string(ad), KeyID: id, HasPrefix: ok, KnownKey: ok && r.enc.Has(id), PrimaryID: r.enc.PrimaryID()}
	}
	return append(dst, pt...), nil
}

// DecryptError reports a ciphertext that would not decrypt. Its message
// names the key; it holds no secret.
type DecryptError struct {
	AD        string // the associated data it was checked against
	KeyID     uint32 // the key ID in the ciphertext's prefix
	HasPrefix bool   // whether the ciphertext had a Tink prefix at all
	KnownKey  bool   // whether the keyset holds an enabled key with KeyID
	PrimaryID uint32 // the keyset's primary key
}

// Error implements the error interface.
func (e *DecryptError) Error() string {
	switch {
	case !e.HasPrefix:
		return fmt.Sprintf("decrypt %s: decryption failed: the value is not a Tink ciphertext", e.AD)
	case !e.KnownKey:
		return fmt.Sprintf("decrypt %s: decryption failed with key id %d: %s has no enabled key with that id (primary is %d); was it removed before re-encryption finished?",
			e.AD, e.KeyID, Encryption.Variable(), e.PrimaryID)
	default:
		return fmt.Sprintf("decrypt %s: decryption failed with key id %d: the ciphertext was altered, or belongs to another row or column",
			e.AD, e.KeyID)
	}
}

// BlindIndex returns the blind index of value under the primary
// blind-index key: its 4-byte ID, then HMAC-SHA256 of ad and value.
// Normalise value first (e.g. lower-case an email) so that equal values
// index equally. The empty string indexes to nil.
func (r *Keyring) BlindIndex(value string, ad AD) ([]byte, error) {
	if value == "" {
		return nil, nil
	}
	return r.blindIndex(r.prfs.PrimaryID, value, ad)
}

// BlindIndexes returns the blind indexes of value under every enabled
// blind-index key, the primary's first: what to look for while a rotation
// is under way. The empty string has none.
func (r *Keyring) BlindIndexes(value string, ad AD) ([][]byte, error) {
	if value == "" {
		return nil, nil
	}
	ids := []uint32{r.prfs.PrimaryID}
	for id := range r.prfs.PRFs {
		if id != r.prfs.PrimaryID {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids[1:])
	out := make([][]byte, 0, len(ids))
	for _, id := range ids {
		b, err := r.blindIndex(id, value, ad)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (r *Keyring) blindIndex(id uint32, value string, ad AD) ([]byte, error) {
	p, ok := r.prfs.PRFs[id]
	if !ok {
		return nil, fmt.Errorf("blind index %s: no enabled key %d in %s", ad.s, id, BlindIndex.Variable())
	}
	// ad never holds "|" inside its parts' IDs, so ad+"|"+value is unambiguous.
	mac, err := p.ComputePRF([]byte(ad.s+"|"+value), blindIndexLen)
	if err != nil {
		return nil, fmt.Errorf("blind index %s: %w", ad.s, err)
	}
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, BlindIndexPrefixLen+blindIndexLen), id), mac...), nil
}

// PrimaryCiphertextPrefix is the 5-byte prefix of ciphertexts under the
// primary encryption key: ciphertexts that do not start with it are due
// for re-encryption.
func (r *Keyring) PrimaryCiphertextPrefix() []byte { return slices.Clone(r.prefix) }

// PrimaryBlindIndexPrefix is the 4-byte prefix of blind indexes under the
// primary blind-index key.
func (r *Keyring) PrimaryBlindIndexPrefix() []byte { return slices.Clone(r.bidxPrefix) }

// CiphertextPrefix is the prefix of Tink ciphertexts under key id.
func CiphertextPrefix(id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{1}, id)
}

// CiphertextKeyID returns the key ID in a Tink ciphertext's prefix, and
// whether it has one.
func CiphertextKeyID(ciphertext []byte) (uint32, bool) {
	if len(ciphertext) < CiphertextPrefixLen || ciphertext[0] != 1 {
		return 0, false
	}
	return binary.BigEndian.Uint32(ciphertext[1:CiphertextPrefixLen]), true
}

// BlindIndexKeyID returns the key ID in a blind index's prefix, and whether
// it has one.
func BlindIndexKeyID(index []byte) (uint32, bool) {
	if len(index) < BlindIndexPrefixLen {
		return 0, false
	}
	return binary.BigEndian.Uint32(index[:BlindIndexPrefixLen]), true
}
