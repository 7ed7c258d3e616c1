#!/usr/bin/env bash
# Peak memory of a scan streaming 1,000,000 targets (no root). The targets are 1,000,000 addresses in
# 127.64.0.0/10 on a port where nothing listens: every connection is refused at once by this machine's
# own loopback, so the run measures what the scanner holds per target (host index, jobs, engine queues,
# output), not the network. Also 100,000 hosts x 10 domains (1,000,000 pairs).
# Usage: bench/memory_1m.sh [build/mitmscope]
set -eu
cd "$(dirname "$0")/.."
mitmscope=$(realpath "${1:-build/mitmscope}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk 'BEGIN { for (i = 0; i < 1000000; i++) printf "127.%d.%d.%d:9\n", 64 + int(i / 65536), int(i / 256) % 256, i % 256 }' >"$work/hosts-1m.txt"
head -n 100000 "$work/hosts-1m.txt" >"$work/hosts-100k.txt"
echo "example.com" >"$work/domain.txt"
for i in $(seq 1 10); do echo "www.site$i.example"; done >"$work/domains-10.txt"
echo "| targets | hosts x domains | wall s | CPU s | results/s | peak RSS MB |"
echo "|---|---|---|---|---|---|"
run() {
  local label=$1 hosts=$2 domains=$3
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$mitmscope" scan --hosts "$hosts" --domains "$domains" --allow-private \
    --controls 1 --host-rate 1000 --out - 2>/dev/null | wc -l >"$work/lines"
  read -r wall user sys rss < <(tail -n 1 "$work/time")
  printf "| %s | %s | %.1f | %.1f | %.0f | %.1f |\n" "$(cat "$work/lines")" "$label" "$wall" "$(echo "$user + $sys" | bc -l)" \
    "$(echo "$(cat "$work/lines") / $wall" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}
run "1,000,000 x 1" "$work/hosts-1m.txt" "$work/domain.txt"
run "100,000 x 10" "$work/hosts-100k.txt" "$work/domains-10.txt"
