package crypto

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

func newKeyring(t testing.TB) *Keyring {
	t.Helper()
	r, err := GenerateKeyring()
	require.NoError(t, err)
	return r
}

func TestEncryptDecrypt(t *testing.T) {
	t.Parallel()
	r := newKeyring(t)
	ad := NewAD("contacts", "email", "org-1", "row-1")
	require.Equal(t, "contacts|email|org-1|row-1", ad.String())

	ct, err := r.Encrypt("ada@example.com", ad)
	require.NoError(t, err)
	require.NotContains(t, string(ct), "ada@example.com")
	require.True(t, bytes.HasPrefix(ct, r.PrimaryCiphertextPrefix()), "Tink prefix of the primary key")
	id, ok := CiphertextKeyID(ct)
	require.True(t, ok)
	require.Equal(t, r.Keyset(Encryption).PrimaryID(), id)

	again, err := r.Encrypt("ada@example.com", ad)
	require.NoError(t, err)
	require.NotEqual(t, ct, again, "a fresh nonce each time")

	pt, err := r.Decrypt(ct, ad)
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", pt)

	// "" is stored as NULL.
	ct, err = r.Encrypt("", ad)
	require.NoError(t, err)
	require.Nil(t, ct)
	pt, err = r.Decrypt(nil, ad)
	require.NoError(t, err)
	require.Empty(t, pt)
}

// TestAssociatedDataBindsTheRow checks that a ciphertext moved to another
// row, column, organisation or table does not decrypt.
func TestAssociatedDataBindsTheRow(t *testing.T) {
	t.Parallel()
	r := newKeyring(t)
	ct, err := r.Encrypt("+44 20 7946 0000", NewAD("contacts", "phone", "org-1", "row-1"))
	require.NoError(t, err)
	for _, ad := range []AD{
		NewAD("contacts", "phone", "org-1", "row-2"),
		NewAD("contacts", "phone", "org-2", "row-1"),
		NewAD("contacts", "email", "org-1", "row-1"),
		NewAD("users", "totp_secret", "row-1"),
		NewAD("contacts", "phone", "org-1"),
	} {
		_, err := r.Decrypt(ct, ad)
		var de *DecryptError
		require.ErrorAs(t, err, &de, ad.String())
		require.True(t, de.KnownKey)
		require.Contains(t, err.Error(), fmt.Sprintf("decryption failed with key id %d", r.Keyset(Encryption).PrimaryID()))
		require.Contains(t, err.Error(), "another row or column")
	}
	// A flipped bit fails too.
	ct[len(ct)-1] ^= 1
	_, err = r.Decrypt(ct, NewAD("contacts", "phone", "org-1", "row-1"))
	require.Error(t, err)
	// Bytes that are no ciphertext at all.
	_, err = r.Decrypt([]byte("plain"), NewAD("contacts", "phone", "org-1", "row-1"))
	require.ErrorContains(t, err, "not a Tink ciphertext")
}

// TestDecryptAppend: the loop form decrypts what Encrypt wrote, bound to
// the same associated data built with AppendID, into the caller's buffer,
// and refuses another row's.
func TestDecryptAppend(t *testing.T) {
	t.Parallel()
	r := newKeyring(t)
	ct, err := r.Encrypt("ada@example.com", NewAD("contacts", "email", "org-1", "row-1"))
	require.NoError(t, err)
	parent := NewAD("contacts", "email", "org-1")
	ad := parent.AppendID(nil, []byte("row-1"))
	require.Equal(t, "contacts|email|org-1|row-1", string(ad))

	buf := []byte("x:")
	buf, err = r.DecryptAppend(buf, ct, ad)
	require.NoError(t, err)
	require.Equal(t, "x:ada@example.com", string(buf))
	empty, err := r.DecryptAppend(buf[:0], nil, ad)
	require.NoError(t, err)
	require.Empty(t, empty)

	_, err = r.DecryptAppend(nil, ct, parent.AppendID(nil, []byte("row-2")))
	var de *DecryptError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "contacts|email|org-1|row-2", de.AD)
}

func TestWrongKeyIsAClearError(t *testing.T) {
	t.Parallel()
	a, b := newKeyring(t), newKeyring(t)
	ad := NewAD("users", "totp_secret", "u1")
	ct, err := a.Encrypt("JBSWY3DPEHPK3PXP", ad)
	require.NoError(t, err)
	_, err = b.Decrypt(ct, ad)
	var de *DecryptError
	require.ErrorAs(t, err, &de)
	require.False(t, de.KnownKey)
	require.Equal(t, a.Keyset(Encryption).PrimaryID(), de.KeyID)
	msg := err.Error()
	require.Contains(t, msg, fmt.Sprintf("decryption failed with key id %d", de.KeyID))
	require.Contains(t, msg, "GROUNDWORK_ENCRYPTION_KEYSET has no enabled key with that id")
	require.NotContains(t, msg, "JBSWY3DPEHPK3PXP")
}

func TestBlindIndex(t *testing.T) {
	t.Parallel()
	r := newKeyring(t)
	ad := NewAD("contacts", "email", "org-1")
	x, err := r.BlindIndex("ada@example.com", ad)
	require.NoError(t, err)
	require.Len(t, x, BlindIndexPrefixLen+32)
	require.True(t, bytes.HasPrefix(x, r.PrimaryBlindIndexPrefix()))
	y, err := r.BlindIndex("ada@example.com", ad)
	require.NoError(t, err)
	require.Equal(t, x, y, "deterministic")
	other, err := r.BlindIndex("ada@example.com", NewAD("contacts", "email", "org-2"))
	require.NoError(t, err)
	require.NotEqual(t, x, other, "scoped to the organisation")
	z, err := r.BlindIndex("grace@example.com", ad)
	require.NoError(t, err)
	require.NotEqual(t, x, z)
	none, err := r.BlindIndex("", ad)
	require.NoError(t, err)
	require.Nil(t, none)

	// Another keyring (another key) indexes differently.
	w, err := newKeyring(t).BlindIndex("ada@example.com", ad)
	require.NoError(t, err)
	require.NotEqual(t, x[BlindIndexPrefixLen:], w[BlindIndexPrefixLen:])
}

// TestRotateKeyring is the keyring's side of a rotation: old values still
// decrypt and are still found while the old key is in the keyset, new ones
// use the new key; once removed, the old key's values fail clearly.
func TestRotateKeyring(t *testing.T) {
	t.Parallel()
	r1 := newKeyring(t)
	ad := NewAD("contacts", "email", "o", "c")
	old, err := r1.Encrypt("ada@example.com", ad)
	require.NoError(t, err)
	oldIndex, err := r1.BlindIndex("ada@example.com", NewAD("contacts", "email", "o"))
	require.NoError(t, err)

	enc2, newEncID, err := r1.Keyset(Encryption).Rotate(true)
	require.NoError(t, err)
	bidx2, newBidxID, err := r1.Keyset(BlindIndex).Rotate(true)
	require.NoError(t, err)
	require.Equal(t, newEncID, enc2.PrimaryID())
	require.Len(t, enc2.Keys(), 2)
	r2, err := NewKeyring(enc2, bidx2)
	require.NoError(t, err)

	pt, err := r2.Decrypt(old, ad)
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", pt)
	fresh, err := r2.Encrypt("ada@example.com", ad)
	require.NoError(t, err)
	id, _ := CiphertextKeyID(fresh)
	require.Equal(t, newEncID, id)

	indexes, err := r2.BlindIndexes("ada@example.com", NewAD("contacts", "email", "o"))
	require.NoError(t, err)
	require.Len(t, indexes, 2)
	first, _ := BlindIndexKeyID(indexes[0])
	require.Equal(t, newBidxID, first, "the primary's first")
	require.Equal(t, oldIndex, indexes[1], "the old key's index still finds old rows")

	require.True(t, r2.Stale(KeyUsage{Kind: Encryption, KeyID: r1.Keyset(Encryption).PrimaryID(), Rows: 1}))
	require.False(t, r2.Stale(KeyUsage{Kind: Encryption, KeyID: newEncID, Rows: 1}))

	_, err = enc2.Remove(newEncID)
	require.ErrorContains(t, err, "primary")
	enc3, err := enc2.Remove(r1.Keyset(Encryption).PrimaryID())
	require.NoError(t, err)
	r3, err := NewKeyring(enc3, bidx2)
	require.NoError(t, err)
	pt, err = r3.Decrypt(fresh, ad)
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", pt)
	_, err = r3.Decrypt(old, ad)
	require.ErrorContains(t, err, "was it removed before re-encryption finished?")

	// Added without being primary, then promoted.
	enc4, id4, err := enc3.Rotate(false)
	require.NoError(t, err)
	require.Equal(t, newEncID, enc4.PrimaryID())
	enc5, err := enc4.Promote(id4)
	require.NoError(t, err)
	require.Equal(t, id4, enc5.PrimaryID())
}

func TestParseKeyset(t *testing.T) {
	t.Parallel()
	enc, err := NewKeyset(Encryption)
	require.NoError(t, err)
	js, err := enc.JSON()
	require.NoError(t, err)
	bidx, err := NewKeyset(BlindIndex)
	require.NoError(t, err)
	bidxJS, err := bidx.JSON()
	require.NoError(t, err)

	for name, text := range map[string]string{
		"json":                string(js),
		"json with spaces":    "\n  " + string(js) + "\n",
		"base64":              base64.StdEncoding.EncodeToString(js),
		"base64 url unpadded": base64.RawURLEncoding.EncodeToString(js),
		"base64 wrapped":      wrap(base64.StdEncoding.EncodeToString(js), 76),
	} {
		ks, err := ParseKeyset(Encryption, text)
		require.NoError(t, err, name)
		require.Equal(t, enc.PrimaryID(), ks.PrimaryID(), name)
	}

	h128, err := keyset.NewHandle(aead.AES128GCMKeyTemplate())
	require.NoError(t, err)
	aes128, err := (&Keyset{kind: Encryption, handle: h128}).JSON()
	require.NoError(t, err)
	hRaw, err := keyset.NewHandle(aead.AES256GCMNoPrefixKeyTemplate())
	require.NoError(t, err)
	noPrefix, err := (&Keyset{kind: Encryption, handle: hRaw}).JSON()
	require.NoError(t, err)
	tests := []struct {
		name, text, want string
		kind             Kind
	}{
		{"garbage", "not a keyset!", "GROUNDWORK_ENCRYPTION_KEYSET: neither a Tink JSON keyset nor base64 of one", Encryption},
		{"base64 of garbage", base64.StdEncoding.EncodeToString([]byte("s3cret-garbage")), "GROUNDWORK_ENCRYPTION_KEYSET: not a valid Tink JSON keyset", Encryption},
		{"broken json", `{"primaryKeyId": 1, "key": [{"s3cret": `, "GROUNDWORK_ENCRYPTION_KEYSET: not a valid Tink JSON keyset", Encryption},
		{"empty key list", `{"primaryKeyId": 1, "key": []}`, "GROUNDWORK_ENCRYPTION_KEYSET: not a valid Tink JSON keyset", Encryption},
		{"prf keyset as encryption", string(bidxJS), "GROUNDWORK_ENCRYPTION_KEYSET: key", Encryption},
		{"aead keyset as blind index", string(js), "GROUNDWORK_BLIND_INDEX_KEYSET: key", BlindIndex},
		{"aes-128", string(aes128), "is not AES-256-GCM with Tink's output prefix", Encryption},
		{"no prefix", string(noPrefix), "is not AES-256-GCM with Tink's output prefix", Encryption},
		{"no primary", strings.Replace(string(js), fmt.Sprintf(`"primaryKeyId":%d`, enc.PrimaryID()), `"primaryKeyId":7`, 1), "with an enabled primary key", Encryption},
	}
	for _, tt := range tests {
		_, err := ParseKeyset(tt.kind, tt.text)
		require.ErrorContains(t, err, tt.want, tt.name)
		require.NotContains(t, err.Error(), "s3cret", "errors never echo the input")
		require.NotContains(t, err.Error(), "\n", "errors are one line")
	}
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

func TestLoadDevelopmentKeysets(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "var")
	var logs bytes.Buffer
	logger := newTextLogger(&logs)
	src := Source{DataDir: dir}

	r1, err := Load(src, logger)
	require.NoError(t, err)
	require.Contains(t, logs.String(), "generated a development keyset file")
	require.Contains(t, logs.String(), "GROUNDWORK_ENCRYPTION_KEYSET")
	require.Contains(t, logs.String(), "level=WARN")
	for _, name := range []string{"keyset.json", "blind-index-keyset.json"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	require.Empty(t, leftovers)

	r2, err := Load(src, logger)
	require.NoError(t, err)
	require.Equal(t, r1.Keyset(Encryption).PrimaryID(), r2.Keyset(Encryption).PrimaryID(), "the same keyset next time")
	require.Equal(t, r1.Keyset(BlindIndex).PrimaryID(), r2.Keyset(BlindIndex).PrimaryID())

	// A corrupt file is an error naming the file and the variable.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keyset.json"), []byte("{oops"), 0o600))
	_, err = Load(src, logger)
	require.ErrorContains(t, err, filepath.Join(dir, "keyset.json"))
	require.ErrorContains(t, err, "GROUNDWORK_ENCRYPTION_KEYSET is unset")
}

func TestLoadConcurrentStartsAgree(t *testing.T) {
	t.Parallel()
	src := Source{DataDir: t.TempDir()}
	ids := make([]uint32, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			r, err := Load(src, nil)
			if err == nil {
				ids[i] = r.Keyset(Encryption).PrimaryID()
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		require.NotZero(t, id)
		require.Equal(t, ids[0], id)
	}
}

func TestLoadFromEnvironment(t *testing.T) {
	t.Parallel()
	enc, err := NewKeyset(Encryption)
	require.NoError(t, err)
	js, err := enc.JSON()
	require.NoError(t, err)
	bidx, err := NewKeyset(BlindIndex)
	require.NoError(t, err)
	bidxJS, err := bidx.JSON()
	require.NoError(t, err)
	dir := t.TempDir()

	r, err := Load(Source{EncryptionKeyset: string(js), BlindIndexKeyset: base64.StdEncoding.EncodeToString(bidxJS),
		DataDir: dir, Production: true}, nil)
	require.NoError(t, err)
	require.Equal(t, enc.PrimaryID(), r.Keyset(Encryption).PrimaryID())
	require.Equal(t, bidx.PrimaryID(), r.Keyset(BlindIndex).PrimaryID())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no development file when the variables are set")

	_, err = Load(Source{BlindIndexKeyset: string(bidxJS), DataDir: dir, Production: true}, nil)
	require.ErrorContains(t, err, "GROUNDWORK_ENCRYPTION_KEYSET: required in production")
	_, err = Load(Source{EncryptionKeyset: string(js), DataDir: dir, Production: true}, nil)
	require.ErrorContains(t, err, "GROUNDWORK_BLIND_INDEX_KEYSET: required in production")
	_, err = Load(Source{EncryptionKeyset: "{nope", BlindIndexKeyset: string(bidxJS), DataDir: dir}, nil)
	require.ErrorContains(t, err, "GROUNDWORK_ENCRYPTION_KEYSET: not a valid Tink JSON keyset")
	_, err = Load(Source{EncryptionKeyset: string(bidxJS), BlindIndexKeyset: string(bidxJS), DataDir: dir}, nil)
	require.ErrorContains(t, err, "GROUNDWORK_ENCRYPTION_KEYSET: key")
}

func TestParseKind(t *testing.T) {
	t.Parallel()
	for _, k := range []Kind{Encryption, BlindIndex} {
		got, err := ParseKind(k.String())
		require.NoError(t, err)
		require.Equal(t, k, got)
	}
	_, err := ParseKind("mac")
	require.ErrorContains(t, err, `unknown keyset "mac"`)
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
