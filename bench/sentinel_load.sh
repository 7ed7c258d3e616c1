#!/usr/bin/env bash
# sentinel --listen under load, beside nginx (Debian's nginx-light) serving the same certificate on the same
# machine: visits per second and latency percentiles from ApacheBench (ab, a new TLS connection per request,
# CONCURRENCY at once), then a visitor's fetch while 1,000 connections that each sent three bytes are held open
# from one address, and again from 1,000 addresses; peak memory of each server.
# Usage: bench/sentinel_load.sh [REQUESTS] [CONCURRENCY] [BUILD]   (bash scripts/install-deps.sh --bench: nginx, ab)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20000}
concurrency=${2:-50}
build=${3:-build}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"' EXIT
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
  -subj /CN=provider.example -addext subjectAltName=DNS:provider.example 2>/dev/null
ours=$((20000 + RANDOM % 10000))
peer=$((ours + 1))

"$build/mitmscope" sentinel --listen "127.0.0.1:$ours" --cert "$work/cert.pem" --key "$work/key.pem" --out /dev/null \
  --max-per-address 1000000 2>"$work/sentinel.log" &
sentinel_pid=$!
pids+=("$sentinel_pid")
# nginx as a provider would run it: one worker per core, TLS 1.2/1.3 with the same key, a small JSON answer.
cat >"$work/nginx.conf" <<CONF
worker_processes auto;
worker_rlimit_nofile 16384;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$peer ssl;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    location / { default_type application/json; return 200 '{"verdict":"consistent"}'; }
  }
}
CONF
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/sentinel.log" && [ -s "$work/nginx.pid" ] && break; sleep 0.1; done

load() {  # load PORT -> "visits_per_second p50_ms p99_ms failed"
  ab -q -n "$requests" -c "$concurrency" -H "User-Agent: curl/7.88.1" "https://127.0.0.1:$1/" >"$work/ab.txt" 2>&1 || true
  awk '/Requests per second/ {rps=$4} /Failed requests/ {failed=$3} /^  50%/ {p50=$2} /^  99%/ {p99=$2}
       END {print rps, p50, p99, failed}' "$work/ab.txt"
}
peak_kib() {  # peak RSS of a process and its children, in KiB
  local total=0
  for pid in $1 $(pgrep -P "$1" || true); do total=$((total + $(awk '/VmHWM/ {print $2}' "/proc/$pid/status"))); done
  echo "$total"
}
flood() {  # flood PORT one|many VISITOR -> the JSON line of bench/src/slow_flood.py
  python3 bench/src/slow_flood.py 127.0.0.1 "$1" 1000 "$2" "$3" provider.example 0
}
read -r ours_rps ours_p50 ours_p99 ours_failed < <(load "$ours")
read -r peer_rps peer_p50 peer_p99 peer_failed < <(load "$peer")
ours_one=$(flood "$ours" one 127.0.0.2)
peer_one=$(flood "$peer" one 127.0.0.2)
ours_many=$(flood "$ours" many 127.0.0.3)
peer_many=$(flood "$peer" many 127.0.0.3)
ours_kib=$(peak_kib "$sentinel_pid")
peer_kib=$(peak_kib "$(cat "$work/nginx.pid")")
kill -INT "$sentinel_pid"
wait "$sentinel_pid" || true

visitor() { jq -r '"\(.visitor_status) in \(.visitor_seconds * 1000 | floor) ms (\(.held_open) of 1,000 held open)"' <<<"$1"; }
echo "$(nproc) cores; ab -n $requests -c $concurrency, a new TLS connection per request (ECDSA P-256)"
printf '| server | visits/s | p50 ms | p99 ms | failed | visitor during 1,000 slow from one address | ... from 1,000 addresses | peak RSS MiB |\n'
printf '|---|---|---|---|---|---|---|---|\n'
printf '| mitmscope sentinel --listen (JA3, JA4, judged, logged) | %s | %s | %s | %s | %s | %s | %.0f |\n' "$ours_rps" "$ours_p50" \
  "$ours_p99" "$ours_failed" "$(visitor "$ours_one")" "$(visitor "$ours_many")" "$(echo "$ours_kib / 1024" | bc -l)"
printf '| nginx %s (static JSON) | %s | %s | %s | %s | %s | %s | %.0f |\n' "$(nginx -v 2>&1 | grep -o '[0-9.]*$')" "$peer_rps" \
  "$peer_p50" "$peer_p99" "$peer_failed" "$(visitor "$peer_one")" "$(visitor "$peer_many")" "$(echo "$peer_kib / 1024" | bc -l)"
grep "sentinel: listener:" "$work/sentinel.log"
