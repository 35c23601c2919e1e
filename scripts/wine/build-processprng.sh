#!/usr/bin/env bash
# Builds processprng.s into bcryptprimitives.dll at $1 (x86-64 PE, exports
# ProcessPrng, imports advapi32!SystemFunction036). Needs binutils-mingw-w64-x86-64.
set -euo pipefail
out=$1
src=$(cd "$(dirname "$0")" && pwd)/processprng.s
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'LIBRARY advapi32.dll\nEXPORTS\nSystemFunction036\n' >"$tmp/advapi32.def"
printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n' >"$tmp/prng.def"
x86_64-w64-mingw32-dlltool -d "$tmp/advapi32.def" -l "$tmp/libadvapi32.a"
x86_64-w64-mingw32-dlltool -d "$tmp/prng.def" -e "$tmp/prng.exp"
x86_64-w64-mingw32-as -o "$tmp/prng.o" "$src"
x86_64-w64-mingw32-ld --dll --entry DllMain -o "$tmp/bcryptprimitives.dll" \
	"$tmp/prng.o" "$tmp/prng.exp" "$tmp/libadvapi32.a"
install -m 0644 "$tmp/bcryptprimitives.dll" "$out"
