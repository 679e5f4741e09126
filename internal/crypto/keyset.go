package crypto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"
	"github.com/tink-crypto/tink-go/v2/prf/hmacprf"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
)

// Kind is what a keyset is for.
type Kind int

// The two kinds of keyset. Each comes from its own environment variable,
// so that one leaking does not give away the other.
const (
	// Encryption keysets hold AES-256-GCM keys (Tink's AES256_GCM template,
	// with the 5-byte Tink output prefix) that encrypt field values.
	Encryption Kind = iota + 1
	// BlindIndex keysets hold HMAC-SHA256 PRF keys (Tink's HMAC_SHA256_PRF
	// template) that compute the blind indexes of searchable fields.
	BlindIndex
)

// Variable is the environment variable that holds a keyset of kind k in
// production.
func (k Kind) Variable() string {
	if k == BlindIndex {
		return "GROUNDWORK_BLIND_INDEX_KEYSET"
	}
	return "GROUNDWORK_ENCRYPTION_KEYSET"
}

// File is the name of the development keyset file of kind k, under the data
// directory.
func (k Kind) File() string {
	if k == BlindIndex {
		return "blind-index-keyset.json"
	}
	return "keyset.json"
}

// String names the kind as the CLI does: "encryption" or "blind-index".
func (k Kind) String() string {
	if k == BlindIndex {
		return "blind-index"
	}
	return "encryption"
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "encryption":
		return Encryption, nil
	case "blind-index":
		return BlindIndex, nil
	}
	return 0, fmt.Errorf("unknown keyset %q: say encryption or blind-index", s)
}

// template is the Tink key template of new keys of kind k.
func (k Kind) template() *tinkpb.KeyTemplate {
	if k == BlindIndex {
		return prf.HMACSHA256PRFKeyTemplate()
	}
	return aead.AES256GCMKeyTemplate()
}

// Keyset is a validated Tink keyset of one kind: every key of the right
// type, one of them primary. It is immutable; Rotate, Promote and Remove
// return a changed copy.
type Keyset struct {
	kind   Kind
	handle *keyset.Handle
}

// KeyInfo describes one key of a keyset, without its secret.
type KeyInfo struct {
	// ID is Tink's key ID. Ciphertexts of an encryption key begin with
	// 0x01 and this ID (big-endian); blind indexes begin with the ID.
	ID uint32
	// Primary keys encrypt (or index) new values; the others only decrypt
	// (or find) old ones.
	Primary bool
	// Status is ENABLED, DISABLED or DESTROYED; only enabled keys work.
	Status string
}

// NewKeyset returns a keyset of kind k holding one fresh primary key.
func NewKeyset(k Kind) (*Keyset, error) {
	h, err := keyset.NewHandle(k.template())
	if err != nil {
		return nil, fmt.Errorf("generate %s keyset: %w", k, err)
	}
	return &Keyset{kind: k, handle: h}, nil
}

// ParseKeyset reads a keyset of kind k in Tink's cleartext JSON format, or
// base64 of it (standard or URL alphabet, padded or not), as found in an
// environment variable. Errors name the variable and never echo the text.
func ParseKeyset(k Kind, text string) (*Keyset, error) {
	ks, err := parseKeyset(k, text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Variable(), err)
	}
	return ks, nil
}

func parseKeyset(k Kind, text string) (*Keyset, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, errors.New("empty")
	}
	js := []byte(text)
	if !strings.HasPrefix(text, "{") {
		decoded, ok := decodeBase64(text)
		if !ok {
			return nil, errors.New("neither a Tink JSON keyset nor base64 of one")
		}
		js = bytes.TrimSpace(decoded)
	}
	// The reader's error may quote the input, which holds secrets: say only
	// that the JSON is not a keyset.
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(js)))
	if err != nil {
		return nil, errors.New(`not a valid Tink JSON keyset with an enabled primary key (a {"primaryKeyId": ..., "key": [...]} object, as "groundwork keys new" prints)`)
	}
	ks := &Keyset{kind: k, handle: h}
	if err := ks.validate(); err != nil {
		return nil, err
	}
	return ks, nil
}

func decodeBase64(s string) ([]byte, bool) {
	s = strings.Join(strings.Fields(s), "") // tolerate wrapped lines
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// validate checks that every key is of the kind's type and that an enabled
// primary key exists.
func (ks *Keyset) validate() error {
	primary, err := ks.handle.Primary()
	if err != nil || primary.KeyStatus() != keyset.Enabled {
		return errors.New("the keyset has no enabled primary key")
	}
	for i := range ks.handle.Len() {
		e, err := ks.handle.Entry(i)
		if err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
		switch ks.kind {
		case Encryption:
			key, ok := e.Key().(*aesgcm.Key)
			if !ok {
				return fmt.Errorf("key %d is not an AES-GCM key; the encryption keyset holds AES256_GCM keys", e.KeyID())
			}
			p := key.Parameters().(*aesgcm.Parameters)
			if p.KeySizeInBytes() != 32 || p.Variant() != aesgcm.VariantTink {
				return fmt.Errorf("key %d is not AES-256-GCM with Tink's output prefix; the encryption keyset holds AES256_GCM keys", e.KeyID())
			}
		case BlindIndex:
			if _, ok := e.Key().(*hmacprf.Key); !ok {
				return fmt.Errorf("key %d is not an HMAC PRF key; the blind-index keyset holds HMAC_SHA256_PRF keys", e.KeyID())
			}
		}
	}
	return nil
}

// Kind is what the keyset is for.
func (ks *Keyset) Kind() Kind { return ks.kind }

// PrimaryID is the ID of the primary key.
func (ks *Keyset) PrimaryID() uint32 {
	return ks.handle.KeysetInfo().GetPrimaryKeyId()
}

// Keys lists the keys, in keyset order.
func (ks *Keyset) Keys() []KeyInfo {
	info := ks.handle.KeysetInfo()
	keys := make([]KeyInfo, 0, len(info.GetKeyInfo()))
	for _, k := range info.GetKeyInfo() {
		keys = append(keys, KeyInfo{ID: k.GetKeyId(), Primary: k.GetKeyId() == info.GetPrimaryKeyId(), Status: k.GetStatus().String()})
	}
	return keys
}

// Has reports whether the keyset holds an enabled key with id.
func (ks *Keyset) Has(id uint32) bool {
	return slices.ContainsFunc(ks.Keys(), func(k KeyInfo) bool { return k.ID == id && k.Status == "ENABLED" })
}

// JSON is the keyset in Tink's cleartext JSON format, as ParseKeyset reads
// it. It holds the secret keys: keep it out of logs and repositories.
func (ks *Keyset) JSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(ks.handle, keyset.NewJSONWriter(&buf)); err != nil {
		return nil, fmt.Errorf("write %s keyset: %w", ks.kind, err)
	}
	return buf.Bytes(), nil
}

// Rotate returns a copy of the keyset with a fresh key added, and the new
// key's ID. With primary set the new key becomes the primary; otherwise it
// is only added, so that every instance can decrypt with it before any
// encrypts with it (see Promote).
func (ks *Keyset) Rotate(primary bool) (*Keyset, uint32, error) {
	m := keyset.NewManagerFromHandle(ks.handle)
	id, err := m.Add(ks.kind.template())
	if err != nil {
		return nil, 0, fmt.Errorf("add %s key: %w", ks.kind, err)
	}
	if primary {
		if err := m.SetPrimary(id); err != nil {
			return nil, 0, fmt.Errorf("add %s key: %w", ks.kind, err)
		}
	}
	out, err := ks.fromManager(m)
	return out, id, err
}

// Promote returns a copy of the keyset whose primary key is id.
func (ks *Keyset) Promote(id uint32) (*Keyset, error) {
	m := keyset.NewManagerFromHandle(ks.handle)
	if err := m.SetPrimary(id); err != nil {
		return nil, fmt.Errorf("promote %s key %d: %w", ks.kind, id, err)
	}
	return ks.fromManager(m)
}

// Remove returns a copy of the keyset without key id, which must not be
// the primary. Values still encrypted (or indexed) under it become
// unreadable (or unfindable): re-encrypt them first.
func (ks *Keyset) Remove(id uint32) (*Keyset, error) {
	if id == ks.PrimaryID() {
		return nil, fmt.Errorf("remove %s key %d: it is the primary key; rotate first", ks.kind, id)
	}
	m := keyset.NewManagerFromHandle(ks.handle)
	if err := m.Delete(id); err != nil {
		return nil, fmt.Errorf("remove %s key %d: %w", ks.kind, id, err)
	}
	return ks.fromManager(m)
}

func (ks *Keyset) fromManager(m *keyset.Manager) (*Keyset, error) {
	h, err := m.Handle()
	if err != nil {
		return nil, fmt.Errorf("build %s keyset: %w", ks.kind, err)
	}
	out := &Keyset{kind: ks.kind, handle: h}
	if err := out.validate(); err != nil {
		return nil, err
	}
	return out, nil
}
