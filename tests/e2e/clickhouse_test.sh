#!/usr/bin/env bash
# The ClickHouse store end to end, with the real Debian clickhouse-server: one server and a
# two-shard cluster started here (scripts/clickhouse-local.sh) and stopped at the end.
#   - the store contract (unit_tests, StoreContract.*) against one server and the cluster;
#   - two scanners (--shards 2 --shard 0/1) write at once into the cluster; report reads the whole,
#     and its per-AS and per-domain tables equal an unsharded scan's into SQLite;
#   - a campaign in SQLite (scan, monitor rounds with the interceptor switched off, traces) copied to
#     one server, to the cluster and back to SQLite: the report's tables are identical in all four;
#   - a monitor writing to ClickHouse killed with -9 and restarted: every round once, nothing unfinished.
# Traffic: loopback only (the lab's loopback mode). Usage: clickhouse_test.sh MITMSCOPE UNIT_TESTS SOURCE_DIR
set -u
mitmscope=$(realpath "$1")
unit_tests=$(realpath "$2")
source_dir=$(realpath "$3")
work=$(mktemp -d)
state="$work/lab"
clickhouse="$work/clickhouse"
port=${MITMSCOPE_TEST_CLICKHOUSE_PORT:-28123}
source "$(dirname "$0")/check_lib.sh"
cleanup() {
  "$mitmscope" lab --state-dir "$state" down >/dev/null 2>&1
  bash "$source_dir/scripts/clickhouse-local.sh" stop "$clickhouse"
  rm -rf "$work"
}
trap cleanup EXIT

servers=$(bash "$source_dir/scripts/clickhouse-local.sh" start "$clickhouse" 2 "$port")
check "clickhouse-server: two shards answer" 0 $?
single="clickhouse://${servers%%,*}"
cluster_of() { echo "clickhouse://$servers/$1?cluster=mitmscope_local"; }

# 1. The store contract, every case, none skipped.
MITMSCOPE_TEST_CLICKHOUSE="$servers" "$unit_tests" --gtest_filter='Stores/StoreContract.*:ClickHouse*' >"$work/contract.txt" 2>&1
check "store contract against one server and the cluster" 0 $?
check "store contract: 33 cases ran (10 contract cases x 3 stores, 3 ClickHouse cases), none skipped" "33 0" \
  "$(grep -c '^\[       OK \]' "$work/contract.txt") $(grep -c '^\[  SKIPPED \]' "$work/contract.txt")"
grep -E "Failure|FAILED" -A5 "$work/contract.txt" | head -40

# 2. The loopback lab, and scanners in parallel into the cluster.
"$mitmscope" lab --state-dir "$state" up --loopback --size 200 >/dev/null 2>&1
check "lab up --loopback" 0 $?
truth="$state/ground-truth.json"
trust=(--allow-private --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots" --pfx2as "$state/pfx2as.txt")
head -4 "$state/domains.txt" >"$work/domains.txt"
"$mitmscope" scan --hosts "$state/hosts.txt" --domains "$work/domains.txt" "${trust[@]}" --store "$work/campaign.db" \
  >/dev/null 2>"$work/scan-sqlite.txt"
check "scan into SQLite" 0 $?
for shard in 0 1; do
  "$mitmscope" scan --hosts "$state/hosts.txt" --domains "$work/domains.txt" "${trust[@]}" --shards 2 --shard $shard \
    --store "$(cluster_of sharded)" >/dev/null 2>"$work/scan-$shard.txt" &
  pids[$shard]=$!
done
wait "${pids[0]}"; first=$?
wait "${pids[1]}"; second=$?
check "two scanners into the cluster at once" "0 0" "$first $second"
"$mitmscope" report --store "$(cluster_of sharded)" --format json --out "$work/sharded.json"
check "report over the cluster" 0 $?
check "cluster: the report merges the two shards' scans" 2 "$(jq -r '.per_domain | length as $n | "2"' "$work/sharded.json")"
intercepted=$(jq -r '.intercepted_hosts | length' "$truth")
check "cluster: intercepted hosts per domain equal the ground truth ($intercepted)" \
  "$(for d in $(cat "$work/domains.txt"); do echo "$d $intercepted"; done | sort | paste -sd'|')" \
  "$(jq -r '.per_domain[] | "\(.domain) \(.intercepted_hosts)"' "$work/sharded.json" | sort | paste -sd'|')"
"$mitmscope" report --store "$work/campaign.db" --format json --out "$work/unsharded.json"
check "cluster (two scanners) and SQLite (one scanner): same per-AS and per-domain tables" \
  "$(jq -c '[.per_as, .per_domain]' "$work/unsharded.json")" "$(jq -c '[.per_as, .per_domain]' "$work/sharded.json")"
check "cluster: each result stored once" "$(jq -r '.results' <("$mitmscope" store counts "$work/campaign.db" --json))" \
  "$(jq -r '.results' <("$mitmscope" store counts "$(cluster_of sharded)" --json))"

# 3. A campaign with events and traces in SQLite; copied around; identical tables everywhere.
(jq -r '.intercepted_hosts[0:3][]' "$truth"; jq -r '.bypass_hosts[0:2][]' "$truth") | sed "s/\$/:$(jq -r .port "$truth") AS9198/" >"$work/monitor-hosts.txt"
monitor=(monitor --hosts "$work/monitor-hosts.txt" --domains "$work/domains.txt" "${trust[@]}" --every 3s)
"$mitmscope" "${monitor[@]}" --rounds 1 --store "$work/campaign.db" >/dev/null 2>&1
"$mitmscope" lab --state-dir "$state" switch off >/dev/null && sleep 0.6
"$mitmscope" "${monitor[@]}" --rounds 2 --store "$work/campaign.db" >/dev/null 2>&1
"$mitmscope" lab --state-dir "$state" switch on >/dev/null && sleep 0.6
check "monitor in SQLite: events baseline, then interception stopped" "1 baseline|2 interception_stopped" \
  "$(jq -r '.events[] | "\(.round) \(.type)"' <("$mitmscope" report --store "$work/campaign.db" --format json) | grep -v hosts_stopped | paste -sd'|')"
head -3 "$work/monitor-hosts.txt" >"$work/trace-hosts.txt"
"$mitmscope" trace --hosts "$work/trace-hosts.txt" --sni facebook.com "${trust[@]}" --store "$work/campaign.db" \
  >/dev/null 2>"$work/trace.txt"
check "trace --store: exits 0" 0 $?
check "trace --store into SQLite: 3 traces" 3 "$(jq -r .traces <("$mitmscope" store counts "$work/campaign.db" --json))"
"$mitmscope" store copy "$work/campaign.db" "$single/copied" >/dev/null 2>"$work/copy-1.txt"
check "store copy SQLite -> one server" 0 $?
"$mitmscope" store copy "$single/copied" "$(cluster_of copied)" >/dev/null 2>"$work/copy-2.txt"
check "store copy one server -> cluster" 0 $?
"$mitmscope" store copy "$(cluster_of copied)" "$work/back.db" >/dev/null 2>"$work/copy-3.txt"
check "store copy cluster -> SQLite" 0 $?
for format in md json; do
  "$mitmscope" report --store "$work/campaign.db" --format $format --out "$work/report-sqlite.$format"
  "$mitmscope" report --store "$single/copied" --format $format --out "$work/report-single.$format"
  "$mitmscope" report --store "$(cluster_of copied)" --format $format --out "$work/report-cluster.$format"
  "$mitmscope" report --store "$work/back.db" --format $format --out "$work/report-back.$format"
  check "report --format $format: SQLite, one server, cluster and the copy back are identical" "same same same" \
    "$(for other in single cluster back; do cmp -s "$work/report-sqlite.$format" "$work/report-$other.$format" && echo same || echo differs; done | paste -sd' ')"
done
check "the identical tables are not empty: rounds, events, per_as, intermediates, profile, trace_hops" "3 2 true true true 3" \
  "$(jq -r '"\(.rounds | length) \([.events[] | select(.type != "hosts_stopped")] | length) \(.per_as | length > 0) \(.intermediates | length > 0) \(.profile | length > 0) \(.trace_hops | map(.addresses) | add)"' "$work/report-sqlite.json")"
for other in single cluster back; do diff "$work/report-sqlite.md" "$work/report-$other.md" | head -10; done

# 4. A monitor writing to ClickHouse, killed with -9 in its second round, then restarted.
monitor_store="$(cluster_of monitored)"
"$mitmscope" monitor --hosts "$work/monitor-hosts.txt" --domains "$work/domains.txt" "${trust[@]}" --every 3s --rounds 3 \
  --store "$monitor_store" >/dev/null 2>"$work/monitor-1.txt" &
monitor_pid=$!
for _ in $(seq 1 100); do
  [ "$(jq -r .scans <("$mitmscope" store counts "$monitor_store" --json 2>/dev/null) 2>/dev/null)" = 2 ] && break
  sleep 0.1
done
kill -9 "$monitor_pid" 2>/dev/null
wait "$monitor_pid" 2>/dev/null
"$mitmscope" monitor --hosts "$work/monitor-hosts.txt" --domains "$work/domains.txt" "${trust[@]}" --every 3s --rounds 3 \
  --store "$monitor_store" >/dev/null 2>"$work/monitor-2.txt"
check "monitor into ClickHouse: the restart exits 0" 0 $?
"$mitmscope" report --store "$monitor_store" --format json --out "$work/monitored.json"
check "monitor into ClickHouse: rounds 1..3 once each, all finished" "1 true|2 true|3 true" \
  "$(jq -r '.rounds[] | "\(.round) \(.finished)"' "$work/monitored.json" | paste -sd'|')"
check "monitor into ClickHouse: every round holds every (host, domain) once" "$((5 * 4 * 3))" \
  "$(jq -r .results <("$mitmscope" store counts "$monitor_store" --json))"
check "monitor into ClickHouse: one baseline event" "1 baseline" \
  "$(jq -r '.events[] | "\(.round) \(.type)"' "$work/monitored.json" | paste -sd'|')"

# 5. Clear errors.
"$mitmscope" report --store "clickhouse://127.0.0.1:9/none" --format md >/dev/null 2>"$work/refused.txt"
check "a server that is not there: exit 3 (store unusable) and the address in the message" "3 true" \
  "$? $(grep -q 'clickhouse://127.0.0.1:9/none' "$work/refused.txt" && echo true || echo false)"
"$mitmscope" report --store "clickhouse://$servers/x?cluster=nosuch" --format md >/dev/null 2>"$work/nocluster.txt"
check "an unknown cluster is named" true "$(grep -q "cluster 'nosuch'" "$work/nocluster.txt" && echo true || echo false)"

finish
