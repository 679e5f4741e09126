package main

import (
	"log/slog"
	"runtime/debug"
)

// Garbage collection of a serving process, unless GOGC or GOMEMLIMIT (Go's
// own variables) say otherwise. A serve process's live heap is small (tens
// of MB) and its garbage is per-request, so Go's default GOGC of 100 runs a
// collection every few MB of allocation: 165 in the 10,000 lists of 50 of a
// run of BenchmarkContactsAPI. On a busy two-core machine each one's
// stop-the-world phases waited tens of milliseconds for a core, and that
// was the tail of the reads' latency (issue 14). Twice the heap growth
// between collections runs about a third as many; the soft memory limit
// keeps a burst (say, password hashes, about 19 MiB each) from tripling
// the heap on the way: near the limit Go collects earlier again.
const (
	serveGCPercent   = 200
	serveMemoryLimit = 256 << 20
)

// tuneGC applies serveGCPercent and serveMemoryLimit where getenv leaves
// GOGC and GOMEMLIMIT unset, and logs at DEBUG what it set.
func tuneGC(getenv func(string) string, logger *slog.Logger) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
		logger.Debug("garbage collection", "gogc", serveGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
		logger.Debug("garbage collection", "memory_limit_bytes", serveMemoryLimit)
	}
}
