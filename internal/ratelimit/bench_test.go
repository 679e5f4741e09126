package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/redistest"
)

// BenchmarkAllow measures rate-limit decisions per second on each backend,
// from parallel goroutines over 1,000 keys (as many requests from many
// callers would, 8 goroutines per core), with a limit high enough that most are allowed.
func BenchmarkAllow(b *testing.B) {
	policies := Policies{APIKey: {Count: 1_000_000, Period: time.Second}}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	run := func(b *testing.B, l *Limiter) {
		var next atomic.Uint64
		ctx := context.Background()
		b.ReportAllocs()
		b.SetParallelism(8) // 8 goroutines per core: requests wait on Redis concurrently
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Allow(ctx, APIKey, keys[next.Add(1)%uint64(len(keys))]); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
	}
	b.Run("memory", func(b *testing.B) {
		run(b, New(NewMemory(DefaultMaxKeys, gw.SystemClock{}), policies, nil))
	})
	b.Run("redis", func(b *testing.B) {
		l, err := Open(redistest.Start(b).URL(), policies, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		run(b, l)
	})
}
