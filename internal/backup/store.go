package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// buckets
	_ "gocloud.dev/blob/s3blob"   // s3:// buckets
	"gocloud.dev/gcerrors"
)

// OpenBucket opens the blob store at url: file:///abs/dir (created when
// missing, temporary files beside the objects: create_dir and no_tmp_dir
// are added) or s3://bucket?region=...
func OpenBucket(ctx context.Context, url string) (*blob.Bucket, error) {
	if strings.HasPrefix(url, "file://") {
		// create_dir: the directory is made on first use. no_tmp_dir: an
		// object is written to a temporary file beside it, not in
		// os.TempDir, and renamed into place; a rename from /tmp into a
		// directory on another filesystem (a container's volume, a mounted
		// disk) fails with "invalid cross-device link".
		for _, opt := range []string{"create_dir=true", "no_tmp_dir=true"} {
			name, _, _ := strings.Cut(opt, "=")
			if strings.Contains(url, name+"=") {
				continue
			}
			sep := "?"
			if strings.Contains(url, "?") {
				sep = "&"
			}
			url += sep + opt
		}
	}
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open backup store: %w", err)
	}
	return b, nil
}

// Entry is one backup in the store.
type Entry struct {
	ID string
	// Manifest is nil for an incomplete backup: one whose manifest was
	// never written (interrupted, or still running).
	Manifest *Manifest
	// Bytes is the size of the stored objects.
	Bytes int64
}

// Complete reports whether the backup finished (has a manifest).
func (e Entry) Complete() bool { return e.Manifest != nil }

// List returns every backup in the store, oldest first, incomplete ones
// included (Entry.Complete tells them apart).
func (s *Service) List(ctx context.Context) ([]Entry, error) {
	byID := map[string]*Entry{}
	it := s.bucket.List(&blob.ListOptions{Prefix: "backups/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list backups: %w", err)
		}
		id, name, ok := strings.Cut(strings.TrimPrefix(obj.Key, "backups/"), "/")
		if !ok || id == "" {
			continue
		}
		e := byID[id]
		if e == nil {
			e = &Entry{ID: id}
			byID[id] = e
		}
		e.Bytes += obj.Size
		if name == "manifest.json" {
			m, err := s.Manifest(ctx, id)
			if err != nil {
				return nil, err
			}
			e.Manifest = m
		}
	}
	out := make([]Entry, 0, len(byID))
	for _, e := range byID {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Latest returns the newest complete backup, or ErrNotFound.
func (s *Service) Latest(ctx context.Context) (*Manifest, error) {
	entries, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Complete() {
			return entries[i].Manifest, nil
		}
	}
	return nil, fmt.Errorf("no complete backup: %w", ErrNotFound)
}

// Manifest reads the manifest of backup id; ErrNotFound when the backup
// does not exist or is incomplete.
func (s *Service) Manifest(ctx context.Context, id string) (*Manifest, error) {
	if strings.ContainsAny(id, "/\\") || id == "" || id == "." || id == ".." {
		return nil, fmt.Errorf("backup %q: %w", id, ErrNotFound)
	}
	b, err := s.bucket.ReadAll(ctx, manifestKey(id))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("backup %s (no manifest: missing or incomplete): %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest of %s: %w", id, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("manifest of %s names backup %q", id, m.ID)
	}
	return &m, nil
}

// Delete removes every object of backup id.
func (s *Service) Delete(ctx context.Context, id string) error {
	// The manifest goes first: a half-deleted backup is incomplete, never
	// a "good" backup without its dump.
	for _, key := range []string{manifestKey(id), dumpKey(id)} {
		if err := s.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return fmt.Errorf("delete %s: %w", key, err)
		}
	}
	return nil
}
