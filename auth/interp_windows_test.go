package auth

import "testing"

func TestWindowsInterpreterNames(t *testing.T) {
	for path, want := range map[string]bool{
		`C:\Python312\python.exe`:                                   true,
		`C:\Python312\pythonw.exe`:                                  true,
		`C:\Windows\py.exe`:                                         true,
		`C:\Tools\python3.12.exe`:                                   true,
		`C:\Program Files\PowerShell\7\pwsh.exe`:                    true,
		`C:\Windows\System32\WindowsPowerShell\v1.0\PowerShell.EXE`: true,
		`C:\Windows\System32\cmd.exe`:                               true,
		`C:\Windows\System32\cscript.exe`:                           true,
		`C:\Program Files\nodejs\node.exe`:                          true,
		`C:\Program Files\Git\usr\bin\bash.exe`:                     true,
		`C:\Tools\deploy.exe`:                                       false,
		`C:\Tools\pythonista.exe`:                                   false,
		`C:\Tools\cmdline.exe`:                                      false,
	} {
		if got := isWindowsInterpreter(path); got != want {
			t.Errorf("isWindowsInterpreter(%q) = %v; want %v", path, got, want)
		}
	}
}

// TestWindowsInterpreterUnverifiable: a client whose image is named like
// an interpreter (python.exe) is identified as itself and marked for
// refusal (script_unverifiable), not queued as a program. Canary: the same
// bytes under another name are identified without the mark.
func TestWindowsInterpreterUnverifiable(t *testing.T) {
	dir := tempDir(t)
	v := newTestVerifier(t, Options{})
	identify := func(name string) *Identity {
		t.Helper()
		a := connectClient(t, clientCopy(t, dir, name), "stay")
		p, err := v.Accept(a.conn)
		if err != nil {
			t.Fatal(err)
		}
		id, err := p.Identify()
		if err != nil {
			t.Fatalf("Identify %s: %v", name, err)
		}
		return id
	}
	if id := identify("tool.exe"); id.ScriptRefused != nil {
		t.Fatalf("canary: tool.exe marked %v; want no mark", id.ScriptRefused)
	}
	id := identify("python.exe")
	if id.Script != nil || id.Courier != nil {
		t.Errorf("identity %+v; want the executable itself", id)
	}
	wantReason(t, id.ScriptRefused, ReasonScriptUnverifiable)
}
