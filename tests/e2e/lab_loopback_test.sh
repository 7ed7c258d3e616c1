#!/usr/bin/env bash
# The lab without root: loopback mode, run as an unprivileged user when this runs as root.
# Traffic stays on 127.0.0.0/8. Usage: lab_loopback_test.sh MITMSCOPE
set -u
mitmscope=$(realpath "$1")
as_user=()
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  # The checkout may not be readable by others: run a copy from a directory that is.
  binary_directory=$(mktemp -d)
  chmod 755 "$binary_directory"
  cp "$mitmscope" "$binary_directory/mitmscope"
  mitmscope="$binary_directory/mitmscope"
fi
state=$(mktemp -d)
chmod 777 "$state"
state="$state/lab"
source "$(dirname "$0")/check_lib.sh"
run() { "${as_user[@]}" "$mitmscope" "$@"; }
trap 'run lab --state-dir "$state" down >/dev/null 2>&1; rm -rf "$(dirname "$state")" ${binary_directory:+"$binary_directory"}' EXIT

if [ ${#as_user[@]} -gt 0 ]; then
  run lab --state-dir "$state" up 2>"$(dirname "$state")/refusal.txt"
  check "without root, lab up refuses (exit 2)" 2 $?
  grep -q -- "--loopback" "$(dirname "$state")/refusal.txt"
  check "... and offers the loopback mode" 0 $?
fi
run lab --state-dir "$state" up --loopback --size 200 >/dev/null 2>&1
check "lab up --loopback" 0 $?
truth="$state/ground-truth.json"
port=$(jq -r .port "$truth")
host=$(jq -r '.intercepted_hosts[0]' "$truth")
bypass=$(jq -r '.bypass_hosts[0]' "$truth")
trust=(--allow-private --trust-store "$state/public-ca.pem" --known-roots "$state/known-roots" --json)
verdict() { run lab --state-dir "$state" exec -- "$mitmscope" probe "$@" "${trust[@]}" | jq -r '[.interception.verdict, (.interception.known_interceptor.id // "-")] | join(" ")'; }
check "loopback: targeted on an intercepted prefix" "intercepted lab-root" "$(verdict "$host:$port" --sni facebook.com)"
check "loopback: control on the same host" "untrusted -" "$(verdict "$host:$port" --sni control-0123456789abcdef.com)"
check "loopback: targeted on a bypass prefix" "untrusted -" "$(verdict "$bypass:$port" --sni facebook.com)"
check "loopback: the forged leaf has e=3" 3 "$(run probe "$host:$port" --sni vk.com "${trust[@]}" | jq -r .server_certificates.certificate.public_key.exponent)"
run lab --state-dir "$state" switch off >/dev/null && sleep 0.6
check "loopback: switched off" "untrusted -" "$(verdict "$host:$port" --sni facebook.com)"
pid=$(jq -r .daemon_pid "$state/lab.json")
run lab --state-dir "$state" down >/dev/null
check "loopback: lab down" 0 $?
check "loopback: daemon gone" 1 "$( [ -e "/proc/$pid" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" && echo 0 || echo 1)"
check "loopback: state removed" false "$( [ -e "$state" ] && echo true || echo false)"
finish
