#!/usr/bin/env bash
# Release check: validates .goreleaser.yaml and makes a throwaway snapshot of the
# Linux and Windows targets (archives, checksums, Homebrew cask, Scoop manifest),
# checks what it produced, then deletes dist/. Nothing is published and no remote
# is contacted. The macOS build skips itself off macOS (it needs cgo and Apple's
# SDK); see packaging/README.md for how a real release is made.
#
# Installs goreleaser with `go install` when the pinned version is missing
# (a few minutes the first time). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

want=v2.15.0
start=$SECONDS
say() { printf 'release-check: %s (%ds)\n' "$*" $((SECONDS - start)); }
fail() { printf 'release-check: FAIL: %s\n' "$*" >&2; exit 1; }

gobin=$(go env GOBIN)
gr=${gobin:-$(go env GOPATH)/bin}/goreleaser

installed() { [ -x "$gr" ] && "$gr" --version 2>/dev/null | grep -Eq "GitVersion:[[:space:]]+$want\$"; }
if ! installed; then
	say "installing goreleaser $want"
	# GOFLAGS may carry -mod=readonly for this module; it does not apply to
	# installing another module at a pinned version.
	GOFLAGS= go install "github.com/goreleaser/goreleaser/v2@$want"
	installed || fail "goreleaser $want not found at $gr after go install"
fi
say "using $gr ($want)"

say "goreleaser check"
"$gr" check || fail "goreleaser check"

out=$(mktemp)
trap 'rm -rf dist "$out"' EXIT
say "snapshot build (linux, windows; amd64, arm64)"
"$gr" release --snapshot --clean --skip=publish >"$out" 2>&1 || {
	cat "$out" >&2
	fail "goreleaser snapshot release"
}

say "checking dist/"
shopt -s nullglob
archives=(dist/keychain-auth_*_linux_amd64.tar.gz dist/keychain-auth_*_linux_arm64.tar.gz
	dist/keychain-auth_*_windows_amd64.zip dist/keychain-auth_*_windows_arm64.zip)
[ "${#archives[@]}" -eq 4 ] || fail "want 4 archives, got: ${archives[*]:-none}"

packaged=(README.md packaging/README.md packaging/systemd/keychain-auth.service
	packaging/launchd/com.keychain-auth.agent.plist)
for a in "${archives[@]}"; do
	case $a in
	*.zip) list=$(unzip -Z1 "$a") bin=keychain-auth.exe ;;
	*) list=$(tar -tzf "$a") bin=keychain-auth ;;
	esac
	for f in "$bin" "${packaged[@]}"; do
		grep -qx "$f" <<<"$list" || fail "$a lacks $f"
	done
done

(cd dist && sha256sum --quiet -c checksums.txt) || fail "checksums.txt does not match the archives"
[ "$(wc -l <dist/checksums.txt)" -eq 4 ] || fail "checksums.txt should list exactly the 4 archives"

cask=dist/homebrew/Casks/keychain-auth.rb
scoop=dist/scoop/keychain-auth.json
[ -s "$cask" ] || fail "no Homebrew cask at $cask"
[ -s "$scoop" ] || fail "no Scoop manifest at $scoop"
grep -q 'binary "keychain-auth"' "$cask" || fail "cask does not install the binary"
for a in "${archives[@]}"; do
	sum=$(sha256sum "$a" | cut -d' ' -f1)
	case $a in
	*linux*) grep -q "$sum" "$cask" || fail "cask lacks the sha256 of $a" ;;
	*windows*) grep -q "$sum" "$scoop" || fail "Scoop manifest lacks the hash of $a" ;;
	esac
done

# The host's own binary must run and carry the release version and build flags.
host=$(go env GOARCH)
bin=$(ls -d dist/portable_linux_"$host"*/keychain-auth 2>/dev/null | head -n1)
if [ "$(go env GOOS)" = linux ] && [ -n "$bin" ]; then
	ver=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' dist/metadata.json)
	out=$("$bin" version)
	[ "$out" = "keychain-auth $ver" ] || fail "$bin version printed '$out', want 'keychain-auth $ver'"
	info=$(go version -m "$bin")
	for want_flag in 'CGO_ENABLED=0' '-trimpath=true' '-tags=urfave_cli_no_docs'; do
		grep -q -- "$want_flag" <<<"$info" || fail "$bin was not built with $want_flag"
	done
fi

say "ok: 4 archives, checksums, cask and Scoop manifest; dist/ removed"
