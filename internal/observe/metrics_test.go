package observe

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// family returns the gathered metric family called name, or nil.
func family(t *testing.T, g prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

func TestHTTPMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewHTTPMetrics(reg)

	m.RequestStarted()
	m.RequestStarted()
	inFlight := family(t, reg, "groundwork_http_requests_in_flight")
	require.NotNil(t, inFlight)
	require.Equal(t, 2.0, inFlight.GetMetric()[0].GetGauge().GetValue())

	m.RequestFinished("GET /readyz", "GET", 200, 30*time.Millisecond)
	m.RequestFinished("", "BREW", 404, time.Millisecond)
	require.Equal(t, 0.0, family(t, reg, "groundwork_http_requests_in_flight").GetMetric()[0].GetGauge().GetValue())

	dur := family(t, reg, "groundwork_http_request_duration_seconds")
	require.NotNil(t, dur)
	require.Equal(t, dto.MetricType_HISTOGRAM, dur.GetType())
	got := map[string]*dto.Histogram{}
	for _, metric := range dur.GetMetric() {
		l := labels(metric)
		got[l["route"]+"|"+l["method"]+"|"+l["status_class"]] = metric.GetHistogram()
	}
	require.Len(t, got, 2)
	require.Contains(t, got, "GET /readyz|GET|2xx")
	require.Contains(t, got, "unmatched|OTHER|4xx")
	require.Equal(t, uint64(1), got["GET /readyz|GET|2xx"].GetSampleCount())
	require.InDelta(t, 0.03, got["GET /readyz|GET|2xx"].GetSampleSum(), 1e-9)
}

func TestHTTPMetrics_Nil(t *testing.T) {
	t.Parallel()
	var m *HTTPMetrics
	require.NotPanics(t, func() {
		m.RequestStarted()
		m.RequestFinished("GET /healthz", "GET", 200, time.Millisecond)
	})
}

func TestNewHTTPMetrics_DuplicateRegistrationPanics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	NewHTTPMetrics(reg)
	require.Panics(t, func() { NewHTTPMetrics(reg) })
}

func TestStatusClass(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{
		101: "1xx", 200: "2xx", 204: "2xx", 301: "3xx", 404: "4xx", 499: "4xx",
		500: "5xx", 503: "5xx", 0: "other", 99: "other", 600: "other",
	} {
		require.Equal(t, want, StatusClass(status), "status %d", status)
	}
}

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	require.NotNil(t, family(t, reg, "go_goroutines"))
	require.NotNil(t, family(t, reg, "process_cpu_seconds_total"))
	// The application's own metrics register alongside.
	NewHTTPMetrics(reg)
}
