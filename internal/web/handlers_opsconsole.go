package web

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/doctor"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/observe"
	"github.com/groundwork-dev/groundwork/internal/ops"
)

// jobsUIPrefix is where the River UI is mounted, behind operator access.
const jobsUIPrefix = "/ops/jobs"

// chart is an inline SVG line chart: polyline points in a viewBox of
// chartW × chartH, its largest value and its axis labels.
type chart struct {
	Title        string
	Line, Errors string // "x,y x,y ..." of the series and of the errors (requests charts)
	Max          string // the top of the y axis, labelled
	From, To     string // the x axis' ends
	Empty        bool
}

const chartW, chartH = 600.0, 120.0

// newChart draws values (one per slot) scaled to the largest of them and
// of errs.
func newChart(title string, pts []observe.Point, value func(observe.Point) float64, errs func(observe.Point) float64, unit string) chart {
	c := chart{Title: title, Empty: true}
	if len(pts) == 0 {
		return c
	}
	top := 0.0
	for _, p := range pts {
		top = max(top, value(p))
	}
	if top > 0 {
		c.Empty = false
	}
	if top == 0 {
		top = 1
	}
	line := func(f func(observe.Point) float64) string {
		var b strings.Builder
		step := chartW / float64(max(len(pts)-1, 1))
		for i, p := range pts {
			y := chartH - f(p)/top*(chartH-4)
			fmt.Fprintf(&b, "%.1f,%.1f ", float64(i)*step, y)
		}
		return strings.TrimSpace(b.String())
	}
	c.Line = line(value)
	if errs != nil {
		c.Errors = line(errs)
	}
	c.Max = fmt.Sprintf("%g %s", top, unit)
	c.From, c.To = pts[0].Time.Format("15:04:05"), pts[len(pts)-1].Time.Format("15:04:05 UTC")
	return c
}

// opsPage is the data of ops.html.
type opsPage struct {
	Window   string
	Windows  []observe.Window
	Recorded bool // Deps.Requests is set
	Summary  observe.Summary
	Requests chart
	Latency  chart
	Slowest  []observe.RequestSample
	Errors   []observe.RequestSample
	Host     string

	DB         ops.Snapshot
	LastBackup *time.Time
	BackupErr  string
	Version    VersionInfo
	JobsUI     bool
}

func (opsPage) template() string { return "ops.html" }

func (s *server) pageOps() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		win := observe.Windows[0]
		for _, x := range observe.Windows {
			if x.Name == r.URL.Query().Get("window") {
				win = x
			}
		}
		p := opsPage{Window: win.Name, Windows: observe.Windows, Recorded: s.d.Requests != nil,
			Version: s.d.Version, JobsUI: s.d.JobsUI != nil}
		p.Host, _ = os.Hostname()
		if s.d.Requests != nil {
			p.Summary = s.d.Requests.Summary(win)
			slot := p.Summary.Points
			per := "per second"
			if len(slot) > 1 {
				per = "per " + slot[1].Time.Sub(slot[0].Time).String()
			}
			p.Requests = newChart("Requests "+per+" (5xx in red)", slot,
				func(x observe.Point) float64 { return float64(x.Requests) },
				func(x observe.Point) float64 { return float64(x.Errors) }, "req")
			p.Latency = newChart("p95 latency "+per, slot, func(x observe.Point) float64 { return x.P95 }, nil, "ms")
			p.Slowest = s.d.Requests.Slowest(15, win.Span)
			p.Errors = s.d.Requests.Errors()
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if s.d.OpsSnapshot != nil {
			p.DB = s.d.OpsSnapshot(ctx)
		}
		if s.d.LastBackup != nil {
			var err error
			if p.LastBackup, err = s.d.LastBackup(ctx); err != nil {
				p.BackupErr = err.Error()
			}
		}
		s.render(w, r, http.StatusOK, page{Title: "Operations", Data: p})
		return nil
	})
}

// pageReadiness serves "groundwork doctor"'s report: HTML, or JSON when the
// client asks for it (Accept: application/json or ?format=json).
func (s *server) pageReadiness() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if s.d.Readiness == nil {
			return fmt.Errorf("readiness: no report configured")
		}
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		rep := s.d.Readiness(ctx)
		if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusOK, rep)
			return nil
		}
		s.render(w, r, http.StatusOK, page{Title: "Readiness", Data: readinessPage{rep}})
		return nil
	})
}

// handleJobsUI serves the River UI (Deps.JobsUI) under /ops/jobs/, or 404
// when there is none. The UI sets style attributes from its scripts, which
// the app's CSP forbids; under this prefix only, inline styles are allowed
// (scripts still load from the app's origin only).
func (s *server) handleJobsUI() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if s.d.JobsUI == nil {
			return gw.Errorf(gw.ENOTFOUND, "The job queue UI is not mounted in this process.")
		}
		w.Header().Set("Content-Security-Policy", strings.Replace(contentSecurityPolicy(s.d.FormActionOrigins),
			"style-src 'self'", "style-src 'self' 'unsafe-inline'", 1))
		s.d.JobsUI.ServeHTTP(w, r)
		return nil
	})
}

// doctorStatusClass is the CSS class of a check's status (templates).
func doctorStatusClass(st doctor.Status) string { return "st-" + string(st) }

// readinessPage is the data of readiness.html: "groundwork doctor"'s report.
type readinessPage struct {
	doctor.Report
}

func (readinessPage) template() string { return "readiness.html" }
