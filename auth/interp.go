package auth

import (
	"path/filepath"
	"strings"
)

// interpreter describes how one interpreter's argv names a script. Only
// argv of the form `interp [harmless options] script [args]` names a script
// the daemon can verify; an option that runs code before the script (-c,
// -e, -m, -r, --import, ...) or anything unknown means there is no script.
type interpreter struct {
	// flags are single-letter options that take no argument and run no code;
	// they may be combined ("-eu").
	flags string
	// long are whole arguments allowed as-is ("--no-warnings").
	long map[string]bool
	// withArg are options allowed together with their next argument, and the
	// values allowed for it ("-o pipefail").
	withArg map[string]map[string]bool
	// unsafe are single-letter options that make the interpreter print the
	// commands it runs or run other code (a shell's -x and -v). They are
	// parsed like flags, and a script run with one is refused.
	unsafe string
	// unsafeWithArg are values of a withArg option that do the same
	// ("-o xtrace").
	unsafeWithArg map[string]map[string]bool
	// hold is where the interpreter keeps the script open while it runs.
	hold scriptHold
}

// scriptHold says where an interpreter keeps its script file open. Only
// such a descriptor, which the interpreter opened itself (close-on-exec,
// so not inherited), names the script independently of the current
// directory; without one only an absolute argv path is verifiable.
type scriptHold int

const (
	// holdNone: the script is read and closed (python3, node, perl; checked
	// on this machine), or the interpreter was not checked (zsh, ruby, a
	// binary that is itself named sh), so no descriptor is trusted.
	holdNone scriptHold = iota
	// holdBash: bash moves the script to fd 255, close-on-exec.
	holdBash
	// holdDash: dash keeps it on the lowest free fd from 10 up,
	// close-on-exec, opened before any line of the script runs.
	holdDash
)

var (
	shellInterp = &interpreter{
		flags:  "eufCbhnB",
		unsafe: "xv",
		withArg: map[string]map[string]bool{"-o": {
			"pipefail": true, "errexit": true, "nounset": true,
			"noclobber": true, "noglob": true, "posix": true,
		}},
		unsafeWithArg: map[string]map[string]bool{"-o": {"xtrace": true, "verbose": true}},
	}
	bashInterp   = withHold(shellInterp, holdBash)
	dashInterp   = withHold(shellInterp, holdDash)
	pythonInterp = &interpreter{flags: "uBEsIObSqRdv", long: map[string]bool{"-OO": true, "-bb": true}}
	nodeInterp   = &interpreter{long: map[string]bool{
		"--no-warnings": true, "--no-deprecation": true, "--enable-source-maps": true,
		"--trace-warnings": true, "--throw-deprecation": true,
	}}
	perlInterp = &interpreter{flags: "wWXTt"}
	rubyInterp = &interpreter{flags: "wv", long: map[string]bool{"-W0": true, "-W1": true, "-W2": true, "-W": true}}
)

// interpreters is keyed on the basename of the resolved executable path.
var interpreters = map[string]*interpreter{
	"sh": shellInterp, "dash": dashInterp, "bash": bashInterp, "zsh": shellInterp,
	"python3": pythonInterp, "node": nodeInterp, "nodejs": nodeInterp,
	"perl": perlInterp, "ruby": rubyInterp,
}

func withHold(in *interpreter, h scriptHold) *interpreter {
	c := *in
	c.hold = h
	return &c
}

// lookupInterpreter returns the table entry for an executable basename
// ("python3.11" counts as python3), or nil.
func lookupInterpreter(base string) *interpreter {
	if in, ok := interpreters[base]; ok {
		return in
	}
	for _, name := range []string{"python3", "perl", "ruby"} {
		if rest, ok := strings.CutPrefix(base, name); ok && versionSuffix(rest) {
			return interpreters[name]
		}
	}
	return nil
}

// versionSuffix reports whether s is a version suffix such as "11", ".11"
// or "5.36": digit runs, each optionally led by one dot. (A regexp would
// cost every start of the CLI its compilation.)
func versionSuffix(s string) bool {
	if s == "" {
		return false
	}
	for s != "" {
		s = strings.TrimPrefix(s, ".")
		n := len(s) - len(strings.TrimLeft(s, "0123456789"))
		if n == 0 {
			return false
		}
		s = s[n:]
	}
	return true
}

// scriptArg returns the script argument of argv (argv[0] is the program)
// when argv has the verifiable form, else "", false.
func (in *interpreter) scriptArg(argv []string) (string, bool) {
	arg, ok, _ := in.scriptArgOpts(argv)
	return arg, ok
}

// scriptArgOpts is scriptArg that also returns the first option that
// makes the interpreter print or run code (see interpreter.unsafe), as
// written in argv ("-x", "-o xtrace"), or "".
func (in *interpreter) scriptArgOpts(argv []string) (arg string, ok bool, unsafe string) {
	i, unsafe := in.scriptIndex(argv)
	if i < 0 {
		return "", false, ""
	}
	return argv[i], true, unsafe
}

// scriptOptions returns the arguments between the interpreter and the
// script (a "--" among them), as the process was started, when argv names
// a script; else nil.
func (in *interpreter) scriptOptions(argv []string) []string {
	i, _ := in.scriptIndex(argv)
	if i < 1 {
		return nil
	}
	return append([]string{}, argv[1:i]...)
}

// scriptIndex is the index in argv of the script argument, or -1, and the
// first unsafe option before it (see scriptArgOpts).
func (in *interpreter) scriptIndex(argv []string) (int, string) {
	unsafe := ""
	note := func(opt string) {
		if unsafe == "" {
			unsafe = opt
		}
	}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			if i+1 < len(argv) && argv[i+1] != "" && argv[i+1] != "-" {
				return i + 1, unsafe
			}
			return -1, ""
		case a == "-" || a == "":
			return -1, "" // stdin or nonsense: nothing to verify
		case !strings.HasPrefix(a, "-"):
			return i, unsafe
		case in.long[a]:
			continue
		case in.withArg[a] != nil || in.unsafeWithArg[a] != nil:
			if i+1 >= len(argv) {
				return -1, ""
			}
			switch v := argv[i+1]; {
			case in.withArg[a][v]:
			case in.unsafeWithArg[a][v]:
				note(a + " " + v)
			default:
				return -1, ""
			}
			i++
		default:
			harmless, bad := in.classifyFlags(a)
			if !harmless {
				return -1, ""
			}
			if bad {
				note(a)
			}
		}
	}
	return -1, "" // a REPL or stdin
}

// classifyFlags reports whether a is "-xyz" with every letter a known flag
// (harmless or unsafe), and whether an unsafe one is among them.
func (in *interpreter) classifyFlags(a string) (known, unsafe bool) {
	if len(a) < 2 || a[0] != '-' || a[1] == '-' || in.flags+in.unsafe == "" {
		return false, false
	}
	for _, r := range a[1:] {
		switch {
		case strings.ContainsRune(in.flags, r):
		case strings.ContainsRune(in.unsafe, r):
			unsafe = true
		default:
			return false, false
		}
	}
	return true, unsafe
}

// IsInterpreter reports whether path names an interpreter the daemon knows
// (sh, bash, python3, node, ...). A policy entry for the interpreter itself
// admits every script it runs and every REPL or -c of it, so the admin CLI
// warns before registering one.
func IsInterpreter(path string) bool {
	return lookupInterpreter(filepath.Base(path)) != nil
}
