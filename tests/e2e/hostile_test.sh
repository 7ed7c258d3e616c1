#!/usr/bin/env bash
# End-to-end: `mitmscope scan` against servers that misbehave on purpose (tests/hostile/hostile_server.cc),
# every behaviour mixed with healthy hosts in one scan. Each target must end with a clear error or verdict
# within the configured timeouts, memory must stay bounded, and the healthy hosts must not notice.
# Loopback only (127.31.0.0/16, port chosen at random). Usage: hostile_test.sh MITMSCOPE HOSTILE_SERVER
set -u
mitmscope=$1
server=$2
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && trap - EXIT
source "$(dirname "$0")/check_lib.sh"

"$server" --port 0 --ca-out "$work/ca.pem" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 100); do grep -q ready "$work/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^ready/ {print $2}' "$work/server.out")
check "hostile server is up" 0 "$(grep -q ready "$work/server.out"; echo $?)"

behaviours=(healthy silent drip endless huge-chain many-certificates garbage alert http reset bad-extensions absurd-certificate half-close
            alert-after-hello alert-after-certificate)
hosts_per_behaviour=${HOSTS_PER_BEHAVIOUR:-3}
: >"$work/hosts"
for b in "${!behaviours[@]}"; do
  for h in $(seq 1 "$hosts_per_behaviour"); do echo "127.31.$b.$h:$port ${behaviours[$b]}" >>"$work/hosts"; done
done
printf 'facebook.com\ngoogle.com\nvk.com\n' >"$work/domains"
connect_timeout=2
handshake_timeout=3
/usr/bin/time -f "%e %M" -o "$work/time" "$mitmscope" scan --hosts "$work/hosts" --domains "$work/domains" --allow-private \
  --trust-store "$work/ca.pem" --connect-timeout $connect_timeout --handshake-timeout $handshake_timeout --controls 1 --retries 2 \
  --stateful-delay 1 --host-rate 20 --out "$work/results.jsonl" --summary "$work/summary.json" 2>"$work/scan.err"
check "the scan exits 0" 0 $?
read -r seconds rss_kb <"$work/time"
targets=$(( $(wc -l <"$work/hosts") * 3 ))
check "one result per (host, domain)" "$targets" "$(wc -l <"$work/results.jsonl")"

# The table, and the per-behaviour expectations (python3, standard library).
python3 - "$work/results.jsonl" "$connect_timeout" "$handshake_timeout" <<'EOF'
import json, sys, collections
rows = [json.loads(line) for line in open(sys.argv[1])]
limit_ms = (float(sys.argv[2]) + float(sys.argv[3])) * 1000 + 1500
table = collections.OrderedDict()
problems = []
for row in rows:
    behaviour = row["tags"][0]
    entry = table.setdefault(behaviour, dict(results=0, verdicts=collections.Counter(), errors=collections.Counter(), chains=set(), max_ms=0.0))
    entry["results"] += 1
    entry["verdicts"][row["verdict"]] += 1
    error = row.get("error") or {}
    entry["errors"][error.get("code") or (row.get("validation") or {}).get("browser_error") or "-"] += 1
    chain = ((row.get("server_certificates") or {}).get("chain") or [])
    certificate = (row.get("server_certificates") or {}).get("certificate")
    entry["chains"].add(len(chain) + (1 if certificate else 0))
    total = ((row.get("timings") or {}).get("total_ms") or 0.0)
    entry["max_ms"] = max(entry["max_ms"], total)
    if total > limit_ms:
        problems.append(f"{behaviour} {row['ip']} {row['sni']}: {total:.0f} ms, over the {limit_ms:.0f} ms the timeouts allow")
print(f"| behaviour | results | verdicts | errors / browser errors | certificates | slowest attempt (ms) |")
print("|---|---|---|---|---|---|")
for behaviour, entry in table.items():
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(entry["verdicts"].items()))
    errors = ", ".join(f"{k} {v}" for k, v in sorted(entry["errors"].items()))
    print(f"| {behaviour} | {entry['results']} | {verdicts} | {errors} | {sorted(entry['chains'])} | {entry['max_ms']:.0f} |")
expected_error = {"silent": "handshake_timeout", "drip": "handshake_timeout", "garbage": "not_tls", "http": "not_tls",
                  "alert": "tls_alert", "reset": "connection_reset", "half-close": "closed_during_handshake",
                  "endless": "tls_protocol_error", "huge-chain": "tls_protocol_error", "bad-extensions": "tls_protocol_error",
                  "many-certificates": "handshake_timeout", "absurd-certificate": "unhandled_critical_extension",
                  "alert-after-hello": "tls_alert", "alert-after-certificate": "tls_alert"}
expected_reason = {"endless": "more than 4 MiB", "huge-chain": "larger than the 262144 byte limit"}
for row in rows:
    behaviour = row["tags"][0]
    if behaviour in expected_reason and not any(expected_reason[behaviour] in reason for reason in row["reasons"]):
        problems.append(f"{behaviour}: reasons {row['reasons']} do not say '{expected_reason[behaviour]}'")
for behaviour, entry in table.items():
    if behaviour == "healthy":
        if set(entry["verdicts"]) != {"clean"}:
            problems.append(f"healthy hosts were disturbed: {dict(entry['verdicts'])}")
        continue
    if "clean" in entry["verdicts"] or "intercepted" in entry["verdicts"]:
        problems.append(f"{behaviour}: judged {dict(entry['verdicts'])}")
    if "-" in entry["errors"]:
        problems.append(f"{behaviour}: a result with neither an error nor a browser error")
    if behaviour in expected_error and set(entry["errors"]) != {expected_error[behaviour]}:
        problems.append(f"{behaviour}: errors {dict(entry['errors'])}, expected {expected_error[behaviour]}")
if 201 not in table.get("many-certificates", {}).get("chains", set()) and 200 not in table.get("many-certificates", {}).get("chains", set()):
    problems.append(f"the 200-certificate chain was not kept whole: {table.get('many-certificates', {}).get('chains')}")
for problem in problems:
    print("     " + problem)
sys.exit(1 if problems else 0)
EOF
check "every behaviour ends with its clear error, within the timeouts; healthy hosts clean" 0 $?
echo "scan: $targets targets in ${seconds} s, peak RSS $((rss_kb / 1024)) MB"
limit_mb=300
[ "${MITMSCOPE_SANITIZED:-0}" = "1" ] || [ "${MITMSCOPE_SANITIZED:-}" = "ON" ] && limit_mb=1200
check "peak RSS under $limit_mb MB" 1 "$(( rss_kb / 1024 < limit_mb ))"
check "the absurd certificate is kept and named" true \
  "$(jq -s 'any(.[]; (.tags[0] == "absurd-certificate") and ((.server_certificates.certificate.serial // "") | startswith("-")))' "$work/results.jsonl")"

# Each behaviour alone: one probe, a clear error (exit 12) or untrusted chain (exit 10), within the timeouts.
printf '\n| behaviour alone (probe) | exit | error or browser error | seconds |\n|---|---|---|---|\n'
alone_ok=0
for b in "${!behaviours[@]}"; do
  start=$(date +%s.%N)
  "$mitmscope" probe "127.31.$b.200:$port" --sni example.com --allow-private --trust-store "$work/ca.pem" \
    --connect-timeout $connect_timeout --handshake-timeout $handshake_timeout --json >"$work/alone.json" 2>/dev/null
  status=$?
  elapsed=$(echo "$(date +%s.%N) - $start" | bc -l)
  what=$(jq -r '.error.code // .validation.browser_error // "-"' "$work/alone.json" 2>/dev/null)
  printf '| %s | %s | %s | %.2f |\n' "${behaviours[$b]}" "$status" "$what" "$elapsed"
  expected=12
  # A chain that arrived is judged even when the handshake then failed (the 200 certificates, the absurd one).
  case "${behaviours[$b]}" in healthy | absurd-certificate | many-certificates | alert-after-certificate) expected=10 ;; esac
  if [ "$status" -eq "$expected" ] && [ "$(echo "$elapsed < $connect_timeout + $handshake_timeout + 1.5" | bc -l)" = 1 ]; then
    alone_ok=$((alone_ok + 1))
  fi
done
check "every behaviour alone: the expected exit status within the timeouts" "${#behaviours[@]}" "$alone_ok"
kill -0 "$server_pid" 2>/dev/null
check "the hostile server survived the whole run" 0 $?

finish
