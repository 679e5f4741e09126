package loadtest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Loopback reports whether rawURL's host is this machine: localhost or a
// loopback address.
func Loopback(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckTarget refuses a load test that could hurt real users: a base URL
// off this machine, or a target whose /version says it runs in production,
// unless allowProduction says the operator means it. It also checks the
// URL is http(s) with a host.
func CheckTarget(rawURL, targetEnv string, allowProduction bool) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-base-url %q is not an http(s) URL", rawURL)
	}
	if allowProduction {
		return nil
	}
	if targetEnv == "production" {
		return errors.New("the target runs with GROUNDWORK_ENV=production: a load test takes it to its break point, which its users would feel; pass -allow-production to do it anyway")
	}
	if !Loopback(rawURL) {
		return fmt.Errorf("%s is not on this machine: load-testing a shared deployment can hurt its users; pass -allow-production if it is a staging deployment you may load", u.Host)
	}
	return nil
}

// HostCPU reads this machine's CPU time counters from /proc/stat: busy and
// total jiffies over every CPU.
func HostCPU() (busy, total float64, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, errors.New("/proc/stat is empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, errors.New("/proc/stat: unexpected first line")
	}
	var idle float64
	for i, s := range fields[1:] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i >= 8 { // guest times are already counted in user and nice
			break
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return total - idle, total, nil
}

// LoadAvg reads this machine's load averages; zeros where unknown.
func LoadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, s := range strings.Fields(string(b)) {
		if i >= 3 {
			break
		}
		l[i], _ = strconv.ParseFloat(s, 64)
	}
	return l
}
