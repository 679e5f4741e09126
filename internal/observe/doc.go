// Package observe holds Groundwork's observability plumbing: the structured
// logger (which tags every line logged within a request with its request ID)
// and the Prometheus metrics the HTTP layer records.
package observe
