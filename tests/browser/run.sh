#!/usr/bin/env bash
# End-to-end tests of the web console (/console) in Debian's chromium, driven
# by playwright-core, against the real wharf binary (built elsewhere; this
# script builds nothing).
#   WHARF_BIN        path of the binary (default: <repo>/build/wharf)
#   WHARF_BUILD_DIR  where screenshots go, under console-screenshots/ (default: <repo>/build)
#   CHROMIUM         browser binary (default: /usr/bin/chromium)
# Starts two servers on port 0 (one plain, one with --auth), kills them by
# PID at the end. Bounded: each test 90 s, the whole run 5 min.
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../.. && pwd)"
bin="${WHARF_BIN:-$repo/build/wharf}"
build_dir="${WHARF_BUILD_DIR:-build}"
case "$build_dir" in /*) ;; *) build_dir="$repo/$build_dir" ;; esac
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export WHARF_SCREENSHOT_DIR="$build_dir/console-screenshots"

if [ ! -x "$bin" ]; then echo "browser tests: no wharf binary at $bin (build it, or set WHARF_BIN)" >&2; exit 1; fi
if [ ! -x "$CHROMIUM" ]; then echo "browser tests: no chromium at $CHROMIUM (scripts/install-deps.sh --tests)" >&2; exit 1; fi
if [ ! -d ../js/node_modules/@aws-sdk/client-sqs ]; then
  (cd ../js && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
mkdir -p "$WHARF_SCREENSHOT_DIR"

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_wharf NAME [args...]: starts one, waits for its "listening on" line,
# sets PORT.
start_wharf() {
  local name="$1"; shift
  "$bin" --port 0 --bind 127.0.0.1 --data-dir "$tmp/$name" "$@" >"$tmp/$name.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 200); do
    PORT="$(sed -n '1s/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$name.log")"
    [ -n "$PORT" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "browser tests: wharf ($name) did not start:" >&2
  cat "$tmp/$name.log" >&2
  exit 1
}

start_wharf plain
export WHARF_URL="http://127.0.0.1:$PORT"
export WHARF_AUTH_KEY="AKIDCONSOLETEST" WHARF_AUTH_SECRET="console-test-secret"
WHARF_CREDENTIALS="$WHARF_AUTH_KEY:$WHARF_AUTH_SECRET" start_wharf auth --auth
export WHARF_AUTH_URL="http://127.0.0.1:$PORT"

export AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE=1 NODE_NO_WARNINGS=1
timeout -k 15 300 node --test --test-concurrency=1 --test-timeout=90000 --test-reporter=spec console.test.mjs
