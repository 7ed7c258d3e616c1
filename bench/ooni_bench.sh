#!/usr/bin/env bash
# `mitmscope ooni` in one run beside its floor and its peer, over the same corpus of realistic OONI
# web_connectivity measurements in the raw layout (tests/ooni/corpus_generator.cc, kz-2021):
#   - decompression alone: single-core `zcat > /dev/null`, and the library mitmscope reads with
#     (ooni_inflate: the same pipeline, libdeflate/zlib, doing nothing with the lines) on 1 and 2 threads;
#   - mitmscope ooni end to end on 1 thread and on every core;
#   - the plain Python reference (bench/peers/ooni_reference.py: gzip + json + Debian's python3-cryptography).
# Prints MB/s (uncompressed) and measurements/s, the ratios, and whether the findings are identical.
# Usage: bench/ooni_bench.sh [BUILD_DIR=build] [MEASUREMENTS=1000000] [CORPUS_DIR=/var/tmp/mitmscope-ooni-corpus]
set -euo pipefail
build=$(realpath "${1:-build}")
measurements=${2:-1000000}
corpus=${3:-/var/tmp/mitmscope-ooni-corpus-$measurements}
source_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$source_dir/bench/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -s "$corpus/ground-truth.json" ]; then
  echo "== generating $measurements measurements into $corpus"
  rm -rf "$corpus"
  "$build/mitmscope" lab corpus --out "$corpus" --measurements "$measurements" --seed 3
fi
files=$(find "$corpus/raw" -name '*.jsonl.gz' | wc -l)
compressed=$(find "$corpus/raw" -name '*.jsonl.gz' -print0 | du -cb --files0-from=- | tail -1 | cut -f1)
echo "== corpus: $files files, $(echo "$compressed / 1000000" | bc) MB compressed ($corpus)"
sync
# Warm the page cache once, so every contender reads from memory.
cat "$(find "$corpus/raw" -name '*.jsonl.gz' | head -1)" >/dev/null
find "$corpus/raw" -name '*.jsonl.gz' -print0 | xargs -0 cat >/dev/null

zcat_seconds=$(timed bash -c "find '$corpus/raw' -name '*.jsonl.gz' -print0 | sort -z | xargs -0 cat | zcat >/dev/null")
uncompressed=$("$build/ooni_inflate" 1 "$corpus/raw" | jq .bytes_uncompressed)
inflate1=$("$build/ooni_inflate" 1 "$corpus/raw" | jq .seconds)
inflate2=$("$build/ooni_inflate" "$(nproc)" "$corpus/raw" | jq .seconds)
trust=(--known-roots "$corpus/known-roots" --trust-store "$corpus/trust/public-root.pem")
"$build/mitmscope" ooni "$corpus/raw" "${trust[@]}" --threads 1 --json >"$work/one.json"
"$build/mitmscope" ooni "$corpus/raw" "${trust[@]}" --json >"$work/all.json"
/usr/bin/time -f "%e %M" -o "$work/ours.time" "$build/mitmscope" ooni "$corpus/raw" "${trust[@]}" --json >"$work/all2.json"
ours1=$(jq .summary.seconds "$work/one.json")
ours2=$(jq .summary.seconds "$work/all2.json")
ours_rss=$(cut -d' ' -f2 "$work/ours.time")
python_seconds=$(timed bash -c "/usr/bin/python3 '$source_dir/bench/peers/ooni_reference.py' --trust-store '$corpus/trust/public-root.pem' \
  --known-roots '$source_dir/data/known-roots' --known-roots '$corpus/known-roots' '$corpus/raw' >'$work/python.json'")
count=$(jq .summary.measurements "$work/all2.json")
mb=$(echo "$uncompressed / 1000000" | bc -l)
row() { printf '| %-58s | %8.2f | %8.0f | %10.0f | %s |\n' "$1" "$2" "$(echo "$mb / $2" | bc -l)" "$(echo "$count / $2" | bc -l)" "$3"; }
echo
echo "$count measurements, $(printf '%.0f' "$mb") MB uncompressed, $files files, $(nproc) cores"
echo
echo "| what | seconds | MB/s | measurements/s | notes |"
echo "|---|---|---|---|---|"
row "zcat > /dev/null (gzip, single core)" "$zcat_seconds" "the floor the targets are stated against"
row "ooni_inflate, 1 thread (libdeflate/ISA-L, lines cut)" "$inflate1" "decompression alone, mitmscope's library"
row "ooni_inflate, $(nproc) threads" "$inflate2" ""
row "mitmscope ooni, 1 thread" "$ours1" "end to end"
row "mitmscope ooni, $(nproc) threads" "$ours2" "end to end, peak RSS $((ours_rss / 1024)) MB"
row "peer: ooni_reference.py (Python json + cryptography)" "$python_seconds" "one process, as OONI's pipeline"
echo
printf 'mitmscope ooni (%s threads) / zcat: %.2fx   / Python reference: %.1fx   1 thread / Python: %.1fx\n' "$(nproc)" \
  "$(echo "$zcat_seconds / $ours2" | bc -l)" "$(echo "$python_seconds / $ours2" | bc -l)" "$(echo "$python_seconds / $ours1" | bc -l)"

# Identical findings: every intercepted issuer (root, uses, first/last seen, uses outside validity), the domains,
# the networks and every verdict category.
python3 - "$work/all2.json" "$work/python.json" "$work/one.json" <<'PY'
import json, sys
ours, peer, one = (json.load(open(p)) for p in sys.argv[1:4])
t = ours["tables"]
mine = {
    "measurements": ours["summary"]["measurements"], "malformed": ours["summary"]["malformed"],
    "clean": ours["summary"]["verdicts"].get("clean", 0), "failed": ours["summary"]["verdicts"].get("failed", 0),
    "categories": dict(sorted(ours["summary"]["categories"].items())),
    "issuers": sorted([dict(sha1=r["sha1"], root=r["root_id"] or r["root"], handshakes=r["handshakes"], first_seen=r["first_seen"],
                            last_seen=r["last_seen"], used_before_validity=r["used_before_validity"],
                            used_after_validity=r["used_after_validity"]) for r in t["issuers"]], key=lambda r: r["sha1"]),
    "domains": dict(sorted((r["domain"], r["handshakes"]) for r in t["domains"])),
    "networks": dict(sorted((r["asn"], r["intercepted_measurements"]) for r in t["networks"])),
}
different = [k for k in mine if mine[k] != peer.get(k)]
same_threads = one["tables"] == ours["tables"]
print("findings identical to the Python reference:", "yes" if not different else "NO, differ in " + ", ".join(different))
print("findings identical on 1 thread and on every core:", "yes" if same_threads else "NO")
print(f"intercepted handshakes {ours['summary']['verdicts'].get('intercepted', 0)}, issuers {len(t['issuers'])}, "
      f"domains {len(t['domains'])}, networks {len(t['networks'])}")
sys.exit(1 if different or not same_threads else 0)
PY
