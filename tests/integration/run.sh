#!/usr/bin/env bash
# Wharf integration tests (boto3 JSON, boto3 query, raw HTTP, AWS CLI, restart).
# Usage: tests/integration/run.sh [unittest args, e.g. -k long_poll or test_http]
#   WHARF_BIN=/path/to/wharf   server binary (default: build/wharf of this repo)
#   PYTHON=python3             interpreter with boto3 (default: python3)
#   WHARF_IT_TIMEOUT=900       hard limit for the whole run, in seconds
# Exits non-zero if any test fails or errors.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${PYTHON:-python3}"
limit="${WHARF_IT_TIMEOUT:-900}"
cd "$here"
if [ "$#" -gt 0 ] && [[ "$1" != -* ]]; then
  # explicit test names, e.g. test_http or test_boto3_json.Boto3JsonTest.test_delete_queue
  exec timeout -s TERM -k 10 "$limit" "$py" -m unittest -v "$@"
fi
exec timeout -s TERM -k 10 "$limit" "$py" -m unittest discover -s "$here" -t "$here" -p 'test_*.py' -v "$@"
