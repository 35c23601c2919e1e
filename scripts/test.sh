#!/usr/bin/env bash
# The project's one test command (README "Tests"): every package, with a
# real gnome-keyring behind the Secret Service tests when one can be started.
# Extra arguments go to `go test` (for example -run, -v).
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v gnome-keyring-daemon >/dev/null 2>&1 && command -v dbus-run-session >/dev/null 2>&1; then
	exec ./scripts/with-secret-service.sh go test -count=1 "$@" ./...
fi
if [ "${KEYCHAIN_AUTH_REQUIRE_SECRET_SERVICE:-}" = 1 ]; then
	echo "test.sh: gnome-keyring-daemon or dbus-run-session missing, and the Secret Service tests are required" >&2
	exit 1
fi
echo "test.sh: no gnome-keyring here: the Secret Service tests will skip (apt-get install gnome-keyring)" >&2
exec go test -count=1 "$@" ./...
