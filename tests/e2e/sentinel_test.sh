#!/usr/bin/env bash
# `mitmscope sentinel` in the lab (needs root): a content provider's server on two of the hosts'
# addresses, one behind the interceptor and one on a bypass path. Visitors from the vantage: the
# visits the interceptor took over must be flagged (its ClientHello is the registry's), direct visits
# not, a curl claiming to be Chrome is inconsistent; the listener, a tcpdump capture read back with
# --pcap and a live --interface capture must see the same ClientHellos. Usage: sentinel_test.sh MITMSCOPE
set -u
mitmscope=$1
if [ "$(id -u)" -ne 0 ]; then echo "sentinel lab tests need root: skipped"; exit 77; fi
source "$(dirname "$0")/check_lib.sh"
state=$(mktemp -d)/lab
work=$(mktemp -d)
pids=()
lab() { "$mitmscope" lab --state-dir "$state" "$@"; }
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  lab down >/dev/null 2>&1
  rm -rf "$work" "$(dirname "$state")"
}
trap cleanup EXIT

lab up --size 60 >"$work/up.txt" 2>&1
check "lab up" 0 $?
truth="$state/ground-truth.json"
intercepted=$(jq -r '.intercepted_hosts[0]' "$truth")
bypass=$(jq -r '.bypass_hosts[0]' "$truth")
vantage=$(jq -r '.vantage_address' "$truth")
check "the lab wrote the provider's certificate" 0 "$(test -s "$state/provider.pem" && test -s "$state/provider-key.pem"; echo $?)"
check "the provider's private key is readable by its owner only" 600 "$(stat -c %a "$state/provider-key.pem")"
# The vantage alone is "AS64496"; the interceptor's own certificate check reaches the server from its
# router's address, another visitor, in no listed network.
printf '%s\t32\t64496\n' "$vantage" >"$work/pfx2as.txt"
# The visitor installed the interceptor's root, as Kazakh users were told to.
cat "$state/public-ca.pem" "$state/known-roots/lab-root.pem" >"$work/visitor-roots.pem"

# Started directly (not through a shell function) so that $! is the process itself.
ip netns exec ms-hosts tcpdump -Z root -i any -U -w "$work/capture.pcap" "tcp dst port 443 and (dst host $intercepted or dst host $bypass)" \
  >"$work/tcpdump.log" 2>&1 &
pids+=($!)
ip netns exec ms-hosts "$mitmscope" sentinel --interface any --pfx2as "$work/pfx2as.txt" --out "$work/live.jsonl" --quiet 2>"$work/live.log" &
live_pid=$!
pids+=($live_pid)
ip netns exec ms-hosts "$mitmscope" sentinel --listen "$intercepted:443" --listen "$bypass:443" --cert "$state/provider.pem" \
  --key "$state/provider-key.pem" --pfx2as "$work/pfx2as.txt" --out "$work/visits.jsonl" --summary "$work/summary.json" \
  2>"$work/listener.log" &
listener_pid=$!
pids+=($listener_pid)
for _ in $(seq 100); do
  grep -q "listening on" "$work/listener.log" && grep -q "listening on" "$work/tcpdump.log" && break
  sleep 0.1
done
sleep 1   # the live capture has no ready line; libpcap is up well within this
check "the sentinel listens on both addresses" 0 "$(grep -q "listening on $intercepted:443, $bypass:443" "$work/listener.log"; echo $?)"

chrome="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
visit() {  # visit NAME ADDRESS [curl flags] -> the response body (the sentinel's judgement of this visit)
  local name=$1 address=$2
  shift 2
  lab exec -- curl -sS --max-time 20 --cacert "$work/visitor-roots.pem" --resolve "$name:443:$address" "$@" "https://$name/"
}
for i in 1 2 3; do visit facebook.com "$intercepted" >"$work/intercepted-$i.json"; done
visit facebook.com "$intercepted" -A "$chrome" >"$work/intercepted-chrome.json"
for i in 1 2; do visit provider.lab "$intercepted" >"$work/untargeted-$i.json"; done
for i in 1 2; do visit facebook.com "$bypass" >"$work/bypass-$i.json"; done
visit facebook.com "$bypass" -A "$chrome" >"$work/bypass-chrome.json"
verdict() { jq -r .verdict "$1"; }
check "targeted name behind the interceptor: the visitor is told it is intercepted" known_interceptor "$(verdict "$work/intercepted-1.json")"
check "... by the lab device, matched by JA4" "mitmscope-lab-kz-2019 ja4" "$(jq -r '.interceptor.id + " " + .interceptor.method' "$work/intercepted-1.json")"
check "... its ClientHello is the device's (TLS 1.2, 13 suites)" "0x0303 13" \
  "$(jq -r '.client_hello.highest_version + " " + (.client_hello.cipher_suites | tostring)' "$work/intercepted-1.json")"
check "... and the server saw the visitor's own address" "$vantage" "$(jq -r .client.ip "$work/intercepted-1.json")"
check "... and the visitor's User-Agent, relayed" curl "$(jq -r '.user_agent | split("/")[0]' "$work/intercepted-1.json")"
check "a Chrome User-Agent through the interceptor: still the device" known_interceptor "$(verdict "$work/intercepted-chrome.json")"
check "untargeted name on the same path: not flagged (curl's own User-Agent over OpenSSL's ClientHello)" "consistent false OpenSSL" \
  "$(jq -r '.verdict + " " + (.flagged | tostring) + " " + .tls_library.name' "$work/untargeted-1.json")"
check "... the client's own ClientHello (TLS 1.3)" 0x0304 "$(jq -r .client_hello.highest_version "$work/untargeted-1.json")"
check "targeted name on a bypass path: not flagged" "consistent false" "$(jq -r '.verdict + " " + (.flagged | tostring)' "$work/bypass-1.json")"
check "curl claiming to be Chrome: inconsistent" inconsistent "$(verdict "$work/bypass-chrome.json")"
check "... because its ClientHello is OpenSSL's, not BoringSSL's, and sends no GREASE" "1 1" \
  "$(jq -r '.user_agent_check.reasons[0]' "$work/bypass-chrome.json" | grep -c "OpenSSL's.*not BoringSSL's") $(jq -r '.user_agent_check.reasons | join(" ")' "$work/bypass-chrome.json" | grep -c GREASE)"
sleep 1
kill -TERM "$listener_pid" "$live_pid"
wait "$listener_pid" "$live_pid" 2>/dev/null
kill -TERM "${pids[0]}"
wait "${pids[0]}" 2>/dev/null

from_vantage() { jq -c --arg ip "$vantage" 'select(.client.ip == $ip)' "$1"; }
check "the listener wrote every visit from the vantage" 9 "$(from_vantage "$work/visits.jsonl" | wc -l)"
check "... 5 of them flagged (4 known interceptor, 1 inconsistent)" "4 1" \
  "$(from_vantage "$work/visits.jsonl" | jq -r .verdict | sort | uniq -c | awk '$2 == "known_interceptor" {k = $1} $2 == "inconsistent" {i = $1} END {print k + 0, i + 0}')"
check "the summary names the vantage's network" "AS64496 1 1 9 5" \
  "$(jq -r '.networks[] | select(.network == "AS64496") | [.network, .visitors, .flagged_visitors, .visits, .flagged_visits] | map(tostring) | join(" ")' "$work/summary.json")"
grep -q "100.0% of visitors from AS64496 arrive through an interceptor (1 of 1 visitors; 5 of 9 visits flagged" "$work/listener.log"
check "the summary sentence on stderr" 0 $?

# The same ClientHellos from a capture file (tcpdump) and from the live capture.
fingerprints() { jq -r --arg ip "$vantage" 'select(.client.ip == $ip) | "\(.client.port) \(.ja4) \(.verdict)"' "$1" | sort; }
"$mitmscope" sentinel --pcap "$work/capture.pcap" --pfx2as "$work/pfx2as.txt" >"$work/pcap.jsonl" 2>"$work/pcap.log"
check "sentinel --pcap reads tcpdump's file" 0 $?
listener_view=$(jq -r --arg ip "$vantage" 'select(.client.ip == $ip) | "\(.client.port) \(.ja4)"' "$work/visits.jsonl" | sort)
check "the capture file holds the same ClientHellos as the listener saw" "$listener_view" \
  "$(jq -r --arg ip "$vantage" 'select(.client.ip == $ip) | "\(.client.port) \(.ja4)"' "$work/pcap.jsonl" | sort)"
check "... and the live capture too" "$listener_view" \
  "$(jq -r --arg ip "$vantage" 'select(.client.ip == $ip) | "\(.client.port) \(.ja4)"' "$work/live.jsonl" | sort)"
check "from the capture, without User-Agents: the 4 takeovers are flagged, nothing else" "4 0" \
  "$(fingerprints "$work/pcap.jsonl" | awk '$3 == "known_interceptor" {k++} $3 != "known_interceptor" && $3 != "unjudged" {o++} END {print k + 0, o + 0}')"
check "the capture's TTLs are recorded" 1 "$(jq -r --arg ip "$vantage" 'select(.client.ip == $ip) | .ttl' "$work/pcap.jsonl" | awk '$1 > 0' | sort -u | wc -l | awk '{print ($1 >= 1)}')"

# Bad input: a clear error naming the file, and one source at a time.
printf 'not a capture' >"$work/bad.pcap"
"$mitmscope" sentinel --pcap "$work/bad.pcap" >/dev/null 2>"$work/bad.log"
check "a file that is not a capture: exit 2" 2 $?
check "... naming it" 1 "$(grep -c "bad.pcap" "$work/bad.log")"
"$mitmscope" sentinel --pcap "$work/capture.pcap" --listen 127.0.0.1:1 >/dev/null 2>&1
check "two sources at once: refused" 2 $?
finish
