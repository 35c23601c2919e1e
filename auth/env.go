package auth

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// injectionVars are environment variables that make a loader, a library
// or an interpreter run code the image's hash does not cover, or send what
// the program handles elsewhere. Only their names are ever reported, never
// their values. An empty value loads nothing and is not reported.
//
// The list is a deny-list and cannot be complete: every library a program
// links may read a variable of its own, and configuration files (p11-kit's
// ~/.config/pkcs11/modules, a library's rc file in $HOME) load modules
// without any variable. It catches the common loaders so that a run under
// one is refused and audited; SECURITY.md says what it does not stop. An
// allow-list of what an entry may run with was rejected: real programs run
// with hundreds of variables that load nothing (locale, editor, XDG
// directories, tool settings), and refusing each until granted would teach
// users to grant whatever is asked.
var injectionVars = map[string]bool{
	// the dynamic loader and libc
	"LD_PRELOAD": true, "LD_AUDIT": true, "LD_LIBRARY_PATH": true,
	"LD_DEBUG_OUTPUT": true, "LD_PROFILE": true, "LD_PROFILE_OUTPUT": true,
	"GLIBC_TUNABLES": true, "GCONV_PATH": true, "GETCONF_DIR": true,
	"HOSTALIASES": true, "LOCPATH": true, "NLSPATH": true, "MALLOC_TRACE": true,
	// shells
	"BASH_ENV": true, "ENV": true, "ZDOTDIR": true, "BASH_LOADABLES_PATH": true,
	// interpreters
	"PYTHONSTARTUP": true, "PYTHONPATH": true, "PYTHONHOME": true,
	"PYTHONINSPECT": true, "PYTHONUSERBASE": true, "PYTHONEXECUTABLE": true,
	"PYTHONBREAKPOINT": true, "PYTHONPLATLIBDIR": true,
	"NODE_OPTIONS": true, "NODE_PATH": true, "NODE_REPL_EXTERNAL_MODULE": true,
	"PERL5OPT": true, "PERL5LIB": true, "PERLLIB": true, "PERL5DB": true,
	"RUBYOPT": true, "RUBYLIB": true,
	"JAVA_TOOL_OPTIONS": true, "_JAVA_OPTIONS": true, "JDK_JAVA_OPTIONS": true,
	"CLASSPATH": true,
	"LUA_INIT":  true, "LUA_PATH": true, "LUA_CPATH": true, "TCLLIBPATH": true,
	// libraries that load modules named by a variable
	"OPENSSL_CONF": true, "OPENSSL_CONF_INCLUDE": true, "OPENSSL_MODULES": true,
	"OPENSSL_ENGINES":   true,
	"GIO_EXTRA_MODULES": true, "GIO_MODULE_DIR": true,
	"GTK_MODULES": true, "GTK3_MODULES": true, "GTK_PATH": true,
	"GDK_PIXBUF_MODULE_FILE": true, "GDK_PIXBUF_MODULEDIR": true,
	"QT_PLUGIN_PATH": true, "QT_QPA_PLATFORM_PLUGIN_PATH": true,
	"GST_PLUGIN_PATH": true, "GST_PLUGIN_PATH_1_0": true,
	"GST_PLUGIN_SYSTEM_PATH": true, "GST_PLUGIN_SYSTEM_PATH_1_0": true,
	"LIBGL_DRIVERS_PATH": true, "__EGL_VENDOR_LIBRARY_DIRS": true,
	"__EGL_VENDOR_LIBRARY_FILENAMES": true,
	"VK_ICD_FILENAMES":               true, "VK_DRIVER_FILES": true, "VK_ADD_DRIVER_FILES": true,
	"VK_LAYER_PATH": true, "VK_ADD_LAYER_PATH": true, "VK_INSTANCE_LAYERS": true,
	"SASL_PATH": true, "KRB5_CONFIG": true, "P11_KIT_SERVER_ADDRESS": true,
	// programs a library starts, or where it sends what it handles
	"GIT_SSH": true, "GIT_SSH_COMMAND": true, "GIT_EXEC_PATH": true,
	"SSLKEYLOGFILE": true,
}

// isInjectionVar reports whether name is a loader or interpreter injection
// variable: the listed names and every DYLD_* variable.
func isInjectionVar(name string) bool {
	return injectionVars[name] || strings.HasPrefix(name, "DYLD_")
}

// injectedEnv returns the sorted, de-duplicated names of injection
// variables in a NUL-separated environment block.
func injectedEnv(environ []byte) []string {
	names, _ := scanEnv(environ)
	return names
}

// scanEnv returns the sorted, de-duplicated names of the injection
// variables (see isInjectionVar) and of the variables that make a shell
// print or run code (see unsafeShellVar) in a NUL-separated environment
// block. Only names are returned, never values.
func scanEnv(environ []byte) (injected, shell []string) {
	for len(environ) > 0 {
		var entry []byte
		entry, environ, _ = bytes.Cut(environ, []byte{0})
		eq := bytes.IndexByte(entry, '=')
		if eq <= 0 {
			continue
		}
		// Avoid allocating for the common, clean variable.
		name := entry[:eq]
		if eq+1 < len(entry) && isInjectionVar(string(name)) { // LD_PRELOAD= loads nothing
			injected = append(injected, string(name))
		}
		if isShellVarName(name) && unsafeShellVar(string(name), string(entry[eq+1:])) {
			shell = append(shell, string(name))
		}
	}
	sort.Strings(injected)
	sort.Strings(shell)
	return dedupSorted(injected), dedupSorted(shell)
}

// isShellVarName is a cheap first test for unsafeShellVar.
func isShellVarName(name []byte) bool {
	switch string(name) { // no allocation for a switch on a converted slice
	case "PS4", "SHELLOPTS", "BASHOPTS":
		return true
	}
	return bytes.HasPrefix(name, []byte("BASH_FUNC_"))
}

func dedupSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// splitNUL splits a NUL-separated block (cmdline) into strings.
func splitNUL(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// procStatus holds the fields of /proc/PID/status the daemon uses.
type procStatus struct {
	ppid, tracerPID int
	euid            uint32
	haveUID         bool
	state           byte // the State letter: 'S', 'R', 'Z', ...
}

// living reports whether the task was neither a zombie nor dead when the
// status was generated.
func (st procStatus) living() bool {
	switch st.state {
	case 0, 'Z', 'X', 'x':
		return false
	}
	return true
}

// parseStatus reads State, PPid, TracerPid and the effective uid from a
// /proc/PID/status text.
func parseStatus(b []byte) (procStatus, bool) {
	var st procStatus
	var havePPid, haveTracer bool
	// The fields wanted come early (State, PPid, TracerPid, Uid: lines 3
	// to 9); the rest of the text is not looked at once all are found.
	// Name, the one field a process sets, cannot hold a newline (the
	// kernel escapes it), so no line can be forged.
	for len(b) > 0 && !(havePPid && haveTracer && st.haveUID && st.state != 0) {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		switch string(key) {
		case "State":
			if v := bytes.TrimSpace(val); len(v) > 0 {
				st.state = v[0]
			}
		case "PPid":
			st.ppid, havePPid = atoiField(val)
		case "TracerPid":
			st.tracerPID, haveTracer = atoiField(val)
		case "Uid":
			// real, effective, saved, fs
			fields := bytes.Fields(val)
			if len(fields) >= 2 {
				u, err := strconv.ParseUint(string(fields[1]), 10, 32)
				st.euid, st.haveUID = uint32(u), err == nil
			}
		}
	}
	return st, havePPid && haveTracer && st.haveUID
}

func atoiField(b []byte) (int, bool) {
	n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	return n, err == nil
}
