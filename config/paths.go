package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// File names inside the configuration directory.
const (
	// ConfigFile is the policy file.
	ConfigFile = "config.json"
	// PendingFile is the queue of programs waiting for approval.
	PendingFile = "pending.json"
	// lockSuffix names the lock file that sits beside a locked file.
	lockSuffix = ".lock"
)

// Environment variables that override the default directories.
const (
	EnvConfigDir = "KEYCHAIN_AUTH_CONFIG_DIR"
	EnvDataDir   = "KEYCHAIN_AUTH_DATA_DIR"
)

// appName is the directory name under the per-OS base directories.
const appName = "keychain-auth"

// Dir returns the configuration directory (config.json, pending.json):
// $KEYCHAIN_AUTH_CONFIG_DIR, else $XDG_CONFIG_HOME/keychain-auth or
// ~/.config/keychain-auth on Linux and macOS, %APPDATA%\keychain-auth on
// Windows. It does not create the directory; see EnsureDir.
func Dir() (string, error) {
	return configDir(runtime.GOOS, os.Getenv, os.UserHomeDir)
}

// DataDir returns the data directory (vault, audit.log):
// $KEYCHAIN_AUTH_DATA_DIR, else $XDG_DATA_HOME/keychain-auth or
// ~/.local/share/keychain-auth on Linux, ~/Library/Application
// Support/keychain-auth on macOS, %LOCALAPPDATA%\keychain-auth on Windows.
func DataDir() (string, error) {
	return dataDir(runtime.GOOS, os.Getenv, os.UserHomeDir)
}

// configDir is Dir with the environment passed in, so every OS's rule is
// testable on any OS.
func configDir(goos string, getenv func(string) string, home func() (string, error)) (string, error) {
	if d := getenv(EnvConfigDir); d != "" {
		return absDir(EnvConfigDir, d)
	}
	if goos == "windows" {
		return underEnv(getenv, "APPDATA")
	}
	if d := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, appName), nil
	}
	return underHome(home, ".config", appName)
}

func dataDir(goos string, getenv func(string) string, home func() (string, error)) (string, error) {
	if d := getenv(EnvDataDir); d != "" {
		return absDir(EnvDataDir, d)
	}
	switch goos {
	case "windows":
		return underEnv(getenv, "LOCALAPPDATA")
	case "darwin", "ios":
		return underHome(home, "Library", "Application Support", appName)
	}
	if d := getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, appName), nil
	}
	return underHome(home, ".local", "share", appName)
}

// absDir accepts an override only when it is absolute: a relative directory
// would move with the working directory of whichever process resolves it,
// so the daemon and the CLI could read different policy files.
func absDir(name, d string) (string, error) {
	if !filepath.IsAbs(d) {
		return "", fmt.Errorf("%s must be an absolute path, got %q", name, d)
	}
	return filepath.Clean(d), nil
}

func underEnv(getenv func(string) string, name string) (string, error) {
	base := getenv(name)
	if base == "" {
		return "", fmt.Errorf("%%%s%% is not set", name)
	}
	return filepath.Join(base, appName), nil
}

func underHome(home func() (string, error), elem ...string) (string, error) {
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("find home directory: %w", err)
	}
	if h == "" {
		return "", errors.New("find home directory: empty")
	}
	return filepath.Join(append([]string{h}, elem...)...), nil
}

// EnsureDir creates path and its parents with mode 0700 and, on systems
// with Unix permissions, narrows an existing directory that is group- or
// world-accessible to 0700 (it belongs to the user either way, and the
// files in it are the user's policy and secrets).
func EnsureDir(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("create directory: %s is not a directory", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o700); err != nil {
			return fmt.Errorf("restrict directory: %w", err)
		}
	}
	return nil
}
