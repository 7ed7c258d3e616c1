#!/usr/bin/env bash
# The readers of the other public sources (ooni/sources.h) in one run beside their floor and a plain peer, per
# source, over the same generated campaign (tests/ooni/source_corpus.cc: 8 gzip'd JSON Lines files per source, as
# the data sets publish them per day, scan or shard):
#   - single-core `zcat > /dev/null`: the floor the target is stated against (each reader at least 3x it);
#   - `mitmscope ooni FILE` on 1 thread and on every core, end to end (read, judge, tables);
#   - a plain Python reader (bench/peers/sources_reference.py: gzip + json, the certificates base64-decoded, no
#     judgement), what a researcher writes first.
# Prints MB/s (uncompressed), records/s, peak RSS, the ratio to zcat, and whether every source's findings equal the
# generator's ground truth.
# Usage: bench/sources_bench.sh [BUILD_DIR=build] [RECORDS_PER_SOURCE=400000] [CORPUS_DIR=/var/tmp/mitmscope-sources-N]
set -euo pipefail
build=$(realpath "${1:-build}")
records=${2:-400000}
corpus=${3:-/var/tmp/mitmscope-sources-$records}
source_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$source_dir/bench/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -s "$corpus/ground-truth.json" ]; then
  echo "== generating $records records per source into $corpus"
  rm -rf "$corpus"
  "$build/tests/source_corpus" "$corpus" "$records"
fi
options=(--known-roots "$corpus/known-roots" --trust-store "$corpus/trust/public-root.pem" --pfx2as "$corpus/pfx2as.txt")
echo "== $records records per source, $(nproc) cores"
echo
echo "| source | MB gz / MB | zcat MB/s | mitmscope 1 thread MB/s | mitmscope $(nproc) threads MB/s | x zcat | Python MB/s | peak RSS MB | findings = truth |"
echo "|---|---|---|---|---|---|---|---|---|"
status=0
for source in atlas-sslcert hyperquack-v1 hyperquack-v2 satellite zgrab2; do
  file=$corpus/$source
  cat "$file"/*.jsonl.gz >/dev/null   # the page cache warm for every contender
  compressed=$(cat "$file"/*.jsonl.gz | wc -c)
  uncompressed=$(zcat "$file"/*.jsonl.gz | wc -c)
  mb=$(echo "$uncompressed / 1000000" | bc -l)
  zcat_s=$(timed bash -c "cat '$file'/*.jsonl.gz | zcat")
  one=$(/usr/bin/time -f "%M" -o "$work/one.time" "$build/mitmscope" ooni "$file" "${options[@]}" --threads 1 --json | jq .summary.seconds)
  /usr/bin/time -f "%M" -o "$work/all.time" "$build/mitmscope" ooni "$file" "${options[@]}" --json >"$work/$source.json"
  all=$(jq .summary.seconds "$work/$source.json")
  python_s=$(timed bash -c "/usr/bin/python3 '$source_dir/bench/peers/sources_reference.py' '$file'/*.jsonl.gz")
  rss=$(( $(cat "$work/all.time") / 1024 ))
  want=$(jq -c ".\"$source\" | del(.forged)" "$corpus/ground-truth.json")
  got=$(jq -c "{records: .summary.sources.\"$source\", intercepted: (.summary.verdicts.intercepted // 0),
               domains: (.tables.domains | length), networks: (.tables.networks | length)}" "$work/$source.json")
  same=yes
  [ "$want" == "$got" ] || { same="NO: $got"; status=1; }
  printf '| %s | %.0f / %.0f | %.0f | %.0f | %.0f | %.2f | %.0f | %s | %s |\n' "$source" \
    "$(echo "$compressed / 1000000" | bc -l)" "$mb" "$(echo "$mb / $zcat_s" | bc -l)" "$(echo "$mb / $one" | bc -l)" \
    "$(echo "$mb / $all" | bc -l)" "$(echo "$zcat_s / $all" | bc -l)" "$(echo "$mb / $python_s" | bc -l)" "$rss" "$same"
done
exit $status
