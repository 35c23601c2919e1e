#!/usr/bin/env bash
# The Windows test lane under Wine (issue 10): builds the Windows test
# binaries and runs them with wine, for the tests where Wine behaves like
# Windows (named pipe server and client, identification of a real client
# process and its image hash, the Credential Manager conformance suite).
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
wineserver -p
trap 'wineserver -k || true' EXIT
wine cmd /c exit </dev/null >/dev/null 2>&1 || true

# The packages and tests that Wine runs faithfully. TestWine* and
# TestWindows* are the Windows tests (transport/pipe_windows_test.go,
# auth/identify_windows_test.go); TestWincredConformance is the
# Credential Manager suite. Others need os.RemoveAll (t.TempDir), which
# Go 1.25+ cannot do under Wine 8.
export KEYCHAIN_AUTH_UNDER_WINE=1 KEYCHAIN_AUTH_REQUIRE_WINCRED=1
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -count=1 -exec wine "$@" \
	-run '^(TestWindows|TestWincred)' ./transport/ ./auth/ ./backend/
