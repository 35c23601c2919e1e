// Command keychain-auth is a per-user daemon that lets each program touch
// only the secrets its policy names, and the CLI that scripts and admins use
// to talk to it. main builds the command tree and turns errors into the
// fixed exit codes of the product contract; the commands live in cmd_*.go.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at release time with -ldflags "-X main.version=...";
// otherwise cmd_version.go fills it in from the build information.
var version = "dev"

// Exit codes, fixed by the product contract; never renumber them.
const (
	exitOK           = 0
	exitError        = 1
	exitUsage        = 2
	exitDenied       = 3
	exitNotFound     = 4
	exitUnregistered = 5
	exitNotRunning   = 6
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	unknown := ""
	app.CommandNotFound = func(_ *cli.Context, name string) { unknown = name }
	err := app.Run(reorderArgs(app, args))
	if unknown != "" && err == nil {
		err = usageError("unknown command %q", unknown).hint("run `keychain-auth --help` for the list")
	}
	return report(stderr, err)
}

// cliError is an error with an exit code and optional hints for the user.
type cliError struct {
	code  int
	msg   string
	hints []string
}

func (e *cliError) Error() string { return e.msg }

func fail(code int, format string, a ...any) *cliError {
	return &cliError{code: code, msg: fmt.Sprintf(format, a...)}
}

func (e *cliError) hint(format string, a ...any) *cliError {
	e.hints = append(e.hints, fmt.Sprintf(format, a...))
	return e
}

func usageError(format string, a ...any) *cliError {
	return fail(exitUsage, format, a...)
}

// report prints err as the contract says and returns its exit code.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	code, msg, hints := exitError, err.Error(), []string(nil)
	var ce *cliError
	if errors.As(err, &ce) {
		code, msg, hints = ce.code, ce.msg, ce.hints
	}
	if msg != "" {
		fmt.Fprintf(stderr, "keychain-auth: error: %s\n", msg)
	}
	for _, h := range hints {
		fmt.Fprintf(stderr, "keychain-auth: hint: %s\n", h)
	}
	return code
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "keychain-auth",
		Usage: "let each program touch only the secrets its policy names",
		Description: "A command's flags may come before the command, after it or after its arguments:\n" +
			"keychain-auth --socket PATH status, keychain-auth grant PATH --read SERVICE.\n" +
			"`keychain-auth help COMMAND` shows one command's flags.",
		Version:   version,
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		// urfave/cli's own help command exits 3 on an unknown topic; the
		// contract's usage code is 2, so cmd_help.go provides `help`. The
		// library then leaves out --help, so it is listed here.
		HideHelpCommand: true,
		Flags:           []cli.Flag{cli.HelpFlag},
		// Run must return errors, not exit: report maps them to exit codes.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Commands:       commands(),
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = onUsageError
		scopePolicyCommand(cmd)
	}
	return app
}

// onUsageError keeps flag errors off stdout, which a script may be capturing.
func onUsageError(_ *cli.Context, err error, _ bool) error {
	return usageError("%v", err)
}

func commands() []*cli.Command {
	return []*cli.Command{
		serveCommand(),
		getCommand(), putCommand(), deleteCommand(), lsCommand(),
		registerCommand(), upgradeCommand(), approveCommand(), listPendingCommand(),
		grantCommand(), revokeCommand(), unregisterCommand(), authorizeCommand(),
		policyCommand(), checkCommand(), statusCommand(), auditCommand(), versionCommand(),
		lockCommand(), unlockCommand(), passwdCommand(), migrateCommand(), doctorCommand(),
		installCommand(), uninstallCommand(),
		runCommand(), completionCommand(), helpCommand(),
	}
}
