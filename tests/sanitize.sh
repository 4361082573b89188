#!/usr/bin/env bash
# Wharf under AddressSanitizer + UndefinedBehaviorSanitizer: builds wharf and
# the unit tests with -DWHARF_SANITIZE=ON in build-asan, runs ctest,
# then the Python and JavaScript integration suites against the sanitized
# server. Any sanitizer report from any process fails the run.
#
# Usage: tests/sanitize.sh [--no-build] [--only unit|python|js]...
#   BUILD_DIR=build-asan   where to build (relative to the repo, or absolute)
#   JOBS=2                 parallel compile jobs
#   CC / CXX               compilers (default gcc / g++; clang works too)
#
# How reports are caught: ASAN_OPTIONS / UBSAN_OPTIONS make the first report
# end the process (halt_on_error=1; UBSan is also built with
# -fno-sanitize-recover) and write it to $BUILD_DIR/sanitize-logs/reports/
# (log_path), whoever started the process and wherever its stderr went. The
# Python harness's server logs are kept (WHARF_KEEP_LOGS=1) and grepped for
# "AddressSanitizer" / "runtime error" too.
#
# Exit status: 0 all passed and no reports; 1 a sanitizer report (see the
# summary); 2 tests failed without any report (often only slowness: the
# sanitized server is 2-3x slower and some integration tests time things;
# rerun those against the normal build to tell); 3 build failure.
set -u
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-build-asan}"
[[ "$build" = /* ]] || build="$repo/$build"
jobs="${JOBS:-2}"
do_build=1
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --only) only+=("$2"); shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "sanitize.sh: unknown argument $1" >&2; exit 64 ;;
  esac
  shift
done
wanted() { [ ${#only[@]} -eq 0 ] && return 0; local s; for s in "${only[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

logs="$build/sanitize-logs"
reports="$logs/reports"

if [ "$do_build" = 1 ]; then
  echo "== configure + build ($build, -j$jobs)"
  CC="${CC:-gcc}" CXX="${CXX:-g++}" cmake -S "$repo" -B "$build" -DWHARF_SANITIZE=ON -DWHARF_TESTS=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 3
  # wharf and every unit test (the *_tests targets ctest runs); not bench.
  targets="wharf $(cmake --build "$build" --target help | grep -oE '[A-Za-z0-9_]+_tests$' | sort -u | tr '\n' ' ')"
  echo "   targets: $targets"
  # shellcheck disable=SC2086
  cmake --build "$build" -j"$jobs" --target $targets || exit 3
fi
[ -x "$build/wharf" ] || { echo "sanitize.sh: $build/wharf missing (build first)" >&2; exit 3; }

rm -rf "$logs"
mkdir -p "$reports" "$logs/tmp"

# No suppressions: none has been needed.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:detect_invalid_pointer_pairs=0:log_path=$reports/asan:log_exe_name=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan:log_exe_name=1"

declare -A status
run_step() {  # name, command...
  local name="$1"; shift
  echo "== $name"
  local start=$SECONDS
  "$@" >"$logs/$name.log" 2>&1
  local rc=$?
  status[$name]=$rc
  echo "   exit $rc in $((SECONDS - start)) s (log: $logs/$name.log)"
  tail -n 5 "$logs/$name.log" | sed 's/^/   | /'
}

if wanted unit; then
  run_step unit ctest --test-dir "$build" --output-on-failure
fi
if wanted python; then
  # TMPDIR: the harness keeps its data dirs and server logs there.
  run_step python env WHARF_BIN="$build/wharf" WHARF_KEEP_LOGS=1 TMPDIR="$logs/tmp" \
    WHARF_IT_TIMEOUT="${WHARF_IT_TIMEOUT:-900}" "$repo/tests/integration/run.sh"
fi
if wanted js; then
  run_step js env WHARF_BIN="$build/wharf" TMPDIR="$logs/tmp" "$repo/tests/js/run.sh"
fi

# Reports: files written via log_path, plus anything that reached a log.
found=0
shopt -s nullglob
report_files=("$reports"/*)
if [ ${#report_files[@]} -gt 0 ]; then
  found=1
  echo
  echo "== sanitizer reports (${#report_files[@]} files in $reports)"
  for f in "${report_files[@]}"; do
    echo "--- $f"
    grep -E "ERROR: AddressSanitizer|runtime error|ERROR: LeakSanitizer|SUMMARY" "$f" | head -5
    grep -E "^ +#[0-9]+ " "$f" | grep -vE "libasan|libubsan|sanitizer_common" | head -8
  done
fi
grep_hits=$(grep -rlE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$logs"/*.log "$logs/tmp" 2>/dev/null)
if [ -n "$grep_hits" ]; then
  found=1
  echo
  echo "== sanitizer output found in logs:"
  echo "$grep_hits" | sed 's/^/   /'
fi

# Not sanitizer findings, but bugs by DESIGN.md: exceptions the server caught
# and answered with InternalError.
internal=$(grep -rh "wharf: internal error" "$logs"/*.log "$logs/tmp" 2>/dev/null | sort | uniq -c | sort -rn)
if [ -n "$internal" ]; then
  echo
  echo "== exceptions caught by the server (answered InternalError):"
  echo "$internal" | head -20 | sed 's/^/   /'
fi

echo
echo "== summary"
failed=0
for name in unit python js; do
  [ -n "${status[$name]+x}" ] || continue
  echo "   $name: exit ${status[$name]}"
  [ "${status[$name]}" = 0 ] || failed=1
done
if [ "$found" = 1 ]; then
  echo "   SANITIZER REPORTS: yes (see above)"
  exit 1
fi
echo "   sanitizer reports: none"
if [ "$failed" = 1 ]; then
  echo "   some tests failed without a sanitizer report; see the logs (slowness under ASan?)"
  exit 2
fi
exit 0
