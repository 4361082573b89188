#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs the whole
# test suite: Catch2 unit tests, then integration tests that start the real
# wharf binary and drive it with boto3 (JSON and query), the AWS CLI, and the
# JavaScript SDKs v3 (JSON) and v2 2.1490.0 (query); the crash test (SIGKILL
# under load); a smoke run of every benchmark scenario; the Docker image built
# and driven under podman (tests/container); the libFuzzer targets
# (regression inputs, then 20 s each, under ASan+UBSan); and the unit and
# integration suites again against an ASan+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
# build/, where the test suites look for wharf by default (run-server.sh
# builds in build-release/, so switching between the two rebuilds nothing).
# With the PostgreSQL backend (being built: docs/design/postgresql.md), whose
# unit tests start their own throwaway PostgreSQL (tests/pg/cluster.sh).
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWHARF_WERROR=ON -DWHARF_TESTS=ON -DWHARF_POSTGRESQL=ON

export WHARF_BIN="$PWD/build/wharf"
status=0
run() {
  echo "=== $1"
  shift
  local started=$SECONDS
  if "$@"; then echo "--- passed in $((SECONDS - started)) s"; else echo "--- FAILED after $((SECONDS - started)) s"; status=1; fi
}
run "size limits: files 800 lines, functions 80, outside tests/" scripts/check-sizes.py
run "format: every C++ file as .clang-format says" \
  bash -c "git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror"
run "unit tests (Catch2; PostgreSQL's against a real cluster)" ctest --test-dir build --output-on-failure
run "integration: boto3 JSON + query, AWS CLI, HTTP" tests/integration/run.sh
run "integration: JavaScript SDK v3 + v2" tests/js/run.sh
run "PostgreSQL: the Python and JavaScript suites on two nodes of one database" tests/pg/run-suites.sh
run "browser: web console in chromium (playwright-core)" tests/browser/run.sh
run "crash safety: 20 SIGKILLs under load, wal, fsync, two nodes on PostgreSQL; 3 failovers of a Patroni group" tests/crash/run.sh
run "benchmark smoke: every wharf-bench scenario, correctness only" \
  env BENCH_BIN="$PWD/build/bench/wharf-bench" bench/run-all.sh --smoke
run "container: image build, boto3 across a restart on a volume, health check, SIGTERM" tests/container/run.sh
run "fuzzing: 6 libFuzzer targets, regressions + 20 s each, ASan+UBSan" tests/fuzz/run.sh 20
run "sanitizers: unit, Python and JavaScript suites against an ASan+UBSan build" \
  env -u WHARF_BIN tests/sanitize.sh
if ((status)); then echo "SOME TESTS FAILED"; else echo "ALL TESTS PASSED"; fi
echo "(all of it, with installing and building, in $SECONDS s)"
exit $status
