//go:build !linux

package main

import "io"

// relinquish does nothing: live capture needs Linux, and OpenLive has
// failed before it is called.
func relinquish(name string) (string, error) { return "", nil }

// isTerminal reports false: there is no status line on this system.
func isTerminal(w io.Writer) bool { return false }
