# Sourced by the end-to-end scripts: `check DESCRIPTION EXPECTED ACTUAL` counts and prints, `finish` says the
# totals and exits non-zero when something failed.
failures=0
passed=0
check() {
  if [ "$2" == "$3" ]; then echo "ok   $1"; passed=$((passed + 1)); else echo "FAIL $1: expected '$2', got '$3'"; failures=$((failures + 1)); fi
}
finish() {
  echo "$passed passed, $failures failed"
  [ "$failures" -eq 0 ]
}
