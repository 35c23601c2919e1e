package main

import (
	"fmt"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

func init() {
	version = resolveVersion(version, debug.ReadBuildInfo)
	// `--version` prints the same line as `version` (urfave/cli's default
	// printer says "keychain-auth version X").
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintln(c.App.Writer, versionLine()) }
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version (a release's version, or the module version and commit of a source build)",
		Action: func(c *cli.Context) error {
			fmt.Fprintln(c.App.Writer, versionLine())
			return nil
		},
	}
}

// versionLine is the one line that `version` and `--version` print.
func versionLine() string { return "keychain-auth " + version }

// resolveVersion returns the version this binary reports, here and to
// `status`. A release build sets it with -ldflags "-X main.version=1.2.3"
// and that is the answer. A source build (go build, go install) has only
// what the toolchain recorded: the module version (v1.2.3 for `go install
// ...@v1.2.3`, a pseudo-version or "(devel)" in a checkout) and, when the
// build saw the repository, the commit and whether the tree was modified.
func resolveVersion(stamped string, buildInfo func() (*debug.BuildInfo, bool)) string {
	if stamped != "" && stamped != "dev" {
		return stamped
	}
	info, ok := buildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return v
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		return fmt.Sprintf("%s (commit %s, modified)", v, rev)
	}
	return fmt.Sprintf("%s (commit %s)", v, rev)
}
