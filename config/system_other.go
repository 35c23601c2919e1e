//go:build !unix

package config

import (
	"errors"
	"io/fs"
)

// rootOwnedDir: system mode exists only on Linux; elsewhere its directory
// is never trusted.
func rootOwnedDir(fs.FileInfo) error {
	return errors.New("system mode is not supported on this platform")
}
