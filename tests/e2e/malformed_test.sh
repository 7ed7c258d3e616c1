#!/usr/bin/env bash
# End-to-end: every kind of file mitmscope reads, given truncated, binary, huge-line, wrong-encoding and
# wrong-type content. Each must give a clear error naming the file and the line or field, a non-zero exit
# where the whole input is unusable, and a skip-with-report where one record is. No network (the one probe
# target is a closed port on 127.0.0.1). Usage: malformed_test.sh MITMSCOPE TEST_DATA
set -u
mitmscope=$(realpath "$1")
data=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
passed=0
rows=()
# expect KIND CASE EXIT PATTERN -- COMMAND...: the exit status, and stderr matching PATTERN (grep -E).
expect() {
  local kind=$1 case=$2 want=$3 pattern=$4
  shift 5
  "$@" >out.txt 2>err.txt
  local status=$?
  local line
  line=$(grep -a -E -m1 -- "$pattern" err.txt)
  if [ "$status" -eq "$want" ] && [ -n "$line" ]; then
    passed=$((passed + 1)); rows+=("| $kind | $case | $status | ${line:0:110} |")
  else
    failures=$((failures + 1)); rows+=("| $kind | $case | $status (want $want) | FAIL: $(head -c 200 err.txt | tr '\n' ' ') |")
  fi
}
huge() { head -c "$1" /dev/zero | tr '\0' "${2:-a}"; }

printf 'example.com\n' >domains
printf '127.0.0.1:1\n' >hosts.good
scan=("$mitmscope" scan --allow-private --connect-timeout 1 --handshake-timeout 1 --controls 1 --retries 1 --out /dev/null)

# hosts: each bad line skipped and reported; a file with no usable line is refused.
printf '127.0.0.1:1\n127.0.0.1:\n' >hosts.truncated
printf '127.0.0.1:1\n\x00\x01\xff\xfe\n' >hosts.binary
{ printf '127.0.0.1:1\n'; huge 100000; printf '\n'; } >hosts.huge
printf '127.0.0.1:1\n\xe9xample.kz\n' >hosts.encoding
printf '127.0.0.1:1\nexample.com\n' >hosts.type
expect hosts truncated 0 "hosts.truncated: line 2: skipped: bad address '127.0.0.1:'" -- "${scan[@]}" --hosts hosts.truncated --domains domains
expect hosts binary 0 'hosts.binary: line 2: skipped: .*\\x00\\x01\\xff\\xfe' -- "${scan[@]}" --hosts hosts.binary --domains domains
expect hosts huge-line 0 'hosts.huge: line 2: skipped: line longer than 64 KiB' -- "${scan[@]}" --hosts hosts.huge --domains domains
expect hosts wrong-encoding 0 'hosts.encoding: line 2: skipped: .*\\xe9' -- "${scan[@]}" --hosts hosts.encoding --domains domains
expect hosts wrong-type 0 'hosts.type: line 2: skipped: .*not an IP address' -- "${scan[@]}" --hosts hosts.type --domains domains
printf 'example.com\n\x00\x01\n' >hosts.unusable
expect hosts unusable 3 'hosts.unusable: no usable host \(2 lines skipped; line 1: ' -- "${scan[@]}" --hosts hosts.unusable --domains domains

# domains
printf 'example.com\n\xe9t\xe9.fr\n' >domains.encoding
{ printf 'example.com\n'; huge 300; printf '.com\n'; } >domains.huge
printf 'example.com\n\x00\x01\xff\n' >domains.binary
printf '\x00\n\xff\n' >domains.unusable
expect domains wrong-encoding 0 "domains.encoding: line 2: skipped: bad server name '\\\\xe9t\\\\xe9.fr'" -- "${scan[@]}" --hosts hosts.good --domains domains.encoding
expect domains huge-line 0 'domains.huge: line 2: skipped' -- "${scan[@]}" --hosts hosts.good --domains domains.huge
expect domains binary 0 'domains.binary: line 2: skipped' -- "${scan[@]}" --hosts hosts.good --domains domains.binary
expect domains unusable 3 'domains.unusable: no usable domain' -- "${scan[@]}" --hosts hosts.good --domains domains.unusable

# blocklist and prefix table: a bad line makes the whole file unusable (a partial blocklist is unsafe).
printf '10.0.0.0/8\nnot a prefix\n' >block.type
printf '10.0.0.0/8\n\xff\xfe\n' >block.binary
printf '10.0.0.0/\n' >block.truncated
expect blocklist wrong-type 3 "block.type: line 2: 'not a prefix' is not an address or CIDR prefix" -- "${scan[@]}" --hosts hosts.good --domains domains --blocklist block.type
expect blocklist binary 3 'block.binary: line 2' -- "${scan[@]}" --hosts hosts.good --domains domains --blocklist block.binary
expect blocklist truncated 3 'block.truncated: line 1' -- "${scan[@]}" --hosts hosts.good --domains domains --blocklist block.truncated
printf '1.0.0.0\t24\t13335\n2.0.0.0\tx\t1\n' >pfx.type
printf '1.0.0.0\t24\n' >pfx.truncated
head -c 3000 /dev/urandom >pfx.binary
expect pfx2as wrong-type 3 'pfx.type: line 2: field length' -- "${scan[@]}" --hosts hosts.good --domains domains --pfx2as pfx.type
expect pfx2as truncated 3 'pfx.truncated: line 1' -- "${scan[@]}" --hosts hosts.good --domains domains --pfx2as pfx.truncated
expect pfx2as binary 3 'pfx.binary' -- "${scan[@]}" --hosts hosts.good --domains domains --pfx2as pfx.binary

# certificate files (inspect): every file judged on its own, the bad ones named.
pem=$(ls "$data"/../../data/known-roots/qaznet-*.pem 2>/dev/null | head -1)
[ -n "$pem" ] || pem=$(ls "$MITMSCOPE_SOURCE_DIR"/data/known-roots/qaznet-*.pem | head -1)
head -c 300 "$pem" >cert.truncated.pem
head -c 5000 /dev/urandom >cert.binary.der
huge 2000000 >cert.huge
printf '{"certificate": 1}\n' >cert.type.json
printf -- '-----BEGIN CERTIFICATE-----\n\xe9\xe9\xe9\n-----END CERTIFICATE-----\n' >cert.encoding.pem
expect certificate truncated 3 'cert.truncated.pem: line 1: PEM block 1 \(CERTIFICATE\): no END line' -- "$mitmscope" inspect cert.truncated.pem
expect certificate binary 3 'cert.binary.der: .*neither PEM, DER nor base64 DER' -- "$mitmscope" inspect cert.binary.der
expect certificate huge 3 'cert.huge' -- "$mitmscope" inspect cert.huge
expect certificate wrong-type 3 'cert.type.json: line 1' -- "$mitmscope" inspect cert.type.json
expect certificate wrong-encoding 3 'cert.encoding.pem' -- "$mitmscope" inspect cert.encoding.pem
expect certificate one-bad-of-two 3 'cert.binary.der' -- "$mitmscope" inspect "$pem" cert.binary.der
grep -q "Qaznet" out.txt
check_good=$?
[ $check_good -eq 0 ] && passed=$((passed + 1)) || { failures=$((failures + 1)); rows+=("| certificate | good file beside a bad one | - | FAIL: not inspected |"); }

# scenario files (lab): refused before anything is built.
printf '{"format": "mitmscope-lab-scenario/1", "name": 5}' >scenario.type.json
printf '{"format": "mitmscope-lab-scenario/1", "name": "x", "ases": [' >scenario.truncated.json
head -c 2000 /dev/urandom >scenario.binary.json
printf '{"format": "mitmscope-lab-scenario/1", "name": "\xe9"}' >scenario.encoding.json
lab=("$mitmscope" lab --state-dir "$work/lab" up --loopback --scenario)
expect scenario wrong-type 3 "scenario.type.json: field 'name': wrong type" -- "${lab[@]}" scenario.type.json
expect scenario truncated 3 'scenario.truncated.json: not valid JSON.*line 1, column' -- "${lab[@]}" scenario.truncated.json
expect scenario binary 3 'scenario.binary.json' -- "${lab[@]}" scenario.binary.json
expect scenario wrong-encoding 3 'scenario.encoding.json' -- "${lab[@]}" scenario.encoding.json

# OONI files: one bad line skipped with its file and line; nothing usable: exit 3.
sample=$(jq -c . "$data/ooni-samples/real_IR_AS197207_webconnectivity_2022-08-15_yooz.ir_ssl_invalid_certificate.json")
{ echo "$sample"; echo "${sample:0:200}"; } >ooni.truncated.jsonl
{ echo "$sample"; printf '\x00\x01\xff\xfe\n'; } >ooni.binary.jsonl
{ echo "$sample"; printf '{"measurement_start_time": "%s"}\n' "$(huge 40000000)"; } >ooni.huge.jsonl
{ echo "$sample"; printf '{"measurement_start_time": "2022-01-01 00:00:00", "probe_cc": "\xe9"}\n'; } >ooni.encoding.jsonl
{ echo "$sample"; echo '{"measurement_start_time": "2022-01-01 00:00:00", "test_keys": {"tls_handshakes": 5}}'; } >ooni.type.jsonl
printf 'not json\n' >ooni.unusable.jsonl
expect ooni truncated 0 'ooni.truncated.jsonl:2: ' -- "$mitmscope" ooni ooni.truncated.jsonl
expect ooni binary 0 'ooni.binary.jsonl:2: ' -- "$mitmscope" ooni ooni.binary.jsonl
expect ooni huge-line 0 'ooni.huge.jsonl:2: line longer than 32 MiB' -- "$mitmscope" ooni ooni.huge.jsonl
expect ooni wrong-encoding 0 'ooni.encoding.jsonl:2: .*UTF-8' -- "$mitmscope" ooni ooni.encoding.jsonl
expect ooni wrong-type 0 'ooni.type.jsonl:2: field test_keys.tls_handshakes' -- "$mitmscope" ooni ooni.type.jsonl
expect ooni unusable 3 'ooni.unusable.jsonl:1: not JSON' -- "$mitmscope" ooni ooni.unusable.jsonl

# the other public sources (ooni/sources.h): a record without a field its source needs is skipped and named, the
# records around it kept; a file of JSON that is no known source is one error naming it.
atlas='{"type":"sslcert","prb_id":1,"from":"192.0.2.1","dst_addr":"192.0.2.9","dst_name":"example.com","timestamp":1600000000,"cert":[]}'
{ echo "$atlas"; echo '{"type":"sslcert","prb_id":2,"timestamp":1600000000}'; echo "$atlas"; } >atlas.field.jsonl
echo "[$atlas,{\"type\":\"sslcert\",\"prb_id\":3,\"dst_addr\":\"192.0.2.9\"}]" >atlas.array.json
{ echo '{"vp":"192.0.2.7","test_url":"example.com","response":[{"start_time":"2021-05-30T01:01:03-04:00","matches_template":false,"response":{"Certificate":"AAAA"}}]}'; echo '{"vp":"192.0.2.7","test_url":"example.com","response":"none"}'; } >hyperquack.type.jsonl
echo '{"ip":"192.0.2.8","domain":"example.com","data":"none"}' >zgrab2.type.jsonl
echo '{"name":"a list of domains, not measurements"}' >other.json
expect atlas missing-field 0 'atlas.field.jsonl:2: RIPE Atlas sslcert: field dst_addr' -- "$mitmscope" ooni atlas.field.jsonl
expect atlas array-record 0 'atlas.array.json:1: record 2: RIPE Atlas sslcert: field timestamp' -- "$mitmscope" ooni atlas.array.json
expect hyperquack wrong-type 0 'hyperquack.type.jsonl:2: Hyperquack v2: field response' -- "$mitmscope" ooni hyperquack.type.jsonl
expect zgrab2 wrong-type 3 'zgrab2.type.jsonl:1: ZGrab2: field data' -- "$mitmscope" ooni zgrab2.type.jsonl
expect sources unknown-format 3 'other.json: not a measurement of a known source' -- "$mitmscope" ooni other.json

# the store
printf 'not a database\n' >store.type.db
head -c 3000 /dev/urandom >store.binary.db
"$mitmscope" ooni ooni.type.jsonl --store store.good.db >/dev/null 2>&1
head -c 2048 store.good.db >store.truncated.db
expect store wrong-type 3 'store.type.db: file is not a database' -- "$mitmscope" report --store store.type.db
expect store binary 3 'store.binary.db' -- "$mitmscope" report --store store.binary.db
expect store truncated 3 'store.truncated.db' -- "$mitmscope" report --store store.truncated.db

# the registry (--known-roots)
mkdir -p roots.missing roots.type roots.binary
echo '{"entries": [{"id": "a", "file": "none.pem"}]}' >roots.missing/registry.json
echo '{"entries": [{"id": 7, "file": "a.pem"}]}' >roots.type/registry.json
cp "$pem" roots.type/a.pem
head -c 2000 /dev/urandom >roots.binary/registry.json
expect registry missing-file 3 "roots.missing/registry.json: entry 1 \(a\): certificate file 'none.pem' not found" -- "$mitmscope" inspect "$pem" --known-roots roots.missing
expect registry wrong-type 3 'roots.type/registry.json' -- "$mitmscope" inspect "$pem" --known-roots roots.type
expect registry binary 3 'roots.binary/registry.json' -- "$mitmscope" inspect "$pem" --known-roots roots.binary

printf '\n| file | case | exit | message |\n|---|---|---|---|\n'
printf '%s\n' "${rows[@]}"
echo
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
