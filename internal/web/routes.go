package web

import "net/http"

// addRoutes registers every route of the application on mux and returns
// their patterns, in registration order. It is the one place that lists
// routes; Routes and the middleware's route labels derive from it.
func addRoutes(mux *http.ServeMux, d Deps) []string {
	var patterns []string
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, h)
		patterns = append(patterns, pattern)
	}

	// Operations.
	handle("GET /healthz", handleHealthz())
	handle("GET /readyz", handleReadyz(d.Ready))
	handle("GET /version", handleVersion(d.Version, d.SchemaVersion))
	handle("GET /metrics", handleMetrics(d.Gatherer, d.Logger))

	return patterns
}

// Routes returns the pattern of every route NewServer(d) serves, e.g.
// "GET /readyz", in registration order. Handlers are built but not called,
// so a zero Deps will do.
func Routes(d Deps) []string {
	return addRoutes(http.NewServeMux(), d.withDefaults())
}
