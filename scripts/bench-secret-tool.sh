#!/bin/sh
# bench-secret-tool.sh [RUNS]
#
# Yardstick for keychain-auth's client latency: how long one whole
# `secret-tool lookup` process takes against a gnome-keyring (process start,
# D-Bus connection, session, search, secret transfer, exit). It runs inside
# scripts/with-secret-service.sh (a throwaway bus and keyring), stores one
# item, runs the lookup RUNS times (default 50) and prints the median in
# milliseconds. Needs secret-tool (package libsecret-tools).
set -eu
runs=${1:-50}
here=$(cd "$(dirname "$0")" && pwd)
command -v secret-tool >/dev/null 2>&1 || {
	echo "$0: secret-tool not found (apt-get install -y libsecret-tools)" >&2
	exit 1
}
if [ "${KEYCHAIN_AUTH_TEST_SECRET_SERVICE:-}" != 1 ]; then
	exec "$here/with-secret-service.sh" "$0" "$runs"
fi
printf 'bench-value' | secret-tool store --label='keychain-auth bench' application keychain-auth-bench key k
secret-tool lookup application keychain-auth-bench key k >/dev/null # warm up
i=0
times=""
while [ "$i" -lt "$runs" ]; do
	start=$(date +%s%N)
	secret-tool lookup application keychain-auth-bench key k >/dev/null
	end=$(date +%s%N)
	times="$times $(((end - start) / 1000))"
	i=$((i + 1))
done
# Median of the microsecond samples, printed in milliseconds.
printf '%s\n' $times | sort -n | awk '{a[NR]=$1} END {
	m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
	printf "secret-tool lookup: median %.2f ms over %d runs (min %.2f, max %.2f)\n", m/1000, NR, a[1]/1000, a[NR]/1000
}'
