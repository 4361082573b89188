#!/usr/bin/env bash
# Installs what is missing, builds, and runs wharf on port 9324 with its data
# in ./data. Extra arguments go to wharf (see `build/wharf --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DWHARF_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target wharf
exec build/wharf --port 9324 --data-dir ./data "$@"
