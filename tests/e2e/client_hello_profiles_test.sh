#!/usr/bin/env bash
# The ClientHello profiles against the clients they copy, as a server sees them: Debian's chromium (two visits: its
# extension order changes), firefox-esr and curl each visit `mitmscope sentinel --listen` on loopback, and the JA4
# the sentinel computes for every visit must equal the one of `mitmscope client-hello PROFILE`; for the clients
# that keep their order (firefox-esr, curl) ja4_o too, and the ClientHello's size. A browser update that changes
# its ClientHello fails here: capture it again (scripts/capture-client-hellos.sh) and update the profile. A profile
# is a client's first connection: a later one that resumes a session (pre_shared_key, 0x0029, as Chromium's second
# connection to the same server does) is counted apart.
# Traffic: loopback only. Usage: client_hello_profiles_test.sh MITMSCOPE
set -u
mitmscope=$(realpath "$1")
work=$(mktemp -d)
port=${MITMSCOPE_TEST_HELLO_PORT:-24460}
source "$(dirname "$0")/check_lib.sh"
cleanup() { kill "$sentinel" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
"$mitmscope" sentinel --listen "127.0.0.1:$port" --cert "$work/cert.pem" --key "$work/key.pem" --out "$work/visits.jsonl" \
  --quiet 2>"$work/sentinel.txt" &
sentinel=$!
for _ in $(seq 1 50); do grep -q "127.0.0.1:$port" <(ss -ltn) && break; sleep 0.1; done

# visit CLIENT: one visit of https://localhost:PORT/; the sentinel's lines for it are the ones added meanwhile.
visit() {
  local before
  before=$(wc -l <"$work/visits.jsonl" 2>/dev/null || echo 0)
  local own="$work/$1-$RANDOM"
  mkdir -p "$own"
  case "$1" in
    chromium)
      HOME="$own" timeout 60 chromium --headless --no-sandbox --disable-gpu --ignore-certificate-errors --no-first-run \
        --disable-background-networking --disable-component-update --user-data-dir="$own/profile" \
        --dump-dom "https://localhost:$port/" >/dev/null 2>&1 ;;
    firefox-esr)
      HOME="$own" timeout 60 firefox-esr --headless --profile "$own" --screenshot "$own/shot.png" \
        "https://localhost:$port/" >/dev/null 2>&1 ;;
    curl) curl -sk --max-time 10 --resolve "localhost:$port:127.0.0.1" -o /dev/null "https://localhost:$port/" ;;
  esac
  sleep 0.3
  tail -n +"$((before + 1))" "$work/visits.jsonl" | jq -c 'select(.ja4_r | test("0029") | not)' >"$work/$1.jsonl"
  tail -n +"$((before + 1))" "$work/visits.jsonl" | jq -c 'select(.ja4_r | test("0029"))' >>"$work/resumed.jsonl"
}

expect() {  # expect CLIENT PROFILE ORDER_KEPT
  local client=$1 profile=$2 ordered=$3
  local built visits
  built=$("$mitmscope" client-hello "$profile" --sni localhost --json)
  visits=$(wc -l <"$work/$client.jsonl")
  check "$client: the sentinel saw its visit" true "$([ "$visits" -ge 1 ] && echo true || echo false)"
  check "$client: JA4 of every visit = client-hello $profile ($(jq -r .ja4 <<<"$built"))" "$(jq -r .ja4 <<<"$built")" \
    "$(jq -r .ja4 "$work/$client.jsonl" | sort -u | paste -sd' ')"
  if [ "$ordered" = yes ]; then
    check "$client: ja4_o (the order sent) = client-hello $profile" "$(jq -r .ja4_o <<<"$built")" \
      "$(jq -r .ja4_o "$work/$client.jsonl" | sort -u | paste -sd' ')"
  fi
}

visit chromium; cp "$work/chromium.jsonl" "$work/chromium-1.jsonl"
visit chromium; cat "$work/chromium-1.jsonl" >>"$work/chromium.jsonl"
expect chromium chromium no
check "chromium: its extension order (ja4_o) changed between visits" true \
  "$([ "$(jq -r .ja4_o "$work/chromium.jsonl" | sort -u | wc -l)" -ge 2 ] && echo true || echo false)"
echo "     (chromium resumed a session on $(wc -l <"$work/resumed.jsonl") later connection(s): not a first flight, not compared)"
visit firefox-esr
expect firefox-esr firefox-esr yes
visit curl
expect curl curl yes

finish
