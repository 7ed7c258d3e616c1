#!/usr/bin/env bash
# The scan beside the tools a user would otherwise use, on the same lab hosts and SNIs, in one run
# (root: it builds the kz-2019 lab and runs everything from its vantage namespace):
#   mitmscope scan | nmap --script ssl-cert | sslscan | testssl.sh mass mode | an openssl s_client loop
# For each: wall time, CPU seconds (user+sys of the tool and its children), TCP connections and TLS
# handshakes counted at the lab's hosts, and CPU per (host, SNI) and per handshake. Then the floor:
# what the handshake's cryptography alone costs here (openssl speed), and our CPU per handshake as a
# ratio of it; and the network floor: the same connections with the same ClientHello and no TLS work at all
# (tcp_floor, built beside mitmscope), so the scan's CPU splits into the two floors and what it adds.
# Usage: bench/scan_peers.sh [build/mitmscope]   (HOSTS=200 DOMAINS=5 TESTSSL_HOSTS=2)
set -eu
cd "$(dirname "$0")/.."
mitmscope=$(realpath "${1:-build/mitmscope}")
hosts_n=${HOSTS:-200}
domains_n=${DOMAINS:-5}
testssl_n=${TESTSSL_HOSTS:-2}
[ "$(id -u)" -eq 0 ] || { echo "bench/scan_peers.sh needs root (the lab)" >&2; exit 1; }
bash scripts/install-deps.sh --bench
state=$(mktemp -d)/lab
work=$(mktemp -d)
lab() { "$mitmscope" lab --state-dir "$state" "$@"; }
trap 'lab down >/dev/null 2>&1 || true; rm -rf "$work" "$(dirname "$state")"' EXIT
lab up >/dev/null

# Hosts on bypass paths (genuine answers: every tool does the same work) and SNIs nobody intercepts.
jq -r ".bypass_hosts[0:$hosts_n][]" "$state/ground-truth.json" >"$work/ips.txt"
sed 's/$/:443/' "$work/ips.txt" >"$work/targets.txt"
for i in $(seq 1 "$domains_n"); do echo "www.site$i.example"; done >"$work/domains.txt"
pairs=$((hosts_n * domains_n))

counter() { jq -r ".$1" "$state/daemon.json"; }
# measure NAME PAIRS COMMAND...: runs COMMAND in the vantage namespace, prints one table row.
measure() {
  local name=$1 count=$2; shift 2
  lab counters --reset >/dev/null
  local handshakes_before; handshakes_before=$(counter host_handshakes)
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$mitmscope" lab --state-dir "$state" exec -- "$@" >"$work/$name.out" 2>&1 || true
  sleep 0.5  # the daemon's status file is written every 200 ms
  local connections handshakes; connections=$(counter host_connections)
  handshakes=$(( $(counter host_handshakes) - handshakes_before ))
  # A first flight stops before the handshake completes, so the hosts count none: each connection is one.
  [ "${FIRST_FLIGHT:-0}" = 1 ] && handshakes=$connections
  read -r wall user sys rss < <(tail -n 1 "$work/time")
  local cpu; cpu=$(echo "$user + $sys" | bc -l)
  printf "| %s | %d | %.2f | %.2f | %d | %d | %.0f | %.3f | %.3f | %d |\n" "$name" "$count" "$wall" "$cpu" "$connections" \
    "$handshakes" "$(echo "$handshakes / $wall" | bc -l)" "$(echo "1000 * $cpu / $count" | bc -l)" \
    "$(echo "1000 * $cpu / ($handshakes + ($handshakes == 0))" | bc -l)" "$((rss / 1024))"
  echo "$name $cpu $handshakes $connections" >>"$work/cpu.txt"
}

echo "Lab: kz-2019, $hosts_n bypass hosts x $domains_n SNIs ($pairs pairs); testssl.sh on $testssl_n hosts x 1 SNI."
echo "CPU = user+sys of the client process tree; connections and handshakes counted at the lab's hosts (a first"
echo "flight, which stops before the handshake completes, counts as one handshake per connection)."
echo
echo "| tool | (host, SNI) pairs | wall s | CPU s | TCP connections | TLS handshakes | handshakes/s | CPU ms per pair | CPU ms per handshake | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
flags=(--allow-private --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots")
# The scan with each client: the first-flight client (its default profile, curl, and chromium's) and OpenSSL's.
for client in curl chromium openssl; do
  name="mitmscope scan --client-hello $client"
  [ "$client" = curl ] && name="mitmscope scan"
  FIRST_FLIGHT=$([ "$client" = openssl ] && echo 0 || echo 1) measure "$name" "$pairs" "$mitmscope" scan --hosts "$work/targets.txt" --domains "$work/domains.txt" "${flags[@]}" \
    --controls 1 --host-rate 1000 --concurrency 500 --client-hello "$client" --out /dev/null
done
# The network floor: the scan's connections (a control and the SNIs per host), each sending the curl profile's
# ClientHello and reading until the server's first encrypted record, then closing; no cryptography, no output.
connections_per_host=$((domains_n + 1))
FIRST_FLIGHT=1 measure "tcp_floor (connections only)" "$pairs" "$(dirname "$mitmscope")/tcp_floor" "$work/targets.txt" \
  "$connections_per_host" 500
measure "mitmscope probe loop" "$pairs" bash -c "while read -r ip; do while read -r sni; do
  '$mitmscope' probe \$ip --sni \$sni ${flags[*]} >/dev/null; done <'$work/domains.txt'; done <'$work/ips.txt'"
measure "nmap ssl-cert" "$pairs" bash -c "while read -r sni; do
  nmap -Pn -n -p 443 --script ssl-cert --script-args tls.servername=\$sni -iL '$work/ips.txt' -oN /dev/null >/dev/null; done <'$work/domains.txt'"
measure "sslscan" "$pairs" bash -c "while read -r sni; do
  sslscan --no-colour --sni-name=\$sni --show-certificate --no-ciphersuites --no-fallback --no-renegotiation \
    --no-compression --no-heartbleed --no-groups --targets='$work/targets.txt' >/dev/null; done <'$work/domains.txt'"
measure "openssl s_client loop" "$pairs" bash -c "while read -r ip; do while read -r sni; do
  openssl s_client -connect \$ip:443 -servername \$sni </dev/null >/dev/null 2>&1; done <'$work/domains.txt'; done <'$work/ips.txt'"

if [ "$testssl_n" -gt 0 ]; then
  head -n "$testssl_n" "$work/ips.txt" | while read -r ip; do echo "--quiet --ip $ip -S www.site1.example"; done >"$work/testssl.txt"
  echo "     (testssl.sh next: it runs its full server-defaults suite per target, several minutes)" >&2
  measure "testssl.sh --parallel -S" "$testssl_n" timeout 600 testssl --file "$work/testssl.txt" --mode parallel --warnings off
fi
# The floor: the handshake's cryptography, measured here. A TLS 1.3 handshake with a lab host costs the
# client an X25519 key generation and shared secret (2 scalar multiplications) and the ECDSA P-256
# verification of CertificateVerify; validating the chain adds one verification per signature (the
# leaf's, by the lab CA's key).
ca_key=$(openssl x509 -in "$state/public-ca.pem" -noout -text | grep -m1 'Public Key Algorithm' | awk '{print $NF}')
speed() { openssl speed -seconds 2 -mr "$@" 2>/dev/null; }
x25519=$(speed ecdhx25519 | awk -F: '/^\+F5:/ {print $4}' | head -1)
ecdsa=$(speed ecdsap256 | awk -F: '/^\+F4:/ {print $5}' | head -1)
rsa=$(speed rsa2048 | awk -F: '/^\+F2:/ {print $5}' | head -1)
chain_verify=$ecdsa
[ "$ca_key" = "rsaEncryption" ] && chain_verify=$rsa
floor_ms=$(echo "1000 * (2 / $x25519 + 1 / $ecdsa + 1 / $chain_verify)" | bc -l)
# The first-flight client verifies nothing in the handshake: one key exchange (2 X25519), and the chain's one
# signature checked when the result is judged.
flight_floor_ms=$(echo "1000 * (2 / $x25519 + 1 / $chain_verify)" | bc -l)
echo
echo "openssl speed: X25519 $x25519 ops/s, ECDSA P-256 verify $ecdsa/s, RSA-2048 verify $rsa/s; lab CA key: $ca_key"
printf "crypto floor per handshake: %.3f ms CPU (2 X25519 + 2 verifications); first flight: %.3f ms (2 X25519 + the chain's verification)\n" \
  "$floor_ms" "$flight_floor_ms"
# A first flight never completes a handshake (the hosts count none): its connections are its handshakes.
row() { grep "^$1 [0-9.]* [0-9]* [0-9]*\$" "$work/cpu.txt" | awk '{print $(NF-2), ($(NF-1) > 0 ? $(NF-1) : $NF)}'; }
read -r nmap_cpu _ < <(row "nmap ssl-cert")
read -r tcp_cpu tcp_connections < <(row "tcp_floor (connections only)")
tcp_ms=$(echo "1000 * $tcp_cpu / $tcp_connections" | bc -l)
# The best any client could do beside nmap: both floors for each of the scan's connections, per (host, SNI).
best_ms_per_pair=$(echo "($tcp_ms + $flight_floor_ms) * $tcp_connections / $pairs" | bc -l)
printf "network floor per connection: %.3f ms CPU (tcp_floor); both floors per (host, SNI): %.3f ms, so at best nmap ssl-cert / %.1f\n" \
  "$tcp_ms" "$best_ms_per_pair" "$(echo "$nmap_cpu * 1000 / $pairs / $best_ms_per_pair" | bc -l)"
for name in "mitmscope scan" "mitmscope scan --client-hello chromium" "mitmscope scan --client-hello openssl"; do
  read -r cpu handshakes < <(row "$name")
  ms=$(echo "1000 * $cpu / $handshakes" | bc -l)
  floor=$flight_floor_ms
  [ "$name" = "mitmscope scan --client-hello openssl" ] && floor=$floor_ms
  printf "%s: %.3f ms CPU per handshake = %.2fx its crypto floor (target: within 1.5x), %.2fx both floors; nmap ssl-cert / it, CPU per (host, SNI): %.1fx (target: at least 20x)\n" \
    "$name" "$ms" "$(echo "$ms / $floor" | bc -l)" "$(echo "$ms / ($floor + $tcp_ms)" | bc -l)" "$(echo "$nmap_cpu / $cpu" | bc -l)"
done
