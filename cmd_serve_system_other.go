//go:build !linux

package main

import (
	"context"

	"github.com/keychain-auth/keychain-auth/config"
)

func superviseAsService(context.Context, config.SystemLayout, config.ServiceAccount) error {
	return fail(exitError, "system mode is available on Linux only")
}

func checkServiceCaps() error {
	return fail(exitError, "system mode is available on Linux only")
}

func ownedByUs(string) error { return fail(exitError, "system mode is available on Linux only") }
