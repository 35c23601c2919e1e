package auth

import "testing"

func TestLookupInterpreterVersions(t *testing.T) {
	for base, want := range map[string]*interpreter{
		"python3": pythonInterp, "python3.11": pythonInterp, "python311": pythonInterp,
		"perl5.36.0": perlInterp, "ruby3.1": rubyInterp, "bash": bashInterp,
		"python3.": nil, "python3..11": nil, "python3.x": nil, "python2.7": nil, "pythonista": nil, "rubyist": nil,
	} {
		if got := lookupInterpreter(base); got != want {
			t.Errorf("lookupInterpreter(%q) = %p, want %p", base, got, want)
		}
	}
}
