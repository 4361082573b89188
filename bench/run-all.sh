#!/usr/bin/env bash
# Runs every wharf-bench scenario against a fresh wharf on a temporary data
# directory and prints the medians.
#
#   bench/run-all.sh [--duration S] [--runs N] [--protocol json|query|both]
#                    [--scenarios "send fifo ..."] [--out DIR] [--keep]
#   bench/run-all.sh --smoke      # every scenario ~2 s, small prefills, both
#                                 # protocols; exit 1 on lost, duplicate or
#                                 # out-of-order messages (for CI)
#   bench/run-all.sh --scenarios "fifo1 fifo10 fifo1000 fifobacklog"
#                                 # FIFO with 1, 10 and 1,000 groups, and with
#                                 # 10 groups behind a 200,000-message backlog
# fifo32 (32 groups, 32 connections) and fifo1x10 (1 group) send batches of
# 10: the issue's FIFO targets.
#
# Binaries: $WHARF_BIN and $BENCH_BIN, else build-bench/ or build/ beside
# this directory. Each scenario gets its own wharf (so CPU and peak RSS are
# that scenario's), started on 127.0.0.1 with a free port and stopped by PID.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

smoke=0
duration=10
runs=3
protocols="json"
scenarios="send sendbatch recvdel pipeline fifo fifo32 fifo1x10 fifobacklog longpoll backlog"
out=""
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --duration) duration="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --protocol) protocols="$2"; [[ "$protocols" == both ]] && protocols="json query"; shift ;;
    --scenarios) scenarios="$2"; shift ;;
    --out) out="$2"; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run-all.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ $smoke == 1 ]]; then
  duration=2
  runs=1
  protocols="json query"
fi

find_bin() {  # name, env override
  local name="$1" override="$2"
  if [[ -n "$override" ]]; then echo "$override"; return; fi
  for dir in "$root/build-bench" "$root/build"; do
    for candidate in "$dir/$name" "$dir/bench/$name"; do
      [[ -x "$candidate" ]] && { echo "$candidate"; return; }
    done
  done
  echo "run-all.sh: cannot find $name; build it or set ${3}" >&2
  exit 2
}
wharf_bin="$(find_bin wharf "${WHARF_BIN:-}" WHARF_BIN)"
bench_bin="$(find_bin wharf-bench "${BENCH_BIN:-}" BENCH_BIN)"

work="$(mktemp -d "${TMPDIR:-/tmp}/wharf-run-all.XXXXXX")"
[[ -z "$out" ]] && out="$work/results"
mkdir -p "$out"
server_pid=""

stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  if [[ $keep == 0 ]]; then rm -rf "$work/data"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a wharf on a fresh data dir; sets server_pid and endpoint.
start_server() {
  rm -rf "$work/data"
  : >"$work/wharf.log"
  "$wharf_bin" --bind 127.0.0.1 --port 0 --data-dir "$work/data" >"$work/wharf.log" 2>&1 &
  server_pid=$!
  local port=""
  for _ in $(seq 100); do
    port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/wharf.log")"
    [[ -n "$port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/wharf.log" >&2; echo "run-all.sh: wharf did not start" >&2; exit 3; }
    sleep 0.1
  done
  [[ -n "$port" ]] || { echo "run-all.sh: wharf did not report its port" >&2; exit 3; }
  endpoint="http://127.0.0.1:$port"
}

# Per-scenario arguments.
scenario_args() {
  local s="$1"
  if [[ $smoke == 1 ]]; then
    case "$s" in
      recvdel) echo "--connections 8 --prefill 2000 --verify-drain" ;;
      backlog) echo "--connections 8 --prefill 5000 --verify-drain" ;;
      longpoll) echo "--connections 50 --rate 100" ;;
      fifo) echo "--connections 8 --groups 8" ;;
      fifo32) echo "--connections 8 --groups 32 --batch 10" ;;
      fifo1x10) echo "--connections 8 --groups 1 --batch 10" ;;
      fifo1) echo "--connections 8 --groups 1" ;;
      fifo10) echo "--connections 8 --groups 10" ;;
      fifo1000) echo "--connections 8 --groups 1000" ;;
      fifobacklog) echo "--connections 8 --groups 10 --prefill 2000" ;;
      *) echo "--connections 8" ;;
    esac
  else
    case "$s" in
      longpoll) echo "--connections 500 --rate 100" ;;
      fifo) echo "--connections 16 --groups 16" ;;
      fifo32) echo "--connections 32 --groups 32 --batch 10" ;;
      fifo1x10) echo "--connections 16 --groups 1 --batch 10" ;;
      fifo1) echo "--connections 16 --groups 1" ;;
      fifo10) echo "--connections 16 --groups 10" ;;
      fifo1000) echo "--connections 16 --groups 1000" ;;
      fifobacklog) echo "--connections 16 --groups 10 --prefill 200000" ;;
      *) echo "--connections 16" ;;
    esac
  fi
}

# fifo1, fifo10, fifo1000, fifo32, fifo1x10 and fifobacklog are the fifo scenario with other arguments.
bench_scenario() {
  case "$1" in
    fifo*) echo fifo ;;
    *) echo "$1" ;;
  esac
}

failures=0
for protocol in $protocols; do
  for s in $scenarios; do
    start_server
    for run in $(seq "$runs"); do
      file="$out/$s-$protocol-$run.json"
      read -r -a extra <<<"$(scenario_args "$s")"
      set +e
      "$bench_bin" --endpoint "$endpoint" --protocol "$protocol" --scenario "$(bench_scenario "$s")" --duration "$duration" \
        --server-pid "$server_pid" --json --quiet "${extra[@]}" >"$file" 2>"$out/$s-$protocol-$run.err"
      rc=$?
      set -e
      verdict="ok"
      [[ $rc == 1 ]] && verdict="CHECK FAILED"
      [[ $rc -gt 1 ]] && verdict="did not run (exit $rc)"
      if [[ $rc != 0 ]]; then
        failures=$((failures + 1))
        sed 's/^/    /' "$out/$s-$protocol-$run.err" >&2
      fi
      printf '%-10s %-6s run %s: %s\n' "$s" "$protocol" "$run" "$verdict" >&2
    done
    stop_server
  done
done

# One row per run: scenario protocol msg/s req/s p50 p99 e2e_p99 srv_cpu% srv_us/msg srv_peak_rss cli_cpu% errors
# bad other_cpu%
rows() {
  local filter='[$name, .protocol, .messages_per_s, .requests_per_s, .latency.p50_ms, .latency.p99_ms,
                 (if .end_to_end then .end_to_end.p99_ms else "-" end),
                 (if .server then .server.cpu_pct else "-" end),
                 (if .server then .server.cpu_us_per_message else "-" end),
                 (if .server then .server.peak_rss_mb else "-" end),
                 .client_cpu_pct, .errors,
                 ((.lost // 0) + .duplicates + .order_violations + .corrupt),
                 (if .others_cpu_pct then .others_cpu_pct else "-" end)] | @tsv'
  for f in "$out"/*.json; do
    [[ -s "$f" ]] || continue
    local label
    label="$(basename "$f")"
    label="${label%-*-*.json}"
    if command -v jq >/dev/null; then
      jq -r --arg name "$label" "$filter" "$f"
    else
      python3 - "$f" "$label" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["scenario"] = sys.argv[2]
s = r.get("server") or {}
e = r.get("end_to_end") or {}
print("\t".join(str(x) for x in [r["scenario"], r["protocol"], r["messages_per_s"], r["requests_per_s"],
      r["latency"]["p50_ms"], r["latency"]["p99_ms"], e.get("p99_ms", "-"), s.get("cpu_pct", "-"),
      s.get("cpu_us_per_message", "-"), s.get("peak_rss_mb", "-"), r["client_cpu_pct"], r["errors"],
      (r["lost"] or 0) + r["duplicates"] + r["order_violations"] + r["corrupt"],
      "-" if r.get("others_cpu_pct") is None else r["others_cpu_pct"]]))
PY
    fi
  done
}

echo
echo "wharf-bench medians of $runs run(s), ${duration} s each; $(nproc) cores; results in $out"
rows | awk -F'\t' -v order="$scenarios" -v protos="$protocols" '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  function maxof(list,   n, a, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
  { k = $1 SUBSEP $2; for (c = 3; c <= 14; c++) v[k, c] = v[k, c] " " $c; }
  END {
    printf "%-12s %-6s %10s %9s %8s %8s %9s %9s %10s %10s %9s %9s %7s %6s\n", "scenario", "proto", "msg/s", "req/s",
           "p50 ms", "p99 ms", "e2e p99", "srv cpu%", "srv us/msg", "srv rss MB", "cli cpu%", "oth cpu%", "errors", "checks"
    np = split(protos, P, " "); ns = split(order, S, " ")
    for (p = 1; p <= np; p++) for (s = 1; s <= ns; s++) {
      k = S[s] SUBSEP P[p]
      if (!((k, 3) in v)) continue
      bad = maxof(v[k, 13])
      printf "%-12s %-6s %10.0f %9.0f %8.2f %8.2f %9s %9s %10s %10s %9s %9s %7s %6s\n", S[s], P[p], median(v[k, 3]),
             median(v[k, 4]), median(v[k, 5]), median(v[k, 6]), median(v[k, 7]), median(v[k, 8]), median(v[k, 9]),
             maxof(v[k, 10]), median(v[k, 11]), median(v[k, 14]), maxof(v[k, 12]), (bad + 0 == 0 ? "ok" : "FAIL")
    }
  }'

if [[ $failures -gt 0 ]]; then
  echo "run-all.sh: $failures run(s) failed a check or did not run" >&2
  exit 1
fi
