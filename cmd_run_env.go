package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/keychain-auth/keychain-auth/transport"
)

// envRef is one variable `run` sets: a literal value (from an env file) or
// a reference to secrets, ka://SERVICE/TARGET (one key) or
// ka://SERVICE/PREFIX* (every key under PREFIX, see prefixVarName).
type envRef struct {
	name    string
	literal *string // set for a literal line of an env file
	service string
	target  string // the key, or the prefix when prefix is set
	prefix  bool
	origin  string // "--env" or "FILE:LINE", for messages (never a value)
}

// refScheme starts a reference in an env file.
const refScheme = "ka://"

// parseEnvFlag reads --env NAME=SERVICE/TARGET (ka:// may be written too;
// a TARGET ending in * is a prefix). Messages name the flag, never its
// text after the '=' beyond the service and target.
func parseEnvFlag(s string) (envRef, error) {
	name, ref, ok := strings.Cut(s, "=")
	if !ok || !validEnvName(name) {
		return envRef{}, usageError("--env takes NAME=SERVICE/TARGET with NAME a variable name ([A-Za-z_][A-Za-z0-9_]*)")
	}
	r, err := parseRef(strings.TrimPrefix(ref, refScheme))
	if err != nil {
		return envRef{}, usageError("--env %s: %v", name, err)
	}
	r.name, r.origin = name, "--env "+name
	return r, nil
}

// parseRef reads SERVICE/TARGET or SERVICE/PREFIX*. The service ends at
// the first '/', so a service whose name holds '/' cannot be named here.
func parseRef(s string) (envRef, error) {
	service, target, ok := strings.Cut(s, "/")
	switch {
	case !ok || service == "":
		return envRef{}, fmt.Errorf("want SERVICE/TARGET (or SERVICE/PREFIX*)")
	case target == "":
		return envRef{}, fmt.Errorf("empty TARGET (write SERVICE/* for every key of the service)")
	}
	r := envRef{service: service, target: target}
	if p, isPrefix := strings.CutSuffix(target, "*"); isPrefix {
		r.target, r.prefix = p, true
	}
	return r, nil
}

// readEnvFile reads an env file: one NAME=VALUE per line, where a VALUE
// that starts with ka:// (blanks around it ignored) is a reference and
// anything else is a literal passed through as written (no quoting, no
// expansion, no trailing comment). Blank lines and
// lines whose first non-blank character is # are skipped. A bad line is
// an error naming FILE:LINE and what is wrong, never the value.
func readEnvFile(path string) ([]envRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fail(exitError, "env file: %v", err)
	}
	defer f.Close()
	return parseEnvFile(path, f)
}

func parseEnvFile(path string, r io.Reader) ([]envRef, error) {
	var refs []envRef
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d", path, n)
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || !validEnvName(name) {
			return nil, fail(exitUsage, "%s: want NAME=VALUE with NAME a variable name ([A-Za-z_][A-Za-z0-9_]*)", where)
		}
		ref, isRef := strings.CutPrefix(strings.TrimSpace(value), refScheme)
		if !isRef {
			v := value
			refs = append(refs, envRef{name: name, literal: &v, origin: where})
			continue
		}
		r, err := parseRef(ref)
		if err != nil {
			return nil, fail(exitUsage, "%s: %s: %v", where, name, err)
		}
		r.name, r.origin = name, where
		refs = append(refs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fail(exitError, "env file %s: %v", path, err)
	}
	return refs, nil
}

func validEnvName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// prefixVarName maps a key found under a prefix reference to its variable:
// NAME_SUFFIX, where SUFFIX is the key without the prefix with a-z
// upper-cased and every other character but A-Z, 0-9 and _ (a non-ASCII
// letter too) turned into one _. The key equal to
// the prefix itself maps to NAME. So DB=ka://app/db/* gives db/host → DB_HOST
// and db/max-conns → DB_MAX_CONNS.
func prefixVarName(name, prefix, key string) string {
	suffix := strings.TrimPrefix(key, prefix)
	if suffix == "" {
		return name
	}
	return name + "_" + strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case r == '_' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9':
			return r
		}
		return '_'
	}, suffix)
}

// runGroup is one RUN message: the references that share a service and a
// match mode (one message per prefix).
type runGroup struct {
	service string
	match   string
	targets []string
}

// runGroups plans the RUN messages for refs: exact keys of one service
// together (each key once), each prefix alone.
func runGroups(refs []envRef) []runGroup {
	var groups []runGroup
	exact := map[string]int{}
	for _, r := range refs {
		switch {
		case r.literal != nil:
		case r.prefix:
			groups = append(groups, runGroup{service: r.service, match: transport.MatchPrefix, targets: []string{r.target}})
		default:
			i, ok := exact[r.service]
			if !ok {
				i = len(groups)
				exact[r.service] = i
				groups = append(groups, runGroup{service: r.service, match: transport.MatchExact})
			}
			if !slices.Contains(groups[i].targets, r.target) {
				groups[i].targets = append(groups[i].targets, r.target)
			}
		}
	}
	return groups
}

// fetched holds the values the daemon returned, by service and key.
type fetched map[string]map[string]string

// buildEnv returns base with the variables of refs set, in order (a later
// one wins). An exact key the daemon did not return is not found (exit 4);
// two keys of one prefix that map to the same name are an error. Messages
// name variables and keys, never values.
func buildEnv(base []string, refs []envRef, got fetched) ([]string, error) {
	set := map[string]string{}
	var order []string
	put := func(name, value string) {
		if _, ok := set[name]; !ok {
			order = append(order, name)
		}
		set[name] = value
	}
	for _, r := range refs {
		switch {
		case r.literal != nil:
			put(r.name, *r.literal)
		case r.prefix:
			if err := putPrefix(r, got[r.service], put); err != nil {
				return nil, err
			}
		default:
			v, ok := got[r.service][r.target]
			if !ok {
				return nil, fail(exitNotFound, "%s: %s/%s not found", r.origin, r.service, r.target)
			}
			put(r.name, v)
		}
	}
	for _, name := range order {
		if strings.IndexByte(set[name], 0) >= 0 {
			return nil, fail(exitError, "the value for %s holds a NUL byte, which an environment cannot carry", name)
		}
	}
	env := slices.DeleteFunc(slices.Clone(base), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		_, replaced := set[name]
		return replaced
	})
	for _, name := range order {
		env = append(env, name+"="+set[name])
	}
	return env, nil
}

func putPrefix(r envRef, values map[string]string, put func(name, value string)) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		if strings.HasPrefix(k, r.target) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	from := map[string]string{}
	for _, k := range keys {
		name := prefixVarName(r.name, r.target, k)
		if other, dup := from[name]; dup {
			return fail(exitError, "%s: keys %q and %q of %s both map to %s", r.origin, other, k, r.service, name)
		}
		from[name] = k
		put(name, values[k])
	}
	return nil
}
