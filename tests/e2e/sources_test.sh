#!/usr/bin/env bash
# End-to-end: `mitmscope ooni` over one interception campaign written by source_corpus in every other public format
# (RIPE Atlas sslcert, Censored Planet Hyperquack v1 and v2, Satellite page fetches, ZGrab2): each source alone and
# all of them mixed must give the generator's ground truth, the mix one issuer under the registered root and
# per-source counts that add up; the stored result reports the same. Also the real samples of each source: nothing
# in them is interception. No network. Usage: sources_test.sh MITMSCOPE SOURCE_CORPUS TEST_DATA
set -u
mitmscope=$1
generator=$2
data=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"

"$generator" "$work/corpus" 2000
check "generator exits 0" 0 $?
corpus=$work/corpus
options=(--known-roots "$corpus/known-roots" --trust-store "$corpus/trust/public-root.pem" --pfx2as "$corpus/pfx2as.txt")

for source in atlas-sslcert hyperquack-v1 hyperquack-v2 satellite zgrab2; do
  "$mitmscope" ooni "$corpus/$source" "${options[@]}" --json >"$work/$source.json" 2>"$work/$source.err"
  check "$source: exits 0" 0 $?
  want=$(jq ".\"$source\" | del(.forged)" "$corpus/ground-truth.json")
  got=$(jq "{records: .summary.sources.\"$source\", intercepted: (.summary.verdicts.intercepted // 0),
             domains: (.tables.domains | length), networks: (.tables.networks | length)}" "$work/$source.json")
  check "$source: records, intercepted, domains and networks as generated" "$(jq -c . <<<"$want")" "$(jq -c . <<<"$got")"
  check "$source: nothing malformed" 0 "$(jq .summary.malformed "$work/$source.json")"
done
# What each source can support: the chain sources attribute to the registered root; Hyperquack keeps only the leaf
# and validates nothing, so alone its forged leaves stay inconclusive (a lone leaf may be a public CA's).
check "RIPE Atlas: the registered root" "corpus-root" "$(jq -r '.tables.issuers[0].root_id' "$work/atlas-sslcert.json")"
check "ZGrab2: the registered root" "corpus-root" "$(jq -r '.tables.issuers[0].root_id' "$work/zgrab2.json")"
check "Hyperquack v2 alone: every forged leaf a lone leaf" "$(jq '."hyperquack-v2".forged' "$corpus/ground-truth.json")" \
  "$(jq '.summary.categories["inconclusive/lone_leaf"]' "$work/hyperquack-v2.json")"
check "Hyperquack v1: clean answers equal the host's template" 1920 "$(jq '.summary.categories["not_intercepted/matches_template"]' "$work/hyperquack-v1.json")"

# All of them at once: one issuer, attributed; per-source counts add up to its uses.
"$mitmscope" ooni "$corpus"/{atlas-sslcert,hyperquack-v1,hyperquack-v2,satellite,zgrab2} "${options[@]}" --json --store "$work/campaign.db" >"$work/all.json" 2>"$work/all.err"
check "mixed: exits 0" 0 $?
check "mixed: one issuer" 1 "$(jq '.tables.issuers | length' "$work/all.json")"
check "mixed: under the registered root" "corpus-root" "$(jq -r '.tables.issuers[0].root_id' "$work/all.json")"
check "mixed: every forged handshake a known interceptor" "$(jq '[.[].forged] | add' "$corpus/ground-truth.json")" \
  "$(jq '.summary.categories["intercepted/known_interceptor"]' "$work/all.json")"
check "mixed: the sources table adds up to the issuer's uses" "$(jq '.tables.issuers[0].handshakes' "$work/all.json")" \
  "$(jq '[.tables.sources[].intercepted_handshakes] | add' "$work/all.json")"
check "mixed: five sources, each with its records" "$(jq -c '[to_entries[] | {(.key): .value.records}] | add' "$corpus/ground-truth.json")" \
  "$(jq -c '[.tables.sources[] | {(.source): .measurements}] | add' "$work/all.json")"
check "mixed: the stored campaign reports the same interceptions" "$(jq '.summary.verdicts.intercepted' "$work/all.json")" \
  "$("$mitmscope" report --store "$work/campaign.db" --format json | jq '[.intermediates[].results] | add')"
check "mixed: the stored report says which source saw what" "$(jq -c '[.tables.sources[] | {(.source): .intercepted_measurements}] | add' "$work/all.json")" \
  "$("$mitmscope" report --store "$work/campaign.db" --format json | jq -c '[.sources[] | {(.source): .intercepted_measurements}] | add')"
check "mixed: the stored report finds the same interceptor family, with its sources, names and networks" \
  "$(jq -c '[.tables.families[] | {family, issuer_names, first_seen, last_seen, sources, profiles, networks, names: .domains}]' "$work/all.json")" \
  "$("$mitmscope" report --store "$work/campaign.db" --format json |
     jq -c '[.families[] | {family, issuer_names, first_seen, last_seen, sources, profiles, networks, names}]')"
# A tree with other JSON beside the measurements: those files are named and skipped, the measurements read.
"$mitmscope" ooni "$corpus" "${options[@]}" --json >"$work/tree.json" 2>"$work/tree.err"
check "a tree with metadata files: exit 0" 0 $?
check "a tree with metadata files: each named once" 2 "$(grep -c 'not a measurement of a known source' "$work/tree.err")"
check "a tree with metadata files: the same findings" "$(jq -c .tables.issuers "$work/all.json")" "$(jq -c .tables.issuers "$work/tree.json")"

# The real samples: parsed, and not interception.
"$mitmscope" ooni "$data/source-samples" --json >"$work/samples.json" 2>"$work/samples.err"
check "real samples: exit 0" 0 $?
check "real samples: one measurement per source" 5 "$(jq '.summary.sources | length' "$work/samples.json")"
check "real samples: none intercepted" 0 "$(jq '.summary.verdicts.intercepted // 0' "$work/samples.json")"

finish
