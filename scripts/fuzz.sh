#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/*.cc) with Debian's clang 16 (ASan + UBSan), replays every saved
# crash (tests/data/fuzz-regressions/NAME/*: each one a regression test), then fuzzes each harness for
# SECONDS from seed corpora made of the project's real data (OONI samples, the Kazakh and other
# interception roots, the scenarios, ServerHellos from the tests). Prints executions, coverage and crashes
# per harness; a new crash fails the run and is kept under tests/data/fuzz-regressions/NAME/ to commit.
# Usage: scripts/fuzz.sh [SECONDS=20] [BUILD_DIR=build-fuzz] [WORKERS=1]
#   SECONDS  per harness; WORKERS processes fuzz each harness at once, sharing its corpus (one per core)
#   $FUZZ_RUNS  stop a harness once its workers ran this many inputs together (SECONDS stays the limit)
#   $FUZZ_HARNESSES  which harnesses (default: all)
# The corpus grows in BUILD_DIR/corpus/NAME and is reused by the next run with the same BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
build=${2:-build-fuzz}
workers=${3:-1}
runs=${FUZZ_RUNS:-0}
# Off: what costs most and finds nothing here. Stack use after return (a fake stack per call: these parsers
# return no pointers into their frames), filling each allocation with 0xbe (finds reads of uninitialised
# memory, MSan's job), a 256 MB quarantine and 30-frame allocation stacks. Buffer overflows, use after free,
# leaks and undefined behaviour are all still caught. Together 2.5x the executions (ooni_measurement, scenario).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_stack_use_after_return=0:max_malloc_fill_size=0:quarantine_size_mb=8:malloc_context_size=5}
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
mkdir -p "$seeds"/{server_hello,client_hello,certificate,ooni_measurement,scenario,device_answer,tcp_packets,server_flight}
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
# HTTP bodies dropped: they are strings to the walker, and a 350 KB seed would be cut at the length limit below.
for sample in tests/data/ooni-samples/*.json; do
  jq -c 'del(.test_keys.requests[]?.response.body)' "$sample" >"$seeds/ooni_measurement/$(basename "$sample" .json)"
  jq -c 'del(.test_keys.requests, .test_keys.network_events) | .test_keys.tls_handshakes |= (.[0:2]? // .)' "$sample" \
    >"$seeds/ooni_measurement/$(basename "$sample" .json)-small"
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
# Server flights: TLS 1.2 in the clear (ServerHello, a real Kazakh root as the chain, ServerHelloDone), a TLS 1.3
# ServerHello with an X25519 share (what follows it does not decrypt), a fatal alert.
python3 - "$seeds/server_flight" "$(openssl x509 -in data/known-roots/qaznet-trust-network-root-2019_sha256-00309c73.pem -outform DER | base64 -w0)" <<'PYTHON'
import base64, struct, sys
def record(kind, body): return bytes([kind]) + b"\x03\x03" + struct.pack("!H", len(body)) + body
def message(kind, body): return bytes([kind]) + struct.pack("!I", len(body))[1:] + body
def u24(body): return struct.pack("!I", len(body))[1:] + body
der = base64.b64decode(sys.argv[2])
hello12 = message(2, b"\x03\x03" + b"r" * 32 + b"\x00" + b"\xc0\x2f" + b"\x00")
chain = message(11, u24(u24(der)))
done = message(14, b"")
open(f"{sys.argv[1]}/tls12", "wb").write(record(22, hello12 + chain + done))
open(f"{sys.argv[1]}/tls12-split", "wb").write(record(22, hello12) + record(22, chain[:100]) + record(22, chain[100:] + done))
share = struct.pack("!HH", 0x001d, 32) + b"k" * 32
extensions = struct.pack("!HH", 43, 2) + b"\x03\x04" + struct.pack("!HH", 51, len(share)) + share
hello13 = message(2, b"\x03\x03" + b"r" * 32 + b"\x00" + b"\x13\x01" + b"\x00" + struct.pack("!H", len(extensions)) + extensions)
open(f"{sys.argv[1]}/tls13", "wb").write(record(22, hello13) + record(20, b"\x01") + record(23, b"e" * 64))
open(f"{sys.argv[1]}/alert", "wb").write(record(21, b"\x02\x28"))
# A HelloRetryRequest (the fixed random of RFC 8446) asking for P-256 with a cookie, then a ChangeCipherSpec.
import hashlib
retry_extensions = struct.pack("!HH", 43, 2) + b"\x03\x04" + struct.pack("!HHH", 51, 2, 0x0017) + struct.pack("!HHH", 44, 7, 5) + b"c" * 5
retry = message(2, b"\x03\x03" + hashlib.sha256(b"HelloRetryRequest").digest() + b"\x00" + b"\x13\x01" + b"\x00" +
                struct.pack("!H", len(retry_extensions)) + retry_extensions)
open(f"{sys.argv[1]}/hello-retry", "wb").write(record(22, retry) + record(20, b"\x01"))
PYTHON

status=0
printf '\n| harness | regressions replayed | executions | exec/s | coverage (edges) | features | corpus | crashes |\n|---|---|---|---|---|---|---|---|\n'
harnesses=${FUZZ_HARNESSES:-server_hello client_hello certificate ooni_measurement scenario device_answer tcp_packets server_flight}
for name in $harnesses; do
  binary="$build/${name}_fuzzer"
  regressions=tests/data/fuzz-regressions/$name
  replayed=0
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    replayed=$(ls "$regressions" | wc -l)
    "$binary" "$regressions"/* >"$seeds/$name.replay" 2>&1 || { echo "fuzz: $name: a saved crash fails again"; cat "$seeds/$name.replay"; status=1; }
  fi
  corpus="$build/corpus/$name"
  mkdir -p "$corpus" "$seeds/$name.crashes"
  # Inputs up to what the harness's data really reach: 64 KiB where a parser's own bound is that (a ClientHello,
  # a flow's segments), 32 KiB for a measurement line without its bodies, 16 KiB for a chain, a scenario, an
  # answer. Beyond them an input costs more than it finds: ASan maps and unmaps every allocation over 128 KiB
  # (a JSON parser's index of a 64 KiB line), which halved ooni_measurement's executions.
  case "$name" in
    client_hello|tcp_packets) max_len=65536 ;;
    ooni_measurement) max_len=32768 ;;
    *) max_len=16384 ;;
  esac
  # Minimise a corpus kept from earlier runs first: the scheduler weighs every input each round, and over the
  # 8,913 inputs of one run 27% of ooni_measurement's time went to libFuzzer's UpdateFeatureFrequency. A merge
  # keeps the inputs that add coverage (there: 1,817, the same features). A merge that fails keeps the corpus.
  if [ -n "$(ls -A "$corpus")" ]; then
    merged="$build/corpus/$name.merged"
    rm -rf "$merged" && mkdir -p "$merged"
    if "$binary" -merge=1 -max_len=$max_len -timeout=10 -rss_limit_mb=2048 "$merged" "$corpus" >"$seeds/$name.merge" 2>&1; then
      rm -rf "$corpus" && mv "$merged" "$corpus"
    else
      rm -rf "$merged"
    fi
  fi
  flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=$max_len -artifact_prefix="$seeds/$name.crashes/"
         -print_final_stats=1)
  [ "$runs" -gt 0 ] && flags+=(-runs=$(( (runs + workers - 1) / workers )))
  # Each worker logs to fuzz-JOB.log in BUILD_DIR/logs/NAME, which outlives the run (a run stopped by hand
  # keeps its figures there).
  logs="$build/logs/$name"
  mkdir -p "$logs" && rm -f "$logs"/fuzz-*.log
  set +e
  if [ "$workers" -gt 1 ]; then
    (cd "$logs" && "$OLDPWD/$binary" "$OLDPWD/$corpus" "$seeds/$name" "${flags[@]}" \
       -jobs="$workers" -workers="$workers" >/dev/null 2>&1)
    result=$?
  else
    "$binary" "$corpus" "$seeds/$name" "${flags[@]}" >"$logs/fuzz-0.log" 2>&1
    result=$?
  fi
  cat "$logs"/fuzz-*.log >"$seeds/$name.log"
  set -e
  total() { { grep -o "$1: *[0-9]*" "$seeds/$name.log" || true; } | awk '{s += $NF} END {print s + 0}'; }
  executed=$(total stat::number_of_executed_units)
  speed=$(total stat::average_exec_per_sec)
  # The most any worker reached (workers share the corpus, so they end close to each other).
  most() { { grep -E '^#[0-9]+' "$seeds/$name.log" || true; } | { grep -o "$1: [0-9]*" || true; } | awk '$2 > m {m = $2} END {print m + 0}'; }
  coverage=$(most cov)
  features=$(most ft)
  corpus_size=$(ls "$corpus" | wc -l)
  crashes=$(ls "$seeds/$name.crashes" | wc -l)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$replayed" "${executed:-0}" "${speed:-0}" "${coverage:-0}" "${features:-0}" "$corpus_size" "$crashes"
  if [ "$result" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    mkdir -p "$regressions"
    cp "$seeds/$name.crashes"/* "$regressions/" 2>/dev/null || true
    echo "fuzz: $name found a crash (kept in $regressions/):"
    grep -E "ERROR|SUMMARY|runtime error" "$seeds/$name.log" | head -5
    status=1
  fi
done
exit $status
