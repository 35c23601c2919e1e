#!/bin/sh
# with-secret-service.sh CMD [ARG...]
#
# Runs CMD inside a private D-Bus session with a fresh gnome-keyring whose
# "login" collection is unlocked (the default alias points to it), exports
# KEYCHAIN_AUTH_TEST_SECRET_SERVICE=1 so the Secret Service tests run, and
# exits with CMD's exit code. Nothing touches the caller's own session bus or
# keyring: the bus, XDG_RUNTIME_DIR and XDG_DATA_HOME are temporary and removed
# afterwards; the keyring daemon ends with the session.
#
# Needs dbus-run-session (package dbus) and gnome-keyring-daemon (package
# gnome-keyring). Never install dbus-x11: its dbus-launch autolaunches buses.
#
# KEYCHAIN_AUTH_TEST_KEYRING_PASSWORD overrides the throwaway unlock password
# (a test of a locked keyring starts a second keyring with a wrong one).
set -eu

if [ "$#" -eq 0 ]; then
	echo "usage: $0 CMD [ARG...]" >&2
	exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon dbus-send; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$0: $tool not found (apt-get install -y gnome-keyring)" >&2
		exit 1
	fi
done

base=$(mktemp -d "${TMPDIR:-/tmp}/ka-secret-service.XXXXXX")
trap 'rm -rf "$base"' EXIT INT TERM
mkdir -m 0700 "$base/runtime" "$base/data"
chmod 0700 "$base"

# The inner script runs inside the new session; "$@" is passed through as is.
inner='
set -eu
printf "%s" "$KA_KEYRING_PASSWORD" |
	gnome-keyring-daemon --unlock --components=secrets >/dev/null
unset KA_KEYRING_PASSWORD
i=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus \
	/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
	string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; do
	i=$((i + 1))
	if [ "$i" -gt 100 ]; then
		echo "with-secret-service: org.freedesktop.secrets never appeared" >&2
		exit 1
	fi
	sleep 0.1
done
export KEYCHAIN_AUTH_TEST_SECRET_SERVICE=1
status=0
"$@" || status=$?
exit "$status"
'

status=0
XDG_RUNTIME_DIR="$base/runtime" XDG_DATA_HOME="$base/data" \
	KA_KEYRING_PASSWORD="${KEYCHAIN_AUTH_TEST_KEYRING_PASSWORD:-keychain-auth-test-keyring}" \
	dbus-run-session -- sh -c "$inner" with-secret-service "$@" || status=$?
exit "$status"
