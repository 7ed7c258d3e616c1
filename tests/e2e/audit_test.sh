#!/usr/bin/env bash
# End-to-end: `mitmscope audit --root TREE` over machine trees this test builds: an OpenSSL bundle with Mozilla
# roots and the Kazakh Qaznet root, a company root in usr/local/share/ca-certificates, a Firefox profile whose
# NSS database (made with Debian's certutil) trusts an ISCA root and holds another certificate without trust,
# and a Chromium NSS database. Usage: audit_test.sh MITMSCOPE SOURCE_DIR
set -u
mitmscope=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"
roots=$source_dir/data/known-roots
qaznet=$(ls "$roots"/qaznet-*.pem)
isca=$(ls "$roots"/isca-CA-root-2020-*.pem)
mozilla=($(ls /usr/share/ca-certificates/mozilla/*.crt | head -3))

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "/O=Example Corp/CN=Corp Proxy Root" \
  -addext basicConstraints=critical,CA:TRUE -days 30 -out "$work/corp.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "/CN=Stored Only" \
  -addext basicConstraints=critical,CA:TRUE -days 30 -out "$work/stored.pem" 2>/dev/null

# A machine with everything.
tree=$work/machine
mkdir -p "$tree/etc/ssl/certs" "$tree/usr/local/share/ca-certificates/corp" "$tree/home/alice/.mozilla/firefox/abcd.default-release" \
         "$tree/home/bob/.pki/nssdb"
cat "${mozilla[@]}" "$qaznet" >"$tree/etc/ssl/certs/ca-certificates.crt"
cp "$work/corp.pem" "$tree/usr/local/share/ca-certificates/corp/corp.crt"
printf 'not a certificate\n\x00\x01' >"$tree/usr/local/share/ca-certificates/broken.crt"
firefox=$tree/home/alice/.mozilla/firefox/abcd.default-release
certutil -N -d "sql:$firefox" --empty-password
certutil -A -d "sql:$firefox" -n "ISCA root (installed for the 2020 campaign)" -t "C,," -i "$isca"
certutil -A -d "sql:$firefox" -n "Stored Only" -t ",," -i "$work/stored.pem"
certutil -N -d "sql:$tree/home/bob/.pki/nssdb" --empty-password

"$mitmscope" audit --root "$tree" --json >"$work/audit.json" 2>"$work/audit.err"
check "a known interceptor trusted: exit 11" 11 $?
check "Mozilla roots found and set aside" 3 "$(jq '.mozilla_roots_found' "$work/audit.json")"
check "known interceptors trusted: Qaznet (bundle) and ISCA (Firefox)" 2 "$(jq '.known_interceptors_trusted' "$work/audit.json")"
check "other roots trusted: the company root" 1 "$(jq '.other_roots_trusted' "$work/audit.json")"
check "Qaznet is attributed to its registry entry and found in the bundle" \
  "known_interceptor $tree/etc/ssl/certs/ca-certificates.crt" \
  "$(jq -r '.beyond_mozilla[] | select(.subject | test("Qaznet")) | "\(.kind) \(.places[0].location)"' "$work/audit.json")"
check "ISCA is found in the Firefox profile with its NSS trust" "known_interceptor nss C,, true" \
  "$(jq -r '.beyond_mozilla[] | select(.subject | test("ISCA")) | "\(.kind) \(.places[0].store) \(.places[0].nss_trust) \(.trusted_for_tls)"' "$work/audit.json")"
check "the company root is unknown, in usr/local/share/ca-certificates" "unknown $tree/usr/local/share/ca-certificates/corp/corp.crt" \
  "$(jq -r '.beyond_mozilla[] | select(.subject | test("Corp")) | "\(.kind) \(.places[0].location)"' "$work/audit.json")"
check "a certificate stored without trust is listed, not counted" "false" \
  "$(jq -r '.beyond_mozilla[] | select(.subject | test("Stored Only")) | .trusted_for_tls' "$work/audit.json")"
check "an unreadable certificate file is reported by name" 1 "$(jq '[.skipped[] | select(test("broken.crt"))] | length' "$work/audit.json")"
check "the Chromium NSS database was read" 1 "$(jq '[.sources[] | select(test("bob/.pki/nssdb"))] | length' "$work/audit.json")"
check "p11-kit is said to be skipped for another tree" 1 "$(jq '[.skipped[] | select(test("p11-kit"))] | length' "$work/audit.json")"
"$mitmscope" audit --root "$tree" >"$work/audit.txt" 2>&1
grep -q "This is a known interception root: Qaznet" "$work/audit.txt"
check "the text says in plain words that a known interception root is trusted" 0 $?

# A machine with only Mozilla's roots, and one with only a company root.
clean=$work/clean
mkdir -p "$clean/etc/ssl/certs"
cat "${mozilla[@]}" >"$clean/etc/ssl/certs/ca-certificates.crt"
"$mitmscope" audit --root "$clean" >"$work/clean.txt" 2>&1
check "only Mozilla roots: exit 0" 0 $?
grep -q "No other root is trusted" "$work/clean.txt"
check "only Mozilla roots: said so" 0 $?
corp=$work/corp
mkdir -p "$corp/etc/ssl/certs"
cat "${mozilla[@]}" "$work/corp.pem" >"$corp/etc/ssl/certs/ca-certificates.crt"
"$mitmscope" audit --root "$corp" >/dev/null 2>&1
check "another root beyond Mozilla's: exit 10" 10 $?

finish
