// Package gwtest holds test helpers every package may use: a hand-moved
// gw.Clock, RequireCode for kernel errors, and RequireTool for the outside
// tools a test needs (a failure under CI, a skip otherwise). It imports only
// the standard library and the kernel.
package gwtest
