#!/usr/bin/env bash
# The sentinel's precision and recall over real clients from Debian (chromium, firefox-esr, curl, wget,
# python3-requests), each visiting a content provider's sentinel directly (a bypass host) and through each
# real interception product of the lab (squid, squid-mimic, sslsplit, mitmproxy). Prints one row per
# (client, path) with the verdict, then precision and recall of "flagged" against "went through a device".
# Root (the lab). Usage: bench/sentinel_products.sh [BUILD] [PRODUCT...]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
products=("$@")
[ ${#products[@]} -eq 0 ] && products=(squid squid-mimic sslsplit mitmproxy)
mitmscope=$build/mitmscope
state=$(mktemp -d)/lab
work=$(mktemp -d)
source tests/e2e/visitors_lib.sh
lab() { "$mitmscope" lab --state-dir "$state" "$@"; }
cleanup() { [ -n "${sentinel_pid:-}" ] && kill "$sentinel_pid" 2>/dev/null; visitors_teardown; lab down >/dev/null 2>&1; rm -rf "$work" "$(dirname "$state")"; }
trap cleanup EXIT

rows="$work/rows.tsv"
: >"$rows"
for product in "${products[@]}"; do
  lab up --scenario "$product" >/dev/null 2>&1 || { echo "lab up --scenario $product failed" >&2; exit 1; }
  truth="$state/ground-truth.json"
  through=$(jq -r '.intercepted_hosts[0]' "$truth")
  direct=$(jq -r '.bypass_hosts[0]' "$truth")
  cat "$state/public-ca.pem" "$state/known-roots/lab-root.pem" >"$work/roots.pem"
  rm -rf "$work/visitors"
  visitors_setup "$work/visitors" "$work/roots.pem" >/dev/null 2>&1
  ip netns exec ms-hosts "$mitmscope" sentinel --listen "$through:443" --listen "$direct:443" --cert "$state/provider.pem" \
    --key "$state/provider-key.pem" --out "$work/$product.jsonl" --quiet &
  sentinel_pid=$!
  sleep 1
  for client in "${VISITOR_CLIENTS[@]}"; do
    # The direct visits are measured once, in the first lab: the path does not depend on the product.
    [ "$product" == "${products[0]}" ] && visit "$client" facebook.com "$direct"
    visit "$client" facebook.com "$through"
  done
  sleep 1
  kill "$sentinel_pid"
  wait "$sentinel_pid" 2>/dev/null
  sentinel_pid=
  # One row per visit that carried a request (a browser's extra preconnects are not visits of their own).
  jq -r --arg product "$product" --arg through "$through" '
    select(.user_agent != null) |
    [(.user_agent | if test("Chrome/") then "chromium" elif test("Firefox/") then "firefox-esr" elif test("^curl/") then "curl"
      elif test("^Wget/") then "wget" elif test("python-requests") then "python3-requests" else . end),
     (if .server.ip == $through then $product else "direct" end), .verdict, (.flagged | tostring), .tls_library.name,
     .ja4, (.http_version // "-")] | @tsv' "$work/$product.jsonl" >>"$rows"
done

printf '| client | path | verdict | flagged | ClientHello library | JA4 | HTTP |\n|---|---|---|---|---|---|---|\n'
sort -u "$rows" | sort -t$'\t' -k1,1 -k2,2 | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | `%s` | %s |\n", $1, $2, $3, $4, $5, $6, $7 }'
awk -F'\t' '
  { through = ($2 != "direct"); flagged = ($4 == "true"); key = $1 "\t" $2
    if (seen[key]++) next
    tp += through && flagged; fp += !through && flagged; fn += through && !flagged; tn += !through && !flagged }
  END { printf "\n(client, path) pairs: %d through a device, %d direct; flagged: %d of the first, %d of the second\n", tp + fn, fp + tn, tp, fp
        printf "precision %.3f, recall %.3f\n", (tp + fp) ? tp / (tp + fp) : 0, (tp + fn) ? tp / (tp + fn) : 0 }' "$rows"
