//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/redistest"
)

// TestE2EScaleOut runs Groundwork as it scales out: three serve processes
// and one worker behind HAProxy, PgBouncer in transaction pooling in front
// of PostgreSQL, Redis for the shared rate limits; and proves sessions,
// rate limits and CSRF across instances, tenant isolation through the
// pooler, River through the pooler, migrations over the owner's direct
// connection, the refusal of a configuration that cannot work, an instance
// killed mid-load, and the load test's break point with 1, 2 and 3
// instances. deploy/scaleout.sh runs it; GROUNDWORK_SCALEOUT_OUT keeps the
// load test reports there.
func TestE2EScaleOut(t *testing.T) {
	haproxy := lookBin(t, "haproxy", "/usr/sbin/haproxy")
	pgbouncer := lookBin(t, "pgbouncer", "/usr/sbin/pgbouncer")
	ctx := context.Background()
	dir := dataDir(t)
	bin := filepath.Join(dir, "groundwork")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	// PostgreSQL (a throwaway cluster) and Redis.
	local, err := postgres.StartLocal(ctx, postgres.LocalOptions{DataDir: filepath.Join(dir, "db"), Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { local.Close(context.Background()) })
	redis := redistest.Start(t)
	direct, owner := local.RuntimeURL(), local.OwnerURL()

	// PgBouncer, transaction pooling, as the runtime role.
	rc, err := pgx.ParseConfig(direct)
	require.NoError(t, err)
	bouncerPort := freeTCPPort(t)
	bdir := filepath.Join(dir, "pgbouncer")
	require.NoError(t, os.MkdirAll(bdir, 0o755))
	ini := fmt.Sprintf(`[databases]
%s = host=%s port=%d dbname=%s user=%s password=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 40
logfile = %s/pgbouncer.log
pidfile = %s/pgbouncer.pid
`, rc.Database, rc.Host, rc.Port, rc.Database, rc.User, rc.Password, bouncerPort, bdir, bdir)
	require.NoError(t, os.WriteFile(filepath.Join(bdir, "pgbouncer.ini"), []byte(ini), 0o644))
	args := []string{filepath.Join(bdir, "pgbouncer.ini")}
	if os.Geteuid() == 0 { // PgBouncer refuses to run as root
		u, err := user.Lookup("postgres") // the user the cluster runs as (postgres.clusterUser)
		if err != nil {
			u, err = user.Lookup("groundwork")
		}
		require.NoError(t, err, "PgBouncer needs an unprivileged user under root")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(bdir, uid, gid))
		args = append([]string{"-u", u.Username}, args...)
	}
	startProc(t, dir, "pgbouncer", pgbouncer, args, nil)
	pooled := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", url.QueryEscape(rc.User), url.QueryEscape(rc.Password), bouncerPort, rc.Database)
	waitTCP(t, bouncerPort)

	shared := filepath.Join(dir, "shared") // keysets and export files, shared by every instance
	require.NoError(t, os.MkdirAll(shared, 0o755))
	env := map[string]string{
		"GROUNDWORK_DATA_DIR": shared, "HOST": "127.0.0.1", "PATH": os.Getenv("PATH"),
		"DATABASE_URL": pooled, "DATABASE_POOLER": "transaction", "DATABASE_DIRECT_URL": direct, "DATABASE_OWNER_URL": owner,
		"REDIS_URL": redis.URL(), "GROUNDWORK_TRUSTED_PROXIES": "127.0.0.1/32", "GROUNDWORK_LOG_LEVEL": "warn",
		// The API limits are off so that the load test measures capacity:
		// api-auth-ip takes an event for every API request and gives it
		// back when the key was good, so more than its burst (60) requests
		// in flight from one IP — everything behind HAProxy here — are
		// refused (the first run of this test found it).
		"GROUNDWORK_RATE_API_KEY": "off", "GROUNDWORK_RATE_SEARCH": "off", "GROUNDWORK_RATE_SEARCH_ORG": "off",
		"GROUNDWORK_RATE_API_AUTH_IP": "off",
	}
	// The admin commands and the load test's preparation go straight to PostgreSQL.
	adminEnv := map[string]string{"GROUNDWORK_DATA_DIR": shared, "PATH": os.Getenv("PATH"), "DATABASE_URL": direct, "DATABASE_OWNER_URL": owner}

	// Migrations run over the owner's direct connection.
	out, err := runBin(bin, env, "", "migrate", "up")
	require.NoError(t, err, out)

	// A configuration that cannot work is refused, clearly.
	bad := copyEnv(env)
	bad["DATABASE_OWNER_URL"] = strings.Replace(pooled, url.QueryEscape(rc.User), "owner", 1)
	out, err = runBin(bin, bad, "", "serve")
	require.Error(t, err)
	require.Contains(t, out, "DATABASE_OWNER_URL: with DATABASE_POOLER=transaction it must reach PostgreSQL directly")
	bad = copyEnv(env)
	bad["DATABASE_URL"] = pooled + "&default_query_exec_mode=cache_statement"
	out, err = runBin(bin, bad, "", "serve")
	require.Error(t, err)
	require.Contains(t, out, "cannot work behind a transaction pooler")

	// Three serve instances without workers, and one worker, all through the pooler.
	var instances []*instance
	for i := range 3 {
		instances = append(instances, startInstance(t, dir, bin, env, i+1))
	}
	startProc(t, dir, "worker", bin, []string{"worker"}, env)

	// HAProxy: fe1 has instance 1, fe2 instances 1–2, fe3 all three.
	fe := [3]int{freeTCPPort(t), freeTCPPort(t), freeTCPPort(t)}
	var cfg strings.Builder
	cfg.WriteString("global\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n" +
		"  retries 2\n  option redispatch 1\n  option forwardfor\n  option httpchk GET /readyz\n  default-server inter 300ms fall 2 rise 2 check\n")
	for n := 1; n <= 3; n++ {
		fmt.Fprintf(&cfg, "frontend fe%d\n  bind 127.0.0.1:%d\n  default_backend be%d\nbackend be%d\n  balance roundrobin\n", n, fe[n-1], n, n)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&cfg, "  server s%d 127.0.0.1:%d\n", i+1, instances[i].port)
		}
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg.String()), 0o644))
	startProc(t, dir, "haproxy", haproxy, []string{"-db", "-f", cfgPath}, nil)
	lb := fmt.Sprintf("http://127.0.0.1:%d", fe[2])
	waitReady(t, lb)
	require.Eventually(t, func() bool { return allServed(lb, 6) }, 20*time.Second, 200*time.Millisecond, "HAProxy sees every instance up")

	t.Run("sessions, CSRF and rate limits hold across instances", func(t *testing.T) {
		email, password := "bouncer@example.com", "correct horse battery staple"
		out, err := runBin(bin, adminEnv, password+"\n", "user", "create", "-email", email)
		require.NoError(t, err, out)
		before := routeCounts(t, instances, `GET /account"`)
		c := browser()
		resp := post(t, c, lb+"/login", url.Values{"email": {email}, "password": {password}}, "same-origin")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "log in")
		for range 6 {
			resp := getWith(t, c, lb+"/account")
			require.Equal(t, http.StatusOK, resp.StatusCode, "the session is known to every instance")
		}
		after := routeCounts(t, instances, `GET /account"`)
		for i := range instances {
			require.Greater(t, after[i], before[i], "instance %d served the signed-in pages", i+1)
		}
		// CSRF: a cross-site form post is refused by every instance; the
		// same form from the same origin goes through.
		for range 3 {
			resp := post(t, c, lb+"/orgs", url.Values{"name": {"Evil"}}, "cross-site")
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
		}
		resp = post(t, c, lb+"/orgs", url.Values{"name": {"Bounced"}}, "same-origin")
		require.Less(t, resp.StatusCode, 400)

		// Rate limits: wrong passwords for one account from one client
		// are counted in Redis, across instances: the limit
		// (login-account-ip, 10/h) holds whichever instance answers.
		first429 := 0
		for i := 1; i <= 15 && first429 == 0; i++ {
			resp := post(t, browser(), lb+"/login", url.Values{"email": {"victim@example.com"}, "password": {"wrong password " + strconv.Itoa(i)}}, "same-origin")
			if resp.StatusCode == http.StatusTooManyRequests {
				first429 = i
			}
		}
		require.Equal(t, 11, first429, "the 11th failure overall is refused, though each instance saw only a third of them")
	})

	// Three organisations, each with an admin API key and its own contacts.
	type tenant struct {
		tag, key string
		ids      []string
	}
	var tenants []*tenant
	for i := range 3 {
		tg := &tenant{tag: fmt.Sprintf("Tenant%d", i+1)}
		email := strings.ToLower(tg.tag) + "@example.com"
		out, err := runBin(bin, adminEnv, "a long enough password\n", "user", "create", "-email", email)
		require.NoError(t, err, out)
		out, err = runBin(bin, adminEnv, "", "org", "create", "-name", tg.tag, "-owner", email)
		require.NoError(t, err, out)
		orgID := strings.TrimSpace(out)
		out, err = runBin(bin, adminEnv, "", "apikey", "create", "-org", orgID, "-name", "e2e", "-role", "admin")
		require.NoError(t, err, out)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		tg.key = strings.TrimSpace(lines[len(lines)-1])
		for n := range 20 {
			var c struct{ ID string }
			code := apiJSON(t, http.MethodPost, lb+"/api/v1/contacts", tg.key, fmt.Sprintf(`{"name":"%s contact %d"}`, tg.tag, n), &c)
			require.Equal(t, http.StatusCreated, code)
			tg.ids = append(tg.ids, c.ID)
		}
		tenants = append(tenants, tg)
	}

	t.Run("tenant isolation through the pooler", func(t *testing.T) {
		var requests, foreign, failed atomic.Int64
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tg := tenants[w%3]
				for n := range 60 {
					var list struct {
						Data []struct{ Name string } `json:"data"`
					}
					var one struct{ Name string }
					var code int
					switch n % 3 {
					case 0:
						code = apiJSON(t, http.MethodGet, lb+"/api/v1/contacts?limit=50", tg.key, "", &list)
					case 1:
						code = apiJSON(t, http.MethodGet, lb+"/api/v1/contacts?q=contact", tg.key, "", &list)
					default:
						code = apiJSON(t, http.MethodGet, lb+"/api/v1/contacts/"+tg.ids[n%len(tg.ids)], tg.key, "", &one)
						list.Data = append(list.Data, struct{ Name string }{one.Name})
					}
					requests.Add(1)
					if code != http.StatusOK {
						failed.Add(1)
						continue
					}
					for _, c := range list.Data {
						if !strings.HasPrefix(c.Name, tg.tag+" ") {
							foreign.Add(1)
						}
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("tenant isolation: %d requests of 3 organisations through 3 instances and the pooler: %d foreign rows, %d failed", requests.Load(), foreign.Load(), failed.Load())
		require.Zero(t, foreign.Load(), "no response carries another organisation's row")
		require.Zero(t, failed.Load())
	})

	t.Run("River works through the pooler", func(t *testing.T) {
		var e struct{ ID, Status string }
		code := apiJSON(t, http.MethodPost, lb+"/api/v1/exports", tenants[0].key, `{"tables":["contacts"],"format":"csv"}`, &e)
		require.Equal(t, http.StatusAccepted, code)
		require.Eventually(t, func() bool {
			var got struct{ Status string }
			apiJSON(t, http.MethodGet, lb+"/api/v1/exports/"+e.ID, tenants[0].key, "", &got)
			return got.Status == "succeeded"
		}, 60*time.Second, 250*time.Millisecond, "the worker (poll-only River, through the pooler) ran the export")
	})

	t.Run("load test with 1, 2 and 3 instances", func(t *testing.T) {
		outDir := os.Getenv("GROUNDWORK_SCALEOUT_OUT")
		if outDir == "" {
			outDir = filepath.Join(dir, "loadtest")
		}
		var lines []string
		for n := 1; n <= 3; n++ {
			var metrics []string
			for i := 0; i < n; i++ {
				metrics = append(metrics, "-metrics-url", fmt.Sprintf("http://127.0.0.1:%d/metrics", instances[i].port))
			}
			sub := filepath.Join(outDir, fmt.Sprintf("%d-instances", n))
			ltEnv := copyEnv(adminEnv)
			ltEnv["GROUNDWORK_LOADTEST_SUMMARY"] = filepath.Join(sub, "summary.json")
			args := append([]string{"loadtest", "-base-url", fmt.Sprintf("http://127.0.0.1:%d", fe[n-1]), "-out", sub,
				"-start", "20", "-step", "20", "-max", "600", "-step-duration", "4s", "-max-duration", "2m", "-seed", "50"}, metrics...)
			out, err := runBin(bin, ltEnv, "", args...)
			require.NoError(t, err, out)
			b, err := os.ReadFile(filepath.Join(sub, "summary.json"))
			require.NoError(t, err)
			var s struct {
				BreakPoint float64 `json:"break_point_rps"`
				Reached    bool    `json:"break_point_reached"`
				Limiter    string  `json:"limiter"`
				Why        string  `json:"broke_because"`
			}
			require.NoError(t, json.Unmarshal(b, &s))
			lines = append(lines, fmt.Sprintf("%d instance(s): break point %g req/s (reached %v: %s), limited by %s", n, s.BreakPoint, s.Reached, s.Why, s.Limiter))
		}
		t.Logf("load test through HAProxy and PgBouncer:\n%s", strings.Join(lines, "\n"))
		require.NoError(t, os.WriteFile(filepath.Join(outDir, "scaleout.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	})

	t.Run("killing an instance mid-load fails only its in-flight requests", func(t *testing.T) {
		tg := tenants[1]
		var inFlight, maxInFlightAtKill, failures, total, failuresAfter atomic.Int64
		killed := make(chan struct{})
		var killedAt atomic.Int64
		deadline := time.Now().Add(6 * time.Second)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; time.Now().Before(deadline); n++ {
					inFlight.Add(1)
					var c struct{ Name string }
					code := apiJSON(t, http.MethodGet, lb+"/api/v1/contacts/"+tg.ids[(w+n)%len(tg.ids)], tg.key, "", &c)
					inFlight.Add(-1)
					total.Add(1)
					if code != http.StatusOK {
						failures.Add(1)
						if at := killedAt.Load(); at > 0 && time.Now().UnixNano() > at+int64(2*time.Second) {
							failuresAfter.Add(1)
						}
					}
				}
			}()
		}
		time.Sleep(2 * time.Second)
		maxInFlightAtKill.Store(inFlight.Load())
		require.NoError(t, instances[1].cmd.Process.Signal(syscall.SIGKILL))
		killedAt.Store(time.Now().UnixNano())
		close(killed)
		wg.Wait()
		t.Logf("killed instance 2 mid-load: %d of %d requests failed; %d were in flight across all instances at the kill", failures.Load(), total.Load(), maxInFlightAtKill.Load())
		require.LessOrEqual(t, failures.Load(), max(maxInFlightAtKill.Load(), 1)+1, "only requests in flight on the killed instance fail (HAProxy retries refused connections elsewhere)")
		require.Zero(t, failuresAfter.Load(), "once HAProxy's health check has it down, nothing fails")
	})
}

// instance is one serve process.
type instance struct {
	port int
	cmd  *exec.Cmd
}

func startInstance(t *testing.T, dir, bin string, env map[string]string, n int) *instance {
	e := copyEnv(env)
	port := freeTCPPort(t)
	e["PORT"] = strconv.Itoa(port)
	cmd := startProc(t, dir, fmt.Sprintf("serve%d", n), bin, []string{"serve", "-workers=false"}, e)
	waitReady(t, fmt.Sprintf("http://127.0.0.1:%d", port))
	return &instance{port: port, cmd: cmd}
}

// startProc starts a process logging to dir/name.log and kills it at the end.
func startProc(t *testing.T, dir, name, bin string, args []string, env map[string]string) *exec.Cmd {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, name+".log"))
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if env != nil {
		cmd.Env = envList(env)
	}
	require.NoError(t, cmd.Start(), name)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%s", name, tail(string(b), 3000))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func runBin(bin string, env map[string]string, stdin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = envList(env)
	cmd.Stdin = strings.NewReader(stdin)
	done := make(chan struct{})
	if len(args) > 0 && args[0] == "serve" { // a refused serve exits at once; one that starts is stopped
		go func() {
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
			}
		}()
	}
	out, err := cmd.CombinedOutput()
	close(done)
	return string(out), err
}

func envList(m map[string]string) []string {
	var l []string
	for k, v := range m {
		l = append(l, k+"="+v)
	}
	return l
}

func copyEnv(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func lookBin(t *testing.T, name, fallback string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	t.Fatalf("%s is not installed (scripts/install-deps.sh installs it)", name)
	return ""
}

func freeTCPPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitTCP(t *testing.T, port int) {
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 20*time.Second, 50*time.Millisecond)
}

// allServed reports whether n requests through the balancer all succeed.
func allServed(lb string, n int) bool {
	for range n {
		resp, err := http.Get(lb + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
	}
	return true
}

// browser is a client with a cookie jar that does not follow redirects.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// post sends a form as a browser does, with its Sec-Fetch-Site.
func post(t *testing.T, c *http.Client, u string, form url.Values, site string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", site)
	if site == "cross-site" {
		req.Header.Set("Origin", "https://evil.example")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func getWith(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

var apiClient = &http.Client{Timeout: 15 * time.Second}

// apiJSON calls the API with key and decodes a 2xx body into out; it
// returns the status, 0 when the request failed.
func apiJSON(t *testing.T, method, u, key, body string, out any) int {
	req, err := http.NewRequest(method, u, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 && out != nil {
		json.Unmarshal(b, out)
	}
	return resp.StatusCode
}

// routeCounts reads, from each instance's metrics, the requests of the
// route whose label ends in suffix.
func routeCounts(t *testing.T, instances []*instance, suffix string) []float64 {
	t.Helper()
	re := regexp.MustCompile(`groundwork_http_request_duration_seconds_count\{[^}]*route="[^"]*` + regexp.QuoteMeta(suffix) + `[^}]*\} (\S+)`)
	var counts []float64
	for _, in := range instances {
		_, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", in.port))
		total := 0.0
		for _, m := range re.FindAllStringSubmatch(body, -1) {
			v, _ := strconv.ParseFloat(m[1], 64)
			total += v
		}
		counts = append(counts, total)
	}
	return counts
}
