#!/usr/bin/env bash
# `trace` beside the sequential method (one TTL at a time with a fixed wait, as CenTrace does with
# 3 s per TTL: bench/peers/sequential_trace.py), in one run on the kz-2019 lab (root):
#   - one trace of an intercepted host and of a bypass host: wall time, probes, and the answer
#     (injection TTL, routers before and after) of both methods, which must be equal;
#   - a bulk trace of BULK hosts (default 1000, a seeded sample of the full lab): wall time, probes,
#     the aggregate against the lab's ground truth; the sequential method's time for the same hosts
#     from its measured per-host times (one host after another, as CenTrace runs; and with as many
#     hosts at once as trace keeps in flight).
# Usage: bench/trace_peers.sh [build/mitmscope]   (BULK=1000 WAIT=3)
set -eu
cd "$(dirname "$0")/.."
mitmscope=$(realpath "${1:-build/mitmscope}")
bulk=${BULK:-1000}
wait_s=${WAIT:-3}
[ "$(id -u)" -eq 0 ] || { echo "bench/trace_peers.sh needs root (the lab, raw ICMP)" >&2; exit 1; }
state=$(mktemp -d)/lab
work=$(mktemp -d)
lab() { "$mitmscope" lab --state-dir "$state" "$@"; }
trap 'lab down >/dev/null 2>&1 || true; rm -rf "$work" "$(dirname "$state")"' EXIT
lab up --size 6736 >/dev/null
truth="$state/ground-truth.json"
flags=(--allow-private --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots")
host=$(jq -r '.intercepted_hosts[0]' "$truth")
bypass=$(jq -r '.bypass_hosts[0]' "$truth")
control=control-0123456789abcdef.com
now() { date +%s.%N; }
answer() { jq -r '"\(.kind) ttl=\(.injection_ttl) \(.router_before) -> \(.router_after)"'; }
ours_answer() {  # trace's JSON -> the same line as answer()
  jq '{kind: .injection.kind, injection_ttl: .injection.injection_ttl, router_before: .injection.router_before.address,
       router_after: .injection.router_after.address}' "$1" | answer
}
same="same answer"

echo "Lab: kz-2019 at full size (6,736 hosts), interceptor at hop $(jq -r .interceptor_hop "$truth"), hosts at hop $(jq -r .host_hop "$truth")."
echo
echo "| method | what | wall s | probes | answer |"
echo "|---|---|---|---|---|"
declare -A single
for kind in intercepted bypass; do
  address=$host
  [ "$kind" == bypass ] && address=$bypass
  walls=""
  for _ in 1 2 3 4 5; do
    start=$(now)
    lab exec -- "$mitmscope" trace "$address" --sni facebook.com --control-sni $control "${flags[@]}" --json >"$work/ours-$kind.json" || true
    walls+="$(echo "$(now) - $start" | bc) "
  done
  median=$(echo "$walls" | tr ' ' '\n' | grep . | sort -n | sed -n 3p)
  single[ours-$kind]=$median
  echo "| mitmscope trace (median of 5) | one $kind host | $(printf %.2f "$median") | $(jq -r .probes "$work/ours-$kind.json") | $(ours_answer "$work/ours-$kind.json") |"
  start=$(now)
  lab exec -- "$mitmscope" trace "$address" --sni facebook.com --control-sni $control "${flags[@]}" --json --paris >"$work/paris-$kind.json" || true
  wall=$(echo "$(now) - $start" | bc)
  echo "| mitmscope trace --paris | one $kind host | $(printf %.2f "$wall") | $(jq -r .probes "$work/paris-$kind.json") | $(ours_answer "$work/paris-$kind.json") |"
  start=$(now)
  lab exec -- python3 bench/peers/sequential_trace.py "$address" facebook.com $control --wait "$wait_s" >"$work/peer-$kind.json"
  wall=$(echo "$(now) - $start" | bc)
  single[peer-$kind]=$wall
  echo "| sequential, ${wait_s} s per TTL | one $kind host | $(printf %.2f "$wall") | $(jq -r .probes "$work/peer-$kind.json") | $(answer <"$work/peer-$kind.json") |"
  # The speed-up only counts when both methods (and --paris) found the same thing.
  for ours in "$work/ours-$kind.json" "$work/paris-$kind.json"; do
    [ "$(ours_answer "$ours")" == "$(answer <"$work/peer-$kind.json")" ] || same="DIFFERENT answers ($kind host)"
  done
done

# Bulk: a seeded sample of the lab's hosts.
shuf -n "$bulk" --random-source=<(yes) "$state/hosts.txt" >"$work/hosts.txt"
cut -d: -f1 "$work/hosts.txt" | sort >"$work/sample.txt"
jq -r '.intercepted_hosts[]' "$truth" | sort >"$work/truth.txt"
n_intercepted=$(comm -12 "$work/sample.txt" "$work/truth.txt" | wc -l)
n_other=$((bulk - n_intercepted))
start=$(now)
/usr/bin/time -f "%M" -o "$work/rss" "$mitmscope" lab --state-dir "$state" exec -- "$mitmscope" trace --hosts "$work/hosts.txt" \
  --sni facebook.com "${flags[@]}" --out "$work/bulk.jsonl" --summary "$work/bulk-summary.json" >"$work/bulk.txt" 2>"$work/bulk.err"
bulk_wall=$(echo "$(now) - $start" | bc)
probes=$(jq -s 'map(.probes) | add' "$work/bulk.jsonl")
found=$(jq -r 'select(.injection.kind != "no_interception") | .address' "$work/bulk.jsonl" | sort)
exact=$([ "$found" == "$(comm -12 "$work/sample.txt" "$work/truth.txt")" ] && echo "equal to the ground truth" || echo "DIFFERS from the ground truth")
echo "| mitmscope trace --hosts | $bulk hosts ($n_intercepted intercepted) | $(printf %.2f "$bulk_wall") | $probes | intercepted hosts $exact; $(jq -r '"before host \(.injection_before_host), hops before \(.hops_before_host | tojson), top pair \(.router_pairs[0].router_before) -> \(.router_pairs[0].router_after) (\(.router_pairs[0].share))"' "$work/bulk-summary.json") |"
sequential=$(echo "$n_intercepted * ${single[peer-intercepted]} + $n_other * ${single[peer-bypass]}" | bc)
in_flight=$(( 1000 / 24 ))
echo "| sequential, ${wait_s} s per TTL (from the per-host times above) | $bulk hosts, one after another | $(printf %.0f "$sequential") | | |"
echo "| sequential, ${wait_s} s per TTL (from the per-host times above) | $bulk hosts, $in_flight at once | $(printf %.0f "$(echo "$sequential / $in_flight" | bc -l)") | | |"
echo
echo "Speed-up, $same: one intercepted host $(printf %.0fx "$(echo "${single[peer-intercepted]} / ${single[ours-intercepted]}" | bc -l)"), one bypass host $(printf %.0fx "$(echo "${single[peer-bypass]} / ${single[ours-bypass]}" | bc -l)"); $bulk hosts $(printf %.0fx "$(echo "$sequential / $bulk_wall" | bc -l)") (one after another), $(printf %.1fx "$(echo "$sequential / $in_flight / $bulk_wall" | bc -l)") ($in_flight at once)."
echo "Bulk trace peak RSS: $(( $(cat "$work/rss") / 1024 )) MB (the lab exec wrapper and trace)."
