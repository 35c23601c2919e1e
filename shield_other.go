//go:build !linux

package main

// shieldProcess: core limits and dumpability are set only on Linux so far
// (macOS has no system mode; Windows has no core files of this kind).
func shieldProcess(bool) error { return nil }
