package auth

import (
	"path/filepath"
	"strings"
)

// windowsInterpreters are the programs that run code handed to them (a
// script file, a command line, stdin), by lowercase base name without
// ".exe". The list is of the common ones; one missing here is identified
// as the executable it is, like any program.
var windowsInterpreters = map[string]bool{
	"python": true, "pythonw": true, "py": true, "pyw": true,
	"pwsh": true, "powershell": true, "powershell_ise": true,
	"cmd": true, "wscript": true, "cscript": true, "mshta": true,
	"node": true, "deno": true, "bun": true,
	"bash": true, "sh": true, "perl": true, "ruby": true,
}

// isWindowsInterpreter reports whether path names an interpreter
// (python.exe, python3.12.exe, pwsh.exe, cmd.exe, ...).
func isWindowsInterpreter(path string) bool {
	base := strings.ToLower(filepath.Base(path))
	base = strings.TrimSuffix(base, ".exe")
	return windowsInterpreters[base] || lookupInterpreter(base) != nil
}

// windowsScriptRule applies the Windows answer to scripts and couriers.
// The creator of a process names its parent, and an interpreter's command
// line lives in its own memory, so the daemon can verify neither on whose
// behalf the CLI runs nor which script an interpreter runs. The CLI is
// refused courier_unverifiable and an interpreter script_unverifiable
// (rather than queued: approving the interpreter would admit every script
// and every -c). Both are policy answers: status and the admin messages
// still work.
func (v *Verifier) windowsScriptRule(id *Identity) {
	switch {
	case v.opts.SelfHash != "" && id.Exe.Hash == v.opts.SelfHash:
		id.ScriptRefused = refuse(ReasonCourierUnverifiable,
			"on Windows keychain-auth's CLI cannot act for the script or program that ran it (Windows lets any program name a process's parent); call the pipe from a registered program instead")
	case isWindowsInterpreter(id.Exe.Path):
		id.ScriptRefused = refuse(ReasonScriptUnverifiable,
			"%s is an interpreter; on Windows the daemon cannot tell which script it runs (its command line is in its own memory), so none can be identified; call the pipe from a registered compiled program instead",
			id.Exe.Path)
	}
}
