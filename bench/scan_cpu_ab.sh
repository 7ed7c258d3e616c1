#!/usr/bin/env bash
# Scan CPU, one build against another, in one run: each binary's `scan` and nmap's ssl-cert beside them,
# alternating, RUNS times, on the kz-2019 lab's bypass hosts (genuine answers: the same work every time) from
# the vantage namespace. CPU = user+sys of the process tree. On a 2-core machine one run's CPU varies by up to
# 40 %, so a change is only seen in the medians of alternating runs, with nmap's own spread as the noise floor.
# Usage: bench/scan_cpu_ab.sh RUNS BINARY [BINARY...]   (root; HOSTS=200 DOMAINS=5)
set -eu
cd "$(dirname "$0")/.."
runs=$1
shift
binaries=()
for binary in "$@"; do binaries+=("$(realpath "$binary")"); done
hosts_n=${HOSTS:-200}
domains_n=${DOMAINS:-5}
[ "$(id -u)" -eq 0 ] || { echo "bench/scan_cpu_ab.sh needs root (the lab)" >&2; exit 1; }
state=$(mktemp -d)/lab
work=$(mktemp -d)
lab() { "${binaries[0]}" lab --state-dir "$state" "$@"; }
trap 'lab down >/dev/null 2>&1 || true; rm -rf "$work" "$(dirname "$state")"' EXIT
lab up >/dev/null
jq -r ".bypass_hosts[0:$hosts_n][]" "$state/ground-truth.json" >"$work/ips.txt"
sed 's/$/:443/' "$work/ips.txt" >"$work/targets.txt"
for i in $(seq 1 "$domains_n"); do echo "www.site$i.example"; done >"$work/domains.txt"

cpu() {  # cpu COMMAND...: CPU seconds of COMMAND run in the vantage namespace
  /usr/bin/time -f "%U %S" -o "$work/time" "${binaries[0]}" lab --state-dir "$state" exec -- "$@" >/dev/null 2>&1 || true
  awk '{printf "%.2f", $1 + $2}' "$work/time"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
declare -A seen
for run in $(seq 1 "$runs"); do
  for binary in "${binaries[@]}" nmap; do
    if [ "$binary" = nmap ]; then
      seen[nmap]+="$(cpu bash -c "while read -r sni; do nmap -Pn -n -p 443 --script ssl-cert --script-args tls.servername=\$sni \
        -iL '$work/ips.txt' -oN /dev/null >/dev/null; done <'$work/domains.txt'") "
    else
      seen[$binary]+="$(cpu "$binary" scan --hosts "$work/targets.txt" --domains "$work/domains.txt" --allow-private \
        --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots" --controls 1 --host-rate 1000 \
        --concurrency 500 --out /dev/null) "
    fi
  done
done
echo "CPU seconds for $((hosts_n * domains_n)) (host, SNI) pairs, $runs alternating runs"
echo
echo "| binary | runs | median |"
echo "|---|---|---|"
for binary in "${binaries[@]}" nmap; do
  echo "| $binary | ${seen[$binary]% } | $(echo "${seen[$binary]}" | median) |"
done
