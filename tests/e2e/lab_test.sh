#!/usr/bin/env bash
# The lab end to end (needs root): builds kz-2019, measures through it with the real
# binary, checks every behaviour of shared/BRIEF.md the lab promises, and removes it.
# Traffic stays inside the namespaces the lab creates. Usage: lab_test.sh MITMSCOPE
set -u
mitmscope=$1
if [ "$(id -u)" -ne 0 ]; then echo "lab tests need root: skipped"; exit 77; fi
state=$(mktemp -d)/lab
work=$(mktemp -d)
source "$(dirname "$0")/check_lib.sh"
lab() { "$mitmscope" lab --state-dir "$state" "$@"; }
cleanup() { lab down >/dev/null 2>&1; rm -rf "$work" "$(dirname "$state")"; }
trap cleanup EXIT
trust=(--trust-store "$state/public-ca.pem" --known-roots "$state/known-roots" --allow-private --json --handshake-timeout 5)
probe() {  # probe IP SNI [more flags] -> JSON
  lab exec -- "$mitmscope" probe "$@" "${trust[@]}"
}
verdict() { probe "$@" | jq -r '[.interception.verdict, (.error.code // "-"), (.interception.known_interceptor.id // "-")] | join(" ")'; }
capture_start() {  # capture_start NAME FILTER: tcpdump in the vantage namespace into $work/NAME.pcap, once listening.
  # --immediate-mode: without it the kernel's last capture block is never read when tcpdump is stopped.
  ip netns exec ms-vantage tcpdump -i any -nn -U --immediate-mode -w "$work/$1.pcap" "$2" 2>"$work/$1-tcpdump.txt" &
  capture_pid=$!
  for _ in $(seq 1 50); do grep -q "listening on" "$work/$1-tcpdump.txt" && break; sleep 0.1; done
}
capture_stop() { sleep 0.3; kill -INT "$capture_pid"; wait "$capture_pid" 2>/dev/null; }
time_exceeded() {  # ICMP time-exceeded messages a router namespace has sent
  ip netns exec "$1" cat /proc/net/snmp | awk '/^Icmp:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "OutTimeExcds") c = i; n = 1 } else print $c }'
}

lab up --size 400 >"$work/up.txt" 2>&1
check "lab up" 0 $?
grep -q -- "--trust-store $state/public-ca.pem" <(lab status)
check "lab status prints the trust store path" 0 $?
truth="$state/ground-truth.json"
host=$(jq -r '.intercepted_hosts[0]' "$truth")
bypass=$(jq -r '.bypass_hosts[0]' "$truth")
untrusted=$(jq -r '.untrusted_hosts[0]' "$truth")
hop=$(jq -r '.interceptor_hop' "$truth")
host_hop=$(jq -r '.host_hop' "$truth")
control=control-0123456789abcdef.com

# BRIEF's three conditions.
check "control SNI on an intercepted path: genuine" "untrusted - -" "$(verdict "$host" --sni $control)"
check "targeted SNI on an intercepted path: forged" "intercepted - lab-root" "$(verdict "$host" --sni facebook.com)"
check "targeted SNI on a bypass path: genuine" "untrusted - -" "$(verdict "$bypass" --sni facebook.com)"
check "targeted SNI, host without a trusted certificate: not intercepted" "untrusted - -" "$(verdict "$untrusted" --sni facebook.com)"
targeted_all=0
while read -r domain; do
  [ "$(probe "$host" --sni "$domain" | jq -r .interception.verdict)" == intercepted ] && targeted_all=$((targeted_all + 1))
done <"$state/domains.txt"
check "all 37 targeted domains are intercepted" 37 "$targeted_all"
check "a decoy domain is not" "untrusted - -" "$(verdict "$host" --sni www.wikipedia.org)"

# The forged certificate, property by property, against the genuine one.
probe "$host" --sni google.com | jq -r '.server_certificates.certificate.raw, .server_certificates.chain[].raw' >"$work/forged.b64"
probe "$host" --sni $control | jq -r '.server_certificates.certificate.raw' >"$work/genuine.b64"
"$mitmscope" inspect "$work/forged.b64" --genuine "$work/genuine.b64" --trust-store "$state/public-ca.pem" \
  --known-roots "$state/known-roots" --json >"$work/forging.json"
check "forged: subject copied" true "$(jq -r .forging.same_subject "$work/forging.json")"
check "forged: SAN copied" true "$(jq -r .forging.same_subject_alt_names "$work/forging.json")"
check "forged: validity 6 h earlier" -6 "$(jq -r .forging.not_before_shift_hours "$work/forging.json")"
check "forged: RSA-2048" 2048 "$(jq -r .forging.presented_key.bits "$work/forging.json")"
check "forged: e=3" 3 "$(jq -r .forging.presented_key.exponent "$work/forging.json")"
check "forged: at most the last 33 serial bits differ" true "$(jq -r '.forging.serial_trailing_bits_differing <= 33 and .forging.serial_bits - .forging.serial_leading_bits_kept <= 33' "$work/forging.json")"
check "forged: no extension but SAN" '["subjectAltName"]' "$(jq -c '.certificates[0].extensions | map(.name)' "$work/forging.json")"
check "forged: issued by CN=Security Certificate" "C=KZ, CN=Security Certificate" "$(jq -r '.certificates[0].issuer' "$work/forging.json")"
check "forged: attributed to the lab root" lab-root "$(jq -r '.interception.known_interceptor.id' "$work/forging.json")"
check "intermediate: 3 years" true "$(jq -r '(.certificates[1].not_after[0:4] | tonumber) - (.certificates[1].not_before[0:4] | tonumber) == 3' "$work/forging.json")"
probe "$host" --sni google.com | jq -r '.server_certificates.certificate.public_key.bits' >/dev/null
key_a=$(probe "$host" --sni google.com | jq -r .server_certificates.certificate.spki_sha256)
key_b=$(probe "$host" --sni vk.com | jq -r .server_certificates.certificate.spki_sha256)
check "forged key cached per host" "$key_a" "$key_b"
sleep 0.5
check "the interceptor's own ClientHello: record TLS 1.0, handshake TLS 1.2, 13 suites" true \
  "$(jq -r '.host_client_hello_shapes | has("record 0x0301, version 0x0303, 13 suites")' "$state/daemon.json")"

# Bodies are relayed unchanged: the same HTTP answer through the interceptor as directly.
body() {  # body IP SNI: the HTTP response body over TLS, as curl (OpenSSL) receives it; curl ends at Content-Length
  lab exec -- curl -sk --http1.1 --max-time 10 --resolve "$2:443:$1" "https://$2/"
}
direct=$(body "$host" $control)
check "the host answers HTTP over TLS" "mitmscope lab host $host" "$direct"
check "the same body through the interceptor" "$direct" "$(body "$host" facebook.com)"

# TTL: targeted flows are answered at the interceptor's hop; control ones expire as if it were not there.
counters() { for r in $(seq 1 "$((host_hop - 1))"); do echo -n "$(time_exceeded "ms-r$r") "; done; }
# Which routers sent time-exceeded since BEFORE: "3" means router 3 and no other.
# (A probe may cause more than one: the kernel's own last segments can carry the low TTL too.)
senders_since() {
  local index=1 out="" now
  read -r -a now <<<"$(counters)"
  for value in $1; do
    [ "${now[$((index - 1))]}" -gt "$value" ] && out+="$index "
    index=$((index + 1))
  done
  echo -n "${out% }"
}
before=$(counters)
check "targeted, TTL one short of the interceptor: expires" "error ttl_expired -" "$(verdict "$host" --sni facebook.com --ttl $((hop - 1)))"
check "... at the router before the interceptor, and nowhere else" "$((hop - 1))" "$(senders_since "$before")"
# Five times: only the ClientHello carries the TTL, so nothing the client sends after the forged answer (its alert,
# close_notify, FIN) can expire past the device, whenever the device closes its side (it once did in CI: router 4).
# On the wire (tcpdump in the vantage namespace, what leaves it with the probe's TTL): the five ClientHellos and
# no segment after them, whatever the device does.
before=$(counters)
capture_start ttl "tcp and dst host $host and ip[8] == $hop"
reaching=""
for _ in 1 2 3 4 5; do reaching+="$(verdict "$host" --sni facebook.com --ttl "$hop")|"; done
capture_stop
check "targeted, TTL reaching the interceptor: forged, five times" "$(printf 'intercepted - lab-root|%.0s' 1 2 3 4 5)" "$reaching"
check "... and no router sent time-exceeded" "" "$(senders_since "$before")"
hello='tcp[((tcp[12] & 0xf0) >> 2)] == 0x16 and tcp[((tcp[12] & 0xf0) >> 2) + 5] == 0x01'
payload='ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2) > 0'
check "... on the wire with TTL $hop: a ClientHello from each of the five connections, and no alert, Finished, close_notify, FIN or RST" "5 0" \
  "$(tcpdump -nn -r "$work/ttl.pcap" "$hello" 2>/dev/null | grep -oE '[0-9.]+\.[0-9]+ > ' | sort -u | wc -l) $(tcpdump -nn -r "$work/ttl.pcap" \
     "tcp[tcpflags] & (tcp-fin|tcp-rst) != 0 or ($payload and not ($hello))" 2>/dev/null | wc -l)"
check "control, same TTL: expires" "error ttl_expired -" "$(verdict "$host" --sni $control --ttl "$hop")"
check "... at the interceptor's router itself, as without the device" "$hop" "$(senders_since "$before")"
before=$(counters)
check "control one hop further: expires" "error ttl_expired -" "$(verdict "$host" --sni $control --ttl $((hop + 1)))"
check "... at the router after the interceptor" "$((hop + 1))" "$(senders_since "$before")"
check "control with the host's hop count: genuine" "untrusted - -" "$(verdict "$host" --sni $control --ttl "$host_hop")"

# Schedule: switched off, the same flow is genuine; back on, forged again.
lab switch off >/dev/null && sleep 0.6
check "interceptor off: genuine" "untrusted - -" "$(verdict "$host" --sni facebook.com)"
lab switch schedule >/dev/null && sleep 0.6
check "back to the schedule (on): forged" "intercepted - lab-root" "$(verdict "$host" --sni facebook.com)"

# scan: the intercepted (host, domain) pairs are exactly the ground truth, nothing on bypass paths.
# A smaller lab for the scans (they run several times, and under the sanitizers too).
lab down >/dev/null
lab up --size 150 >/dev/null 2>&1
check "lab up for the scans" 0 $?
# Moderate concurrency and generous timeouts: the scanner, the hosts and the device share two cores (and run
# several times slower under the sanitizers), and a timeout would change a verdict between runs.
scan_flags=(--allow-private --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots" --host-rate 100
            --concurrency 200 --handshake-timeout 20)
scan() { lab exec -- "$mitmscope" scan --hosts "$state/hosts.txt" --domains "$state/domains.txt" "${scan_flags[@]}" "$@"; }
sanitized=$([ "${MITMSCOPE_SANITIZED:-0}" == 1 ] && echo true || echo false)
scan --out "$work/scan.jsonl" --summary "$work/summary.json" --pfx2as "$state/pfx2as.txt" 2>"$work/scan.txt"
check "scan exits 0" 0 $?
jq -r 'select(.verdict == "intercepted") | "\(.ip) \(.sni)"' "$work/scan.jsonl" | sort >"$work/found.txt"
jq -r '.intercepted_hosts[] as $h | .targeted_domains[] as $d | "\($h) \($d)"' "$state/ground-truth.json" | sort >"$work/truth.txt"
check "scan: intercepted pairs equal the ground truth" "$(wc -l <"$work/truth.txt") 0" "$(wc -l <"$work/found.txt") $(diff "$work/found.txt" "$work/truth.txt" | grep -c '^[<>]')"
check "scan: every intercepted result names the lab root" 0 "$(jq -r 'select(.verdict == "intercepted" and .interception.known_interceptor.id != "lab-root") | .ip' "$work/scan.jsonl" | wc -l)"
check "scan: forging analysis in the result (-6 h)" -6 "$(jq -r 'select(.verdict == "intercepted") | .forging.not_before_shift_hours' "$work/scan.jsonl" | sort -u)"
check "scan: untrusted hosts are ineligible" "$(( $(jq -r '.untrusted_hosts | length' "$state/ground-truth.json") * $(wc -l <"$state/domains.txt") ))" \
  "$(jq -r 'select(.verdict == "ineligible") | .ip' "$work/scan.jsonl" | wc -l)"
check "scan: summary counts the intercepted hosts" "$(jq -r '.intercepted_hosts | length' "$state/ground-truth.json")" "$(jq -r .intercepted_hosts "$work/summary.json")"
# Per AS (BRIEF's Table 1) from the lab's pfx2as table: intercepted hosts per AS equal the ground truth's.
jq -r '.intercepted_hosts[]' "$state/ground-truth.json" | sort >"$work/truth-hosts.txt"
truth_per_as=$(sed 's/:[0-9]* AS/ /' "$state/hosts.txt" | sort | join - "$work/truth-hosts.txt" | awk '{print $2}' | sort | uniq -c | awk '{print $2, $1}' | sort)
check "scan --pfx2as: intercepted hosts per AS equal the ground truth" "$truth_per_as" \
  "$(jq -r '.per_as[] | select(.intercepted > 0) | "\(.asn) \(.intercepted)"' "$work/summary.json" | sort)"
check "scan --pfx2as: every result names its AS and prefix" 0 "$(jq -r 'select(.asn.number == null or .asn.prefix == null) | .ip' "$work/scan.jsonl" | wc -l)"
# Side by side: the same scan through OpenSSL's whole handshake (the path every scan took before the first-flight
# client) gives every (host, name) the same verdict, version, suite, issuer and genuine leaf. The release build only:
# logic, and the first-flight client runs under the sanitizers everywhere else.
if [ "$sanitized" == false ]; then
  scan --client-hello openssl --out "$work/scan-openssl.jsonl" 2>"$work/scan-openssl.txt"
  check "scan --client-hello openssl: the same verdict, version, suite, issuer and genuine leaf for all $(wc -l <"$work/scan.jsonl") (host, name)" \
    "$(wc -l <"$work/scan.jsonl") 0" "$(wc -l <"$work/scan-openssl.jsonl") $(diff <(agreed_fields "$work/scan.jsonl") <(agreed_fields "$work/scan-openssl.jsonl") | grep -c '^[<>]')"
  check "scan --client-hello openssl: its rows say so, the default's say curl" "openssl curl-7.88" \
    "$(jq -r .client_hello "$work/scan-openssl.jsonl" | sort -u) $(jq -r .client_hello "$work/scan.jsonl" | sort -u)"
fi

# discover: from a top list with decoys (near misses included), exactly the scenario's targeted domains.
(cat "$state/domains.txt"; for i in $(seq 1 120); do echo "site$i.example.kz"; done
 printf '%s\n' www.vk.com google.kz mail.google.co m.facebook.com youtube.com.evil.net instagram.org) | shuf --random-source=<(yes) >"$work/toplist.txt"
jq -r '.intercepted_hosts[0:3][]' "$state/ground-truth.json" | sed 's/$/:443/' >"$work/discover-hosts.txt"
# Every strategy in the release build; two under the sanitizers (the same code path, five passes fewer: CI's time).
strategies=(--strategies) strategy_count=7
[ "$sanitized" == true ] && strategies=(--strategy plain,split-record-name) strategy_count=2
lab exec -- "$mitmscope" discover --hosts "$work/discover-hosts.txt" --domains "$work/toplist.txt" "${scan_flags[@]}" \
  --json "$work/discover.json" --list "$work/discovered.txt" --out "$work/discover.jsonl" "${strategies[@]}" >"$work/discover.txt" 2>&1
check "discover exits 0" 0 $? || cat "$work/discover.txt"
check "discover --out: each confirmation's intercepted answer is a row (37 domains x 3 hosts at least)" true \
  "$([ "$(jq -r 'select(.verdict == "intercepted") | "\(.ip) \(.sni)"' "$work/discover.jsonl" | sort -u | wc -l)" -ge $(( $(wc -l <"$state/domains.txt") * 3 )) ] && echo true || echo false)"
/usr/bin/python3 "$(dirname "$0")/../schema/validate.py" "$(dirname "$0")/../../docs/schema" scan-result "$work/discover.jsonl" >/dev/null 2>&1
check "discover --out: every row fits docs/schema/scan-result.schema.json" 0 $?
check "discover: exactly the targeted domains" "$(sort "$state/domains.txt")" "$(sort "$work/discovered.txt")"
check "discover: no decoy even became a candidate" "$(wc -l <"$state/domains.txt")" "$(jq -r .candidates "$work/discover.json")"
check "discover: each confirmed on all 3 hosts, naming the lab root" 0 \
  "$(jq -r '.confirmed[] | select(.hosts_intercepted != 3 or (.interceptors | length) != 1) | .domain' "$work/discover.json" | wc -l)"
check "discover: screening costs about one handshake per domain" true \
  "$(jq -r '.screening_handshakes < ((.domains * 1.5) | floor)' "$work/discover.json")"
# --strategies: every confirmed domain again under each ClientHello strategy. The plain hello must trigger on all
# three hosts (as in confirmation); every strategy is reported for every domain, its rows marked with it.
check "discover --strategies: the $strategy_count strategies for every confirmed domain" 0 \
  "$(jq -r --argjson n "$strategy_count" '.confirmed[] | select((.strategies | keys | length) != $n) | .domain' "$work/discover.json" | wc -l)"
check "discover --strategies: the plain hello triggers on all three hosts for every domain" 0 \
  "$(jq -r '.confirmed[] | select(.strategies.plain.hosts_intercepted != 3) | .domain' "$work/discover.json" | wc -l)"
check "discover --strategies: each strategy's rows carry it in client_hello" "$strategy_count" \
  "$(jq -r 'select(.client_hello | contains("+")) | .client_hello' "$work/discover.jsonl" | sort -u | wc -l)"
grep '^strategies for' "$work/discover.txt" | head -3

# Rate caps, counted on the wire: every connection's first SYN as the vantage point sends it (tcpdump in its
# namespace), so what is counted is the engine's pace and nothing a loaded host adds (the hosts' own count of
# accept() moved connections into the next second: 27/s under the sanitizers). --host-rate 20 and --rate 100 on
# ten hosts (which could take 200/s together): in any one-second window at most 20 SYNs to one address, 100 in all,
# +1 each for the delay between the engine's clock and the SYN at a window's edge (a delay under one interval, 10 ms
# at 100/s; the sanitized process on two loaded cores may be held longer between the two: +2 there).
(jq -r '.intercepted_hosts[0:5][]' "$state/ground-truth.json"; jq -r '.bypass_hosts[0:5][]' "$state/ground-truth.json") | sed 's/$/:443/' >"$work/rate-hosts.txt"
capture_start rate 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and dst port 443'
lab counters --reset >/dev/null
lab exec -- "$mitmscope" scan --hosts "$work/rate-hosts.txt" --domains "$state/domains.txt" --allow-private \
  --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots" --host-rate 20 --rate 100 --out /dev/null 2>/dev/null
capture_stop
read -r per_host per_client syns < <(tcpdump -nn -tt -r "$work/rate.pcap" 2>/dev/null | python3 -c '
import re, sys
from collections import defaultdict
first, per_address = {}, defaultdict(list)
for line in sys.stdin:   # one first SYN per connection: a retransmitted SYN is the kernel, not the engine
    found = re.search(r"([0-9.]+)\.([0-9]+) > ([0-9.]+)\.443:", line)
    if found and found.groups() not in first:
        first[found.groups()] = float(line.split()[0])
        per_address[found.group(3)].append(first[found.groups()])
def most_in_a_second(times):
    times, most, low = sorted(times), 0, 0
    for high, t in enumerate(times):
        while times[low] <= t - 1.0:
            low += 1
        most = max(most, high - low + 1)
    return most
print(max(map(most_in_a_second, per_address.values()), default=0), most_in_a_second(list(first.values())), len(first))')
lab counters >"$work/counters.json"
echo "     (on the wire: $syns connections, at most $per_host SYNs/s to one address, $per_client/s in all; counted at" \
  "the hosts' accept(): $(jq -r '"\(.host_max_connections_per_address_per_second)/s and \(.host_max_connections_per_client_per_second)/s"' "$work/counters.json"))"
check "lab counters: the hosts' busiest address is one of the ten scanned" true \
  "$(grep -qx "$(jq -r .host_busiest_address "$work/counters.json"):443" "$work/rate-hosts.txt" && echo true || echo false)"
check "--host-rate 20 holds on the wire" true "$([ "$per_host" -le 21 ] && echo true || echo false)"
client_bound=$([ "$sanitized" == true ] && echo 102 || echo 101)
check "--rate 100 holds on the wire" true "$([ "$per_client" -le "$client_bound" ] && echo true || echo false)"
if [ "$sanitized" == false ]; then
  check "... and the scan ran at the caps (not trivially below them)" true \
    "$([ "$per_host" -ge 18 ] && [ "$per_client" -ge 80 ] && echo true || echo false)"
fi
if [ "$sanitized" == false ]; then  # logic, not memory safety: once is enough
for shard in 0 1; do scan --shards 2 --shard $shard --seed 7 --out "$work/shard$shard.jsonl" 2>/dev/null; done
cat "$work/shard0.jsonl" "$work/shard1.jsonl" | jq -r '"\(.ip) \(.sni) \(.verdict)"' | sort >"$work/sharded.txt"
jq -r '"\(.ip) \(.sni) \(.verdict)"' "$work/scan.jsonl" | sort >"$work/unsharded.txt"
check "shards: the union equals the unsharded scan" "" "$(diff "$work/sharded.txt" "$work/unsharded.txt")"
check "shards: no overlap" 0 "$(comm -12 <(jq -r .ip "$work/shard0.jsonl" | sort -u) <(jq -r .ip "$work/shard1.jsonl" | sort -u) | wc -l)"
fi
lab exec -- "$mitmscope" scan --hosts "$state/hosts.txt" --domains "$state/domains.txt" --out /dev/null 2>"$work/private.txt"
check "scan without --allow-private refuses the lab's reserved addresses" true "$(grep -q 'reserved range 198.18.0.0/15' "$work/private.txt" && echo true || echo false)"
echo "198.18.0.0/16" >"$work/blocklist.txt"
scan --blocklist "$work/blocklist.txt" --out "$work/blocked.jsonl" 2>"$work/blocked.txt"
check "blocklist: nothing in it is probed" 0 "$(jq -r 'select(.ip | startswith("198.18.")) | .ip' "$work/blocked.jsonl" | grep -c '^198\.18\.[0-9]*\.' || true)"
check "blocklist: refusals are reported" true "$(grep -q 'is in the blocklist' "$work/blocked.txt" && echo true || echo false)"

# trace: the injection point of every intercepted host is the interceptor's hop, between the right routers.
tflags=(--allow-private --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots")
trace() { lab exec -- "$mitmscope" trace "$@" "${tflags[@]}"; }
truth="$state/ground-truth.json"
thost=$(jq -r '.intercepted_hosts[0]' "$truth")
tbypass=$(jq -r '.bypass_hosts[0]' "$truth")
before=$(jq -r ".router_addresses[$((hop - 2))]" "$truth")
after=$(jq -r ".router_addresses[$((hop - 1))]" "$truth")
trace "$thost" --sni facebook.com --json >"$work/trace.json"
check "trace: intercepted host exits 11" 11 $?
check "trace: in-path injector at the interceptor's hop, between its two routers, the address at the host's hop" \
  "in_path_injector $hop $before $after $host_hop $host_hop" \
  "$(jq -r '.injection | "\(.kind) \(.injection_ttl) \(.router_before.address) \(.router_after.address) \(.control_terminating_ttl) \(.address_distance)"' "$work/trace.json")"
check "trace: every router before the host is named, hop by hop" "$(jq -r '.router_addresses | join(" ")' "$truth")" \
  "$(jq -r '[.runs[0].hops[] | select(.control.outcome == "time_exceeded") | .control.router] | join(" ")' "$work/trace.json")"
trace "$tbypass" --sni facebook.com --json >"$work/trace-bypass.json"
check "trace: bypass host shows no interception, control and target end at the host" "0 no_interception $host_hop $host_hop" \
  "$? $(jq -r '.injection | "\(.kind) \(.target_terminating_ttl) \(.control_terminating_ttl)"' "$work/trace-bypass.json")"
trace "$thost" --sni facebook.com --paris --runs 3 --json >"$work/trace-paris.json"
# Under ASan + UBSan on two loaded cores one run in three sometimes misses a hop's answer within the probe
# timeout (seen once in CI: 2 of 3); the consensus must still be right. Release builds must agree 3 of 3.
agree=3
[ "$sanitized" == true ] && [ "$(jq '.consistency.agreeing_runs' "$work/trace-paris.json")" -ge 2 ] && agree=$(jq '.consistency.agreeing_runs' "$work/trace-paris.json")
check "trace --paris --runs 3: the same answer in $agree of 3 runs (3 of 3 unless sanitized), one source port per series" \
  "in_path_injector $hop $before $after $agree 1" \
  "$(jq -r '"\(.injection.kind) \(.injection.injection_ttl) \(.injection.router_before.address) \(.injection.router_after.address) \(.consistency.agreeing_runs) \([.runs[0].hops[] | .control.source_port] | unique | length)"' "$work/trace-paris.json")"
ip netns exec ms-vantage setpriv --bounding-set=-net_raw "$mitmscope" trace "$thost" --sni facebook.com "${tflags[@]}" --json \
  >"$work/trace-noraw.json" 2>"$work/trace-noraw.txt"
check "trace without CAP_NET_RAW: the same TTLs, routers unknown and said so" "in_path_injector $hop null false true" \
  "$(jq -r '"\(.injection.kind) \(.injection.injection_ttl) \(.injection.router_before) \(.routers_known) \(.routers_unknown_reason != null)"' "$work/trace-noraw.json")"
check "trace without CAP_NET_RAW: the warning names the capability" true \
  "$(grep -q 'CAP_NET_RAW' "$work/trace-noraw.txt" && echo true || echo false)"
# A probe lost just below where a series ends is probed again. The hosts' namespace drops, once, the first SYN to
# port 80 that arrives with TTL 1 (the path probe sent with the address's own TTL); the connect timeout (0.5 s) is
# shorter than the kernel's SYN retransmission (1 s), so that probe is silent and the next TTL is the first answer.
lost_syn=(INPUT -d "$thost" -p tcp --dport 80 --syn -m ttl --ttl-eq 1 -m statistic --mode nth --every 1000000 --packet 0 -j DROP)
lost_trace() {  # lost_trace RETRIES -> address distance, attempts and outcome at the address's hop
  ip netns exec ms-hosts iptables -I "${lost_syn[@]}"
  trace "$thost" --sni facebook.com --connect-timeout 0.5 --retries "$1" --json >"$work/trace-lost.json"
  ip netns exec ms-hosts iptables -D "${lost_syn[@]}"
  jq -r --argjson at "$host_hop" '"\(.injection.address_distance) \(.runs[0].hops[] | select(.ttl == $at) | .path | "\(.attempts) \(.outcome)")"' \
    "$work/trace-lost.json"
}
check "trace --retries 0: one lost SYN moves the address a hop further (what the retry is for)" \
  "$((host_hop + 1)) 1 silence" "$(lost_trace 0)"
check "trace: the lost probe at the address's hop is sent again, the distance stays exact" \
  "$host_hop 2 reached" "$(lost_trace 2)"
# A clean trace costs no retry (release only: under the sanitizers a slow answer may rightly be asked again).
[ "$sanitized" == true ] || check "trace: no hop of the clean trace was probed twice" 0 \
  "$(jq '[.runs[].hops[] | (.target, .control, .path) | select(. != null and .attempts != 1)] | length' "$work/trace.json")"
# Bulk: every host of the lab, twice each (so "runs agree" can fail); the aggregate equals the ground truth exactly.
# Under the sanitizers once each (CI time): the same code, and the release build checks that runs agree.
bulk_runs=$([ "$sanitized" == true ] && echo 1 || echo 2)
trace --hosts "$state/hosts.txt" --sni facebook.com --runs "$bulk_runs" --out "$work/traces.jsonl" --summary "$work/trace-summary.json" \
  --store "$work/traces.db" >"$work/trace-bulk.txt" 2>/dev/null
check "trace --hosts: exits 0" 0 $?
check "trace --hosts: every host traced" "$(wc -l <"$state/hosts.txt")" "$(jq -r .hosts "$work/trace-summary.json")"
check "trace --hosts: the intercepted hosts are exactly the ground truth's" "$(jq -r '.intercepted_hosts[]' "$truth" | sort)" \
  "$(jq -r 'select(.injection.kind != "no_interception") | .address' "$work/traces.jsonl" | sort)"
check "trace --hosts: all injected before the host, $((host_hop - hop)) hops before, one router pair" \
  "$(jq -r '.intercepted_hosts | length' "$truth") {\"$((host_hop - hop))\":$(jq -r '.intercepted_hosts | length' "$truth")} $before $after 1" \
  "$(jq -r '"\(.injection_before_host) \(.hops_before_host | tojson) \(.router_pairs[0].router_before) \(.router_pairs[0].router_after) \(.router_pairs[0].share)"' "$work/trace-summary.json")"
check "trace --hosts: intercepted share per AS equals the ground truth" "$truth_per_as" \
  "$(jq -r '.per_as[] | select(.intercepted > 0) | "\(.as | ltrimstr("AS")) \(.intercepted)"' "$work/trace-summary.json" | sort)"
check "trace --hosts: no host gave different answers, no TTL had two routers" "0 0" \
  "$(jq -r '"\(.hosts_with_inconsistent_runs) \(.hosts_with_multi_router_ttls)"' "$work/trace-summary.json")"
"$mitmscope" report --store "$work/traces.db" --format json --out "$work/trace-report.json"
check "trace --store, report: intercepted hosts injected $((host_hop - hop)) hops before the address, between $before and $after" \
  "in_path_injector $hop $host_hop $((host_hop - hop)) $(jq -r '.intercepted_hosts | length' "$truth")|$before $after $(jq -r '.intercepted_hosts | length' "$truth") 1" \
  "$(jq -r '(.trace_hops[] | select(.kind == "in_path_injector") | "\(.kind) \(.injection_ttl) \(.address_distance) \(.hops_before_address) \(.addresses)"), (.trace_router_pairs[] | "\(.router_before) \(.router_after) \(.addresses) \(.share)")' "$work/trace-report.json" | paste -sd'|')"
check "trace --store, report: every other host has no interception" "$(( $(wc -l <"$state/hosts.txt") - $(jq -r '.intercepted_hosts | length' "$truth") ))" \
  "$(jq -r '.trace_hops[] | select(.kind == "no_interception") | .addresses' "$work/trace-report.json")"

# Store and resume: a scan killed with -9 at two points and resumed stores exactly what an uninterrupted run does.
rows() { sqlite3 "$1" "SELECT ip, port, sni, verdict FROM results ORDER BY ip, port, sni"; }
scan --store "$work/whole.db" --out /dev/null 2>/dev/null
points=(2 5)
[ "$sanitized" == true ] && points=(8)
for point in "${points[@]}"; do
  "$mitmscope" lab --state-dir "$state" exec -- "$mitmscope" scan --hosts "$state/hosts.txt" --domains "$state/domains.txt" \
    "${scan_flags[@]}" --store "$work/resumed-$point.db" --out /dev/null 2>/dev/null &
  scan_pid=$!
  sleep "$point"
  kill -9 "$scan_pid" 2>/dev/null
  wait "$scan_pid" 2>/dev/null
  partial=$(sqlite3 "$work/resumed-$point.db" "SELECT COUNT(*) FROM results")
  scan --store "$work/resumed-$point.db" --resume --out /dev/null 2>/dev/null
  check "resume after kill -9 at ${point} s (${partial} results stored before): the same results as one run" \
    "$(rows "$work/whole.db" | md5sum)" "$(rows "$work/resumed-$point.db" | md5sum)"
done
check "store: certificates stored once" "$(sqlite3 "$work/whole.db" "SELECT COUNT(DISTINCT sha256) FROM result_certificates")" \
  "$(sqlite3 "$work/whole.db" "SELECT COUNT(*) FROM certificates")"

# Down: nothing remains.
pid=$(jq -r .daemon_pid "$state/lab.json")
lab down >/dev/null
check "lab down: no namespace left" 0 "$(ip netns list | grep -c '^ms-')"
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; }
alive "$pid"
check "lab down: daemon gone" 1 $?
check "lab down: state removed" false "$( [ -e "$state" ] && echo true || echo false)"
lab down >/dev/null
check "lab down is idempotent" 0 $?

# A crash: kill -9 of `lab up` mid-way, then `lab down` still cleans everything.
"$mitmscope" lab --state-dir "$state" up --size 400 >/dev/null 2>&1 &  # not the shell function: $! must be mitmscope
up_pid=$!
sleep 0.3
kill -9 "$up_pid" 2>/dev/null
wait "$up_pid" 2>/dev/null
lab down >/dev/null
check "after kill -9 of lab up, lab down leaves no namespace" 0 "$(ip netns list | grep -c '^ms-')"
daemons=0
sleep 0.2
for candidate in $(pgrep -f "lab --state-dir $state up"); do alive "$candidate" && daemons=$((daemons + 1)); done
check "... and no lab daemon" 0 "$daemons"

# The full kz-2019 (6,736 hosts) comes up in under 30 seconds: a figure of the release build (under the
# sanitizers every minting is several times slower and the figure means nothing; CI time).
if [ "$sanitized" != true ]; then
  start=$(date +%s.%N)
  lab up --size 6736 >"$work/full.txt" 2>&1
  check "full-size lab up" 0 $? || cat "$work/full.txt"
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  echo "full-size lab up: $seconds s"
  check "full-size lab up under 30 s" 1 "$(echo "$seconds < 30" | bc)"
  check "full size: 6736 hosts" 6736 "$(jq -r .hosts "$state/ground-truth.json")"
  last=$(jq -r '.intercepted_hosts[-1]' "$state/ground-truth.json")
  check "full size: last intercepted host intercepted" "intercepted - lab-root" "$(verdict "$last" --sni twitter.com)"
  lab down >/dev/null
fi

# Under the sanitizers (CI time) the proxy mode and kz-2021 labs are left to the release build: the same
# daemon and probe code, in other modes, each a lab up several times slower under ASan.
if [ "$sanitized" = false ]; then
# Terminating-proxy mode: the TCP connection ends at the device for every name.
jq '.name = "kz-2019-proxy" | .interceptor.mode = "terminating-proxy"' "$(dirname "$0")/../../data/scenarios/kz-2019.json" >"$work/proxy.json"
lab up --scenario "$work/proxy.json" --size 200 >/dev/null 2>&1
check "proxy lab up" 0 $?
host=$(jq -r '.intercepted_hosts[0]' "$state/ground-truth.json")
check "proxy: targeted forged" "intercepted - lab-root" "$(verdict "$host" --sni facebook.com)"
check "proxy: control spliced to the genuine host" "untrusted - -" "$(verdict "$host" --sni $control)"
check "proxy: control with TTL reaching the device already gets the genuine answer" "untrusted - -" \
  "$(verdict "$host" --sni $control --ttl "$hop")"
trace "$host" --sni facebook.com --json >"$work/trace-proxy.json"
check "trace: terminating proxy at the device's hop, the address further" "terminating_proxy $hop $hop $host_hop" \
  "$(jq -r '.injection | "\(.kind) \(.injection_ttl) \(.control_terminating_ttl) \(.address_distance)"' "$work/trace-proxy.json")"
check "trace: without the path series it cannot tell proxy from server, and says so" "terminating_proxy_or_server" \
  "$(trace "$host" --sni facebook.com --json --no-path | jq -r .injection.kind)"
lab down >/dev/null
fi

# monitor: the interceptor pauses at 11 s and resumes at 24 s with the 24-hour validity shift; rounds every 6 s.
# The first monitor is killed with -9 in its second round; the second continues the series. Expected events,
# in order, and nothing else: baseline (1), interception_stopped (3), interception_started and rules_changed (5).
# Round 2 is measured again from about 7 s (8.5 s under sanitizers on loaded cores, and then it takes 2-3 s):
# the pause leaves it until 11 s, and round 4 (from 19-21 s) until 24 s; rounds 3 and 5 start after 13 and 25 s.
jq '.name = "kz-2019-monitor" | .schedule.events = [{"at_seconds": 11, "interceptor": "off"},
    {"at_seconds": 24, "interceptor": "on", "validity_shift_hours": -24}]' \
  "$(dirname "$0")/../../data/scenarios/kz-2019.json" >"$work/monitor.json"
lab up --scenario "$work/monitor.json" --size 200 >/dev/null 2>&1
check "monitor lab up" 0 $?
truth="$state/ground-truth.json"
(jq -r '.intercepted_hosts[0:4][]' "$truth"; jq -r '.bypass_hosts[0:2][]' "$truth") | sed 's/$/:443 AS9198/' >"$work/monitor-hosts.txt"
head -3 "$state/domains.txt" >"$work/monitor-domains.txt"
monitor_cmd=("$mitmscope" lab --state-dir "$state" exec -- "$mitmscope" monitor --hosts "$work/monitor-hosts.txt"
  --domains "$work/monitor-domains.txt" --every 6s --store "$work/monitor.db" --stateful-delay 0.5 --retries 2
  --allow-private --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots" --json
  --on-event "cat >>$work/hook.jsonl" --rounds 5)
"${monitor_cmd[@]}" >"$work/monitor-1.jsonl" 2>"$work/monitor-1.txt" &  # not a function: $! must be mitmscope
monitor_pid=$!
sleep 6.8
kill -9 "$monitor_pid" 2>/dev/null
wait "$monitor_pid" 2>/dev/null
check "monitor: the first monitor is gone after kill -9" 0 "$(pgrep -fc "monitor --hosts $work/monitor-hosts.txt" || true)"
"${monitor_cmd[@]}" >"$work/monitor-2.jsonl" 2>"$work/monitor-2.txt"
check "monitor: the restarted monitor exits 0" 0 $?
check "monitor: continues the series after the kill" true \
  "$(grep -q 'continuing after round' "$work/monitor-2.txt" && echo true || echo false)"
check "monitor: the expected events in order, and nothing else" \
  "1 baseline global|3 interception_stopped global|5 interception_started global|5 rules_changed global" \
  "$(sqlite3 "$work/monitor.db" "SELECT round || ' ' || type || ' ' || scope FROM events ORDER BY round, id" | paste -sd'|')"
check "monitor: rules_changed says -6 -> -24" '["-6"] ["-24"]' \
  "$(sqlite3 "$work/monitor.db" "SELECT detail FROM events WHERE type = 'rules_changed'" | jq -c -r '"\(.validity_shift_hours.before) \(.validity_shift_hours.now)"')"
check "monitor: rounds 1..5 each stored once, all finished" "1 2 3 4 5|0" \
  "$(sqlite3 "$work/monitor.db" "SELECT round FROM scans WHERE monitor_id IS NOT NULL AND finished_at IS NOT NULL ORDER BY round" | paste -sd' ')|$(sqlite3 "$work/monitor.db" "SELECT COUNT(*) FROM scans WHERE finished_at IS NULL")"
check "monitor: every round holds every (host, domain) once" "6x3 6x3 6x3 6x3 6x3" \
  "$(sqlite3 "$work/monitor.db" "SELECT COUNT(DISTINCT r.ip) || 'x' || COUNT(DISTINCT r.sni) FROM results r JOIN scans s ON r.scan_id = s.id GROUP BY s.round ORDER BY s.round" | paste -sd' ')"
check "monitor: the events printed equal the stored ones" \
  "$(sqlite3 "$work/monitor.db" "SELECT type FROM events WHERE round > 1 ORDER BY round, id" | paste -sd' ')" \
  "$(jq -r 'select(.round > 1) | .type' "$work/monitor-1.jsonl" "$work/monitor-2.jsonl" | paste -sd' ')"
check "monitor: --on-event got each event as JSON on stdin" \
  "$(sqlite3 "$work/monitor.db" "SELECT COUNT(*) FROM events WHERE round > 1")" "$(jq -r 'select(.round > 1) | .type' "$work/hook.jsonl" | wc -l)"
# report: the same campaign as tables, with the bulk traces added to its store (store copy into a store in use).
"$mitmscope" store copy "$work/traces.db" "$work/monitor.db" >/dev/null 2>&1
check "store copy: the traces join the monitor's store" "$(jq -r .traces <("$mitmscope" store counts "$work/traces.db" --json))" \
  "$(jq -r .traces <("$mitmscope" store counts "$work/monitor.db" --json))"
"$mitmscope" report --store "$work/monitor.db" --format json --out "$work/report.json"
check "report: intercepted hosts per round, the pause visible" "4 4 0 0 4" \
  "$(jq -r '[.rounds[] | select(.finished) | .intercepted_hosts] | join(" ")' "$work/report.json")"
check "report: the four events" "baseline interception_stopped interception_started rules_changed" \
  "$(jq -r '[.events[].type] | join(" ")' "$work/report.json")"
check "report: one intercepting intermediate, every intercepted result counted, none used outside its validity" \
  "1 $(sqlite3 "$work/monitor.db" "SELECT COUNT(*) FROM results WHERE verdict = 'intercepted'") 0 0" \
  "$(jq -r '"\(.intermediates | length) \(.intermediates[0].results) \(.intermediates[0].used_before_not_before) \(.intermediates[0].used_after_not_after)"' "$work/report.json")"
check "report: per domain, the 3 domains on 4 hosts" "4 4 4" "$(jq -r '[.per_domain[].intercepted_hosts] | join(" ")' "$work/report.json")"
"$mitmscope" report --store "$work/monitor.db" --format csv --out "$work/report-csv" 2>/dev/null
check "report --format csv: a file per table, rounds with a header and 5 rows" 6 "$(wc -l <"$work/report-csv/rounds.csv")"
# The HTML report in a real headless Chromium: the charts render (checked on the DOM), no console message.
"$mitmscope" report --store "$work/monitor.db" --format html --out "$work/report.html" --title "lab monitor"
chromium_flags=(--headless --no-sandbox --disable-gpu --virtual-time-budget=15000 --window-size=1100,2000)
timeout 120 chromium "${chromium_flags[@]}" --enable-logging=stderr --v=0 --dump-dom "$work/report.html" \
  >"$work/report.dom" 2>"$work/chromium.txt"
check "report --format html: all 6 charts rendered in Chromium (the two of traces too), no chart error" '6 2 0' \
  "$(grep -o 'data-charts-rendered="[0-9]*"' "$work/report.dom" | grep -o '[0-9]*') $(grep -Ec 'id="chart-trace_(hops|router_pairs)"[^>]*data-rendered="true"' "$work/report.dom") $(grep -c 'data-chart-error="' "$work/report.dom")"
check "report --format html: one point per round, a rule per event after the baseline, bars per AS and domain" "5 3 yes" \
  "$(grep -o 'aria-roledescription="point"' "$work/report.dom" | wc -l) $(grep -o 'aria-roledescription="rule mark"' "$work/report.dom" | wc -l) $(grep -q 'aria-roledescription="bar"' "$work/report.dom" && echo yes)"
check "report --format html: nothing on the browser console" 0 "$(grep -c ':CONSOLE(' "$work/chromium.txt")"
check "report --format html: self-contained (no http(s) source or link)" 0 "$(grep -Eic '(src|href)="https?:' "$work/report.html")"
timeout 120 chromium "${chromium_flags[@]}" --screenshot="$work/report.png" "$work/report.html" >/dev/null 2>&1
check "report --format html: a screenshot of the rendered page" true \
  "$([ "$(stat -c %s "$work/report.png" 2>/dev/null || echo 0)" -gt 30000 ] && echo true || echo false)"
check "report --format md: the tables in Markdown" true \
  "$("$mitmscope" report --store "$work/monitor.db" | grep -q '^| scan | monitor | round' && echo true || echo false)"
lab down >/dev/null

# kz-2021: an ISCA-named lab root, 75-day intermediates used after they expired, then a valid one.
if [ "$sanitized" = false ]; then
lab up --scenario kz-2021 --size 300 >/dev/null 2>&1
check "kz-2021 lab up" 0 $?
truth="$state/ground-truth.json"
host=$(jq -r '.intercepted_hosts[0]' "$truth")
probe "$host" --sni rutracker.org >"$work/isca.json"
check "kz-2021: intercepted by the lab root, by key" "intercepted lab-root" "$(jq -r '[.interception.verdict, .interception.known_interceptor.id] | join(" ")' "$work/isca.json")"
check "kz-2021: the root's name collides with the seven real ISCA roots, none attributed" 7 "$(jq -r '.interception.name_collisions | length' "$work/isca.json")"
check "kz-2021: served by the expired intermediate 6" "$(jq -r '.intermediates[5].sha256' "$truth")" "$(jq -r '.server_certificates.chain[0].sha256' "$work/isca.json")"
check "kz-2021: its validity is 75 days" 75 "$(jq -r '.intermediates[5] | ((.not_after | fromdate) - (.not_before | fromdate)) / 86400' "$truth")"
check "kz-2021: the client sees it expired" true "$(jq -r '[.validation.issues[] | select(.depth == 1 and .name == "expired")] | length == 1' "$work/isca.json")"
for _ in $(seq 1 60); do [ "$(jq -r .intermediate "$state/daemon.json" 2>/dev/null)" == 6 ] && break; sleep 0.5; done
check "kz-2021: after 20 s the schedule moves to intermediate 7" "$(jq -r '.intermediates[6].sha256' "$truth")" \
  "$(probe "$host" --sni xakep.ru | jq -r '.server_certificates.chain[0].sha256')"
lab down >/dev/null
fi

finish
