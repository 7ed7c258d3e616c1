#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/*.cc) with Debian's clang 16 (ASan + UBSan), replays every saved
# crash (tests/data/fuzz-regressions/NAME/*: each one a regression test), then fuzzes each harness for
# SECONDS from seed corpora made of the project's real data (OONI samples, the Kazakh and other
# interception roots, the scenarios, ServerHellos from the tests). Prints executions, coverage and crashes
# per harness; a new crash fails the run and is kept under tests/data/fuzz-regressions/NAME/ to commit.
# Usage: scripts/fuzz.sh [SECONDS=20] [BUILD_DIR=build-fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
build=${2:-build-fuzz}
if ! command -v clang++-16 >/dev/null; then
  echo "fuzz: clang++-16 is missing (bash scripts/install-deps.sh installs it)" >&2
  exit 1
fi
CXX=clang++-16 CC=clang-16 cmake -S . -B "$build" -G Ninja -DMITMSCOPE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if ! cmake --build "$build" -j "$(nproc)" >"$build/build.log" 2>&1; then
  echo "fuzz: the harnesses do not build:" >&2
  grep -E -B2 -A6 "error|FAILED" "$build/build.log" | head -60 >&2
  exit 1
fi

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds"/{server_hello,client_hello,certificate,ooni_measurement,scenario,device_answer,tcp_packets}
# ServerHellos: TLS 1.3 and 1.2 messages (handshake header included), one with duplicated extensions.
printf '\x02\x00\x00\x56\x03\x03%s\x00\x13\x01\x00\x00\x2e\x00\x2b\x00\x02\x03\x04\x00\x33\x00\x24\x00\x1d\x00\x20%s' \
  "$(head -c 32 /dev/zero | tr '\0' 'r')" "$(head -c 32 /dev/zero | tr '\0' 'k')" >"$seeds/server_hello/tls13"
printf '\x02\x00\x00\x35\x03\x03%s\x00\xc0\x2f\x00\x00\x0d\xff\x01\x00\x01\x00\xff\x01\x00\x01\x00\x00\x17\x00\x00' \
  "$(head -c 32 /dev/zero | tr '\0' 'r')" >"$seeds/server_hello/tls12-duplicates"
# ClientHellos as Python's OpenSSL sends them (with and without SNI), and the same cut after its first record.
python3 - "$seeds/client_hello" <<'PYTHON'
import ssl, sys
for name, host in (("sni", "example.com"), ("no-sni", None)):
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    connection = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname=host) if host else \
        ssl._create_unverified_context().wrap_bio(incoming, outgoing)
    try:
        connection.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    open(f"{sys.argv[1]}/{name}", "wb").write(hello)
    open(f"{sys.argv[1]}/{name}-cut", "wb").write(hello[: len(hello) // 2])
PYTHON
# Certificates as PEM, DER and base64, from the registry and the real Kazakh roots.
for pem in data/known-roots/*.pem; do
  name=$(basename "$pem" .pem)
  cp "$pem" "$seeds/certificate/$name.pem"
  openssl x509 -in "$pem" -outform DER -out "$seeds/certificate/$name.der" 2>/dev/null || true
  openssl x509 -in "$pem" -outform DER 2>/dev/null | base64 -w0 >"$seeds/certificate/$name.b64" || true
done
cat data/known-roots/isca-*.pem >"$seeds/certificate/chain.pem"
# OONI: each real sample as one line, and a few shapes around them.
for sample in tests/data/ooni-samples/*.json; do
  jq -c . "$sample" >"$seeds/ooni_measurement/$(basename "$sample" .json)"
done
# The other public sources go through the same harness (the analyzer recognises a record's source by its fields).
for sample in tests/data/source-samples/*.json; do
  jq -c . "$sample" >"$seeds/ooni_measurement/$(basename "$sample" .json)"
done
printf '{"measurement_start_time":"2021-08-08 01:57:58","probe_cc":"KZ","probe_asn":"AS9198","test_keys":{"tls_handshakes":[{"address":"1.2.3.4:443","server_name":"knews.kg","failure":"ssl_unknown_authority","peer_certificates":[{"data":"%s","format":"base64"}]}],"control":{"dns":{"addrs":["1.2.3.4"]},"tls_handshake":{"1.2.3.4:443":{"status":true,"failure":null}}}}}' \
  "$(openssl x509 -in data/known-roots/isca-root-2020-0646-valid2040-ooni-sha1-fabda72f_sha256-0bd39de4.pem -outform DER | base64 -w0)" \
  >"$seeds/ooni_measurement/kz-lone-leaf"
cp data/scenarios/*.json "$seeds/scenario/"
# What devices answer instead of TLS (squid's 409, as measured in the lab) and an HTTP/2 request as a browser
# sends it after ALPN h2 (python3-h2, which mitmproxy brings), with and without a User-Agent.
printf 'HTTP/1.1 409 Conflict\r\nServer: squid/5.7\r\nX-Squid-Error: ERR_CONFLICT_HOST 0\r\nConnection: close\r\n\r\n<html>' \
  >"$seeds/device_answer/squid-409"
/usr/bin/python3 - "$seeds/device_answer" <<'PYTHON' || true
import sys
import h2.config, h2.connection
for name, extra in (("h2-request", [("user-agent", "Mozilla/5.0 Firefox/153.0")]), ("h2-request-no-ua", [])):
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    connection.send_headers(1, [(":method", "GET"), (":scheme", "https"), (":authority", "provider.lab"), (":path", "/")] + extra,
                            end_stream=True)
    open(f"{sys.argv[1]}/{name}", "wb").write(connection.data_to_send())
PYTHON
# Packets as the lab's device reads them: Python's ClientHello in two IPv4/TCP segments of one flow (with
# timestamps), a copy of the first, and the second before the first.
python3 - "$seeds/client_hello/sni" "$seeds/tcp_packets" <<'PYTHON'
import struct, sys
hello = open(sys.argv[1], "rb").read()
def packet(sequence, payload):
    tcp = struct.pack("!HHIIBBHHH", 40000, 443, sequence, 1, 8 << 4, 0x18, 502, 0, 0) + bytes([1, 1, 8, 10]) + struct.pack("!II", 5, 6)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0, 64, 6, 0, bytes([198, 18, 0, 1]), bytes([198, 18, 4, 2]))
    whole = ip + tcp + payload
    return struct.pack("!H", len(whole)) + whole
half = len(hello) // 2
first, second = packet(1000, hello[:half]), packet(1000 + half, hello[half:])
for name, packets in (("in-order", first + second), ("copy", first + first + second), ("reversed", second + first + second)):
    open(f"{sys.argv[2]}/{name}", "wb").write(packets)
PYTHON

status=0
printf '\n| harness | regressions replayed | executions | exec/s | coverage (edges) | features | corpus | crashes |\n|---|---|---|---|---|---|---|---|\n'
for name in server_hello client_hello certificate ooni_measurement scenario device_answer tcp_packets; do
  binary="$build/${name}_fuzzer"
  regressions=tests/data/fuzz-regressions/$name
  replayed=0
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    replayed=$(ls "$regressions" | wc -l)
    "$binary" "$regressions"/* >"$seeds/$name.replay" 2>&1 || { echo "fuzz: $name: a saved crash fails again"; cat "$seeds/$name.replay"; status=1; }
  fi
  corpus="$seeds/$name.corpus"
  mkdir -p "$corpus" "$seeds/$name.crashes"
  set +e
  "$binary" "$corpus" "$seeds/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$seeds/$name.crashes/" -print_final_stats=1 >"$seeds/$name.log" 2>&1
  result=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$seeds/$name.log" | grep -o '[0-9]*$' || echo 0)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$seeds/$name.log" | grep -o '[0-9]*$' || echo 0)
  last=$(grep -E '^#[0-9]+' "$seeds/$name.log" | tail -1)
  coverage=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo 0)
  features=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo 0)
  corpus_size=$(ls "$corpus" | wc -l)
  crashes=$(ls "$seeds/$name.crashes" | wc -l)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$replayed" "$runs" "$speed" "$coverage" "$features" "$corpus_size" "$crashes"
  if [ "$result" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    mkdir -p "$regressions"
    cp "$seeds/$name.crashes"/* "$regressions/" 2>/dev/null || true
    echo "fuzz: $name found a crash (kept in $regressions/):"
    grep -E "ERROR|SUMMARY|runtime error" "$seeds/$name.log" | head -5
    status=1
  fi
done
exit $status
