#!/usr/bin/env bash
# Builds Wharf's libFuzzer targets (clang, ASan + UBSan), replays every input in
# tests/fuzz/regressions/<target>/, then fuzzes each target for SECONDS.
#
# Usage: tests/fuzz/run.sh [SECONDS]          (default 60 per target)
#   TARGETS="fuzz_json_request ..."   a subset (default: all six)
#   BUILD_DIR=build-fuzz              build dir (relative to the repo, or absolute)
#   JOBS=2                            parallel compile jobs
#   RSS_LIMIT_MB=3072                 libFuzzer's -rss_limit_mb
#   NO_BUILD=1                        use the existing build
#   NO_FUZZ=1                         only replay the regressions
#   WHARF_FUZZ_STRICT=1               also fail on InternalError answers, JSON that
#                                     does not parse, XML with forbidden characters
#   WHARF_FUZZ_STACK_KB=256           stack of the thread each request runs on
#                                     (0: libFuzzer's main thread, 8 MiB)
#   WHARF_FUZZ_ALLOW_EXCEPTIONS=1     answer escaped exceptions with InternalError
#                                     (as the server does) instead of failing; to
#                                     fuzz past a known bug
#
# Seeds come from tests/fuzz/corpus/<target>/ (read only); what the fuzzer
# learns accumulates in $BUILD_DIR/fuzz-work/corpus/<target>/. A crash leaves
# its input in $BUILD_DIR/fuzz-work/artifacts/<target>/ and the libFuzzer
# log beside it; copy the input to tests/fuzz/regressions/<target>/ (gzip it
# if large: .gz files are unpacked before the replay).
#
# Exits 0 when nothing crashed; 1 on any crash (regression or new); 3 when the
# build fails.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
seconds="${1:-60}"
build="${BUILD_DIR:-build-fuzz}"
[[ "$build" = /* ]] || build="$repo/$build"
jobs="${JOBS:-2}"
rss="${RSS_LIMIT_MB:-3072}"
all_targets="fuzz_json_request fuzz_query_request fuzz_http_request fuzz_form_decoder fuzz_xml_encoder fuzz_checksums"
targets="${TARGETS:-$all_targets}"
work="$build/fuzz-work"

# --- clang ------------------------------------------------------------------
if ! command -v clang++-14 >/dev/null || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "== installing clang-14 and its runtimes"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y clang-14 libclang-rt-14-dev || {
    $sudo apt-get update && $sudo apt-get install -y clang-14 libclang-rt-14-dev
  } || { echo "run.sh: cannot install clang-14" >&2; exit 3; }
fi

# --- build ------------------------------------------------------------------
if [ "${NO_BUILD:-0}" != 1 ]; then
  echo "== build ($build, -j$jobs)"
  mkdir -p "$build"
  if [ -f "$build/CMakeCache.txt" ] && ! grep -q "^CMAKE_CXX_COMPILER:.*clang" "$build/CMakeCache.txt"; then
    echo "run.sh: $build was configured with another compiler; remove it or set BUILD_DIR" >&2
    exit 3
  fi
  CC=clang-14 CXX=clang++-14 cmake -S "$repo" -B "$build" -DWHARF_FUZZ=ON -DWHARF_SANITIZE=ON -DWHARF_TESTS=OFF \
    >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 3; }
  # shellcheck disable=SC2086
  cmake --build "$build" -j"$jobs" --target $targets >"$build/build.log" 2>&1 ||
    { grep -E "error|Error" "$build/build.log" | head -20; echo "run.sh: build failed ($build/build.log)" >&2; exit 3; }
fi

bin_of() { echo "$build/tests/fuzz/$1"; }

# Per-target libFuzzer options. The request-level targets keep one engine
# for the whole run: what it holds from input to input is state, not a leak,
# so per-input leak checks (slow, and wrong here) are off for them.
replay_options_of() {
  case "$1" in
    fuzz_json_request|fuzz_query_request|fuzz_http_request) echo "-detect_leaks=0" ;;
  esac
}
options_of() {
  case "$1" in
    fuzz_json_request|fuzz_query_request) echo "-max_len=8192 -detect_leaks=0 -entropic=0 -dict=$here/dict/sqs.dict" ;;
    fuzz_http_request) echo "-max_len=16384 -detect_leaks=0 -entropic=0 -dict=$here/dict/sqs.dict" ;;
    fuzz_form_decoder) echo "-max_len=8192 -dict=$here/dict/sqs.dict" ;;
    *) echo "-max_len=8192" ;;
  esac
}

# Request handling on a 256 KiB stack (the server's threads have 8 MiB): input
# nesting that recursion walks then overflows within the fuzzer's -max_len.
export WHARF_FUZZ_STACK_KB="${WHARF_FUZZ_STACK_KB:-256}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

failures=()
declare -A execs rate cov

# --- regressions ------------------------------------------------------------
echo "== regressions"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for t in $targets; do
  dir="$here/regressions/$t"
  [ -d "$dir" ] || continue
  for f in "$dir"/*; do
    [ -f "$f" ] || continue
    input="$f"
    if [[ "$f" == *.gz ]]; then
      input="$tmp/$(basename "${f%.gz}")"
      gunzip -c "$f" >"$input"
    fi
    log="$tmp/replay.log"
    # One process per input, so one crash hides no other. No -max_len here:
    # libFuzzer would cut the input to it.
    # shellcheck disable=SC2046
    # strict-*: inputs that break only the WHARF_FUZZ_STRICT checks.
    # slow-*: inputs that must take under 5 s (CPU exhaustion).
    strict="${WHARF_FUZZ_STRICT:-0}"
    [[ "$(basename "$f")" == strict-* ]] && strict=1
    limit=""
    [[ "$(basename "$f")" == slow-* ]] && limit="-timeout=5"
    # shellcheck disable=SC2086
    WHARF_FUZZ_STRICT="$strict" TMPDIR="$tmp" timeout 600 "$(bin_of "$t")" $(replay_options_of "$t") $limit \
      -rss_limit_mb="$rss" "$input" >"$log" 2>&1
    rc=$?
    if [ "$rc" = 0 ]; then
      echo "   ok     $t/$(basename "$f")"
    else
      echo "   CRASH  $t/$(basename "$f") (exit $rc)"
      grep -aE "==WHARF-FUZZ== FINDING|ERROR: AddressSanitizer|runtime error|ERROR: libFuzzer|SUMMARY" "$log" | head -3 |
        cut -c1-240 | sed 's/^/          /'
      failures+=("regression $t/$(basename "$f")")
    fi
    [ "$input" = "$f" ] || rm -f "$input"
  done
done

# --- fuzzing ----------------------------------------------------------------
if [ "${NO_FUZZ:-0}" != 1 ] && [ "$seconds" -gt 0 ]; then
  for t in $targets; do
    echo "== fuzz $t for $seconds s"
    corpus="$work/corpus/$t"
    artifacts="$work/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    seeds="$here/corpus/$t"
    [ -d "$seeds" ] || seeds=""
    log="$work/$t.log"
    before=$(ls "$artifacts" | wc -l)
    # shellcheck disable=SC2046,SC2086
    TMPDIR="$tmp" timeout $((seconds + 300)) "$(bin_of "$t")" $(options_of "$t") -rss_limit_mb="$rss" -timeout=30 \
      -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" $seeds >"$log" 2>&1
    rc=$?
    last=$(grep -E "^#[0-9]+" "$log" | tail -1)
    execs[$t]=$(grep -E "^stat::number_of_executed_units:" "$log" | awk '{print $2}')
    [ -n "${execs[$t]}" ] || execs[$t]=$(echo "$last" | sed -E 's/^#([0-9]+).*/\1/')
    rate[$t]=$(grep -E "^stat::average_exec_per_sec:" "$log" | awk '{print $2}')
    cov[$t]=$(echo "$last" | grep -oE "cov: [0-9]+" | awk '{print $2}')
    after=$(ls "$artifacts" | wc -l)
    if [ "$rc" != 0 ] || [ "$after" -gt "$before" ]; then
      echo "   CRASH (exit $rc) after ${execs[$t]:-?} executions; log: $log"
      grep -aE "==WHARF-FUZZ== FINDING|ERROR: AddressSanitizer|runtime error|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" |
        head -5 | cut -c1-240 | sed 's/^/   /'
      failures+=("fuzz $t (exit $rc, see $log)")
    else
      echo "   ok: ${execs[$t]:-?} executions (${rate[$t]:-?}/s), coverage ${cov[$t]:-?} edges"
    fi
  done
fi

# --- summary ----------------------------------------------------------------
echo
echo "== summary"
for t in $targets; do
  [ -n "${execs[$t]+x}" ] && printf "   %-20s %10s execs  %6s/s  cov %s\n" "$t" "${execs[$t]:-?}" "${rate[$t]:-?}" "${cov[$t]:-?}"
done
if [ ${#failures[@]} -gt 0 ]; then
  printf "   FAILED: %s\n" "${failures[@]}"
  exit 1
fi
echo "   no crashes"
exit 0
