#!/usr/bin/env bash
# End-to-end: the real binary against its own demo files, OpenSSL's s_server and
# the bundled data. Traffic goes to 127.0.0.1 only. Usage: cli_test.sh MITMSCOPE TEST_DATA
set -u
mitmscope=$1
data=$2
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/check_lib.sh"

"$mitmscope" demo pki --work-dir "$work/demo" >"$work/demo.log" 2>&1
check "demo exits 0" 0 $?
grep -q "0 checks failed" "$work/demo.log"
check "demo reports no failed check" 0 $?

# A real TLS server (OpenSSL s_server) presenting the forged chain.
port=$(( (RANDOM % 20000) + 30000 ))
openssl s_server -quiet -accept "127.0.0.1:$port" -cert "$work/demo/forged-leaf.pem" -key "$work/demo/forged-key.pem" \
  -cert_chain "$work/demo/interceptor-intermediate.pem" -www >/dev/null 2>&1 &
server_pid=$!
trust=(--trust-store "$work/demo/public-ca.pem" --known-roots "$work/demo/known-roots")
for _ in $(seq 1 50); do
  "$mitmscope" probe "127.0.0.1:$port" --sni facebook.com --allow-private "${trust[@]}" --json >"$work/probe.json" 2>/dev/null
  status=$?
  [ $status -ne 12 ] && break
  sleep 0.1
done
check "probe of the forged chain exits 11 (intercepted)" 11 "$status"
check "verdict" intercepted "$(jq -r .interception.verdict "$work/probe.json")"
check "known interceptor" lab-qaznet-root "$(jq -r .interception.known_interceptor.id "$work/probe.json")"
check "leaf exponent" 3 "$(jq -r .server_certificates.certificate.public_key.exponent "$work/probe.json")"
check "chain as sent" 1 "$(jq -r '.server_certificates.chain | length' "$work/probe.json")"
check "browser_trusted" false "$(jq -r .validation.browser_trusted "$work/probe.json")"
check "ja3s present" 32 "$(jq -r '.server_hello.ja3s | length' "$work/probe.json")"
check "no JA4S without --ja4" null "$(jq -r .server_hello.ja4s "$work/probe.json")"
"$mitmscope" probe "127.0.0.1:$port" --sni facebook.com --allow-private "${trust[@]}" --json --ja4 --tls-max 1.2 >"$work/probe12.json"
check "TLS 1.2 when asked" TLSv1.2 "$(jq -r .server_hello.version.name "$work/probe12.json")"
check "JA4S with --ja4" t12 "$(jq -r .server_hello.ja4s "$work/probe12.json" | cut -c1-3)"
"$mitmscope" probe "127.0.0.1:$port" --sni facebook.com --allow-private >"$work/human.txt"
check "human output names the verdict (Mozilla store: untrusted)" 10 $?
grep -q "UNTRUSTED" "$work/human.txt"
check "human output says UNTRUSTED" 0 $?

"$mitmscope" probe "127.0.0.1:$port" --sni facebook.com 2>"$work/refused.txt"
check "loopback refused without --allow-private (exit 2)" 2 $?
grep -q "reserved range 127.0.0.0/8" "$work/refused.txt"
check "the refusal names the range" 0 $?
"$mitmscope" probe "127.0.0.1:$port" --sni "bad name" --allow-private 2>/dev/null
check "bad SNI exits 2" 2 $?
"$mitmscope" probe example.com --sni example.com 2>/dev/null
check "a name instead of an address exits 2" 2 $?

closed_port=$(( port + 1 ))
"$mitmscope" probe "127.0.0.1:$closed_port" --sni example.com --allow-private --json >"$work/closed.json"
check "refused port exits 12" 12 $?
check "refused port error code" connection_refused "$(jq -r .error.code "$work/closed.json")"

"$mitmscope" inspect "$MITMSCOPE_SOURCE_DIR/data/known-roots/qaznet-trust-network-root-2019_sha256-00309c73.pem" --json >"$work/qaznet.json"
check "inspect exits 0" 0 $?
check "Qaznet attributed" qaznet-trust-network-root-2019 "$(jq -r .interception.known_interceptor.id "$work/qaznet.json")"
check "by identity" identical_certificate "$(jq -r .interception.known_interceptor.method "$work/qaznet.json")"
check "registry period" 2019-07-17 "$(jq -r .interception.registry_entry.period.from "$work/qaznet.json")"

"$mitmscope" inspect "$work/demo/forged-chain.pem" --genuine "$work/demo/genuine.pem" "${trust[@]}" --json >"$work/forging.json"
check "forging: validity shift" -6 "$(jq -r .forging.not_before_shift_hours "$work/forging.json")"
check "forging: exponent" 3 "$(jq -r .forging.presented_key.exponent "$work/forging.json")"
check "forging: subject copied" true "$(jq -r .forging.same_subject "$work/forging.json")"

"$mitmscope" inspect "$work/no-such-file.pem" 2>"$work/missing.txt"
check "missing file exits 3" 3 $?
grep -q "no-such-file.pem" "$work/missing.txt"
check "the error names the file" 0 $?
printf 'garbage\x00\x01' >"$work/garbage.pem"
"$mitmscope" inspect "$work/garbage.pem" 2>"$work/garbage.txt"
check "garbage exits 3" 3 $?
grep -q "garbage.pem: line 1" "$work/garbage.txt"
check "the error names file and line" 0 $?
"$mitmscope" inspect "$work/demo/genuine.pem" --at 2019-13-45 2>/dev/null
check "bad --at exits 2" 2 $?

finish
