package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

// checkEndpoint reports the endpoint clients resolve (chooseEndpoint), where
// the choice came from, and who owns it and its directory.
func (d *doctor) checkEndpoint() {
	if d.chErr != nil {
		return
	}
	from := "the default"
	switch {
	case d.socket != "":
		from = "--socket"
	case os.Getenv(transport.EnvSocket) != "":
		from = transport.EnvSocket
	case d.system:
		from = "system mode"
	}
	path := d.ch.path
	if strings.HasPrefix(path, `\\.\pipe\`) {
		d.add("endpoint", verdictOK, "", "clients use the pipe %s (from %s)", path, from)
		return
	}
	fi, err := os.Lstat(path)
	if err != nil {
		verdict := verdictFail
		if d.st == nil {
			verdict = verdictNote // the daemon check already says so
		}
		d.add("endpoint", verdict, "start the daemon, or check --socket and "+transport.EnvSocket,
			"clients use %s (from %s), and nothing is there", path, from)
		return
	}
	uid, known := ownerOf(fi)
	dir, dirErr := os.Lstat(filepath.Dir(path))
	dirUID, _ := ownerOf(dir)
	want := []uint32{uint32(os.Getuid())}
	if d.system {
		want = d.ch.uids
	}
	switch {
	case fi.Mode()&os.ModeSocket == 0:
		d.add("endpoint", verdictFail, "remove it and restart the daemon", "clients use %s (from %s), which is not a socket", path, from)
	case known && !slices.Contains(want, uid):
		d.add("endpoint", verdictFail, "find out who made it; check --socket and "+transport.EnvSocket+" (a program may have planted it)",
			"clients use %s (from %s), owned by %s, not by %s", path, from, userName(uid), ownersText(want))
	case dirErr == nil && known && !slices.Contains(want, dirUID):
		d.add("endpoint", verdictFail, "find out who made the directory; the endpoint's directory must be the daemon's",
			"clients use %s (from %s); its directory is owned by %s", path, from, userName(dirUID))
	case !d.system && dirErr == nil && dir.Mode().Perm()&0o077 != 0:
		d.add("endpoint", verdictFail, fmt.Sprintf("`chmod 700 %s`", filepath.Dir(path)),
			"clients use %s (from %s); its directory has mode %04o, open to other users", path, from, dir.Mode().Perm())
	default:
		extra := ""
		if d.st != nil && d.st.Endpoint != "" && d.st.Endpoint != path {
			extra = fmt.Sprintf("; the daemon's main endpoint is %s", d.st.Endpoint)
		}
		d.add("endpoint", verdictOK, "", "clients use %s (from %s), owned by %s%s", path, from, userName(uid), extra)
	}
}

// checkDirs checks the modes of the configuration and data directories and
// of the files in them (user mode; in system mode they are root's and the
// service user's, checked by `install --system`).
func (d *doctor) checkDirs() {
	if d.system {
		d.add("files", verdictNote, "", "system mode: your policy is in %s (root's) and your data in %s (the service user's)", config.System().Users, config.System().TenantDir(uint32(os.Getuid())))
		return
	}
	cfgDir, err1 := config.Dir()
	dataDir, err2 := config.DataDir()
	if err1 != nil || err2 != nil {
		d.add("files", verdictFail, "set HOME (or XDG_CONFIG_HOME and XDG_DATA_HOME)", "cannot find the directories: %v", firstErr(err1, err2))
		return
	}
	var problems, fixes []string
	if !exists(cfgDir) && !exists(dataDir) {
		d.add("files", verdictNote, "", "%s and %s do not exist yet (`serve` makes them)", cfgDir, dataDir)
		return
	}
	for _, dir := range []string{cfgDir, dataDir} {
		p, f := privateTree(dir)
		problems, fixes = append(problems, p...), append(fixes, f...)
	}
	if len(problems) > 0 {
		d.add("files", verdictFail, strings.Join(fixes, "; "), "%s", strings.Join(problems, "; "))
		return
	}
	d.add("files", verdictOK, "", "%s and %s are yours and private (directories 0700, files 0600)", cfgDir, dataDir)
}

// privateTree checks that dir (if it exists) and the files directly in it
// belong to us and are closed to group and others.
func privateTree(dir string) (problems, fixes []string) {
	fi, err := os.Lstat(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil || !fi.IsDir() {
		return []string{fmt.Sprintf("%s is not a directory", dir)}, []string{fmt.Sprintf("move %s aside", dir)}
	}
	if uid, ok := ownerOf(fi); ok && uid != uint32(os.Getuid()) {
		problems = append(problems, fmt.Sprintf("%s is owned by %s", dir, userName(uid)))
		fixes = append(fixes, fmt.Sprintf("`sudo chown -R %d %s`", os.Getuid(), dir))
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		problems = append(problems, fmt.Sprintf("%s has mode %04o", dir, perm))
		fixes = append(fixes, fmt.Sprintf("`chmod 700 %s`", dir))
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o077 == 0 {
			continue
		}
		p := filepath.Join(dir, e.Name())
		problems = append(problems, fmt.Sprintf("%s has mode %04o", p, info.Mode().Perm()))
		fixes = append(fixes, fmt.Sprintf("`chmod 600 %s`", p))
	}
	return problems, fixes
}

func ownersText(uids []uint32) string {
	names := make([]string, len(uids))
	for i, u := range uids {
		names[i] = userName(u)
	}
	return strings.Join(names, " or ")
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
