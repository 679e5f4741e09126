package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// This file holds what the cluster needs from the host: the PostgreSQL
// binaries, the unprivileged user that runs them under root, and the place
// the cluster lives.

// serverBinaries are the programs the embedded cluster runs.
var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

// FindBinaries returns the directory holding initdb, pg_ctl and postgres:
// the one on PATH first, then the newest /usr/lib/postgresql/*/bin.
func FindBinaries() (dir string, err error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && hasBinaries(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if hasBinaries(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	if dirs := debianBinDirs(); len(dirs) > 0 {
		return dirs[0], nil
	}
	return "", errors.New(`PostgreSQL server binaries not found (initdb, pg_ctl, postgres on PATH or in /usr/lib/postgresql/*/bin): install them with "apt-get install postgresql"`)
}

// binariesFor returns the binaries to run the cluster in pgdata with: those
// of the major version that initialised it when they are installed, else
// FindBinaries.
func binariesFor(pgdata string) (string, error) {
	if b, err := os.ReadFile(filepath.Join(pgdata, "PG_VERSION")); err == nil {
		dir := filepath.Join(debianLibDir, strings.TrimSpace(string(b)), "bin")
		if hasBinaries(dir) {
			return dir, nil
		}
	}
	return FindBinaries()
}

// debianLibDir holds Debian's PostgreSQL installations, one directory per major
// version. Tests point it elsewhere.
var debianLibDir = "/usr/lib/postgresql"

// debianBinDirs lists /usr/lib/postgresql/*/bin holding the server binaries,
// newest major version first.
func debianBinDirs() []string {
	entries, _ := os.ReadDir(debianLibDir)
	type versioned struct {
		v   float64
		dir string
	}
	var found []versioned
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64)
		dir := filepath.Join(debianLibDir, e.Name(), "bin")
		if err == nil && hasBinaries(dir) {
			found = append(found, versioned{v, dir})
		}
	}
	slices.SortFunc(found, func(a, b versioned) int { return -cmpFloat(a.v, b.v) })
	dirs := make([]string, len(found))
	for i, f := range found {
		dirs[i] = f.dir
	}
	return dirs
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func hasBinaries(dir string) bool {
	for _, name := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// osUser is the unprivileged system user that runs the cluster when
// Groundwork runs as root (PostgreSQL refuses to run as root).
type osUser struct {
	name     string
	uid, gid int
	groups   []int
}

// clusterUser returns nil when not root. As root it returns the "postgres"
// user when it exists, else the "groundwork" system user, creating it.
func clusterUser(ctx context.Context, logger *slog.Logger) (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if u, err := lookupUser("postgres"); err == nil {
		return u, nil
	}
	if u, err := lookupUser("groundwork"); err == nil {
		return u, nil
	}
	logger.Info("creating system user groundwork to run PostgreSQL (it refuses to run as root)")
	out, err := exec.CommandContext(ctx, "useradd", "--system", "--no-create-home",
		"--shell", "/usr/sbin/nologin", "groundwork").CombinedOutput()
	if u, lerr := lookupUser("groundwork"); lerr == nil {
		return u, nil // created, perhaps by a concurrent process
	}
	if err == nil {
		err = errors.New("user not found after useradd")
	}
	return nil, fmt.Errorf(`create system user groundwork to run PostgreSQL (it refuses to run as root): %s; create a user named "postgres" or "groundwork"`, lastLine(string(out), err))
}

func lookupUser(name string) (*osUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %s is root", name)
	}
	ou := &osUser{name: name, uid: uid, gid: gid, groups: []int{gid}}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.Atoi(id); err == nil && !slices.Contains(ou.groups, g) {
				ou.groups = append(ou.groups, g)
			}
		}
	}
	return ou, nil
}

// canTraverse reports whether u may search (execute) directory fi, going by
// its mode bits.
func (u *osUser) canTraverse(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := fi.Mode().Perm()
	switch {
	case int(st.Uid) == u.uid:
		return mode&0o100 != 0
	case slices.Contains(u.groups, int(st.Gid)):
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

// chown gives path to u; a no-op when not root.
func (u *osUser) chown(path string) error {
	if u == nil {
		return nil
	}
	if err := os.Lchown(path, u.uid, u.gid); err != nil {
		return fmt.Errorf("give %s to user %s: %w", path, u.name, pathErr(err))
	}
	return nil
}

// chownAll gives the tree under root to u; a no-op when not root.
func (u *osUser) chownAll(root string) error {
	if u == nil {
		return nil
	}
	return filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return u.chown(path)
	})
}

// clusterLayout says where the cluster lives.
type clusterLayout struct {
	pgdata   string // the PostgreSQL data directory; also holds the unix socket
	logPath  string // the server log
	fallback bool   // true when the data dir was unreachable and a fallback place is used
}

// fallbackBase is where clusters go when, as root, the cluster's user cannot
// reach the data dir. Tests point it elsewhere.
var fallbackBase = "/var/lib/groundwork/clusters"

// maxSocketPath is the longest unix socket path Linux accepts (sun_path is
// 108 bytes with the terminating NUL).
const maxSocketPath = 107

// chooseLayout puts the cluster in dataDir/postgres, unless it runs as u and u
// cannot traverse a parent of dataDir: then it goes to a place under
// fallbackBase derived from dataDir, the same one every time. A cluster
// already in that fallback place stays there once the data dir becomes
// reachable, rather than a new, empty one being made in the data dir.
func chooseLayout(dataDir string, u *osUser, logger *slog.Logger) (clusterLayout, error) {
	l := clusterLayout{
		pgdata:  filepath.Join(dataDir, "postgres"),
		logPath: filepath.Join(dataDir, "postgres.log"),
	}
	if u == nil {
		return l, checkSocketPath(dataDir, l.pgdata)
	}
	dir := fallbackDir(dataDir, l.pgdata)
	fallback := clusterLayout{pgdata: filepath.Join(dir, "postgres"), logPath: filepath.Join(dir, "postgres.log"), fallback: true}
	blocked := unreachableDir(dataDir, u)
	if blocked == "" {
		if !fileExists(filepath.Join(l.pgdata, "PG_VERSION")) && fileExists(filepath.Join(fallback.pgdata, "PG_VERSION")) {
			logger.Warn("the data dir is reachable now, but the cluster was made in a fallback place: it stays there",
				"data_dir", dataDir, "pgdata", fallback.pgdata)
			return fallback, checkSocketPath(dataDir, fallback.pgdata)
		}
		return l, checkSocketPath(dataDir, l.pgdata)
	}
	logger.Warn("PostgreSQL user cannot reach the data dir; the cluster lives in a fallback place",
		"data_dir", dataDir, "pgdata", fallback.pgdata, "user", u.name,
		"reason", fmt.Sprintf("%s is not searchable by user %s", blocked, u.name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return l, fmt.Errorf("create fallback cluster dir %s: %w", dir, pathErr(err))
	}
	if also := unreachableDir(dir, u); also != "" {
		return l, fmt.Errorf("data dir %s: user %s cannot reach it (%s is not searchable), nor the fallback %s (%s is not searchable)",
			dataDir, u.name, blocked, dir, also)
	}
	return fallback, checkSocketPath(dataDir, fallback.pgdata)
}

// fallbackDir is the place under fallbackBase for the cluster of dataDir,
// whose usual data directory is pgdata.
func fallbackDir(dataDir, pgdata string) string {
	sum := sha256.Sum256([]byte(pgdata))
	name := filepath.Base(dataDir)
	if len(name) > 32 {
		name = name[:32]
	}
	if name == "/" || name == "." {
		name = "data"
	}
	return filepath.Join(fallbackBase, name+"-"+hex.EncodeToString(sum[:])[:12])
}

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkSocketPath makes sure the unix socket in pgdata fits in sun_path.
func checkSocketPath(dataDir, pgdata string) error {
	const socketName = "/.s.PGSQL.65535"
	if n := len(pgdata) + len(socketName); n > maxSocketPath {
		return fmt.Errorf("data dir %s: path too long for PostgreSQL's unix socket (%s%s is %d bytes, at most %d); choose a shorter GROUNDWORK_DATA_DIR",
			dataDir, pgdata, socketName, n, maxSocketPath)
	}
	return nil
}

// unreachableDir returns the first directory from / down to dir (dir
// included) that u cannot traverse, or "" when u can reach dir.
func unreachableDir(dir string, u *osUser) string {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	path := "/"
	for _, part := range append([]string{""}, strings.Split(strings.Trim(dir, "/"), "/")...) {
		path = filepath.Join(path, part)
		fi, err := os.Stat(path)
		if err != nil {
			return "" // created later by us, with 0755
		}
		if !u.canTraverse(fi) {
			return path
		}
	}
	return ""
}

// lastLine returns the last meaningful line of a command's output, or err's
// text when there is none.
func lastLine(out string, err error) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(lines[i]); s != "" {
			return s
		}
	}
	if err != nil {
		return err.Error()
	}
	return "no output"
}
