package loadtest

import (
	_ "embed"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"time"
)

//go:embed report.html.tmpl
var reportTemplate string

// reportView is the data of the HTML report.
type reportView struct {
	S             Summary
	LatencyChart  template.HTML
	RateChart     template.HTML
	Ops           []string
	MixTotal      int
	Duration      string
	BreakingIndex int
}

// WriteHTML writes the report of s to path: the verdict, charts of the
// latency percentiles and of throughput and errors against the arrival
// rate, the steps, the mix and the environment. It is one file with inline
// SVG, no script and no external resource.
func (s Summary) WriteHTML(path string) error {
	t, err := template.New("report").Funcs(template.FuncMap{
		"pct":  func(f float64) string { return fmt.Sprintf("%.1f %%", f*100) },
		"f1":   func(f float64) string { return fmt.Sprintf("%.1f", f) },
		"f2":   func(f float64) string { return fmt.Sprintf("%.2f", f) },
		"time": func(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") },
		"share": func(w, total int) string {
			return fmt.Sprintf("%.0f %%", float64(w)/float64(max(total, 1))*100)
		},
	}).Parse(reportTemplate)
	if err != nil {
		return err
	}
	v := reportView{S: s, Duration: s.FinishedAt.Sub(s.StartedAt).Round(time.Second).String(), BreakingIndex: -1}
	for _, op := range s.Mix {
		v.MixTotal += op.Weight
		v.Ops = append(v.Ops, op.Name)
	}
	if s.BreakPointReached {
		v.BreakingIndex = len(s.Steps) - 1
	}
	var xs, p50, p95, p99, thr, errs []float64
	for _, st := range s.Steps {
		xs = append(xs, st.Rate)
		p50, p95, p99 = append(p50, st.P50Ms), append(p95, st.P95Ms), append(p99, st.P99Ms)
		thr = append(thr, st.Throughput)
		errs = append(errs, st.ErrorPct)
	}
	marks := []mark{{label: fmt.Sprintf("SLO p95 %g ms", s.P95SLOMs), at: s.P95SLOMs, color: "#c0392b"}}
	if s.BreakPointRPS > 0 {
		marks = append(marks, mark{label: fmt.Sprintf("break point %g req/s", s.BreakPointRPS), at: s.BreakPointRPS, vertical: true, color: "#8e44ad"})
	}
	v.LatencyChart = template.HTML(lineChart("Latency against arrival rate", "arrival rate (req/s)", "latency (ms)", xs,
		[]series{{"p50", "#27ae60", p50, false}, {"p95", "#e67e22", p95, false}, {"p99", "#2c3e50", p99, false}}, marks))
	ideal := slices.Clone(xs)
	rmarks := []mark{}
	if s.BreakPointRPS > 0 {
		rmarks = append(rmarks, mark{label: "break point", at: s.BreakPointRPS, vertical: true, color: "#8e44ad"})
	}
	v.RateChart = template.HTML(lineChart("Answered against asked", "arrival rate (req/s)", "req/s answered as expected", xs,
		[]series{{"asked", "#95a5a6", ideal, true}, {"answered", "#2980b9", thr, false}}, rmarks))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if err := t.Execute(f, v); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
