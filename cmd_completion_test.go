package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// completionScript runs `keychain-auth completion SHELL` and saves the output.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"keychain-auth", "completion", shell}, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("completion %s: exit %d, stderr %q", shell, code, errb.String())
	}
	path := filepath.Join(t.TempDir(), "completion."+shell)
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func needShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian: apt-get install %s); its completion script is not checked", name, name)
	}
	return p
}

func shellOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(needShell(t, name), args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// Each shell must accept its script; bash and fish also answer a few
// completions the way a user at the prompt would see them.
func TestCompletionScriptsParse(t *testing.T) {
	shellOutput(t, "bash", "-n", completionScript(t, "bash"))
	t.Run("zsh", func(t *testing.T) { shellOutput(t, "zsh", "-n", completionScript(t, "zsh")) })
	t.Run("fish", func(t *testing.T) { shellOutput(t, "fish", "--no-execute", completionScript(t, "fish")) })
}

func TestBashCompletionAnswers(t *testing.T) {
	script := completionScript(t, "bash")
	probe := `source "$1"; shift
t() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _keychain_auth; echo "${COMPREPLY[*]}"; }
t keychain-auth gra
t keychain-auth grant --re
t keychain-auth grant --read ''
t keychain-auth completion ''
t keychain-auth --vers
`
	got := strings.Split(strings.TrimRight(shellOutput(t, "bash", "-c", probe, "probe", script), "\n"), "\n")
	want := []string{"grant", "--read", "", "bash zsh fish powershell", "--version"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("bash completions = %q, want %q", got, want)
	}
}

func TestFishCompletionAnswers(t *testing.T) {
	script := completionScript(t, "fish")
	out := shellOutput(t, "fish", "--no-config", "-c", `source $argv[1]; complete -C "keychain-auth gra"; complete -C "keychain-auth audit --j"`, script)
	for _, want := range []string{"grant\t", "--json\t"} {
		if !strings.Contains(out, want) {
			t.Errorf("fish completions %q lack %q", out, want)
		}
	}
}

// PowerShell is not packaged for Debian: check what can be checked here.
func TestPowerShellCompletionNamesEveryCommand(t *testing.T) {
	script, err := os.ReadFile(completionScript(t, "powershell"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range newApp(nil, &bytes.Buffer{}, &bytes.Buffer{}).Commands {
		if !bytes.Contains(script, []byte("'"+cmd.Name+"' = @{")) {
			t.Errorf("powershell completion lacks command %q", cmd.Name)
		}
	}
	if o, c := bytes.Count(script, []byte("{")), bytes.Count(script, []byte("}")); o != c {
		t.Errorf("powershell completion has %d '{' and %d '}'", o, c)
	}
}

func TestCompletionRefusesUnknownShell(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"keychain-auth"}, args...), strings.NewReader(""), &out, &errb); code != exitUsage || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q; want exit 2 and nothing on stdout", args, code, out.String())
		}
	}
}
