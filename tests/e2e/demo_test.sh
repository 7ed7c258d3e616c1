#!/usr/bin/env bash
# `mitmscope demo`, the README's main job: the whole lab story passes its own checks, leaves a
# report with charts, and cleans up, also when interrupted; without root it runs the loopback mode.
# Under the sanitizers only the interruption is tested (the story's steps are lab_e2e's).
# Usage: demo_test.sh MITMSCOPE
set -u
mitmscope=$(realpath "$1")
[ "$(id -u)" -eq 0 ] || { echo "skipped: the demo's namespace mode needs root"; exit 77; }
work=$(mktemp -d)
chmod 755 "$work"
source "$(dirname "$0")/check_lib.sh"
namespaces() { ip netns list 2>/dev/null | grep -c '^ms-' || true; }
trap 'rm -rf "$work"' EXIT

# Interrupted with SIGTERM in the middle of the scan: exit 130, lab down, nothing left running.
"$mitmscope" demo --work-dir "$work/interrupted" >"$work/interrupted.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do grep -q '^== 3\. scan' "$work/interrupted.log" 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -TERM "$pid"
wait "$pid"
check "demo interrupted during the scan: exit 130" 130 $?
check "demo interrupted: the lab is down (no ms-* namespace, no lab daemon)" "0 0" \
  "$(namespaces) $(pgrep -fc "mitmscope lab --state-dir $work/interrupted" || true)"
check "demo interrupted: it says so" true "$(grep -q 'interrupted; the lab is down' "$work/interrupted.log" && echo true || echo false)"
if [ "${MITMSCOPE_SANITIZED:-0}" == 1 ]; then
  finish
  exit
fi

"$mitmscope" demo --work-dir "$work/root" >"$work/root.log" 2>&1
check "demo (root, namespaces): exit 0" 0 $? || tail -30 "$work/root.log"
check "demo: every step's check passed, trace included (act 1: 6, act 2: 6, act 3: 8)" "0 checks failed|20" \
  "$(grep -o '^[0-9]* checks\? failed' "$work/root.log")|$(grep -c '^  \[ ok \]' "$work/root.log")"
check "demo: the report and its headline" "true true" \
  "$([ -s "$work/root/report.html" ] && echo true || echo false) $(grep -q '^headline: 16 of [0-9]* eligible hosts intercepted for 37 domains, injected at hop 4 between 10.200.2.2 and 10.200.3.2' "$work/root.log" && echo true || echo false)"
check "demo: the lab is down afterwards" 0 "$(namespaces)"
check "demo act 2: the data's report and its headline" "true true" \
  "$([ -s "$work/root/data-report.html" ] && echo true || echo false) $(grep -q '^act 2 headline: 7 intermediates under 5 roots of one name, used [0-9]* times after they expired (4 gaps); 14 domains, 19 networks' "$work/root.log" && echo true || echo false)"
check "demo act 2: the stored data's report has the seven intermediates and one family of them" "7 7" \
  "$(jq '.intermediates | length' "$work/root/data-report.json") $(jq '[.families[].issuers] | add' "$work/root/data-report.json")"
check "demo act 3: the data's seven intermediates in the CRLSet, two OneCRL records per exported CA" "7 true" \
  "$(jq '[.certificates[] | select(.role == "intermediate")] | length' "$work/root/blocklist/2021-2024/evidence.json") $(jq --argjson n "$(jq '.certificates | length' "$work/root/blocklist/2021-2024/evidence.json")" '.data | length == 2 * $n' "$work/root/blocklist/2021-2024/firefox/onecrl.json")"
check "demo act 3: the sentinel flagged every curl and Chromium visit through the interceptor, nothing beside it" "true true" \
  "$(grep -q '^  through the interceptor ([0-9.]*): Chromium \([1-9][0-9]*\) of \1 flagged, curl \([1-9][0-9]*\) of \2 flagged' "$work/root.log" && echo true || echo false) $(grep -q '^  beside it ([0-9.]*): Chromium 0 of [1-9][0-9]* flagged, curl 0 of [1-9][0-9]* flagged' "$work/root.log" && echo true || echo false)"
check "demo act 3: audit flags the installed root" true "$(grep -q 'with the root installed: exit 11 (a known interceptor is trusted); without: exit 0' "$work/root.log" && echo true || echo false)"
# The forged chain (the study's Figure 4) up to the lab's root, found in the registry by signature.
check "demo: the forged chain is root -> intermediate -> leaf, the root from the lab's registry" \
  "root intermediate leaf|registry: lab-root|C=KZ, CN=Security Certificate" \
  "$(jq -r '[.forged_chain[].role] | join(" ")' "$work/root/report.json")|$(jq -r '.forged_chain[0].source' "$work/root/report.json")|$(jq -r '.forged_chain[1].subject' "$work/root/report.json")"
# Every view of the HTML report, alone at 1280 px (as report.html#VIEW shows it): nothing wider than the window
# or below it (the page itself measures, data-views-cut-off), and a screenshot of each.
chromium_flags=(--headless --no-sandbox --disable-gpu --virtual-time-budget=15000 --window-size=1280,2400)
dom=$(timeout 120 chromium "${chromium_flags[@]}" --dump-dom "file://$work/root/report.html" 2>/dev/null)
check "report: every view fits 1280 px, nothing cut off" 'data-views-cut-off=""' "$(grep -o 'data-views-cut-off="[^"]*"' <<<"$dom")"
views=$(grep -o '<section id="[a-z_]*"' <<<"$dom" | cut -d'"' -f2)
shots=0
for view in $views; do
  timeout 120 chromium "${chromium_flags[@]}" --screenshot="$work/view-$view.png" "file://$work/root/report.html#$view" >/dev/null 2>&1
  [ "$(stat -c %s "$work/view-$view.png" 2>/dev/null || echo 0)" -gt 10000 ] && shots=$((shots + 1))
done
check "report: a screenshot of each of the 10 views" "10 10" "$(wc -w <<<"$views") $shots"
dom=$(timeout 120 chromium "${chromium_flags[@]}" --dump-dom "file://$work/root/data-report.html" 2>/dev/null)
check "act 2's report: every view fits 1280 px, the intermediates against their validity drawn" 'data-views-cut-off="" 1' \
  "$(grep -o 'data-views-cut-off="[^"]*"' <<<"$dom") $(grep -Ec 'id="chart-intermediates"[^>]*data-rendered="true"' <<<"$dom")"

# One act alone: act 2 needs no lab, and brings none up.
"$mitmscope" demo --act 2 --work-dir "$work/act2" >"$work/act2.log" 2>&1
check "demo --act 2: exit 0, its 6 checks, no lab" "0 0 checks failed|6 0" \
  "$? $(grep -o '^[0-9]* checks\? failed' "$work/act2.log")|$(grep -c '^  \[ ok \]' "$work/act2.log") $(grep -c '^=== Act 1' "$work/act2.log")"

# Without root: the loopback mode, as nobody.
cp "$mitmscope" "$work/mitmscope"
mkdir "$work/user" && chown 65534:65534 "$work/user"
setpriv --reuid=65534 --regid=65534 --clear-groups -- "$work/mitmscope" demo --work-dir "$work/user" >"$work/user.log" 2>&1
check "demo without root: loopback mode, exit 0" "0 true" \
  "$? $(grep -q 'not root: the lab.s loopback mode' "$work/user.log" && echo true || echo false)" || tail -30 "$work/user.log"
check "demo without root: its checks passed (no trace, no sentinel)" "0 checks failed|14" \
  "$(grep -o '^[0-9]* checks\? failed' "$work/user.log")|$(grep -c '^  \[ ok \]' "$work/user.log")"
finish
