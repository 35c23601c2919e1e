package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

// checkInterpreter denies a script that runs otherwise than its entry pins:
// under another interpreter, a changed hash-pinned interpreter, or other
// options. An entry without Interpreter (an executable, or a script
// registered before the field existed) pins nothing. The hint names only
// what the caller ran with and what its own entry says.
func checkInterpreter(e *config.Entry, id *auth.Identity) (Decision, bool) {
	in := e.Interpreter
	if in == nil || id.Script == nil {
		return Decision{}, false
	}
	switch {
	case id.Exe.Path != in.Path:
		d := deny(e, transport.ReasonInterpreterMismatch)
		d.Hint = fmt.Sprintf("%s is registered to run under %s, as its #! line said; it ran under %s. Run it as registered (by its path, or `%s %s`), or after changing its #! line: keychain-auth upgrade %s",
			e.Path, in.Path, id.Exe.Path, runLine(in), shellQuote(e.Path), shellQuote(e.Path))
		return d, true
	case in.Hash != "" && id.Exe.Hash != in.Hash:
		d := deny(e, transport.ReasonInterpreterMismatch)
		d.Hint = fmt.Sprintf("%s is registered to run under %s with the content it had then (the file can be replaced without root); it changed since. If the change is yours: keychain-auth upgrade %s",
			e.Path, in.Path, shellQuote(e.Path))
		return d, true
	case !slices.Equal(id.ScriptOptions, in.Options): // nil and empty are equal
		d := deny(e, transport.ReasonInterpreterOptionsMismatch)
		d.Hint = fmt.Sprintf("%s is registered to run as `%s %s`; it ran with %s. Run it by its path, or with exactly those options",
			e.Path, runLine(in), shellQuote(e.Path), describeOptions(id.ScriptOptions))
		return d, true
	}
	return Decision{}, false
}

// runLine is the interpreter and its pinned options as a command prefix.
func runLine(in *config.Interpreter) string {
	words := []string{shellQuote(in.Path)}
	for _, o := range in.Options {
		words = append(words, shellQuote(o))
	}
	return strings.Join(words, " ")
}

func describeOptions(opts []string) string {
	if len(opts) == 0 {
		return "no options"
	}
	q := make([]string, len(opts))
	for i, o := range opts {
		q[i] = shellQuote(o)
	}
	return "options " + strings.Join(q, " ")
}
