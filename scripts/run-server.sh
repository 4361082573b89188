#!/usr/bin/env bash
# Installs what is missing, builds (Release, in build-release/), and runs
# wharf on port 9324 with its data in ./data, in the foreground: Ctrl-C or
# SIGTERM stops it gracefully (waiting long polls are answered empty).
# Extra arguments go to wharf (see `build-release/wharf --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release -DWHARF_TESTS=OFF -- --target wharf
exec build-release/wharf --port 9324 --data-dir ./data "$@"
