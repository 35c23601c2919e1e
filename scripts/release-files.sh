#!/bin/sh
# goreleaser "before" hook (.goreleaser.yaml): writes the release files that
# are generated rather than kept in git into build/release/ (gitignored).
#
#   completions/  bash, zsh, fish and PowerShell completion scripts, printed
#                 by the binary's own `completion` command, so they match the
#                 commands of the release they ship with.
#   systemd/      the two units as the .deb and .rpm install them: ExecStart=
#                 names /usr/bin/keychain-auth, where the packages put the
#                 binary. The files in packaging/systemd/ name
#                 /usr/local/bin, where packaging/README.md tells people who
#                 unpack an archive to put it.
#
# POSIX sh: it runs on Linux (CI, scripts/release-check.sh) and on the macOS
# release runner.
set -eu
cd "$(dirname "$0")/.."

out=build/release
rm -rf "$out"
mkdir -p "$out/completions" "$out/systemd"

host_bin=$out/keychain-auth-host
CGO_ENABLED=0 go build -trimpath -tags urfave_cli_no_docs -o "$host_bin" .
"$host_bin" completion bash >"$out/completions/keychain-auth.bash"
"$host_bin" completion zsh >"$out/completions/_keychain-auth"
"$host_bin" completion fish >"$out/completions/keychain-auth.fish"
"$host_bin" completion powershell >"$out/completions/keychain-auth.ps1"
rm -f "$host_bin"

# Packaged units: the binary is /usr/bin/keychain-auth, and a header says how
# to enable them (the packages enable nothing).
header_user='# Installed by the keychain-auth package, disabled. Enable for your user:
#   systemctl --user enable --now keychain-auth
'
header_system='# Installed by the keychain-auth package, disabled. System mode needs its
# service user and directories first; `install --system` makes them and writes
# /etc/systemd/system/keychain-auth.service, which takes precedence over this
# file:
#   sudo keychain-auth install --system
#   sudo systemctl enable --now keychain-auth
'
pkg_unit() { # src dst header
	{
		printf '%s' "$3"
		sed 's|^ExecStart=/usr/local/bin/keychain-auth |ExecStart=/usr/bin/keychain-auth |' "$1"
	} >"$2"
	if ! grep -q '^ExecStart=/usr/bin/keychain-auth ' "$2" ||
		grep -v '^#' "$2" | grep -q '/usr/local/bin'; then
		echo "release-files: $1: ExecStart= is not /usr/local/bin/keychain-auth ...; update scripts/release-files.sh" >&2
		exit 1
	fi
}
pkg_unit packaging/systemd/keychain-auth.service "$out/systemd/keychain-auth.service" "$header_user"
pkg_unit packaging/systemd/keychain-auth-system.service "$out/systemd/keychain-auth-system.service" "$header_system"
