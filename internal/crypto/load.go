package crypto

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Source says where the keysets come from.
type Source struct {
	// EncryptionKeyset and BlindIndexKeyset are the values of
	// GROUNDWORK_ENCRYPTION_KEYSET and GROUNDWORK_BLIND_INDEX_KEYSET: Tink
	// cleartext JSON keysets, or base64 of them; "" when unset.
	EncryptionKeyset, BlindIndexKeyset string
	// DataDir is where development keysets are kept.
	DataDir string
	// Production refuses to start without the variables instead of using
	// development keysets.
	Production bool
}

// FromEnv reports whether keysets of kind k come from the environment
// rather than from a development file.
func (s Source) FromEnv(k Kind) bool { return s.value(k) != "" }

// DevPath is where the development keyset of kind k is kept.
func (s Source) DevPath(k Kind) string { return filepath.Join(s.DataDir, k.File()) }

func (s Source) value(k Kind) string {
	if k == BlindIndex {
		return s.BlindIndexKeyset
	}
	return s.EncryptionKeyset
}

// Load returns the Keyring of src. A keyset given in its variable must
// parse (errors name the variable). In production both variables are
// required. In development an unset variable means the keyset kept in the
// data directory ($GROUNDWORK_DATA_DIR/keyset.json and
// blind-index-keyset.json, mode 0600), generated on first use; Load logs a
// warning that says so.
func Load(src Source, logger *slog.Logger) (*Keyring, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var sets [2]*Keyset
	for i, k := range []Kind{Encryption, BlindIndex} {
		ks, err := src.Keyset(k, logger)
		if err != nil {
			return nil, err
		}
		sets[i] = ks
	}
	return NewKeyring(sets[0], sets[1])
}

// Keyset returns src's keyset of kind k, as Load does.
func (s Source) Keyset(k Kind, logger *slog.Logger) (*Keyset, error) {
	if v := s.value(k); v != "" {
		return ParseKeyset(k, v)
	}
	if s.Production {
		return nil, fmt.Errorf("%s: required in production; generate one with \"groundwork keys new -keyset %s\" and keep it in your secret store", k.Variable(), k)
	}
	path := s.DevPath(k)
	ks, created, err := loadOrCreate(k, path)
	if err != nil {
		return nil, err
	}
	if logger != nil {
		msg := "using the development keyset file; set the variable in production"
		if created {
			msg = "generated a development keyset file; set the variable in production"
		}
		logger.Warn(msg, "variable", k.Variable(), "path", path)
	}
	return ks, nil
}

// loadOrCreate reads the development keyset at path, or creates it with a
// fresh key when it does not exist. Two processes starting at once agree on
// one keyset: the file is created by hard-linking a complete temp file,
// which fails if another process got there first.
func loadOrCreate(k Kind, path string) (ks *Keyset, created bool, err error) {
	if ks, err := ReadKeysetFile(k, path); !errors.Is(err, fs.ErrNotExist) {
		return ks, false, err
	}
	ks, err = NewKeyset(k)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, false, fmt.Errorf("%s: create development keyset: %w", k.Variable(), err)
	}
	tmp, err := writeTemp(ks, path)
	if err != nil {
		return nil, false, fmt.Errorf("%s: create development keyset: %w", k.Variable(), err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			ks, err := ReadKeysetFile(k, path)
			return ks, false, err
		}
		return nil, false, fmt.Errorf("%s: create development keyset: %w", k.Variable(), err)
	}
	return ks, true, nil
}

// ReadKeysetFile reads a keyset of kind k from a JSON file. A missing file
// is an error matching fs.ErrNotExist.
func ReadKeysetFile(k Kind, path string) (*Keyset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s keyset: %w", k, err)
	}
	ks, err := parseKeyset(k, string(b))
	if err != nil {
		return nil, fmt.Errorf("development %s keyset %s (used while %s is unset): %w", k, path, k.Variable(), err)
	}
	return ks, nil
}

// WriteKeysetFile replaces the keyset file at path with ks, atomically and
// with mode 0600.
func WriteKeysetFile(ks *Keyset, path string) error {
	tmp, err := writeTemp(ks, path)
	if err != nil {
		return fmt.Errorf("write %s keyset: %w", ks.kind, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s keyset: %w", ks.kind, err)
	}
	return nil
}

// writeTemp writes ks to a new 0600 file beside path and returns its name.
func writeTemp(ks *Keyset, path string) (string, error) {
	b, err := ks.JSON()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	// CreateTemp makes the file 0600, readable by this user only.
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
