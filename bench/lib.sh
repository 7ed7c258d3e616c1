# Shared by the bench scripts: source it after `set -euo pipefail`.

# timed COMMAND...: the wall-clock seconds COMMAND took on stdout (its own output discarded).
timed() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
