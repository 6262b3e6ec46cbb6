//go:build !linux

package main

import (
	"io"
	"os"
)

// terminalWidth reports whether f is a terminal and its width; elsewhere
// than on Linux it says no, so nothing draws progress, colour or status.
func terminalWidth(f *os.File) (int, bool) { return 0, false }

// isTerminal reports false: see terminalWidth.
func isTerminal(w io.Writer) bool { return false }
