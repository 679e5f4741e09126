// Package gwtest holds test helpers for the kernel's interfaces.
package gwtest
