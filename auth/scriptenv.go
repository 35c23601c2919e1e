package auth

import (
	"strings"
)

// Reasons for refusing a script identity (Identity.ScriptRefused). They
// are policy answers: the connection stays open.
const (
	// ReasonUnsafeInterpreterOption: the interpreter runs the script with
	// an option that prints the commands it runs or reads (a shell's -x,
	// -v, -o xtrace, -o verbose), so a value the script handles ends up on
	// stderr.
	ReasonUnsafeInterpreterOption = "unsafe_interpreter_option"
	// ReasonUnsafeShellVariable: the script runs with a variable that makes
	// a shell it is, or starts, print or run code the script does not hold:
	// SHELLOPTS or BASHOPTS naming xtrace, verbose or another option not
	// known to be harmless, PS4, or an exported function (BASH_FUNC_*).
	ReasonUnsafeShellVariable = "unsafe_shell_variable"
)

// safeShellOpts are the `set -o` options that, imported from SHELLOPTS,
// neither print nor run anything. Any other (xtrace, verbose, functrace,
// keyword, onecmd, ...) or an unknown name is unsafe.
var safeShellOpts = map[string]bool{
	"allexport": true, "braceexpand": true, "emacs": true, "errexit": true,
	"errtrace": true, "hashall": true, "histexpand": true, "history": true,
	"ignoreeof": true, "interactive-comments": true, "monitor": true,
	"noclobber": true, "noglob": true, "nolog": true, "notify": true,
	"nounset": true, "physical": true, "pipefail": true, "posix": true, "vi": true,
}

// safeBashOpts are the `shopt` options that, imported from BASHOPTS, change
// no more than globbing, history or messages. extdebug (debugger hooks),
// cdable_vars (cd to a directory a variable names) and unknown names are
// unsafe.
var safeBashOpts = map[string]bool{
	"autocd": true, "cdspell": true, "checkhash": true, "checkjobs": true,
	"checkwinsize": true, "cmdhist": true, "complete_fullquote": true,
	"direxpand": true, "dirspell": true, "dotglob": true, "execfail": true,
	"expand_aliases": true, "extglob": true, "extquote": true, "failglob": true,
	"force_fignore": true, "globasciiranges": true, "globskipdots": true,
	"globstar": true, "gnu_errfmt": true, "histappend": true, "histreedit": true,
	"histverify": true, "hostcomplete": true, "huponexit": true,
	"inherit_errexit": true, "interactive_comments": true, "lastpipe": true,
	"lithist": true, "localvar_inherit": true, "localvar_unset": true,
	"login_shell": true, "mailwarn": true, "no_empty_cmd_completion": true,
	"nocaseglob": true, "nocasematch": true, "noexpand_translation": true,
	"nullglob": true, "patsub_replacement": true, "progcomp": true,
	"progcomp_alias": true, "promptvars": true, "shift_verbose": true,
	"sourcepath": true, "varredir_close": true, "xpg_echo": true,
}

// unsafeShellVar reports whether the environment entry name=value makes a
// shell print or run code that is not the script's. Such variables are
// refused for every script, whatever its interpreter: bash imports them,
// and a python, node or perl script starts /bin/sh, which is bash on many
// systems.
func unsafeShellVar(name, value string) bool {
	switch {
	case strings.HasPrefix(name, "BASH_FUNC_"):
		return true // an exported function replaces a command the script runs
	case name == "PS4":
		return value != "" // expanded, command substitutions included, before each traced command
	case name == "SHELLOPTS":
		return !allListed(value, safeShellOpts)
	case name == "BASHOPTS":
		return !allListed(value, safeBashOpts)
	}
	return false
}

// allListed reports whether every name of the colon-separated list is in
// safe (an empty list is).
func allListed(list string, safe map[string]bool) bool {
	for _, o := range strings.Split(list, ":") {
		if o != "" && !safe[o] {
			return false
		}
	}
	return true
}

// scriptRefusal says why a verified script must not be the identity of an
// interpreter that runs it with option unsafeOpt ("" for none) and the
// unsafe shell variables shellVars; nil when it may be.
func scriptRefusal(interp, script, unsafeOpt string, shellVars []string) *Error {
	if unsafeOpt != "" {
		return refuse(ReasonUnsafeInterpreterOption,
			"%s runs %s with %s, which prints the commands the script runs (a secret among their arguments); run it without that option",
			interp, script, unsafeOpt)
	}
	if len(shellVars) > 0 {
		return refuse(ReasonUnsafeShellVariable,
			"%s runs with %s in its environment, which makes a shell print or run code that is not the script's; unset it before starting the script (env -u NAME)",
			script, strings.Join(shellVars, ", "))
	}
	return nil
}
