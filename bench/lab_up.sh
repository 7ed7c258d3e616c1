#!/usr/bin/env bash
# Times `lab up` and `lab down` of kz-2019 at several sizes (root), 3 runs each, and
# prints a table. Usage: bench/lab_up.sh [build/mitmscope]
set -eu
mitmscope=${1:-build/mitmscope}
state=$(mktemp -d)/lab
trap '"$mitmscope" lab --state-dir "$state" down >/dev/null 2>&1 || true' EXIT
echo "| hosts | lab up (s), 3 runs | lab down (s), 3 runs |"
echo "|---|---|---|"
for size in 674 3000 6736; do
  ups="" downs=""
  for _ in 1 2 3; do
    start=$(date +%s.%N); "$mitmscope" lab --state-dir "$state" up --size $size >/dev/null
    ups+="$(printf '%.2f ' "$(echo "$(date +%s.%N) - $start" | bc)")"
    start=$(date +%s.%N); "$mitmscope" lab --state-dir "$state" down >/dev/null
    downs+="$(printf '%.2f ' "$(echo "$(date +%s.%N) - $start" | bc)")"
  done
  echo "| $size | $ups| $downs|"
done
