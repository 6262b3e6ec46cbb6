//go:build !linux

package main

import "os"

// terminalWidth reports whether f is a terminal and its width; elsewhere
// than on Linux it never draws progress.
func terminalWidth(f *os.File) (int, bool) { return 0, false }
