//go:build !linux

package main

// kernelFeatures: the probes are Linux's; elsewhere doctor says so.
func kernelFeatures() kernelReport { return kernelReport{} }
