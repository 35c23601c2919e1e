package auth

import (
	"slices"
	"testing"
)

// TestScriptOptions: the arguments between the interpreter and its script,
// as a script entry pins them.
func TestScriptOptions(t *testing.T) {
	cases := []struct {
		argv []string
		want []string
	}{
		{[]string{"python3", "/s.py"}, []string{}},
		{[]string{"python3", "-I", "/s.py", "-x"}, []string{"-I"}},
		{[]string{"python3", "-I", "-u", "--", "/s.py"}, []string{"-I", "-u", "--"}},
		{[]string{"bash", "-e", "-o", "pipefail", "/s.sh", "a"}, []string{"-e", "-o", "pipefail"}},
		{[]string{"python3", "-c", "code", "/s.py"}, nil},
		{[]string{"python3"}, nil},
	}
	for _, c := range cases {
		in := lookupInterpreter(c.argv[0])
		got := in.scriptOptions(c.argv)
		if (got == nil) != (c.want == nil) || !slices.Equal(got, c.want) {
			t.Errorf("%q: options %q, want %q", c.argv, got, c.want)
		}
	}
}
