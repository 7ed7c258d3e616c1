#!/usr/bin/env bash
# The ClickHouse store as it should run on a real network, against the real Debian clickhouse-server: a
# two-shard cluster started here with `clickhouse-local.sh ... secure` (HTTPS only, a CA made for it,
# users admin / writer / reader with passwords in files, writer and reader limited to one database).
#   - admin makes the tables, writer scans into them, reader reports: per-domain table = ground truth;
#   - least privilege: reader cannot scan, writer cannot drop or make tables nor use another database;
#   - clear errors: wrong password, an untrusted certificate, HTTP to the HTTPS port, a password in the
#     address, a password file others may read;
#   - the store lost midway through a scan: what it took stays, --out has everything, and --resume once the
#     servers are back completes the scan with every (host, domain) once.
# Traffic: loopback only (the lab's loopback mode). Usage: clickhouse_secure_test.sh MITMSCOPE SOURCE_DIR
set -u
mitmscope=$(realpath "$1")
source_dir=$(realpath "$2")
work=$(mktemp -d)
state="$work/lab"
clickhouse="$work/clickhouse"
port=${MITMSCOPE_TEST_CLICKHOUSE_SECURE_PORT:-29443}
local_sh="$source_dir/scripts/clickhouse-local.sh"
source "$(dirname "$0")/check_lib.sh"
has() { grep -q -- "$2" "$1" && echo true || { echo "--- $1:" >&2; cat "$1" >&2; echo false; }; }
cleanup() {
  "$mitmscope" lab --state-dir "$state" down >/dev/null 2>&1
  bash "$local_sh" stop "$clickhouse"
  rm -rf "$work"
}
trap cleanup EXIT

servers=$(CLICKHOUSE_DATABASES="campaign resumed" bash "$local_sh" start "$clickhouse" 2 "$port" secure)
check "clickhouse-server: two shards answer over HTTPS" 0 $?
ca="$clickhouse/tls/ca.pem"
store() {   # store USER DATABASE: the address, with no secret in it
  echo "clickhouse://$1@$servers/$2?cluster=mitmscope_local&secure=1&ca=$ca&password_file=$clickhouse/secrets/$1.password"
}
check "the passwords are their owner's alone" "600 600 600" \
  "$(stat -c %a "$clickhouse"/secrets/{admin,writer,reader}.password | paste -sd' ')"

"$mitmscope" lab --state-dir "$state" up --loopback --size 200 >/dev/null 2>&1
check "lab up --loopback" 0 $?
truth="$state/ground-truth.json"
trust=(--allow-private --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots" --pfx2as "$state/pfx2as.txt")
head -4 "$state/domains.txt" >"$work/domains.txt"
scan=(scan --hosts "$state/hosts.txt" --domains "$work/domains.txt" "${trust[@]}")

# 1. admin makes the tables; writer scans; reader reports.
"$mitmscope" store counts "$(store admin campaign)" >/dev/null 2>"$work/admin.txt"
check "admin opens a new database: its tables are made" 0 $?
"$mitmscope" "${scan[@]}" --store "$(store writer campaign)" >/dev/null 2>"$work/writer.txt"
check "writer scans into the cluster over HTTPS" 0 $?
"$mitmscope" report --store "$(store reader campaign)" --format json --out "$work/report.json" 2>"$work/reader.txt"
check "reader reports" 0 $?
intercepted=$(jq -r '.intercepted_hosts | length' "$truth")
check "reader's report: intercepted hosts per domain equal the ground truth ($intercepted)" \
  "$(for d in $(cat "$work/domains.txt"); do echo "$d $intercepted"; done | sort | paste -sd'|')" \
  "$(jq -r '.per_domain[] | "\(.domain) \(.intercepted_hosts)"' "$work/report.json" | sort | paste -sd'|')"

# 2. Least privilege.
"$mitmscope" "${scan[@]}" --store "$(store reader campaign)" >/dev/null 2>"$work/reader-scan.txt"
check "reader cannot scan: exit 3, 'may only read'" "3 true" "$? $(has "$work/reader-scan.txt" 'may only read')"
"$mitmscope" store counts "$(store writer other)" >/dev/null 2>"$work/writer-other.txt"
check "writer cannot make another database: exit 3, 'may not make them'" "3 true" \
  "$? $(has "$work/writer-other.txt" 'may not make them')"
curl -s --cacert "$ca" -u "writer:$(cat "$clickhouse/secrets/writer.password")" "https://${servers%%,*}/" \
  --data-binary "DROP TABLE campaign.results_local" >"$work/drop.txt"
check "writer cannot drop a table (the server says DDL is prohibited)" true "$(has "$work/drop.txt" 'DDL queries are prohibited')"
"$mitmscope" report --store "$(store admin other)" --format md >/dev/null 2>&1
"$mitmscope" report --store "$(store reader other)" --format md >/dev/null 2>"$work/reader-other.txt"
check "reader cannot read a database it was not given: exit 3, 'given the database'" "3 true" \
  "$? $(has "$work/reader-other.txt" 'given the database')"

# 3. Clear errors.
MITMSCOPE_CLICKHOUSE_PASSWORD=wrong "$mitmscope" store counts \
  "clickhouse://reader@$servers/campaign?cluster=mitmscope_local&secure=1&ca=$ca" >/dev/null 2>"$work/wrong.txt"
check "a wrong password: exit 3, the user named, where the password comes from" "3 true true" \
  "$? $(has "$work/wrong.txt" 'did not accept user reader') $(has "$work/wrong.txt" 'MITMSCOPE_CLICKHOUSE_PASSWORD')"
"$mitmscope" store counts "clickhouse://reader@$servers/campaign?cluster=mitmscope_local&secure=1&ca=$state/public-ca.pem&password_file=$clickhouse/secrets/reader.password" \
  >/dev/null 2>"$work/untrusted.txt"
check "a server certificate the given CA did not sign: exit 3, 'not signed by the CA'" "3 true" \
  "$? $(has "$work/untrusted.txt" 'not signed by the CA given with ca=FILE')"
"$mitmscope" store counts "clickhouse://reader@$servers/campaign?cluster=mitmscope_local&password_file=$clickhouse/secrets/reader.password" \
  >/dev/null 2>"$work/plain.txt"
check "HTTP to the HTTPS port: exit 3, 'add secure=1'" "3 true" "$? $(has "$work/plain.txt" 'secure=1')"
"$mitmscope" store counts "clickhouse://reader:$(cat "$clickhouse/secrets/reader.password")@$servers/campaign?cluster=mitmscope_local" \
  >/dev/null 2>"$work/inline.txt"
check "a password in the address is refused before anything is sent: exit 2, 'ps'" "2 true" "$? $(has "$work/inline.txt" '(ps)')"
cp "$clickhouse/secrets/reader.password" "$work/open.password" && chmod 644 "$work/open.password"
"$mitmscope" store counts "clickhouse://reader@$servers/campaign?cluster=mitmscope_local&secure=1&ca=$ca&password_file=$work/open.password" \
  >/dev/null 2>"$work/open.txt"
check "a password file others may read is refused: 'chmod 600'" true "$(has "$work/open.txt" "chmod 600 $work/open.password")"

# 4. The store lost midway: the servers killed while the scan runs, started again, --resume.
"$mitmscope" store counts "$(store admin resumed)" >/dev/null 2>&1
"$mitmscope" "${scan[@]}" --rate 150 --store "$(store writer resumed)" --out "$work/lost.jsonl" 2>"$work/lost.txt" &
scan_pid=$!
for _ in $(seq 1 200); do
  [ "$(jq -r .results <("$mitmscope" store counts "$(store reader resumed)" --json 2>/dev/null) 2>/dev/null)" -ge 256 ] 2>/dev/null && break
  sleep 0.1
done
# Lost as a crash or a cut network loses it: at once (a graceful stop would serve the scan to its end).
kill -9 $(cat "$clickhouse"/shard*/pid)
wait "$scan_pid"
check "the scan that lost its store: exit 3, says how to go on" "3 true" "$? $(has "$work/lost.txt" 'run the same command with --resume')"
grep -v "^  " "$work/lost.txt" | tail -n 2
pairs=$(( $(wc -l <"$state/hosts.txt") * 4 ))
check "every result of that scan is in --out ($pairs)" "$pairs" "$(wc -l <"$work/lost.jsonl")"
bash "$local_sh" start "$clickhouse" >/dev/null
check "the servers start again on their data" 0 $?
taken=$(jq -r .results <("$mitmscope" store counts "$(store reader resumed)" --json))
check "the store kept what it took before it was lost (at least 256, fewer than $pairs)" true \
  "$([ "$taken" -ge 256 ] && [ "$taken" -lt "$pairs" ] && echo true || echo "false ($taken)")"
"$mitmscope" "${scan[@]}" --store "$(store writer resumed)" --resume --out "$work/resumed.jsonl" 2>"$work/resumed.txt"
check "--resume completes the scan" 0 $?
check "--resume measured only what the store lacked ($((pairs - taken)))" "$((pairs - taken))" "$(wc -l <"$work/resumed.jsonl")"
check "the resumed store holds every (host, domain) once" "$pairs" \
  "$(jq -r .results <("$mitmscope" store counts "$(store reader resumed)" --json))"
"$mitmscope" report --store "$(store reader resumed)" --format json --out "$work/resumed.json"
check "the resumed scan's per-domain table equals the unbroken scan's" \
  "$(jq -c '.per_domain' "$work/report.json")" "$(jq -c '.per_domain' "$work/resumed.json")"

finish
