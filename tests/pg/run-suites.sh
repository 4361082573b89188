#!/usr/bin/env bash
# The Python (tests/integration) and JavaScript (tests/js) SDK suites against
# two `wharf --storage postgresql` nodes per server on one throwaway
# PostgreSQL (issue 18): every client's requests alternate between the two
# nodes (tests/integration/pg_spread.py, tests/js/pg_spread.mjs), each server
# on its own schema. The tests listed in tests/pg/skip-python.txt and
# skip-js.txt (cannot run on PostgreSQL yet, or RocksDB-specific by nature;
# each with why) are reported as skipped; everything else must pass.
#
#   WHARF_BIN   the wharf under test, built with -DWHARF_POSTGRESQL=ON
#               (default: build/wharf of this repo)
# Exits 0 when both suites pass, 1 otherwise; 0 with a note when PostgreSQL
# or the backend is missing (nothing to run).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export WHARF_BIN="${WHARF_BIN:-$repo/build/wharf}"

if "$WHARF_BIN" --storage postgresql --postgres-url postgresql://nobody@127.0.0.1:1/none 2>&1 |
  grep -q "built without the PostgreSQL backend"; then
  echo "run-suites.sh: $WHARF_BIN was built without the PostgreSQL backend; nothing to run"
  exit 0
fi

# Short: the cluster's Unix socket path must fit in 107 bytes.
dir=$(mktemp -d /tmp/wharf-pg-suites-XXXXXX)
chmod 755 "$dir"
cleanup() {
  "$here/cluster.sh" stop "$dir" >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
# Throwaway data: no fsync. Up to ~6 nodes at once, each with its pool.
started=$(WHARF_TEST_POSTGRES_SETTINGS="fsync=off synchronous_commit=off full_page_writes=off max_connections=300" \
  "$here/cluster.sh" start "$dir")
case $? in
  0) ;;
  3)
    echo "run-suites.sh: PostgreSQL is not installed; nothing to run"
    exit 0
    ;;
  *)
    echo "run-suites.sh: cannot start PostgreSQL"
    exit 1
    ;;
esac
export WHARF_TEST_POSTGRES_URL="${started#WHARF_TEST_POSTGRES_URL=}"
export WHARF_TEST_STORAGE=postgresql
echo "PostgreSQL for the suites: $WHARF_TEST_POSTGRES_URL; wharf: $WHARF_BIN"

status=0
began=$SECONDS
timeout -s TERM -k 10 900 python3 "$repo/tests/integration/pg_spread.py" "$here/skip-python.txt" || status=1
echo "--- Python suite on PostgreSQL: $((SECONDS - began)) s"

began=$SECONDS
echo "JavaScript: the tests of $here/skip-js.txt are skipped:"
grep -v '^#' "$here/skip-js.txt" | sed '/^$/d; s/^/  /'
WHARF_TEST_SKIP_FILE="$here/skip-js.txt" NODE_OPTIONS="--import=$repo/tests/js/pg_skip.mjs" \
  "$repo/tests/js/run.sh" || status=1
echo "--- JavaScript suite on PostgreSQL: $((SECONDS - began)) s"
exit $status
