#!/usr/bin/env bash
# Runs Wharf's JavaScript integration tests (AWS SDK for JavaScript v3 over the
# JSON protocol, v2 over the query protocol) against the wharf binary.
#   WHARF_BIN        path of the binary (default: <repo>/build/wharf)
#   WHARF_KEEP_DATA  set to keep the temporary data dirs (otherwise removed)
# Exits non-zero on any failure. Bounded: each test 60 s, the whole run 5 min.
set -euo pipefail
cd "$(dirname "$0")"

export AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE=1
export NODE_NO_WARNINGS=1

if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
else
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi

# timeout signals its whole process group, so the harness's SIGTERM handler
# kills the servers it started.
exec timeout -k 15 300 node --test --test-concurrency=2 --test-timeout=60000 \
  --test-reporter=spec v3.test.mjs v2.test.mjs auth.test.mjs accounts.test.mjs tls.test.mjs api_v3.test.mjs api_v2.test.mjs fifo_v3.test.mjs fifo_v2.test.mjs endpoint_env.test.mjs
