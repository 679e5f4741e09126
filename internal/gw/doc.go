// Package gw is the shared kernel of Groundwork: error codes, IDs, context
// accessors and the clock. It depends on the standard library and google/uuid only.
package gw
