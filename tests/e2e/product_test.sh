#!/usr/bin/env bash
# A real interception product from Debian as the lab's device (needs root): squid (ssl-bump), squid-mimic,
# sslsplit or mitmproxy, started by `lab up --scenario PRODUCT` at hop 4. Measures through it with the real
# binary and checks each answer against the ground truth the lab writes (docs/LAB.md, "Real products"):
# scan's verdict for every (host, name), discover, trace's kind and hop, the monitor seeing the product
# switched off and on, report and export naming the product's CA. Traffic stays inside the lab's namespaces.
# Usage: product_test.sh MITMSCOPE PRODUCT
set -u
mitmscope=$1
product=$2
if [ "$(id -u)" -ne 0 ]; then echo "lab tests need root: skipped"; exit 77; fi
source "$(dirname "$0")/check_lib.sh"
state=$(mktemp -d)/lab
work=$(mktemp -d)
lab() { "$mitmscope" lab --state-dir "$state" "$@"; }
cleanup() {
  [ -n "${sentinel_pid:-}" ] && kill "$sentinel_pid" 2>/dev/null
  rm -f /etc/netns/ms-vantage/hosts
  lab down >/dev/null 2>&1
  [ -n "${KEEP_WORK:-}" ] && echo "work: $work" || rm -rf "$work" "$(dirname "$state")"
}
trap cleanup EXIT
flags=(--trust-store "$state/public-ca.pem" --known-roots "$state/known-roots" --allow-private)
measure() { lab exec -- "$mitmscope" "$@" "${flags[@]}"; }

started=$(date +%s.%N)
lab up --scenario "$product" >"$work/up.txt" 2>&1
check "lab up" 0 $? || { cat "$work/up.txt"; exit 1; }
truth="$state/ground-truth.json"
hop=$(jq -r .interceptor_hop "$truth")
check "the device is the product, running" "$product true" \
  "$(jq -r '"\(.device) \([.processes[].running] | all)"' "$state/daemon.json")"

# scan: every (host, name) against the ground truth. Expected: a host behind the device gets each name's fate
# (intercepted, error: the product's own answer, passed: clean); a bypass host is clean for every name.
measure scan --hosts "$state/hosts.txt" --domains "$state/domains.txt" --store "$work/scan.db" --retries 2 \
  --stateful-delay 0.5 --pfx2as "$state/pfx2as.txt" >"$work/scan.jsonl" 2>"$work/scan.txt"
check "scan exits 0" 0 $? || cat "$work/scan.txt"
python3 - "$truth" "$work/scan.jsonl" >"$work/scan-check.txt" <<'EOF'
import json, sys
truth = json.load(open(sys.argv[1]))
behind = set(truth["intercepted_hosts"])
fates = truth["device"]["names"]
wanted = {"intercepted": "intercepted", "error": "error", "passed": "clean"}
wrong, counts = [], {}
for line in open(sys.argv[2]):
    row = json.loads(line)
    expected = wanted[fates[row["sni"]]] if row["ip"] in behind else "clean"
    counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    if row["verdict"] != expected:
        wrong.append(f'{row["ip"]} {row["sni"]}: {row["verdict"]}, expected {expected} ({"; ".join(row["reasons"])[:200]})')
print(len(wrong), " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
for line in wrong[:5]:
    print(line)
EOF
check "scan: every (host, name) as the ground truth says" 0 "$(head -1 "$work/scan-check.txt" | cut -d' ' -f1)" ||
  tail -n +2 "$work/scan-check.txt"
echo "     $product: scan verdicts $(head -1 "$work/scan-check.txt" | cut -d' ' -f2-)"
check "scan: each row's outcome is its verdict in the vocabulary every source shares" 0 \
  "$(jq -r 'select(.outcome != ({"intercepted": "intercepted", "mismatch": "suspicious", "clean": "not_intercepted", "control_failed": "inconclusive", "stateful": "inconclusive", "ineligible": "inconclusive", "error": "error"}[.verdict] // "?")) | "\(.ip) \(.sni) \(.verdict) \(.outcome)"' "$work/scan.jsonl" | wc -l)"
check "scan: every intercepted result names the product's CA" 0 \
  "$(jq -r 'select(.verdict == "intercepted" and (.interception.known_interceptor.id // "") != "lab-root") | .sni' "$work/scan.jsonl" | wc -l)"
case "$product" in
  squid) family=squid-5.7-bump ;; squid-mimic) family=squid-5.7-stare ;; sslsplit) family=sslsplit-0.5.5 ;; *) family=mitmproxy-8.1 ;;
esac
check "scan: the forged certificates resemble the product's own family, and only it" "$family" \
  "$(jq -r 'select(.verdict == "intercepted") | [.forgery.resembles[].id] | join(",")' "$work/scan.jsonl" | sort -u | paste -sd' ')"
controls=$(jq -r .device.controls "$truth")
expected_source=$([ "$controls" == error ] && echo test_names || echo controls)
check "scan: hosts behind the device got their template from the $expected_source" "$expected_source" \
  "$(jq -r --slurpfile t "$truth" 'select(.ip as $ip | $t[0].intercepted_hosts | index($ip)) | .template_source' "$work/scan.jsonl" | sort -u | paste -sd' ')"
if [ "$controls" == error ]; then
  check "scan: the product's own answer is kept as evidence" true \
    "$(jq -r 'select(.verdict == "error") | .plain_answer.server // "" | startswith("squid/")' "$work/scan.jsonl" | sort -u)"
fi
# Every row, as the real product answered it (its HTTP errors, its lone-leaf chains), fits the documented schema.
schema_check=$(/usr/bin/python3 "$(dirname "$0")/../schema/validate.py" "$(dirname "$0")/../../docs/schema" scan-result "$work/scan.jsonl" 2>&1)
check "scan: every row fits docs/schema/scan-result.schema.json" 0 $? || echo "$schema_check" | head -10

# discover: the names the device intercepts, screened over three hosts behind it.
jq -r '.intercepted_hosts[0:3][]' "$truth" | sed 's/$/:443/' >"$work/discover-hosts.txt"
measure discover --hosts "$work/discover-hosts.txt" --domains "$state/domains.txt" --json "$work/discover.json" \
  --list "$work/discovered.txt" --out "$work/discover.jsonl" --strategies >"$work/discover.txt" 2>&1
check "discover exits 0" 0 $? || tail -5 "$work/discover.txt"
check "discover: exactly the intercepted names" "$(jq -r '.device.names | to_entries[] | select(.value == "intercepted") | .key' "$truth" | sort | paste -sd' ')" \
  "$(sort "$work/discovered.txt" | paste -sd' ')"
# --strategies against a real product: each reshaped hello is parsed by the product's own TLS code (squid's
# peek, sslsplit's SNI parser, mitmproxy's), so a hello it cannot read shows here as a name no longer bumped.
# The plain hello triggers on all three hosts for every name; what the others do is the product's answer, printed
# and held to what was measured (docs/LAB.md, "Strategies against the products").
check "discover --strategies: the plain hello triggers on all three hosts for every name" 0 \
  "$(jq -r '.confirmed[] | select(.strategies.plain.hosts_intercepted != 3) | .domain' "$work/discover.json" | wc -l)"
check "discover --strategies: seven strategies for every name, each row marked with its strategy" "0 7" \
  "$(jq -r '.confirmed[] | select((.strategies | keys | length) != 7) | .domain' "$work/discover.json" | wc -l) $(jq -r 'select(.client_hello | contains("+")) | .client_hello' "$work/discover.jsonl" | sort -u | wc -l)"
every_name() {  # every_name JQ-CONDITION: the strategies for which the condition holds for every confirmed name
  jq -r "[.confirmed[].strategies | to_entries[]] | group_by(.key) | map(select(all(.value | $1))) | map(.[0].key) | join(\",\")" \
    "$work/discover.json"
}
grep '^strategies for' "$work/discover.txt" | head -2 | sed 's/^/     /'
# Measured (docs/LAB.md): squid, squid-mimic and mitmproxy reassemble the hello and compare names without case, so
# all seven trigger; sslsplit peeks at the first TLS record only and aborts a hello split across two ("Peeking did
# not yield a (truncated) ClientHello message"), controls included: it breaks the connection, it does not let it by.
all_strategies=alpn-http1,name-mixed,name-upper,pad-1400,plain,split-record-name,split-tcp-name
triggering=$all_strategies broken=""
[ "$product" == sslsplit ] && triggering=alpn-http1,name-mixed,name-upper,pad-1400,plain,split-tcp-name broken=split-record-name
check "discover --strategies: on all three hosts for every name, $product is triggered by ${triggering//,/ }" \
  "$triggering" "$(every_name '.hosts_intercepted == 3')"
check "discover --strategies: ... and its connections are broken by ${broken:-none}" "$broken" \
  "$(every_name '.hosts_failed == 3 and .hosts_tested == 0')"

# The same scan through OpenSSL's own client, side by side with the first-flight client (the default): the same
# verdict, version, suite, issuer and genuine leaf for every (host, name), the product's own answers included.
measure scan --hosts "$state/hosts.txt" --domains "$state/domains.txt" --retries 2 --stateful-delay 0.5 \
  --client-hello openssl >"$work/scan-openssl.jsonl" 2>"$work/scan-openssl.txt"
check "scan --client-hello openssl: the same answer as the first-flight client for all $(wc -l <"$work/scan.jsonl") (host, name)" \
  "$(wc -l <"$work/scan.jsonl") 0" "$(wc -l <"$work/scan-openssl.jsonl") $(diff <(agreed_fields "$work/scan.jsonl") <(agreed_fields "$work/scan-openssl.jsonl") | grep -c '^[<>]')" ||
  diff <(agreed_fields "$work/scan.jsonl") <(agreed_fields "$work/scan-openssl.jsonl") | head -6

# trace: a terminating proxy at the device's hop (a bypass host's trace is lab_e2e's; the scan above already
# shows nothing on the bypass path).
host=$(jq -r '.intercepted_hosts[0]' "$truth")
measure trace "$host" --sni facebook.com --json >"$work/trace.json" 2>"$work/trace.txt"
check "trace: a terminating proxy at hop $hop" "terminating_proxy $hop" \
  "$(jq -r '"\(.injection.kind) \(.injection.injection_ttl)"' "$work/trace.json")" || jq -c .injection "$work/trace.json"

# monitor: three rounds, the product switched off before the second and on before the third.
jq -r '.intercepted_hosts[0:3][]' "$truth" | sed 's/$/:443/' >"$work/monitor-hosts.txt"
echo facebook.com >"$work/monitor-domains.txt"
echo wikipedia.org >>"$work/monitor-domains.txt"
round() {
  measure monitor --hosts "$work/monitor-hosts.txt" --domains "$work/monitor-domains.txt" --every 1s --rounds "$1" \
    --store "$work/monitor.db" --retries 2 --stateful-delay 0.5 >>"$work/monitor.txt" 2>&1
}
round 1 && lab switch off >/dev/null && round 2 && lab switch on >/dev/null && round 3
check "monitor: three rounds" 0 $? || tail -5 "$work/monitor.txt"
check "monitor: interception stops when the product is switched off and starts again" \
  "1 baseline|2 interception_stopped|3 interception_started" \
  "$(sqlite3 "$work/monitor.db" "SELECT round || ' ' || type FROM events WHERE scope = 'global' ORDER BY round, id" | paste -sd'|')"

# report and export name the product's CA.
root_cn=$(openssl x509 -in "$state/known-roots/lab-root.pem" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
"$mitmscope" report --store "$work/scan.db" --format json --out "$work/report.json" --known-roots "$state/known-roots" 2>/dev/null
check "report: the intercepting CA is the product's" "$root_cn" \
  "$(jq -r '[.intermediates[].subject] | unique | join(",")' "$work/report.json" | grep -o "CN=[^,]*" | sed 's/^CN=//' | sort -u | paste -sd,)"
check "report: the forged chain runs from the product's CA down to a leaf it forged" "root $root_cn|leaf" \
  "$(jq -r '.forged_chain | "\(.[0].role) \(.[0].subject | capture("CN=(?<cn>[^,]*)").cn)|\(.[-1].role)"' "$work/report.json")"
"$mitmscope" export --store "$work/scan.db" --out "$work/export" "${flags[@]:0:4}" >/dev/null 2>&1
check "export: the evidence names the product's CA" true \
  "$(jq -r --arg cn "$root_cn" '[.certificates[] | .subject | contains($cn)] | any' "$work/export/evidence.json" 2>/dev/null)"

# sentinel: a content provider's sentinel behind the product and beside it; real browsers (and curl) visit
# both. Every visit through the product is flagged, no direct one.
source "$(dirname "$0")/visitors_lib.sh"
through=$(jq -r '.intercepted_hosts[1]' "$truth")
direct=$(jq -r '.bypass_hosts[0]' "$truth")
cat "$state/public-ca.pem" "$state/known-roots/lab-root.pem" >"$work/roots.pem"
visitors_setup "$work/visitors" "$work/roots.pem" >/dev/null 2>&1
ip netns exec ms-hosts "$mitmscope" sentinel --listen "$through:443" --listen "$direct:443" --cert "$state/provider.pem" \
  --key "$state/provider-key.pem" --out "$work/visits.jsonl" --quiet &
sentinel_pid=$!
sleep 1
# Two targeted names the provider's certificate covers: one resolves behind the device, one beside it.
visitors_hosts "$through facebook.com" "$direct instagram.com"
visitors=()
for client in chromium firefox-esr curl; do
  visit "$client" facebook.com &
  visitors+=($!)
  visit "$client" instagram.com &
  visitors+=($!)
done
wait "${visitors[@]}"
visitors_teardown
kill "$sentinel_pid"
wait "$sentinel_pid" 2>/dev/null
visits() { jq -r --arg ip "$1" 'select(.server.ip == $ip and .user_agent != null) | "\(.user_agent | split("/")[0] | split(" ")[0]):\(.flagged)"' "$work/visits.jsonl" | sort -u | paste -sd' '; }
check "sentinel: every visit through the product flagged (Chromium, Firefox, curl)" "Mozilla:true curl:true" "$(visits "$through")" ||
  jq -c 'select(.server.ip == "'"$through"'") | {ua: .user_agent[0:30], verdict, summary}' "$work/visits.jsonl"
check "sentinel: no direct visit flagged" "Mozilla:false curl:false" "$(visits "$direct")"
check "sentinel: both browsers' User-Agents read through the product" 2 \
  "$(jq -r 'select(.server.ip == "'"$through"'" and .user_agent != null) | .user_agent | capture("(?<b>Chrome|Firefox)/").b' "$work/visits.jsonl" | sort -u | wc -l)"

printf '     %s: %.0f s\n' "$product" "$(echo "$(date +%s.%N) - $started" | bc)"
finish
