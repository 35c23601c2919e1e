#!/usr/bin/env bash
# Release check (issue 12): everything about a release that can be checked
# offline, on Linux, without secrets. Nothing is published and no remote is
# contacted. What it cannot check (the macOS build, Apple signing, publishing,
# brew and scoop installing) is listed in docs/releasing.md.
#
#   1. goreleaser check;
#   2. a Linux/Windows snapshot, built twice (the first time in a fresh clone
#      at another path when the tree is clean): archives, packages and SBOMs
#      must be byte-identical (checksums.txt compared line by line);
#   3. the archives' entries, owners and times; checksums.txt against the
#      files; its minisign signature (made with a throwaway key) verifies, and
#      a changed checksums.txt does not; the SBOMs against the binaries;
#   4. the Homebrew cask (ruby -c) and the Scoop manifest (JSON, fields);
#   5. the .deb and .rpm contents and metadata; the .deb installed on this
#      machine (dpkg -i), its binary run from /usr/bin, its units checked with
#      systemd-analyze verify, its bash completion loaded, then purged.
#
# Needs: go, minisign, ruby, rpm, dpkg-deb, systemd-analyze, python3, unzip
# (.ci/run installs them). Installs goreleaser and cyclonedx-gomod with
# `go install` at pinned versions when missing (goreleaser: minutes the first
# time). Step 5 installs a package, so it runs as root only, and refuses to
# touch a keychain-auth that this script did not install.
set -euo pipefail
cd "$(dirname "$0")/.."

goreleaser_version=v2.15.0
cyclonedx_version=v1.10.0

start=$SECONDS
say() { printf 'release-check: %s (%ds)\n' "$*" $((SECONDS - start)); }
fail() {
	printf 'release-check: FAIL: %s\n' "$*" >&2
	exit 1
}

for tool in go minisign ruby rpm dpkg-deb systemd-analyze python3 unzip; do
	command -v "$tool" >/dev/null || fail "$tool is missing (.ci/run installs it)"
done

# ---- tools -----------------------------------------------------------------
gobin=$(go env GOBIN)
gobin=${gobin:-$(go env GOPATH)/bin}
gr=$gobin/goreleaser
cdx=$gobin/cyclonedx-gomod
export PATH=$gobin:$PATH

gr_ok() { [ -x "$gr" ] && "$gr" --version 2>/dev/null | grep -Eq "GitVersion:[[:space:]]+$goreleaser_version\$"; }
cdx_ok() { [ -x "$cdx" ] && "$cdx" version 2>/dev/null | grep -Eq "Version:[[:space:]]+$cyclonedx_version\$"; }
# GOFLAGS may carry -mod=readonly for this module; it does not apply to
# installing another module at a pinned version.
if ! gr_ok; then
	say "installing goreleaser $goreleaser_version"
	GOFLAGS= go install "github.com/goreleaser/goreleaser/v2@$goreleaser_version"
	gr_ok || fail "goreleaser $goreleaser_version not found at $gr after go install"
fi
if ! cdx_ok; then
	say "installing cyclonedx-gomod $cyclonedx_version"
	GOFLAGS= go install "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$cyclonedx_version"
	cdx_ok || fail "cyclonedx-gomod $cyclonedx_version not found at $cdx after go install"
fi
say "goreleaser $goreleaser_version, cyclonedx-gomod $cyclonedx_version"

# ---- throwaway signing key, cleanup ----------------------------------------
tmp=$(mktemp -d)
deb_installed=
cleanup() {
	if [ -n "$deb_installed" ]; then
		dpkg --purge keychain-auth >/dev/null || echo "release-check: could not purge keychain-auth" >&2
	fi
	rm -rf dist build/release "$tmp"
}
trap cleanup EXIT

# -W: no password, so nothing waits for a terminal. The release signs with a
# password-protected key; .goreleaser.yaml passes MINISIGN_PASSWORD on stdin.
minisign -G -W -p "$tmp/minisign.pub" -s "$tmp/minisign.key" >/dev/null
export MINISIGN_SECRET_KEY_FILE=$tmp/minisign.key
unset MINISIGN_PASSWORD MACOS_SIGN_P12

# ---- 1, 2: check, snapshot twice --------------------------------------------
say "goreleaser check"
"$gr" check || fail "goreleaser check"

snapshot() {
	"$gr" release --snapshot --clean >"$tmp/goreleaser.log" 2>&1 || {
		cat "$tmp/goreleaser.log" >&2
		fail "goreleaser snapshot release ($1)"
	}
}
# The first build is made in a fresh clone of HEAD at another path (other
# file times, other absolute paths), when the working tree has no changes a
# clone would lack; otherwise both builds are made here.
if [ -z "$(git status --porcelain)" ]; then
	say "snapshot 1 of 2, in a fresh clone at $tmp/clone (linux, windows; amd64, arm64)"
	git clone -q --no-hardlinks . "$tmp/clone"
	(cd "$tmp/clone" && snapshot "1, in a clone")
	cp "$tmp/clone/dist/checksums.txt" "$tmp/checksums.first"
	rm -rf "$tmp/clone"
else
	say "snapshot 1 of 2, here: the working tree has changes (linux, windows; amd64, arm64)"
	snapshot 1
	cp dist/checksums.txt "$tmp/checksums.first"
fi
say "snapshot 2 of 2"
snapshot 2
if ! diff -u "$tmp/checksums.first" dist/checksums.txt; then
	fail "two builds of the same commit differ (lines above): not reproducible"
fi
say "reproducible: both builds gave the same $(wc -l <dist/checksums.txt) files"

# ---- 3: archives, checksums, signature, SBOMs -------------------------------
ver=$(python3 -c 'import json; print(json.load(open("dist/metadata.json"))["version"])')
# Download URLs name the tag (a snapshot keeps the last tag, or v0.0.0).
tag=$(python3 -c 'import json; print(json.load(open("dist/metadata.json"))["tag"])')
commit_ts=$(git show -s --format=%ct HEAD)
[ -n "$ver" ] || fail "no version in dist/metadata.json"
say "checking dist/ (version $ver)"

archives=()
for t in linux_amd64.tar.gz linux_arm64.tar.gz windows_amd64.zip windows_arm64.zip; do
	a=dist/keychain-auth_${ver}_$t
	[ -f "$a" ] || fail "missing archive $a"
	archives+=("$a")
done
# Packages spell a pre-release with "~" (0.0.1~next sorts before 0.0.1).
pkgver=${ver//-/\~}
debs=(dist/keychain-auth_"${pkgver}"_amd64.deb dist/keychain-auth_"${pkgver}"_arm64.deb)
rpms=(dist/keychain-auth-"${pkgver}"-1.x86_64.rpm dist/keychain-auth-"${pkgver}"-1.aarch64.rpm)
sboms=()
for a in "${archives[@]}"; do
	s=${a%.tar.gz}
	sboms+=("${s%.zip}.sbom.json")
done
for f in "${debs[@]}" "${rpms[@]}" "${sboms[@]}"; do
	[ -f "$f" ] || fail "missing $f (dist/ has: $(ls dist | tr '\n' ' '))"
done

# Archive entries: exactly these (goreleaser packs the working tree, so an
# untracked file under docs/, clients/ or packaging/ fails here).
git ls-files docs clients packaging >"$tmp/tracked"
[ -s "$tmp/tracked" ] || fail "git ls-files found nothing under docs/ clients/ packaging/"
python3 - "$commit_ts" "$tmp/tracked" "${archives[@]}" <<'PY' || fail "archive contents (above)"
import struct, sys, tarfile, zipfile
commit_ts, tracked = int(sys.argv[1]), sys.argv[2]
common = {"LICENSE", "README.md", "SECURITY.md", "completions/keychain-auth.bash",
          "completions/_keychain-auth", "completions/keychain-auth.fish",
          "completions/keychain-auth.ps1"}
common |= {l.strip() for l in open(tracked) if l.strip()}
bad = []
for path in sys.argv[3:]:
    exe = "keychain-auth.exe" if path.endswith(".zip") else "keychain-auth"
    want = common | {exe}
    got = {}
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            for i in z.infolist():
                if i.is_dir():
                    continue
                # The extended timestamp field (0x5455) holds the Unix mtime.
                ok_time, extra = False, i.extra
                while len(extra) >= 4:
                    tag, size = struct.unpack("<HH", extra[:4])
                    if tag == 0x5455 and size >= 5:
                        ok_time = struct.unpack("<I", extra[5:9])[0] == commit_ts
                    extra = extra[4 + size:]
                got[i.filename] = (ok_time, True, (i.external_attr >> 16) & 0o777)
    else:
        with tarfile.open(path) as t:
            for i in t.getmembers():
                if i.isdir():
                    continue
                owner = i.uid == 0 and i.gid == 0 and i.uname == "root" and i.gname == "root"
                got[i.name] = (i.mtime == commit_ts, owner, i.mode & 0o777)
    for name in sorted(want - got.keys()):
        bad.append(f"{path}: lacks {name}")
    for name in sorted(got.keys() - want):
        bad.append(f"{path}: has {name}, which is not a tracked file or a release file")
    for name, (ok_time, owner, mode) in sorted(got.items()):
        if not ok_time:
            bad.append(f"{path}: {name}: time is not the commit's")
        if not owner:
            bad.append(f"{path}: {name}: not owned by root:root")
        want_mode = 0o755 if name == exe else 0o644
        if mode and mode != want_mode:
            bad.append(f"{path}: {name}: mode {mode:o}, want {want_mode:o}")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

(cd dist && sha256sum --quiet --strict -c checksums.txt) || fail "checksums.txt does not match the files"
listed=$(awk '{print "dist/" $2}' dist/checksums.txt | sort)
expected=$(printf '%s\n' "${archives[@]}" "${debs[@]}" "${rpms[@]}" "${sboms[@]}" | sort)
[ "$listed" = "$expected" ] || fail "checksums.txt lists $(echo $listed), want $(echo $expected)"

[ -f dist/checksums.txt.minisig ] || fail "no dist/checksums.txt.minisig"
minisign -Vqm dist/checksums.txt -p "$tmp/minisign.pub" || fail "the signature of checksums.txt does not verify"
grep -q "trusted comment: keychain-auth $ver checksums.txt" dist/checksums.txt.minisig ||
	fail "the signature's trusted comment does not name the release"
# The canary: one changed byte in checksums.txt must fail verification.
cp dist/checksums.txt.minisig "$tmp/tampered.txt.minisig"
{
	head -c1 dist/checksums.txt | tr '0-9a-f' '1-9a-f0'
	tail -c +2 dist/checksums.txt
} >"$tmp/tampered.txt"
cmp -s dist/checksums.txt "$tmp/tampered.txt" && fail "canary: tampering changed nothing"
if minisign -Vqm "$tmp/tampered.txt" -p "$tmp/minisign.pub" 2>/dev/null; then
	fail "canary: a changed checksums.txt verified"
fi

# SBOMs: CycloneDX, naming the release, listing exactly the modules the
# binary of the same archive embeds (go version -m), with their versions.
for i in "${!archives[@]}"; do
	case ${archives[$i]} in
	*linux_amd64*) bin=$(ls -d dist/portable_linux_amd64*/keychain-auth) ;;
	*linux_arm64*) bin=$(ls -d dist/portable_linux_arm64*/keychain-auth) ;;
	*windows_amd64*) bin=$(ls -d dist/portable_windows_amd64*/keychain-auth.exe) ;;
	*windows_arm64*) bin=$(ls -d dist/portable_windows_arm64*/keychain-auth.exe) ;;
	esac
	# "dep" lines, and the standard library at the Go version (-std).
	go version -m "$bin" | awk 'NR == 1 {print "std " $2} $1 == "dep" {print $2 " " $3}' | sort >"$tmp/deps"
	[ "$(wc -l <"$tmp/deps")" -gt 1 ] || fail "go version -m $bin lists no modules"
	python3 - "${sboms[$i]}" "$ver" "$tmp/deps" <<'PY' || fail "SBOM ${sboms[$i]} (above)"
import json, sys
path, ver, deps = sys.argv[1:]
bom = json.load(open(path))
bad = []
if bom.get("bomFormat") != "CycloneDX":
    bad.append("bomFormat is not CycloneDX")
main = bom.get("metadata", {}).get("component", {})
if main.get("name") != "github.com/keychain-auth/keychain-auth" or main.get("version") != "v" + ver:
    bad.append(f"main component is {main.get('name')} {main.get('version')}, want the module at v{ver}")
got = {f"{c.get('name')} {c.get('version')}" for c in bom.get("components", [])}
want = {l.strip() for l in open(deps) if l.strip()}
for m in sorted(want - got):
    bad.append(f"lacks {m}")
for m in sorted(got - want):
    bad.append(f"lists {m}, which the binary does not embed")
for b in bad:
    print(f"{path}: {b}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
done

# The host's binary carries the release version and the build flags.
if [ "$(go env GOOS)" = linux ]; then
	bin=$(ls -d dist/portable_linux_"$(go env GOARCH)"*/keychain-auth 2>/dev/null | head -n1)
	if [ -n "$bin" ]; then
		out=$("$bin" version)
		[ "$out" = "keychain-auth $ver" ] || fail "$bin version printed '$out', want 'keychain-auth $ver'"
		info=$(go version -m "$bin")
		for flag in 'CGO_ENABLED=0' '-trimpath=true' '-tags=urfave_cli_no_docs'; do
			grep -q -- "$flag" <<<"$info" || fail "$bin was not built with $flag"
		done
	fi
fi

# ---- 4: cask and Scoop manifest ---------------------------------------------
cask=dist/homebrew/Casks/keychain-auth.rb
scoop=dist/scoop/keychain-auth.json
[ -s "$cask" ] || fail "no Homebrew cask at $cask"
[ -s "$scoop" ] || fail "no Scoop manifest at $scoop"
ruby -c "$cask" >/dev/null || fail "$cask is not valid Ruby"
for want in 'binary "keychain-auth"' "version \"$ver\"" 'MIT' 'packaging/README.md' \
	'#{staged_path}' 'com.apple.quarantine' 'keychain-auth serve' \
	'bash_completion "completions/keychain-auth.bash"' 'zsh_completion "completions/_keychain-auth"' \
	'fish_completion "completions/keychain-auth.fish"' \
	"https://github.com/keychain-auth/keychain-auth/releases/download/$tag/keychain-auth_#{version}_linux_amd64.tar.gz"; do
	grep -qF -- "$want" "$cask" || fail "cask lacks: $want"
done
for a in "${archives[@]}"; do
	sum=$(sha256sum "$a" | cut -d' ' -f1)
	case $a in
	*linux*) grep -q "$sum" "$cask" || fail "cask lacks the sha256 of $a" ;;
	esac
done
python3 - "$scoop" "$ver" "$tag" "${archives[2]}" "${archives[3]}" <<'PY' || fail "Scoop manifest (above)"
import hashlib, json, os, sys
path, ver, tag, amd64, arm64 = sys.argv[1:]
m = json.load(open(path))
bad = []
for field in ("version", "architecture", "homepage", "license", "description", "post_install"):
    if not m.get(field):
        bad.append(f"no {field}")
if m.get("version") != ver:
    bad.append(f"version {m.get('version')}, want {ver}")
if m.get("license") != "MIT":
    bad.append(f"license {m.get('license')!r}, want MIT")
for arch, archive in (("64bit", amd64), ("arm64", arm64)):
    a = m.get("architecture", {}).get(arch, {})
    name = os.path.basename(archive)
    want_url = f"https://github.com/keychain-auth/keychain-auth/releases/download/{tag}/{name}"
    if a.get("url") != want_url:
        bad.append(f"{arch} url {a.get('url')}, want {want_url}")
    if a.get("hash") != hashlib.sha256(open(archive, "rb").read()).hexdigest():
        bad.append(f"{arch} hash does not match {name}")
    if "keychain-auth.exe" not in json.dumps(a.get("bin", m.get("bin"))):
        bad.append(f"{arch}: no bin keychain-auth.exe")
# goreleaser has no "notes" for Scoop: post_install prints them.
notes = "\n".join(m.get("post_install") or [])
for want in ("keychain-auth serve", "schtasks /Create /SC ONLOGON", "$dir", "MIT", "README.md"):
    if want not in notes:
        bad.append(f"post_install notes lack {want!r}")
for b in bad:
    print(f"{path}: {b}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# ---- 5: packages ------------------------------------------------------------
# What both packages must hold, with owner root:root and these modes.
pkg_files='/usr/bin/keychain-auth 755
/usr/lib/systemd/user/keychain-auth.service 644
/usr/lib/systemd/system/keychain-auth.service 644
/usr/share/bash-completion/completions/keychain-auth 644
/usr/share/fish/vendor_completions.d/keychain-auth.fish 644
/usr/share/doc/keychain-auth/LICENSE 644
/usr/share/doc/keychain-auth/README.md 644
/usr/share/doc/keychain-auth/SECURITY.md 644
/usr/share/doc/keychain-auth/packaging/README.md 644'
while read -r f; do pkg_files+=$'\n'"/usr/share/doc/keychain-auth/$f 644"; done < <(git ls-files docs clients)

for deb in "${debs[@]}"; do
	arch=$(dpkg-deb -f "$deb" Architecture)
	[ "$(dpkg-deb -f "$deb" Package)" = keychain-auth ] || fail "$deb: Package is not keychain-auth"
	[ "$(dpkg-deb -f "$deb" Version)" = "$pkgver" ] || fail "$deb: Version is not $pkgver"
	case $deb in *_"$arch".deb) ;; *) fail "$deb: Architecture $arch does not match its name" ;; esac
	# No maintainer scripts: nothing is enabled or started by installing.
	scripts=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -Ev '^\./(control|md5sums|conffiles)?$' || true)
	[ -z "$scripts" ] || fail "$deb has maintainer scripts: $scripts"
	dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6, $2, $1}' >"$tmp/deb.list"
	extra='/usr/share/zsh/vendor-completions/_keychain-auth 644
/usr/share/doc/keychain-auth/copyright 644'
	while read -r f mode; do
		line=$(awk -v f="$f" '$1 == f' "$tmp/deb.list")
		[ -n "$line" ] || fail "$deb lacks $f"
		set -- $line
		[ "$2" = root/root ] || fail "$deb: $f is owned by $2"
		perm=$(python3 -c 'import sys; s=sys.argv[1][1:]; print(oct(sum(1<<(8-i) for i,c in enumerate(s) if c!="-"))[2:])' "$3")
		[ "$perm" = "$mode" ] || fail "$deb: $f has mode $perm ($3), want $mode"
	done <<<"$pkg_files"$'\n'"$extra"
done

for rpm in "${rpms[@]}"; do
	rpm -K --nosignature "$rpm" >/dev/null || fail "$rpm: digests do not match"
	info=$(rpm -qp --qf '%{NAME} %{VERSION} %{LICENSE}\n' "$rpm" 2>/dev/null)
	[ "$info" = "keychain-auth $pkgver MIT" ] || fail "$rpm: name/version/license are '$info'"
	[ -z "$(rpm -qp --scripts "$rpm" 2>/dev/null)" ] || fail "$rpm has scriptlets"
	rpm -qp --qf '[%{FILENAMES} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEMODES:octal}\n]' "$rpm" 2>/dev/null >"$tmp/rpm.list"
	while read -r f mode; do
		line=$(awk -v f="$f" '$1 == f' "$tmp/rpm.list")
		[ -n "$line" ] || fail "$rpm lacks $f"
		set -- $line
		[ "$2" = root:root ] || fail "$rpm: $f is owned by $2"
		[ "${3: -3}" = "$mode" ] || fail "$rpm: $f has mode $3, want $mode"
	done <<<"$pkg_files"$'\n''/usr/share/zsh/site-functions/_keychain-auth 644'
done

# Install the .deb for this machine, use it, remove it.
host_deb=
case $(dpkg --print-architecture 2>/dev/null) in
amd64) host_deb=${debs[0]} ;;
arm64) host_deb=${debs[1]} ;;
esac
if [ "$(id -u)" != 0 ] || [ -z "$host_deb" ]; then
	say "SKIPPED installing the .deb: needs root on amd64 or arm64 Debian"
else
	# One installer at a time on this machine.
	exec 9>/run/lock/keychain-auth-release-check.lock
	flock -w 600 9 || fail "another release check holds /run/lock/keychain-auth-release-check.lock"
	if dpkg -s keychain-auth >/dev/null 2>&1; then
		installed=$(dpkg-query -W -f '${Version}' keychain-auth)
		case $installed in
		*~next) say "purging keychain-auth $installed left by an interrupted check"
			dpkg --purge keychain-auth >/dev/null ;;
		*) fail "keychain-auth $installed is installed on this machine; not touching it" ;;
		esac
	fi
	for f in /usr/bin/keychain-auth /usr/lib/systemd/system/keychain-auth.service /usr/lib/systemd/user/keychain-auth.service; do
		[ ! -e "$f" ] || fail "$f exists and belongs to no package; not overwriting it"
	done
	say "installing $host_deb (dpkg -i)"
	deb_installed=1
	dpkg -i "$host_deb" >/dev/null || fail "dpkg -i $host_deb"
	out=$(/usr/bin/keychain-auth version)
	[ "$out" = "keychain-auth $ver" ] || fail "/usr/bin/keychain-auth version printed '$out'"
	[ "$(stat -c '%U:%G %a' /usr/bin/keychain-auth)" = "root:root 755" ] ||
		fail "/usr/bin/keychain-auth is $(stat -c '%U:%G %a' /usr/bin/keychain-auth)"
	# Disabled: no unit is enabled anywhere.
	enabled=$(find /etc/systemd /usr/lib/systemd -name keychain-auth.service -path '*.wants/*' 2>/dev/null)
	[ -z "$enabled" ] || fail "installing enabled a unit: $enabled"
	# systemd-analyze works offline (no systemd running here): it loads the
	# unit, checks its settings and that ExecStart's binary exists. It exits 0
	# on an unknown key (a warning), so any output fails too. --user needs a
	# runtime directory.
	mkdir -m 0700 "$tmp/xdg"
	verify() {
		XDG_RUNTIME_DIR=$tmp/xdg systemd-analyze "$@" >"$tmp/verify" 2>&1 && [ ! -s "$tmp/verify" ]
	}
	verify verify /usr/lib/systemd/system/keychain-auth.service || {
		cat "$tmp/verify" >&2
		fail "systemd-analyze verify (system unit)"
	}
	verify --user verify /usr/lib/systemd/user/keychain-auth.service || {
		cat "$tmp/verify" >&2
		fail "systemd-analyze --user verify (user unit)"
	}
	# The canary: the same check fails a unit with an unknown key.
	printf '[Service]\nExecStart=/usr/bin/keychain-auth serve\nNoSuchSetting=1\n' >"$tmp/canary.service"
	if verify --user verify "$tmp/canary.service"; then
		fail "canary: systemd-analyze verify passed a unit with an unknown key"
	fi
	bash -c 'source /usr/share/bash-completion/completions/keychain-auth && complete -p keychain-auth' >/dev/null ||
		fail "the packaged bash completion does not load"
	dpkg --purge keychain-auth >/dev/null || fail "dpkg --purge keychain-auth"
	deb_installed=
	for f in /usr/bin/keychain-auth /usr/lib/systemd/system/keychain-auth.service /usr/share/doc/keychain-auth; do
		[ ! -e "$f" ] || fail "$f is still there after dpkg --purge"
	done
	say "the .deb installed, ran, verified and purged"
fi

say "ok: reproducible snapshot; 4 archives, 4 packages, 4 SBOMs, signed checksums, cask and Scoop manifest; dist/ removed"
