#!/usr/bin/env bash
# Every command's JSON output, as a user gets it, validated against docs/schema/ (python3-jsonschema), and
# docs/SCHEMA.md checked against the schemas. The outputs come from the lab in loopback mode (traffic stays on
# 127.0.0.0/8), `lab corpus` and the bundled OONI samples, and a sentinel on loopback visited by curl.
# The test must be able to fail: mutated documents (a renamed field, an unknown field, a value outside its
# vocabulary) must be refused.
# Usage: schema_test.sh MITMSCOPE
set -u
mitmscope=$(realpath "$1")
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
schemas="$source_dir/docs/schema"
python=/usr/bin/python3
work=$(mktemp -d)
state="$work/lab"
sentinel_pid=
trap '[ -n "$sentinel_pid" ] && kill "$sentinel_pid" 2>/dev/null; "$mitmscope" lab --state-dir "$state" down >/dev/null 2>&1; rm -rf "$work"' EXIT
source "$(dirname "$0")/check_lib.sh"
valid() {  # valid SCHEMA FILE...: every document of the files is valid
  local name=$1; shift
  local output
  output=$("$python" "$source_dir/tests/schema/validate.py" "$schemas" "$name" "$@" 2>&1)
  check "$name: $(echo "$output" | tail -1)" 0 $? || echo "$output" | head -20
}
refused() {  # refused SCHEMA JSON WHAT: this (mutated) document must be refused
  echo "$2" >"$work/mutated.json"
  "$python" "$source_dir/tests/schema/validate.py" "$schemas" "$1" "$work/mutated.json" >/dev/null 2>&1
  check "$1 refuses $3" 1 $?
}

# The schemas themselves, and the documentation against them.
"$python" "$source_dir/tests/schema/check_docs.py" "$schemas" "$source_dir/docs/SCHEMA.md"
check "every schema is valid and every field of every schema is documented in docs/SCHEMA.md" 0 $?

"$mitmscope" lab --state-dir "$state" up --loopback --size 24 >"$work/lab-up.log" 2>&1
check "lab up --loopback" 0 $? || { cat "$work/lab-up.log"; finish; exit 1; }
truth="$state/ground-truth.json"
port=$(jq -r .port "$truth")
host=$(jq -r '.intercepted_hosts[0]' "$truth")
trust=(--allow-private --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots")
in_lab() { "$mitmscope" lab --state-dir "$state" exec -- "$mitmscope" "$@"; }
# Three targeted names, three the interceptor leaves alone, one nobody serves.
{ jq -r '.targeted_domains[0:3][]' "$truth"; echo example.org; echo wikipedia.org; echo kz.example; } >"$work/domains.txt"

# probe: intercepted (with the FoxIO fingerprints), and a refused connection.
in_lab probe "$host:$port" --sni "$(jq -r '.targeted_domains[0]' "$truth")" "${trust[@]}" --json --ja4 >"$work/probe.json"
"$mitmscope" probe 127.0.0.1:1 --sni example.com --allow-private --json >"$work/probe-refused.json"
valid probe "$work/probe.json" "$work/probe-refused.json"
check "probe: the document judged is an interception" intercepted "$(jq -r .interception.verdict "$work/probe.json")"

# client-hello: every profile, one with its bytes.
"$mitmscope" client-hello --json >"$work/client-hello.jsonl"
"$mitmscope" client-hello chromium --hex --json >"$work/client-hello-hex.json"
valid client-hello "$work/client-hello.jsonl" "$work/client-hello-hex.json"
check "client-hello: six profiles" 6 "$(wc -l <"$work/client-hello.jsonl")"

# inspect: a registry root, and a forged chain against its genuine one.
"$mitmscope" demo pki --work-dir "$work/pki" >/dev/null 2>&1
"$mitmscope" inspect "$source_dir/data/known-roots/qaznet-trust-network-root-2019_sha256-00309c73.pem" --json >"$work/inspect.json"
"$mitmscope" inspect "$work/pki/forged-chain.pem" --genuine "$work/pki/genuine.pem" --json >"$work/inspect-forged.json"
valid inspect "$work/inspect.json" "$work/inspect-forged.json"
check "inspect: forging analysed" object "$(jq -r '.forging | type' "$work/inspect-forged.json")"

# scan with a store, its summary; monitor rounds and events; the report of that store.
in_lab scan --hosts "$state/hosts.txt" --domains "$work/domains.txt" --out "$work/scan.jsonl" --summary "$work/summary.json" \
  --store "$work/store.db" --pfx2as "$state/pfx2as.txt" --stateful-delay 1 --ja4 "${trust[@]}" >/dev/null 2>&1
check "scan" 0 $?
valid scan-result "$work/scan.jsonl"
valid scan-summary "$work/summary.json"
check "scan: rows of intercepted and of clean hosts" 2 "$(jq -r .verdict "$work/scan.jsonl" | sort -u | grep -cxE 'intercepted|clean')"
in_lab monitor --hosts "$state/hosts.txt" --domains "$work/domains.txt" --every 1s --rounds 2 --store "$work/store.db" \
  --name schema --stateful-delay 1 --json "${trust[@]}" >"$work/events.jsonl" 2>/dev/null
valid monitor-event "$work/events.jsonl"
# trace: one address (routers are known as root, unknown otherwise; both are valid documents).
in_lab trace "$host:$port" --sni "$(jq -r '.targeted_domains[0]' "$truth")" --store "$work/store.db" --json "${trust[@]}" \
  >"$work/trace.json" 2>/dev/null
valid trace "$work/trace.json"
"$mitmscope" report --store "$work/store.db" --format json --out "$work/report.json"
valid report "$work/report.json"
check "report: rounds and per-domain rows" true "$(jq '(.rounds | length) >= 3 and (.per_domain | length) >= 1' "$work/report.json")"

# ooni: a generated campaign (every verdict category it makes) and the real samples.
"$mitmscope" lab corpus --out "$work/corpus" --measurements 1500 --seed 5 >/dev/null 2>&1
"$mitmscope" ooni "$work/corpus/raw" --known-roots "$work/corpus/known-roots" --trust-store "$work/corpus/trust" \
  --out "$work/ooni" --json >"$work/ooni.json" 2>/dev/null
"$mitmscope" ooni "$source_dir/tests/data/ooni-samples" --json >"$work/ooni-samples.json" 2>/dev/null
valid ooni "$work/ooni.json" "$work/ooni-samples.json" "$work/ooni/analysis.json"
valid ooni-observation "$work/ooni/observations.jsonl"
check "ooni: intercepted handshakes among the observations" true \
  "$(jq -s 'map(select(.verdict == "intercepted")) | length > 0' "$work/ooni/observations.jsonl")"

# sentinel: a listener on loopback, visited by curl over HTTP/2 and HTTP/1.1.
sentinel_port=$((20000 + RANDOM % 20000))
"$mitmscope" sentinel --listen "127.0.0.1:$sentinel_port" --cert "$state/provider.pem" --key "$state/provider-key.pem" \
  --count 2 --out "$work/visits.jsonl" --quiet 2>/dev/null &
sentinel_pid=$!
for _ in $(seq 50); do ss -ltn | grep -q ":$sentinel_port " && break; sleep 0.1; done
curl -sk --max-time 5 "https://127.0.0.1:$sentinel_port/" -o /dev/null
curl -sk --http1.1 --max-time 5 -A "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36" \
  "https://127.0.0.1:$sentinel_port/" -o /dev/null
wait "$sentinel_pid"
sentinel_pid=
valid sentinel-visit "$work/visits.jsonl"

# The schemas refuse what they must: the test can fail.
probe_line=$(jq -c . "$work/probe.json")
refused probe "$(echo "$probe_line" | jq -c '.serverhello = .server_hello | del(.server_hello)')" "a renamed field"
refused probe "$(echo "$probe_line" | jq -c '.extra = 1')" "an unknown field"
refused probe "$(echo "$probe_line" | jq -c '.interception.verdict = "maybe"')" "a verdict outside the vocabulary"
refused probe "$(echo "$probe_line" | jq -c '.server_certificates.certificate.sha256 = "XYZ"')" "a malformed hash"
refused scan-result "$(head -1 "$work/scan.jsonl" | jq -c 'del(.template_source)')" "a missing field"
refused trace "$(jq -c '.injection.kind = "somewhere"' "$work/trace.json")" "an unknown injection kind"
refused ooni-observation "$(head -1 "$work/ooni/observations.jsonl" | jq -c '.category = "forging-ca"')" "a misspelt category"
refused sentinel-visit "$(head -1 "$work/visits.jsonl" | jq -c '.flagged = "no"')" "a string for a boolean"

finish
