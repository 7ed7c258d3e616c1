#!/usr/bin/env bash
# Installs every Debian 12 package mitmscope needs to build, test and run.
# Idempotent: when everything is present it prints nothing and touches nothing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries (see docs/ARCHITECTURE.md for what each one is for)
  libssl-dev openssl libfmt-dev libcli11-dev nlohmann-json3-dev libsimdjson-dev
  libsqlite3-dev libisal-dev libdeflate-dev libzstd-dev libmaxminddb-dev
  # the ClickHouse store speaks HTTP through libcurl; tests run the real Debian server
  libcurl4-openssl-dev clickhouse-server curl
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # the Mozilla trust store, as separate files
  ca-certificates
  # networking tools used by the lab and its tests
  iproute2 procps iptables libnetfilter-queue-dev libmnl-dev bc
  # audit: the NSS databases of Firefox and Chromium (certutil) and p11-kit anchors (trust)
  libnss3-tools p11-kit
  # sentinel: ClientHellos from capture files and interfaces (libpcap); tests capture with tcpdump and visit with curl
  libpcap-dev tcpdump
  # sentinel: the listener's HTTP/2 (libnghttp2)
  libnghttp2-dev
  # end-to-end tests: JSON checks and a real TLS server beside our own; python3 compares ground truths; nginx is
  # one of the real servers the first-flight client is held to (first_flight_e2e)
  jq sqlite3 python3 nginx-light
  # tests validate every output against docs/schema (JSON Schema draft 2020-12)
  python3-jsonschema
  # tests write MaxMind DB files with the reference writer to test the MMDB reader
  libmaxmind-db-writer-perl
  # the HTML report is tested in a real headless browser; the sentinel's product tests visit with both browsers
  chromium fonts-dejavu-core firefox-esr
  # real interception products as lab devices (lab/product): squid ssl-bump, sslsplit, mitmproxy, and the
  # resolver squid's host verification asks (dnsmasq's binary alone: no system service)
  squid-openssl sslsplit mitmproxy dnsmasq-base
  # libFuzzer harnesses (scripts/fuzz.sh): clang 16 and its runtimes
  clang-16 libclang-rt-16-dev
)
# The report's chart libraries come from the npm registry at build time (web/package-lock.json),
# with the machine's Node.js and npm; Debian's npm when there is none.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi
# bench/run.sh also needs the peers a user would otherwise use, and the profilers.
if [ "${1:-}" = "--bench" ]; then
  # bench/ooni_bench.sh's peer: plain Python with Debian's cryptography; bench/sentinel_bench.sh's: tshark
  # bench/sentinel_products.sh's other visitors: wget and python3-requests; bench/sentinel_load.sh's peer and load: nginx, ab
  packages+=(nmap sslscan testssl.sh linux-perf valgrind time python3-cryptography tshark wget python3-requests
             apache2-utils)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
