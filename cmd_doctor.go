package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/broker"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

// Verdicts of one doctor check. Only fail makes doctor exit non-zero:
// warn is a weakness worth fixing, note is worth knowing.
const (
	verdictOK   = "ok"
	verdictNote = "note"
	verdictWarn = "warn"
	verdictFail = "fail"
)

// finding is one line of doctor's report.
type finding struct {
	Check   string `json:"check"`
	Verdict string `json:"verdict"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
}

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check the setup (mode, store, policy, queue, endpoint, versions, kernel, file modes) and say what to fix; exit 1 when something needs action",
		Flags: []cli.Flag{socketFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError("doctor takes no arguments")
			}
			d := &doctor{socket: c.String("socket")}
			d.run()
			return d.print(c)
		},
	}
}

// doctor gathers findings; the checks run in order and later ones use what
// earlier ones learned (the endpoint, the daemon's STATUS answer).
type doctor struct {
	socket   string
	ch       endpointChoice
	chErr    error
	st       *transport.StatusInfo
	stErr    error
	system   bool
	findings []finding
}

func (d *doctor) add(check, verdict, fix, format string, a ...any) {
	d.findings = append(d.findings, finding{Check: check, Verdict: verdict, Detail: fmt.Sprintf(format, a...), Fix: fix})
}

func (d *doctor) run() {
	d.ch, d.chErr = chooseEndpoint(d.socket)
	d.system = d.ch.system
	if d.chErr == nil {
		d.st, d.stErr = askStatus(d.socket)
	}
	d.checkMode()
	d.checkDaemon()
	d.checkAtRest()
	d.checkPolicy()
	d.checkPending()
	d.checkEndpoint()
	d.checkVersions()
	d.checkKernel()
	d.checkDirs()
}

// askStatus asks the daemon for its STATUS answer.
func askStatus(socket string) (*transport.StatusInfo, error) {
	conn, _, err := dialDaemon(socket)
	if err != nil {
		return nil, err
	}
	cl := transport.NewClient(conn)
	defer cl.Close()
	return cl.Status()
}

func (d *doctor) checkMode() {
	if d.chErr != nil {
		d.add("mode", verdictFail, "repair system mode with `sudo keychain-auth install --system`, or remove a stray /etc/keychain-auth",
			"cannot tell: %v", errText(d.chErr))
		return
	}
	daemonMode := ""
	if d.st != nil {
		daemonMode = d.st.Mode
		if daemonMode == "" {
			daemonMode = broker.ModeUser
		}
	}
	switch {
	case d.system:
		d.add("mode", verdictOK, "", "system mode is installed (%s); the daemon runs as the service user and the policy is root's", config.System().Root)
	case daemonMode == broker.ModeSystem:
		d.add("mode", verdictWarn, "point clients at the system daemon only where system mode is installed, or install it with `sudo keychain-auth install --system`",
			"a system-mode daemon answers, but system mode is not installed here, so clients do not check that it is root's or the service user's")
	default:
		d.add("mode", verdictNote, "where you have root, system mode stops that: `sudo keychain-auth install --system` (README, \"Two modes\")",
			"user mode: the daemon, its policy and socket are yours, so any program running as you can change the policy or stand in for the daemon")
	}
}

func (d *doctor) checkDaemon() {
	if d.chErr != nil {
		return
	}
	if d.st == nil {
		fix := "start it: `keychain-auth serve` (or `systemctl --user start keychain-auth`)"
		if d.system {
			fix = "start it: `sudo systemctl start keychain-auth` (or `sudo keychain-auth serve --system`)"
		}
		var ce *cliError
		if errors.As(d.stErr, &ce) && ce.code == exitNotRunning {
			d.add("daemon", verdictFail, fix, "no daemon answers on %s", d.ch.path)
		} else {
			d.add("daemon", verdictFail, "see the daemon's log (`journalctl --user -u keychain-auth`)", "the daemon on %s did not answer STATUS: %s", d.ch.path, errText(d.stErr))
		}
		return
	}
	if d.st.Locked {
		d.add("store", verdictWarn, "`keychain-auth unlock`", "%s, locked: item requests answer store_locked", d.st.Backend)
		return
	}
	d.add("store", verdictOK, "", "%s, open", d.st.Backend)
}

func (d *doctor) checkAtRest() {
	if d.st == nil {
		d.atRestOffline()
		return
	}
	switch {
	case d.st.Backend == backend.NameSecretService:
		d.add("at rest", verdictWarn, "for a per-program gate, move to a passphrase vault: stop the daemon, `keychain-auth passwd`, `keychain-auth migrate --from secret-service --to file`, then `serve --backend file`",
			"%s; but any program running as you can ask the Secret Service for these items directly, around the daemon", d.st.AtRest)
	case d.st.Warning != "":
		d.add("at rest", verdictWarn, "set a passphrase: `keychain-auth passwd`", "%s", d.st.Warning)
	default:
		d.add("at rest", verdictOK, "", "%s", d.st.AtRest)
	}
}

// atRestOffline reads what it can without a daemon: the store the daemon
// used last and, for the vault, whether a passphrase protects it.
func (d *doctor) atRestOffline() {
	if d.system {
		return // the tenant's files are the service user's
	}
	dir, err := config.DataDir()
	if err != nil {
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, backendRecordFile))
	last := strings.TrimSpace(string(b))
	exists, pass, err := backend.VaultProtection(dir)
	switch {
	case err != nil:
		d.add("at rest", verdictFail, "restore the vault file from a backup", "%v", err)
	case last == backend.NameSecretService:
		d.add("at rest", verdictWarn, "see `keychain-auth doctor` with the daemon running", "the daemon last used the Secret Service, which any program running as you can ask directly")
	case exists && !pass:
		d.add("at rest", verdictWarn, "set a passphrase: `keychain-auth passwd`", "the vault in %s is protected only by its 0600 key file", dir)
	case exists:
		d.add("at rest", verdictOK, "", "the vault in %s is protected by a passphrase", dir)
	}
}

func (d *doctor) checkPolicy() {
	cfg, path, err := d.loadPolicy()
	switch {
	case errors.Is(err, errPolicyNotHere):
		d.add("policy", verdictNote, "run `keychain-auth doctor` as the user, or `sudo keychain-auth policy --user NAME`", "%v", err)
		return
	case err != nil:
		d.add("policy", verdictFail, "fix the file (it is JSON; README \"Files\"); until then the daemon denies every request with internal_error",
			"%s does not parse: %v", path, err)
		return
	}
	unknown := cfg.UnknownFields()
	var typos, kept []string
	for _, f := range unknown {
		if want := likelyField(f); want != "" {
			typos = append(typos, fmt.Sprintf("%s (did you mean %s?)", f, want))
		} else {
			kept = append(kept, f.String())
		}
	}
	n := len(cfg.RegisteredBinaries)
	switch {
	case len(typos) > 0:
		d.add("policy", verdictFail, "rename the field; a misspelled permission grants nothing",
			"%s parses (%d entries), but these fields are ignored: %s", path, n, strings.Join(typos, ", "))
	case len(kept) > 0:
		d.add("policy", verdictWarn, "remove them if they are not meant for another tool; they are kept when the CLI rewrites the file",
			"%s parses (%d entries); fields this version does not know are ignored: %s", path, n, strings.Join(kept, ", "))
	default:
		d.add("policy", verdictOK, "", "%s parses (%d entries)", path, n)
	}
}

// errPolicyNotHere: the policy is not readable from this process (system
// mode, root without a target user).
var errPolicyNotHere = errors.New("the policy to check is not known here")

// loadPolicy reads the policy that applies to the caller: its own file in
// user mode, the daemon's VIEW in system mode without root, the SUDO_UID
// user's file as root.
func (d *doctor) loadPolicy() (*config.Config, string, error) {
	if !d.system {
		path := policyPathFor(broker.ModeUser)
		cfg, err := config.Load(path)
		return cfg, path, err
	}
	layout := config.System()
	if os.Geteuid() != 0 {
		if d.st == nil {
			return nil, "", fmt.Errorf("%w: system mode reads your policy through the daemon, which does not answer", errPolicyNotHere)
		}
		s := &policyScope{system: true, layout: layout, uid: uint32(os.Getuid()), viaDaemon: true, socket: d.socket}
		v, err := s.fetchView()
		if err != nil {
			return nil, "your policy (through the daemon)", err
		}
		cfg, err := config.Parse(v.Config)
		return cfg, "your policy (through the daemon)", err
	}
	if os.Getenv("SUDO_UID") == "" {
		return nil, "", fmt.Errorf("%w: as root, run it with sudo from the user's account", errPolicyNotHere)
	}
	uid, err := targetUser("")
	if err != nil {
		return nil, "", err
	}
	path := layout.PolicyPath(uid)
	cfg, err := config.Load(path)
	return cfg, path, err
}

// likelyField names the known field an unknown one probably meant: the
// same name in another case or with - for _, or one within two edits.
func likelyField(f config.UnknownField) string {
	top, entry := config.KnownFields()
	known := top
	if f.Entry {
		known = entry
	}
	name := strings.ReplaceAll(strings.ToLower(f.Name), "-", "_")
	best, bestDist := "", 3
	for _, k := range known {
		if name == k {
			return k
		}
		if dist := editDistance(name, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short ASCII names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func (d *doctor) checkPending() {
	var recs []config.PendingRecord
	var err error
	switch {
	case !d.system:
		dir, derr := config.Dir()
		if derr != nil {
			return
		}
		recs, err = (&config.Pending{Path: filepath.Join(dir, config.PendingFile)}).List()
	case os.Geteuid() != 0 && d.st != nil:
		scope = &policyScope{system: true, layout: config.System(), uid: uint32(os.Getuid()), viaDaemon: true, socket: d.socket}
		recs, err = pendingRecords()
		scope = nil
	default:
		return
	}
	switch {
	case err != nil:
		d.add("pending", verdictWarn, "see `keychain-auth list-pending`", "cannot read the approval queue: %v", err)
	case len(recs) > 0:
		d.add("pending", verdictWarn, "review them: `keychain-auth list-pending`, then `keychain-auth approve HASH` (or leave them to expire after 24 hours)",
			"%d program(s) were refused and wait for approval: %s", len(recs), pendingNames(recs))
	default:
		d.add("pending", verdictOK, "", "no program waits for approval")
	}
}

// pendingNames lists up to three queued paths.
func pendingNames(recs []config.PendingRecord) string {
	var names []string
	for i, r := range recs {
		if i == 3 {
			names = append(names, "...")
			break
		}
		names = append(names, printable(r.Path))
	}
	return strings.Join(names, ", ")
}

func (d *doctor) checkVersions() {
	if d.st == nil {
		return
	}
	if d.st.Version != version {
		d.add("versions", verdictFail, "restart the daemon (`systemctl --user restart keychain-auth`, or stop and start `keychain-auth serve`)",
			"daemon %s, this CLI %s: the daemon relays only for the CLI it started from, so scripts are refused", d.st.Version, version)
		return
	}
	d.add("versions", verdictOK, "", "daemon and CLI are both %s", version)
}

func (d *doctor) checkKernel() {
	k := kernelFeatures()
	if !k.known {
		d.add("kernel", verdictNote, "", "the kernel probes are for Linux; not run here")
		return
	}
	have := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	detail := fmt.Sprintf("SO_PEERPIDFD %s, SO_PASSPIDFD %s, pidfs %s", have(k.peerPidfd), have(k.passPidfd), have(k.pidfs))
	verdict, fix := verdictOK, ""
	if !k.peerPidfd || !k.pidfs {
		verdict, fix = verdictWarn, "a Linux 6.9 or newer kernel gives identification its full strength (SECURITY.md)"
		detail += " (identification falls back to pidfd_open and start times: reduced assurance)"
	}
	switch k.yama {
	case "":
		detail += "; Yama is off: any program running as you can ptrace your registered programs"
		if verdict == verdictOK {
			verdict, fix = verdictWarn, "a kernel with Yama (ptrace_scope 1) stops that; system mode keeps the CLI itself out of reach either way"
		}
	case "0":
		detail += "; Yama ptrace_scope 0: any program running as you can ptrace your registered programs"
		if verdict == verdictOK {
			verdict, fix = verdictWarn, "`echo 1 | sudo tee /proc/sys/kernel/yama/ptrace_scope` (and kernel.yama.ptrace_scope = 1 in /etc/sysctl.d)"
		}
	default:
		detail += "; Yama ptrace_scope " + k.yama
	}
	d.add("kernel", verdict, fix, "%s", detail)
}

// kernelReport is what kernelFeatures found; known is false where there is
// no probe (not Linux).
type kernelReport struct {
	known                       bool
	peerPidfd, passPidfd, pidfs bool
	yama                        string // ptrace_scope, "" without Yama
}

func (d *doctor) print(c *cli.Context) error {
	failed := 0
	for _, f := range d.findings {
		if f.Verdict == verdictFail {
			failed++
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"ok": failed == 0, "checks": d.findings}); err != nil {
			return err
		}
	} else {
		for _, f := range d.findings {
			line := fmt.Sprintf("%-4s  %-9s %s", f.Verdict, f.Check+":", f.Detail)
			if f.Fix != "" {
				line += "; fix: " + f.Fix
			}
			fmt.Fprintln(c.App.Writer, line)
		}
	}
	if failed > 0 {
		return fail(exitError, "%d check(s) need action", failed)
	}
	return nil
}

// errText is an error's message without the CLI's hints.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
