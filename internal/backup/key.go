package backup

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/streamingaead"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// KeysetVariable holds the backup keyset in production.
const KeysetVariable = "GROUNDWORK_BACKUP_KEYSET"

// KeysetFile is the development backup keyset, under the data dir.
const KeysetFile = "backup-keyset.json"

// Key encrypts and decrypts backups: a Tink streaming AEAD keyset
// (AES256_GCM_HKDF_1MB), separate from the field-encryption keysets and
// from the database, so that a stolen backup is useless without it and a
// lost database does not take the key with it.
type Key struct {
	aead  tink.StreamingAEAD
	keyID uint32
}

// NewKeysetJSON returns a fresh backup keyset in Tink's cleartext JSON.
func NewKeysetJSON() ([]byte, error) {
	h, err := keyset.NewHandle(streamingaead.AES256GCMHKDF1MBKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("generate backup keyset: %w", err)
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return nil, fmt.Errorf("generate backup keyset: %w", err)
	}
	return buf.Bytes(), nil
}

// RotateKeysetJSON returns the backup keyset text (Tink JSON or base64 of
// it) with a new key added as primary: new backups use the new key, older
// ones still decrypt with the keys kept beside it. Drop an old key only once
// every backup made with it has been pruned.
func RotateKeysetJSON(text string) ([]byte, error) {
	h, err := readKeyset(text)
	if err != nil {
		return nil, err
	}
	m := keyset.NewManagerFromHandle(h)
	id, err := m.Add(streamingaead.AES256GCMHKDF1MBKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("add a backup key: %w", err)
	}
	if err := m.SetPrimary(id); err != nil {
		return nil, fmt.Errorf("make the new backup key primary: %w", err)
	}
	nh, err := m.Handle()
	if err != nil {
		return nil, fmt.Errorf("rotate backup keyset: %w", err)
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(nh, keyset.NewJSONWriter(&buf)); err != nil {
		return nil, fmt.Errorf("rotate backup keyset: %w", err)
	}
	return buf.Bytes(), nil
}

// readKeyset parses Tink cleartext JSON, or base64 of it, without echoing it.
func readKeyset(text string) (*keyset.Handle, error) {
	text = strings.TrimSpace(text)
	js := []byte(text)
	if !strings.HasPrefix(text, "{") {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			return nil, errors.New("neither a Tink JSON keyset nor base64 of one")
		}
		js = b
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(js)))
	if err != nil {
		return nil, errors.New("not a valid Tink JSON keyset")
	}
	return h, nil
}

// ParseKey reads a backup keyset: Tink cleartext JSON or base64 of it.
// Errors never echo the text.
func ParseKey(text string) (*Key, error) {
	h, err := readKeyset(text)
	if err != nil {
		return nil, err
	}
	a, err := streamingaead.New(h)
	if err != nil {
		return nil, errors.New("not a streaming AEAD keyset (generate one with \"groundwork backup keyset\")")
	}
	return &Key{aead: a, keyID: h.KeysetInfo().GetPrimaryKeyId()}, nil
}

// LoadKey returns the backup key: value (GROUNDWORK_BACKUP_KEYSET) when set;
// otherwise, outside production, $dataDir/backup-keyset.json, generated
// (mode 0600) on first use with a warning.
func LoadKey(value, dataDir string, production bool, logger *slog.Logger) (*Key, error) {
	if value != "" {
		k, err := ParseKey(value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", KeysetVariable, err)
		}
		return k, nil
	}
	if production {
		return nil, fmt.Errorf("%s: required in production; generate one with \"groundwork backup keyset\" and keep it in your secret store, apart from the backups", KeysetVariable)
	}
	path := filepath.Join(dataDir, KeysetFile)
	b, err := os.ReadFile(path)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		if b, err = NewKeysetJSON(); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: create development keyset: %w", KeysetVariable, err)
		}
		f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case errors.Is(ferr, fs.ErrExist): // another process won the race
			b, err = os.ReadFile(path)
		case ferr != nil:
			return nil, fmt.Errorf("%s: create development keyset: %w", KeysetVariable, ferr)
		default:
			_, err = f.Write(b)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			created = true
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: development keyset %s: %w", KeysetVariable, path, err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("development backup keyset %s (used while %s is unset): %w", path, KeysetVariable, err)
	}
	if logger != nil {
		msg := "using the development backup keyset file; set the variable in production"
		if created {
			msg = "generated a development backup keyset file; set the variable in production"
		}
		logger.Warn(msg, "variable", KeysetVariable, "path", path)
	}
	return k, nil
}
