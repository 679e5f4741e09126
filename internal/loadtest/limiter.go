package loadtest

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Signal is one thing that may have limited a step, with the evidence.
type Signal struct {
	// Name is short: "CPU", "database pool", "lock waits", "job backlog",
	// "rate limits", "load generator".
	Name string `json:"name"`
	// Detail gives the figures.
	Detail string `json:"detail"`
	// Score orders the signals: at 1 or above the resource was saturated.
	Score float64 `json:"score"`
}

// Diagnose lists what limited step s, most likely first, from its usage and
// its responses. hostCPUs is this machine's CPU count (0 when the target
// is elsewhere). Without usage it can only see rate limits and the
// generator.
func Diagnose(s StepResult, hostCPUs int) []Signal {
	var sig []Signal
	if s.RateLimited > 0 {
		by := ""
		if len(s.LimitedBy) > 0 {
			var parts []string
			for _, p := range slices.Sorted(maps.Keys(s.LimitedBy)) {
				parts = append(parts, fmt.Sprintf("%s ×%d", p, s.LimitedBy[p]))
			}
			by = " (" + strings.Join(parts, ", ") + ")"
		}
		sig = append(sig, Signal{Name: "rate limits", Score: 10 + float64(s.RateLimited)/float64(max(s.Requests, 1)),
			Detail: fmt.Sprintf("%d of %d requests answered 429%s: run the target with those limits off (GROUNDWORK_RATE_<POLICY>=off) to measure capacity",
				s.RateLimited, s.Requests, by)})
	}
	if s.Requests > 0 && s.Sent > 0 && s.Sent < 0.9*s.Rate {
		sig = append(sig, Signal{Name: "load generator", Score: 1 - s.Sent/s.Rate + 0.5,
			Detail: fmt.Sprintf("sent %.0f of %.0f req/s asked: its workers were all waiting on answers, or it lacked CPU", s.Sent, s.Rate)})
	}
	u := s.Usage
	if u == nil {
		return sortSignals(sig)
	}
	if u.HostCPUBusy >= 0 {
		sig = append(sig, Signal{Name: "CPU", Score: u.HostCPUBusy / 0.85,
			Detail: fmt.Sprintf("this machine's %d CPUs were %.0f %% busy, by everything on it: the target's processes used %.2f cores, the rest is PostgreSQL, the load generator and whatever else runs here",
				hostCPUs, u.HostCPUBusy*100, u.CPUCores)})
	} else if u.CPUCores > 0 {
		sig = append(sig, Signal{Name: "CPU", Score: 0,
			Detail: fmt.Sprintf("the target's processes used %.2f cores (its machine's size is unknown from here)", u.CPUCores)})
	}
	if u.PoolAcquires > 0 {
		share := u.PoolWaits / u.PoolAcquires
		score := share / 0.2
		if u.PoolMax > 0 && u.PoolBusyMax >= u.PoolMax {
			score = max(score, 1)
		}
		sig = append(sig, Signal{Name: "database pool", Score: score,
			Detail: fmt.Sprintf("%.0f %% of %.0f acquires waited for a connection (%.1f ms on average); at most %.0f of %.0f connections in use",
				share*100, u.PoolAcquires, u.PoolWaitMs, u.PoolBusyMax, u.PoolMax)})
	}
	if u.LockWaitsMax > 0 {
		sig = append(sig, Signal{Name: "lock waits", Score: u.LockWaitsMax / max(u.ActiveMax, 1) / 0.25,
			Detail: fmt.Sprintf("up to %.0f database sessions waited on a lock (of %.0f running a statement)", u.LockWaitsMax, u.ActiveMax)})
	}
	if grew := u.JobsAvailableEnd - u.JobsAvailableStart; grew > 0 {
		sig = append(sig, Signal{Name: "job backlog", Score: grew / max(u.JobsAvailableStart+10, 10),
			Detail: fmt.Sprintf("River's waiting jobs grew from %.0f to %.0f", u.JobsAvailableStart, u.JobsAvailableEnd)})
	}
	return sortSignals(sig)
}

func sortSignals(sig []Signal) []Signal {
	sort.SliceStable(sig, func(i, j int) bool { return sig[i].Score > sig[j].Score })
	return sig
}

// Limiter names the most likely limit of an outcome in a few words, or
// says nothing stood out.
func (o Outcome) Limiter() string {
	if len(o.Limiters) == 0 || o.Limiters[0].Score < 0.7 {
		return "nothing saturated (latency grew without an exhausted resource in the target's metrics)"
	}
	return o.Limiters[0].Name
}
