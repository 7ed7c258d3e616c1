#!/usr/bin/env bash
# End-to-end: `mitmscope ooni` over measurements written by `mitmscope lab corpus` from the kz-2021 scenario
# (the analysis must recover the generator's ground truth exactly) and over the real OONI samples
# (the traps must not be flagged). No network. Usage: ooni_test.sh MITMSCOPE TEST_DATA
set -u
mitmscope=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/check_lib.sh"

"$mitmscope" lab corpus --out "$work/corpus" --measurements 12000 --malformed 5 --damaged --seed 7
check "generator exits 0" 0 $?
trust=(--known-roots "$work/corpus/known-roots" --trust-store "$work/corpus/trust/public-root.pem")

"$mitmscope" ooni "$work/corpus/raw" "${trust[@]}" --out "$work/out" --json >"$work/analysis.json" 2>"$work/stderr"
check "ooni exits 0 with skipped lines" 0 $?
grep -q "truncated" "$work/stderr"
check "the truncated file is reported" 0 $?
grep -Eq "webconnectivity.n0.0.jsonl.gz:[0-9]+: " "$work/stderr"
check "malformed lines are reported with file and line" 0 $?

# Everything the ground truth says, compared field by field (python3, standard library only).
python3 - "$work/corpus/ground-truth.json" "$work/analysis.json" <<'EOF'
import json, sys
truth = json.load(open(sys.argv[1]))
analysis = json.load(open(sys.argv[2]))
tables = analysis["tables"]
summary = analysis["summary"]
problems = []
def same(what, expected, actual):
    if expected != actual:
        problems.append(f"{what}: expected {expected!r}, got {actual!r}")
rows = {row["sha1"]: row for row in tables["issuers"]}
same("issuers", sorted(i["sha1"] for i in truth["issuers"]), sorted(rows))
for issuer in truth["issuers"]:
    row = rows.get(issuer["sha1"], {})
    same(f"issuer {issuer['sha1'][:8]} root", issuer["root"], row.get("root_id") or row.get("root"))
    for field in ("sha256", "subject", "not_before", "not_after", "handshakes", "first_seen", "last_seen",
                  "used_before_validity", "used_after_validity", "domains", "networks"):
        same(f"issuer {issuer['sha1'][:8]} {field}", issuer[field], row.get(field))
same("domains", truth["domains"], {r["domain"]: r["handshakes"] for r in tables["domains"]})
same("networks", {k: v["intercepted_measurements"] for k, v in truth["networks"].items()},
     {r["asn"]: r["intercepted_measurements"] for r in tables["networks"]})
same("network measurements", {k: v["measurements"] for k, v in truth["networks"].items()},
     {r["asn"]: r["measurements"] for r in tables["networks"]})
same("countries", truth["countries"], {r["country"]: r["intercepted_measurements"] for r in tables["countries"]})
categories = {k: v for k, v in summary["categories"].items()}
categories["clean"] = summary["verdicts"]["clean"]
categories["failed"] = summary["verdicts"]["failed"]
same("categories", truth["categories"], categories)
same("malformed lines", truth["malformed"], summary["malformed"])
same("files failed", 1, summary["files_failed"])
same("gaps", 4, len(tables["gaps"]))
for problem in problems:
    print("     " + problem)
sys.exit(1 if problems else 0)
EOF
check "the analysis equals the generator's ground truth (issuers, roots, validity use, domains, networks, categories)" 0 $?
check "19 intercepting networks" 19 "$(jq '.tables.networks | length' "$work/analysis.json")"
check "14 targeted domains" 14 "$(jq '.tables.domains | length' "$work/analysis.json")"
check "one interceptor family: the 7 intermediates, the 2 of unknown roots with them" "1 7" \
  "$(jq -r '"\(.tables.families | length) \(.tables.families[0].issuers)"' "$work/analysis.json")"
check "the family's evidence: CAs signed by CAs of the ISCA name" 6 \
  "$(jq -r '.tables.families[0].evidence' "$work/analysis.json" | grep -o 'signed by CAs named CN=Information Security Certification Authority' | wc -l)"
check "--out writes the family's 7 intermediates for export" 7 "$(grep -c 'BEGIN CERTIFICATE' "$work/out/families/family-1.pem")"
check "2 intermediates with an unknown root" 2 "$(jq '[.tables.issuers[] | select(.root == "unknown")] | length' "$work/analysis.json")"
check "intermediates used after they expired, as the ground truth says" \
  "$(jq '[.issuers[] | select(.used_after_validity > 0)] | length' "$work/corpus/ground-truth.json")" \
  "$(jq '[.tables.issuers[] | select(.used_after_validity > 0)] | length' "$work/analysis.json")"
check "every intercepted handshake has reasons" 0 \
  "$(jq -s '[.[] | select(.verdict == "intercepted" and (.reasons | length) == 0)] | length' "$work/out/observations.jsonl")"
check "lone leaves attributed through an intermediate from other measurements" true \
  "$(jq -s 'any(.[]; .verdict == "intercepted" and .category == "known_interceptor" and .issuer.from_corpus == true)' "$work/out/observations.jsonl")"
for table in issuers gaps domains networks countries timeline; do
  [ -s "$work/out/$table.csv" ]
  check "--out writes $table.csv" 0 $?
done
check "errors.csv lists the 5 malformed lines and the damaged file" 7 "$(wc -l <"$work/out/errors.csv")"

# The same answer on one thread, and with the country and date filters.
"$mitmscope" ooni "$work/corpus/raw" "${trust[@]}" --threads 1 --json 2>/dev/null | jq -S .tables >"$work/one.json"
jq -S .tables "$work/analysis.json" >"$work/two.json"
cmp -s "$work/one.json" "$work/two.json"
check "one thread and every core give identical tables" 0 $?
"$mitmscope" ooni "$work/corpus/raw" "${trust[@]}" --cc KZ --json 2>/dev/null >"$work/kz.json"
check "--cc KZ: only KZ" '["KZ"]' "$(jq -c '[.tables.countries[].country]' "$work/kz.json")"
check "--cc KZ: same intercepted handshakes" "$(jq .summary.verdicts.intercepted "$work/analysis.json")" "$(jq .summary.verdicts.intercepted "$work/kz.json")"
# The KZ folders and the damaged file outside the layout: other countries' folders are not even opened.
check "--cc KZ: other countries' folders not opened" "$(( $(find "$work/corpus/raw" -path '*/KZ/*' -name '*.gz' | wc -l) + 1 ))" \
  "$(jq .summary.files "$work/kz.json")"
"$mitmscope" ooni "$work/corpus/raw" "${trust[@]}" --since 2023-01-01 --until 2024-01-01 --json 2>/dev/null >"$work/2023.json"
check "--since/--until 2023: the three intermediates used that year" 3 "$(jq '.tables.issuers | length' "$work/2023.json")"

# Into a store; `report` draws the intermediates from it.
"$mitmscope" ooni "$work/corpus/raw" "${trust[@]}" --store "$work/ooni.db" >/dev/null 2>&1
check "ooni --store exits 0" 0 $?
"$mitmscope" report --store "$work/ooni.db" --format json >"$work/report.json"
check "report lists the 7 intermediates from the stored OONI results" \
  "$(jq -c '[.tables.issuers[].sha256] | sort' "$work/analysis.json")" \
  "$(jq -c '[.intermediates[].sha256] | sort' "$work/report.json")"
kept=$(jq '[.summary.verdicts | to_entries[] | select(.key != "clean" and .key != "failed") | .value] | add' "$work/analysis.json")
check "stored results: one per judged handshake" "$kept" "$(sqlite3 "$work/ooni.db" 'SELECT COUNT(*) FROM results')"
"$mitmscope" ooni "$work/corpus/raw" "${trust[@]}" --store "$work/ooni.db" >/dev/null 2>"$work/again.err"
check "the same files stored again: nothing added, and said" "$kept 1" \
  "$(sqlite3 "$work/ooni.db" 'SELECT COUNT(*) FROM results') $(grep -c 'already in' "$work/again.err")"

# kill -9 at random points, then a whole run: the store holds exactly what the uninterrupted run stored.
for attempt in 1 2 3 4 5; do
  "$mitmscope" ooni "$work/corpus/raw" "${trust[@]}" --store "$work/killed.db" >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(( (RANDOM % 9) + 1 ))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
"$mitmscope" ooni "$work/corpus/raw" "${trust[@]}" --store "$work/killed.db" >/dev/null 2>&1
check "after kill -9 five times and a whole run: the results of one uninterrupted run" \
  "$(sqlite3 "$work/ooni.db" 'SELECT measurement, verdict FROM results ORDER BY measurement' | sha256sum)" \
  "$(sqlite3 "$work/killed.db" "SELECT measurement, verdict FROM results WHERE scan_id = (SELECT MAX(id) FROM scans WHERE finished_at IS NOT NULL) ORDER BY measurement" | sha256sum)"
check "after kill -9: no scan twice, none left unfinished" "1 0" \
  "$(sqlite3 "$work/killed.db" 'SELECT COUNT(*) FROM scans WHERE finished_at IS NOT NULL') $(sqlite3 "$work/killed.db" 'SELECT COUNT(*) FROM scans WHERE finished_at IS NULL')"

# The real samples (judged with the Mozilla roots at their own time): the traps are not interception.
"$mitmscope" ooni "$data/ooni-samples" --json --out "$work/samples" >"$work/samples.json" 2>"$work/samples.err"
check "real samples: exit 0" 0 $?
check "real samples: 6 measurements, none malformed" "6 0" "$(jq -r '"\(.summary.measurements) \(.summary.malformed)"' "$work/samples.json")"
check "real samples: nothing intercepted" 0 "$(jq '.summary.verdicts.intercepted // 0' "$work/samples.json")"
check "Italian chains are clean" 13 "$(jq '.summary.verdicts.clean' "$work/samples.json")"
check "Signal's pinned certificate is a self-signed service" 5 "$(jq '.summary.categories["not_intercepted/self_signed_service"]' "$work/samples.json")"
check "Iran's expired certificate is the server's" 1 "$(jq '.summary.categories["not_intercepted/server_certificate_invalid"]' "$work/samples.json")"

# Inputs one by one: a plain .jsonl, a single .json, an unusable file.
first=$(find "$work/corpus/raw" -path '*KZ*' -name '*.jsonl.gz' | sort | head -1)
zcat "$first" >"$work/plain.jsonl"
"$mitmscope" ooni "$work/plain.jsonl" "${trust[@]}" --json 2>/dev/null >"$work/plain.json"
check "a plain .jsonl reads the same measurements" "$(wc -l <"$work/plain.jsonl")" "$(jq '.summary.measurements + .summary.malformed' "$work/plain.json")"
printf 'not json\n\x00\x01\x02\n' >"$work/garbage.jsonl"
"$mitmscope" ooni "$work/garbage.jsonl" >/dev/null 2>"$work/garbage.err"
check "an unusable input exits 3" 3 $?
grep -q "garbage.jsonl:1: not JSON" "$work/garbage.err"
check "its error names file and line" 0 $?
"$mitmscope" ooni "$work/nothing-here" >/dev/null 2>&1
check "a missing path exits 3" 3 $?

# export: the stored campaign as browser entries; the evidence equals the generator's ground truth.
"$mitmscope" export --store "$work/ooni.db" "${trust[@]}" --out "$work/export" --created 2026-12-01T00:00:00Z \
  --bug https://bugs.example/1 >"$work/export.out" 2>"$work/export.err"
check "export from the store exits 0" 0 $?
python3 - "$work/corpus/ground-truth.json" "$work/export" <<'EOF'
import base64, json, os, subprocess, sys
truth = json.load(open(sys.argv[1]))
out = sys.argv[2]
evidence = json.load(open(os.path.join(out, "evidence.json")))["certificates"]
problems = []
def same(what, expected, actual):
    if expected != actual:
        problems.append(f"{what}: expected {expected!r}, got {actual!r}")
by_sha = {c["sha256"]: c for c in evidence}
for issuer in truth["issuers"]:
    got = by_sha.get(issuer["sha256"])
    if got is None:
        problems.append(f"{issuer['subject']} not exported")
        continue
    same(f"{issuer['subject']} results", issuer["handshakes"], got["intercepted_results"])
    same(f"{issuer['subject']} domains", issuer["domains"], len(got["domains"]))
    same(f"{issuer['subject']} networks", issuer["networks"], len(got["networks"]))
    same(f"{issuer['subject']} after validity", issuer["used_after_validity"], got["uses_after_validity"])
    same(f"{issuer['subject']} root", None if issuer["root"] == "unknown" else issuer["root"],
         got["registry"]["id"] if got["registry"] else None)
    same(f"{issuer['subject']} signed_by is an exported root", issuer["root"] != "unknown",
         got["signed_by"] is not None and by_sha.get(got["signed_by"], {}).get("role") == "root")
roots = {issuer["root"] for issuer in truth["issuers"] if issuer["root"] != "unknown"}
same("intermediates exported", len(truth["issuers"]), sum(c["role"] == "intermediate" for c in evidence))
same("roots exported (the registry roots above them)", len(roots), sum(c["role"] == "root" for c in evidence))
# Chromium: one blocklist file per CA named by its SHA-256; the CRLSet header lists every SPKI.
same("blocklist files", sorted(c["sha256"] + ".pem" for c in evidence), sorted(os.listdir(os.path.join(out, "chromium/blocklist"))))
raw = open(os.path.join(out, "chromium/crlset"), "rb").read()
length = int.from_bytes(raw[:2], "little")
same("crlset length prefix", len(raw) - 2, length)
header = json.loads(raw[2:2 + length])
spkis = sorted(base64.b64decode(s).hex() for s in header["KnownInterceptionSPKIs"])
same("crlset known-interception SPKIs", sorted(c["spki_sha256"] for c in evidence), spkis)
# Firefox: the serialNumber records decode to the serials openssl reads from the certificates.
records = json.load(open(os.path.join(out, "firefox/onecrl.json")))["data"]
same("onecrl records", 2 * len(evidence), len(records))
pems = [open(os.path.join(out, "chromium/blocklist", c["sha256"] + ".pem")).read() for c in evidence]
serials = sorted(int.from_bytes(base64.b64decode(r["serialNumber"]), "big") for r in records if "serialNumber" in r)
openssl = sorted(int(subprocess.run(["openssl", "x509", "-noout", "-serial"], input=text, capture_output=True, text=True)
                     .stdout.strip().split("=")[1], 16) for text in pems)
same("onecrl serials = openssl's", openssl, serials)
same("onecrl bug", {"https://bugs.example/1"}, {r["details"]["bug"] for r in records})
for problem in problems:
    print("     " + problem)
sys.exit(1 if problems else 0)
EOF
check "export: every CA of the ground truth with its uses, domains, networks, late uses and root; formats decode" 0 $?
grep -q "Interception evidence" "$work/export/EVIDENCE.md"
check "export: the evidence to attach to a bug report" 0 $?

# export of Chromium's own Kazakh blocklist files: the SPKI hashes are the ones Chromium lists.
roots_dir="$data/../../data/known-roots"
"$mitmscope" export "$roots_dir"/isca-*.pem "$roots_dir"/qaznet-*.pem --out "$work/export-kz" >/dev/null 2>&1
check "export of the Kazakh roots exits 0" 0 $?
check "export: SPKI SHA-256 equal Chromium's kSPKIBlockList values (SOURCES.md)" \
  "$(for f in "$roots_dir"/isca-*.pem "$roots_dir"/qaznet-*.pem; do
       awk -v name="## $(basename "$f")" '$0 == name {found = 1} found && /kSPKIBlockList form/ {print; exit}' "$roots_dir/SOURCES.md" |
         grep -o '[0-9a-f]\{64\}'; done | sort)" \
  "$(jq -r '.certificates[].spki_sha256' "$work/export-kz/evidence.json" | sort)"
# Refusals: a forged leaf alone, and a Mozilla root without --include-trusted.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=leaf.example \
  -addext basicConstraints=critical,CA:FALSE -days 1 -out "$work/leaf.pem" 2>/dev/null
"$mitmscope" export "$work/leaf.pem" --out "$work/export-leaf" >/dev/null 2>"$work/leaf.err"
check "export of a leaf alone is refused (exit 2) and says why" "2 1" "$? $(grep -c 'no CA certificate' "$work/leaf.err")"
mozilla=$(ls /usr/share/ca-certificates/mozilla/*.crt | head -1)
"$mitmscope" export "$mozilla" --out "$work/export-mozilla" >/dev/null 2>"$work/mozilla.err"
check "a Mozilla root is left out unless --include-trusted" "2 1" "$? $(grep -c 'left out' "$work/mozilla.err")"
"$mitmscope" export "$mozilla" --include-trusted --out "$work/export-mozilla" >/dev/null 2>&1
check "with --include-trusted it is exported" 0 $?

finish
