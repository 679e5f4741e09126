package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Replica starts a streaming read replica of the test binary's shared
// cluster (pg_basebackup -R, a hot standby on a port of its own), holding
// every test database that existed when it started and following the
// ones written since; it is stopped and removed in t.Cleanup. Create the
// test's database (New) first.
func Replica(t testing.TB) *postgres.LocalReplica {
	t.Helper()
	local := Cluster(t)
	shared.mu.Lock()
	base := shared.dir
	shared.mu.Unlock()
	// Under the cluster's own temp dir: its user can traverse it.
	dir := filepath.Join(base, "replica-"+strconv.FormatInt(shared.next.Add(1), 10))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := local.StartReplica(ctx, dir)
	if err != nil {
		t.Fatalf("pgtest: start replica: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Stop(context.Background()); err != nil {
			t.Errorf("pgtest: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	return r
}
