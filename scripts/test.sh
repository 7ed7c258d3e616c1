#!/usr/bin/env bash
# Installs what is missing, builds from scratch and runs every test: once in a
# warnings-as-errors release build, once under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
phase() { echo "== $1 (at $((SECONDS - started)) s)"; }
bash scripts/install-deps.sh

jobs=$(nproc)
phase "release build (-Werror)"
# Tests need no debug info (-g is about a fifth of the compile time); the sanitizer build keeps line tables
# (-g1), enough for ASan's and UBSan's file:line reports.
cmake -S . -B build -G Ninja -DMITMSCOPE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" >/dev/null
cmake --build build -j "$jobs"

# The sanitizer build compiles at the lowest CPU priority while the release tests run: those mostly wait on the
# lab's timers and network, and get the CPU first when they need it. (Built one after the other, the two took
# 12.6 and 14 minutes of a 50-minute CI.)
phase "ASan + UBSan build, in the background"
cmake -S . -B build-asan -G Ninja -DMITMSCOPE_WERROR=ON -DMITMSCOPE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1" >/dev/null
nice -n 19 cmake --build build-asan -j "$jobs" >build-asan.log 2>&1 &
asan_build=$!

phase "release tests"
if ! ctest --test-dir build --output-on-failure -j "$jobs"; then
  kill "$asan_build" 2>/dev/null || true
  exit 1
fi

phase "ASan + UBSan build: waiting for it"
if ! wait "$asan_build"; then
  tail -50 build-asan.log
  echo "== the ASan + UBSan build failed (whole log: build-asan.log)"
  exit 1
fi

# Fuzzing (clang 16's own build, saved crashes replayed, then 10 s per harness) runs at a low priority beside
# the sanitizer tests, which mostly wait on the lab's timers (one after the other, fuzzing added 3 minutes).
phase "ASan + UBSan tests, and fuzzing (libFuzzer, clang 16) in the background"
nice -n 10 bash scripts/fuzz.sh 10 build-fuzz >fuzz.log 2>&1 &
fuzzing=$!
if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --test-dir build-asan --output-on-failure -j "$jobs"; then
  kill "$fuzzing" 2>/dev/null || true
  exit 1
fi
phase "fuzzing: waiting for it"
if ! wait "$fuzzing"; then
  cat fuzz.log
  echo "== fuzzing failed (whole log: fuzz.log)"
  exit 1
fi
cat fuzz.log
phase "all tests passed"
