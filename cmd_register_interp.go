package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
)

// shebangMax is how much of a script's first line the kernel reads for its
// #! line (BINPRM_BUF_SIZE on Linux).
const shebangMax = 256

// interpreterPin reads the #! line of the file at path and returns how the
// script runs when started by its path: the interpreter's resolved
// executable and the options the kernel passes it. A file without a #!
// line is not a script to pin (nil, nil). Notes for the person registering
// (isolating options to add, an interpreter the daemon does not know) are
// printed to stderr.
//
// The interpreter is pinned by path when the file and every directory
// above it are owned by root and writable by no one else, so that a
// package upgrade does not refuse the script; otherwise by hash as well,
// since the user (or anything running as the user) could replace it.
func interpreterPin(c *cli.Context, path string) (*config.Interpreter, error) {
	prog, opts, err := readShebang(path)
	if err != nil || prog == "" {
		return nil, err
	}
	resolved, err := filepath.EvalSymlinks(prog)
	if err != nil {
		return nil, fail(exitError, "%s: its #! line names %s: %v", path, prog, err)
	}
	if inner, _, _ := readShebang(resolved); inner != "" {
		// A wrapper such as a version manager's shim: the process the
		// daemon sees is whatever it starts, never the wrapper.
		return nil, fail(exitError, "%s: its #! line runs %s, which is itself a script (run by %s), so the interpreter cannot be pinned", path, resolved, inner).
			hint("name the real interpreter by its absolute path in the #! line (for example #!/usr/bin/python3)")
	}
	pin := &config.Interpreter{Path: resolved, Options: opts}
	if !rootProtected(resolved) {
		img, err := auth.HashFile(resolved)
		if err != nil {
			return nil, fail(exitError, "%s: hash its interpreter %s: %v", path, resolved, err)
		}
		pin.Hash = img.Hash
	}
	noteInterpreter(c, path, pin)
	noteBareCLI(c, path)
	return pin, nil
}

// noteBareCLI recommends the absolute path when the script seems to run
// keychain-auth by name: whoever starts the script chooses its PATH, and a
// fake keychain-auth found first can exec the real one with its output
// redirected, still a child of the script (SECURITY.md).
func noteBareCLI(c *cli.Context, path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	text, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil || !callsByName(text, "keychain-auth") {
		return
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		self = "/path/to/keychain-auth"
	}
	fmt.Fprintf(c.App.ErrWriter, "keychain-auth: hint: %s runs keychain-auth by name; a program that starts it chooses its PATH and can put a fake keychain-auth first that receives what the CLI relays: call it by its absolute path (%s)\n", path, self)
}

// callsByName reports whether text holds name as a word of its own that is
// not the last part of a path (a bare command).
func callsByName(text []byte, name string) bool {
	word := func(b byte) bool {
		return b == '_' || b == '-' || b == '.' || b == '/' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
	}
	for i := 0; ; {
		j := bytes.Index(text[i:], []byte(name))
		if j < 0 {
			return false
		}
		at, end := i+j, i+j+len(name)
		if (at == 0 || !word(text[at-1])) && (end == len(text) || !word(text[end]) || text[end] == '.') {
			return true
		}
		i = end
	}
}

// readShebang returns the program a #! line runs and its options as the
// program receives them: the kernel passes everything after the
// interpreter as one argument, and `env -S` splits it again.
func readShebang(path string) (string, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, fail(exitError, "cannot read %s: %v", path, err)
	}
	defer f.Close()
	buf := make([]byte, shebangMax)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", nil, fail(exitError, "cannot read %s: %v", path, err)
	}
	line, ok := bytes.CutPrefix(buf[:n], []byte("#!"))
	if !ok {
		return "", nil, nil
	}
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	} else if n == shebangMax {
		return "", nil, fail(exitError, "%s: its #! line is longer than the %d bytes the kernel reads", path, shebangMax)
	}
	text := strings.Trim(string(line), " \t\r")
	interp, rest := text, ""
	if i := strings.IndexAny(text, " \t"); i >= 0 {
		interp, rest = text[:i], strings.Trim(text[i+1:], " \t")
	}
	if !filepath.IsAbs(interp) {
		return "", nil, fail(exitError, "%s: its #! line names %q, not an absolute path", path, interp)
	}
	if filepath.Base(interp) != "env" {
		if rest == "" {
			return interp, []string{}, nil
		}
		return interp, []string{rest}, nil
	}
	// #!/usr/bin/env PROG: env looks PROG up on the PATH it is started
	// with; registration resolves it on the PATH of the person registering.
	var words []string
	if split, ok := strings.CutPrefix(rest, "-S"); ok {
		words = strings.Fields(split)
	} else if strings.ContainsAny(rest, " \t") {
		return "", nil, fail(exitError, "%s: its #! line passes %q to env as one word, which env cannot run", path, rest).
			hint("write `#!/usr/bin/env -S %s`, or name the interpreter by its absolute path", rest)
	} else if rest != "" {
		words = []string{rest}
	}
	if len(words) == 0 || strings.HasPrefix(words[0], "-") {
		return "", nil, fail(exitError, "%s: its #! line runs env without a program keychain-auth can pin", path).
			hint("name the interpreter by its absolute path in the #! line")
	}
	prog, err := exec.LookPath(words[0])
	if err != nil {
		return "", nil, fail(exitError, "%s: its #! line runs %s, which is not on PATH: %v", path, words[0], err)
	}
	if !filepath.IsAbs(prog) {
		if prog, err = filepath.Abs(prog); err != nil {
			return "", nil, fail(exitError, "%s: %v", path, err)
		}
	}
	return prog, append([]string{}, words[1:]...), nil
}

// rootProtected reports whether path and every directory above it are
// owned by root and writable by neither group nor others.
func rootProtected(path string) bool {
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		owner, ok := ownerOf(fi) // never ok on Windows: pinned by hash there
		if !ok || owner != 0 || fi.Mode().Perm()&0o022 != 0 {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// noteInterpreter says what the pin means and which isolating option the
// #! line lacks.
func noteInterpreter(c *cli.Context, script string, pin *config.Interpreter) {
	w := c.App.ErrWriter
	how := "by path (root-owned)"
	if pin.Hash != "" {
		how = "by path and hash (the file can be replaced without root)"
	}
	fmt.Fprintf(w, "keychain-auth: note: %s runs under %s %s, pinned %s; another interpreter or other options are refused\n",
		script, pin.Path, describeArgs(pin.Options), how)
	base := filepath.Base(pin.Path)
	switch {
	case !auth.IsInterpreter(pin.Path):
		fmt.Fprintf(w, "keychain-auth: warning: %s is not an interpreter the daemon knows (sh, bash, dash, zsh, python3, node, perl, ruby): it cannot identify this script as itself\n", base)
	case strings.HasPrefix(base, "python") && !hasOption(pin.Options, 'I'):
		fmt.Fprintf(w, "keychain-auth: hint: add -I to its #! line (#!%s -I) and run `keychain-auth upgrade %s`: without it a usercustomize.py or .pth file in the user's site directory, a PYTHON* variable or a module beside the script runs as the script\n", pin.Path, script)
	case base == "node" || base == "nodejs":
		if !slices.Contains(pin.Options, "--disable-sigusr1") {
			fmt.Fprintf(w, "keychain-auth: hint: kill -USR1 opens the inspector of a running node script; where the installed node lists --disable-sigusr1 in `node --help`, add it to the #! line (#!/usr/bin/env -S node --disable-sigusr1) and run `keychain-auth upgrade %s`\n", script)
		}
	}
}

func describeArgs(opts []string) string {
	if len(opts) == 0 {
		return "with no options"
	}
	return "with options " + strings.Join(opts, " ")
}

// hasOption reports whether a single-letter option appears alone or among
// combined flags ("-I", "-Iu").
func hasOption(opts []string, letter rune) bool {
	for _, o := range opts {
		if len(o) > 1 && o[0] == '-' && o[1] != '-' && strings.ContainsRune(o[1:], letter) {
			return true
		}
	}
	return false
}
