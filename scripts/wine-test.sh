#!/usr/bin/env bash
# The Windows test lane under Wine (issue 10): builds the Windows test
# binaries and runs them with wine, for the tests where Wine behaves like
# Windows (named pipe server and client, identification of a real client
# process and its image hash, the Credential Manager conformance suite,
# `keychain-auth serve` on a pipe driven by real clients).
# What Wine does not enforce (pipe DACLs, FILE_FLAG_FIRST_PIPE_INSTANCE,
# the Credential Manager's size limits, symlinks, file DACLs, a second
# user) is tested only by the native Windows workflow
# (.github/workflows/ci.yml); a pass here is never counted for it.
#
# Needs: wine (Debian 12: packages wine64 + wine), binutils-mingw-w64-x86-64
# for the ProcessPrng stand-in. Installs them when missing (root, apt).
# The prefix is cached in $KEYCHAIN_AUTH_WINEPREFIX (default
# ~/.cache/keychain-auth/wine) and rebuilt when its stamp is missing.
# Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v wine >/dev/null 2>&1 || need+=(wine64 wine)
command -v x86_64-w64-mingw32-ld >/dev/null 2>&1 || need+=(binutils-mingw-w64-x86-64)
if [ "${#need[@]}" -gt 0 ]; then
	echo "wine-test: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null
fi

export WINEPREFIX="${KEYCHAIN_AUTH_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/keychain-auth/wine}"
export WINEARCH=win64 WINEDEBUG=-all
# No Mono or Gecko installer dialogs (no display, no stdin in CI); our
# bcryptprimitives.dll (native) before Wine's builtin one.
export WINEDLLOVERRIDES="mscoree,mshtml=;bcryptprimitives=n"
unset DISPLAY WAYLAND_DISPLAY

# stamp changes whenever the stand-in DLL's source does.
stamp="$WINEPREFIX/.keychain-auth-$(sha256sum scripts/wine/processprng.s | cut -c1-16)"
if [ ! -f "$stamp" ]; then
	echo "wine-test: building the prefix $WINEPREFIX"
	rm -rf "$WINEPREFIX"
	mkdir -p "$WINEPREFIX"
	wine wineboot --init </dev/null >/dev/null 2>&1 || true
	wineserver -w
	scripts/wine/build-processprng.sh "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
	touch "$stamp"
fi

# Wine's services must be up before the first test binary starts, or they
# inherit its output and go test reports "Test I/O incomplete".
# (-p fails when a server for this prefix already runs; that one serves.)
wineserver -p 2>/dev/null || true
bindir="$(mktemp -d)"
trap 'wineserver -k || true; rm -rf "$bindir"' EXIT
wine cmd /c exit </dev/null >/dev/null 2>&1 || true

# What Wine runs faithfully. Whole packages: transport (the pipe tests in
# pipe_windows_test.go among the portable ones), policy, secret, the
# conformance suite's own tests, broker (its portable test; the rest are
# Linux-only).
# In auth and backend only TestWindows*
# (auth/identify_windows_test.go: real client processes) and TestWincred*
# (the Credential Manager, its conformance suite required): their other
# tests need os.RemoveAll (t.TempDir), which Go 1.25+ cannot do under Wine 8.
export KEYCHAIN_AUTH_REQUIRE_WINCRED=1
export GOOS=windows GOARCH=amd64 CGO_ENABLED=0
# TestSuiteCatchesDefects (storetest) re-runs its own test binary six times
# and reads each child's output; under Wine that output now and then comes
# back empty (a CI run failed so, never reproduced here). It checks the
# suite itself, which has no Windows code, and runs in the Linux lane.
go test -count=1 -exec wine "$@" -skip '^TestSuiteCatchesDefects$' ./transport/ ./policy/ ./secret/ ./backend/storetest/ ./broker/
go test -count=1 -exec wine "$@" -run '^(TestWindows|TestWincred)' ./auth/ ./backend/ ./internal/atomicfile/
# config: the tests that need no temporary directory.
go test -count=1 -exec wine "$@" -run '^(TestParseErrors|TestEncodeOrderAndLists|TestEntryHelpers|TestHashes|TestDirs|TestDirsWindows)$' ./config/
# The end-to-end test (integration/windows_serve_test.go): the Windows build
# of `keychain-auth serve` on a pipe with the file vault, driven by the CLI
# and a compiled client. Wine has no Go toolchain, so the binaries are built
# here and handed over in KEYCHAIN_AUTH_WIN_BIN.
go build -tags urfave_cli_no_docs -trimpath -o "$bindir/keychain-auth.exe" .
go build -trimpath -o "$bindir/winclient.exe" ./integration/testdata/winclient
KEYCHAIN_AUTH_WIN_BIN="$bindir" go test -count=1 -exec wine "$@" -run '^TestWindows' ./integration/
