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
phase "release tests"
ctest --test-dir build --output-on-failure -j "$jobs"

phase "fuzzing (libFuzzer, clang 16): saved crashes replayed, then 10 s per harness"
bash scripts/fuzz.sh 10 build-fuzz

phase "ASan + UBSan build"
cmake -S . -B build-asan -G Ninja -DMITMSCOPE_WERROR=ON -DMITMSCOPE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1" >/dev/null
cmake --build build-asan -j "$jobs"
phase "ASan + UBSan tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"
phase "all tests passed"
