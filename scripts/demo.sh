#!/usr/bin/env bash
# Installs what is missing, builds, and runs mitmscope's main job on its built-in
# default: the demo (see README.md). Extra arguments go to `mitmscope demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
exec ./build/mitmscope demo "$@"
