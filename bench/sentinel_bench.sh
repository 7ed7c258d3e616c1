#!/usr/bin/env bash
# sentinel --pcap beside tshark (Wireshark 4.0, Debian 12) on the same capture: ClientHellos per second, peak
# memory, and whether both found the same (client, port, JA3) for every flow. tshark 4.0 has JA3, not JA4.
# Usage: bench/sentinel_bench.sh [FLOWS] [BUILD]   (bash scripts/install-deps.sh --bench installs tshark)
set -euo pipefail
cd "$(dirname "$0")/.."
flows=${1:-200000}
build=${2:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -W ignore bench/src/sentinel_pcap.py "$flows" "$work/flows.pcap" "$work/pfx2as.txt"
size=$(stat -c %s "$work/flows.pcap")
measure() {  # measure NAME CMD... -> "seconds peak_kib"
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@"
  cat "$work/$name.time"
}
read -r ours_s ours_kib < <(measure ours "$build/mitmscope" sentinel --pcap "$work/flows.pcap" --pfx2as "$work/pfx2as.txt" \
  --out "$work/ours.jsonl" --summary "$work/summary.json" --quiet)
read -r peer_s peer_kib < <(measure peer sh -c "tshark -o tcp.reassemble_out_of_order:TRUE -r '$work/flows.pcap' \
  -Y 'tls.handshake.type == 1' -T fields -e ip.src -e tcp.srcport -e tls.handshake.ja3 2>/dev/null >'$work/peer.tsv'")
jq -r '[.client.ip, (.client.port | tostring), .ja3] | join("\t")' "$work/ours.jsonl" | sort >"$work/ours.tsv"
sort -o "$work/peer.tsv" "$work/peer.tsv"
ours_n=$(wc -l <"$work/ours.tsv")
peer_n=$(wc -l <"$work/peer.tsv")
same=$(cmp -s "$work/ours.tsv" "$work/peer.tsv" && echo yes || echo no)
echo "capture: $flows flows, $((size / 1048576)) MiB (a quarter of the ClientHellos in two segments, some out of order)"
printf '| tool | ClientHellos | seconds | ClientHellos/s | peak RSS (MiB) |\n|---|---|---|---|---|\n'
printf '| mitmscope sentinel --pcap (JA3, JA4, verdicts, per-AS summary) | %s | %s | %.0f | %.0f |\n' "$ours_n" "$ours_s" \
  "$(echo "$ours_n / $ours_s" | bc -l)" "$(echo "$ours_kib / 1024" | bc -l)"
printf '| tshark 4.0 -T fields tls.handshake.ja3 | %s | %s | %.0f | %.0f |\n' "$peer_n" "$peer_s" \
  "$(echo "$peer_n / $peer_s" | bc -l)" "$(echo "$peer_kib / 1024" | bc -l)"
echo "same (client, port, JA3) for every flow: $same"
jq -r '.sentences[]' "$work/summary.json"
[ "$same" == yes ]
