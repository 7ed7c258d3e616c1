#!/usr/bin/env bash
# Peak memory of a 100,000-target scan against the hostile servers (tests/hostile/hostile_server.cc):
# 10,010 hosts on 127.31.0.0/16 spread evenly over the 13 behaviours (silent, drip, endless records,
# 16 MB chain, 200 certificates, garbage, alert, HTTP, reset, bad extensions, absurd certificate,
# half-close, healthy) x 10 domains. Prints the verdict counts, the time and the peak RSS.
# Usage: bench/hostile_memory.sh [BUILD_DIR=build] [HOSTS_PER_BEHAVIOUR=770] [CONCURRENCY=1000]
set -euo pipefail
build=$(realpath "${1:-build}")
per=${2:-770}
concurrency=${3:-1000}
work=$(mktemp -d)
"$build/tests/hostile_server" --port 0 --ca-out "$work/ca.pem" >"$work/server.out" 2>"$work/server.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q ready "$work/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^ready/ {print $2}' "$work/server.out")
# The third octet picks the behaviour; more than 250 hosts per behaviour spill into 127.32.B.H, 127.33.B.H...
for b in $(seq 0 12); do
  for h in $(seq 1 "$per"); do echo "127.$(( 31 + h / 250 )).$b.$(( h % 250 + 1 )):$port b$b"; done
done | awk '!seen[$0]++' >"$work/hosts"
printf '%s\n' facebook.com google.com vk.com mail.ru twitter.com instagram.com youtube.com ok.ru messenger.com tamtam.chat >"$work/domains"
hosts=$(wc -l <"$work/hosts")
echo "== $hosts hosts x 10 domains = $((hosts * 10)) targets, concurrency $concurrency"
/usr/bin/time -f "%e %M" -o "$work/time" "$build/mitmscope" scan --hosts "$work/hosts" --domains "$work/domains" --allow-private \
  --trust-store "$work/ca.pem" --connect-timeout 2 --handshake-timeout 3 --controls 1 --retries 2 --stateful-delay 1 \
  --concurrency "$concurrency" --host-rate 20 --out "$work/results.jsonl" --summary "$work/summary.json" 2>"$work/scan.err"
read -r seconds rss <"$work/time"
echo "results: $(wc -l <"$work/results.jsonl"); verdicts: $(jq -c .verdicts "$work/summary.json")"
echo "time: $seconds s; peak RSS: $((rss / 1024)) MB; hostile server: $(tail -1 "$work/server.err")"
